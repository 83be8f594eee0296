"""The audit store: every decision with its whole input, its fired rules and the rules revision.

SQLite from the standard library, kept apart from the rules and the engine (as OPA keeps its
decision log apart from policy and data). Several processes may write at once: WAL journal,
``BEGIN IMMEDIATE`` transactions and a wait, in short steps, for a store another process holds
(``ADVISOR_AUDIT_WAIT`` seconds, 120 by default), which the caller may cancel. A batch of
decisions is one transaction, so a crash or ``kill -9`` leaves whole decisions or none.

Schema 3 (this version, see ``codec``) keeps, per decision, the columns a listing shows, the input as given
(JSON text), and the decision's JSON text without its copy of the input and without its plans,
compressed with zlib and a preset dictionary that the store keeps (table ``dictionaries``); each
distinct plans text is kept once (table ``plans``), for all the decisions that had it. The exact
text that was printed comes back from the three. Every query is answered through an index: the
listing by ``decisions_time`` (newest first), ``--rule`` by the ``fired`` table (rule, time,
seq), an id prefix by the unique index on ``decision_id``, a plans text by its id. A store of an
older schema (1: advisor 0.1.0's first layout; 2: before plans were kept apart) is upgraded when
it is first opened by a process that may write it.

Only the standard library is imported here, so that reading the store stays cheap.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator, Optional, Union
from urllib.parse import quote

from ..errors import DataError, InputError, UsageError, did_you_mean
from .codec import SCHEMA, SCHEMA_VERSION, Decompressor, dictionary, iso, joined, microseconds, rows_of  # noqa: F401 - rows_of: for callers

ENV_VAR = "ADVISOR_AUDIT_DB"
WAIT_ENV_VAR = "ADVISOR_AUDIT_WAIT"
WAIT_S = 120.0  # how long a writer waits for a store that another process holds
NOTICE_AFTER_S = 2.0  # when a wait is worth a message
BUSY_MS = 100  # one step of that wait, inside SQLite
READ_BUSY_MS = 5000
NEWEST = 2**62  # a --limit larger than any store
IDS_KEPT = 4096  # ids a writer remembers (of revisions, rules, dictionaries and plans texts)
PLANS_TEXTS_KEPT = 1024  # plans texts a reader remembers (about 6 KB each: an export's memory stays flat)

_COLUMNS = ("d.seq, d.decision_id, d.recorded_us, d.advisor_version, r.rules_revision, d.scenario, d.source,"
            " d.recommendation, d.gpu, d.verdict")
_WHOLE = _COLUMNS + ", d.input, d.codec, d.body, d.input_at, d.plans, d.plans_at"
#: Every query the store makes to read (tests/test_audit_store.py checks each plan uses an index).
QUERIES = {
    "list": f"SELECT {_COLUMNS} FROM decisions d LEFT JOIN revisions r ON r.id = d.revision"
            " WHERE d.recorded_us >= ? ORDER BY d.recorded_us DESC, d.seq DESC LIMIT ?",
    "list_rule": f"SELECT {_COLUMNS} FROM fired f CROSS JOIN decisions d LEFT JOIN revisions r ON r.id = d.revision"
                 " WHERE f.rule = ? AND f.recorded_us >= ? AND d.seq = f.seq ORDER BY f.recorded_us DESC, f.seq DESC LIMIT ?",
    "get": f"SELECT {_WHOLE} FROM decisions d LEFT JOIN revisions r ON r.id = d.revision"
           " WHERE d.decision_id >= ? AND d.decision_id < ? ORDER BY d.decision_id LIMIT 2",
    "export": f"SELECT {_WHOLE} FROM decisions d LEFT JOIN revisions r ON r.id = d.revision ORDER BY d.seq",
    "rule_id": "SELECT id FROM rule_ids WHERE rule = ?",
    "rules_of": "SELECT rules FROM revisions WHERE rules_revision = ?",
    "known_rules": "SELECT rule FROM rule_ids",
    "revision_rules": "SELECT rules FROM revisions",
    "dictionary": "SELECT data FROM dictionaries WHERE id = ?",
    "plans": "SELECT codec, body FROM plans WHERE id = ?",
}


def default_path() -> Path:
    """$ADVISOR_AUDIT_DB, else the user's state directory ($XDG_STATE_HOME or ~/.local/state)."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "advisor" / "audit.sqlite3"


