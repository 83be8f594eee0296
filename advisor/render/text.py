"""Text building blocks: aligned tables, money and numbers, versioned JSON, and ``safe``.

Renderers return strings; the CLI decides where they go (data to stdout, messages to stderr).
Text that came from an input file (a scenario's name, a source path, a rule's title or reason, a
recorded decision) is data: every text renderer passes it through ``safe`` (``table`` does so
for every cell), so it never reaches a terminal as control codes; JSON stays exact (the encoder
escapes control characters itself).
"""

from __future__ import annotations

import json
import re
import textwrap
from typing import Any, Iterable, Optional, Sequence

from ..errors import printable
from ..rules.language import value_text as format_value  # noqa: F401 - how a fact value reads, for every renderer

JSON_VERSION = 1


def to_json(payload: dict, version: int = JSON_VERSION) -> str:
    """Stable JSON: ``version`` first, keys in the order given, no NaN."""
    return json.dumps({"version": version, **payload}, indent=2, allow_nan=False, ensure_ascii=False)


MIN_WRAPPED_COLUMN = 24  # the last column is wrapped to fit a terminal, never narrower than this


def safe(value: Any) -> str:
    """Text from input as a text output shows it: control characters (``\\x1b``, newlines,
    bidirectional overrides) escaped, never sent to the terminal."""
    return printable("" if value is None else str(value))


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, right: Iterable[int] = (), width: Optional[int] = None,
          optional: Sequence[int] = ()) -> str:
    """Columns padded to their widest cell; columns in ``right`` are right-aligned (numbers).
    Every cell is ``safe``: a table shows data from input files and the audit store.

    With ``width`` (a terminal's), the last column (the words) wraps so that lines fit it, and
    the ``optional`` columns are left out, in that order, while the rest would not fit."""
    cells = [[safe(h) for h in headers]] + [[safe(c) for c in row] for row in rows]
    keep = list(range(len(headers)))
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def room(columns) -> int:  # what the columns before the last take, separators included
        return sum(widths[i] for i in columns[:-1]) + 2 * (len(columns) - 1)

    for column in optional:
        if not width or room(keep) + min(widths[-1], MIN_WRAPPED_COLUMN) <= width:
            break
        keep.remove(column)
    cells = [[row[i] for i in keep] for row in cells]
    right = {keep.index(i) for i in right if i in keep}
    widths = [widths[i] for i in keep]
    if width and sum(widths) + 2 * (len(widths) - 1) > width:
        widths[-1] = max(MIN_WRAPPED_COLUMN, width - sum(widths[:-1]) - 2 * (len(widths) - 1))
    lines = []
    for n, row in enumerate(cells):
        head, last = row[:-1], textwrap.wrap(row[-1], widths[-1]) or [""] if len(row[-1]) > widths[-1] else [row[-1]]
        for k, piece in enumerate(last):
            values = head if k == 0 else [""] * len(head)
            parts = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(values + [piece], widths))]
            lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def wrapped(label: str, text: str, width: Optional[int], indent: int) -> list[str]:
    """``label`` then ``text``, continued under the text's start when a terminal's ``width`` is known."""
    first = f"{label}{text}"
    shown = len(_ESCAPES.sub("", label))  # the label may be bold
    if not width or len(_ESCAPES.sub("", first)) <= width:
        return [first]
    lines = textwrap.wrap(text, max(MIN_WRAPPED_COLUMN, width), initial_indent=" " * shown, subsequent_indent=" " * indent)
    return [label + lines[0][shown:]] + lines[1:]


_ESCAPES = re.compile(r"\x1b\[[0-9;]*m")  # the palette's colours


def money(value: Optional[float], places: int = 2) -> str:
    return "-" if value is None else f"${value:,.{places}f}"


def number(value: Optional[float], places: int = 1, unit: str = "") -> str:
    return "-" if value is None else f"{value:,.{places}f}{unit}"


def percent(value: Optional[float]) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


_EIGHTHS = " ▏▎▍▌▋▊▉"


def bars(title: str, items: list, width: Optional[int] = None, unicode: bool = True) -> str:
    """A compact bar chart in text: ``items`` are (label, value or None, marked, value text); each
    bar as long as its value against the largest, the marked ones starred. Fits ``width``."""
    shown = [(safe(label), value, marked, safe(text)) for label, value, marked, text in items]
    top = max((v for _, v, _, _ in shown if v), default=0.0)
    label_width = max((len(label) for label, *_ in shown), default=0)
    text_width = max((len(text) for *_, text in shown), default=0)
    room = max(10, min(40, (width or 80) - label_width - text_width - 8))
    lines = [title]
    for label, value, marked, text in shown:
        length = room * value / top if value and top else 0.0
        full, part = int(length), int((length - int(length)) * 8)
        bar = ("█" * full + (_EIGHTHS[part].strip() if part else "")) if unicode else "#" * round(length)
        lines.append(f"  {'*' if marked else ' '} {label.ljust(label_width)}  {bar.ljust(room)}  {text}".rstrip())
    return "\n".join(lines)


def survey_note(gpus: Sequence[str]) -> str:
    """The line under a ranking that shows GPUs priced only by a survey."""
    return (f"priced only by a survey, not a quote: {', '.join(safe(g) for g in gpus)} (give a price with --price GPU=USD)"
            if gpus else "")


def survey_mark(gpu: str, survey: Sequence[str]) -> str:
    """What a ranking's verdict cell adds for a GPU priced only by a survey."""
    return " (survey price)" if gpu in survey else ""
