"""The durable-rules wrapper: agreement with the reference evaluator, and each pitfall contained.

The pitfalls are those measured in shared/notes/durable-rules.md; each test below fails on a
wrapper that does not contain its pitfall (several would crash or hang the process, so those run
in a subprocess with a timeout).
"""

import hashlib
import os
import subprocess
import sys
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.rules import engine, evaluator
from advisor.decide.decision import Advisor
from advisor.rules.schema import FactSpec
from advisor.rules.language import DERIVED, All, AnyOf, Compare, Not, Rule, RuleBook, Ruleset, Then, facts_of, leaves

SLOW = settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def shipped():
    advisor = Advisor()
    advisor.whole = engine.for_book(advisor.book, advisor.schema)  # both stages in one engine: facts give general.*
    return advisor


def _same(engine_firings, reference_firings):
    """Every fired rule, in order, with the facts it matched and what it asserted."""
    def key(f):
        return (f.ruleset, f.rule, f.order, tuple(sorted(f.matched.items())), f.asserted)
    assert [key(f) for f in engine_firings] == [key(f) for f in reference_firings]


# --- differential: the shipped rules --------------------------------------------------------------


def _interesting_numbers(book, name):
    """Each threshold a rule compares `name` with, and values just below, on and above it."""
    cuts = {float(v) for leaf in (l for r in book.rules for l in leaves(r.when)) if leaf.fact == name
            for v in (leaf.value if isinstance(leaf.value, tuple) else (leaf.value,))
            if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return sorted({x for c in cuts for x in (c - 1e-3, c, c + 1e-3)} | {0.0, 0.35, 1.0, 3.0, 12.5})


@st.composite
def shipped_facts(draw, advisor):
    """A random scenario as the rules see it: each fact read is absent or takes a valid value."""
    facts = {}
    for name in sorted({f for r in advisor.book.rules for f in facts_of(r.when) if not f.startswith(DERIVED)}):
        spec = advisor.schema[name]
        if spec.optional and draw(st.booleans()):
            continue
        if spec.type == "bool":
            facts[name] = draw(st.booleans())
        elif spec.type == "enum":
            facts[name] = draw(st.sampled_from(spec.values))
        elif spec.type == "number":
            facts[name] = draw(st.one_of(
                st.sampled_from(_interesting_numbers(advisor.book, name)),
                st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)))
        else:
            facts[name] = draw(st.text(max_size=8))
    return advisor.whole.validate(facts)


@SLOW
@given(data=st.data())
def test_engine_and_evaluator_agree_on_the_shipped_rules(shipped, data):
    facts = data.draw(shipped_facts(shipped))
    _same(shipped.whole.run(facts), evaluator.run(shipped.book, facts))


AT_SCALE = int(os.environ.get("ADVISOR_DIFFERENTIAL_EXAMPLES", "0"))


@pytest.mark.skipif(not AT_SCALE, reason="opt-in: `make bench` runs it with ADVISOR_DIFFERENTIAL_EXAMPLES=100000")
@settings(max_examples=max(AT_SCALE, 1), deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(data=st.data())
def test_engine_and_evaluator_agree_at_scale(shipped, data):
    facts = data.draw(shipped_facts(shipped))
    _same(shipped.whole.run(facts), evaluator.run(shipped.book, facts))


# --- differential: random rule books, to exercise every operator under all / any / not -------------

SCHEMA = {
    "context.flag": FactSpec("context.flag", "bool", "a flag"),
    "context.x": FactSpec("context.x", "number", "a number"),
    "context.level": FactSpec("context.level", "enum", "an enum", values=("low", "mid", "high")),
    "workload.model": FactSpec("workload.model", "string", "a string"),
}
NUMBERS = [0.0, 0.5, 1.0, 2.0]
LITERALS = {"context.flag": [True, False], "context.x": NUMBERS, "context.level": ["low", "mid", "high"],
            "workload.model": ["a", "b"]}


@st.composite
def comparisons(draw):
    name = draw(st.sampled_from(sorted(SCHEMA)))
    ops = ["eq", "ne", "in", "exists"] + (["lt", "le", "gt", "ge"] if SCHEMA[name].type == "number" else [])
    op = draw(st.sampled_from(ops))
    if op == "exists":
        return Compare(name, op, draw(st.booleans()))
    if op == "in":
        return Compare(name, op, tuple(draw(st.lists(st.sampled_from(LITERALS[name]), min_size=1, max_size=3, unique=True))))
    return Compare(name, op, draw(st.sampled_from(LITERALS[name])))


conditions = st.recursive(
    comparisons(),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda xs: All(tuple(xs))),
        st.lists(inner, max_size=3).map(lambda xs: AnyOf(tuple(xs))),
        inner.map(Not)),
    max_leaves=6)


