"""The cases kept beside the rules (rules/policy/*.cases.yaml), each run through the engine and
the reference evaluator, one test per case; and `advisor rules test`, which runs the same."""

from __future__ import annotations

import shutil

import pytest

from advisor.decide.decision import Advisor
from advisor.rules import cases, engine
from conftest import REPO, run_cli

POLICY = REPO / "rules" / "policy"


@pytest.fixture(scope="module")
def advisor():
    return Advisor(POLICY)


def _run(directory):
    advisor = Advisor(directory)
    return cases.run_directory(directory, advisor.book, advisor.schema, engine.for_book(advisor.book, advisor.schema))


def _all_cases():
    return _run(POLICY)


@pytest.mark.parametrize("result", _all_cases(), ids=lambda r: f"{r.where} {r.name}")
def test_rule_case(result):
    assert result.ok, "\n".join(result.problems)


def test_every_ruleset_has_cases_and_every_rule_fires_in_one(advisor):
    results = _all_cases()
    files = {p.name.removesuffix(".cases.yaml") for p in cases.case_files(POLICY)}
    assert files == {rs.file.rsplit("/", 1)[-1].removesuffix(".yaml") for rs in advisor.book.rulesets}
    assert results and all(r.ok for r in results)
    # a case that names a rule in `fires` proves that rule can fire on some facts
    import yaml

    fired = {rule for p in cases.case_files(POLICY) for case in yaml.safe_load(p.read_text())["cases"] for rule in case["fires"]}
    assert fired == {r.id for r in advisor.book.rules}


def test_a_wrong_expectation_fails_with_what_differed(tmp_path, advisor):
    rules = tmp_path / "policy"
    shutil.copytree(POLICY, rules)
    path = rules / "40-recommendation.cases.yaml"
    path.write_text(path.read_text().replace("outcome: optimize-a100", "outcome: h100-future", 1))
    (bad,) = [r for r in _run(rules) if not r.ok]
    assert bad.where == "40-recommendation.cases.yaml:13"
    assert bad.problems == ["engine: outcome optimize-a100; the case expects h100-future",
                            "evaluator: outcome optimize-a100; the case expects h100-future"]
    proc = run_cli("rules", "test", str(rules))
    assert proc.returncode == 2
    assert "FAIL  40-recommendation.cases.yaml:13  an A100 fleet just under 70% busy is optimized first" in proc.stdout
    assert proc.stdout.splitlines()[-1] == f"{len(_all_cases()) - 1} passed, 1 failed"


def test_rules_test_passes_on_the_shipped_rules():
    proc = run_cli("rules", "test")
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.splitlines()[-1].endswith("passed, 0 failed")


def test_a_case_naming_an_unknown_fact_or_rule_is_an_error(tmp_path):
    rules = tmp_path / "policy"
    shutil.copytree(POLICY, rules)
    (rules / "40-recommendation.cases.yaml").write_text(
        "ruleset: recommendation\ncases:\n"
        "  - {name: typo, facts: {context.utilisation: 0.5}, fires: []}\n"
        "  - {name: no such rule, facts: {}, fires: [rec-nope]}\n")
    proc = run_cli("rules", "test", str(rules))
    assert proc.returncode == 2
    assert "unknown fact 'context.utilisation' (did you mean context.utilization?)" in proc.stdout
    assert "'rec-nope' is not a rule of ruleset recommendation" in proc.stdout
