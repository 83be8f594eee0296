"""The audit store: every decision with its whole input, its fired rules and the rules revision.

SQLite from the standard library, kept apart from the rules and the engine (as OPA keeps its
decision log apart from policy and data). Several processes may write at once: WAL journal,
``BEGIN IMMEDIATE`` transactions, a busy timeout and a retry loop. A decision is one row written
inside a transaction, so a crash or ``kill -9`` leaves whole decisions or none; a batch is
written in chunks of transactions. Each rules revision is stored once with a digest per rule, so
that a replay can say which rules changed.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Optional

from ..errors import DataError, InputError, UsageError
from ..rules.language import rule_digests

ENV_VAR = "ADVISOR_AUDIT_DB"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 10
RETRY_FOR_S = 120  # how long a writer keeps retrying a store that another process holds
CHUNK = 500  # decisions per transaction in a batch

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    decision_id     TEXT NOT NULL UNIQUE,
    recorded_at     TEXT NOT NULL,          -- UTC, ISO 8601
    advisor_version TEXT NOT NULL,
    rules_revision  TEXT NOT NULL,
    scenario        TEXT NOT NULL,
    source          TEXT NOT NULL,
    recommendation  TEXT NOT NULL,          -- the verdict's outcome id
    gpu             TEXT NOT NULL,
    input           TEXT NOT NULL,          -- JSON: the scenario as given
    decision        TEXT NOT NULL           -- JSON: the whole decision, fired rules included
);
CREATE INDEX IF NOT EXISTS decisions_recorded_at ON decisions (recorded_at);
CREATE TABLE IF NOT EXISTS fired_rules (
    decision_id TEXT NOT NULL REFERENCES decisions (decision_id),
    rule        TEXT NOT NULL,
    ruleset     TEXT NOT NULL,
    PRIMARY KEY (decision_id, rule)
);
CREATE INDEX IF NOT EXISTS fired_rules_rule ON fired_rules (rule);
CREATE TABLE IF NOT EXISTS revisions (
    rules_revision TEXT PRIMARY KEY,
    recorded_at    TEXT NOT NULL,
    rules          TEXT NOT NULL            -- JSON: {rule id: digest of its definition}
);
"""