class NotRecorded(DataError):
    """``record`` wrote nothing: the decisions it was given are not in the store."""


class Cancelled(Exception):
    """``record`` stopped waiting for the store because its caller asked it to; nothing was written."""


class MalformedRecord(DataError):
    """A stored record that cannot be read back (edited by hand, or damaged)."""

    def __init__(self, path, decision_id: str, reason: str):
        super().__init__(f"audit store {path}: record {decision_id} is malformed ({reason})",
                         "the other records are readable; `advisor audit export` skips this one")
        self.decision_id = decision_id


@dataclass(frozen=True)
class Summary:
    """What a listing shows of a decision (read without decoding its body)."""

    decision_id: str
    recorded_at: str
    advisor_version: str
    rules_revision: str
    scenario: str
    source: str
    recommendation: str
    gpu: str
    text: Optional[str]

    def summary(self) -> dict:
        return {"decision_id": self.decision_id, "recorded_at": self.recorded_at, "scenario": self.scenario,
                "source": self.source, "recommendation": self.recommendation, "gpu": self.gpu, "text": self.text,
                "rules_revision": self.rules_revision, "advisor_version": self.advisor_version}


@dataclass(frozen=True)
class Record(Summary):
    """A whole decision: its input as given and the decision as it was printed (both as JSON data)."""

    input: dict = None
    decision: dict = None

    def to_json(self) -> dict:
        return {**self.summary(), "input": self.input, "decision": self.decision}


@dataclass(frozen=True)
class Listing:
    records: list  # [Summary], newest first
    more: bool  # more decisions match than the limit let through