def _rule(rule_id, order, when, asserts=()):
    return Rule(rule_id, rule_id, "test", "random", order, when, Then(asserts=tuple(asserts)), "random.yaml", order + 1)


@st.composite
def books(draw):
    """Up to four rules; the first asserts a flag that the last may read (chaining)."""
    whens = draw(st.lists(conditions, min_size=1, max_size=4))
    rules = [_rule(f"r{i}", i, w, ["seen"] if i == 0 else []) for i, w in enumerate(whens)]
    if draw(st.booleans()):
        rules.append(_rule("reads-seen", len(rules), All((Compare(DERIVED + "seen", "exists", True), draw(conditions)))))
    digest = hashlib.sha256(repr(rules).encode()).hexdigest()
    return RuleBook((Ruleset("random", "t", "s", "collect", 1, {}, tuple(rules), "random.yaml"),), digest, "random")


points = st.fixed_dictionaries({}, optional={
    "context.flag": st.booleans(), "context.x": st.sampled_from(NUMBERS + [0.25, 1.5, 3.0]),
    "context.level": st.sampled_from(["low", "mid", "high"]), "workload.model": st.sampled_from(["a", "b", "c"])})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=books(), facts=st.lists(points, min_size=1, max_size=10))
def test_engine_and_evaluator_agree_on_random_rule_books(book, facts):
    eng = engine.for_book(book, SCHEMA)
    for point in facts:
        _same(eng.run(point), evaluator.run(book, point))


# --- pitfalls ------------------------------------------------------------------------------------


def _book(*rules, name="pitfall"):
    digest = hashlib.sha256((name + repr(rules)).encode()).hexdigest()
    rules = tuple(Rule(r.id, r.title, r.source, name, r.order, r.when, r.then, r.file, r.line) for r in rules)
    return RuleBook((Ruleset(name, "t", "s", "collect", 1, {}, rules, f"{name}.yaml"),), digest, name)


def test_an_error_inside_an_action_is_raised_not_swallowed(monkeypatch):
    eng = engine.for_book(_book(_rule("any-flag", 0, Compare("context.flag", "exists", True)), name="action_error"), SCHEMA)

    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom in the action")

    monkeypatch.setattr(engine, "Firing", broken)  # the action builds a Firing: make that fail
    with pytest.raises(engine.EngineError, match="boom in the action"):
        eng.run({"context.flag": True})
    monkeypatch.undo()
    assert [f.rule for f in eng.run({"context.flag": True})] == ["any-flag"]  # and the engine goes on


