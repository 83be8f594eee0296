"""Benchmarks: `make bench`. Prints a table and writes docs/BENCHMARKS.md with the machine it ran on.

Measured, never asserted in unit tests: the bare engine (compiled shipped rules, facts validated
beforehand), the reference evaluator on the same facts, `advisor run` end to end on 10,000 and
100,000 generated scenarios (YAML parsing, validation, costs, output and audit writes included)
with its peak RSS, `--jobs` scaling, and the cold start of `advisor --help` and of
`advisor run one.yaml`. Then the engine/evaluator differential test at 100,000 examples.
"""

from __future__ import annotations

import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ADVISOR = str(BIN / "advisor")
PER_FILE = 1_000  # scenarios per generated file: a file is the unit of work of --jobs

TARGETS = {  # the targets of issue 5, on a 2-core machine
    "end_to_end_ratio": 0.7, "jobs2_speedup": 1.7, "peak_rss_mb": 150, "help_s": 0.15, "run_one_s": 0.5}


def generate(directory: Path, count: int, seed: int = 7) -> Path:
    """What-if sweeps as a team writes them: prices, utilization, models, traffic."""
    rng = random.Random(seed)
    models = ["llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3-8b", "llama-3-70b"]
    directory.mkdir(parents=True, exist_ok=True)
    for start in range(0, count, PER_FILE):
        lines = ["scenarios:"]
        for i in range(start, min(count, start + PER_FILE)):
            ctx = [f"starting_fresh: {str(rng.random() < 0.4).lower()}", f"can_use_spot: {str(rng.random() < 0.25).lower()}",
                   f"using_fp8: {str(rng.random() < 0.2).lower()}"]
            if rng.random() < 0.5:
                ctx += ["have_a100_fleet: true", f"utilization: {rng.uniform(0.2, 1.0):.2f}"]
            if rng.random() < 0.5:
                ctx.append(f"optimize_for: {rng.choice(['latency', 'cost_per_token', 'throughput_per_gpu', 'availability'])}")
            if rng.random() < 0.5:
                ctx.append(f"stage: {rng.choice(['experimentation', 'production'])}")
            workload = [f"model: {rng.choice(models)}"]
            if rng.random() < 0.3:
                workload.append(f"tokens_per_day: {rng.choice([1e7, 1e8, 1e9]):.0f}")
            lines.append(f"  - name: s{i}\n    context: {{{', '.join(ctx)}}}\n    workload: {{{', '.join(workload)}}}\n"
                         f"    prices: {{h100-80gb: {rng.choice([2.5, 3.0, 3.5, 3.95, 4.5])}, a100-80gb: {rng.choice([1.8, 2.2, 2.5])}}}")
        (directory / f"batch-{start // PER_FILE:04d}.yaml").write_text("\n".join(lines) + "\n")
    return directory


def bare_engine_and_evaluator(scenario_dir: Path, count: int) -> tuple[float, float]:
    """Sessions per second of the engine alone, and of the reference evaluator, on the same facts."""
    from advisor.rules import evaluator
    from advisor.decide import facts as factmod
    from advisor.scenario import files as scen
    from advisor.decide.decision import Advisor

    advisor = Advisor()
    prepared = []
    for path in sorted(scenario_dir.glob("*.yaml")):
        for loaded in scen.parse(str(path), path.read_bytes()):
            values = factmod.build(loaded.scenario, advisor.catalog).values
            prepared.append(advisor.engine.validate({k: v for k, v in values.items() if k in advisor.engine.reads}))
            if len(prepared) == count:
                break
        if len(prepared) == count:
            break
    start = time.perf_counter()
    for facts in prepared:
        advisor.engine.run(facts, validated=True)
    engine_rate = len(prepared) / (time.perf_counter() - start)
    start = time.perf_counter()
    for facts in prepared:
        evaluator.run(advisor.book, facts)
    return engine_rate, len(prepared) / (time.perf_counter() - start)


