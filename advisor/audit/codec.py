"""What a decision is stored as (schema 3), shared by the store and its upgrades.

A decision's row: the columns a listing shows, the input as given (JSON text), and the
decision's JSON text, exactly as printed, without its copy of the input (``decision_body``) and
without its plans (``without_plans``), compressed with zlib and a preset dictionary
(``compress``). A decision's plans (a record per catalog GPU, half of its text) are the same for
every decision of the same workload, load, prices and caveats: the store keeps each distinct
plans text once, compressed the same way (once per process, ``compressed_plans``), in table
``plans``, and a decision names the one it had. The store keeps a copy of every dictionary its records use;
``joined`` puts the plans and the input back. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from datetime import datetime, timedelta, timezone
from typing import Optional

SCHEMA_VERSION = 3
LEVEL = 1  # zlib's fastest: with the dictionary, 6 saves another 25% of the body for twice the time

#: Schema 3's new table: each distinct plans text, once (schema 2 stores gain it when upgraded).
PLANS_TABLE = """
CREATE TABLE plans (
    id     INTEGER PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,           -- of the plans' JSON text (plans_digest)
    codec  INTEGER NOT NULL,               -- as decisions.codec
    body   BLOB NOT NULL                   -- the JSON text of a decision's "plans" value
);"""

SCHEMA = """
CREATE TABLE revisions (
    id             INTEGER PRIMARY KEY,
    rules_revision TEXT NOT NULL UNIQUE,
    recorded_at    TEXT NOT NULL,
    rules          TEXT                    -- JSON: {rule id: digest of its definition}, NULL if unknown
);
CREATE TABLE rule_ids (
    id   INTEGER PRIMARY KEY,
    rule TEXT NOT NULL UNIQUE
);
CREATE TABLE dictionaries (
    id     INTEGER PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,
    data   BLOB NOT NULL                   -- a zlib preset dictionary (codec = its id)
);
CREATE TABLE decisions (
    seq             INTEGER PRIMARY KEY,
    decision_id     TEXT NOT NULL UNIQUE,
    recorded_us     INTEGER NOT NULL,      -- UTC, microseconds since 1970
    revision        INTEGER NOT NULL REFERENCES revisions (id),
    advisor_version TEXT NOT NULL,
    scenario        TEXT NOT NULL,
    source          TEXT NOT NULL,
    recommendation  TEXT NOT NULL,         -- the verdict's outcome id (the recommendation's, before verdicts)
    gpu             TEXT NOT NULL,
    verdict         TEXT,                  -- the outcome text
    input           TEXT NOT NULL,         -- JSON: the scenario as given
    codec           INTEGER NOT NULL,      -- 0: body is JSON text, else zlib with dictionaries.id = codec
    body            BLOB NOT NULL,         -- the decision's JSON text (what was printed) without its input and plans
    input_at        INTEGER,               -- where ', "input": <input>' goes back (a byte offset), NULL: nowhere
    plans           INTEGER REFERENCES plans (id),  -- its plans' text, NULL: kept in the body (schema 2 records)
    plans_at        INTEGER                -- where that text goes back (a byte offset in the body as stored)
);
CREATE INDEX decisions_time ON decisions (recorded_us);
CREATE TABLE fired (
    rule        INTEGER NOT NULL REFERENCES rule_ids (id),
    recorded_us INTEGER NOT NULL,
    seq         INTEGER NOT NULL REFERENCES decisions (seq),
    PRIMARY KEY (rule, recorded_us, seq)
) WITHOUT ROWID;""" + PLANS_TABLE

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def json_text(value) -> str:
    """JSON text as ``Decision.json_text`` writes it (the same separators and escapes)."""
    return json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(", ", ": "))


def decision_body(text: str, input_text: str, facts_text: str) -> tuple[bytes, Optional[int]]:
    """A decision's JSON text without its copy of the input, and where that copy goes back.

    ``input_text`` and ``facts_text`` are the decision's input and facts as ``json_text`` writes
    them. The input is kept once, in its own column; ``(text, None)`` when the text does not end
    as ``Decision.json_text`` writes it (then nothing is cut)."""
    facts_tail = ', "facts": ' + facts_text + "}"
    tail = ', "input": ' + input_text + facts_tail
    whole = text.encode("utf-8")
    if not text.endswith(tail):
        return whole, None
    cut = len(whole) - len(tail.encode("utf-8"))
    return whole[:cut] + facts_tail.encode("utf-8"), cut


_PLANS_KEY, _AFTER_PLANS = b', "plans": ', b', "fired_rules": '


def without_plans(body: bytes, plans: bytes) -> tuple[bytes, Optional[int]]:
    """``body`` (from ``decision_body``) without the text of its top-level ``plans`` value, and
    where that text goes back; ``(body, None)`` when it is not there as ``Decision.json_text``
    writes it. The verdict's own "plans" is followed by another key, and no JSON string holds an
    unescaped quote, so the one place found is the top-level value's."""
    at = body.rfind(_PLANS_KEY + plans + _AFTER_PLANS)
    if at < 0:
        return body, None
    at += len(_PLANS_KEY)
    return body[:at] + body[at + len(plans):], at


