"""Replay: a recorded decision's input decided again with today's rules, and what changed."""

from __future__ import annotations

from typing import Optional

from ..decide.decision import Advisor
from ..rules.language import rule_digests
from ..scenario.files import from_data
from .store import Record


def replay(advisor: Advisor, record: Record, stored_rules: Optional[dict] = None) -> dict:
    """Decide ``record``'s input again with ``advisor``'s rules; what changed, rule by rule."""
    loaded = from_data(record.input, record.source, record.scenario)
    if loaded.error:
        replayed, changes = None, [{"what": "input", "before": "valid", "after": loaded.error}]
    else:
        replayed = advisor.decide(loaded.scenario, record.source, record.input).to_json()
        changes = differences(record.decision, replayed)
    return {"decision_id": record.decision_id, "scenario": record.scenario,
            "rules_revision": {"stored": record.rules_revision, "current": advisor.book.revision,
                               "changed": record.rules_revision != advisor.book.revision},
            "rules_changed": _rules_changed(rule_digests(advisor.book), stored_rules), "changes": changes,
            "stored": record.decision, "replayed": replayed}


def _rules_changed(current: dict, stored: Optional[dict]) -> Optional[dict]:
    if stored is None:
        return None
    return {"modified": sorted(r for r in current if r in stored and current[r] != stored[r]),
            "added": sorted(set(current) - set(stored)), "removed": sorted(set(stored) - set(current))}


def differences(before: dict, after: dict) -> list[dict]:
    """What a replay changed, item by item: [{what, before, after}] (decisions as JSON; a record
    written before verdicts has its general answer under ``recommendation`` and its figures under ``costs``)."""
    changes = []

    def note(what, old, new):
        if old != new:
            changes.append({"what": what, "before": old, "after": new})

    old_v, new_v = before.get("verdict") or {}, after.get("verdict") or {}
    for key in ("id", "text", "gpu", "general_answer", "rule"):
        note(f"verdict.{key}", old_v.get(key), new_v.get(key))
    old_g = before.get("general_answer") or before.get("recommendation") or {}
    new_g = after.get("general_answer") or {}
    for key in ("id", "text", "gpu", "rule"):
        note(f"general_answer.{key}", old_g.get(key), new_g.get(key))
    note("findings", " ".join(f["id"] for f in before.get("findings", [])) or "none",
         " ".join(f["id"] for f in after.get("findings", [])) or "none")
    old_f = {f["factor"]: f["choice"] for f in before["factors"]}
    new_f = {f["factor"]: f["choice"] for f in after["factors"]}
    for name in sorted(set(old_f) | set(new_f)):
        note(f"factor {name}", old_f.get(name), new_f.get(name))
    old_a = sorted(f"{a['gpu']}:{a['id']}" for a in before["advantages"])
    new_a = sorted(f"{a['gpu']}:{a['id']}" for a in after["advantages"])
    note("advantages", " ".join(old_a) or "none", " ".join(new_a) or "none")
    note("fired rules", " ".join(f["rule"] for f in before["fired_rules"]), " ".join(f["rule"] for f in after["fired_rules"]))
    old_p, new_p = before.get("plans") or {}, after.get("plans") or {}
    for gpu in sorted(set(old_p) | set(new_p)):
        for key in ("total_gpus", "monthly_cost_usd"):
            note(f"plans.{gpu}.{key}", old_p.get(gpu, {}).get(key), new_p.get(gpu, {}).get(key))
    return changes
