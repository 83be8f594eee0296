"""Large rule books through the real command: they decide, and agree with the reference evaluator.

Issue 9: a collect ruleset of 100 rules firing on one scenario aborted the process; 512 rules in a
ruleset, or 10 files of 1,000, never finished loading. Speed is measured by bench/engine.py, not
here: these tests only say the answers are right.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

from advisor.catalog.load import load_catalog
from advisor.decide import facts as factmod
from advisor.rules import evaluator, loader
from conftest import REPO, run_cli

POLICY = REPO / "rules" / "policy"
NUMBERS = ["context.h100_wait_weeks", "context.utilization", "plan.h100-80gb.usd_per_million_tokens",
           "plan.a100-80gb.usd_per_million_tokens", "compare.h100_vs_a100.cost_ratio", "plan.b200.replicas"]
FLAGS = ["context.can_use_spot", "context.using_fp8", "context.starting_fresh"]


def _with_policy(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for path in POLICY.glob("*.yaml"):
        if not path.name.endswith(".cases.yaml"):
            shutil.copy(path, directory / path.name)
    return directory


def _ruleset_file(path: Path, name: str, order: int, rules: list[tuple[str, str]]) -> None:
    lines = [f"ruleset: {name}", f"order: {order}", "hit_policy: collect", "title: generated", "source: generated", "rules:"]
    for rule_id, when in rules:
        lines += [f"  - id: {rule_id}", "    title: generated", "    source: generated", f"    when: {when}",
                  f"    then: {{factor: {{factor: {rule_id}, choice: H100, reason: 'waits {{context.h100_wait_weeks}} weeks'}}}}"]
    path.write_text("\n".join(lines) + "\n")


def _generated(directory: Path, count: int, seed: int) -> Path:
    """The shipped rules and ``count`` generated ones in files of 1,000: all / any / not over
    thresholds and flags, as a team extending the rules might write them."""
    rng = random.Random(seed)

    def compare():
        if rng.random() < 0.7:
            return "{fact: %s, %s: %s}" % (rng.choice(NUMBERS), rng.choice(["gt", "ge", "lt", "le"]), round(rng.uniform(0, 40), 2))
        return "{fact: %s, eq: %s}" % (rng.choice(FLAGS), rng.choice(["true", "false"]))

    _with_policy(directory)
    for k in range(0, count, 1000):
        rules = []
        for i in range(k, min(count, k + 1000)):
            shape = rng.random()
            when = ("{all: [%s, %s]}" % (compare(), compare()) if shape < 0.5 else
                    "{any: [%s, %s, %s]}" % (compare(), compare(), compare()) if shape < 0.8 else "{not: %s}" % compare())
            rules.append((f"g{i}", when))
        _ruleset_file(directory / f"{50 + k // 1000}-extra{k // 1000}.yaml", f"extra{k // 1000}", 50 + k // 1000, rules)
    return directory


def _scenarios(path: Path, count: int, seed: int) -> Path:
    rng = random.Random(seed)
    entries = []
    for i in range(count):
        context = {"h100_wait_weeks": rng.choice([0, 2, 5, 10, 26, 52]), "can_use_spot": rng.random() < 0.5,
                   "using_fp8": rng.random() < 0.3, "starting_fresh": rng.random() < 0.4}
        if rng.random() < 0.5:
            context.update(have_a100_fleet=True, utilization=round(rng.uniform(0.2, 1.0), 2))
        entries.append({"name": f"s{i}", "context": context, "workload": {"batch": rng.choice([1, 8, 16, 32])}})
    path.write_text(json.dumps({"scenarios": entries}))
    return path


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
    rules = _with_policy(tmp_path / "rules")
    _ruleset_file(rules / "50-waits.yaml", "waits", 50,
                  [(f"wait-{i}", "{fact: context.h100_wait_weeks, gt: %s}" % (i / 10 + 0.1)) for i in range(100)])
    scenarios = tmp_path / "waits.yaml"
    scenarios.write_text("scenarios:\n" + "".join(f"  - {{name: w{w}, context: {{h100_wait_weeks: {w}}}}}\n" for w in (0, 3, 10, 10, 52)))
    decisions = _decided_as_the_evaluator_says(rules, scenarios)
    # worked out: wait-i fires when w > i/10 + 0.1, i.e. for i < 10 w - 1 (at most all 100)
    waits = [sum(1 for f in d["fired_rules"] if f["rule"].startswith("wait-")) for d in decisions]
    assert waits == [0, 29, 99, 99, 100]


@pytest.mark.parametrize("count, scenarios", [(1000, 30), (10000, 8)])
def test_large_generated_books_decide_as_the_evaluator_says(tmp_path, count, scenarios):
    decisions = _decided_as_the_evaluator_says(_generated(tmp_path / "rules", count, seed=count),
                                               _scenarios(tmp_path / "batch.json", scenarios, seed=count))
    assert len(decisions) == scenarios and all(d["general_answer"]["rule"].startswith("rec-") for d in decisions)
    assert sum(len(d["fired_rules"]) for d in decisions) > scenarios * count // 10  # the generated rules do fire