def timed_run(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one advisor process."""
    start = time.perf_counter()
    proc = subprocess.Popen([ADVISOR, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench: advisor {' '.join(args)} failed: {proc.stderr.read().decode()[-500:]}")
    return wall, usage.ru_maxrss / 1024


def end_to_end(scenario_dir: Path, count: int, jobs: int, work: Path) -> tuple[float, float]:
    db = work / f"audit-{count}-{jobs}.sqlite3"
    wall, rss = timed_run(["run", str(scenario_dir), "--format", "json", "--jobs", str(jobs), "--audit-db", str(db)])
    return count / wall, rss


def cold_start(work: Path) -> tuple[float, float]:
    one = REPO / "scenarios" / "spot.yaml"
    helps = [timed_run(["--help"])[0] for _ in range(7)]
    runs = [timed_run(["run", str(one), "--audit-db", str(work / "one.sqlite3")])[0] for _ in range(7)]
    return statistics.median(helps), statistics.median(runs)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    mem = next((int(line.split()[1]) // 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), 0) if Path("/proc/meminfo").exists() else 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu}, {cores} cores, {mem:,} MB RAM, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def main() -> int:
    rows, verdicts = [], []
    with tempfile.TemporaryDirectory(prefix="advisor-bench-") as tmp:
        work = Path(tmp)
        print("generating 100,000 scenarios ...", file=sys.stderr)
        small = generate(work / "s10k", 10_000)
        large = generate(work / "s100k", 100_000, seed=8)

        print("bare engine and reference evaluator ...", file=sys.stderr)
        engine_rate, evaluator_rate = bare_engine_and_evaluator(small, 10_000)
        rows.append(("bare engine (shipped rules, validated facts)", f"{engine_rate:,.0f} sessions/s", ""))
        rows.append(("reference evaluator (same facts)", f"{evaluator_rate:,.0f} scenarios/s", f"{evaluator_rate / engine_rate:.1f}x the engine"))

        print("advisor run, 10,000 and 100,000 scenarios ...", file=sys.stderr)
        rate10, rss10 = end_to_end(small, 10_000, 1, work)
        rate100, rss100 = end_to_end(large, 100_000, 1, work)
        ratio = rate10 / engine_rate
        rows.append(("advisor run, 10,000 scenarios, 1 job", f"{rate10:,.0f} scenarios/s", f"{ratio:.2f}x the bare engine; peak RSS {rss10:.0f} MB"))
        rows.append(("advisor run, 100,000 scenarios, 1 job", f"{rate100:,.0f} scenarios/s", f"peak RSS {rss100:.0f} MB"))
        verdicts.append(("end to end >= 0.7x the bare engine at 10,000", ratio >= TARGETS["end_to_end_ratio"], f"{ratio:.2f}x"))
        verdicts.append(("peak RSS < 150 MB at 100,000", rss100 < TARGETS["peak_rss_mb"], f"{rss100:.0f} MB"))

        print("--jobs scaling ...", file=sys.stderr)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        speedup2 = None
        for jobs in sorted({2, cores}):
            rate, rss = end_to_end(small, 10_000, jobs, work)
            speedup = rate / rate10
            speedup2 = speedup if jobs == 2 else speedup2
            rows.append((f"advisor run, 10,000 scenarios, --jobs {jobs}", f"{rate:,.0f} scenarios/s", f"{speedup:.2f}x one job; peak RSS {rss:.0f} MB (main process)"))
        verdicts.append(("--jobs 2 >= 1.7x one job", speedup2 >= TARGETS["jobs2_speedup"], f"{speedup2:.2f}x"))

        print("cold start ...", file=sys.stderr)
        help_s, one_s = cold_start(work)
        rows.append(("advisor --help (median of 7)", f"{help_s * 1000:.0f} ms", ""))
        rows.append(("advisor run one.yaml (median of 7)", f"{one_s * 1000:.0f} ms", ""))
        verdicts.append(("advisor --help < 0.15 s", help_s < TARGETS["help_s"], f"{help_s:.3f} s"))
        verdicts.append(("advisor run one.yaml < 0.5 s", one_s < TARGETS["run_one_s"], f"{one_s:.3f} s"))

    width = max(len(r[0]) for r in rows)
    lines = [f"{name:<{width}}  {value:>20}  {note}".rstrip() for name, value, note in rows]
    lines += [""] + [f"{'met   ' if ok else 'MISSED'}  {target}: {value}" for target, ok, value in verdicts]
    print("\n".join(lines))

    print("\ndifferential test, 100,000 random contexts ...", file=sys.stderr)
    env = {**os.environ, "ADVISOR_DIFFERENTIAL_EXAMPLES": "100000"}
    started = time.perf_counter()
    diff = subprocess.run([str(BIN / "pytest"), "-q", "-p", "no:cacheprovider", str(REPO / "tests" / "test_engine.py"), "-k", "at_scale"],
                          env=env, capture_output=True, text=True)
    diff_line = (f"engine vs reference evaluator, 100,000 random contexts: {'agree' if diff.returncode == 0 else 'DISAGREE'} "
                 f"({time.perf_counter() - started:.0f} s)")
    print(diff_line)
    write_report(machine(), lines, diff_line)
    return 0 if diff.returncode == 0 else 1


def write_report(host: str, lines: list[str], diff_line: str) -> None:
    report = REPO / "docs" / "BENCHMARKS.md"
    report.parent.mkdir(exist_ok=True)
    notes = report.read_text().split("<!-- notes -->", 1)[1] if report.exists() and "<!-- notes -->" in report.read_text() else "\n"
    report.write_text(
        "# Benchmarks\n\n"
        f"`make bench` on {date.today().isoformat()}: {host}.\n\n"
        "```\n" + "\n".join(lines) + "\n\n" + diff_line + "\n```\n\n"
        "<!-- notes -->" + notes)
    print(f"\nwritten: {report}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
