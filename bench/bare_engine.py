"""The bare engine: the shipped rule book run by durable-rules through its documented Python API.

The baseline `advisor run` is measured against (issue 14): what a team would write with
durable-rules alone, given facts already computed and validated. Each ruleset of the book
becomes one durable ruleset in durable's dict form (``durable.engine.Host().set_rulesets``, the
form ``durable.lang`` produces), compiled as the project's first engine compiled them
(git show a79c5f2:advisor/rules/engine.py): a scenario pattern of ``$and`` / ``$or`` with
``$ex`` / ``$nex`` guards, and one pattern per derived flag a rule reads. A scenario is one
``assert_fact`` per ruleset (the facts it reads, in one fact set: its rules join on it, where a
posted event would be consumed by the first rule that fires), in book order, then
``delete_state``; an action records its rule's firing once and asserts its derived flags with
``c.assert_fact``, and the flags of earlier rulesets are asserted into each later session first.
Both stages of a decision run: the seed's rulesets on the scenario's facts, then ``checks`` and
``verdict`` on the same facts and the general answer's (``general.*``).

Everything is given its best case, so the ratio is not flattered: the Host's two timer threads
are not started (nothing here uses timers, and they would take the GIL every 0.2 s); each
ruleset's session slot is warmed up once at start (one fact its warm-up rule fires on, deleted),
so that a session whose fact matched nothing can be deleted without a catch-all rule firing in
every scenario (durable's delete_state crashes on a slot where no action ever ran); the facts are
the ones `advisor run` validated for the same scenarios. ``check`` holds the firings to the
advisor's own engine on every measured scenario.

Usage: ``bare = BareEngine(advisor.book)``, ``bare.run(facts)`` -> the ids of the rules that fired;
as a script, ``python bench/bare_engine.py FACTS.pickle`` prints ``rate`` on the pickled list of
facts, in a process of its own (bench/run.py measures it so, between the rounds of `advisor run`).
"""

from __future__ import annotations

import pickle
import sys
import time

from durable import engine as durable

from advisor.rules.language import DERIVED, All, AnyOf, Compare, Not

KIND = "kind"
_CMP = {"lt": "$lt", "le": "$lte", "gt": "$gt", "ge": "$gte"}
_NEGATED = {"lt": "ge", "le": "gt", "gt": "le", "ge": "lt"}
SID = "1"


class _Host(durable.Host):
    """durable's Host without its timer threads (this baseline uses no timers)."""

    def _run(self):
        pass


