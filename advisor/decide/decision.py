"""Decisions: a scenario's facts through the rules, into a record that says what fired and why.

``Advisor`` holds what does not change between scenarios (catalogs, rule book, compiled engine)
so a batch pays for it once. ``decide`` raises an AdvisorError for one bad scenario; the batch
runner turns it into an error entry and goes on.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .. import __version__, resources
from ..catalog.load import Catalog, load_catalog
from ..errors import InputError
from ..perf.deployment import round_figure
from ..rules import engine, loader
from ..rules.evaluator import Firing
from ..rules.language import RuleBook, render_template
from ..scenario.spec import Scenario, check_against_catalog
from . import facts as factmod
from .records import Advantage, Factor, FiredRule, Outcome, Override


@dataclass
class Decision:
    decision_id: str
    scenario: str
    source: str
    recommendation: Optional[Outcome]
    factors: list[Factor]
    advantages: list[Advantage]
    costs: dict  # per GPU: the figures the rules read
    fired_rules: list[FiredRule]
    overridden: list[Override]
    rules_revision: str
    advisor_version: str
    notes: list = field(default_factory=list)
    input: Optional[dict] = None  # the scenario as given
    facts: Optional[dict] = None  # the value of every fact the rules read (for audits and why-not)
    _text: Optional[str] = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict:
        return {
            "decision_id": self.decision_id, "scenario": self.scenario, "source": self.source,
            "recommendation": self.recommendation.to_json() if self.recommendation else {},
            "factors": [f.to_json() for f in self.factors], "advantages": [a.to_json() for a in self.advantages],
            "costs": self.costs, "fired_rules": [f.to_json() for f in self.fired_rules],
            "overridden": [o.to_json() for o in self.overridden], "rules_revision": self.rules_revision,
            "advisor_version": self.advisor_version, "notes": self.notes, "input": self.input, "facts": self.facts,
        }

    @classmethod
    def from_json(cls, data: dict) -> "Decision":
        """A decision read back from its JSON (an audit record)."""
        return cls(
            decision_id=data["decision_id"], scenario=data["scenario"], source=data["source"],
            recommendation=Outcome.from_json(data["recommendation"]),
            factors=[Factor.from_json(f) for f in data["factors"]], advantages=[Advantage.from_json(a) for a in data["advantages"]],
            costs=data["costs"], fired_rules=[FiredRule.from_json(f) for f in data["fired_rules"]],
            overridden=[Override.from_json(o) for o in data["overridden"]], rules_revision=data["rules_revision"],
            advisor_version=data["advisor_version"], notes=data.get("notes", []), input=data.get("input"), facts=data.get("facts"),
        )

    def json_text(self) -> str:
        """The decision as one line of JSON, encoded once for both the output and the audit store."""
        if self._text is None:
            self._text = json.dumps(self.to_json(), allow_nan=False, ensure_ascii=False, separators=(", ", ": "))
        return self._text


class Advisor:
    """Catalogs, rules and engine, loaded once; ``decide`` a scenario at a time."""

    def __init__(self, rules_dir: Optional[Path] = None, catalog: Optional[Catalog] = None):
        self.catalog = catalog or load_catalog()
        self.schema = factmod.schema(self.catalog)
        directory = Path(rules_dir) if rules_dir else resources.policy_dir()
        catalog_files = sorted(resources.catalog_dir().glob("*.yaml"))
        self.book = loader.load(directory, self.schema, catalog_files, action_checks=action_checks(self.catalog))
        self.engine = engine.for_book(self.book, self.schema)
        self._estimates = factmod.EstimateCache()  # shared by the scenarios of a batch

    def decide(self, scenario: Scenario, source: str = "", raw: Optional[dict] = None) -> Decision:
        check_against_catalog(scenario, self.catalog)
        facts = factmod.build(scenario, self.catalog, self._estimates)
        try:
            seen = self.engine.validate({k: v for k, v in facts.values.items() if k in self.engine.reads})
        except engine.EngineError as exc:  # inputs are valid; only an absurd combination gets here
            raise InputError(f"the figures computed from this scenario are out of range ({exc.detail})",
                             "check the workload, the prices and the utilization") from None
        firings = self.engine.run(seen, validated=True)
        return assemble(self.book, scenario, source, facts, firings, raw, seen)


def action_checks(catalog: Catalog) -> dict:
    """What rules may say beyond the rule language: an outcome names catalog GPUs ("a+b" for a mix)."""
    return {"outcome.gpu": loader.one_of(catalog.gpus, joined_by="+")}


def assemble(book: RuleBook, scenario: Scenario, source: str, facts: factmod.Facts, firings: list[Firing], raw,
             seen: dict) -> Decision:
    """Turn firings into the decision: winners of first-hit rulesets, collected items, the trace.

    ``seen``: the facts the rules read, as validated for the engine (kept in the record)."""
    values = facts.values
    recommendation: Optional[Outcome] = None
    factors: dict[str, Factor] = {}
    advantages: list[Advantage] = []
    overridden: list[Override] = []
    winners: dict[str, str] = {}
    for f in firings:
        then = book.rule(f.rule).then
        if book.ruleset(f.ruleset).hit_policy == "first":
            if f.ruleset in winners:
                overridden.append(Override(f.rule, f.ruleset, winners[f.ruleset]))
                continue
            winners[f.ruleset] = f.rule
        if then.outcome:
            recommendation = Outcome(**_filled(then.outcome, values, ("id", "text", "gpu")), rule=f.rule)
        if then.advantage:
            advantages.append(Advantage(**_filled(then.advantage, values, ("gpu", "id", "reason")), rule=f.rule))
        if then.factor:
            item = Factor(**_filled(then.factor, values, ("factor", "choice", "reason")), rule=f.rule)
            earlier = factors.get(item.factor)  # a later rule resolves an open-ended one ("depends on utilization")
            factors[item.factor] = item.resolving(earlier) if earlier else item
    return Decision(
        decision_id=str(uuid.uuid4()),
        scenario=scenario.name or "",
        source=source,
        recommendation=recommendation,
        factors=list(factors.values()),
        advantages=advantages,
        costs=_rounded(facts.costs),
        fired_rules=[FiredRule(f.rule, f.ruleset, f.order, f.matched, tuple(f.asserted)) for f in firings],
        overridden=overridden,
        rules_revision=book.revision,
        advisor_version=__version__,
        notes=facts.notes,
        input=raw if raw is not None else scenario.model_dump(mode="json", exclude_none=True),
        facts=seen,
    )


def _filled(spec: dict, values: dict, named: tuple) -> dict:
    """An action's templates filled with fact values: the named keys, and the rest as ``extra``."""
    filled = {k: render_template(v, values) if isinstance(v, str) else v for k, v in spec.items()}
    return {**{k: filled[k] for k in named}, "extra": {k: v for k, v in filled.items() if k not in named}}


def _rounded(costs: dict) -> dict:
    return {gpu: {k: round_figure(v) for k, v in figures.items()} for gpu, figures in costs.items()}