def parse_since(text: str) -> int:
    """An ISO date or date-time (UTC unless it says otherwise) as the store's microseconds."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--since {text!r} is not a date", "use an ISO date such as 2026-11-01 or 2026-11-01T09:30") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return microseconds(moment)  # aware arithmetic: no overflow at year 1 or 9999 whatever the offset


def wait_limit() -> float:
    """Seconds a writer waits for a store held by another process ($ADVISOR_AUDIT_WAIT, else 120)."""
    text = os.environ.get(WAIT_ENV_VAR, "")
    try:
        value = float(text) if text else WAIT_S
    except ValueError:
        raise UsageError(f"${WAIT_ENV_VAR} is {text!r}, not a number of seconds", f"unset it or give e.g. {WAIT_S:.0f}") from None
    return value if value >= 0 and value == value else WAIT_S


def _uri(path: Path, mode: str) -> str:
    """A file name as an SQLite URI, so that a name such as ``file:x?mode=memory`` is a file."""
    return "file:" + quote(os.path.abspath(path)) + "?" + mode


def _reason(exc: BaseException) -> str:
    name = getattr(exc, "sqlite_errorname", None)
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    if name in ("SQLITE_IOERR_WRITE", "SQLITE_IOERR_FSYNC", "SQLITE_FULL"):
        text += " (is the disk full, or a file size limit reached?)"
    return text


def _busy(exc: sqlite3.Error) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))


_HINT = f"--audit-db another path, ${ENV_VAR}, or --no-audit"
_TABLES = {"revisions", "rule_ids", "dictionaries", "fired", "plans"}  # beside decisions


class Store:
    """One audit store file: ``Store.open(path)`` to write (and read), ``Store.open(path,
    create=False)`` to read; a context manager that closes it."""

    def __init__(self, path: Path, connection: sqlite3.Connection, writable: bool):
        self.path = path
        self._db = connection
        self.writable = writable
        self.empty = False  # a file with no tables: nothing recorded yet
        self.version: Optional[int] = None
        self._notice: Optional[Callable[[str], None]] = None
        self._ids: dict = {}  # (table, key) -> id, for the writer; cleared when a transaction rolls back
        self._dictionaries: dict = {}
        self._plans: dict = {}  # plans id -> its text, for a reader

    @classmethod
    def open(cls, path: Optional[Path] = None, *, create: bool = True, cancelled: Optional[Callable[[], bool]] = None,
             notice: Optional[Callable[[str], None]] = None) -> "Store":
        """``create``: open to write, creating the file and its tables if need be. Otherwise open
        to read, without writing anything (a read-only file reads), unless the store was written
        by an older advisor: then it is upgraded first, which needs write access."""
        path = Path(path) if path else default_path()
        if not create:
            if not path.exists():
                raise InputError(f"audit store {path}: no such file (nothing has been recorded there yet)", _HINT)
            store = cls._open_reading(path)
            if store.version is None or store.version == SCHEMA_VERSION:
                return store
            store.close()  # written by an older advisor: upgraded first
            if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
                raise DataError(f"audit store {path} was written by an older advisor (schema {store.version}) and is upgraded "
                                "when first opened, which needs write access to it and its directory",
                                "open it once as a user who may write it, or read a copy")
        try:
            if create:
                path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(_uri(path, "mode=rwc" if create else "mode=rw"), uri=True, isolation_level=None,
                                 timeout=BUSY_MS / 1000)
            store = cls(path, db, writable=True)
            store._notice = notice
            store._wait(store._initialise, cancelled=cancelled, notice=notice, notice_text=store._waiting_text())
        except (sqlite3.Error, OSError) as exc:
            raise DataError(f"audit store {path}: {_reason(exc)}", _HINT) from None
        return store

    @classmethod
    def _open_reading(cls, path: Path) -> "Store":
        try:
            return cls._connect_reading(path, "mode=ro")
        except sqlite3.Error as exc:
            if not str(getattr(exc, "sqlite_errorname", "")).startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN")):
                raise DataError(f"audit store {path}: {_reason(exc)}", _HINT) from None
        try:  # a WAL store in a directory this process may not write: read the file as it is
            return cls._connect_reading(path, "mode=ro&immutable=1")
        except sqlite3.Error as exc:
            raise DataError(f"audit store {path}: {_reason(exc)}", _HINT) from None

    @classmethod
    def _connect_reading(cls, path: Path, mode: str) -> "Store":
        db = sqlite3.connect(_uri(path, mode), uri=True, isolation_level=None, timeout=READ_BUSY_MS / 1000)
        try:
            store = cls(path, db, writable=False)
            store.version = store._schema()
            return store
        except BaseException:
            db.close()
            raise

    def _schema(self) -> Optional[int]:
        """The schema version, or None for a file without tables (``empty``); refuses other files."""
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if version > SCHEMA_VERSION:
            raise DataError(f"audit store {self.path} was written by a newer advisor (schema {version})", "upgrade advisor")
        if not tables:
            self.empty = True
            return None
        if version == 0 or "decisions" not in tables:
            raise DataError(f"audit store {self.path}: not an advisor audit store (it holds other tables)", _HINT)
        if version == SCHEMA_VERSION and not _TABLES <= tables:
            raise DataError(f"audit store {self.path}: damaged (tables missing: {', '.join(sorted(_TABLES - tables))})", _HINT)
        return version

    def _initialise(self) -> None:
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")  # with WAL: a crashed process loses no commit
        if self._schema() == SCHEMA_VERSION:
            return
        with self._transaction():
            version = self._schema()  # again, now that no other process can change it
            if version is None:
                for statement in filter(str.strip, SCHEMA.split(";")):
                    self._db.execute(statement)
            elif version == 1:
                from .migrate import from_schema_1

                from_schema_1(self._db, self.path, self._notice)
            elif version == 2:
                from .migrate import from_schema_2

                from_schema_2(self._db)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        self.empty = False
        if version == 1:
            try:  # give back the space the old layout took (the upgrade is done either way)
                self._db.execute("VACUUM")
            except sqlite3.Error:
                pass

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- writing -----------------------------------------------------------------------------------

    def _transaction(self):
        return _Transaction(self)

    def _waiting_text(self) -> str:
        return f"the audit store {self.path} is held by another process; waiting for it"

    def _wait(self, write, *args, cancelled=None, notice=None, notice_text=""):
        """Run ``write`` until no other process holds the store, for up to ``wait_limit()`` seconds;
        ``cancelled()`` true stops the wait (``Cancelled``); ``notice`` hears once that it waits."""
        limit = wait_limit()
        started = time.monotonic()
        noticed = False
        delay = 0.005
        while True:
            try:
                return write(*args)
            except sqlite3.Error as exc:
                if not _busy(exc):
                    raise
                waited = time.monotonic() - started
                if waited >= limit:
                    raise sqlite3.OperationalError(f"held by another process for {waited:.0f} s (${WAIT_ENV_VAR} = {limit:g})") from None
            if cancelled is not None and cancelled():
                raise Cancelled()
            if notice is not None and not noticed and waited >= NOTICE_AFTER_S:
                notice(f"{notice_text} (up to {limit:g} s, ${WAIT_ENV_VAR})")
                noticed = True
            time.sleep(min(delay, max(0.0, limit - waited)))
            delay = min(delay * 2, 0.1)

    def record(self, rows: list, book=None, *, cancelled: Optional[Callable[[], bool]] = None,
               notice: Optional[Callable[[str], None]] = None) -> None:
        """Write decisions (their ``rows_of``) in one transaction: all of them or, raising
        ``NotRecorded`` (or ``Cancelled``), none. ``book``: the rule book, whose rule digests are
        kept once per revision so that a replay can say which rules changed."""
        if not rows:
            return
        try:
            self._wait(self._write, rows, book, cancelled=cancelled, notice=notice, notice_text=self._waiting_text())
        except sqlite3.Error as exc:
            raise NotRecorded(f"audit store {self.path}: {_reason(exc)}", _HINT) from None

    def _write(self, rows: list, book) -> None:
        with self._transaction():
            now = microseconds(datetime.now(timezone.utc))  # taken holding the lock: times grow with seq
            codec = self._dictionary_id()
            insert = self._db.execute
            fired_rows: list = []
            for (decision_id, version, revision, scenario, source, recommendation, gpu, verdict, input_text, body,
                 input_at, fired, plans_digest, plans, plans_at) in rows:
                plans_id = self._plans_id(plans_digest, plans, codec) if plans_at is not None else None
                seq = insert("INSERT INTO decisions (decision_id, recorded_us, revision, advisor_version, scenario, source,"
                             " recommendation, gpu, verdict, input, codec, body, input_at, plans, plans_at)"
                             " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                             (decision_id, now, self._revision_id(revision, book), version, scenario, source,
                              recommendation, gpu, verdict, input_text, codec, body, input_at, plans_id, plans_at)).lastrowid
                fired_rows += [(self._rule_id(rule), now, seq) for rule in fired]
            self._db.executemany("INSERT OR IGNORE INTO fired VALUES (?, ?, ?)", fired_rows)

    def _cached(self, key, find, add):
        found = self._ids.get(key)
        if found is None:
            row = find()
            found = row[0] if row else add()
            if len(self._ids) >= IDS_KEPT:  # the plans of a long batch are many: forget, and find again
                self._ids.clear()
            self._ids[key] = found
        return found

    def _rule_id(self, rule: str) -> int:
        return self._cached(("rule", rule), lambda: self._db.execute(QUERIES["rule_id"], (rule,)).fetchone(),
                            lambda: self._db.execute("INSERT INTO rule_ids (rule) VALUES (?)", (rule,)).lastrowid)

    def _revision_id(self, revision: str, book) -> int:
        def add() -> int:
            rules = None
            if book is not None and book.revision == revision:
                from ..rules.language import rule_digests

                rules = json.dumps(rule_digests(book), sort_keys=True)
            now = iso(microseconds(datetime.now(timezone.utc)))
            return self._db.execute("INSERT INTO revisions (rules_revision, recorded_at, rules) VALUES (?, ?, ?)",
                                    (revision, now, rules)).lastrowid

        return self._cached(("revision", revision),
                            lambda: self._db.execute("SELECT id FROM revisions WHERE rules_revision = ?", (revision,)).fetchone(), add)

    def _plans_id(self, digest: str, compressed: bytes, codec: int) -> int:
        """The id of a plans text, added the first time the store sees it."""
        return self._cached(("plans", digest), lambda: self._db.execute("SELECT id FROM plans WHERE digest = ?", (digest,)).fetchone(),
                            lambda: self._db.execute("INSERT INTO plans (digest, codec, body) VALUES (?, ?, ?)",
                                                     (digest, codec, compressed)).lastrowid)

    def _dictionary_id(self) -> int:
        digest, data = dictionary()
        return self._cached(("dictionary", digest),
                            lambda: self._db.execute("SELECT id FROM dictionaries WHERE digest = ?", (digest,)).fetchone(),
                            lambda: self._db.execute("INSERT INTO dictionaries (digest, data) VALUES (?, ?)", (digest, data)).lastrowid)

    # --- reading -----------------------------------------------------------------------------------

    def _read(self, sql: str, params=()) -> list:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise DataError(f"audit store {self.path}: {_reason(exc)}", _HINT) from None

    def list(self, limit: Optional[int] = 20, rule: Optional[str] = None, since: Optional[str] = None) -> Listing:
        """Newest first; ``rule``: only decisions where that rule fired; ``since``: an ISO date or time."""
        limit = NEWEST if limit is None else max(0, min(limit, NEWEST))
        after = parse_since(since) if since else -NEWEST
        if self.empty:
            return Listing([], False)
        if rule:
            found = self._read(QUERIES["rule_id"], (rule,))
            if not found:
                self._unknown_rule(rule)
                return Listing([], False)
            rows = self._read(QUERIES["list_rule"], (found[0][0], after, limit + 1))
        else:
            rows = self._read(QUERIES["list"], (after, limit + 1))
        return Listing([self._summary(row) for row in rows[:limit]], len(rows) > limit)

    def _unknown_rule(self, rule: str) -> None:
        """A rule no decision in the store fired: fine if a recorded revision has it, else a usage error."""
        known = {r for (r,) in self._read(QUERIES["known_rules"])}
        for (rules,) in self._read(QUERIES["revision_rules"]):
            try:
                known.update(json.loads(rules) if rules else ())
            except (ValueError, TypeError):
                continue
        if rule not in known:
            raise UsageError(f"--rule {rule}: no such rule in any rules revision recorded in {self.path}{did_you_mean(rule, sorted(known))}",
                             "`advisor rules list` shows the current rules")

    def get(self, decision_id: str) -> Record:
        """A decision by its id or a unique prefix of it (at least 4 characters, any case)."""
        prefix = decision_id.strip().lower()
        if len(prefix) < 4:
            raise UsageError(f"decision id {decision_id!r} is too short", "give at least 4 characters of it")
        rows = [] if self.empty else self._read(QUERIES["get"], (prefix, prefix + "\uffff"))
        if not rows:
            raise InputError(f"no decision {decision_id} in the audit store {self.path}", "`advisor audit list` shows the recorded ones")
        if len(rows) > 1:
            raise UsageError(f"decision id prefix {decision_id} is ambiguous", "give more characters of it")
        return self._record(rows[0])

    def export_lines(self) -> Iterator[Union[bytes, MalformedRecord]]:
        """Every decision, oldest first, as one line of JSON (bytes, streamed): ``{"version": 1,
        <summary>, "input": ..., "decision": ...}``; a record that cannot be read is a MalformedRecord."""
        if self.empty:
            return
        seconds: dict = {}
        try:
            for row in self._db.execute(QUERIES["export"]):
                try:
                    yield self._export_line(row, seconds)
                except (ValueError, TypeError, AttributeError, zlib.error) as exc:
                    yield MalformedRecord(self.path, str(row[1]), _problem(exc))
        except sqlite3.Error as exc:
            raise DataError(f"audit store {self.path}: {_reason(exc)}", _HINT) from None

    def rules_of(self, revision: str) -> Optional[dict]:
        rows = [] if self.empty else self._read(QUERIES["rules_of"], (revision,))
        try:
            return json.loads(rows[0][0]) if rows and rows[0][0] else None
        except ValueError:
            return None

    def _summary(self, row) -> Summary:
        seq, decision_id, us, version, revision, scenario, source, recommendation, gpu, verdict = row[:10]
        try:
            when = iso(us)
        except (TypeError, OverflowError):
            when = str(us)
        return Summary(str(decision_id), when, version, revision or "?", scenario, source, recommendation, gpu, verdict)

    def _decompressor(self, codec) -> Decompressor:
        decompress = self._dictionaries.get(codec)
        if decompress is None:
            found = self._read(QUERIES["dictionary"], (codec,))
            if not found:
                raise ValueError(f"its dictionary {codec} is not in the store")
            decompress = self._dictionaries[codec] = Decompressor(found[0][0])
        return decompress

    def _plans_text(self, plans_id) -> bytes:
        """A plans text by its id (the texts a batch's decisions share, remembered while reading)."""
        text = self._plans.get(plans_id)
        if text is None:
            found = self._read(QUERIES["plans"], (plans_id,))
            if not found:
                raise ValueError(f"its plans {plans_id} are not in the store")
            codec, body = found[0]
            text = self._decompressor(codec)(body) if codec else body
            if len(self._plans) >= PLANS_TEXTS_KEPT:
                self._plans.clear()
            self._plans[plans_id] = text
        return text

    def _decision_bytes(self, codec, body, input_at, input_text, plans_id, plans_at) -> bytes:
        if codec:
            body = self._decompressor(codec)(body)
        elif isinstance(body, str):
            body = body.encode("utf-8")
        plans = self._plans_text(plans_id) if plans_at is not None else b""
        return joined(body, input_at, input_text, plans_at, plans)

    def _record(self, row) -> Record:
        summary = self._summary(row)
        input_text, codec, body, input_at, plans_id, plans_at = row[10:]
        try:
            decision = json.loads(self._decision_bytes(codec, body, input_at, input_text, plans_id, plans_at))
            value = json.loads(input_text)
            if not isinstance(decision, dict) or not isinstance(decision.get("recommendation", {}), dict):
                raise ValueError("the decision is not a JSON object")
        except (ValueError, TypeError, AttributeError, zlib.error) as exc:
            raise MalformedRecord(self.path, summary.decision_id, _problem(exc)) from None
        return Record(**summary.__dict__, input=value, decision=decision)

    def _export_line(self, row, seconds: Optional[dict] = None) -> bytes:
        """``json.dumps({"version": 1, **summary, "input": ..., "decision": ...}, ensure_ascii=False)``,
        assembled from the stored texts (nothing parsed, nothing encoded twice)."""
        (_seq, decision_id, us, version, revision, scenario, source, recommendation, gpu, verdict, input_text, codec, body,
         input_at, plans_id, plans_at) = row
        values = (decision_id, iso(us, seconds), scenario, source, recommendation, gpu, verdict, revision, version)
        head = _HEAD.format(*[_quoted(v) if type(v) is str else json.dumps(v, ensure_ascii=False) for v in values])
        text = self._decision_bytes(codec, body, input_at, input_text, plans_id, plans_at)
        if not codec:  # text kept as it was found (an upgraded store): check it is JSON
            json.loads(text)
            json.loads(input_text)
        return b"".join((head.encode("utf-8"), b', "input": ', input_text.encode("utf-8"), b', "decision": ', text, b"}\n"))


_quoted = json.encoder.encode_basestring  # what json.dumps(..., ensure_ascii=False) writes for a string
_HEAD = ('{{"version": 1, "decision_id": {}, "recorded_at": {}, "scenario": {}, "source": {}, "recommendation": {}, '
         '"gpu": {}, "text": {}, "rules_revision": {}, "advisor_version": {}')


def _problem(exc: BaseException) -> str:
    if isinstance(exc, zlib.error):
        return f"its compressed body is damaged: {exc}"
    if isinstance(exc, UnicodeError):
        return "its text is not UTF-8"
    if isinstance(exc, json.JSONDecodeError):
        return f"its JSON is invalid: {exc.msg} at character {exc.pos}"
    return str(exc) or type(exc).__name__


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``; on an error, a rollback if SQLite has not rolled back
    already (after a full disk it has), and the original error, never the rollback's."""

    def __init__(self, store: Store):
        self.store = store

    def __enter__(self):
        self.store._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, exc, tb):
        db = self.store._db
        if kind is None:
            try:
                db.execute("COMMIT")
                return False
            except BaseException:
                self._rollback(db)
                raise
        self._rollback(db)
        return False

    def _rollback(self, db) -> None:
        self.store._ids.clear()  # ids made inside the transaction are gone with it
        if db.in_transaction:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
