"""Large rule books, generated: the shipped rules and N more, as a team extending them might write.

One generator for the large-book tests (tests/test_large_books.py: the answers are right) and the
large-book benchmark (bench/engine.py: how long they take), so both use fact names the schema
has. The generated rules are collect rules in files of 1,000 (``order`` 50 and on: after the
general answer, so they run in the decision's second stage), each an ``all`` of two comparisons,
an ``any`` of three or a ``not`` of one, over thresholds of numbers and flags a scenario has.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

POLICY = Path(__file__).resolve().parent.parent / "rules" / "policy"
NUMBERS = ["context.h100_wait_weeks", "context.utilization", "plan.h100-80gb.usd_per_million_tokens",
           "plan.a100-80gb.usd_per_million_tokens", "compare.h100_vs_a100.cost_ratio", "plan.b200.replicas"]
FLAGS = ["context.can_use_spot", "context.using_fp8", "context.starting_fresh"]
PER_FILE = 1_000


def with_policy(directory: Path) -> Path:
    """``directory`` holding a copy of the shipped rules (their cases left out)."""
    directory.mkdir(parents=True, exist_ok=True)
    for path in POLICY.glob("*.yaml"):
        if not path.name.endswith(".cases.yaml"):
            shutil.copy(path, directory / path.name)
    return directory


def ruleset_file(path: Path, name: str, order: int, rules: list[tuple[str, str]]) -> None:
    """A collect ruleset of ``rules`` (id, condition in YAML flow style), each a factor whose
    reason fills a template."""
    lines = [f"ruleset: {name}", f"order: {order}", "hit_policy: collect", "title: generated", "source: generated", "rules:"]
    for rule_id, when in rules:
        lines += [f"  - id: {rule_id}", "    title: generated", "    source: generated", f"    when: {when}",
                  f"    then: {{factor: {{factor: {rule_id}, choice: H100, reason: 'waits {{context.h100_wait_weeks}} weeks'}}}}"]
    path.write_text("\n".join(lines) + "\n")


def generated(directory: Path, count: int, seed: int) -> Path:
    """The shipped rules and ``count`` generated ones under ``directory``."""
    rng = random.Random(seed)

    def compare():
        if rng.random() < 0.7:
            return "{fact: %s, %s: %s}" % (rng.choice(NUMBERS), rng.choice(["gt", "ge", "lt", "le"]), round(rng.uniform(0, 40), 2))
        return "{fact: %s, eq: %s}" % (rng.choice(FLAGS), rng.choice(["true", "false"]))

    with_policy(directory)
    for k in range(0, count, PER_FILE):
        rules = []
        for i in range(k, min(count, k + PER_FILE)):
            shape = rng.random()
            when = ("{all: [%s, %s]}" % (compare(), compare()) if shape < 0.5 else
                    "{any: [%s, %s, %s]}" % (compare(), compare(), compare()) if shape < 0.8 else "{not: %s}" % compare())
            rules.append((f"g{i}", when))
        ruleset_file(directory / f"{50 + k // PER_FILE}-extra{k // PER_FILE}.yaml", f"extra{k // PER_FILE}", 50 + k // PER_FILE, rules)
    return directory


def scenarios(path: Path, count: int, seed: int) -> Path:
    """``count`` scenarios in one JSON file that the generated rules' facts vary over."""
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
