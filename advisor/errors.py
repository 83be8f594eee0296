"""Expected failures, each reported by the CLI as one sentence with a hint and an exit code.

Anything else that escapes is a bug; the CLI still prints one line for it (``--debug`` shows the
traceback). Also here, because every layer words its errors with them: ``Location`` (the
``file:line`` of a value) and ``suggest`` (the one "did you mean" of the project).
"""

from __future__ import annotations

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

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


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
    contained = [k for k in known if typed and typed in k.lower()]
    scored = sorted(((difflib.SequenceMatcher(None, typed, k.lower()).ratio(), k) for k in known if k not in contained),
                    key=lambda pair: -pair[0])
    alike = [k for score, k in scored if score >= max(SUGGEST_CUTOFF, scored[0][0] - SUGGEST_SPREAD)] if scored else []
    return (contained + alike)[:SUGGEST_LIMIT]


def did_you_mean(wrong: str, known: Iterable[str]) -> str:
    """``" (did you mean a, b?)"`` for a message, or "" when nothing is close."""
    close = suggest(wrong, known)
    return f" (did you mean {', '.join(close)}?)" if close else ""
