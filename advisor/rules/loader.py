"""Rule files read into a ``RuleBook``: every problem collected with its ``file:line``.

Files are read with the safe YAML loader; a rule file is data, never code. ``parse_directory``
returns the book and every problem (errors and warnings) so that ``advisor rules check`` can
list them all; ``load`` refuses a book with errors in one sentence, and a book that would decide
a scenario without an outcome (no first-hit ruleset, or a gap in one).

The language knows no product: what an action's value may be beyond a text (the GPU ids of the
catalog, say) is the caller's to say, with ``action_checks`` (``{"outcome.gpu": one_of(ids, "+")}``).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional

from .. import yamlio
from ..errors import DataError, did_you_mean
from .language import (ACTION_SHAPES, DERIVED, HIT_POLICIES, OPERATORS, ORDERED, All, AnyOf, Compare, Condition, Not, Rule,
                       Problem, RuleBook, Ruleset, Severity, Then, Threshold, facts_of, leaves, render_template)
from .schema import NUMBER_RANGE_TEXT, FactSpec, comparable

MAX_RULE_FILE_BYTES = 1_000_000
CASES_SUFFIX = ".cases.yaml"  # rule cases live beside the rules; they are tests, not rules
_ID = re.compile(r"^[a-z][a-z0-9_]*(-[a-z0-9_]+)*$")
_FILE_KEYS = ("ruleset", "order", "hit_policy", "title", "source", "thresholds", "rules")
_RULE_KEYS = ("id", "title", "source", "when", "then")
POLICY, CATALOGS = "policy", "catalogs"  # the shipped data directory: rules/policy beside rules/catalogs
#: The widest field and the most digits a template may ask for ("{x:>100000000}" wrote 100 MB).
MAX_FORMAT_WIDTH = 100
_SPEC = re.compile(r"^(?:.?[<>=^])?[+ -]?z?#?0?(?P<width>\d*)[,_]?(?:\.(?P<precision>\d+))?[bcdeEfFgGnosxX%]?$")

#: Checks an action value beyond its shape: "outcome.gpu" -> a function of the value giving the
#: reason it is refused (with a "did you mean"), or None when it is fine.
ActionChecks = Mapping[str, Callable[[str], Optional[str]]]


def one_of(allowed: Iterable[str], joined_by: Optional[str] = None) -> Callable[[str], Optional[str]]:
    """An action check: the value is one of ``allowed``, or several joined by ``joined_by``."""
    allowed = sorted(allowed)

    def check(value) -> Optional[str]:
        parts = str(value).split(joined_by) if joined_by else [str(value)]
        for part in parts:
            if part not in allowed:
                shown = part if len(part) <= 60 else part[:57] + "..."
                how = f" (several joined by {joined_by!r})" if joined_by else ""
                return f"{shown!r} is not one of {', '.join(allowed)}{how}" + did_you_mean(shown, allowed)
        return None
    return check


@dataclass
class _Reader:
    """Parses one file, collecting problems with their lines instead of stopping at the first."""

    file: str
    doc: yamlio.Document
    facts: dict
    problems: list = field(default_factory=list)
    thresholds: dict = field(default_factory=dict)
    checks: ActionChecks = field(default_factory=dict)

    def err(self, path: tuple, message: str, severity: Severity = "error") -> None:
        self.problems.append(Problem(self.file, self.doc.line_of(path), message, severity))

    def text(self, body: dict, key: str, path: tuple, required: bool = True) -> str:
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if required or value is not None:
            self.err(path + (key,), f"{key}: a non-empty text is required")
        return ""

    def unknown_keys(self, body: dict, known: tuple, path: tuple) -> None:
        for key in body:
            if key not in known:
                self.err(path + (key,), f"unknown key {key!r}" + did_you_mean(str(key), known))

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
        self.err(path + (key,), f"unknown condition {key!r}")
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
        raw, threshold = self.threshold_value(node[op], path + (op,))
        if name.startswith(DERIVED):
            if op not in ("eq", "exists") or raw is not True:
                self.err(path, f"{name}: a derived fact is a flag: use eq: true or exists: true")
            if in_negation:
                self.err(path, f"{name}: derived facts may not be read under not/any (their timing is not defined)")
            return Compare(name, "exists", True)
        spec: Optional[FactSpec] = self.facts.get(name)
        if spec is None:
            self.err(path + ("fact",), f"unknown fact {name!r}" + did_you_mean(name, self.facts))
            return Compare(name, op, raw, threshold)
        return Compare(name, op, self.typed_value(spec, op, raw, path + (op,)), threshold)

    def threshold_value(self, raw, path: tuple):
        """A literal as written, or the value of ``{threshold: name}`` with that name."""
        if not (isinstance(raw, dict) and set(raw) == {"threshold"}):
            return raw, None
        name = raw["threshold"]
        if not isinstance(name, str) or name not in self.thresholds:
            self.err(path, f"unknown threshold {name!r}" + did_you_mean(str(name), self.thresholds))
            return None, name
        return self.thresholds[name].value, name

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
            self.err(path, f"{spec.name} is one of {', '.join(spec.values)}: {raw!r} is not" + did_you_mean(str(raw), spec.values))
        elif spec.type == "string" and not isinstance(raw, str):
            self.err(path, f"{spec.name} is a string: {raw!r} is not")
        elif spec.type == "number":
            if not comparable(raw):
                self.err(path, f"{spec.name}: {_short(raw)} is outside the range rules compare ({NUMBER_RANGE_TEXT})")
                return 0.0
            return float(raw)  # one numeric type in the engine: ints and floats compare alike
        return raw

    # the parts of a file

    def header(self, body: dict, path: Path) -> tuple[str, Optional[str], int]:
        self.unknown_keys(body, _FILE_KEYS, ())
        name = body.get("ruleset")
        if not isinstance(name, str) or not _ID.match(name):
            self.err(("ruleset",), "ruleset: a lower-case name such as advantages")
            name = path.stem
        policy = body.get("hit_policy")
        if policy not in HIT_POLICIES:
            self.err(("hit_policy",), f"hit_policy: one of {', '.join(HIT_POLICIES)}")
        order = body.get("order", 0)
        if isinstance(order, bool) or not isinstance(order, int):
            self.err(("order",), "order: a whole number")
            order = 0
        return name, policy, order

    def read_thresholds(self, raw) -> None:
        if not isinstance(raw, dict):
            self.err(("thresholds",), "thresholds: a mapping of names to {value: ..., why: ...}")
            return
        for name, body in raw.items():
            path = ("thresholds", name)
            if not isinstance(body, dict) or set(body) - {"value", "why"} or "value" not in body:
                self.err(path, "a threshold is {value: ..., why: ...}")
                continue
            value = body["value"]
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                self.err(path + ("value",), "a threshold value is a number or a word")
            elif not isinstance(value, str) and not comparable(value):
                self.err(path + ("value",), f"{_short(value)} is outside the range rules compare ({NUMBER_RANGE_TEXT})")
                value = 0.0
            why = self.text(body, "why", path)
            self.thresholds[name] = Threshold(name, float(value) if isinstance(value, int) else value, why)

    def rule(self, raw, i: int, ruleset: str, policy) -> Optional[Rule]:
        path = ("rules", i)
        if not isinstance(raw, dict):
            self.err(path, "a rule is a mapping with id, title, source, when, then")
            return None
        self.unknown_keys(raw, _RULE_KEYS, path)
        rule_id = raw.get("id")
        if not isinstance(rule_id, str) or not _ID.match(rule_id):
            self.err(path + ("id",), "id: a lower-case identifier such as fresh-with-budget")
            rule_id = f"{ruleset}#{i}"
        if "when" not in raw:
            self.err(path, f"{rule_id}: when: is required ('always' for an unconditional rule)")
        when = self.condition(raw.get("when", "always"), path + ("when",))
        then = self.then(raw.get("then"), path + ("then",), rule_id, policy)
        return Rule(rule_id, self.text(raw, "title", path), self.text(raw, "source", path), ruleset, i + 1, when, then,
                    self.file, self.doc.line_of(path) or 0)

    def then(self, raw, path: tuple, rule_id: str, policy) -> Then:
        if not isinstance(raw, dict) or not raw:
            self.err(path, f"{rule_id}: then: needs outcome, advantage, factor, finding or assert")
            return Then()
        parts = {}
        for key, value in raw.items():
            if key == "assert":
                parts["asserts"] = self.asserts(value, path + (key,))
            elif key in ACTION_SHAPES:
                action = self.action(key, value, path + (key,))
                if action is not None:
                    parts[key] = action
            else:
                self.err(path + (key,), f"unknown action {key!r} (outcome, advantage, factor, finding, assert)")
        if policy == "first" and "outcome" not in parts:
            self.err(path, f"{rule_id}: a rule of a first-hit ruleset sets an outcome")
        if policy == "collect" and "outcome" in parts:
            self.err(path + ("outcome",), f"{rule_id}: outcomes belong in a first-hit ruleset")
        return Then(**parts)

    def asserts(self, value, path: tuple) -> tuple:
        names = value if isinstance(value, list) else [value]
        if not all(isinstance(n, str) and _ID.match(n) for n in names):
            self.err(path, "assert: a derived fact name or a list of them (lower-case identifiers)")
            return ()
        return tuple(names)

    def action(self, key: str, value, path: tuple) -> Optional[dict]:
        shape = ACTION_SHAPES[key]
        if not isinstance(value, dict):
            self.err(path, f"{key}: a mapping with {', '.join(shape)}")
            return None
        missing = [k for k in shape if not isinstance(value.get(k), str) or not value.get(k)]
        if missing:
            self.err(path, f"{key}: needs {', '.join(missing)}")
        for k, text in value.items():
            if not isinstance(text, (str, bool, int, float)):
                self.err(path + (k,), f"{key}.{k}: a text")
            elif isinstance(text, str):
                self.template(text, path + (k,))
            check = self.checks.get(f"{key}.{k}")
            if check is not None and isinstance(text, str) and (reason := self.checked(text, check)) is not None:
                self.err(path + (k,), f"{key}.{k}: {reason}")
        return dict(value)

    def checked(self, text: str, check) -> Optional[str]:
        """Why a checked action value is refused: a fixed value the check refuses, or a template
        with a placeholder whose values are not all known (an enum fact) and allowed."""
        fields = list(dict.fromkeys(template_fields_safe(text)))
        if not fields:
            return check(text)
        specs = [self.facts.get(name) for name in fields]
        if None in specs:
            return None  # an unknown fact: template() reports it
        for name, spec in zip(fields, specs):
            if spec.type != "enum" or not spec.values:
                return f"{{{name}}} may give any text: write a fixed value, or use a fact of known values (its values are checked)"
        first = {name: spec.values[0] for name, spec in zip(fields, specs)}
        for name, spec in zip(fields, specs):
            for value in spec.values:
                if (reason := check(render_template(text, {**first, name: value}))) is not None:
                    return f"{{{name}}} may give {value!r}, and then {reason}"
        return None

    def template(self, text: str, path: tuple) -> None:
        """Placeholders name facts; format specs stay small (a width of 10^8 wrote 100 MB a decision)."""
        try:
            fields = template_specs(text)
        except ValueError as exc:
            self.err(path, f"not a valid template ({exc}): write a literal brace as {{{{ or }}}}")
            return
        for placeholder, spec in fields:
            if placeholder not in self.facts:
                self.err(path, f"{{{placeholder}}}: unknown fact" + did_you_mean(placeholder, self.facts))
            match = _SPEC.match(spec or "")
            if match is None:
                self.err(path, f"{{{placeholder}:{_short(spec)}}}: a format such as .2f, .0%, >8 or ,.0f")
                continue
            for part in ("width", "precision"):
                number = match.group(part)
                if number and int(number) > MAX_FORMAT_WIDTH:
                    self.err(path, f"{{{placeholder}:{_short(spec)}}}: a {part} of at most {MAX_FORMAT_WIDTH}, not {_short(int(number))}")


def _short(value) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 40 else f"{text[:20]}...({len(text):,} characters)"


def template_specs(text: str) -> list[tuple[str, str]]:
    """(placeholder, format spec) of each field of a template; ValueError when it is malformed."""
    import string

    return [(name, spec or "") for _, name, spec, _ in string.Formatter().parse(text) if name is not None]


def template_fields_safe(text: str) -> list[str]:
    try:
        return [name for name, _ in template_specs(text)]
    except ValueError:
        return []


# --- files and directories -----------------------------------------------------------------------


def revision(rule_paths: list[Path], root: Path, data_paths: list[Path] = ()) -> str:
    """sha256 over the rule files (by path under ``root``) and the data files (by name) they run with."""
    digest = hashlib.sha256()
    labelled = [(str(p.relative_to(root)), p) for p in rule_paths] + [(f"data/{p.parent.name}/{p.name}" if p.suffix == ".json" else f"data/{p.name}", p) for p in data_paths]
    for label, path in sorted(labelled):
        digest.update(label.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def rules_directory(directory: Path) -> Path:
    """The directory the rule files are in: ``directory``, or its ``policy/`` subdirectory when it
    is a data directory like the shipped ``rules/`` (catalogs/ and policy/ side by side)."""
    directory = Path(directory)
    policy = directory / POLICY
    if not policy.is_dir():
        return directory
    try:
        elsewhere = [p for p in rule_files(directory) if p.relative_to(directory).parts[0] not in (POLICY, CATALOGS)]
    except OSError:
        return directory  # parse_directory says why it cannot be read
    return directory if elsewhere else policy


def rule_files(directory: Path) -> list[Path]:
    """The rule files under ``directory`` (``*.cases.yaml`` beside them are tests, not rules);
    OSError for a directory that cannot be listed (skipping it would drop whole rulesets)."""
    found: list[Path] = []

    def refuse(exc: OSError):
        raise exc

    for root, dirs, names in os.walk(directory, onerror=refuse):
        dirs.sort()
        found += [Path(root) / n for n in names if n.endswith((".yaml", ".yml")) and not n.endswith(CASES_SUFFIX)]
    return sorted(p for p in found if p.is_file())


def parse_directory(directory: Path, facts: dict, extra_revision_files: list[Path] = (), *,
                    action_checks: Optional[ActionChecks] = None) -> tuple[Optional[RuleBook], list[Problem]]:
    """Read every rule file under ``directory`` (or its ``policy/``, see ``rules_directory``);
    returns the rule book (None on errors) and the problems."""
    directory = rules_directory(Path(directory))
    if not directory.is_dir():
        return None, [Problem(str(directory), None, "no such rules directory")]
    try:
        files = rule_files(directory)
    except OSError as exc:
        return None, [Problem(exc.filename or str(directory), None,
                              f"cannot read this directory ({exc.strerror}): its rule files would be left out")]
    if not files:
        return None, [Problem(str(directory), None, "no rule files (*.yaml) in this directory")]
    problems: list[Problem] = []
    rulesets: list[Ruleset] = []
    for path in files:
        rs, found = parse_file(path, facts, action_checks)
        problems += found
        if rs:
            rulesets.append(rs)
    problems += _cross_checks(rulesets)
    if rulesets and not any(rs.hit_policy == "first" for rs in rulesets):
        last = max(rulesets, key=lambda rs: (rs.order, rs.name))  # where an outcome would be decided last
        problems.append(Problem(last.file, None, "no first-hit ruleset: a rule book needs one (hit_policy: first) whose "
                                                      "rules set the outcome, or every scenario would be decided without one"))
    rulesets.sort(key=lambda rs: (rs.order, rs.name))
    if any(p.severity == "error" for p in problems):
        return None, problems
    rev = revision(files, directory, list(extra_revision_files))
    return RuleBook(tuple(rulesets), rev, str(directory)), problems


def parse_file(path: Path, facts: dict, action_checks: Optional[ActionChecks] = None) -> tuple[Optional[Ruleset], list[Problem]]:
    """One rule file: its ruleset (None when unreadable) and its problems."""
    name = str(path)
    try:
        with open(path, "rb") as handle:
            doc = yamlio.load(yamlio.read_capped(handle, MAX_RULE_FILE_BYTES, "a rule file is a few KB"), want_lines=True)
    except yamlio.YamlError as exc:
        return None, [Problem(name, exc.line, exc.message)]
    except OSError as exc:
        return None, [Problem(name, None, f"cannot read ({exc.strerror})")]
    reader = _Reader(name, doc, facts, checks=dict(action_checks or {}))
    body = doc.data
    if not isinstance(body, dict):
        reader.err((), "a rule file is a mapping with ruleset:, hit_policy:, rules:")
        return None, reader.problems
    rs_name, policy, order = reader.header(body, path)
    reader.read_thresholds(body.get("thresholds") or {})
    raw_rules = body.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        reader.err(("rules",), "rules: a non-empty list of rules")
        raw_rules = []
    rules = [rule for i, raw in enumerate(raw_rules) if (rule := reader.rule(raw, i, rs_name, policy)) is not None]
    used = {leaf.threshold for rule in rules for leaf in leaves(rule.when)}
    for t_name in reader.thresholds:
        if t_name not in used:
            reader.err(("thresholds", t_name), f"threshold {t_name!r} is not used by any rule", "warning")
    rs = Ruleset(rs_name, reader.text(body, "title", ()), reader.text(body, "source", ()), policy or "collect", order,
                 dict(reader.thresholds), tuple(rules), name)
    return rs, reader.problems


def _cross_checks(rulesets: list[Ruleset]) -> list[Problem]:
    """Across files: unique ruleset names and rule ids; derived flags asserted before they are read."""
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
    return problems + _derived_checks(sorted(rulesets, key=lambda rs: (rs.order, rs.name)))


def _derived_checks(ordered: list[Ruleset]) -> list[Problem]:
    problems = []
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


def load(directory: Path, facts: dict, extra_revision_files: list[Path] = (), *,
         action_checks: Optional[ActionChecks] = None) -> RuleBook:
    """The rule book of ``directory``, or a DataError listing its first problems: errors in its
    files, and a first-hit ruleset with a gap (a scenario it would decide without an outcome)."""
    from . import analysis  # the gap check: exact, and cheap when a last rule matches always

    book, problems = parse_directory(directory, facts, extra_revision_files, action_checks=action_checks)
    if book is not None:
        problems = analysis.gaps(book, facts)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise DataError(f"invalid rules: {errors[0].where}: {errors[0].message}{more}; see `advisor rules check {directory}`")
    return book
