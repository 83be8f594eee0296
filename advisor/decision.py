"""Decisions: a scenario's facts through the rules, into a record that says what fired and why.

``Advisor`` holds what does not change between scenarios (catalogs, rule book, compiled engine)
so a batch pays for it once. ``decide`` never raises for one bad scenario's sake: the batch
runner turns an AdvisorError into an error entry and goes on.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Optional

from . import __version__, engine, facts as factmod, resources, rulelang
from .catalogs import Catalog, load_catalog
from .evaluator import Firing
from .errors import InputError
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
    input: Optional[dict] = None  # the scenario as given
    facts: Optional[dict] = None  # the value of every fact the rules read (for audits and why-not)
    _text: Optional[str] = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict:
        """The fields as they are: already JSON data (shared, not copied: treat it as read-only)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "_text"}

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
        self.book = rulelang.load(directory, self.schema, catalog_files)
        self.engine = engine.for_book(self.book, self.schema)
        self._estimates: dict = {}  # deployment estimates, shared by the scenarios of a batch

    def replay(self, record, stored_rules: Optional[dict] = None) -> dict:
        """Decide an audit record's input again with these rules; what changed, rule by rule."""
        from .scenario import from_data

        loaded = from_data(record.input, record.source, record.scenario)
        if loaded.error:
            replayed, changes = None, [{"what": "input", "before": "valid", "after": loaded.error}]
        else:
            replayed = self.decide(loaded.scenario, record.source, record.input).to_json()
            changes = differences(record.decision, replayed)
        current = rulelang.rule_digests(self.book)
        rules_changed = None
        if stored_rules is not None:
            rules_changed = {"modified": sorted(r for r in current if r in stored_rules and current[r] != stored_rules[r]),
                             "added": sorted(set(current) - set(stored_rules)),
                             "removed": sorted(set(stored_rules) - set(current))}
        return {"decision_id": record.decision_id, "scenario": record.scenario,
                "rules_revision": {"stored": record.rules_revision, "current": self.book.revision,
                                   "changed": record.rules_revision != self.book.revision},
                "rules_changed": rules_changed, "changes": changes, "stored": record.decision, "replayed": replayed}

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


def assemble(book: rulelang.RuleBook, scenario: Scenario, source: str, facts: factmod.Facts, firings: list[Firing], raw,
             seen: dict) -> Decision:
    """Turn firings into the decision: winners of first-hit rulesets, collected items, the trace.

    ``seen``: the facts the rules read, as validated for the engine (kept in the record)."""
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
        facts=seen,
    )


def _filled(spec: dict, values: dict) -> dict:
    return {k: rulelang.render_template(v, values) if isinstance(v, str) else v for k, v in spec.items()}


def _rounded(costs: dict) -> dict:
    return {gpu: {k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()} for gpu, figures in costs.items()}


def differences(before: dict, after: dict) -> list[dict]:
    """What a replay changed, item by item: [{what, before, after}] (decisions as JSON)."""
    changes = []

    def note(what, old, new):
        if old != new:
            changes.append({"what": what, "before": old, "after": new})

    for key in ("id", "text", "gpu", "rule"):
        note(f"recommendation.{key}", before["recommendation"].get(key), after["recommendation"].get(key))
    old_f = {f["factor"]: f["choice"] for f in before["factors"]}
    new_f = {f["factor"]: f["choice"] for f in after["factors"]}
    for name in sorted(set(old_f) | set(new_f)):
        note(f"factor {name}", old_f.get(name), new_f.get(name))
    old_a = sorted(f"{a['gpu']}:{a['id']}" for a in before["advantages"])
    new_a = sorted(f"{a['gpu']}:{a['id']}" for a in after["advantages"])
    note("advantages", " ".join(old_a) or "none", " ".join(new_a) or "none")
    note("fired rules", " ".join(f["rule"] for f in before["fired_rules"]), " ".join(f["rule"] for f in after["fired_rules"]))
    for gpu in sorted(set(before["costs"]) | set(after["costs"])):
        for key in ("gpus", "cost_per_million_tokens"):
            note(f"costs.{gpu}.{key}", before["costs"].get(gpu, {}).get(key), after["costs"].get(gpu, {}).get(key))
    return changes
