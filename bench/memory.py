"""Peak memory of one scenario file with many entries (issue 9): `.venv/bin/python bench/memory.py`.

Not part of `make test` (it takes minutes, and memory is measured, never asserted in unit tests).
For each size, one file `scenarios: [...]` of that many entries is written and decided by
`advisor run FILE --no-audit --format json > /dev/null` in a child process; its peak RSS is read
from the kernel (wait4's ru_maxrss). Reading (parse and validate, no decisions) is measured the
same way for larger files, and once under `ulimit -v 3000000` (the issue's segfault: a 6 MB file
of `{}` entries). Flat memory means the figures do not grow with the number of entries.

    --sizes 1000,10000,100000   entries decided end to end (default)
    --read-sizes 100000,860000  entries only read (default; 860,000 `{}` entries are 6 MB)
    --realistic                 generated what-if entries (bench/run.py's) instead of `{}`
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
ADVISOR = str(BIN / "advisor")
READ_ONLY = """
import sys
from advisor.scenario import files
source, raw = files.read_source(sys.argv[1])
del source
n = bad = 0
for loaded in files.stream(sys.argv[1], raw):
    n += 1
    bad += loaded.error is not None
print(n, bad)
"""


def write_file(path: Path, entries: int, realistic: bool) -> Path:
    if realistic:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from run import generate  # bench/run.py: files of 1,000 generated entries

        parts = generate(path.parent / f"parts-{entries}", entries)
        body = "".join(p.read_text().split("\n", 1)[1] for p in sorted(parts.glob("*.yaml")))
        path.write_text("scenarios:\n" + body)
    else:
        with path.open("w") as handle:
            handle.write("scenarios:\n")
            handle.writelines("  - {}\n" for _ in range(entries))
    return path


def peak_rss_mb(argv: list[str], address_space: int | None = None) -> tuple[float, float, int, str]:
    """(peak RSS in MB, seconds, exit status, last line of stdout) of a child process."""
    def limit():
        if address_space:
            resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL, preexec_fn=limit)
        _pid, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        lines = out.read().decode(errors="replace").strip().splitlines()
    return usage.ru_maxrss / 1024, time.perf_counter() - start, child.returncode, (lines[-1][:60] if lines else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--read-sizes", default="100000,860000")
    parser.add_argument("--realistic", action="store_true")
    args = parser.parse_args()
    kind = "generated what-if entries" if args.realistic else "`{}` entries"
    with tempfile.TemporaryDirectory(prefix="advisor-memory-") as tmp:
        print(f"one file of N {kind}\n")
        print(f"{'entries':>9}  {'file MB':>7}  {'what':<36}  {'peak RSS MB':>11}  {'seconds':>7}  exit")
        for n in [int(x) for x in args.sizes.split(",") if x]:
            path = write_file(Path(tmp) / f"run-{n}.yaml", n, args.realistic)
            rss, seconds, code, _ = peak_rss_mb([ADVISOR, "run", str(path), "--no-audit", "--format", "json"])
            print(f"{n:>9,}  {path.stat().st_size / 1e6:>7.1f}  {'advisor run (decided)':<36}  {rss:>11.0f}  {seconds:>7.1f}  {code}")
        for n in [int(x) for x in args.read_sizes.split(",") if x]:
            path = write_file(Path(tmp) / f"read-{n}.yaml", n, False)
            for limit in (None, 3_000_000 * 1024):
                rss, seconds, code, last = peak_rss_mb([sys.executable, "-c", READ_ONLY, str(path)], limit)
                what = "read + validate" + (", ulimit -v 3000000" if limit else "")
                print(f"{n:>9,}  {path.stat().st_size / 1e6:>7.1f}  {what:<36}  {rss:>11.0f}  {seconds:>7.1f}  {code} ({last})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
