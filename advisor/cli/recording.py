"""The audit store as the commands use it: every decision printed is a decision recorded.

``BatchOutput`` holds each decision's output until the transaction that records it has
committed, then writes it: a decision is printed only once it is recorded. When recording
fails (a full disk, a store held by another process for too long) the batch stops and what
waited is neither printed nor recorded; when writing the output fails, the batch stops and the
message names the decisions recorded whose output may be missing. ``stop_on_signals`` turns
SIGINT, SIGTERM and SIGHUP into a request to stop between two decisions: the transaction under
way completes, its decisions are printed, and the command exits 128 + the signal's number.
"""

from __future__ import annotations

import signal
import sys
import time
from contextlib import contextmanager
from typing import Optional

from .streams import OutputError

CHUNK = 500  # decisions per transaction in a batch
FLUSH_S = 0.5  # and at least this often, so that output keeps flowing when deciding is slow
SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def message(text: str) -> None:
    print(f"advisor: {text}", file=sys.stderr)


class Stop:
    """Set by a signal; read between decisions."""

    def __init__(self):
        self.signum: Optional[int] = None

    def __call__(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


@contextmanager
def stop_on_signals():
    """Yields a ``Stop`` that SIGINT, SIGTERM and SIGHUP set instead of ending the process.

    Worker processes forked inside (``--jobs``) inherit the handler, so a signal sent to the
    whole process group (Ctrl-C) is the main process's to act on."""
    stop = Stop()

    def handler(signum, _frame):
        if stop.signum is None:
            stop.signum = signum

    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@contextmanager
def signals_held():
    """SIGINT, SIGTERM and SIGHUP held back (delivered afterwards) while output is written:
    CPython's buffered writer drops the rest of a write to a pipe that a signal with a Python
    handler interrupts part way (seen with 3.11: whole decisions went missing from the output)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class Stopped(Exception):
    """The batch stopped before its end; ``text`` says why and what was and was not recorded."""

    def __init__(self, text: str, exit_code: int):
        super().__init__(text)
        self.text = text
        self.exit_code = exit_code


def _ids(pending) -> str:
    first, last = pending[0].rows[0][:8], pending[-1].rows[0][:8]
    return f"decision {first}" if len(pending) == 1 else f"decisions {first} to {last}"


def _span(pending) -> str:
    """Where the decisions waiting came from: ``a.yaml, scenarios s1 to s9`` (or across files)."""
    (first, first_source), (last, last_source) = pending[0].rows[3:5], pending[-1].rows[3:5]
    if len(pending) == 1:
        return f"{first_source}, scenario {first}"
    if first_source == last_source:
        return f"{first_source}, scenarios {first} to {last}"
    return f"{first_source}, scenario {first} to {last_source}, scenario {last}"


class BatchOutput:
    """Decisions printed once recorded, in transactions of ``chunk`` (or every ``flush_s``).

    ``add(prepared)`` takes a decision rendered for the output (``prepared.piece``) with its audit
    row (``prepared.rows``, from ``audit.store.rows_of``); ``finish()`` records and prints what
    waits. Both raise ``Stopped`` when the batch cannot go on.
    """

    def __init__(self, store, book, out, stop: Stop, chunk: int = CHUNK, flush_s: float = FLUSH_S):
        self.store, self.book, self.out, self.stop = store, book, out, stop
        self.chunk = chunk  # with --no-audit too: output in a few large writes, signals held for each
        self.flush_s = flush_s
        self.pending: list = []
        self.first_at = 0.0
        self.printed = 0
        self.output_failed = False

    def add(self, prepared) -> None:
        if not self.pending:
            self.first_at = time.monotonic()
        self.pending.append(prepared)
        if len(self.pending) >= self.chunk or time.monotonic() - self.first_at >= self.flush_s:
            self.flush()

    def finish(self) -> None:
        self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        if self.store is not None:
            self._record()
        try:
            with signals_held():
                for prepared in self.pending:
                    self.out.write(prepared.piece)
                self.out.flush()
        except OutputError as exc:
            self.output_failed = True
            recorded = "recorded, and" if self.store is not None else "decided, and"
            what = (f"the output was closed by its reader ({exc.reason})" if exc.broken_pipe
                    else f"error: cannot write the output ({exc.reason})")
            raise Stopped(f"{what}: the last {len(self.pending):,} decisions ({_ids(self.pending)}) were {recorded} their output "
                          f"may be incomplete; the batch stopped ({self.printed:,} decisions before them were printed whole)",
                          141 if exc.broken_pipe else 2) from None
        self.printed += len(self.pending)
        self.pending.clear()

    def _record(self) -> None:
        from ..audit.store import Cancelled, NotRecorded

        waiting = len(self.pending)
        before = f"the {self.printed:,} printed before are recorded" if self.printed else "nothing was printed"
        tail = (f"the last {waiting:,} decided ({_span(self.pending)}) were neither recorded nor printed, and the rest "
                f"of the batch was not decided; {before}")
        try:
            self.store.record([p.rows for p in self.pending], self.book, cancelled=self.stop, notice=message)
        except NotRecorded as exc:
            raise Stopped(f"error: {exc.message}: {tail}", 2) from None
        except Cancelled:
            raise Stopped(f"interrupted ({self.stop.name}) while waiting for the audit store: {tail}", self.stop.exit_code) from None


@contextmanager
def recorder(args, book):
    """Yields a function that takes a decision's audit rows; they are recorded, in one
    transaction, when the block ends without an error (``--no-audit``: nothing is)."""
    if getattr(args, "no_audit", False):
        yield lambda rows: None
        return
    from ..audit.store import Store

    rows: list = []
    with Store.open(args.audit_db, notice=message) as store:
        yield rows.append
        store.record(rows, book, notice=message)


def open_writer(args):
    """The audit store to record in, or None with --no-audit."""
    if getattr(args, "no_audit", False):
        return None
    from ..audit.store import Store

    return Store.open(args.audit_db, notice=message)


def open_store(args):
    """The audit store to read; an error (exit 1) when there is none."""
    from ..audit.store import Store

    return Store.open(args.audit_db, create=False, notice=message)