class BareEngine:
    def __init__(self, book):
        self.book = book
        facts = sorted({f for r in book.rules for f in _facts(r.when) if not f.startswith(DERIVED)})
        self.keys = {name: f"f{i}" for i, name in enumerate(facts)}
        self.host = _Host()
        self.names, self.reads = {}, {}
        definitions = {}
        tag = f"{book.revision[:12]}_{time.monotonic_ns()}"
        for rs in book.rulesets:
            name = f"bare_{rs.name}_{tag}"
            self.names[rs.name] = name
            self.reads[rs.name] = tuple(sorted({f for r in rs.rules for f in _facts(r.when) if not f.startswith(DERIVED)}))
            definitions[name] = {r.id: self._rule(r) for r in rs.rules}
            definitions[name]["$warmup"] = {"all": [{"w": {KIND: "$warmup"}}], "run": lambda c: None}
        self.host.set_rulesets(definitions)
        for name in definitions:  # the session slot, warmed up (see the docstring)
            self.host.assert_fact(name, {"sid": SID, KIND: "$warmup"})
            self.host.delete_state(name, SID)
        self.fired: list = []
        self.derived: set = set()

    # --- compilation, as a79c5f2 compiled rules ---------------------------------------------------

    def _rule(self, rule) -> dict:
        items = list(_flatten(rule.when))
        derived = list(dict.fromkeys(c.fact[len(DERIVED):] for c in items if isinstance(c, Compare) and c.fact.startswith(DERIVED)))
        rest = [c for c in items if not (isinstance(c, Compare) and c.fact.startswith(DERIVED))]
        scenario = [{KIND: "scenario"}] + ([self._expr(All(tuple(rest)))] if rest else [])
        patterns = [{"s": {"$and": scenario} if len(scenario) > 1 else scenario[0]}]
        patterns += [{f"d{i}": {"$and": [{KIND: "derived"}, {"name": flag}]}} for i, flag in enumerate(derived)]
        return {"all": patterns, "run": self._action(rule)}

    def _expr(self, cond, negate: bool = False) -> dict:
        if isinstance(cond, Not):
            return self._expr(cond.item, not negate)
        if isinstance(cond, (All, AnyOf)):
            conj = isinstance(cond, All) != negate  # De Morgan under negation
            if not cond.items:
                return {KIND: "scenario"} if conj else {"$nex": {KIND: 1}}
            parts = [self._expr(c, negate) for c in cond.items]
            return parts[0] if len(parts) == 1 else {"$and" if conj else "$or": parts}
        return self._leaf(cond, negate)

    def _leaf(self, c: Compare, negate: bool) -> dict:
        """A comparison; under negation, "not (x op v)" is "x fails op v, or x is absent"."""
        key = self.keys[c.fact]
        absent, present = {"$nex": {key: 1}}, {"$ex": {key: 1}}
        if c.op == "exists":
            return present if c.value != negate else absent
        if c.op == "in":
            if not negate:
                return {"$or": [{key: v} for v in c.value]} if len(c.value) > 1 else {key: c.value[0]}
            return {"$or": [{"$and": [present] + [{"$neq": {key: v}} for v in c.value]}, absent]}
        if c.op in ("eq", "ne"):
            equal = (c.op == "eq") != negate
            test = {key: c.value} if equal else {"$and": [present, {"$neq": {key: c.value}}]}
            return test if not negate else {"$or": [test, absent]}
        op = _NEGATED[c.op] if negate else c.op
        test = {"$and": [present, {_CMP[op]: {key: c.value}}]}
        return test if not negate else {"$or": [test, absent]}

    def _action(self, rule):
        def run(c):
            if rule.id in self.fired:
                return  # durable fires once per matching branch of an $or; a rule fires once
            self.fired.append(rule.id)
            for flag in rule.then.asserts:
                if flag not in self.derived:
                    self.derived.add(flag)
                    try:
                        c.assert_fact({KIND: "derived", "name": flag})
                    except (durable.MessageObservedException, durable.MessageNotHandledException):
                        pass  # a flag no rule of this ruleset reads, or one already there
        return run

    # --- running -------------------------------------------------------------------------------

    def run(self, facts: dict) -> list:
        """The ids of the rules that fire on ``facts`` (validated, by fact name), in firing order."""
        self.fired, self.derived = [], set()
        host, keys = self.host, self.keys
        for rs in self.book.rulesets:
            name = self.names[rs.name]
            fact = {"sid": SID, KIND: "scenario"}
            for f in self.reads[rs.name]:
                if f in facts:
                    fact[keys[f]] = facts[f]
            try:
                for flag in sorted(self.derived):  # flags of earlier rulesets
                    try:
                        host.assert_fact(name, {"sid": SID, KIND: "derived", "name": flag})
                    except durable.MessageNotHandledException:
                        pass
                try:
                    host.assert_fact(name, fact)
                except durable.MessageNotHandledException:
                    pass  # no rule of this ruleset reads anything the scenario has
            finally:
                host.delete_state(name, SID)
        return self.fired


def _facts(cond) -> list:
    if isinstance(cond, Compare):
        return [cond.fact]
    items = (cond.item,) if isinstance(cond, Not) else cond.items
    return [f for item in items for f in _facts(item)]


def _flatten(cond):
    if isinstance(cond, All):
        for item in cond.items:
            yield from _flatten(item)
    else:
        yield cond


def check(bare: BareEngine, facts: list, decisions: list) -> int:
    """Scenarios on which the bare engine fired other rules than the advisor did (0 expected)."""
    return sum(1 for f, d in zip(facts, decisions) if sorted(bare.run(f)) != sorted(r.rule for r in d.fired_rules))


def rate(bare: BareEngine, facts: list, repeat: int = 3) -> float:
    """Scenarios a second, the best of ``repeat`` passes over ``facts``."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for f in facts:
            bare.run(f)
        best = min(best, time.perf_counter() - start)
    return len(facts) / best


def main(facts_path: str) -> int:
    from advisor.decide.decision import Advisor

    with open(facts_path, "rb") as f:
        facts = pickle.load(f)
    print(rate(BareEngine(Advisor().book), facts))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
