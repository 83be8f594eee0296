"""Expected failures, each reported by the CLI as one sentence with a hint and an exit code.

Anything else that escapes is a bug; the CLI still prints one line for it (``--debug`` shows the
traceback). Also here, because every layer words its errors with them: ``Location`` (the
``file:line`` of a value), ``suggest`` (the one "did you mean" of the project), and how input is
shown: ``echo`` (a value quoted, bounded), ``clip`` and ``printable`` (text from an input file never
reaches a terminal as control codes) and ``display_path`` (a file name as text every output takes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Optional


class AdvisorError(Exception):
    """A failure the user can fix; ``str()`` is the sentence shown, ``hint`` what to try."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None, field: tuple = ()):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.field = field  # the input field at fault, when there is one (for file:line)
        self.more: list[AdvisorError] = []  # further problems of the same input, each with its field

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(AdvisorError):
    """Bad command-line arguments or values: exit 2."""

    exit_code = 2


class InputError(AdvisorError):
    """A scenario input that failed validation: exit 1 (the rest of the batch is still decided)."""

    exit_code = 1


class DataError(AdvisorError):
    """A catalog or rule file that cannot be used: exit 2."""

    exit_code = 2


@dataclass(frozen=True)
class Location:
    """Where a value was read: ``file:line``, or the file alone when the line is unknown."""

    file: str
    line: Optional[int] = None

    def __str__(self) -> str:  # for messages: a file name may hold control characters too
        return printable(f"{self.file}:{self.line}" if self.line else self.file)


#: How close a name must be to be suggested (difflib's ratio), and how much less close than the
#: best a second suggestion may be: alternatives only when they are about as likely.
SUGGEST_CUTOFF, SUGGEST_SPREAD, SUGGEST_LIMIT = 0.6, 0.1, 2


def suggest(wrong: str, known: Iterable[str]) -> list[str]:
    """The known names a user most likely meant by ``wrong``, best first (at most two).

    Names that contain what was typed come first, in their own order ("h100" -> h100-80gb);
    then names spelled alike, the closest first, while about as close as the closest.
    """
    import difflib  # only when a name is wrong: keeps start-up fast

    known = [str(k) for k in known]
    typed = str(wrong).lower()
    if len(typed) > 200:  # not a typo of a name; and difflib is quadratic
        return []
    contained = [k for k in known if typed and typed in k.lower()]
    scored = sorted(((difflib.SequenceMatcher(None, typed, k.lower()).ratio(), k) for k in known if k not in contained),
                    key=lambda pair: -pair[0])
    alike = [k for score, k in scored if score >= max(SUGGEST_CUTOFF, scored[0][0] - SUGGEST_SPREAD)] if scored else []
    return (contained + alike)[:SUGGEST_LIMIT]


def did_you_mean(wrong: str, known: Iterable[str]) -> str:
    """``" (did you mean a, b?)"`` for a message, or "" when nothing is close."""
    close = suggest(wrong, known)
    return f" (did you mean {', '.join(close)}?)" if close else ""


# --- input echoed in messages and output: bounded, and never as terminal control codes ---------

#: How many characters of an input value a message repeats: enough to recognise it.
ECHO_LIMIT = 60

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """Text from an input file made safe to show on a terminal: control characters (escape codes,
    newlines, bidirectional overrides) appear escaped, ``\\x1b`` as the four characters ``\\x1b``."""
    return _CONTROL.sub(lambda m: _NAMED.get(m.group()) or (f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                                                             else f"\\u{ord(m.group()):04x}"), text)


def echo(value, limit: int = ECHO_LIMIT) -> str:
    """An input value quoted in a message: its repr, at most ``limit`` characters of it (then "…")."""
    if isinstance(value, str) and len(value) > limit:
        return repr(value[: limit - 1] + "…")
    text = repr(value)
    return text if len(text) <= limit + 2 else text[: limit - 1] + "…"


def clip(text: str, limit: int = ECHO_LIMIT) -> str:
    """Input text shown in a sentence (a name, a key): printable, at most ``limit`` characters."""
    text = str(text)
    return printable(text if len(text) <= limit else text[: limit - 1] + "…")


def display_path(path) -> str:
    """A path as text that every output accepts: the bytes of a file name that are not UTF-8 (which
    Python keeps as lone surrogates, refused by UTF-8 output, JSON encoders and SQLite) shown as
    ``\\xff``. Open the original path; show and record this."""
    import os

    text = os.fsdecode(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    return text