def plans_digest(plans: bytes) -> str:
    """What the store finds a plans text by (``plans.digest``)."""
    return hashlib.blake2b(plans, digest_size=16).hexdigest()


def joined(body: bytes, input_at: Optional[int], input_text: str, plans_at: Optional[int] = None, plans: bytes = b"") -> bytes:
    """The decision's text from its stored body: the plans put back first (``plans_at`` is an
    offset in the body as stored), then the input (``input_at``, an offset in the body with its
    plans), the reverse of how they were cut."""
    if plans_at is not None:
        body = body[:plans_at] + plans + body[plans_at:]
    if input_at is None:
        return body
    return body[:input_at] + b', "input": ' + input_text.encode("utf-8") + body[input_at:]


_COMPRESSOR = None


def dictionary() -> tuple[str, bytes]:
    """(digest, data) of the preset dictionary new records are compressed with."""
    from .dictionary import DICTIONARY

    return hashlib.sha256(DICTIONARY).hexdigest()[:32], DICTIONARY


def compress(data: bytes) -> bytes:
    """zlib with the current dictionary (the store keeps a copy of it for reading)."""
    global _COMPRESSOR
    if _COMPRESSOR is None:  # the dictionary is hashed once per process; each record uses a copy
        _COMPRESSOR = zlib.compressobj(LEVEL, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, dictionary()[1])
    c = _COMPRESSOR.copy()
    return c.compress(data) + c.flush()


#: Plans texts compressed by this process, by digest: a batch's decisions share a few of them.
_COMPRESSED_PLANS: dict = {}
_COMPRESSED_PLANS_KEPT = 1024


def compressed_plans(plans: bytes) -> tuple[str, bytes]:
    """(digest, compressed text) of a plans text, compressed once per process and digest."""
    digest = plans_digest(plans)
    made = _COMPRESSED_PLANS.get(digest)
    if made is None:
        if len(_COMPRESSED_PLANS) >= _COMPRESSED_PLANS_KEPT:
            _COMPRESSED_PLANS.clear()
        made = _COMPRESSED_PLANS[digest] = compress(plans)
    return digest, made


def stored_body(d) -> tuple[bytes, Optional[int], bytes, Optional[int]]:
    """A decision's body as the store keeps it, before compression: (body, input_at, plans text,
    plans_at), the body without its input (``decision_body``) and its plans (``without_plans``)."""
    body, input_at = decision_body(d.json_text(), d.part_text("input"), d.part_text("facts"))
    plans = d.part_text("plans").encode("utf-8")
    body, plans_at = without_plans(body, plans)
    return body, input_at, plans, plans_at


def rows_of(d) -> tuple:
    """A decision as the store keeps it, computed where the decision is made (so that a parallel
    batch encodes and compresses in its workers): (decision_id, advisor_version, rules_revision,
    scenario, source, verdict id, gpu, verdict text, input JSON, compressed body, input_at, fired
    rules, plans digest, compressed plans text, plans_at)."""
    verdict = d.verdict
    body, input_at, plans, plans_at = stored_body(d)
    digest, plans = compressed_plans(plans) if plans_at is not None else (None, None)
    return (d.decision_id, d.advisor_version, d.rules_revision, d.scenario, d.source, verdict.id if verdict else "",
            verdict.gpu if verdict else "", verdict.text if verdict else None, d.part_text("input"), compress(body), input_at,
            tuple(f.rule for f in d.fired_rules), digest, plans, plans_at)


class Decompressor:
    """Decompresses records made with one dictionary: the deflate data of each zlib stream through
    a copy of an inflater primed with the dictionary (about half the time of a new zlib
    decompressor per record), then the stream's own Adler-32 checked, as zlib would."""

    def __init__(self, dictionary: bytes):
        self.dictionary = dictionary
        self._primed = zlib.decompressobj(-15, dictionary)
        self._dict_id = zlib.adler32(dictionary).to_bytes(4, "big")

    def __call__(self, data: bytes) -> bytes:
        if data[2:6] != self._dict_id or len(data) < 10 or data[0] & 0x0F != 8 or not data[1] & 0x20:
            return zlib.decompressobj(15, self.dictionary).decompress(data)  # not the shape we write: zlib decides
        inflater = self._primed.copy()
        out = inflater.decompress(memoryview(data)[6:-4])
        if not inflater.eof or inflater.unused_data or zlib.adler32(out) != int.from_bytes(data[-4:], "big"):
            raise zlib.error("incorrect data check")
        return out


def microseconds(moment: datetime) -> int:
    """An aware time as the store keeps it: microseconds since 1970 (UTC); no overflow at year 1."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def iso(us: int, seconds: Optional[dict] = None) -> str:
    """``2026-11-25T06:34:56.287550+00:00``, as ``datetime.isoformat`` writes it; ``seconds``: a
    cache of the seconds already formatted (the rows of one transaction share their time)."""
    second, fraction = divmod(us, 1_000_000)
    text = seconds.get(second) if seconds is not None else None
    if text is None:
        text = (_EPOCH + timedelta(seconds=second)).replace(tzinfo=None).isoformat(timespec="seconds")
        if seconds is not None:
            if len(seconds) > 1000:
                seconds.clear()
            seconds[second] = text
    return f"{text}.{fraction:06d}+00:00"
