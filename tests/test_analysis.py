"""`rules check`'s analysis is exhaustive: held against brute-force enumeration on random rule books,
and on the books a sample of the input space misses (the analysis sampled 200,000 random points
when the product of the facts' values was larger, and took values 1e-6 either side of a threshold)."""

from __future__ import annotations

import hashlib
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.rules import analysis, evaluator
from advisor.rules.language import DERIVED, All, AnyOf, Compare, Not, Rule, RuleBook, Ruleset, Then, facts_of, leaves
from advisor.rules.schema import FactSpec
from test_engine import SCHEMA, conditions

ABSENT = object()


def _first_hit(*whens, schema_facts=None):
    rules = tuple(Rule(f"r{i}", f"r{i}", "test", "pick", i + 1, w, Then(outcome={"id": f"o{i}", "text": "t", "gpu": "g"}),
                       "pick.yaml", i + 1) for i, w in enumerate(whens))
    rs = Ruleset("pick", "t", "s", "first", 1, {}, rules, "pick.yaml")
    return RuleBook((rs,), hashlib.sha256(repr(rules).encode()).hexdigest(), "pick")


def _representatives(name: str, rules, schema) -> list:
    """Worked out apart from the analysis: each literal, a value between and beyond them, absent."""
    if name.startswith(DERIVED):
        return [True, ABSENT]
    spec = schema[name]
    literals = [v for r in rules for leaf in leaves(r.when) if leaf.fact == name and leaf.op != "exists"
                for v in (leaf.value if isinstance(leaf.value, tuple) else (leaf.value,))]
    if spec.type == "bool":
        values = [True, False]
    elif spec.type == "enum":
        values = list(spec.values)
    elif spec.type == "number":
        cuts = sorted(set(literals))
        values = cuts + [(a + b) / 2 for a, b in zip(cuts, cuts[1:])] + ([cuts[0] - 1, cuts[-1] + 1] if cuts else [0.0])
    else:
        values = sorted(set(literals)) + ["(a value no rule names)"]
    return values + [ABSENT]


def _brute_force(book, schema) -> dict:
    """never-match, never-win and gap of a first-hit ruleset, by enumerating every combination."""
    (rs,) = book.rulesets
    names = sorted({f for r in rs.rules for f in facts_of(r.when)})
    matched, won, gap = set(), set(), False
    for combo in itertools.product(*[_representatives(n, rs.rules, schema) for n in names]):
        point = {n: v for n, v in zip(names, combo) if v is not ABSENT}
        hits = [r.id for r in rs.rules if evaluator.holds(r.when, point)]
        matched |= set(hits)
        won |= set(hits[:1])
        gap = gap or not hits
    ids = [r.id for r in rs.rules]
    return {"never": {i for i in ids if i not in matched}, "masked": {i for i in ids if i in matched and i not in won}, "gap": gap}


def _found(report) -> dict:
    messages = [p.message for p in report.problems]
    return {"never": {m.split()[0] for m in messages if "can never match" in m},
            "masked": {m.split()[0] for m in messages if "can never win" in m},
            "gap": any("has a gap" in m for m in messages)}


