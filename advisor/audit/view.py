"""A recorded decision as the typed records that ``render`` shows, read without the engine, the
rules or the catalogs (``decide.decision`` imports all three), so that ``audit show`` stays cheap.

Reads both versions of the decision JSON: version 2 (a verdict beside the seed's general answer,
findings and plans) and version 1 (before verdicts: the recommendation was the verdict printed,
and its cost figures had another shape, so they are kept in the JSON and not shown as plans)."""

from __future__ import annotations

from ..decide.records import Advantage, Decision, Factor, Finding, FiredRule, Outcome, Override, Verdict


def stored_decision(data: dict) -> Decision:
    """A decision read back from its JSON."""
    if "verdict" in data:
        verdict, general, plans = Verdict.from_json(data["verdict"]), Outcome.from_json(data.get("general_answer")), data.get("plans", {})
    else:  # version 1: the recommendation was the verdict
        general = Outcome.from_json(data.get("recommendation"))
        verdict = Verdict(general.id, general.text, general.gpu, general.rule, "holds", None, {}) if general else None
        plans = {}
    return Decision(
        decision_id=data["decision_id"], scenario=data["scenario"], source=data["source"], verdict=verdict, general_answer=general,
        findings=[Finding.from_json(f) for f in data.get("findings", [])],
        factors=[Factor.from_json(f) for f in data["factors"]], advantages=[Advantage.from_json(a) for a in data["advantages"]],
        plans=plans, fired_rules=[FiredRule.from_json(f) for f in data["fired_rules"]],
        overridden=[Override.from_json(o) for o in data["overridden"]], rules_revision=data["rules_revision"],
        advisor_version=data["advisor_version"], notes=data.get("notes", []), input=data.get("input"), facts=data.get("facts"),
    )
