"""Large rule books through the real command: they decide, and agree with the reference evaluator.

Issue 9: a collect ruleset of 100 rules firing on one scenario aborted the process; 512 rules in a
ruleset, or 10 files of 1,000, never finished loading. The books are bench/rulebooks.py's, which
bench/engine.py times: these tests only say the answers are right.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advisor.catalog.load import load_catalog
from advisor.decide import facts as factmod
from advisor.rules import evaluator, loader
from conftest import bench_module, run_cli

BOOKS = bench_module("rulebooks")


def _decided_as_the_evaluator_says(rules: Path, scenarios: Path) -> list[dict]:
    proc = run_cli("run", "--rules", str(rules), str(scenarios), "--no-audit", "--format", "json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    catalog = load_catalog()
    book = loader.load(rules, factmod.schema(catalog))
    decisions = json.loads(proc.stdout)["decisions"]
    for decision in decisions:
        expected = [f.rule for f in evaluator.run(book, decision["facts"])]
        assert [f["rule"] for f in decision["fired_rules"]] == expected, decision["scenario"]
    return decisions


def test_a_hundred_rules_firing_on_one_scenario(tmp_path):
    """The issue's reproduction: 100 rules `h100_wait_weeks > i/10 + 0.1` and a scenario waiting 10
    weeks (64 or more rules fire: SIGABRT; after other scenarios: error 303 and the batch stopped)."""
    rules = BOOKS.with_policy(tmp_path / "rules")
    BOOKS.ruleset_file(rules / "50-waits.yaml", "waits", 50,
                       [(f"wait-{i}", "{fact: context.h100_wait_weeks, gt: %s}" % (i / 10 + 0.1)) for i in range(100)])
    scenarios = tmp_path / "waits.yaml"
    scenarios.write_text("scenarios:\n" + "".join(f"  - {{name: w{w}, context: {{h100_wait_weeks: {w}}}}}\n" for w in (0, 3, 10, 10, 52)))
    decisions = _decided_as_the_evaluator_says(rules, scenarios)
    # worked out: wait-i fires when w > i/10 + 0.1, i.e. for i < 10 w - 1 (at most all 100)
    waits = [sum(1 for f in d["fired_rules"] if f["rule"].startswith("wait-")) for d in decisions]
    assert waits == [0, 29, 99, 99, 100]


@pytest.mark.parametrize("count, scenarios", [(1000, 30), (10000, 8)])
def test_large_generated_books_decide_as_the_evaluator_says(tmp_path, count, scenarios):
    decisions = _decided_as_the_evaluator_says(BOOKS.generated(tmp_path / "rules", count, seed=count),
                                               BOOKS.scenarios(tmp_path / "batch.json", scenarios, seed=count))
    assert len(decisions) == scenarios and all(d["general_answer"]["rule"].startswith("rec-") for d in decisions)
    assert sum(len(d["fired_rules"]) for d in decisions) > scenarios * count // 10  # the generated rules do fire
