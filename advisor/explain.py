"""Explanations: why a decision came out as it did, and why every other rule did not fire.

From a decision (fresh, or from the audit store) and the rule book: the derivation as a tree
(each rule that produced a result, the input facts and computed figures it matched, the derived
flags it read and the rules that asserted them); the matches a first-hit ruleset overrode; for
every rule that did not fire, the first condition that failed with the actual value (the
reference evaluator's ``first_failure``); and the cost model's formulas with the numbers put in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from . import costmodel as cm
from .catalogs import BYTES_PER_WEIGHT, Catalog
from .evaluator import first_failure
from .facts import A100, H100, build, workload_on
from .render import format_value
from .rulelang import DERIVED, Compare, RuleBook
from .scenario import Scenario

ABSENT = "(absent)"
_OP_TEXT = {"eq": "=", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "in": "in", "exists": "exists"}


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
        return {"decision_id": d["decision_id"], "scenario": d["scenario"], "recommendation": d["recommendation"],
                "rules_revision": d["rules_revision"], "derivation": [n.to_json() for n in self.tree],
                "overridden": self.overridden, "why_not": self.why_not, "formulas": self.formulas, "notes": self.notes}


def explain(decision: dict, book: RuleBook, scenario: Optional[Scenario], catalog: Catalog) -> Explanation:
    """``decision`` is a decision's JSON (as ``Decision.to_json`` or the audit store gives it)."""
    facts = decision.get("facts") or {}
    fired = {f["rule"]: f for f in decision["fired_rules"]}
    overridden = {o["rule"] for o in decision["overridden"]}
    notes = []
    if decision["rules_revision"] != book.revision:
        notes.append(f"the decision was made with rules revision {decision['rules_revision'][:12]}; "
                     f"why-not uses the current rules ({book.revision[:12]}): `advisor audit replay` shows what changed")

    def node(rule_id: str, seen: frozenset) -> Node:
        f = fired[rule_id]
        rule = book.rule(rule_id) if _has(book, rule_id) else None
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
    results = [r for r, f in fired.items() if r not in overridden and r not in nested
               and (not _has(book, r) or not _only_asserts(book.rule(r)))]
    tree = [node(r, frozenset({r})) for r in results]
    facts = {**facts, **{DERIVED + name: True for f in fired.values() for name in f["asserted"]}}

    why_not = []
    for rule in book.rules:
        if rule.id in fired:
            continue
        failed = first_failure(rule.when, facts)
        if failed is None:  # holds now but did not fire then: the rules changed since
            why_not.append({"rule": rule.id, "ruleset": rule.ruleset, "title": rule.title, "condition": "(holds with these facts)",
                            "fact": None, "actual": None})
            continue
        why_not.append({"rule": rule.id, "ruleset": rule.ruleset, "title": rule.title, "condition": condition_text(failed),
                        "fact": failed.fact, "actual": _actual(failed, facts)})
    formulas = formulas_for(scenario, catalog, decision) if scenario is not None else []
    return Explanation(decision, tree, decision["overridden"], why_not, formulas, notes)


def condition_text(c: Compare) -> str:
    if c.fact.startswith(DERIVED):
        return f"{c.fact} (asserted by another rule)"
    if c.op == "exists":
        return f"{c.fact} is {'present' if c.value else 'absent'}"
    value = "[" + ", ".join(format_value(v) for v in c.value) + "]" if c.op == "in" else format_value(c.value)
    named = f" ({c.threshold})" if c.threshold else ""
    return f"{c.fact} {_OP_TEXT[c.op]} {value}{named}"


def _actual(c: Compare, facts: dict):
    if c.fact.startswith(DERIVED):
        return "no rule asserted it"
    return facts[c.fact] if c.fact in facts else ABSENT


def _has(book: RuleBook, rule_id: str) -> bool:
    return any(r.id == rule_id for r in book.rules)


def _only_asserts(rule) -> bool:
    """A rule whose only effect is a derived flag: it appears under the rule that used the flag."""
    t = rule.then
    return bool(t.asserts) and not (t.outcome or t.advantage or t.factor)


def _result(rule, fired: dict) -> str:
    if rule is None:
        return "(rule no longer in the rule book)"
    t, parts = rule.then, []
    if t.outcome:
        parts.append(f"recommendation {t.outcome['id']}")
    if t.advantage:
        parts.append(f"advantage {t.advantage['gpu']} {t.advantage['id']}")
    if t.factor:
        parts.append(f"factor {t.factor['factor']}: {t.factor['choice']}")
    if fired["asserted"]:
        parts.append("asserts " + ", ".join(fired["asserted"]))
    return "; ".join(parts)


