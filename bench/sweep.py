"""The sweep at scale (issue 13): 100,000 points with --jobs 2 in under a minute, memory flat.

Runs `advisor sweep` end to end (CSV to /dev/null) on a grid of the H100 price x the A100 fleet's
utilization at 10,000 and 100,000 points, with its wall time, CPU time and the peak RSS of its
largest process, then profiles 2,000 points in one process to say where a point's time goes.
Writes the "Sweeps" section of docs/BENCHMARKS.md (bench/report.py; the other sections stay).

    .venv/bin/python bench/sweep.py
"""

from __future__ import annotations

import cProfile
import os
import pstats
import resource
import subprocess
import sys
import time
from pathlib import Path

import report

ROOT = Path(__file__).resolve().parent.parent
ADVISOR = str(Path(sys.executable).with_name("advisor"))
SCENARIO = ROOT / "docs" / "fleet-pair.yaml"  # the README's sweep example
#: The first axis varies slowest: each chunk of points a worker takes shares a few prices (and so their plans).
GRIDS = {10_000: ("price.h100-80gb=1.5..6.45/0.05", "utilization=0.01..1/0.01"),
         100_000: ("price.h100-80gb=1.5..6.495/0.005", "utilization=0.01..1/0.01")}
TARGET_S = 60.0


def run_sweep(scenario: Path, axes: tuple, jobs: int) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    with open(os.devnull, "w") as sink:
        proc = subprocess.run([ADVISOR, "sweep", str(scenario), "--vary", axes[0], "--vary", axes[1], "--jobs", str(jobs),
                               "--format", "csv"], stdout=sink, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert proc.returncode == 0, proc.stderr
    return {"wall": wall, "cpu": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
            "rss_mb": after.ru_maxrss / 1024, "load": (load + os.getloadavg()[0]) / 2}


def profile(scenario: Path, points: int = 2_000) -> list[tuple[str, float]]:
    """Microseconds per point in each part of deciding it, in one process (cProfile's cumulative times)."""
    import functools

    from advisor.cli.commands import prepare_point
    from advisor.decide import sweep as sweeps
    from advisor.decide.axes import parse_axis
    from advisor.decide.decision import Advisor
    from advisor.render.sweeps import SweepLines

    advisor = Advisor()
    axes = [parse_axis(a) for a in GRIDS[100_000]]
    spec = sweeps.read(str(scenario), axes, advisor.catalog)
    lines = SweepLines(spec, "csv", tuple(advisor.catalog.gpus), 16, 20)
    prepare = functools.partial(prepare_point, lines=lines, record=False)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in sweeps.decide_range(advisor, spec, 0, points, prepare):
        pass
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    cumulative = lambda name: sum(v[3] for (file, _, function), v in stats.items() if function == name and "advisor" in file)  # noqa: E731
    parts = [("whole point (decide_range)", cumulative("decide_range")),
             ("  scenario data and validation (files.from_data)", cumulative("from_data")),
             ("  Advisor.decide", cumulative("decide") - cumulative("decide_values")),
             ("    of which the planner (distinct prices)", cumulative("plan_all")),
             ("    of which the rules engine", cumulative("_run")),
             ("  the point's summary and CSV line (prepare_point)", cumulative("prepare_point"))]
    return [(name, seconds / points * 1e6) for name, seconds in parts]


def main() -> None:
    scenario = SCENARIO
    results = {size: run_sweep(scenario, axes, 2) for size, axes in GRIDS.items()}
    parts = profile(scenario)
    lines = ["## Sweeps", "", report.ran(".venv/bin/python bench/sweep.py"), "", "```"]
    for size, r in results.items():
        lines.append(f"advisor sweep, {size:>7,} points, --jobs 2  {r['wall']:6.1f} s  {size / r['wall']:6,.0f} points/s  "
                     f"CPU {r['cpu']:6.1f} s  peak RSS {r['rss_mb']:4.0f} MB (largest process)  load average {r['load']:.1f}")
    big = results[100_000]
    lines += ["", f"{'met' if big['wall'] < TARGET_S else 'MISSED':6}  100,000 points with --jobs 2 under {TARGET_S:.0f} s: {big['wall']:.1f} s",
              f"{'met' if big['rss_mb'] < 1.5 * results[10_000]['rss_mb'] else 'MISSED':6}  memory flat: "
              f"{results[10_000]['rss_mb']:.0f} MB at 10,000, {big['rss_mb']:.0f} MB at 100,000", "",
              "one process, 2,000 points of the 100,000-point grid, per point:"]
    lines += [f"  {name:<55} {us:7,.0f} us" for name, us in parts]
    lines += ["```"]
    section = "\n".join(lines)
    print(section)
    report.write_section("sweep", section)


if __name__ == "__main__":
    main()
