"""A recorded decision as the typed records that ``render`` shows, read without the engine, the
rules or the catalogs (``decide.decision`` imports all three), so that ``audit show`` stays cheap.

Reads both versions of the decision JSON: version 2 (a verdict beside the seed's general answer,
findings and plans) and version 1 (before verdicts: the recommendation was the verdict printed,
and its cost figures had another shape, so they are kept in the JSON and not shown as plans)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..decide.records import Advantage, Factor, Finding, FiredRule, Outcome, Override, Verdict


@dataclass(frozen=True)
class StoredDecision:
    """The fields of ``decide.decision.Decision``, from a decision's JSON."""

    decision_id: str
    scenario: str
    source: str
    verdict: Optional[Verdict]
    general_answer: Optional[Outcome]
    findings: list
    factors: list
    advantages: list
    plans: dict
    fired_rules: list
    overridden: list
    rules_revision: str
    advisor_version: str
    notes: list = field(default_factory=list)
    input: Optional[dict] = None
    facts: Optional[dict] = None


def stored_decision(data: dict) -> StoredDecision:
    if "verdict" in data:
        verdict, general, plans = Verdict.from_json(data["verdict"]), Outcome.from_json(data.get("general_answer")), data.get("plans", {})
    else:  # version 1: the recommendation was the verdict
        general = Outcome.from_json(data.get("recommendation"))
        verdict = Verdict(general.id, general.text, general.gpu, general.rule, "holds", None, {}) if general else None
        plans = {}
    return StoredDecision(
        decision_id=data["decision_id"], scenario=data["scenario"], source=data["source"], verdict=verdict, general_answer=general,
        findings=[Finding.from_json(f) for f in data.get("findings", [])],
        factors=[Factor.from_json(f) for f in data["factors"]], advantages=[Advantage.from_json(a) for a in data["advantages"]],
        plans=plans, fired_rules=[FiredRule.from_json(f) for f in data["fired_rules"]],
        overridden=[Override.from_json(o) for o in data["overridden"]], rules_revision=data["rules_revision"],
        advisor_version=data["advisor_version"], notes=data.get("notes", []), input=data.get("input"), facts=data.get("facts"),
    )
