"""Upgrades of audit stores written by older versions, each inside the caller's transaction (a
store is upgraded whole or not at all).

Schema 1 (advisor 0.1.0): a ``decisions`` row held the input and the whole decision as JSON
text (the input twice), the time as ISO text and the rules revision in full; ``fired_rules``
was keyed by decision id and ``--rule`` scanned the store. Schema 2 kept each decision's plans in
its body; schema 3 keeps each distinct plans text once, in table ``plans``: a schema 2 store gains
the table and two columns, and its records keep their plans where they are. Every record reads
back, and exports, exactly as before.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Callable, Optional

from . import codec as S


def from_schema_1(db, path, notice: Optional[Callable[[str], None]] = None) -> None:
    count = db.execute("SELECT count(*) FROM decisions").fetchone()[0]
    if notice is not None and count >= 10_000:
        notice(f"upgrading the audit store {path} to schema {S.SCHEMA_VERSION} ({count:,} decisions; this happens once)")
    db.execute("ALTER TABLE decisions RENAME TO decisions_1")
    db.execute("ALTER TABLE revisions RENAME TO revisions_1")
    db.execute("DROP INDEX IF EXISTS decisions_recorded_at")
    db.execute("DROP INDEX IF EXISTS fired_rules_rule")
    for statement in filter(str.strip, S.SCHEMA.split(";")):
        db.execute(statement)
    db.execute("INSERT INTO revisions (rules_revision, recorded_at, rules)"
               " SELECT rules_revision, recorded_at, rules FROM revisions_1 ORDER BY recorded_at, rules_revision")
    ids = {"revision": dict(db.execute("SELECT rules_revision, id FROM revisions")), "rule": {}}
    codec = _dictionary(db)

    def revision_id(revision: str) -> int:
        if revision not in ids["revision"]:  # a revision whose rules were not kept
            ids["revision"][revision] = db.execute("INSERT INTO revisions (rules_revision, recorded_at, rules) VALUES (?, ?, NULL)",
                                                   (revision, datetime.now(timezone.utc).isoformat(timespec="microseconds"))).lastrowid
        return ids["revision"][revision]

    def rule_id(rule: str) -> int:
        if rule not in ids["rule"]:
            ids["rule"][rule] = db.execute("INSERT INTO rule_ids (rule) VALUES (?)", (rule,)).lastrowid
        return ids["rule"][rule]

    rows = db.execute("SELECT seq, decision_id, recorded_at, advisor_version, rules_revision, scenario, source, recommendation,"
                      " gpu, input, decision FROM decisions_1 ORDER BY seq")
    for seq, decision_id, recorded_at, version, revision, scenario, source, recommendation, gpu, input_, decision in rows:
        us = _microseconds(recorded_at)
        verdict, input_text, body, input_at, row_codec = None, input_, decision, None, 0
        try:
            data, value = json.loads(decision), json.loads(input_)
            verdict = data["recommendation"].get("text") if isinstance(data.get("recommendation"), dict) else None
            input_text = S.json_text(value)
            cut, input_at = S.decision_body(decision, S.json_text(data.get("input")), S.json_text(data.get("facts")))
            if input_at is not None and S.json_text(data.get("input")) != input_text:
                cut, input_at = decision.encode("utf-8"), None  # the two copies differ: keep both
            body, row_codec = S.compress(cut), codec
        except (ValueError, TypeError, AttributeError):
            pass  # kept as found: reading it says what is wrong, and the other records still read
        db.execute("INSERT INTO decisions (seq, decision_id, recorded_us, revision, advisor_version, scenario, source,"
                   " recommendation, gpu, verdict, input, codec, body, input_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                   (seq, decision_id, us, revision_id(revision), version, scenario, source, recommendation, gpu, verdict,
                    input_text, row_codec, body, input_at))
        fired = db.execute("SELECT rule FROM fired_rules WHERE decision_id = ?", (decision_id,)).fetchall()
        db.executemany("INSERT OR IGNORE INTO fired VALUES (?, ?, ?)", [(rule_id(rule), us, seq) for (rule,) in fired])
    db.execute("DROP TABLE fired_rules")
    db.execute("DROP TABLE decisions_1")
    db.execute("DROP TABLE revisions_1")


def from_schema_2(db) -> None:
    db.execute(S.PLANS_TABLE)
    db.execute("ALTER TABLE decisions ADD COLUMN plans INTEGER REFERENCES plans (id)")
    db.execute("ALTER TABLE decisions ADD COLUMN plans_at INTEGER")


def _dictionary(db) -> int:
    return db.execute("INSERT INTO dictionaries (digest, data) VALUES (?, ?)", S.dictionary()).lastrowid


def _microseconds(text) -> int:
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return 0
    return S.microseconds(moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc))