# --- formulas ----------------------------------------------------------------------------------


def formulas_for(scenario: Scenario, catalog: Catalog, decision: dict) -> list[dict]:
    """The cost model's formulas for the seed's pair, with this scenario's numbers put in."""
    out = []
    eff = catalog.efficiency
    for gpu_id in (A100, H100):
        costs = decision["costs"].get(gpu_id, {})
        gpu = catalog.gpu(gpu_id)
        w = workload_on(scenario, catalog, gpu_id)
        model, n = w.model, costs.get("gpus")
        add = lambda name, text: out.append({"gpu": gpu_id, "name": name, "formula": text})  # noqa: E731
        weights = cm.weight_bytes(model.params, w.precision)
        kv = cm.kv_cache_bytes(model, w.precision, w.batch, w.context_tokens)
        usable = cm.usable_memory_bytes(gpu, eff)
        add("memory", f"weights {model.params / 1e9:.1f}B params x {BYTES_PER_WEIGHT[w.precision]:g} B ({w.precision}) = {weights / 1e9:.1f} GB; "
                      f"KV cache {w.batch} seq x {w.context_tokens} tokens = {kv / 1e9:.1f} GB; usable per GPU "
                      f"{eff.memory.usable_fraction.value:g} x {gpu.memory_gb.value:g} GB - {eff.memory.reserved_gb.value:g} GB = {usable / 1e9:.1f} GB "
                      f"-> {costs.get('gpus_reason', '')}")
        if not costs.get("fits"):
            add("fit", f"does not fit one node of {gpu_id}: not costed")
            continue
        bw = gpu.bandwidth_bytes_per_s
        add("decode floor", f"weights / (GPUs x bandwidth) = {weights / 1e9:.1f} GB / ({n} x {bw / 1e12:.2f} TB/s) = "
                            f"{cm.decode_floor_s(weights, bw, n) * 1e3:.1f} ms per token (the seed's formula)")
        step = cm.decode_step(gpu, model, w.precision, n, w.batch, w.mean_decode_context, eff)
        add("decode step", f"max(memory {step.memory_s * 1e3:.2f} ms, compute {step.compute_s * 1e3:.2f} ms) + all-reduce "
                           f"{step.communication_s * 1e3:.2f} ms = {step.total_s * 1e3:.2f} ms per token ({step.bound}-bound)")
        tps = costs["tokens_per_s"]
        busy = w.batch * w.output_tokens / tps
        add("throughput", f"batch x output / (prefill + output x step) = {w.batch} x {w.output_tokens} / "
                          f"({costs['prefill_share'] * busy:.3f} s + {w.output_tokens} x {step.total_s * 1e3:.2f} ms) = {tps:,.0f} tokens/s "
                          f"({costs['tokens_per_s_per_gpu']:,.0f} per GPU)")
        add("cost per million tokens", f"GPUs x price x 1e6 / (3600 x utilization x tokens/s) = {n} x ${costs['price_usd_per_hour']:.2f} x 1e6 / "
                                       f"(3600 x {costs['utilization']:.2f} x {tps:,.0f}) = ${costs['cost_per_million_tokens']:.2f}")
        add("monthly cost", f"replicas x GPUs x price x {eff.deployment.hours_per_month.value:g} h = {costs['replicas']} x {n} x "
                            f"${costs['price_usd_per_hour']:.2f} x {eff.deployment.hours_per_month.value:g} = ${costs['monthly_cost_usd']:,.0f}")
    facts = build(scenario, catalog).values  # the comparison figures, recomputed from the same input
    ratio = facts.get("compare.h100_vs_a100.cost_ratio")
    if ratio is not None:
        a, h = decision["costs"][A100], decision["costs"][H100]
        out.append({"gpu": "h100 vs a100", "name": "cost ratio",
                    "formula": f"H100 ${h['cost_per_million_tokens']:.2f} / A100 ${a['cost_per_million_tokens']:.2f} = {ratio:.3f}; "
                               f"A100 matches H100 at {facts['compare.h100_vs_a100.a100_break_even_utilization']:.0%} utilization, "
                               f"H100 matches A100 at ${facts['compare.h100_vs_a100.break_even_price_usd_per_hour']:.2f}/h"})
    return out
