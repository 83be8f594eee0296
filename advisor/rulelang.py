"""The rule language: declarative YAML rulesets parsed into a small condition tree.

No Python in rules and no evaluation of strings: a condition is a tree of comparisons
(eq ne lt le gt ge in exists) joined by all / any / not; an action asserts derived facts or
sets an outcome, an advantage or a decision factor. Thresholds are named values with the reason
beside them. Nothing here knows about durable-rules (see engine.py) or how conditions are
evaluated (see evaluator.py).

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

import hashlib
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from . import yamlio
from .errors import DataError
from .facts import FactSpec

OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "exists")
ORDERED = ("lt", "le", "gt", "ge")
HIT_POLICIES = ("first", "collect")
DERIVED = "derived."
MAX_RULE_FILE_BYTES = 1_000_000
_ID = re.compile(r"^[a-z][a-z0-9_]*(-[a-z0-9_]+)*$")


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


# --- rules -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Threshold:
    name: str
    value: object
    why: str


@dataclass(frozen=True)
class Then:
    outcome: Optional[dict] = None  # {id, text, gpu}
    advantage: Optional[dict] = None  # {gpu, id, reason, ...}
    factor: Optional[dict] = None  # {factor, choice, reason, ...}
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


@dataclass(frozen=True)
class Ruleset:
    name: str
    title: str
    source: str
    hit_policy: str
    order: int
    thresholds: dict
    rules: tuple
    file: str


@dataclass(frozen=True)
class RuleBook:
    rulesets: tuple  # sorted by order
    revision: str  # sha256 of the rule files and catalogs
    directory: str

    @property
    def rules(self) -> list[Rule]:
        return [r for rs in self.rulesets for r in rs.rules]

    def rule(self, rule_id: str) -> Rule:
        return next(r for r in self.rules if r.id == rule_id)


@dataclass
class Problem:
    file: str
    line: Optional[int]
    message: str
    severity: str = "error"  # error | warning

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def __str__(self) -> str:
        return f"{self.where}: {self.severity}: {self.message}"


@dataclass
class _Reader:
    """Parses one file, collecting problems with their lines instead of stopping at the first."""

    file: str
    doc: yamlio.Document
    facts: dict
    problems: list = field(default_factory=list)
    thresholds: dict = field(default_factory=dict)

    def err(self, path: tuple, message: str, severity: str = "error") -> None:
        self.problems.append(Problem(self.file, self.doc.line_of(path), message, severity))

    def text(self, body: dict, key: str, path: tuple, required: bool = True) -> str:
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if required or value is not None:
            self.err(path + (key,), f"{key}: a non-empty text is required")
        return ""

    # conditions

    def condition(self, node, path: tuple, in_negation: bool = False) -> Condition:
        if node == "always":
            return All(())
        if not isinstance(node, dict) or not node:
            self.err(path, "a condition is a mapping: {fact: ..., <op>: value}, {all: [...]}, {any: [...]}, {not: ...} or 'always'")
            return All(())
        if "fact" in node:
            return self.compare(node, path, in_negation)
        if len(node) != 1:
            self.err(path, f"one of all / any / not per mapping, got {', '.join(map(str, node))}")
            return All(())
        (key, value), = node.items()
        if key in ("all", "any"):
            if not isinstance(value, list):
                self.err(path + (key,), f"{key}: expects a list of conditions")
                return All(())
            items = tuple(self.condition(v, path + (key, i), in_negation or key == "any") for i, v in enumerate(value))
            return All(items) if key == "all" else AnyOf(items)
        if key == "not":
            return Not(self.condition(value, path + (key,), True))
        self.err(path + (key,), f"unknown condition {key!r}", )
        return All(())

    def compare(self, node: dict, path: tuple, in_negation: bool) -> Compare:
        name = node.get("fact")
        ops = [k for k in node if k != "fact"]
        if not isinstance(name, str):
            self.err(path + ("fact",), "fact: must name a fact such as context.utilization")
            return Compare("?", "exists", True)
        if len(ops) != 1 or ops[0] not in OPERATORS:
            bad = [o for o in ops if o not in OPERATORS]
            self.err(path, f"{name}: exactly one operator of {', '.join(OPERATORS)}" + (f", not {bad[0]!r}" if bad else ""))
            return Compare(name, "exists", True)
        op = ops[0]
        raw = node[op]
        threshold = None
        if isinstance(raw, dict) and set(raw) == {"threshold"}:
            threshold = raw["threshold"]
            if threshold not in self.thresholds:
                self.err(path + (op,), f"unknown threshold {threshold!r}" + _did_you_mean(str(threshold), self.thresholds))
                raw = None
            else:
                raw = self.thresholds[threshold].value
        if name.startswith(DERIVED):
            if op not in ("eq", "exists") or raw is not True:
                self.err(path, f"{name}: a derived fact is a flag: use eq: true or exists: true")
            if in_negation:
                self.err(path, f"{name}: derived facts may not be read under not/any (their timing is not defined)")
            return Compare(name, "exists", True)
        spec: Optional[FactSpec] = self.facts.get(name)
        if spec is None:
            self.err(path + ("fact",), f"unknown fact {name!r}" + _did_you_mean(name, self.facts))
            return Compare(name, op, raw, threshold)
        value = self.typed_value(spec, op, raw, path + (op,))
        return Compare(name, op, value, threshold)

    def typed_value(self, spec: FactSpec, op: str, raw, path: tuple):
        if op == "exists":
            if not isinstance(raw, bool):
                self.err(path, f"{spec.name}: exists takes true or false")
            return raw
        if op == "in":
            if not isinstance(raw, list) or not raw:
                self.err(path, f"{spec.name}: in takes a non-empty list")
                return ()
            return tuple(self.typed_value(spec, "eq", v, path + (i,)) for i, v in enumerate(raw))
        if op in ORDERED and spec.type != "number":
            self.err(path, f"{spec.name} is a {spec.type}: {op} compares numbers only")
            return raw
        if spec.type == "bool" and not isinstance(raw, bool):
            self.err(path, f"{spec.name} is a bool: compare it with true or false, not {raw!r}")
        elif spec.type == "number" and (isinstance(raw, bool) or not isinstance(raw, (int, float))):
            self.err(path, f"{spec.name} is a number: {raw!r} is not")
        elif spec.type == "enum" and raw not in spec.values:
            self.err(path, f"{spec.name} is one of {', '.join(spec.values)}: {raw!r} is not" + _did_you_mean(str(raw), spec.values))
        elif spec.type == "string" and not isinstance(raw, str):
            self.err(path, f"{spec.name} is a string: {raw!r} is not")
        elif spec.type == "number":
            if raw and not 1e-4 <= abs(raw) < 1e16:
                self.err(path, f"{spec.name}: {raw!r} is outside the range rules compare (0, or 1e-4 to 1e16 in magnitude)")
            return float(raw)  # one numeric type in the engine: ints and floats compare alike
        return raw


def _did_you_mean(wrong: str, known) -> str:
    import difflib

    close = difflib.get_close_matches(wrong, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


# --- templates -----------------------------------------------------------------------------------

_FORMATTER = string.Formatter()


def template_fields(text: str) -> list[str]:
    """Placeholders of a message: ``{cost.h100-80gb.ttft_ms:.0f}`` names a fact; no attribute access."""
    return [name for _, name, _, _ in _FORMATTER.parse(text) if name]


def render_template(text: str, values: dict) -> str:
    """Fill placeholders with fact values; a missing fact reads "?". Only format specs, never code."""
    out = []
    for literal, name, spec, conversion in _FORMATTER.parse(text):
        out.append(literal)
        if name is None:
            continue
        value = values.get(name)
        if value is None:
            out.append("?")
            continue
        try:
            out.append(format(value, spec or ""))
        except (ValueError, TypeError):
            out.append(str(value))
    return "".join(out)


# --- loading -----------------------------------------------------------------------------------


def revision(rule_paths: list[Path], root: Path, data_paths: list[Path] = ()) -> str:
    """sha256 over the rule files (by path under ``root``) and the data files (by name) they run with."""
    digest = hashlib.sha256()
    labelled = [(str(p.relative_to(root)), p) for p in rule_paths] + [(f"data/{p.name}", p) for p in data_paths]
    for label, path in sorted(labelled):
        digest.update(label.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def rule_digests(book: RuleBook) -> dict[str, str]:
    """A digest of each rule's definition (condition, actions, position): what a replay compares."""
    return {r.id: hashlib.sha256(repr((r.ruleset, r.order, r.when, r.then)).encode()).hexdigest()[:16] for r in book.rules}