@settings(max_examples=400, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(whens=st.lists(conditions, min_size=1, max_size=6), reader=st.booleans())
def test_the_analysis_agrees_with_brute_force_enumeration(whens, reader):
    if reader:  # a derived flag: the analysis takes it as free, present or absent
        whens = whens + [All((Compare(DERIVED + "seen", "exists", True), whens[0]))]
    book = _first_hit(*whens)
    report = analysis.analyse(book, SCHEMA)
    assert _found(report) == _brute_force(book, SCHEMA)
    for a, b, example in report.overlaps["pick"]:  # each overlap comes with a point where both match
        rules = {r.id: r for r in book.rules}
        assert evaluator.holds(rules[a].when, example) and evaluator.holds(rules[b].when, example)


BOOLS = {f"context.b{i}": FactSpec(f"context.b{i}", "bool", "a flag") for i in range(14)}


def test_a_gap_at_one_combination_of_fourteen_flags_is_found():
    """3^14 = 4.8 million combinations: a sample of 200,000 found this gap with odds of 1 in 24."""
    book = _first_hit(*[Not(Compare(name, "eq", True)) for name in sorted(BOOLS)])
    problems = [p.message for p in analysis.analyse(book, BOOLS).problems]
    assert problems == ["ruleset pick has a gap: no rule matches " + ", ".join(f"{n}=True" for n in sorted(BOOLS))]


def test_a_rule_masked_only_on_one_combination_is_not_reported_as_masked():
    """r14 wins only where all fourteen flags are true; everywhere else a rule above it matches."""
    whens = [Not(Compare(name, "eq", True)) for name in sorted(BOOLS)] + [All(())]
    report = analysis.analyse(_first_hit(*whens), BOOLS)
    assert report.problems == []
    masked = analysis.analyse(_first_hit(*whens[:-1], All(()), All(())), BOOLS)
    assert [p.message for p in masked.problems] == [f"r15 can never win: whenever it matches, {', '.join(f'r{i}' for i in range(15))} "
                                                    "matches first"]


def test_a_gap_between_thresholds_closer_than_a_millionth_is_found():
    """Values were taken 1e-6 either side of each threshold: a gap narrower than that was missed."""
    x = {"context.x": FactSpec("context.x", "number", "a number", optional=False)}
    book = _first_hit(Compare("context.x", "le", 1.0), Compare("context.x", "ge", 1.0000000001))
    assert [p.message for p in analysis.analyse(book, x).problems] == ["ruleset pick has a gap: no rule matches context.x=1.00000000001"]
    closed = _first_hit(Compare("context.x", "le", 1.0), Compare("context.x", "gt", 1.0))
    assert analysis.analyse(closed, x).problems == []


def test_the_input_space_is_counted_in_cells():
    # context.x: (-inf, 0.5), {0.5}, (0.5, 1), {1}, (1, inf), absent; context.flag: true, false, absent
    book = _first_hit(Compare("context.x", "lt", 0.5), Compare("context.x", "ge", 1.0), Compare("context.flag", "eq", True), All(()))
    assert analysis.analyse(book, SCHEMA).points == {"pick": 6 * 3}


def test_a_book_too_large_to_analyse_gets_a_bound_and_a_message():
    """Whether no rule matches is satisfiability of a formula in general: past the bound, say so."""
    import random

    rng = random.Random(4)
    flags = {f"context.v{i}": FactSpec(f"context.v{i}", "bool", "a flag", optional=False) for i in range(40)}
    whens = [All(tuple(Compare(f"context.v{v}", "eq", rng.random() < 0.5) for v in rng.sample(range(40), 3))) for _ in range(170)]
    report = analysis.analyse(_first_hit(*whens), flags, max_steps=20_000)
    messages = [p.message for p in report.problems if "stopped" in p.message]
    assert messages and messages[-1] == (
        "ruleset pick: the analysis stopped after 20,000 steps without telling whether a scenario can match none of its "
        "rules (too many rules or alternatives to analyse exactly); a last rule with `when: always` settles it")
    assert all(p.severity == "error" for p in report.problems if "stopped" in p.message)
    settled = analysis.analyse(_first_hit(*whens, All(())), flags, max_steps=20_000)
    assert not any("gap" in p.message or "can match none" in p.message for p in settled.problems)


@pytest.mark.parametrize("rules", [1000, 10000])
def test_large_rule_books_are_analysed(rules):
    """Collect rulesets of 1,000 and 10,000 threshold rules, and a first-hit ruleset ending in
    `always`: no problem, and the cells are counted exactly (2 per threshold, plus one, plus absent)."""
    collect = tuple(Rule(f"c{i}", "t", "s", "many", i + 1, Compare("context.x", "gt", i / 10), Then(advantage={}), "many.yaml", i)
                    for i in range(rules))
    pick = _first_hit(AnyOf(tuple(Compare("context.x", "eq", float(i)) for i in range(50))), All(()))
    book = RuleBook((Ruleset("many", "t", "s", "collect", 0, {}, collect, "many.yaml"),) + pick.rulesets, "rev", "big")
    report = analysis.analyse(book, SCHEMA)
    assert report.problems == []
    assert report.points["many"] == 2 * rules + 1 + 1