def default_path() -> Path:
    """$ADVISOR_AUDIT_DB, else the user's state directory ($XDG_STATE_HOME or ~/.local/state)."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "advisor" / "audit.sqlite3"


@dataclass(frozen=True)
class Record:
    decision_id: str
    recorded_at: str
    advisor_version: str
    rules_revision: str
    scenario: str
    source: str
    recommendation: str
    gpu: str
    input: dict
    decision: dict

    def summary(self) -> dict:
        return {"decision_id": self.decision_id, "recorded_at": self.recorded_at, "scenario": self.scenario,
                "source": self.source, "recommendation": self.recommendation, "gpu": self.gpu,
                "text": (self.decision.get("verdict") or self.decision.get("recommendation") or {}).get("text"),
                "rules_revision": self.rules_revision,
                "advisor_version": self.advisor_version}

    def to_json(self) -> dict:
        return {**self.summary(), "input": self.input, "decision": self.decision}


class Store:
    """One audit store file. Open it with ``Store.open``; use as a context manager to close it."""

    def __init__(self, path: Path, connection: sqlite3.Connection):
        self.path = path
        self._db = connection

    @classmethod
    def open(cls, path: Optional[Path] = None, *, create: bool = True) -> "Store":
        path = Path(path) if path else default_path()
        hint = f"--audit-db another path, ${ENV_VAR}, or --no-audit"
        if not create and not path.exists():
            raise InputError(f"audit store {path}: no such file (nothing has been recorded there yet)", hint)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
            store = cls(path, db)
            store._retry(store._initialise)
        except (sqlite3.Error, OSError) as exc:
            raise DataError(f"audit store {path}: {_reason(exc)}", hint) from None
        return store

    def _initialise(self) -> None:
        self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")  # with WAL: a crashed process loses no commit
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise DataError(f"audit store {self.path} was written by a newer advisor (schema {version})", "upgrade advisor")
        if version < SCHEMA_VERSION:
            with self._transaction():
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- writing -----------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self):
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _retry(self, write, *args):
        """Run ``write`` until no other process holds the store, for up to RETRY_FOR_S seconds."""
        deadline = time.monotonic() + RETRY_FOR_S
        delay = 0.01
        while True:
            try:
                return write(*args)
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    def record(self, rows: list, book) -> None:
        """Write decisions (their ``rows_of``) and their rules revision, once, in one transaction."""
        if rows:
            try:
                self._retry(self._write, rows, book)
            except sqlite3.Error as exc:
                raise DataError(f"audit store {self.path}: {_reason(exc)}", "the decisions were printed but not recorded") from None

    def _write(self, rows: list, book) -> None:
        now = datetime.now(timezone.utc).isoformat(timespec="microseconds")
        with self._transaction():
            if book is not None:
                self._db.execute("INSERT OR IGNORE INTO revisions VALUES (?, ?, ?)",
                                 (book.revision, now, json.dumps(rule_digests(book), sort_keys=True)))
            for decision, fired in rows:
                self._db.execute(
                    "INSERT INTO decisions (decision_id, recorded_at, advisor_version, rules_revision, scenario, source,"
                    " recommendation, gpu, input, decision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (decision[0], now, *decision[1:]))
                self._db.executemany("INSERT OR IGNORE INTO fired_rules VALUES (?, ?, ?)", fired)

    @contextmanager
    def writer(self, book, chunk: int = CHUNK):
        """Buffer decisions (their ``rows_of``) and write them in transactions of ``chunk``; what
        is buffered is written on the way out, also when the batch is interrupted."""
        buffer: list = []

        def add(rows) -> None:
            buffer.append(rows)
            if len(buffer) >= chunk:
                self.record(buffer, book)
                buffer.clear()

        try:
            yield add
        finally:
            self.record(buffer, book)

    # --- reading -----------------------------------------------------------------------------------

    def list(self, limit: Optional[int] = 20, rule: Optional[str] = None, since: Optional[str] = None) -> list[Record]:
        """Newest first; ``rule``: only decisions where that rule fired; ``since``: an ISO date or time."""
        sql, params = "SELECT * FROM decisions d", []
        where = []
        if rule:
            where.append("EXISTS (SELECT 1 FROM fired_rules f WHERE f.decision_id = d.decision_id AND f.rule = ?)")
            params.append(rule)
        if since:
            where.append("d.recorded_at >= ?")
            params.append(parse_since(since))
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY d.seq DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [self._row(r) for r in self._db.execute(sql, params)]

    def iter_all(self) -> Iterator[Record]:
        """Every decision in the order it was recorded, streamed."""
        for row in self._db.execute("SELECT * FROM decisions ORDER BY seq"):
            yield self._row(row)

    def count(self) -> int:
        return self._db.execute("SELECT count(*) FROM decisions").fetchone()[0]

    def get(self, decision_id: str) -> Record:
        """A decision by its id or a unique prefix of it (at least 4 characters)."""
        if len(decision_id) < 4:
            raise UsageError(f"decision id {decision_id!r} is too short", "give at least 4 characters of it")
        rows = self._db.execute("SELECT * FROM decisions WHERE decision_id >= ? AND decision_id < ? LIMIT 2",
                                (decision_id, decision_id + "\uffff")).fetchall()
        if not rows:
            raise InputError(f"no decision {decision_id} in the audit store {self.path}", "`advisor audit list` shows the recorded ones")
        if len(rows) > 1:
            raise UsageError(f"decision id prefix {decision_id} is ambiguous", "give more characters of it")
        return self._row(rows[0])

    def rules_of(self, revision: str) -> Optional[dict[str, str]]:
        row = self._db.execute("SELECT rules FROM revisions WHERE rules_revision = ?", (revision,)).fetchone()
        return json.loads(row[0]) if row else None

    def _row(self, row) -> Record:
        (_seq, decision_id, recorded_at, version, revision, scenario, source, recommendation, gpu, input_, decision) = row
        return Record(decision_id, recorded_at, version, revision, scenario, source, recommendation, gpu,
                      json.loads(input_), json.loads(decision))


def rows_of(d) -> tuple:
    """A decision as the store keeps it: its row (without the time) and its fired-rule rows.

    Computed where the decision is made, so that a parallel batch encodes in its workers."""
    verdict = d.verdict
    decision = (d.decision_id, d.advisor_version, d.rules_revision, d.scenario, d.source, verdict.id if verdict else "",
                verdict.gpu if verdict else "", json.dumps(d.input), d.json_text())
    return decision, [(d.decision_id, f.rule, f.ruleset) for f in d.fired_rules]


def parse_since(text: str) -> str:
    """An ISO date or date-time as the UTC ISO text the store sorts by."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--since {text!r} is not a date", "use an ISO date such as 2026-11-01 or 2026-11-01T09:30") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
