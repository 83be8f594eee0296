"""A recorded decision as the typed records that ``render`` shows, read without the engine, the
rules or the catalogs (``decide.decision`` imports all three), so that ``audit show`` stays cheap."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..decide.records import Advantage, Factor, FiredRule, Outcome, Override


@dataclass(frozen=True)
class StoredDecision:
    """The fields of ``decide.decision.Decision``, from a decision's JSON."""

    decision_id: str
    scenario: str
    source: str
    recommendation: Optional[Outcome]
    factors: list
    advantages: list
    costs: dict
    fired_rules: list
    overridden: list
    rules_revision: str
    advisor_version: str
    notes: list = field(default_factory=list)
    input: Optional[dict] = None
    facts: Optional[dict] = None


def stored_decision(data: dict) -> StoredDecision:
    return StoredDecision(
        decision_id=data["decision_id"], scenario=data["scenario"], source=data["source"],
        recommendation=Outcome.from_json(data["recommendation"]),
        factors=[Factor.from_json(f) for f in data["factors"]], advantages=[Advantage.from_json(a) for a in data["advantages"]],
        costs=data["costs"], fired_rules=[FiredRule.from_json(f) for f in data["fired_rules"]],
        overridden=[Override.from_json(o) for o in data["overridden"]], rules_revision=data["rules_revision"],
        advisor_version=data["advisor_version"], notes=data.get("notes", []), input=data.get("input"), facts=data.get("facts"),
    )