def rule_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def parse_directory(directory: Path, facts: dict, extra_revision_files: list[Path] = ()) -> tuple[Optional[RuleBook], list[Problem]]:
    """Read every rule file under ``directory``; returns the rule book (None on errors) and the problems."""
    directory = Path(directory)
    if not directory.is_dir():
        return None, [Problem(str(directory), None, "no such rules directory")]
    files = rule_files(directory)
    if not files:
        return None, [Problem(str(directory), None, "no rule files (*.yaml) in this directory")]
    problems: list[Problem] = []
    rulesets: list[Ruleset] = []
    for path in files:
        rs, found = _parse_file(path, facts)
        problems += found
        if rs:
            rulesets.append(rs)
    problems += _cross_checks(rulesets, facts)
    rulesets.sort(key=lambda rs: (rs.order, rs.name))
    if any(p.severity == "error" for p in problems):
        return None, problems
    rev = revision(files, directory, list(extra_revision_files))
    return RuleBook(tuple(rulesets), rev, str(directory)), problems


def _parse_file(path: Path, facts: dict) -> tuple[Optional[Ruleset], list[Problem]]:
    name = str(path)
    try:
        with open(path, "rb") as handle:
            doc = yamlio.load(yamlio.read_capped(handle, MAX_RULE_FILE_BYTES, "a rule file is a few KB"), want_lines=True)
    except yamlio.YamlError as exc:
        return None, [Problem(name, exc.line, exc.message)]
    except OSError as exc:
        return None, [Problem(name, None, f"cannot read ({exc.strerror})")]
    r = _Reader(name, doc, facts)
    body = doc.data
    if not isinstance(body, dict):
        r.err((), "a rule file is a mapping with ruleset:, hit_policy:, rules:")
        return None, r.problems
    known = {"ruleset", "order", "hit_policy", "title", "source", "thresholds", "rules"}
    for key in body:
        if key not in known:
            r.err((key,), f"unknown key {key!r}" + _did_you_mean(str(key), known))
    rs_name = body.get("ruleset")
    if not isinstance(rs_name, str) or not _ID.match(rs_name):
        r.err(("ruleset",), "ruleset: a lower-case name such as advantages")
        rs_name = path.stem
    policy = body.get("hit_policy")
    if policy not in HIT_POLICIES:
        r.err(("hit_policy",), f"hit_policy: one of {', '.join(HIT_POLICIES)}")
    order = body.get("order", 0)
    if isinstance(order, bool) or not isinstance(order, int):
        r.err(("order",), "order: a whole number")
        order = 0
    thresholds = body.get("thresholds") or {}
    if not isinstance(thresholds, dict):
        r.err(("thresholds",), "thresholds: a mapping of names to {value: ..., why: ...}")
        thresholds = {}
    for t_name, t_body in thresholds.items():
        tpath = ("thresholds", t_name)
        if not isinstance(t_body, dict) or set(t_body) - {"value", "why"} or "value" not in t_body:
            r.err(tpath, "a threshold is {value: ..., why: ...}")
            continue
        value = t_body["value"]
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            r.err(tpath + ("value",), "a threshold value is a number or a word")
        why = r.text(t_body, "why", tpath)
        r.thresholds[t_name] = Threshold(t_name, float(value) if isinstance(value, int) else value, why)
    rules_raw = body.get("rules")
    if not isinstance(rules_raw, list) or not rules_raw:
        r.err(("rules",), "rules: a non-empty list of rules")
        rules_raw = []
    rules = []
    for i, raw in enumerate(rules_raw):
        path_ = ("rules", i)
        if not isinstance(raw, dict):
            r.err(path_, "a rule is a mapping with id, title, source, when, then")
            continue
        for key in raw:
            if key not in ("id", "title", "source", "when", "then"):
                r.err(path_ + (key,), f"unknown key {key!r}" + _did_you_mean(str(key), ("id", "title", "source", "when", "then")))
        rule_id = raw.get("id")
        if not isinstance(rule_id, str) or not _ID.match(rule_id):
            r.err(path_ + ("id",), "id: a lower-case identifier such as fresh-with-budget")
            rule_id = f"{rs_name}#{i}"
        if "when" not in raw:
            r.err(path_, f"{rule_id}: when: is required ('always' for an unconditional rule)")
        when = r.condition(raw.get("when", "always"), path_ + ("when",))
        then = _then(r, raw.get("then"), path_ + ("then",), rule_id, policy)
        rules.append(Rule(rule_id, r.text(raw, "title", path_), r.text(raw, "source", path_), rs_name, i + 1, when, then,
                          name, doc.line_of(path_) or 0))
    used = {leaf.threshold for rule in rules for leaf in leaves(rule.when)}
    for t_name in r.thresholds:
        if t_name not in used:
            r.err(("thresholds", t_name), f"threshold {t_name!r} is not used by any rule", "warning")
    rs = Ruleset(rs_name, r.text(body, "title", ()), r.text(body, "source", ()), policy or "collect", order,
                 dict(r.thresholds), tuple(rules), name)
    return rs, r.problems


