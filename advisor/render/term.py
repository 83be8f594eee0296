"""Terminal niceties, only where a person is watching: colour and a progress bar.

Colour only when the stream is a terminal, ``NO_COLOR`` is unset and ``TERM`` is not ``dumb``
(no-color.org); the progress bar only on a terminal's stderr, and only once a batch has taken
longer than a second, so quick runs and pipes stay clean.
"""

from __future__ import annotations

import os
import time
from typing import Optional, TextIO

_CODES = {"bold": "1", "dim": "2", "green": "32", "yellow": "33", "red": "31", "cyan": "36"}


def colour_enabled(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return hasattr(stream, "isatty") and stream.isatty()


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
    """``Progress(stderr, total_files)``; ``step(files_done, decided)`` redraws at most 10 times a second."""

    DELAY_S = 1.0

    def __init__(self, stream: TextIO, total_files: int):
        self.stream = stream
        self.total = total_files
        self.enabled = hasattr(stream, "isatty") and stream.isatty()
        self.started = time.monotonic()
        self.drawn_at = 0.0
        self.shown = False

    def step(self, files_done: int, decided: int, invalid: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.started < self.DELAY_S or now - self.drawn_at < 0.1:
            return
        self.drawn_at, self.shown = now, True
        width = 24
        filled = int(width * files_done / self.total) if self.total else width
        rate = decided / (now - self.started)
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {files_done}/{self.total} files · "
                          f"{decided:,} decided · {invalid:,} invalid · {rate:,.0f}/s\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def width(stream: TextIO) -> Optional[int]:
    """The terminal's width, for text that should fit it; None when ``stream`` is not a terminal."""
    if not (hasattr(stream, "isatty") and stream.isatty()):
        return None
    import shutil

    return shutil.get_terminal_size((100, 24)).columns
