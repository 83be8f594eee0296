"""Engine benchmarks: `.venv/bin/python bench/engine.py [--before REV]`. Measured, never asserted in tests.

- per-scenario engine time on the shipped rules (facts built and validated beforehand, the same
  2,000 for every engine; CPU time, best of 5): this tree, and with ``--before REV`` the engine of
  another revision (its tree from `git archive`, run the same way in a child process);
- large rule books: the shipped rules plus 1,000 and 10,000 generated rules (files of 1,000:
  all / any / not over thresholds and flags): loading and compiling, one scenario, a batch of 100
  scenarios, peak RSS; each in a child process with a time limit, so a hang is reported, not waited;
- `advisor rules check` on the shipped rules (wall time, median of 5).

Targets (issue 14): 1,000 rules compile and decide a scenario in under 5 s, 10,000 in under 60 s;
`rules check` on the shipped rules under 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TARGETS = {1000: 5.0, 10000: 60.0, "rules_check_s": 1.0}
NUMBERS = ["context.h100_wait_weeks", "context.utilization", "cost.h100-80gb.cost_per_million_tokens",
           "cost.a100-80gb.cost_per_million_tokens", "compare.h100_vs_a100.cost_ratio", "workload.batch"]
FLAGS = ["context.can_use_spot", "context.using_fp8", "context.starting_fresh"]

# Runs in a child process with the tree under test first on sys.path: prints one JSON line.
PER_SCENARIO = textwrap.dedent("""
    import json, random, sys, time
    from pathlib import Path
    from advisor.decide.decision import Advisor
    from advisor.decide import facts as factmod
    from advisor.scenario import files as scen
    advisor = Advisor(Path(sys.argv[1]))
    prepared = []
    for path in sorted(Path(sys.argv[2]).glob("*.yaml")):
        for loaded in scen.parse(str(path), path.read_bytes()):
            values = factmod.build(loaded.scenario, advisor.catalog).values
            prepared.append(advisor.engine.validate(values, only=advisor.engine.reads))
    rng = random.Random(1)
    base = list(prepared)
    while len(prepared) < 2000:  # variations of the shipped scenarios: flags flipped, figures scaled
        facts = dict(rng.choice(base))
        for k, v in list(facts.items()):
            if isinstance(v, bool) and rng.random() < 0.3:
                facts[k] = not v
            elif isinstance(v, float) and rng.random() < 0.3:
                facts[k] = round(v * rng.uniform(0.5, 1.5), 3)
        prepared.append(advisor.engine.validate(facts))
    for facts in prepared[:50]:
        advisor.engine.run(facts, validated=True)
    times = []
    for _ in range(5):
        start = time.process_time()
        for facts in prepared:
            advisor.engine.run(facts, validated=True)
        times.append((time.process_time() - start) / len(prepared))
    print(json.dumps({"us": min(times) * 1e6, "median_us": sorted(times)[2] * 1e6}))