def _then(r: _Reader, raw, path: tuple, rule_id: str, policy) -> Then:
    if not isinstance(raw, dict) or not raw:
        r.err(path, f"{rule_id}: then: needs outcome, advantage, factor or assert")
        return Then()
    shapes = {"outcome": ("id", "text", "gpu"), "advantage": ("gpu", "id", "reason"), "factor": ("factor", "choice", "reason")}
    parts = {}
    for key, value in raw.items():
        if key == "assert":
            names = value if isinstance(value, list) else [value]
            if not all(isinstance(n, str) and _ID.match(n) for n in names):
                r.err(path + (key,), "assert: a derived fact name or a list of them (lower-case identifiers)")
                names = []
            parts["asserts"] = tuple(names)
        elif key in shapes:
            if not isinstance(value, dict):
                r.err(path + (key,), f"{key}: a mapping with {', '.join(shapes[key])}")
                continue
            missing = [k for k in shapes[key] if not isinstance(value.get(k), str) or not value.get(k)]
            if missing:
                r.err(path + (key,), f"{key}: needs {', '.join(missing)}")
            for k, text in value.items():
                if not isinstance(text, (str, bool, int, float)):
                    r.err(path + (key, k), f"{key}.{k}: a text")
                elif isinstance(text, str):
                    for placeholder in template_fields(text):
                        if placeholder not in r.facts:
                            r.err(path + (key, k), f"{{{placeholder}}}: unknown fact" + _did_you_mean(placeholder, r.facts))
            parts[key] = dict(value)
        else:
            r.err(path + (key,), f"unknown action {key!r} (outcome, advantage, factor, assert)")
    if policy == "first" and "outcome" not in parts:
        r.err(path, f"{rule_id}: a rule of a first-hit ruleset sets an outcome")
    if policy == "collect" and "outcome" in parts:
        r.err(path + ("outcome",), f"{rule_id}: outcomes belong in a first-hit ruleset")
    return Then(**parts)


