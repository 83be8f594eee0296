"""The durable-rules engine, and every one of its pitfalls, contained in this one module.

Rules compile to durable-rules rulesets in dict form. What this wrapper guarantees, each with a
test in tests/test_engine.py (see shared/notes/durable-rules.md for the measurements):

- one Host per process, without the two timer threads durable starts (we use no timers);
- a ruleset name is registered once per Host, so names carry the rules revision;
- every pattern carries ``kind``, a field only real facts have, so no pattern can match the
  session's own state object (which would loop forever);
- values are validated against the fact schema before they are asserted (durable compares mixed
  types as strings, ``True == 1 == "true"``); absent facts are left out, never sent as null;
- each scenario has its own session, deleted in ``finally`` (live sessions are capped at 1,024
  per ruleset, and the process segfaults soon after);
- an exception inside an action, which durable swallows into the session state, is raised;
- every fact is handled, by a catch-all rule in each ruleset: deleting a session whose fact
  matched nothing segfaults in ``delete_state``;
- asserting a derived fact twice (``MessageObservedException``) is fine: derived facts are flags;
- facts are asserted one at a time (a multi-sid ``assert_facts`` then delete segfaulted);
- durable fires a rule once per matching branch of an ``any`` (``$or``); a rule fires once here;
- numbers whose JSON has an exponent without a fraction fail in durable's parser (MIN/MAX_NUMBER).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import threading
from typing import Optional

from durable import engine as durable

from ..errors import AdvisorError
from .evaluator import Firing
from .language import DERIVED, All, AnyOf, Compare, Condition, Not, Rule, RuleBook, facts_of
from .schema import MAX_NUMBER, MIN_NUMBER, FactSpec

KIND = "kind"  # the discriminator every compiled pattern checks
_SCENARIO, _DERIVED = "scenario", "derived"
# Every fact must be handled: deleting a session whose fact matched no rule segfaults the C core
# (deterministically, in delete_state), and without delete_state sessions leak up to the cap. So
# each ruleset gets one catch-all rule; its id cannot collide with a rule id (those start a-z).
_HANDLED = "$handled"
_CMP = {"lt": "$lt", "le": "$lte", "gt": "$gt", "ge": "$gte"}
_NEGATED = {"lt": "ge", "le": "gt", "gt": "le", "ge": "lt"}


class EngineError(AdvisorError):
    """The engine failed on a scenario; the batch reports it and goes on."""

    exit_code = 2

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.detail = detail  # the fact at fault, when a value was refused


class _QuietHost(durable.Host):
    """A Host without durable's self-rescheduling timer threads, which this advisor never needs."""

    def _run(self):
        pass


_HOST: Optional[_QuietHost] = None
_ENGINES: dict[str, "Engine"] = {}
_LOCK = threading.Lock()
_SIDS = itertools.count(1)


def for_book(book: RuleBook, schema: dict[str, FactSpec]) -> "Engine":
    """The engine of a rules revision, compiled and registered once per process."""
    with _LOCK:
        if book.revision not in _ENGINES:
            _ENGINES[book.revision] = Engine(book, schema)
        return _ENGINES[book.revision]


