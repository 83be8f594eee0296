"""The rule language: declarative YAML rulesets as a small condition tree, and rule templates.

No Python in rules and no evaluation of strings: a condition is a tree of comparisons
(eq ne lt le gt ge in exists) joined by all / any / not; an action asserts derived facts or
sets an outcome, an advantage, a decision factor or a finding. Thresholds are named values with
the reason beside them. Nothing here knows about durable-rules (see engine) or how conditions
are evaluated (see evaluator); files are read by ``loader``.

A rule file holds one ruleset::

    ruleset: recommendation
    order: 40                 # rulesets run in this order; later ones may read derived facts
    hit_policy: first         # first (priority = position in the file) or collect
    title: ...
    source: ...               # the seed passage the ruleset encodes
    thresholds:
      fleet_utilization_floor: {value: 0.7, why: ...}
    rules:
      - id: ...
        title: ...
        source: ...
        when: {all: [{fact: context.utilization, lt: {threshold: fleet_utilization_floor}}]}
        then: {outcome: {id: ..., text: ..., gpu: ...}}
"""

from __future__ import annotations

import functools
import hashlib
import re
import string
from dataclasses import dataclass
from typing import Literal, Optional, Union

from ..errors import Location

OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "exists")
ORDERED = ("lt", "le", "gt", "ge")
HitPolicy = Literal["first", "collect"]
HIT_POLICIES: tuple[str, ...] = ("first", "collect")
DERIVED = "derived."
_OP_TEXT = {"eq": "=", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "in": "in", "exists": "exists"}


# --- the condition tree ------------------------------------------------------------------------


@dataclass(frozen=True)
class Compare:
    fact: str
    op: str
    value: object = None  # a literal; a tuple for `in`; True/False for `exists`
    threshold: Optional[str] = None  # the named threshold the value came from


@dataclass(frozen=True)
class All:
    items: tuple = ()


@dataclass(frozen=True)
class AnyOf:
    items: tuple = ()


@dataclass(frozen=True)
class Not:
    item: "Condition"


Condition = Union[Compare, All, AnyOf, Not]


def facts_of(cond: Condition) -> list[str]:
    """Every fact a condition reads, in order of first mention."""
    if isinstance(cond, Compare):
        return [cond.fact]
    items = (cond.item,) if isinstance(cond, Not) else cond.items
    seen: list[str] = []
    for item in items:
        seen += [f for f in facts_of(item) if f not in seen]
    return seen


def leaves(cond: Condition) -> list[Compare]:
    if isinstance(cond, Compare):
        return [cond]
    items = (cond.item,) if isinstance(cond, Not) else cond.items
    return [leaf for item in items for leaf in leaves(item)]


