"""Expected failures, each reported by the CLI as one sentence with a hint and an exit code.

Anything else that escapes is a bug; the CLI still prints one line for it (``--debug`` shows the
traceback).
"""

from __future__ import annotations


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