def _cross_checks(rulesets: list[Ruleset], facts: dict) -> list[Problem]:
    problems = []
    seen: dict[str, Rule] = {}
    names: dict[str, Ruleset] = {}
    for rs in rulesets:
        if rs.name in names:
            problems.append(Problem(rs.file, None, f"ruleset {rs.name!r} is also defined in {names[rs.name].file}"))
        names[rs.name] = rs
        for rule in rs.rules:
            if rule.id in seen:
                problems.append(Problem(rule.file, rule.line, f"rule id {rule.id!r} is also used at {seen[rule.id].file}:{seen[rule.id].line}"))
            seen[rule.id] = rule
    ordered = sorted(rulesets, key=lambda rs: (rs.order, rs.name))
    asserted_before: set[str] = set()
    consumed: set[str] = set()
    for rs in ordered:
        asserted_here = {n for rule in rs.rules for n in rule.then.asserts}
        available = asserted_before | asserted_here
        for rule in rs.rules:
            for fact in facts_of(rule.when):
                if fact.startswith(DERIVED):
                    consumed.add(fact[len(DERIVED):])
                    if fact[len(DERIVED):] not in available:
                        problems.append(Problem(rule.file, rule.line, f"{rule.id}: {fact} is asserted by no rule of this or an earlier ruleset"))
        asserted_before |= asserted_here
    for rs in ordered:
        for rule in rs.rules:
            for name in rule.then.asserts:
                if name not in consumed:
                    problems.append(Problem(rule.file, rule.line, f"{rule.id}: derived.{name} is read by no rule", "warning"))
    return problems


def load(directory: Path, facts: dict, extra_revision_files: list[Path] = ()) -> RuleBook:
    """The rule book of ``directory``, or a DataError listing its first problems."""
    book, problems = parse_directory(directory, facts, extra_revision_files)
    if book is None:
        errors = [p for p in problems if p.severity == "error"]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise DataError(f"invalid rules: {errors[0].where}: {errors[0].message}{more}; see `advisor rules check {directory}`")
    return book