def test_sessions_are_deleted_even_when_no_rule_matches():
    """Beyond durable's 1,024 live sessions per ruleset; facts that match nothing included
    (deleting such a session segfaulted before the catch-all rule), so this runs in a subprocess."""
    script = textwrap.dedent("""
        import hashlib
        from advisor.rules import engine
        from advisor.decide.decision import Advisor
        a = Advisor()
        for i in range(3000):
            facts = {"context.starting_fresh": False, "context.have_a100_fleet": False,
                     "context.can_use_spot": False, "context.using_fp8": False,
                     "workload.precision": "int4", "plan.a100-80gb.replicas": float(i % 3)}
            a.engine.run(facts)
        rs = a.book.rulesets[0]
        name = a.engine._names[rs.name]
        sid = str(next(engine._SIDS) - 1)
        try:
            engine._HOST.get_state(name, sid)
        except Exception:
            print("deleted")
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "deleted"


def test_values_are_validated_before_they_are_asserted(shipped):
    # durable compares mixed types as strings ("5" > 10 is true) and True == 1: refuse them.
    for bad in ({"context.utilization": "0.5"}, {"context.using_fp8": 1}, {"context.utilization": True},
                {"context.utilization": float("nan")}, {"context.utilization": float("inf")},
                {"context.stage": "prod"}, {"context.utilisation": 0.5}, {"context.utilization": 1e300}):
        with pytest.raises(engine.EngineError):
            shipped.whole.run(bad)
    # durable's parser fails on "1e-30": magnitudes below 1e-4 are taken as 0; absent is not null.
    assert shipped.whole.validate({"context.utilization": 1e-30, "context.stage": None}) == {"context.utilization": 0.0}


def test_no_pattern_can_match_the_session_state():
    """A pattern made only of $nex would match durable's state object and never return."""
    script = textwrap.dedent("""
        import hashlib
        from advisor.rules import engine
        from advisor.rules.language import All, Compare, Not, Rule, RuleBook, Ruleset, Then
        from test_engine import SCHEMA, _book, _rule
        book = _book(_rule("absent", 0, Compare("context.x", "exists", False)),
                     _rule("always", 1, All(())),
                     _rule("not-flag", 2, Not(Compare("context.flag", "exists", True))), name="state_loop")
        eng = engine.for_book(book, SCHEMA)
        print(sorted(f.rule for f in eng.run({})))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          cwd=str(__import__("pathlib").Path(__file__).parent))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "['absent', 'always', 'not-flag']"


def test_every_compiled_pattern_checks_the_fact_kind(shipped):
    for rs in shipped.book.rulesets:
        for rule in rs.rules:
            for pattern in shipped.whole._compile_rule(rule)["all"]:
                (expr,) = pattern.values()
                assert {engine.KIND: "scenario"} in expr["$and"] or {engine.KIND: "derived"} in expr["$and"], rule.id


def test_the_same_derived_fact_from_two_rules_is_fine():
    book = _book(_rule("first", 0, Compare("context.flag", "eq", True), ["busy"]),
                 _rule("second", 1, Compare("context.x", "gt", 1.0), ["busy"]),
                 _rule("reader", 2, Compare(DERIVED + "busy", "exists", True)), name="same_derived")
    eng = engine.for_book(book, SCHEMA)
    assert [f.rule for f in eng.run({"context.flag": True, "context.x": 2.0})] == ["first", "second", "reader"]
    assert [f.rule for f in eng.run({"context.flag": False, "context.x": 2.0})] == ["second", "reader"]
    assert [f.rule for f in eng.run({"context.flag": False})] == []


def test_a_rule_with_any_fires_once_when_several_branches_match():
    book = _book(_rule("either", 0, AnyOf((Compare("context.flag", "eq", True), Compare("context.x", "ge", 0.0)))),
                 name="any_once")
    assert [f.rule for f in engine.for_book(book, SCHEMA).run({"context.flag": True, "context.x": 1.0})] == ["either"]


def test_a_revision_is_registered_once_and_two_revisions_coexist():
    a = _book(_rule("r", 0, Compare("context.flag", "eq", True)), name="coexist")
    b = _book(_rule("r", 0, Compare("context.flag", "eq", False)), name="coexist")
    assert engine.for_book(a, SCHEMA) is engine.for_book(a, SCHEMA)
    assert [f.rule for f in engine.for_book(a, SCHEMA).run({"context.flag": True})] == ["r"]
    assert [f.rule for f in engine.for_book(b, SCHEMA).run({"context.flag": True})] == []
