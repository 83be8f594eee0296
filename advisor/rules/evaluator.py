"""Reference evaluator: the rule language's meaning in plain Python, independent of durable-rules.

It defines the semantics the engine must reproduce (the differential test holds them together)
and answers "why not" for explanations. A comparison on an absent fact is false; ``not`` is
plain negation; derived facts are flags that rules of the same or later rulesets may read.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Optional

from .language import DERIVED, All, AnyOf, Compare, Condition, RuleBook, Ruleset, facts_of

_OPS = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge}


@dataclass(frozen=True)
class Firing:
    """A rule that fired, the facts it matched and the flags it asserted (a decision keeps each)."""

    rule: str
    ruleset: str
    order: int
    matched: dict
    asserted: tuple

    def to_json(self) -> dict:
        return {"rule": self.rule, "ruleset": self.ruleset, "order": self.order, "matched": self.matched,
                "asserted": list(self.asserted)}

    @classmethod
    def from_json(cls, data: dict) -> "Firing":
        return cls(data["rule"], data["ruleset"], data["order"], data["matched"], tuple(data["asserted"]))


def holds(cond: Condition, facts: dict) -> bool:
    if isinstance(cond, Compare):
        present = cond.fact in facts
        if cond.op == "exists":
            return present == cond.value
        if not present:
            return False
        value = facts[cond.fact]
        if cond.op == "in":
            return value in cond.value
        return _OPS[cond.op](value, cond.value)
    if isinstance(cond, All):
        return all(holds(c, facts) for c in cond.items)
    if isinstance(cond, AnyOf):
        return any(holds(c, facts) for c in cond.items)
    return not holds(cond.item, facts)


def first_failure(cond: Condition, facts: dict) -> Optional[Compare]:
    """The first comparison that keeps ``cond`` from holding (None when it holds)."""
    if holds(cond, facts):
        return None
    if isinstance(cond, Compare):
        return cond
    if isinstance(cond, All):
        return next(first_failure(c, facts) for c in cond.items if not holds(c, facts))
    if isinstance(cond, AnyOf):
        return first_failure(cond.items[0], facts) if cond.items else None
    return _negated_leaf(cond.item, facts)


def _negated_leaf(cond: Condition, facts: dict) -> Optional[Compare]:
    """Under ``not``: the comparison whose truth made the negation fail."""
    if isinstance(cond, Compare):
        return cond
    if isinstance(cond, All):
        return _negated_leaf(cond.items[0], facts) if cond.items else None
    if isinstance(cond, AnyOf):
        return next((_negated_leaf(c, facts) for c in cond.items if holds(c, facts)), None)
    return first_failure(cond.item, facts)


def run_ruleset(ruleset: Ruleset, facts: dict) -> list[Firing]:
    """Fire every rule whose condition holds, to a fixpoint (derived facts can enable later rules)."""
    fired: list[Firing] = []
    done: set[str] = set()
    changed = True
    while changed:
        changed = False
        for rule in ruleset.rules:
            if rule.id in done or not holds(rule.when, facts):
                continue
            done.add(rule.id)
            fired.append(Firing(rule.id, ruleset.name, rule.order, _matched(rule.when, facts), rule.then.asserts))
            for name in rule.then.asserts:
                if DERIVED + name not in facts:
                    facts[DERIVED + name] = True
                    changed = True
    return fired


def run(book: RuleBook, facts: dict) -> list[Firing]:
    facts = dict(facts)
    firings: list[Firing] = []
    for ruleset in book.rulesets:
        firings += run_ruleset(ruleset, facts)
    return sorted(firings, key=lambda f: (book.positions[f.ruleset], f.order))


def _matched(cond: Condition, facts: dict) -> dict:
    return {name: facts[name] for name in facts_of(cond) if name in facts}

