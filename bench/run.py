"""Benchmarks: `make bench`. Prints a table and writes docs/BENCHMARKS.md with the machine it ran on.

Measured, never asserted in unit tests (issue 14's targets): the bare engine (durable-rules driven
through its documented Python API on the facts `advisor run` validated, bench/bare_engine.py),
with the advisor's own engine and the reference evaluator on the same facts; `advisor run` end to
end on 10,000 generated scenarios (bench/scenarios.py: YAML, and the same as JSON) against the
bare engine, and on 100,000 with its peak RSS; `--jobs` scaling (the bare engine, one job and two
in three interleaved rounds, the best of each kept, and the ratio of each round); the cold start
of `advisor --help`, of the first question of `advisor ask`, of `advisor rules check` and of
`advisor run one.yaml`; where a scenario's time goes (``profile``), and how much of it is work
in C that any implementation of the same records does (``floor``). Then the engine/evaluator
differential test at 100,000 examples.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bare_engine
import report
import scenarios

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ADVISOR = str(BIN / "advisor")

TARGETS = {  # issue 14's, on a 2-core machine
    "end_to_end_ratio": 1.0, "jobs2_speedup": 1.8, "peak_rss_mb": 150, "help_s": 0.1, "ask_s": 0.3, "rules_check_s": 1.0,
    "run_one_s": 0.5}


def engines(scenario_dir: Path, facts_path: Path) -> dict:
    """Scenarios per second of the advisor's own engine (both stages) and of the reference
    evaluator on the facts `advisor run` validated for the scenarios of ``scenario_dir``, and on
    how many of them the bare engine fires other rules than the advisor did (0 expected); the
    facts are written to ``facts_path`` for the bare engine's rounds (``bare_rate``). Run in a
    child process (``in_child``), so that this one never holds 10,000 decisions, which a command
    it starts would count in its peak RSS."""
    import pickle

    from advisor.decide import batch
    from advisor.decide.decision import Advisor
    from advisor.rules import evaluator

    advisor = Advisor()
    decisions = [r for path in sorted(scenario_dir.iterdir()) for r in batch.run_one(advisor, str(path))
                 if not isinstance(r, batch.Failure)]
    facts = [d.facts for d in decisions]
    facts_path.write_bytes(pickle.dumps(facts))
    rates = {"mismatched": bare_engine.check(bare_engine.BareEngine(advisor.book), facts, decisions)}
    stages = [(stage, stage.reads) for stage in advisor.engines]
    start = time.perf_counter()
    for values in facts:
        for stage, reads in stages:
            stage.run({k: values[k] for k in reads if k in values}, validated=True)
    rates["own"] = len(facts) / (time.perf_counter() - start)
    start = time.perf_counter()
    for values in facts:
        evaluator.run(advisor.book, values)
    rates["evaluator"] = len(facts) / (time.perf_counter() - start)
    return rates


def in_child(function, *args):
    """``function(*args)`` in a forked child process, its result returned here."""
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(1) as pool:
        return pool.apply(function, args)


def bare_rate(facts_path: Path) -> float:
    """Scenarios per second of the bare engine on the facts of ``facts_path``, the best of three
    passes, in a process of its own (bench/bare_engine.py run as a script), which loads the
    advisor for its rule book: the heap padding the advisor's engine sets is the bare engine's too."""
    out = subprocess.run([sys.executable, str(Path(__file__).parent / "bare_engine.py"), str(facts_path)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"bench: the bare engine failed: {out.stderr[-500:]}")
    return float(out.stdout)


def profile(scenario_dir: Path, count: int = 2_000) -> list[tuple[str, float]]:
    """Microseconds per scenario in each part of `advisor run`'s work, in one process (cProfile's
    cumulative times, so each part carries the profiler's overhead too): the first ``count``
    scenarios of ``scenario_dir``, read, decided, rendered as JSON and encoded for the store."""
    import cProfile
    import itertools
    import pstats

    from advisor.cli.commands import prepare_for_output
    from advisor.decide import batch
    from advisor.decide.decision import Advisor

    advisor = Advisor()
    results = itertools.chain.from_iterable(batch.run_one(advisor, str(path)) for path in sorted(scenario_dir.iterdir()))
    profiler = cProfile.Profile()
    profiler.enable()
    for result in itertools.islice(results, count):
        prepare_for_output(result, "json", False, 100)
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    cumulative = lambda name: sum(v[3] for (file, _, function), v in stats.items() if function == name and "advisor" in file)  # noqa: E731
    parts = [("reading: YAML and validation (files.stream)", cumulative("stream")),
             ("Advisor.decide", cumulative("decide")),
             ("  the figures (facts.build)", cumulative("build")),
             ("    of which the planner", cumulative("plan_all")),
             ("  the rules engine, both stages", cumulative("_run")),
             ("  the decision record (assemble)", cumulative("assemble")),
             ("output and audit row (prepare_for_output)", cumulative("prepare_for_output")),
             ("  the decision's JSON text", cumulative("json_text")),
             ("  the audit row, compressed (rows_of)", cumulative("rows_of"))]
    return [(name, seconds / count * 1e6) for name, seconds in parts]


def floor(scenario_dir: Path, count: int = 2_000) -> list[tuple[str, float]]:
    """Microseconds per scenario of the work in C that any way of making the same decisions and
    records must do, each step timed alone on the first ``count`` scenarios: the YAML's events
    (libyaml), the scenario's validation (pydantic-core), the rules (durable's C core, driven as
    directly as the advisor's engine drives it), the decision's JSON text (the C encoder, in one
    call; the plans' records are left out, as their texts are made once per plans and reused),
    its record's compression (zlib) and the audit row's insert (SQLite, in the batch's
    transactions, through the store's ``record``, whose Python is counted too: the last step, and
    so the sum, is an upper bound). Their sum against the bare engine's time, with the store's
    step and without it, says how much room the Python between them has."""
    import itertools

    import yaml

    from advisor.audit import codec
    from advisor.audit.store import Store
    from advisor.decide import batch
    from advisor.decide.decision import Advisor
    from advisor.scenario.spec import Scenario
    from advisor.scenario import files

    advisor = Advisor()
    results = list(itertools.islice(itertools.chain.from_iterable(batch.run_one(advisor, str(p)) for p in sorted(scenario_dir.iterdir())), count))
    decisions = [r for r in results if not isinstance(r, batch.Failure)]
    raw = [path.read_bytes() for path in sorted(scenario_dir.iterdir())[: -(-count // scenarios.PER_FILE)]]
    data = [loaded.raw for loaded in itertools.islice((l for r in raw for l in files.stream("x.yaml", r)), count)]

    def timed(step) -> float:
        start = time.perf_counter()
        step()
        return (time.perf_counter() - start) / count * 1e6

    parts = [("YAML events (libyaml)", timed(lambda: [sum(1 for _ in yaml.parse(r, Loader=yaml.CSafeLoader)) for r in raw])),
             ("validation (pydantic-core)", timed(lambda: [Scenario.model_validate(d) for d in data]))]
    stages = [(stage, stage.reads) for stage in advisor.engines]
    parts.append(("the rules (durable's C core, driven directly)", timed(lambda: [
        stage.run({k: d.facts[k] for k in reads if k in d.facts}, validated=True) for d in decisions for stage, reads in stages])))
    bodies = [{**d.to_json(), "plans": {}, "verdict": {**d.verdict.to_json(), "plans": {}} if d.verdict else {}} for d in decisions]
    parts.append(("the decision's JSON text but its plans' (C encoder)", timed(lambda: [codec.json_text(b) for b in bodies])))
    records = [codec.stored_body(d)[0] for d in decisions]
    parts.append(("its record compressed (zlib)", timed(lambda: [codec.compress(r) for r in records])))
    rows = [codec.rows_of(d) for d in decisions]
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "floor.sqlite3")
        store.record(rows[:1], advisor.book)  # the revision and the dictionary, kept once
        rest = rows[1:]
        parts.append(("the audit row recorded (SQLite and store.record)", timed(lambda: [store.record(rest[i:i + 500], advisor.book) for i in range(0, len(rest), 500)])))
        store.close()
    return parts


def timed_run(args: list[str]) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MB) and CPU seconds (with its worker processes) of one advisor process."""
    start = time.perf_counter()
    proc = subprocess.Popen([ADVISOR, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench: advisor {' '.join(args)} failed: {proc.stderr.read().decode()[-500:]}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def end_to_end(scenario_dir: Path, count: int, jobs: int, work: Path) -> tuple[float, float, float]:
    """Scenarios per second, peak RSS and CPU seconds of `advisor run` on the files of
    ``scenario_dir`` (named one by one: a directory is searched for YAML files only)."""
    db = work / f"audit-{scenario_dir.name}-{jobs}-{time.monotonic_ns()}.sqlite3"
    files = [str(path) for path in sorted(scenario_dir.iterdir())]
    wall, rss, cpu = timed_run(["run", *files, "--format", "json", "--jobs", str(jobs), "--audit-db", str(db)])
    return count / wall, rss, cpu


def best_of(scenario_dir: Path, count: int, jobs_list: list, work: Path, facts_path: Path, rounds: int = 3) -> tuple[dict, float, dict]:
    """``end_to_end`` for each number of jobs, and the bare engine's rate (``bare_rate``), ``rounds``
    times interleaved, the fastest round of each kept (this machine's speed varies by a third from
    one minute to the next: the fastest round is the least disturbed), with the CPU seconds of
    that round; and each round's ratios, taken a minute apart at most: one job's to the bare
    engine (``ratios[1]``), and each other number of jobs' to one job (``ratios[jobs]``)."""
    kept: dict = {}
    bare, ratios = 0.0, {jobs: [] for jobs in jobs_list}
    for _ in range(rounds):
        round_bare = bare_rate(facts_path)
        bare = max(bare, round_bare)
        one = None
        for jobs in jobs_list:
            result = end_to_end(scenario_dir, count, jobs, work)
            if jobs not in kept or result[0] > kept[jobs][0]:
                kept[jobs] = result
            if jobs == 1:
                one = result[0]
                ratios[1].append(one / round_bare)
            elif one:
                ratios[jobs].append(result[0] / one)
    return kept, bare, ratios


def cold_start(work: Path, runs: int = 7) -> dict:
    """Median wall seconds of each command a person waits for. ``ask`` is measured once a session
    has kept its first question (cli/quickstart.py; the first run keeps it, and is not counted):
    until the question is on screen, and until a key pressed as it shows has moved the choice
    (``ask_keys``); beside ``questionary_floor`` (and ``_keys``): a script that imports questionary
    alone and asks the same first question."""
    one = REPO / "scenarios" / "spot.yaml"
    first_question(work)
    asked = [first_question(work) for _ in range(runs)]
    floor = [first_question(work, floor=True) for _ in range(runs)]
    return {"help": statistics.median(timed_run(["--help"])[0] for _ in range(runs)),
            "ask": statistics.median(shown for shown, _ in asked), "ask_keys": statistics.median(keys for _, keys in asked),
            "questionary_floor": statistics.median(shown for shown, _ in floor),
            "questionary_floor_keys": statistics.median(keys for _, keys in floor),
            "rules_check": statistics.median(timed_run(["rules", "check"])[0] for _ in range(runs)),
            "run_one": statistics.median(timed_run(["run", str(one), "--audit-db", str(work / "one.sqlite3")])[0] for _ in range(runs))}


def first_question(work: Path, floor: bool = False) -> tuple[float, float]:
    """Seconds from starting `advisor ask` in a terminal to its first question on screen, and to
    a Down key, pressed as soon as the question shows, moving the choice (with ``floor``: a script
    that only imports questionary and asks that question)."""
    import re

    import pexpect

    from advisor.catalog.load import load_catalog
    from advisor.cli.session import first_question as shown

    question = shown(load_catalog())
    first = question.message
    labels = [label for _, label in question.choices]
    default = labels[[value for value, _ in question.choices].index(question.default)]
    moved = re.compile("\u00bb (\x1b\\[[0-9;]*m)*" + re.escape(labels[labels.index(default) + 1]))  # the pointer on the next one
    env = {**os.environ, "ADVISOR_AUDIT_DB": str(work / "ask.sqlite3"), "PROMPT_TOOLKIT_NO_CPR": "1", "XDG_CACHE_HOME": str(work / "cache")}
    command = (sys.executable, ["-c", f"import questionary\nquestionary.select({first!r}, choices={labels!r}, default={default!r}).ask()"]
               ) if floor else (ADVISOR, ["ask"])
    start = time.perf_counter()
    child = pexpect.spawn(*command, env=env, encoding="utf-8", timeout=30, dimensions=(60, 220))
    child.expect_exact(first)
    on_screen = time.perf_counter() - start
    child.send("\x1b[B")
    child.expect(moved)
    keys = time.perf_counter() - start
    child.terminate(force=True)
    return on_screen, keys


def main() -> int:
    load_before = os.getloadavg()[0]  # the machine may be shared: say how busy it was
    with tempfile.TemporaryDirectory(prefix="advisor-bench-") as tmp:
        work = Path(tmp)
        print("generating 10,000 scenarios (YAML and JSON) and 100,000 ...", file=sys.stderr)
        small = scenarios.batch(work / "s10k", 10_000)
        small_json = scenarios.batch(work / "s10k-json", 10_000, fmt="json")
        large = scenarios.batch(work / "s100k", 100_000, seed=8)

        print("the facts of the 10,000, the advisor's engine and the reference evaluator on them ...", file=sys.stderr)
        facts_path = work / "facts.pickle"
        rates = in_child(engines, small, facts_path)
        print("the bare engine, and advisor run on the 10,000 with 1 and 2 jobs (best of 3, interleaved), the same as JSON, "
              "100,000 ...", file=sys.stderr)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        rounds, bare, ratios = best_of(small, 10_000, sorted({1, 2, cores}), work, facts_path)
        (rate10, rss10, cpu10), scaled = rounds[1], {jobs: rounds[jobs] for jobs in rounds if jobs > 1}
        rate10_json, _, _ = end_to_end(small_json, 10_000, 1, work)
        rate100, rss100, _ = end_to_end(large, 100_000, 1, work)
        print("cold start ...", file=sys.stderr)
        cold = cold_start(work)
        print("profile, and the work in C alone ...", file=sys.stderr)
        parts = profile(small)
        c_parts = floor(small)

    ratio, speedup2 = rate10 / bare, scaled[2][0] / rate10
    rows = [("bare engine: durable-rules' Python API (shipped rules, validated facts)", f"{bare:,.0f} scenarios/s",
             f"best of 3 rounds, between advisor run's; fired other rules than the advisor on {rates['mismatched']} of 10,000"),
            ("the advisor's engine (durable's C core driven directly, same facts)", f"{rates['own']:,.0f} scenarios/s",
             f"{rates['own'] / bare:.1f}x the bare engine"),
            ("reference evaluator (same facts)", f"{rates['evaluator']:,.0f} scenarios/s", f"{rates['evaluator'] / bare:.1f}x the bare engine"),
            ("advisor run, 10,000 scenarios (YAML), 1 job (best of 3)", f"{rate10:,.0f} scenarios/s",
             f"{ratio:.2f}x the bare engine (each round: {_each(ratios[1])}); peak RSS {rss10:.0f} MB; "
             f"{cpu10 * rate10 / 10_000:.2f} cores busy"),
            ("advisor run, the same 10,000 as JSON, 1 job", f"{rate10_json:,.0f} scenarios/s", f"{rate10_json / bare:.2f}x the bare engine"),
            ("advisor run, 100,000 scenarios (YAML), 1 job", f"{rate100:,.0f} scenarios/s", f"peak RSS {rss100:.0f} MB")]
    rows += [(f"advisor run, 10,000 scenarios, --jobs {jobs} (best of 3)", f"{rate:,.0f} scenarios/s",
              f"{rate / rate10:.2f}x one job (each round: {_each(ratios[jobs])}), {rate / bare:.2f}x the bare engine; "
              f"peak RSS {rss:.0f} MB (main process); "
              f"{cpu * rate / 10_000:.2f} cores busy, {cpu / cpu10:.2f}x one job's CPU")
             for jobs, (rate, rss, cpu) in scaled.items()]
    rows += [("advisor --help (median of 7)", f"{cold['help'] * 1000:.0f} ms", ""),
             ("advisor ask, its first question on screen (median of 7)", f"{cold['ask'] * 1000:.0f} ms",
              f"questionary alone, the same question: {cold['questionary_floor'] * 1000:.0f} ms"),
             ("  a key pressed as it shows acted on (median of 7)", f"{cold['ask_keys'] * 1000:.0f} ms",
              f"questionary alone: {cold['questionary_floor_keys'] * 1000:.0f} ms"),
             ("advisor rules check, the shipped rules (median of 7)", f"{cold['rules_check'] * 1000:.0f} ms", ""),
             ("advisor run one.yaml (median of 7)", f"{cold['run_one'] * 1000:.0f} ms", "")]
    verdicts = [("advisor run >= 1.0x the bare engine at 10,000", ratio >= TARGETS["end_to_end_ratio"], f"{ratio:.2f}x"),
                ("peak RSS < 150 MB at 100,000", rss100 < TARGETS["peak_rss_mb"], f"{rss100:.0f} MB"),
                ("--jobs 2 >= 1.8x one job", speedup2 >= TARGETS["jobs2_speedup"], f"{speedup2:.2f}x"),
                ("advisor --help < 0.1 s", cold["help"] < TARGETS["help_s"], f"{cold['help']:.3f} s"),
                ("advisor ask's first question < 0.3 s", cold["ask"] < TARGETS["ask_s"], f"{cold['ask']:.3f} s"),
                ("advisor rules check < 1 s", cold["rules_check"] < TARGETS["rules_check_s"], f"{cold['rules_check']:.3f} s"),
                ("advisor run one.yaml < 0.5 s", cold["run_one"] < TARGETS["run_one_s"], f"{cold['run_one']:.3f} s")]

    width = max(len(r[0]) for r in rows)
    lines = [f"{name:<{width}}  {value:>20}  {note}".rstrip() for name, value, note in rows]
    lines += [""] + [f"{'met   ' if ok else 'MISSED'}  {target}: {value}" for target, ok, value in verdicts]
    lines += ["", "one process, cProfile, the first 2,000 scenarios of the 10,000, per scenario:"]
    lines += [f"  {name:<45} {us:7,.0f} us" for name, us in parts]
    c_total = sum(us for _, us in c_parts)
    lines += ["", "the work in C alone, each step timed by itself, the first 2,000 scenarios, per scenario:"]
    lines += [f"  {name:<50} {us:7,.0f} us" for name, us in c_parts]
    lines += [f"  {'together':<50} {c_total:7,.0f} us  {c_total * bare / 1e6:.0%} of the bare engine's {1e6 / bare:,.0f} us a scenario",
              f"  {'together but the audit row':<50} {c_total - c_parts[-1][1]:7,.0f} us  {(c_total - c_parts[-1][1]) * bare / 1e6:.0%}"]
    print("\n".join(lines))

    print("\ndifferential test, 100,000 random contexts ...", file=sys.stderr)
    env = {**os.environ, "ADVISOR_DIFFERENTIAL_EXAMPLES": "100000"}
    started = time.perf_counter()
    diff = subprocess.run([str(BIN / "pytest"), "-q", "-p", "no:cacheprovider", str(REPO / "tests" / "test_engine.py"), "-k", "at_scale"],
                          env=env, capture_output=True, text=True)
    diff_line = (f"engine vs reference evaluator, 100,000 random contexts: {'agree' if diff.returncode == 0 else 'DISAGREE'} "
                 f"({time.perf_counter() - started:.0f} s)")
    print(diff_line)
    report.write_header("# Benchmarks\n\n" + report.ran("make bench", f"; load average {load_before:.1f} at the start, "
                                                                    f"{os.getloadavg()[0]:.1f} at the end")
                        + "\n\n```\n" + "\n".join(lines) + "\n\n" + diff_line + "\n```\n")
    return 0 if diff.returncode == 0 else 1


def _each(ratios: list) -> str:
    return ", ".join(f"{r:.2f}x" for r in ratios)


if __name__ == "__main__":
    sys.exit(main())
