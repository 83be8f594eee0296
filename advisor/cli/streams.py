"""Standard input, output and error as the commands may rely on them.

A closed descriptor 0, 1 or 2 (``2>&-``) is opened on /dev/null before anything else is opened,
so that no file the program opens (the audit store!) takes its number and receives its
output; with stderr closed, messages are lost but never written to stdout (``print(...,
file=None)`` writes to stdout). A failure to write the output (a full disk, a reader that went
away) is an ``OutputError`` wherever it happens; a failure to write a message is ignored
(messages are best effort; the exit code still says what happened).
"""

from __future__ import annotations

import errno
import io
import os
import sys


class OutputError(Exception):
    """Writing standard output failed; ``reason`` is the system's words for it."""

    def __init__(self, error: OSError):
        super().__init__(error.strerror or str(error))
        self.reason = error.strerror or str(error)
        self.broken_pipe = error.errno == errno.EPIPE


class _Guarded:
    """A text stream whose write errors become ``OutputError`` (stdout) or are dropped (stderr)."""

    def __init__(self, stream, is_output: bool):
        self._stream = stream
        self._is_output = is_output

    def _call(self, name: str, *args):
        try:
            return getattr(self._stream, name)(*args)
        except OSError as exc:
            if self._is_output:
                raise OutputError(exc) from None
            return None
        except ValueError:  # "I/O operation on closed file"
            if self._is_output:
                raise OutputError(OSError(errno.EBADF, "the output is closed")) from None
            return None

    def write(self, text: str):
        return self._call("write", text)

    def flush(self):
        return self._call("flush")

    def binary(self):
        """A function that writes bytes to the binary layer, after the text written so far."""
        self._call("flush")
        write = self._stream.buffer.write
        is_output = self._is_output

        def write_bytes(data: bytes) -> None:
            try:
                write(data)
            except OSError as exc:
                if is_output:
                    raise OutputError(exc) from None

        return write_bytes

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _reopen_closed() -> set:
    """Open /dev/null on each of the descriptors 0-2 that is closed; which were."""
    closed = set()
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            closed.add(fd)
    for fd in sorted(closed):
        null = os.open(os.devnull, os.O_RDWR)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
    return closed


def prepare() -> set:
    """Make stdin, stdout and stderr safe to use; returns the descriptors that were closed."""
    closed = _reopen_closed()
    if 0 in closed or sys.stdin is None:
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
    if 1 in closed or sys.stdout is None:
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=False)
    if 2 in closed or sys.stderr is None:
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), write_through=True)
    if not isinstance(sys.stdout, _Guarded):
        sys.stdout = _Guarded(sys.stdout, is_output=True)
    if not isinstance(sys.stderr, _Guarded):
        sys.stderr = _Guarded(sys.stderr, is_output=False)
    return closed


def restore() -> None:
    """Undo ``prepare``'s wrappers (for callers of ``main`` in the same process, such as tests)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if isinstance(stream, _Guarded):
            setattr(sys, name, stream._stream)


def discard_output() -> None:
    """After a failed write: point descriptor 1 at /dev/null so that the interpreter's last flush
    at exit does not fail again (and print "Exception ignored")."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)
    except OSError:
        pass
