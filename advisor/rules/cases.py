"""Rule cases kept beside the rules, as ruff and semgrep keep fixtures beside theirs.

A ``*.cases.yaml`` file next to a rule file lists cases: facts in; the rules of its ruleset
that fire and, for a first-hit ruleset, the outcome that wins. Each case runs through the
engine and through the reference evaluator; both must give what the case says::

    ruleset: recommendation
    cases:
      - name: a new deployment with budget gets H100
        facts: {context.starting_fresh: true, context.can_afford_h100: true}
        fires: [rec-fresh-with-budget]
        outcome: h100-future
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .. import yamlio
from ..errors import AdvisorError, Location, did_you_mean
from . import evaluator
from .language import RuleBook
from .loader import CASES_SUFFIX

_CASE_KEYS = ("name", "facts", "fires", "outcome")


@dataclass
class CaseResult:
    where: str  # file:line of the case
    name: str
    problems: list = field(default_factory=list)  # what differed; empty when the case passes

    @property
    def ok(self) -> bool:
        return not self.problems


def case_files(directory: Path) -> list[Path]:
    return sorted(p for p in Path(directory).rglob(f"*{CASES_SUFFIX}") if p.is_file())


def run_directory(directory: Path, book: RuleBook, schema: dict, engine) -> list[CaseResult]:
    """Every case of every cases file under ``directory``."""
    results = []
    for path in case_files(directory):
        results += run_file(path, book, schema, engine, label=str(path.relative_to(directory)))
    return results


def run_file(path: Path, book: RuleBook, schema: dict, engine, label: Optional[str] = None) -> list[CaseResult]:
    """Every case of one file; ``label`` names the file in the results (default: its path)."""
    label = label or str(path)
    try:
        doc = yamlio.load(path.read_bytes(), want_lines=True)
    except (OSError, yamlio.YamlError) as exc:
        return [CaseResult(str(Location(label, getattr(exc, "line", None))), "(file)", [_reason(exc)])]
    body = doc.data if isinstance(doc.data, dict) else {}
    names = [rs.name for rs in book.rulesets]
    ruleset = body.get("ruleset")
    if ruleset not in names or not isinstance(body.get("cases"), list):
        return [CaseResult(label, "(file)", [f"a cases file names its ruleset (one of {', '.join(names)}) and lists cases:"
                                                  + did_you_mean(str(ruleset), names)])]
    return [_run_case(case, ruleset, book, schema, engine, Location(label, doc.line_of(("cases", i))), i)
            for i, case in enumerate(body["cases"])]


def _run_case(case, ruleset: str, book: RuleBook, schema: dict, engine, where: Location, index: int) -> CaseResult:
    name = case.get("name", f"case {index + 1}") if isinstance(case, dict) else f"case {index + 1}"
    result = CaseResult(str(where), str(name))
    problem = _check_shape(case, ruleset, book, schema)
    if problem:
        result.problems.append(problem)
        return result
    try:
        facts = engine.validate(case["facts"])
        by_engine = [f for f in engine.run(facts, validated=True) if f.ruleset == ruleset]
    except AdvisorError as exc:
        result.problems.append(f"the engine refused the case: {exc}")
        return result
    by_evaluator = [f for f in evaluator.run(book, facts) if f.ruleset == ruleset]
    expected = sorted(case.get("fires") or [])
    for who, firings in (("engine", by_engine), ("evaluator", by_evaluator)):
        fired = sorted(f.rule for f in firings)
        if fired != expected:
            result.problems.append(f"{who}: fired {', '.join(fired) or 'nothing'}; the case expects {', '.join(expected) or 'nothing'}")
        outcome = _winner(book, firings)
        if "outcome" in case and outcome != case["outcome"]:
            result.problems.append(f"{who}: outcome {outcome or 'none'}; the case expects {case['outcome']}")
    return result


def _check_shape(case, ruleset: str, book: RuleBook, schema: dict) -> Optional[str]:
    if not isinstance(case, dict) or not isinstance(case.get("facts"), dict) or not isinstance(case.get("fires", []), list):
        return "a case is {name: ..., facts: {fact: value}, fires: [rule ids], outcome: id}"
    unknown = [k for k in case if k not in _CASE_KEYS]
    if unknown:
        return f"unknown key {unknown[0]!r}" + did_you_mean(str(unknown[0]), _CASE_KEYS)
    for fact in case["facts"]:
        if fact not in schema:
            return f"unknown fact {fact!r}" + did_you_mean(str(fact), schema)
    rules = [r.id for r in book.ruleset(ruleset).rules]
    for rule in case.get("fires") or []:
        if rule not in rules:
            return f"{rule!r} is not a rule of ruleset {ruleset}" + did_you_mean(str(rule), rules)
    return None


def _winner(book: RuleBook, firings: list) -> Optional[str]:
    """The outcome id a first-hit ruleset gives (the first firing by priority), if any."""
    for firing in sorted(firings, key=lambda f: f.order):
        outcome = book.rule(firing.rule).then.outcome
        if outcome:
            return outcome["id"]
    return None


def _reason(exc: BaseException) -> str:
    return getattr(exc, "message", None) or getattr(exc, "strerror", None) or str(exc)
