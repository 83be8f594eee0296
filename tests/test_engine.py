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
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hyp_seed
from hypothesis import strategies as st

from advisor.rules import engine, evaluator
from advisor.decide.decision import Advisor
from advisor.rules.schema import FactSpec
from advisor.rules.language import DERIVED, All, AnyOf, Compare, Not, Rule, RuleBook, Ruleset, Then, facts_of, leaves

HERE = Path(__file__).parent
SLOW = settings(max_examples=3000, deadline=None, database=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


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
STRINGS = ["a", "b", 'q"u\\o', "\u00e9t\u00e9"]  # quotes, a backslash and non-ASCII go through the core's JSON
LITERALS = {"context.flag": [True, False], "context.x": NUMBERS, "context.level": ["low", "mid", "high"],
            "workload.model": STRINGS}
FLAGS = ["seen", "busy"]


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


def _rule(rule_id, order, when, asserts=(), ruleset="random"):
    return Rule(rule_id, rule_id, "test", ruleset, order, when, Then(asserts=tuple(asserts)), f"{ruleset}.yaml", order + 1)


@st.composite
def books(draw):
    """One to three rulesets of a few rules; rules assert flags that rules of the same, an earlier or a
    later ruleset read (a reader never sees a later ruleset's flag); now and then a wide `any`
    (14 to 40 comparisons) or a block of 70 to 130 rules on one fact, so that the compiler splits."""
    rulesets = []
    for k in range(draw(st.integers(1, 3))):
        name = f"rs{k}"
        rules = [_rule(f"{name}-r{i}", i, w, draw(st.lists(st.sampled_from(FLAGS), max_size=2, unique=True)), name)
                 for i, w in enumerate(draw(st.lists(conditions, min_size=1, max_size=4)))]
        for flag in draw(st.lists(st.sampled_from(FLAGS), max_size=2, unique=True)):
            rules.append(_rule(f"{name}-reads-{flag}", len(rules), All((Compare(DERIVED + flag, "exists", True), draw(conditions))),
                               ruleset=name))
        if draw(st.integers(0, 9)) == 0:
            wide = draw(st.lists(comparisons(), min_size=14, max_size=40))
            rules.append(_rule(f"{name}-wide", len(rules), AnyOf(tuple(wide)) if draw(st.booleans()) else Not(All(tuple(wide))),
                               ruleset=name))
        if draw(st.integers(0, 9)) == 0:
            op = draw(st.sampled_from(["gt", "ge", "lt", "le", "ne"]))
            for i in range(draw(st.integers(70, 130))):
                rules.append(_rule(f"{name}-many{i}", len(rules), Compare("context.x", op, i / 50), ruleset=name))
        rulesets.append(Ruleset(name, "t", "s", "collect", k, {}, tuple(rules), f"{name}.yaml"))
    digest = hashlib.sha256(repr(rulesets).encode()).hexdigest()
    return RuleBook(tuple(rulesets), digest, "random")


points = st.fixed_dictionaries({}, optional={
    "context.flag": st.booleans(), "context.x": st.sampled_from(NUMBERS + [0.25, 1.5, 3.0] + [i / 50 for i in range(0, 140, 7)]),
    "context.level": st.sampled_from(["low", "mid", "high"]), "workload.model": st.sampled_from(STRINGS + ["c"])})


def _random_books(seed: int, examples: int):
    """The random-book differential test with an explicit seed and no example database."""
    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @hyp_seed(seed)
    @given(book=books(), facts=st.lists(points, min_size=1, max_size=10))
    def check(book, facts):
        eng = engine.Engine(book, SCHEMA)
        try:
            for point in facts:
                _same(eng.run(point), evaluator.run(book, point))
        finally:
            eng.close()
    return check


@pytest.mark.parametrize("seed", range(1, 51))
def test_engine_and_evaluator_agree_on_random_rule_books(seed):
    """50 consecutive seeds, each with its own books: a failure names its seed and replays with it."""
    _random_books(seed, 12)()


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
    """Beyond durable's 1,024 live sessions per ruleset, with facts that match nothing, on a heap
    dirtied first: deleting a session in which no action ever ran frees the uninitialised action
    context of its pool slot (state.c:931) and segfaults, unless the warm-up session cleaned that
    slot (without it this script dies with SIGSEGV). So it runs in a subprocess."""
    script = textwrap.dedent("""
        from advisor.rules import engine
        from advisor.rules.language import Compare
        from test_engine import SCHEMA, _book, _rule
        junk = [b"\\xbe" * n for n in range(20000, 60000, 512)]
        del junk
        eng = engine.Engine(_book(_rule("flag", 0, Compare("context.flag", "eq", True)), name="unmatched"), SCHEMA)
        for i in range(3000):
            assert eng.run({} if i % 2 else {"context.x": 1.0}) == []
        assert [f.rule for f in eng.run({"context.flag": True})] == ["flag"]
        for compiled in eng._compiled:
            try:
                engine._core.get_state(compiled.handle, engine.SID)
            except engine._core.error:
                print("deleted")
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=str(HERE))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["deleted"]


def test_values_are_validated_before_they_are_asserted(shipped):
    # durable compares mixed types as strings ("5" > 10 is true) and True == 1: refuse them.
    for bad in ({"context.utilization": "0.5"}, {"context.using_fp8": 1}, {"context.utilization": True},
                {"context.utilization": float("nan")}, {"context.utilization": float("inf")},
                {"context.stage": "prod"}, {"context.utilisation": 0.5}, {"context.utilization": 1e300},
                {"workload.model": "x" * (engine.MAX_STRING + 1)}):
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
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=str(HERE))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "['absent', 'always', 'not-flag']"


def _patterns(eng):
    """(compiled ruleset, rule name, alias, expression) of every pattern the engine registered."""
    for i, definition in enumerate(eng._definitions()):
        for name, rule in definition.items():
            for pattern in rule["all"]:
                (alias, expr), = pattern.items()
                yield i, name, alias, expr


def test_every_compiled_pattern_checks_the_fact_kind(shipped):
    seen = 0
    for _i, name, alias, expr in _patterns(shipped.whole):
        tests = expr["$and"] if "$and" in expr else [expr]
        assert engine.KIND in tests[0] and tests[0][engine.KIND] in ("scenario", "derived", "$warmup"), (name, alias)
        seen += 1
    assert seen > len(shipped.book.rules)


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


# --- interruptions --------------------------------------------------------------------------------


def test_ctrl_c_inside_an_action_is_a_keyboard_interrupt(monkeypatch, capfd):
    """durable's Python layer caught it, logged a traceback and stored it in the session state; here
    it leaves the engine as it came, with nothing printed, and the sessions are cleaned up."""
    book = _book(_rule("flag", 0, Compare("context.flag", "eq", True), ["busy"]),
                 _rule("reader", 1, Compare(DERIVED + "busy", "exists", True)), name="ctrl_c")
    eng = engine.Engine(book, SCHEMA)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "Firing", interrupted)
    with pytest.raises(KeyboardInterrupt):
        eng.run({"context.flag": True})
    monkeypatch.undo()
    assert capfd.readouterr() == ("", "")
    assert [f.rule for f in eng.run({"context.flag": True})] == ["flag", "reader"]
    assert [f.rule for f in eng.run({"context.flag": False})] == []
    eng.close()


def test_ctrl_c_inside_an_action_exits_130_with_one_line():
    script = textwrap.dedent("""
        import sys
        from advisor.rules import engine
        def interrupted(*args, **kwargs):
            raise KeyboardInterrupt
        engine.Firing = interrupted
        from advisor.cli import main
        sys.exit(main(["run", sys.argv[1], "--no-audit"]))
    """)
    proc = subprocess.run([sys.executable, "-c", script, str(HERE.parent / "scenarios" / "spot.yaml")],
                          capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stderr) == (130, "advisor: interrupted\n")


def test_a_run_interrupted_while_cleaning_up_cleans_up_at_the_next_run(monkeypatch):
    """Sessions left behind would take the next scenario's facts on top of the old ones."""
    book = _book(_rule("flag", 0, Compare("context.flag", "eq", True)),
                 _rule("big", 1, Compare("context.x", "gt", 1.0)), name="interrupted_cleanup")
    eng = engine.Engine(book, SCHEMA)
    real = engine._core.delete_state

    def interrupted(handle, sid):
        monkeypatch.setattr(engine._core, "delete_state", real)
        raise KeyboardInterrupt

    monkeypatch.setattr(engine._core, "delete_state", interrupted)
    with pytest.raises(KeyboardInterrupt):
        eng.run({"context.flag": True})
    assert [f.rule for f in eng.run({"context.x": 2.0})] == ["big"]
    assert [f.rule for f in eng.run({})] == []
    eng.close()


def test_a_closed_engine_refuses_to_run():
    eng = engine.Engine(_book(_rule("flag", 0, Compare("context.flag", "eq", True)), name="closed"), SCHEMA)
    eng.close()
    with pytest.raises(engine.EngineError, match="closed"):
        eng.run({"context.flag": True})


# --- the C core's limits --------------------------------------------------------------------------


def _in_subprocess(body: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run a script that may crash or hang the process (it did before these limits were contained)."""
    script = "from advisor.rules import engine, evaluator\nfrom advisor.rules.language import *\n" \
             "from test_engine import SCHEMA, _book, _rule, _same\n" + textwrap.dedent(body)
    try:
        return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout, cwd=str(HERE))
    except subprocess.TimeoutExpired:
        pytest.fail(f"hung for {timeout} s")


def test_the_core_limits_the_compiler_relies_on():
    """MAX_STACK_SIZE 64 (events.c:18), measured on the core itself: 64 tests matching under one test
    are fine, 65 fail with error 303. The compiler keeps every compiled ruleset at PATHS <= 64."""
    proc = _in_subprocess("""
        import json
        for n in (64, 65):
            rules = {f"r{i}": {"all": [{"s": {"$and": [{"kind": "s"}, {"$gt": {"x": i}}]}}]} for i in range(n)}
            rules["w"] = {"all": [{"w": {"kind": "w"}}]}
            h = engine._core.create_ruleset(f"limit{n}", json.dumps(rules))
            engine._core.assert_fact(h, '{"sid":"1","id":"w","kind":"w"}')
            r = engine._core.start_action_for_state(h, 1)
            while r:
                r = engine._core.complete_and_start_action(h, 1)
            engine._core.delete_state(h, "1")
            try:
                code, offset = engine._core.assert_fact(h, '{"sid":"1","id":"s","kind":"s","x":1000}')
                fired = 0
                r = engine._core.start_action_for_state(h, offset)
                while r:
                    fired += 1
                    r = engine._core.complete_and_start_action(h, offset)
                print(n, fired)
            except engine._core.error as exc:
                print(n, str(exc))
            engine._core.delete_state(h, "1")
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines() == ["64 64", "65 Could not assert fact, error code: 303"]
    assert engine.PATHS <= engine.MAX_STACK_SIZE == 64


def test_a_hundred_rules_firing_on_one_fact():
    """Issue 9: 64 or more rules of one ruleset firing on one fact aborted the process (SIGABRT)
    or, after other scenarios, failed with error 303."""
    proc = _in_subprocess("""
        rules = [_rule(f"wait-{i}", i, Compare("context.x", "gt", i / 10 + 0.1)) for i in range(100)]
        book = _book(*rules, name="hundred")
        eng = engine.for_book(book, SCHEMA)
        for x in (0.0, 10.0, 5.05, 10.0, 0.15, 100.0):
            firings = eng.run({"context.x": x})
            _same(firings, evaluator.run(book, {"context.x": x}))
            print(len(firings))
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["0", "99", "50", "99", "1", "100"]


@pytest.mark.parametrize("rules, rulesets", [(512, 1), (1000, 10)])
def test_many_rules_in_a_ruleset_compile_and_decide(rules, rulesets):
    """Issue 9: 512 rules in one ruleset (511 work) looped forever in create_ruleset, and so did
    10 rulesets of 1,000 rules: more than 511 tests under one test fill its hash table."""
    proc = _in_subprocess(f"""
        import hashlib
        sets = []
        for k in range({rulesets}):
            name = f"rs{{k}}"
            rules = tuple(_rule(f"{{name}}-{{i}}", i, Compare("context.x", ["gt", "eq", "le"][i % 3], float(i % 700)), ruleset=name)
                          for i in range({rules}))
            sets.append(Ruleset(name, "t", "s", "collect", k, {{}}, rules, name + ".yaml"))
        book = RuleBook(tuple(sets), hashlib.sha256(repr(sets).encode()).hexdigest(), "many")
        eng = engine.for_book(book, SCHEMA)
        for x in (0.0, 3.0, 350.0, 699.0, 1000.0):
            firings = eng.run({{"context.x": x}})
            _same(firings, evaluator.run(book, {{"context.x": x}}))
            print(len(firings))
    """, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # worked out: rule i fires on x when x > i%700 (i%3 == 0), x == i%700 (1) or x <= i%700 (2)
    def expected(x):
        return sum(1 for i in range(rules) for op, v in [(["gt", "eq", "le"][i % 3], float(i % 700))]
                   if (op == "gt" and x > v) or (op == "eq" and x == v) or (op == "le" and x <= v)) * rulesets
    assert [int(n) for n in proc.stdout.split()] == [expected(x) for x in (0.0, 3.0, 350.0, 699.0, 1000.0)]


def test_a_wide_any_compiles():
    """Issue 9: an `any` of 14 or more gt / ne comparisons failed with error 113
    (ERR_EXPRESSION_LIMIT_EXCEEDED): each comparison was wrapped in an `$and` with `$ex`."""
    for op in ("gt", "ne", "le"):
        wide = AnyOf(tuple(Compare("context.x", op, float(i)) for i in range(40)))
        negated = Not(All(tuple(Compare("context.x", op, float(i)) for i in range(40))))
        deep = Compare("context.flag", "eq", True)
        for i in range(20):  # 20 levels of all / any
            deep = (All if i % 2 else AnyOf)((deep, Compare("context.x", op, float(i))))
        book = _book(_rule("wide", 0, wide), _rule("negated", 1, negated), _rule("deep", 2, deep), name=f"wide_{op}")
        eng = engine.Engine(book, SCHEMA)
        for point in ({}, {"context.x": 0.0}, {"context.x": 20.0}, {"context.x": 39.0}, {"context.x": 100.0},
                      {"context.flag": True}, {"context.flag": True, "context.x": 5.0}):
            _same(eng.run(point), evaluator.run(book, point))
        eng.close()


def _slots(expr) -> int:
    """Expression slots of a pattern (rete.c: 2 per $and / $or, comparisons with constants none)."""
    if isinstance(expr, dict):
        return sum((2 if k in ("$and", "$or") else 0) + _slots(v) for k, v in expr.items())
    if isinstance(expr, list):
        return sum(_slots(v) for v in expr)
    return 0


def _paths(expr) -> int:
    """Root-to-rule paths of a pattern: a product over $and, a sum over $or."""
    if "$and" in expr:
        n = 1
        for item in expr["$and"]:
            n *= _paths(item)
        return n
    if "$or" in expr:
        return sum(_paths(item) for item in expr["$or"])
    return 1


@settings(max_examples=40, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(book=books())
def test_every_compiled_ruleset_stays_within_the_core_limits(book):
    """Counted on the JSON the core receives, not on the compiler's own accounting."""
    eng = engine.Engine(book, SCHEMA)
    try:
        for definition in eng._definitions():
            scenario = [expr for rule in definition.values() for p in rule["all"] for alias, expr in p.items() if alias == "s"]
            assert sum(_paths(e) for e in scenario) <= engine.PATHS
            assert len(definition) <= engine.PATHS + 1
            assert all(_slots(e) < engine.MAX_SEQUENCE_EXPRESSIONS for e in scenario)
            assert all(len(rule["all"]) <= engine.MAX_MESSAGE_FRAMES for rule in definition.values())
    finally:
        eng.close()


def _flag_reader(n: int, name: str):
    flags = [f"f{i}" for i in range(n)]
    rules = [_rule(f"set-{f}", i, Compare("context.flag", "eq", True), [f]) for i, f in enumerate(flags)]
    rules.append(_rule("reads-all", n, All(tuple(Compare(DERIVED + f, "exists", True) for f in flags))))
    return _book(*rules, name=name)


def test_a_rule_reading_too_many_derived_flags_is_refused_with_its_line():
    """MAX_MESSAGE_FRAMES 16 (state.h:23): a rule joining 17 facts fails with error 304 at assert."""
    book = _flag_reader(16, "too_many_flags")
    (problem,) = engine.check(book, SCHEMA)
    assert (problem.file, problem.line) == ("random.yaml", 17)
    assert "reads-all reads 16 derived facts; at most 15" in problem.message and "MAX_MESSAGE_FRAMES" in problem.message
    with pytest.raises(engine.DataError, match=r"invalid rules: random.yaml:17: reads-all reads 16 derived facts"):
        engine.for_book(book, SCHEMA)
    fifteen = _flag_reader(15, "fifteen_flags")  # 15 flags and the scenario: 16 facts, fine
    assert engine.check(fifteen, SCHEMA) == []
    eng = engine.Engine(fifteen, SCHEMA)
    _same(eng.run({"context.flag": True}), evaluator.run(fifteen, {"context.flag": True}))
    assert len(eng.run({"context.flag": True})) == 16
    eng.close()


def test_a_rule_with_too_many_alternatives_is_refused_with_its_line():
    # 13 `any`s of two facts each: 2 ** 13 = 8,192 alternatives, no two of them mergeable
    anys = [AnyOf((Compare("context.x", "ne", float(i)), Compare("workload.model", "ne", f"s{i}"))) for i in range(13)]
    book = _book(_rule("exploding", 0, All(tuple(anys))), name="exploding")
    (problem,) = engine.check(book, SCHEMA)
    assert problem.line == 1 and "exploding: its condition expands to more than 4,096 alternatives" in problem.message


def test_only_the_engine_imports_durable():
    """The engine drives durable's C core (durable_rules_engine) as well as durable; both stay in
    advisor/rules/engine.py (tests/test_architecture.py confines `durable` the same way)."""
    import ast

    package = HERE.parent / "advisor"
    importers = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            if any(n.split(".")[0] in ("durable", "durable_rules_engine") for n in names):
                importers.add(str(path.relative_to(package.parent)))
    assert importers == {"advisor/rules/engine.py"}
