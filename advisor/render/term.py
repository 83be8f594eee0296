"""Terminal niceties, only where a person is watching: colour and a progress bar.

Colour only when the stream is a terminal, ``NO_COLOR`` is unset and ``TERM`` is not ``dumb``
(no-color.org); the progress bar only on a terminal's stderr that understands cursor codes (not
``TERM=dumb``) while the data goes elsewhere (decisions printed on the terminal show the progress
themselves, and a bar drawn between them would be glued to the next one), and only once a batch
has taken longer than a second, so quick runs and pipes stay clean.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Optional, TextIO

_CODES = {"bold": "1", "dim": "2", "green": "32", "yellow": "33", "red": "31", "cyan": "36"}


def dumb_terminal() -> bool:
    """``TERM=dumb``: a terminal that shows escape codes as text (no colour, no cursor movement)."""
    return os.environ.get("TERM") == "dumb"


def colour_enabled(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR") or dumb_terminal():
        return False
    return _isatty(stream)


def _isatty(stream) -> bool:
    try:
        return stream is not None and hasattr(stream, "isatty") and stream.isatty()
    except ValueError:  # closed
        return False


class Palette:
    """``palette.bold("x")``: the text wrapped in ANSI codes when enabled, unchanged otherwise."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __getattr__(self, name: str):
        code = _CODES.get(name)
        if code is None:
            raise AttributeError(name)
        return (lambda text: f"\x1b[{code}m{text}\x1b[0m") if self.enabled else (lambda text: text)


PLAIN = Palette(False)


class Progress:
    """``Progress(stderr, total)``; ``step(done, decided, invalid)`` redraws at most 10 times a second.
    ``unit`` is what ``total`` counts: the files of a batch (each may hold many decisions), or the
    points of a sweep (one decision each). ``data`` is where the decisions go (stdout); ``clock``
    (seconds) is for tests."""

    DELAY_S = 1.0

    def __init__(self, stream: TextIO, total: int, clock=time.monotonic, data: Optional[TextIO] = None, unit: str = "files"):
        self.stream = stream
        self.total = total
        self.unit = unit
        data = sys.stdout if data is None else data
        self.enabled = _isatty(stream) and not _isatty(data) and not dumb_terminal()
        self.clock = clock
        self.started = clock()
        self.drawn_at = float("-inf")
        self.shown = False

    def step(self, done: int, decided: int, invalid: int) -> None:
        if not self.enabled:
            return
        now = self.clock()
        if now - self.started < self.DELAY_S or now - self.drawn_at < 0.1:
            return
        self.drawn_at, self.shown = now, True
        width = 24
        filled = int(width * done / self.total) if self.total else width
        rate = decided / (now - self.started)
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{self.total:,} {self.unit} · "
                          f"{decided:,} decided · {invalid:,} invalid · {rate:,.0f}/s\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def width(stream: TextIO) -> Optional[int]:
    """The width of the terminal ``stream`` shows on (``COLUMNS`` overrides it; 100 when it says
    nothing), for text that should fit it; None when ``stream`` is not a terminal."""
    if not _isatty(stream):
        return None
    return size(stream)[0] or 100


def size(stream: TextIO) -> tuple[int, int]:
    """(columns, lines) of the terminal ``stream`` shows on, 0 when unknown; COLUMNS and LINES
    override it, as shutil.get_terminal_size reads them (which asks stdout alone, perhaps a pipe)."""
    try:
        columns, lines = os.get_terminal_size(stream.fileno())
    except (OSError, ValueError):
        columns = lines = 0

    def given(name: str, measured: int) -> int:
        text = os.environ.get(name, "")
        return int(text) if text.isdigit() and int(text) > 0 else measured

    return given("COLUMNS", columns), given("LINES", lines)