""")

LARGE = textwrap.dedent("""
    import json, resource, sys, time
    from pathlib import Path
    from advisor.decide.decision import Advisor
    from advisor.decide import facts as factmod
    from advisor.scenario import files as scen
    start = time.perf_counter()
    advisor = Advisor(Path(sys.argv[1]))
    loaded = time.perf_counter()
    batch = [x.scenario for x in scen.parse(sys.argv[2], Path(sys.argv[2]).read_bytes())]
    facts = [advisor.engine.validate({k: v for k, v in factmod.build(s, advisor.catalog).values.items() if k in advisor.engine.reads})
             for s in batch]
    first = time.perf_counter()
    fired = len(advisor.engine.run(facts[0], validated=True))
    one = time.perf_counter() - first
    start_batch = time.process_time()
    for f in facts:
        advisor.engine.run(f, validated=True)
    per = (time.process_time() - start_batch) / len(facts)
    print(json.dumps({"load_compile_s": loaded - start, "one_s": one, "per_scenario_ms": per * 1000, "fired": fired,
                      "compiled": len(advisor.engine._compiled), "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""")


def generated_book(directory: Path, count: int, seed: int) -> Path:
    """The shipped rules and ``count`` generated collect rules in files of 1,000 (as tests/test_large_books.py)."""
    rng = random.Random(seed)

    def compare():
        if rng.random() < 0.7:
            return "{fact: %s, %s: %s}" % (rng.choice(NUMBERS), rng.choice(["gt", "ge", "lt", "le"]), round(rng.uniform(0, 40), 2))
        return "{fact: %s, eq: %s}" % (rng.choice(FLAGS), rng.choice(["true", "false"]))

    directory.mkdir(parents=True)
    for path in (REPO / "rules" / "policy").glob("*.yaml"):
        if not path.name.endswith(".cases.yaml"):
            shutil.copy(path, directory / path.name)
    for k in range(0, count, 1000):
        lines = [f"ruleset: extra{k // 1000}", f"order: {50 + k // 1000}", "hit_policy: collect", "title: generated",
                 "source: generated", "rules:"]
        for i in range(k, min(count, k + 1000)):
            shape = rng.random()
            when = ("{all: [%s, %s]}" % (compare(), compare()) if shape < 0.5 else
                    "{any: [%s, %s, %s]}" % (compare(), compare(), compare()) if shape < 0.8 else "{not: %s}" % compare())
            lines += [f"  - id: g{i}", "    title: generated", "    source: generated", f"    when: {when}",
                      f"    then: {{factor: {{factor: g{i}, choice: H100, reason: 'waits {{context.h100_wait_weeks}} weeks'}}}}"]
        (directory / f"{50 + k // 1000}-extra{k // 1000}.yaml").write_text("\n".join(lines) + "\n")
    return directory


def scenarios(path: Path, count: int, seed: int = 3) -> Path:
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


def child(script: str, args: list[str], tree: Path, timeout: float) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    try:
        proc = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=timeout, env=env,
                              cwd=tempfile.gettempdir())
    except subprocess.TimeoutExpired:
        return {"error": f"no answer within {timeout:.0f} s (a hang)"}
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}: {(proc.stderr.strip().splitlines() or ['?'])[-1][:200]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def per_scenario(tree: Path) -> dict:
    return child(PER_SCENARIO, [str(tree / "rules" / "policy"), str(REPO / "scenarios")], tree, 600)


def rules_check() -> float:
    times = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([str(BIN / "advisor"), "rules", "check"], capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="a git revision whose engine to measure the same way (e.g. HEAD~5)")
    args = parser.parse_args()
    rows, verdicts = [], []
    with tempfile.TemporaryDirectory(prefix="advisor-bench-engine-") as tmp:
        work = Path(tmp)
        print("engine on the shipped rules ...", file=sys.stderr)
        now = per_scenario(REPO)
        rows.append(("engine, shipped rules, per scenario (CPU, best of 5)", f"{now['us']:.0f} us", f"median {now['median_us']:.0f} us"))
        if args.before:
            before_tree = work / "before"
            before_tree.mkdir()
            archive = subprocess.run(["git", "-C", str(REPO), "archive", args.before], capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", str(before_tree)], input=archive, check=True)
            then = per_scenario(before_tree)
            if "error" in then:
                rows.append((f"engine of {args.before}, same facts", then["error"], ""))
            else:
                rows.append((f"engine of {args.before}, same facts", f"{then['us']:.0f} us",
                             f"median {then['median_us']:.0f} us; this tree is {then['us'] / now['us']:.1f}x faster"))
        batch = scenarios(work / "batch.json", 100)
        for count in (1000, 10000):
            print(f"{count:,} generated rules ...", file=sys.stderr)
            book = generated_book(work / f"book{count}", count, seed=count)
            result = child(LARGE, [str(book), str(batch)], REPO, TARGETS[count] * 3)
            if "error" in result:
                rows.append((f"{count:,} rules + shipped", result["error"], ""))
                verdicts.append((f"{count:,} rules compile and decide a scenario in under {TARGETS[count]:.0f} s", False, result["error"]))
                continue
            total = result["load_compile_s"] + result["one_s"]
            rows.append((f"{count:,} rules + shipped: load and compile", f"{result['load_compile_s']:.2f} s",
                         f"{result['compiled']} compiled durable rulesets; peak RSS {result['rss_mb']:.0f} MB"))
            rows.append((f"{count:,} rules + shipped: per scenario", f"{result['per_scenario_ms']:.1f} ms",
                         f"100 scenarios (CPU); the first fired {result['fired']:,} rules"))
            verdicts.append((f"{count:,} rules compile and decide a scenario in under {TARGETS[count]:.0f} s",
                             total < TARGETS[count], f"{total:.2f} s"))
        print("rules check ...", file=sys.stderr)
        check_s = rules_check()
        rows.append(("advisor rules check, shipped rules (median of 5)", f"{check_s * 1000:.0f} ms", "wall, with start-up"))
        verdicts.append(("rules check on the shipped rules under 1 s", check_s < TARGETS["rules_check_s"], f"{check_s:.2f} s"))
    width = max(len(r[0]) for r in rows)
    lines = [f"{name:<{width}}  {value:>12}  {note}".rstrip() for name, value, note in rows]
    lines += [""] + [f"{'met   ' if ok else 'MISSED'}  {target}: {value}" for target, ok, value in verdicts]
    print("\n".join(lines))
    return 0 if all(ok for _, ok, _ in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
