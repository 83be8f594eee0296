"""Engine benchmarks: `.venv/bin/python bench/engine.py [--before REV]`. Measured, never asserted in tests.

- per-scenario engine time on the shipped rules, both stages of a decision (facts built and
  validated beforehand, the same 2,000 for every engine; CPU time, best of 5): this tree, and with
  ``--before REV`` the engine of another revision (its tree from `git archive`, run the same way
  in a child process);
- large rule books: the shipped rules plus 1,000 and 10,000 generated rules (bench/rulebooks.py,
  the books tests/test_large_books.py checks the answers of): loading and compiling, the first
  whole decision, the engine on 100 scenarios, peak RSS; each in a child process with a time
  limit, so a hang is reported, not waited;
- `advisor rules check` on the shipped rules (wall time, median of 5).

Part of `make bench`; writes the "engine" section of docs/BENCHMARKS.md (bench/report.py).

Targets (issue 14): 1,000 rules compile and decide a scenario in under 5 s, 10,000 in under 60 s;
`rules check` on the shipped rules under 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import report
import rulebooks

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TARGETS = {1000: 5.0, 10000: 60.0, "rules_check_s": 1.0}

# Runs in a child process with the tree under test first on sys.path: prints one JSON line.
# Both stages of a decision (the seed's rulesets, then the checks and the verdict), on the facts
# the shipped scenarios' decisions validated, and variations of them.
PER_SCENARIO = textwrap.dedent("""
    import json, random, sys, time
    from pathlib import Path
    from advisor.decide.decision import Advisor
    from advisor.scenario import files as scen
    advisor = Advisor(Path(sys.argv[1]))
    stages = getattr(advisor, "engines", None) or [advisor.engine]
    base = [advisor.decide(loaded.scenario).facts for path in sorted(Path(sys.argv[2]).glob("*.yaml"))
            for loaded in scen.parse(str(path), path.read_bytes())]
    rng = random.Random(1)
    prepared = list(base)
    while len(prepared) < 2000:  # variations of the shipped scenarios: flags flipped, figures scaled
        facts = dict(rng.choice(base))
        for k, v in list(facts.items()):
            if isinstance(v, bool) and rng.random() < 0.3:
                facts[k] = not v
            elif isinstance(v, float) and rng.random() < 0.3:
                facts[k] = round(v * rng.uniform(0.5, 1.5), 3)
        prepared.append(facts)
    prepared = [[(stage, stage.validate(facts, only=stage.reads)) for stage in stages] for facts in prepared]
    for pairs in prepared[:50]:
        for stage, facts in pairs:
            stage.run(facts, validated=True)
    times = []
    for _ in range(5):
        start = time.process_time()
        for pairs in prepared:
            for stage, facts in pairs:
                stage.run(facts, validated=True)
        times.append((time.process_time() - start) / len(prepared))
    print(json.dumps({"us": min(times) * 1e6, "median_us": sorted(times)[2] * 1e6}))
""")

# A large book: importing the advisor, loading and compiling the book, one whole decision (the figures, both stages, the
# record), then the engine alone (both stages) on the facts of a batch's decisions.
LARGE = textwrap.dedent("""
    import time
    start = time.perf_counter()
    import json, resource, sys
    from pathlib import Path
    from advisor.decide.decision import Advisor
    from advisor.scenario import files as scen
    advisor = Advisor(Path(sys.argv[1]))
    loaded = time.perf_counter()
    batch = [x.scenario for x in scen.parse(sys.argv[2], Path(sys.argv[2]).read_bytes())]
    first = time.perf_counter()
    fired = len(advisor.decide(batch[0]).fired_rules)
    one = time.perf_counter() - first
    facts = [advisor.decide(s).facts for s in batch]
    prepared = [[(stage, {k: f[k] for k in stage.reads if k in f}) for stage in advisor.engines] for f in facts]
    start_batch = time.process_time()
    for pairs in prepared:
        for stage, values in pairs:
            stage.run(values, validated=True)
    per = (time.process_time() - start_batch) / len(prepared)
    print(json.dumps({"load_compile_s": loaded - start, "one_s": one, "per_scenario_ms": per * 1000, "fired": fired,
                      "compiled": sum(len(stage._compiled) for stage in advisor.engines),
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""")


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
    parser.add_argument("--no-report", action="store_true", help="do not write docs/BENCHMARKS.md")
    args = parser.parse_args()
    rows, verdicts = [], []
    with tempfile.TemporaryDirectory(prefix="advisor-bench-engine-") as tmp:
        work = Path(tmp)
        print("engine on the shipped rules ...", file=sys.stderr)
        now = per_scenario(REPO)
        if "error" in now:
            raise SystemExit(f"bench: the engine on the shipped rules failed: {now['error']}")
        rows.append(("engine, shipped rules, both stages, per scenario (CPU, best of 5)", f"{now['us']:.0f} us",
                     f"median {now['median_us']:.0f} us"))
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
        batch = rulebooks.scenarios(work / "batch.json", 100, seed=3)
        for count in (1000, 10000):
            print(f"{count:,} generated rules ...", file=sys.stderr)
            book = rulebooks.generated(work / f"book{count}", count, seed=count)
            result = child(LARGE, [str(book), str(batch)], REPO, TARGETS[count] * 3)
            if "error" in result:
                rows.append((f"{count:,} rules + shipped", result["error"], ""))
                verdicts.append((f"{count:,} rules compile and decide a scenario in under {TARGETS[count]:.0f} s", False, result["error"]))
                continue
            total = result["load_compile_s"] + result["one_s"]
            rows.append((f"{count:,} rules + shipped: imports, load and compile", f"{result['load_compile_s']:.2f} s",
                         f"{result['compiled']} compiled durable rulesets; peak RSS {result['rss_mb']:.0f} MB"))
            rows.append((f"{count:,} rules + shipped: the first decision", f"{result['one_s']:.2f} s",
                         f"figures, both stages, record; {result['fired']:,} rules fired"))
            rows.append((f"{count:,} rules + shipped: the engine per scenario", f"{result['per_scenario_ms']:.1f} ms",
                         "both stages, 100 scenarios (CPU)"))
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
    if not args.no_report:
        report.write_section("engine", "## The engine, and large rule books\n\n" + report.ran(".venv/bin/python bench/engine.py")
                             + "\n\n```\n" + "\n".join(lines) + "\n```")
    return 0 if all(ok for _, ok, _ in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
