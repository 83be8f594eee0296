"""Explanations: why a decision came out as it did, and why every other rule did not fire.

From a decision (fresh, or from the audit store) and the rule book: the derivation as a tree
(each rule that produced a result, the input facts and computed figures it matched, the derived
flags it read and the rules that asserted them); the matches a first-hit ruleset overrode; for
every rule that did not fire, the first condition that failed with the actual value (the
reference evaluator's ``first_failure``); and the cost model's formulas with the numbers put in,
for every GPU, as the computation itself wrote them. Data only: ``render`` formats it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..catalog.load import Catalog
from ..defaults import A100, H100
from ..rules.evaluator import first_failure
from ..rules.language import DERIVED, Compare, RuleBook, condition_text
from ..scenario.spec import Scenario
from ..plan.planner import workings
from .facts import build

ABSENT = "(absent)"


@dataclass
class Node:
    """A fired rule and what made it fire."""

    rule: str
    ruleset: str
    result: str  # what it produced: the outcome, advantage, factor or derived flags
    facts: list = field(default_factory=list)  # [(name, value, kind)] kind: input | computed
    because: list = field(default_factory=list)  # [(derived flag, [Node of the rule that asserted it])]

    def to_json(self) -> dict:
        return {"rule": self.rule, "ruleset": self.ruleset, "result": self.result,
                "facts": [{"fact": n, "value": v, "kind": k} for n, v, k in self.facts],
                "because": [{"derived": d, "asserted_by": [c.to_json() for c in nodes]} for d, nodes in self.because]}


@dataclass
class Explanation:
    decision: dict
    tree: list  # [Node]
    overridden: list  # [{rule, ruleset, by}]
    why_not: list  # [{rule, ruleset, title, condition, fact, actual}]
    formulas: list  # [{gpu, name, formula}]
    notes: list

    def to_json(self) -> dict:
        d = self.decision
        return {"decision_id": d["decision_id"], "scenario": d["scenario"], "verdict": d.get("verdict", {}),
                "general_answer": d.get("general_answer", d.get("recommendation", {})),
                "rules_revision": d["rules_revision"], "derivation": [n.to_json() for n in self.tree],
                "overridden": self.overridden, "why_not": self.why_not, "formulas": self.formulas, "notes": self.notes}


def explain(decision: dict, book: RuleBook, scenario: Optional[Scenario], catalog: Catalog) -> Explanation:
    """``decision`` is a decision's JSON (as ``Decision.to_json`` or the audit store gives it)."""
    fired = {f["rule"]: f for f in decision["fired_rules"]}
    notes = []
    if decision["rules_revision"] != book.revision:
        notes.append(f"the decision was made with rules revision {decision['rules_revision'][:12]}; "
                     f"why-not uses the current rules ({book.revision[:12]}): `advisor audit replay` shows what changed")
    facts = {**(decision.get("facts") or {}), **{DERIVED + name: True for f in fired.values() for name in f["asserted"]}}
    formulas = formulas_for(scenario, catalog) if scenario is not None else []
    return Explanation(decision, derivation(book, fired, {o["rule"] for o in decision["overridden"]}), decision["overridden"],
                       why_not(book, fired, facts), formulas, notes)


def derivation(book: RuleBook, fired: dict, overridden: set) -> list[Node]:
    """The fired rules that produced a result, each with the facts it matched and, for each
    derived flag it read, the rules that asserted it (a tree; overridden matches left out)."""

    def node(rule_id: str, seen: frozenset) -> Node:
        f = fired[rule_id]
        rule = book.rule(rule_id) if book.has_rule(rule_id) else None
        n = Node(rule_id, f["ruleset"], _result(rule, f))
        for name, value in f["matched"].items():
            if name.startswith(DERIVED):
                flag = name[len(DERIVED):]
                sources = [r for r, g in fired.items() if flag in g["asserted"] and r not in seen]
                n.because.append((flag, [node(r, seen | {r}) for r in sources]))
            else:
                n.facts.append((name, value, "input" if name.split(".")[0] in ("context", "workload") else "computed"))
        return n

    # A rule whose flag another fired rule read appears under that rule, not again at the top.
    read = {name[len(DERIVED):] for f in fired.values() for name in f["matched"] if name.startswith(DERIVED)}
    nested = {r for r, f in fired.items() if set(f["asserted"]) & read}
    results = [r for r in fired if r not in overridden and r not in nested and (not book.has_rule(r) or not book.rule(r).only_asserts)]
    return [node(r, frozenset({r})) for r in results]


def why_not(book: RuleBook, fired: dict, facts: dict) -> list[dict]:
    """For every rule that did not fire: the first condition that failed and the actual value."""
    out = []
    for rule in book.rules:
        if rule.id in fired:
            continue
        failed = first_failure(rule.when, facts)
        if failed is None:  # holds now but did not fire then: the rules changed since
            out.append({"rule": rule.id, "ruleset": rule.ruleset, "title": rule.title, "condition": "(holds with these facts)",
                        "fact": None, "actual": None})
        else:
            out.append({"rule": rule.id, "ruleset": rule.ruleset, "title": rule.title, "condition": condition_text(failed),
                        "fact": failed.fact, "actual": _actual(failed, facts)})
    return out


def _actual(c: Compare, facts: dict):
    if c.fact.startswith(DERIVED):
        return "no rule asserted it"
    return facts[c.fact] if c.fact in facts else ABSENT


def _result(rule, fired: dict) -> str:
    if rule is None:
        return "(rule no longer in the rule book)"
    t, parts = rule.then, []
    if t.outcome:
        parts.append(f"outcome {t.outcome['id']}")
    if t.advantage:
        parts.append(f"advantage {t.advantage['gpu']} {t.advantage['id']}")
    if t.factor:
        parts.append(f"factor {t.factor['factor']}: {t.factor['choice']}")
    if t.finding:
        parts.append(f"finding {t.finding['id']}")
    if fired["asserted"]:
        parts.append("asserts " + ", ".join(fired["asserted"]))
    return "; ".join(parts)


# --- formulas ----------------------------------------------------------------------------------


def formulas_for(scenario: Scenario, catalog: Catalog) -> list[dict]:
    """Every GPU's plan with its formulas and this scenario's numbers, as the planner computed them,
    and the seed pair's comparison."""
    facts = build(scenario, catalog)
    request = facts.figures.request
    out = []
    for gpu, gpu_plan in facts.plans.items():
        if gpu_plan.plan is None:
            out.append({"gpu": gpu, "name": "no plan", "formula": gpu_plan.reason})
            continue
        out += [{"gpu": gpu, "name": name, "formula": text} for name, text in workings(catalog, request, gpu_plan.plan)]
    ratio = facts.values.get("compare.h100_vs_a100.cost_ratio")
    if ratio is not None:
        a, h = facts.plans[A100].plan, facts.plans[H100].plan
        matches = facts.values["compare.h100_vs_a100.a100_break_even_utilization"]
        out.append({"gpu": "h100 vs a100", "name": "cost ratio",
                    "formula": f"H100 ${h.monthly_cost_usd:,.0f} / A100 ${a.monthly_cost_usd:,.0f} a month = {ratio:.3f}; "
                               + (f"A100s {matches:.0%} busy would match H100 per token" if matches <= 1
                                  else "A100 cannot match H100 per token even fully busy")
                               + f"; H100 matches A100 at ${facts.values['compare.h100_vs_a100.break_even_price_usd_per_hour']:.2f}/h"})
    return out