def value_text(value) -> str:
    """How a fact value or a rule literal reads in explanations and records."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def condition_text(c: Compare) -> str:
    """A comparison as a reviewer reads it: ``context.utilization < 0.7 (fleet_utilization_floor)``."""
    if c.fact.startswith(DERIVED):
        return f"{c.fact} (asserted by another rule)"
    if c.op == "exists":
        return f"{c.fact} is {'present' if c.value else 'absent'}"
    value = "[" + ", ".join(value_text(v) for v in c.value) + "]" if c.op == "in" else value_text(c.value)
    named = f" ({c.threshold})" if c.threshold else ""
    return f"{c.fact} {_OP_TEXT[c.op]} {value}{named}"


# --- rules -------------------------------------------------------------------------------------

Severity = Literal["error", "warning"]


@dataclass
class Problem:
    """Something wrong with a rule book, where it is: what ``advisor rules check`` lists."""

    file: str
    line: Optional[int]
    message: str
    severity: Severity = "error"

    @property
    def where(self) -> str:
        return str(Location(self.file, self.line))

    def __str__(self) -> str:
        return f"{self.where}: {self.severity}: {self.message}"



@dataclass(frozen=True)
class Threshold:
    name: str
    value: object
    why: str


#: What each kind of action carries: the keys it requires (more may follow, such as ``seed``).
ACTION_SHAPES = {"outcome": ("id", "text", "gpu"), "advantage": ("gpu", "id", "reason"),
                 "factor": ("factor", "choice", "reason"), "finding": ("id", "text")}


@dataclass(frozen=True)
class Then:
    outcome: Optional[dict] = None  # {id, text, gpu}: templates filled with fact values
    advantage: Optional[dict] = None  # {gpu, id, reason, ...}
    factor: Optional[dict] = None  # {factor, choice, reason, ...}
    finding: Optional[dict] = None  # {id, text, ...}: what a check found, with its numbers
    asserts: tuple = ()  # derived fact names, without the "derived." prefix


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    source: str
    ruleset: str
    order: int  # position in its file: the priority of a first-hit ruleset
    when: Condition
    then: Then
    file: str
    line: int

    @property
    def only_asserts(self) -> bool:
        """A rule whose only effect is derived flags (explanations show it under their readers)."""
        t = self.then
        return bool(t.asserts) and not (t.outcome or t.advantage or t.factor or t.finding)


@dataclass(frozen=True)
class Ruleset:
    name: str
    title: str
    source: str
    hit_policy: HitPolicy
    order: int
    thresholds: dict
    rules: tuple
    file: str


@dataclass(frozen=True)
class RuleBook:
    rulesets: tuple  # sorted by order
    revision: str  # sha256 of the rule files and catalogs
    directory: str

    @functools.cached_property
    def rules(self) -> list[Rule]:
        return [r for rs in self.rulesets for r in rs.rules]

    @functools.cached_property
    def _by_id(self) -> dict:
        return _first_of_each(self.rules, lambda r: r.id)

    def rule(self, rule_id: str) -> Rule:
        return self._by_id[rule_id]

    def has_rule(self, rule_id: str) -> bool:
        return rule_id in self._by_id

    @functools.cached_property
    def _by_name(self) -> dict:
        return _first_of_each(self.rulesets, lambda rs: rs.name)

    def ruleset(self, name: str) -> Ruleset:
        return self._by_name[name]

    @functools.cached_property
    def positions(self) -> dict[str, int]:
        """Each ruleset's position in the book's order, by name (the first of a name)."""
        positions: dict[str, int] = {}
        for i, rs in enumerate(self.rulesets):
            positions.setdefault(rs.name, i)
        return positions


def _first_of_each(items, key) -> dict:
    """Items by ``key``, the first of each key (as a search in order would find it)."""
    by_key: dict = {}
    for item in items:
        by_key.setdefault(key(item), item)
    return by_key


def rule_digests(book: RuleBook) -> dict[str, str]:
    """A digest of each rule's definition (condition, actions, position): what a replay compares."""
    return {r.id: hashlib.sha256(repr((r.ruleset, r.order, r.when, r.then)).encode()).hexdigest()[:16] for r in book.rules}


# --- templates -----------------------------------------------------------------------------------

_FORMATTER = string.Formatter()
_HUGE_SPEC = re.compile(r"\d{4,}|[{}]")  # a width or precision of 1,000 or more, or a nested field


def template_fields(text: str) -> list[str]:
    """Placeholders of a message: ``{cost.h100-80gb.ttft_ms:.0f}`` names a fact; no attribute access."""
    return [name for _, name, _, _ in _FORMATTER.parse(text) if name]


def render_template(text: str, values: dict) -> str:
    """Fill placeholders with fact values; a missing fact reads "?". Only format specs, never code."""
    pieces = _pieces(text)
    if len(pieces) == 1 and pieces[0][1] is None:  # no placeholder
        return pieces[0][0]
    out = []
    for literal, name, spec in pieces:
        out.append(literal)
        if name is None:
            continue
        value = values.get(name)
        if value is None:
            out.append("?")
            continue
        try:
            out.append(format(value, spec))
        except (ValueError, TypeError):
            out.append(str(value))
    return "".join(out)


@functools.lru_cache(maxsize=4096)
def _pieces(text: str) -> tuple:
    """A template parsed once: (literal, fact name or None, format spec) for each piece; a spec the
    loader refuses is dropped (never write megabytes anyway)."""
    return tuple((literal, name, "" if not spec or _HUGE_SPEC.search(spec) else spec)
                 for literal, name, spec, _conversion in _FORMATTER.parse(text))
