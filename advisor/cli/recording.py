"""The audit store as the commands use it: record decisions unless --no-audit, open one to read."""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def recorder(args, book):
    """Yields a function that records a decision in the audit store (in transactions), or does nothing."""
    if getattr(args, "no_audit", False):
        yield lambda rows: None
        return
    from ..audit.store import Store

    with Store.open(args.audit_db) as store, store.writer(book) as add:
        yield add


def open_store(args):
    """The audit store to read; an error (exit 1) when there is none."""
    from ..audit.store import Store

    return Store.open(args.audit_db, create=False)