class Engine:
    def __init__(self, book: RuleBook, schema: dict[str, FactSpec]):
        global _HOST
        self.book = book
        self.schema = schema
        # Engine-side field names: short, collision-free, never "sid" or "id".
        self._keys = {name: f"f{i}" for i, name in enumerate(sorted(schema))}
        self._firings: list[Firing] = []
        self._derived: set[str] = set()
        self._fired: set[str] = set()
        self._facts: dict = {}
        self._error: Optional[BaseException] = None
        self._names: dict[str, str] = {}
        self._read: dict[str, list[str]] = {}
        definitions = {}
        for rs in book.rulesets:
            name = f"{rs.name}_{hashlib.sha256(book.revision.encode()).hexdigest()[:16]}"
            self._names[rs.name] = name
            self._read[rs.name] = sorted({f for rule in rs.rules for f in facts_of(rule.when) if not f.startswith(DERIVED)})
            definitions[name] = {rule.id: self._compile_rule(rule) for rule in rs.rules}
            definitions[name][_HANDLED] = {"all": [{"fact": {"$or": [{KIND: _SCENARIO}, {KIND: _DERIVED}]}}], "run": _ignore}
        self.reads = frozenset(f for names in self._read.values() for f in names)  # every fact a rule reads
        if _HOST is None:
            _HOST = _QuietHost()
        _HOST.set_rulesets(definitions)

    # --- compilation ---------------------------------------------------------------------------

    def _compile_rule(self, rule: Rule) -> dict:
        derived, rest = _split_derived(rule.when)
        patterns = [{"scenario": {"$and": [{KIND: _SCENARIO}] + ([self._expr(rest)] if rest is not None else [])}}]
        patterns += [{f"d{i}": {"$and": [{KIND: _DERIVED}, {"name": name}]}} for i, name in enumerate(derived)]
        return {"all": patterns, "run": self._action(rule)}

    def _expr(self, cond: Condition, negate: bool = False) -> dict:
        if isinstance(cond, Not):
            return self._expr(cond.item, not negate)
        if isinstance(cond, (All, AnyOf)):
            conj = isinstance(cond, All) != negate  # De Morgan under negation
            if not cond.items:  # an empty all is true, an empty any false
                return {KIND: _SCENARIO} if conj else {"$nex": {KIND: 1}}
            parts = [self._expr(c, negate) for c in cond.items]
            return parts[0] if len(parts) == 1 else {"$and" if conj else "$or": parts}
        return self._leaf(cond, negate)

    def _leaf(self, c: Compare, negate: bool) -> dict:
        """A comparison; under negation, "not (x op v)" is "x fails op v, or x is absent"."""
        key = self._keys[c.fact]
        absent = {"$nex": {key: 1}}
        present = {"$ex": {key: 1}}
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

    def _action(self, rule: Rule):
        reads = facts_of(rule.when)  # once, at compile time: the action runs on the hot path

        def run(c):
            try:
                if rule.id in self._fired:
                    return  # durable fires once per matching branch of an `any`; a rule fires once
                self._fired.add(rule.id)
                matched = {f: self._facts[f] for f in reads if f in self._facts}
                matched.update({f: True for f in reads if f.startswith(DERIVED) and f[len(DERIVED):] in self._derived})
                self._firings.append(Firing(rule.id, rule.ruleset, rule.order, matched, rule.then.asserts))
                for name in rule.then.asserts:
                    if name in self._derived:
                        continue
                    self._derived.add(name)
                    try:
                        c.assert_fact({KIND: _DERIVED, "name": name})
                    except durable.MessageObservedException:
                        pass  # already known: flags are idempotent
            except BaseException as exc:  # noqa: BLE001 - durable would swallow it; keep it for run()
                self._error = exc
                raise
        return run

    # --- running -------------------------------------------------------------------------------

    def validate(self, facts: dict) -> dict:
        """Facts as the engine may see them: known names, the schema's type, nothing absent or null."""
        clean = {}
        for name, value in facts.items():
            spec = self.schema.get(name)
            if spec is None:
                raise EngineError(f"engine: unknown fact {name!r}")
            if value is None:
                continue
            kind = type(value)  # exact types: bool is not a number here, nor 1 a bool
            if spec.type == "bool":
                ok = kind is bool
            elif spec.type == "number":
                ok = (kind is float or kind is int) and math.isfinite(value) and abs(value) < MAX_NUMBER
                value = (0.0 if abs(value) < MIN_NUMBER else float(value)) if ok else value
            elif spec.type == "enum":
                ok = value in spec.values
            else:
                ok = isinstance(value, str)
            if not ok:
                raise EngineError(f"engine: fact {name} = {value!r} is not a valid {spec.type}", f"{name} = {value!r}")
            clean[name] = value
        return clean

    def run(self, facts: dict, *, validated: bool = False) -> list[Firing]:
        """Fire the rule book on one scenario's facts; firings sorted by ruleset and priority.

        ``validated``: the facts come from ``validate`` already (the decision keeps them)."""
        if not validated:
            facts = self.validate(facts)
        with _LOCK:
            self._firings, self._derived, self._facts, self._error, self._fired = [], set(), dict(facts), None, set()
            for rs in self.book.rulesets:
                self._run_ruleset(rs.name, facts)
            firings = self._firings
        order = {rs.name: i for i, rs in enumerate(self.book.rulesets)}
        return sorted(firings, key=lambda f: (order[f.ruleset], f.order))

    def _run_ruleset(self, ruleset: str, facts: dict) -> None:
        name = self._names[ruleset]
        sid = str(next(_SIDS))
        fact = {"sid": sid, KIND: _SCENARIO}
        fact.update({self._keys[f]: facts[f] for f in self._read[ruleset] if f in facts})
        deletable = True
        try:
            for derived in sorted(self._derived):  # flags from earlier rulesets
                self._assert(name, {"sid": sid, KIND: _DERIVED, "name": derived})
            self._assert(name, fact)
            state = _HOST.get_state(name, sid)
            if self._error is not None or "exception" in state:
                cause = self._error or state.get("exception")
                raise EngineError(f"engine: an action of ruleset {ruleset} failed: {_first_line(cause)}")
        except durable.MessageNotHandledException:
            # Cannot happen while the catch-all rule exists; if it ever does, leaking this one
            # session is better than delete_state's segfault.
            deletable = False
            raise EngineError(f"engine: ruleset {ruleset} left a fact unhandled") from None
        finally:
            if deletable:
                _HOST.delete_state(name, sid)

    @staticmethod
    def _assert(name: str, fact: dict) -> None:
        try:
            _HOST.assert_fact(name, fact)
        except durable.MessageObservedException:
            pass  # the same derived flag again: flags are idempotent


def _ignore(_closure) -> None:
    """The catch-all rule's action: it exists only so that every fact is handled."""


def _split_derived(cond: Condition) -> tuple[list[str], Optional[Condition]]:
    """Derived flags read at the top level of ``when`` (each a pattern of its own), and the rest."""
    items = list(_flatten(cond))
    derived = [c.fact[len(DERIVED):] for c in items if isinstance(c, Compare) and c.fact.startswith(DERIVED)]
    rest = [c for c in items if not (isinstance(c, Compare) and c.fact.startswith(DERIVED))]
    return derived, (All(tuple(rest)) if rest else None)


def _flatten(cond: Condition):
    if isinstance(cond, All):
        for item in cond.items:
            yield from _flatten(item)
    else:
        yield cond


def _first_line(cause) -> str:
    return str(cause).splitlines()[0][:300] if cause else "unknown error"
