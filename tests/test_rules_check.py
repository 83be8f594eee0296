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
    ("unknown_gpu", "10-rec.yaml:13", "outcome.gpu: 'tpu-v9; rm -rf / $(id)' is not one of a100-40gb, a100-80gb"),
    ("format_width", "10-rec.yaml:13", "{workload.weights_gb:>100000000}: a width of at most 100, not 100000000"),
    ("huge_threshold", "10-rec.yaml:9", "99999999999999999999...(400 characters) is outside the range rules compare"),
    ("bad_template", "10-rec.yaml:13", "not a valid template (expected '}' before end of string)"),
    ("no_first_hit", "20-advantages.yaml", "no first-hit ruleset: a rule book needs one (hit_policy: first)"),
])
def test_rules_check_names_the_file_the_line_and_the_problem(fixture, where, message):
    proc = run_cli("rules", "check", str(FIXTURES / fixture))
    assert proc.returncode == 2
    expected = f"{FIXTURES / fixture / where}: error: {message}"
    assert any(line.startswith(expected) for line in proc.stderr.splitlines()), proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("fixture", ["misspelt_fact", "yaml_syntax", "type_mismatch", "unknown_gpu", "format_width",
                                     "huge_threshold", "bad_template", "gap", "no_first_hit"])
def test_run_with_broken_rules_exits_2_with_one_line(fixture):
    """Before: the last five were an internal error (a bug), or decided with a GPU the catalog does
    not have, 100 MB of spaces, or "(no recommendation)" and exit 0."""
    proc = run_cli("run", "--rules", str(FIXTURES / fixture), str(REPO / "scenarios"), "--no-audit")
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    where = FIXTURES / fixture / ("10-rec.yaml" if fixture != "no_first_hit" else "20-advantages.yaml")
    assert len(lines) == 1 and lines[0].startswith(f"advisor: error: invalid rules: {where}"), proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


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


def test_an_outcome_gpu_misspelt_in_a_mix_gets_a_suggestion():
    proc = run_cli("rules", "check", str(FIXTURES / "unknown_gpu"))
    line = next(line for line in proc.stderr.splitlines() if ":19:" in line)
    assert "outcome.gpu: 'a100-80g' is not one of" in line and "(did you mean a100-80gb" in line


def test_rules_check_of_the_data_directory_checks_its_policy(tmp_path):
    """`advisor rules check rules` (catalogs/ beside policy/) reported the catalogs as 29 errors."""
    proc = run_cli("rules", "check", "rules", cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[0] == "note: rules holds the catalogs beside the rules: checking its rule files, in rules/policy"
    assert "recommendation: 6 rules" in proc.stdout
    run = run_cli("run", "--rules", "rules", "scenarios/spot.yaml", "--no-audit", "--format", "json", cwd=REPO)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["decisions"][0]["general_answer"]["rule"] == "rec-spot"


def test_a_data_directory_with_rules_outside_policy_is_read_whole(tmp_path):
    """policy/ is taken alone only when nothing else there is a rule file: no ruleset is dropped."""
    import shutil

    shutil.copytree(REPO / "rules" / "policy", tmp_path / "policy")
    (tmp_path / "more").mkdir()
    shutil.copy(FIXTURES / "no_first_hit" / "20-advantages.yaml", tmp_path / "more" / "25-extra.yaml")
    proc = run_cli("rules", "check", str(tmp_path))
    assert "note:" not in proc.stderr
    assert "ruleset 'advantages' is also defined in" in proc.stderr  # read, both of them


def test_an_unreadable_rules_subdirectory_is_an_error_not_a_missing_ruleset(tmp_path, monkeypatch):
    """A subdirectory that cannot be listed was skipped: a whole ruleset gone, decisions without it.
    (Run as root here, so permissions are simulated: listing that one directory fails.)"""
    import os
    import shutil

    from advisor.rules import loader

    shutil.copytree(REPO / "rules" / "policy", tmp_path / "policy")
    hidden = tmp_path / "policy" / "sub"
    hidden.mkdir()
    shutil.move(tmp_path / "policy" / "40-recommendation.yaml", hidden / "40-recommendation.yaml")
    real = os.scandir

    def scandir(path="."):
        if os.fspath(path) == str(hidden):
            raise PermissionError(13, "Permission denied", str(hidden))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    book, problems = loader.parse_directory(tmp_path / "policy", {})
    assert book is None
    assert [str(p) for p in problems] == [f"{hidden}: error: cannot read this directory (Permission denied): "
                                          "its rule files would be left out"]


def test_a_rule_beyond_the_engines_limits_is_refused_by_check_and_run(tmp_path):
    """durable-rules joins at most 16 facts per rule (MAX_MESSAGE_FRAMES): a rule reading 16 derived
    flags failed with error 304 on every scenario; now rules check and run name its file:line."""
    import shutil

    rules = tmp_path / "policy"
    shutil.copytree(REPO / "rules" / "policy", rules)
    lines = ["ruleset: flags", "order: 35", "hit_policy: collect", "title: t", "source: s", "rules:"]
    for i in range(16):
        lines += [f"  - id: set-{i}", "    title: t", "    source: s", "    when: always", f"    then: {{assert: f{i}}}"]
    lines += ["  - id: reads-all", "    title: t", "    source: s",
              "    when: {all: [" + ", ".join(f"{{fact: derived.f{i}, eq: true}}" for i in range(16)) + "]}",
              "    then: {factor: {factor: all-flags, choice: H100, reason: every flag}}"]
    (rules / "35-flags.yaml").write_text("\n".join(lines) + "\n")
    expected = f"{rules / '35-flags.yaml'}:87: error: reads-all reads 16 derived facts; at most 15"
    check = run_cli("rules", "check", str(rules))
    assert check.returncode == 2 and any(line.startswith(expected) for line in check.stderr.splitlines()), check.stderr
    run = run_cli("run", "--rules", str(rules), str(REPO / "scenarios" / "spot.yaml"), "--no-audit")
    assert run.returncode == 2 and run.stderr.startswith(f"advisor: error: invalid rules: {rules / '35-flags.yaml'}:87: reads-all")
