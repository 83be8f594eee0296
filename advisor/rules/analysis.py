"""Static analysis of a rule book over its whole input space, as DMN verifiers do for decision tables.

For each ruleset, every fact its rules read takes each value that can change an outcome:
true/false for flags, each enum value, both sides of (and exactly on) every number a rule
compares with, and "absent" for optional facts; derived flags are present or absent. Over the
product of those values we find gaps (no rule of a first-hit ruleset matches), rules that never
match, rules that never win (a higher-priority rule always matches too) and overlaps.
The space is over-approximated: facts vary independently, even where scenarios tie them.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

from .evaluator import holds
from .schema import FactSpec
from .language import DERIVED, RuleBook, Ruleset, facts_of, leaves
from .loader import Problem

ABSENT = object()
MAX_POINTS = 200_000


@dataclass
class Report:
    problems: list  # Problem
    points: dict  # ruleset -> number of input points examined
    overlaps: dict  # ruleset -> [(rule_a, rule_b, example facts)]


def _values(name: str, ruleset: Ruleset, schema: dict[str, FactSpec]) -> list:
    if name.startswith(DERIVED):
        return [True, ABSENT]
    spec = schema[name]
    literals = [leaf.value for rule in ruleset.rules for leaf in leaves(rule.when) if leaf.fact == name]
    if spec.type == "bool":
        values = [True, False]
    elif spec.type == "enum":
        values = list(spec.values)
    elif spec.type == "number":
        cuts = sorted({float(v) for lit in literals for v in (lit if isinstance(lit, tuple) else (lit,))
                       if isinstance(v, (int, float)) and not isinstance(v, bool)})
        values = sorted({x for c in cuts for x in (c - max(abs(c) * 1e-6, 1e-9), c, c + max(abs(c) * 1e-6, 1e-9))}) or [0.0]
    else:
        strings = [v for lit in literals for v in (lit if isinstance(lit, tuple) else (lit,)) if isinstance(v, str)]
        values = sorted(set(strings)) + ["(another value)"]
    return values + ([ABSENT] if spec.optional else [])


def _points(ruleset: Ruleset, schema: dict[str, FactSpec]):
    names = sorted({f for rule in ruleset.rules for f in facts_of(rule.when)})
    domains = [_values(n, ruleset, schema) for n in names]
    total = 1
    for d in domains:
        total *= len(d)
    if total <= MAX_POINTS:
        combos = itertools.product(*domains)
    else:  # too many: a fixed-seed sample keeps the report reproducible
        rng = random.Random(0)
        combos = (tuple(rng.choice(d) for d in domains) for _ in range(MAX_POINTS))
    for combo in combos:
        yield {n: v for n, v in zip(names, combo) if v is not ABSENT}


def analyse(book: RuleBook, schema: dict[str, FactSpec]) -> Report:
    problems: list[Problem] = []
    counts: dict = {}
    overlaps: dict = {}
    for rs in book.rulesets:
        matches = {r.id: 0 for r in rs.rules}
        wins = {r.id: 0 for r in rs.rules}
        pairs: dict = {}
        gap = None
        n = 0
        for point in _points(rs, schema):
            n += 1
            hit = [r.id for r in rs.rules if holds(r.when, point)]
            for rid in hit:
                matches[rid] += 1
            if hit:
                wins[hit[0]] += 1
            elif gap is None:
                gap = point
            if rs.hit_policy == "first":
                for a, b in itertools.combinations(hit, 2):
                    pairs.setdefault((a, b), point)
        counts[rs.name] = n
        overlaps[rs.name] = [(a, b, ex) for (a, b), ex in pairs.items()]
        for rule in rs.rules:
            if matches[rule.id] == 0:
                problems.append(Problem(rule.file, rule.line, f"{rule.id} can never match (no input satisfies its condition)"))
            elif rs.hit_policy == "first" and wins[rule.id] == 0:
                masked_by = sorted({a for (a, b) in pairs if b == rule.id})
                problems.append(Problem(rule.file, rule.line, f"{rule.id} can never win: whenever it matches, {', '.join(masked_by)} matches first"))
        if rs.hit_policy == "first" and gap is not None:
            problems.append(Problem(rs.file, None, f"ruleset {rs.name} has a gap: no rule matches {_describe(gap)}"))
    return Report(problems, counts, overlaps)


def _describe(point: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(point.items())) or "a scenario with none of its facts"
