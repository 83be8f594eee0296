"""Static analysis of a rule book over its whole input space, as DMN verifiers do for decision tables.

Exact, not a sample: each fact's domain is cut into cells at the values its ruleset's rules compare
it with (both sides of and exactly on every threshold, each enum value, each string a rule names
and "another value", true / false, "absent" for optional facts; derived flags present or absent),
and every condition becomes a union of boxes over those cells (``normal``). Facts vary
independently, so a rule can match exactly when one of its boxes is non-empty, and the questions
below are answered by subtracting boxes from boxes until a point is found or none is left:

- a rule that can never match: it has no box;
- a rule that can never win (first hit): its boxes minus the boxes of the rules above it are empty;
- a gap (first hit): the whole space minus every rule's boxes is not empty (with an example);
- overlaps (first hit): two rules whose boxes meet (with an example), resolved by priority.

The search is bounded (``MAX_STEPS`` box operations per question and ruleset); a rule book beyond
it gets a problem saying so, never a guess. The space is over-approximated: facts vary independently, even
where scenarios tie them (the engine's number range, one fact computed from another).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .language import Problem, RuleBook, Ruleset, facts_of
from .normal import MAX_ALTERNATIVES, Partition, TooManyAlternatives, boxes, meet, partitions, within
from .schema import FactSpec

#: Box operations each question about a ruleset (its gap; whether its rules can win; its overlaps)
#: may take: about a second each.
MAX_STEPS = 1_000_000


@dataclass
class Report:
    problems: list  # Problem
    points: dict  # ruleset -> number of input cells examined (combinations of its facts' cells)
    overlaps: dict  # ruleset -> [(rule_a, rule_b, example facts)], a before b


class _TooLarge(Exception):
    pass


class _Search:
    """Points of one box outside a list of boxes, by box subtraction, within a step budget."""

    def __init__(self, parts: dict[str, Partition], max_steps: int):
        self.parts = parts
        self.max_steps = max_steps
        self.steps = 0

    def step(self, n: int = 1) -> None:
        self.steps += n
        if self.steps > self.max_steps:
            raise _TooLarge()

    def outside(self, box: dict, covers: list[dict]) -> Optional[dict]:
        """A non-empty box inside ``box`` that meets none of ``covers``, or None when they cover it."""
        stack = [(box, covers)]
        while stack:
            box, covers = stack.pop()
            self.step(len(covers) + 1)
            relevant = [c for c in covers if meet(box, c) is not None]
            if not relevant:
                return box
            if any(within(box, c) for c in relevant):
                continue
            cut = min(relevant, key=len)  # the fewest facts: the fewest pieces
            rest = [c for c in relevant if c is not cut]
            prefix = dict(box)
            pieces = []
            for fact, m in cut.items():  # box minus cut: disjoint pieces, one per fact of cut
                part = self.parts[fact]
                current = prefix.get(fact, part.full)
                if current & part.full & ~m:
                    pieces.append((dict(prefix, **{fact: current & part.full & ~m}), rest))
                prefix[fact] = current & m
            stack += reversed(pieces)  # the first fact's piece is searched first
        return None


def analyse(book: RuleBook, schema: dict[str, FactSpec], max_steps: int = MAX_STEPS) -> Report:
    problems: list[Problem] = []
    counts: dict = {}
    overlaps: dict = {}
    for rs in book.rulesets:
        found, counts[rs.name], overlaps[rs.name] = _ruleset(rs, schema, max_steps)
        problems += found
    return Report(problems, counts, overlaps)


def gaps(book: RuleBook, schema: dict[str, FactSpec], max_steps: int = MAX_STEPS) -> list[Problem]:
    """The gaps of the book's first-hit rulesets (a scenario some first-hit ruleset decides nothing
    for), and a problem for a book with no first-hit ruleset: what a decision cannot run with."""
    firsts = [rs for rs in book.rulesets if rs.hit_policy == "first"]
    if not firsts:
        where = book.rulesets[-1].file if book.rulesets else book.directory
        return [Problem(where, None, "no first-hit ruleset: a rule book needs one (hit_policy: first) whose rules set "
                                              "the outcome, or every scenario would be decided without one")]
    problems = []
    for rs in firsts:
        parts = partitions(rs.rules, schema)
        try:
            covers = [box for rule in rs.rules for box in boxes(rule.when, parts)]
        except TooManyAlternatives:
            problems.append(_too_many(rs))
            continue
        problems += _gap(rs, parts, covers, max_steps)
    return problems


def _ruleset(rs: Ruleset, schema: dict[str, FactSpec], max_steps: int) -> tuple[list, int, list]:
    problems: list[Problem] = []
    parts = partitions(rs.rules, schema)
    names = sorted({f for rule in rs.rules for f in facts_of(rule.when)})
    points = 1
    for name in names:
        points *= parts[name].cell_count()
    of: dict[str, list] = {}
    for rule in rs.rules:
        try:
            of[rule.id] = boxes(rule.when, parts)
        except TooManyAlternatives:
            problems.append(Problem(rule.file, rule.line, f"{rule.id}: its condition expands to more than {MAX_ALTERNATIVES:,} "
                                                          f"alternatives; rules check cannot analyse ruleset {rs.name}"))
            return problems, points, []
    for rule in rs.rules:
        if not of[rule.id]:
            problems.append(Problem(rule.file, rule.line, f"{rule.id} can never match (no input satisfies its condition)"))
    if rs.hit_policy != "first":
        return problems, points, []
    pairs = _overlaps(rs, of, parts, max_steps)
    if pairs is None:
        problems.append(Problem(rs.file, None, f"ruleset {rs.name}: too many rules to list their overlaps within "
                                               f"{max_steps:,} steps of the analysis", "warning"))
        pairs = []
    earlier: list[dict] = []
    search: Optional[_Search] = _Search(parts, max_steps)  # one budget for all the "can it win" questions
    for rule in rs.rules:
        mine = of[rule.id]
        if mine and search is not None:
            try:
                wins = any(search.outside(box, earlier) is not None for box in mine)
            except _TooLarge:
                problems.append(Problem(rule.file, rule.line, (
                    f"{rule.id}: the analysis stopped after {max_steps:,} steps without telling whether it and the rules "
                    f"below it can win over the rules above them (too many rules or alternatives to analyse exactly)")))
                search, wins = None, True
            if not wins:
                masked_by = [a.id for a in rs.rules[:rule.order - 1] if any(
                    meet(x, y) is not None for x in of[a.id] for y in mine)]
                problems.append(Problem(rule.file, rule.line, f"{rule.id} can never win: whenever it matches, "
                                                              f"{', '.join(masked_by)} matches first"))
        earlier += mine
    problems += _gap(rs, parts, earlier, max_steps)
    return problems, points, pairs


def _gap(rs: Ruleset, parts: dict[str, Partition], covers: list[dict], max_steps: int) -> list[Problem]:
    try:
        gap = _Search(parts, max_steps).outside({}, covers)
    except _TooLarge:
        return [Problem(rs.file, None, (
            f"ruleset {rs.name}: the analysis stopped after {max_steps:,} steps without telling whether a scenario "
            f"can match none of its rules (too many rules or alternatives to analyse exactly); a last rule with "
            f"`when: always` settles it"))]
    if gap is None:
        return []
    return [Problem(rs.file, None, f"ruleset {rs.name} has a gap: no rule matches {_describe(_example(gap, rs, parts))}")]


def _overlaps(rs: Ruleset, of: dict, parts: dict, max_steps: int) -> Optional[list]:
    """Every pair of rules that can both match, a before b, with an example; None past the budget."""
    pairs = []
    steps = 0
    rules = [r for r in rs.rules if of[r.id]]
    for i, a in enumerate(rules):
        for b in rules[i + 1:]:
            steps += len(of[a.id]) * len(of[b.id])
            if steps > max_steps:
                return None
            both = next((m for x in of[a.id] for y in of[b.id] if (m := meet(x, y)) is not None), None)
            if both is not None:
                pairs.append((a.id, b.id, _example(both, rs, parts)))
    return pairs


def _example(box: dict, rs: Ruleset, parts: dict[str, Partition]) -> dict:
    """One point of ``box``: each fact of the ruleset in the first cell the box allows (absent left out)."""
    point = {}
    for name in sorted(parts):  # the facts the ruleset's rules read
        part = parts[name]
        value = part.sample(box.get(name, part.full))
        if value is not None:
            point[name] = value
    return point


def _too_many(rs: Ruleset) -> Problem:
    return Problem(rs.file, None, f"ruleset {rs.name}: a condition expands to more than {MAX_ALTERNATIVES:,} alternatives; "
                                  f"its gaps cannot be analysed")


def _describe(point: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(point.items())) or "a scenario with none of its facts"

