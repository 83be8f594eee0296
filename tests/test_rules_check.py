"""`advisor rules check` and `rules list` on the shipped rules and on broken fixture rule files."""

import json

import pytest
from conftest import REPO, run_cli

FIXTURES = REPO / "tests" / "fixtures" / "rules"


def test_the_shipped_rules_pass_the_check():
    proc = run_cli("rules", "check")
    assert proc.returncode == 0, proc.stderr
    assert "0 error(s), 0 warning(s)" in proc.stderr
    # the recommendation is first-hit: its overlaps are listed, each resolved by the seed's order
    assert "overlap: rec-fresh-with-budget wins over rec-spot where both match" in proc.stdout
    assert "overlap: rec-underused-fleet wins over rec-spot where both match" in proc.stdout


@pytest.mark.parametrize("fixture, where, message", [
    ("misspelt_fact", "10-rec.yaml:14", "unknown fact 'context.utilisation' (did you mean context.utilization?)"),
    ("yaml_syntax", "10-rec.yaml:10", "did not find expected ',' or '}' (while parsing a flow mapping that starts on line 9)"),
    ("never_match", "10-rec.yaml:8", "impossible can never match"),
    ("masked", "10-rec.yaml:14", "spot-fp8 can never win: whenever it matches, spot matches first"),
    ("gap", "10-rec.yaml", "ruleset recommendation has a gap: no rule matches context.can_use_spot=False"),
    ("type_mismatch", "10-rec.yaml:14", "context.utilization is a number: '0.7' is not"),
    ("type_mismatch", "10-rec.yaml:15", "context.can_use_spot is a bool: compare it with true or false, not 1"),
    ("type_mismatch", "10-rec.yaml:16", "context.stage is one of experimentation, production: 'prod' is not"),
])
def test_rules_check_names_the_file_the_line_and_the_problem(fixture, where, message):
    proc = run_cli("rules", "check", str(FIXTURES / fixture))
    assert proc.returncode == 2
    expected = f"{FIXTURES / fixture / where}: error: {message}"
    assert any(line.startswith(expected) for line in proc.stderr.splitlines()), proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("fixture", ["misspelt_fact", "yaml_syntax", "type_mismatch"])
def test_run_with_broken_rules_exits_2_with_one_line(fixture):
    proc = run_cli("run", "--rules", str(FIXTURES / fixture), str(REPO / "scenarios"), "--no-audit")
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"advisor: error: invalid rules: {FIXTURES / fixture / '10-rec.yaml'}:")
    assert "Traceback" not in proc.stderr


def test_run_with_a_missing_rules_directory_exits_2():
    proc = run_cli("run", "--rules", "/nonexistent/rules", str(REPO / "scenarios"))
    assert proc.returncode == 2 and "no such rules directory" in proc.stderr and "Traceback" not in proc.stderr


def test_rules_list_json_gives_every_rule_with_its_seed_source():
    proc = run_cli("rules", "list", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    rules = json.loads(proc.stdout)["rules"]
    assert set(rules[0]) == {"id", "ruleset", "title", "source"}
    by_ruleset = {}
    for rule in rules:
        by_ruleset.setdefault(rule["ruleset"], []).append(rule["id"])
        assert rule["source"].strip() and rule["title"].strip()
    # one rule per item of the seed: 4 + 4 advantages, 5 factors (+2 resolving cost per token)
    assert len(by_ruleset["advantages"]) == 9 and len(by_ruleset["factors"]) == 8
    # the recommendation in the seed's order
    assert by_ruleset["recommendation"][:3] == ["rec-fresh-with-budget", "rec-underused-fleet", "rec-spot"]


def test_rules_list_table_is_readable():
    proc = run_cli("rules", "list")
    assert proc.returncode == 0 and "rec-underused-fleet" in proc.stdout and "recommendation" in proc.stdout
