"""The audit store at a million decisions: `.venv/bin/python bench/audit.py [--decisions N]`.

Decides a few thousand generated scenarios with `advisor run` (real records), then builds a store
of N decisions (1,000,000 by default) by bulk-inserting copies of them, each with its own id (also
inside its compressed text) and time, as `advisor run` would have written them. The rarest rule of
the sample fires only in the 5 oldest decisions (the worst case for a newest-first listing).
Measures the bytes per decision, the wall time of the read commands as a user runs them (start-up
included; median of 5 runs after one to warm the cache) and the export rate with its peak RSS,
then writes the "Audit store" section of docs/BENCHMARKS.md (bench/report.py; the notes on it
follow the section). Not part of `make test`.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
import report  # noqa: E402
import scenarios  # noqa: E402
from run import ADVISOR  # noqa: E402

TARGETS = {"query_s": 0.5, "bytes_per_decision": 3800, "export_per_s": 20_000}
BEFORE_BYTES = 7600  # schema 1, measured in issue 14 (7.5 KB here on 3,000 generated decisions at a79c5f2)
RARE_COPIES = 5


def sample(work: Path, count: int) -> Path:
    db = work / "sample.sqlite3"
    batch = scenarios.batch(work / "scenarios", count, seed=11)
    proc = subprocess.run([ADVISOR, "run", str(batch), "--format", "csv", "--audit-db", str(db)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bench: advisor run failed: {proc.stderr[-500:]}")
    return db


def build(sample_db: Path, target: Path, total: int) -> None:
    """A store of ``total`` copies of the sample's records; the sample's rarest rule fires only
    in the oldest ``RARE_COPIES``."""
    from advisor.audit import codec
    from advisor.audit.store import Store

    Store.open(target).close()  # the schema, as advisor creates it
    src = sqlite3.connect(sample_db)
    dst = sqlite3.connect(target, isolation_level=None)
    dst.execute("PRAGMA journal_mode = WAL")
    dst.execute("PRAGMA synchronous = OFF")  # a bench's bulk load; advisor itself writes with NORMAL
    for table in ("revisions", "rule_ids", "dictionaries"):
        rows = src.execute(f"SELECT * FROM {table}").fetchall()
        dst.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)
    dictionaries = dict(src.execute("SELECT id, data FROM dictionaries"))
    fired: dict[int, list[int]] = {}
    for rule, seq in src.execute("SELECT rule, seq FROM fired"):
        fired.setdefault(seq, []).append(rule)
    names = dict(src.execute("SELECT id, rule FROM rule_ids"))
    counts: dict[int, int] = {}
    for rules in fired.values():
        for r in rules:
            counts[r] = counts.get(r, 0) + 1
    rare = min(counts, key=lambda r: (counts[r], names[r]))
    records = []
    for row in src.execute("SELECT seq, decision_id, revision, advisor_version, scenario, source, recommendation, gpu, verdict,"
                           " input, codec, body, input_at, plans, plans_at FROM decisions ORDER BY seq"):
        seq, decision_id, *rest = row
        text = zlib.decompressobj(15, dictionaries[row[10]]).decompress(row[11])
        records.append((seq, decision_id.encode(), rest, text))
    with_rare = [r for r in records if rare in fired[r[0]]]
    without = [r for r in records if rare not in fired[r[0]]]
    started = int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp() * 1e6)
    sample_plans = {pid: (digest, pcodec, body) for pid, digest, pcodec, body in src.execute("SELECT id, digest, codec, body FROM plans")}
    copied_plans: dict = {}  # (copy of the sample, plans id in the sample) -> id in the store
    new_plans: list = []

    def plans_of(copy: int, pid):
        """Each copy of the sample has plans of its own, as if each batch had its own loads and
        prices: the store holds as many distinct plans per decision as the sample does."""
        if pid is None:
            return None
        key = (copy, pid)
        if key not in copied_plans:
            digest, pcodec, body = sample_plans[pid]
            copied_plans[key] = len(copied_plans) + 1
            new_plans.append((copied_plans[key], f"{digest}.{copy}", pcodec, body))
        return copied_plans[key]

    def rows():
        for i in range(total):
            seq, old_id, rest, text = with_rare[i % len(with_rare)] if i < RARE_COPIES else without[i % len(without)]
            new_id = str(uuid.uuid4())
            body = codec.compress(text.replace(old_id, new_id.encode(), 1))
            decision = (i + 1, new_id, started + i * 1000, *rest[:8], rest[8], body, rest[10], plans_of(i // len(without), rest[11]), rest[12])
            yield decision, [(r, started + i * 1000, i + 1) for r in fired[seq]]

    batch = []
    started_at = time.perf_counter()
    for n, (decision, rules) in enumerate(rows(), 1):
        batch.append((decision, rules))
        if len(batch) == 20_000 or n == total:
            dst.execute("BEGIN")
            dst.executemany("INSERT INTO plans (id, digest, codec, body) VALUES (?, ?, ?, ?)", new_plans)
            new_plans.clear()
            dst.executemany("INSERT INTO decisions (seq, decision_id, recorded_us, revision, advisor_version, scenario, source,"
                            " recommendation, gpu, verdict, input, codec, body, input_at, plans, plans_at)"
                            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", [d for d, _ in batch])
            dst.executemany("INSERT INTO fired VALUES (?, ?, ?)", [f for _, rules_ in batch for f in rules_])
            dst.execute("COMMIT")
            batch.clear()
            if n % 100_000 == 0:
                print(f"  {n:,} decisions ({time.perf_counter() - started_at:.0f} s)", file=sys.stderr)
    dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    dst.close()


def rules_by_use(db: Path) -> list[tuple[str, int]]:
    """Each rule with the number of decisions it fired in, rarest first."""
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT r.rule, count(*) AS n FROM fired f JOIN rule_ids r ON r.id = f.rule"
                            " GROUP BY f.rule ORDER BY n, r.rule").fetchall()


# A small launcher runs each command, so that the peak RSS measured is the command's own: a child
# forked from this process (large after building the store) would count this process's pages too.
_LAUNCH = """import os, sys, time
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
open(sys.argv[1], "w").write(f"{time.perf_counter() - started} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def timed(args: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one advisor process, its output to /dev/null."""
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as result:
        proc = subprocess.run([sys.executable, "-c", _LAUNCH, result.name, ADVISOR, *args],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wall, rss, code = result.read().split()
    if proc.returncode != 0 or code != "0":
        raise SystemExit(f"bench: advisor {' '.join(args)} failed: {proc.stderr.decode()[-500:]}")
    return float(wall), int(rss) / 1024


def median_wall(args: list[str], runs: int = 5) -> tuple[float, float]:
    timed(args)  # warm the page cache, as a second look at the store would find it
    walls = [timed(args)[0] for _ in range(runs)]
    return statistics.median(walls), max(walls)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=5_000, help="real decisions to copy")
    parser.add_argument("--keep", metavar="DIR", help="build the store in DIR and keep it")
    parser.add_argument("--reuse", action="store_true", help="measure the store kept in --keep DIR again")
    parser.add_argument("--no-report", action="store_true", help="do not write docs/BENCHMARKS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="advisor-audit-bench-") as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        base = work / "sample.sqlite3"
        db = work / "audit-1m.sqlite3"
        built = None
        if not (args.reuse and db.exists() and base.exists()):
            print(f"deciding {args.sample:,} generated scenarios ...", file=sys.stderr)
            for leftover in (base, db, Path(f"{db}-wal"), Path(f"{db}-shm")):
                leftover.unlink(missing_ok=True)
            sample(work, args.sample)
            print(f"building a store of {args.decisions:,} decisions ...", file=sys.stderr)
            built = time.perf_counter()
            build(base, db, args.decisions)
            built = time.perf_counter() - built
        (rare, rare_n), (common, common_n) = rules_by_use(db)[0], rules_by_use(db)[-1]
        size = db.stat().st_size
        with sqlite3.connect(db) as conn:
            total = conn.execute("SELECT max(seq) FROM decisions").fetchone()[0]
            middle = conn.execute("SELECT decision_id, recorded_us FROM decisions WHERE seq = ?", (total // 2,)).fetchone()
            body = conn.execute("SELECT avg(length(body)), avg(length(input)) FROM decisions WHERE seq % 1000 = 0").fetchone()
            plans = conn.execute("SELECT count(*), avg(length(body)) FROM plans").fetchone()
        per = size / total
        half = datetime.fromtimestamp(middle[1] / 1e6, timezone.utc).isoformat()
        store = ["--audit-db", str(db)]
        queries = [
            ("audit list", ["audit", "list", *store]),
            (f"audit list --rule {rare} (rare: {rare_n} decisions)", ["audit", "list", "--rule", rare, *store]),
            (f"audit list --rule {common} (common: {common_n:,})", ["audit", "list", "--rule", common, *store]),
            ("audit list --since (the newest half)", ["audit", "list", "--since", half, *store]),
            ("audit list --since (no match)", ["audit", "list", "--since", "2999-01-01", *store]),
            (f"audit list --rule {rare} --since (the newest half)", ["audit", "list", "--rule", rare, "--since", half, *store]),
            ("audit show ID", ["audit", "show", middle[0][:8], *store]),
            ("explain --id ID", ["explain", "--id", middle[0][:8], *store]),
            ("audit replay ID", ["audit", "replay", middle[0][:8], *store]),
        ]
        rows, verdicts = [], []
        rows.append((f"store of {total:,} decisions", f"{size / 1e6:,.0f} MB",
                     f"{per:,.0f} bytes per decision (compressed decision {body[0]:,.0f} B, input {body[1]:,.0f} B; "
                     f"{plans[0]:,} plans texts of {plans[1] or 0:,.0f} B, one per {total / max(plans[0], 1):,.1f} decisions)"
                     + (f"; built in {built:.0f} s" if built else "")))
        verdicts.append((f"at most 3.8 KB per decision (schema 1: {BEFORE_BYTES / 1000:.1f} KB)", per <= TARGETS["bytes_per_decision"],
                         f"{per / 1000:.2f} KB, {per / BEFORE_BYTES:.0%} of schema 1"))
        for name, command in queries:
            print(f"{name} ...", file=sys.stderr)
            med, worst = median_wall(command)
            rows.append((name, f"{med * 1000:,.0f} ms", f"slowest of 5: {worst * 1000:,.0f} ms"))
            if not name.startswith("audit replay"):
                verdicts.append((f"{name.split(' (')[0]} under 0.5 s", med < TARGETS["query_s"], f"{med:.3f} s"))
        print("audit export ...", file=sys.stderr)
        timed(["audit", "export", *store])  # warm
        wall, rss = timed(["audit", "export", *store])
        _, small_rss = timed(["audit", "export", "--audit-db", str(base)])
        rate = total / wall
        rows.append(("audit export > /dev/null", f"{rate:,.0f} records/s",
                     f"{wall:.1f} s; peak RSS {rss:.0f} MB ({small_rss:.0f} MB exporting the {args.sample:,}-decision sample)"))
        verdicts.append(("export at least 20,000 records/s", rate >= TARGETS["export_per_s"], f"{rate:,.0f}/s"))
        verdicts.append(("export memory flat", rss < small_rss * 1.5 + 10, f"{rss:.0f} MB at {total:,} vs {small_rss:.0f} MB at {args.sample:,}"))

    width = max(len(r[0]) for r in rows)
    lines = [f"{name:<{width}}  {value:>16}  {note}".rstrip() for name, value, note in rows]
    lines += [""] + [f"{'met   ' if ok else 'MISSED'}  {target}: {value}" for target, ok, value in verdicts]
    print("\n".join(lines))
    if not args.no_report:
        write_report(lines, total)
    return 0 if all(ok for _, ok, _ in verdicts) else 1


def write_report(lines: list[str], total: int) -> None:
    report.write_section("audit", f"## Audit store at {total:,} decisions\n\n" + report.ran(".venv/bin/python bench/audit.py")
                         + "\n\n```\n" + "\n".join(lines) + "\n```")


if __name__ == "__main__":
    sys.exit(main())
