"""Decisions: a scenario's facts through the rules, into a record that says what fired and why.

``Advisor`` holds what does not change between scenarios (catalogs, rule book, compiled engine)
so a batch pays for it once. ``decide`` never raises for one bad scenario's sake: the batch
runner turns an AdvisorError into an error entry and goes on.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from . import __version__, engine, facts as factmod, resources, rulelang
from .catalogs import Catalog, load_catalog
from .evaluator import Firing
from .scenario import Scenario, check_against_catalog


@dataclass
class Decision:
    decision_id: str
    scenario: str
    source: str
    recommendation: dict  # {id, text, gpu, rule}
    factors: list  # [{factor, choice, reason, rule}]
    advantages: list  # [{gpu, id, reason, rule}]
    costs: dict  # per GPU: the figures the rules read
    fired_rules: list  # [{rule, ruleset, order, matched, asserted}]
    overridden: list  # [{rule, ruleset, by}]
    rules_revision: str
    advisor_version: str
    notes: list = field(default_factory=list)
    input: Optional[dict] = None

    def to_json(self) -> dict:
        return asdict(self)


class Advisor:
    """Catalogs, rules and engine, loaded once; ``decide`` a scenario at a time."""

    def __init__(self, rules_dir: Optional[Path] = None, catalog: Optional[Catalog] = None):
        self.catalog = catalog or load_catalog()
        self.schema = factmod.schema(self.catalog)
        directory = Path(rules_dir) if rules_dir else resources.policy_dir()
        catalog_files = sorted(resources.catalog_dir().glob("*.yaml"))
        self.book = rulelang.load(directory, self.schema, catalog_files)
        self.engine = engine.for_book(self.book, self.schema)

    def decide(self, scenario: Scenario, source: str = "", raw: Optional[dict] = None) -> Decision:
        check_against_catalog(scenario, self.catalog)
        facts = factmod.build(scenario, self.catalog)
        facts.values = self.engine.validate(facts.values)  # the values the rules really saw
        firings = self.engine.run(facts.values)
        return assemble(self.book, scenario, source, facts, firings, raw)


def assemble(book: rulelang.RuleBook, scenario: Scenario, source: str, facts: factmod.Facts, firings: list[Firing], raw=None) -> Decision:
    """Turn firings into the decision: winners of first-hit rulesets, collected items, the trace."""
    values = facts.values
    recommendation: dict = {}
    factors: dict[str, dict] = {}
    advantages: list = []
    overridden: list = []
    winners: dict[str, str] = {}
    for f in firings:
        rule = book.rule(f.rule)
        ruleset = next(rs for rs in book.rulesets if rs.name == f.ruleset)
        then = rule.then
        if ruleset.hit_policy == "first":
            if f.ruleset in winners:
                overridden.append({"rule": f.rule, "ruleset": f.ruleset, "by": winners[f.ruleset]})
                continue
            winners[f.ruleset] = f.rule
        if then.outcome:
            recommendation = {**_filled(then.outcome, values), "rule": f.rule}
        if then.advantage:
            advantages.append({**_filled(then.advantage, values), "rule": f.rule})
        if then.factor:
            item = {**_filled(then.factor, values), "rule": f.rule}
            earlier = factors.get(item["factor"])
            if earlier:  # a later rule resolves an earlier, open-ended factor ("depends on utilization")
                item["seed_choice"] = earlier.get("seed_choice", earlier["choice"])
                item["seed_reason"] = earlier.get("seed_reason", earlier["reason"])
            factors[item["factor"]] = item
    return Decision(
        decision_id=str(uuid.uuid4()),
        scenario=scenario.name or "",
        source=source,
        recommendation=recommendation,
        factors=list(factors.values()),
        advantages=advantages,
        costs=_rounded(facts.costs),
        fired_rules=[{"rule": f.rule, "ruleset": f.ruleset, "order": f.order, "matched": f.matched, "asserted": list(f.asserted)} for f in firings],
        overridden=overridden,
        rules_revision=book.revision,
        advisor_version=__version__,
        notes=facts.notes,
        input=raw if raw is not None else scenario.model_dump(mode="json", exclude_none=True),
    )


def _filled(spec: dict, values: dict) -> dict:
    return {k: rulelang.render_template(v, values) if isinstance(v, str) else v for k, v in spec.items()}


def _rounded(costs: dict) -> dict:
    return {gpu: {k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()} for gpu, figures in costs.items()}
