"""Text building blocks: aligned tables, money and numbers, versioned JSON, and ``safe``.

Renderers return strings; the CLI decides where they go (data to stdout, messages to stderr).
Text that came from an input file (a scenario's name, a source path, a rule's title or reason, a
recorded decision) is data: every text renderer passes it through ``safe`` (``table`` does so
for every cell), so it never reaches a terminal as control codes; JSON stays exact (the encoder
escapes control characters itself).
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Optional, Sequence

from ..errors import printable
from ..rules.language import value_text as format_value  # noqa: F401 - how a fact value reads, for every renderer

JSON_VERSION = 1


def to_json(payload: dict) -> str:
    """Stable JSON: ``version`` first, keys in the order given, no NaN."""
    return json.dumps({"version": JSON_VERSION, **payload}, indent=2, allow_nan=False, ensure_ascii=False)


def safe(value: Any) -> str:
    """Text from input as a text output shows it: control characters (``\\x1b``, newlines,
    bidirectional overrides) escaped, never sent to the terminal."""
    return printable("" if value is None else str(value))


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, right: Iterable[int] = ()) -> str:
    """Columns padded to their widest cell; columns in ``right`` are right-aligned (numbers).
    Every cell is ``safe``: a table shows data from input files and the audit store."""
    cells = [[safe(h) for h in headers]] + [[safe(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    right = set(right)
    lines = []
    for n, row in enumerate(cells):
        parts = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def money(value: Optional[float], places: int = 2) -> str:
    return "-" if value is None else f"${value:,.{places}f}"


def number(value: Optional[float], places: int = 1, unit: str = "") -> str:
    return "-" if value is None else f"{value:,.{places}f}{unit}"


def percent(value: Optional[float]) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"
