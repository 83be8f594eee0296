"""The benchmarks keep up with the code they measure: every bench/ script imports as `make bench`
and its readers run it (bench/ first on the path), so a name moved or renamed in the package or
between the scripts fails here, not at the next `make bench`. What they generate is checked where
the tests use it too: the scenario mix (test_fast_paths) and the large rule books
(test_large_books). Their speed is never measured here."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO

SCRIPTS = sorted(p.stem for p in (REPO / "bench").glob("*.py"))


def test_there_are_benchmarks_to_check():
    assert {"run", "engine", "audit", "sweep", "bare_engine", "report"} <= set(SCRIPTS)


@pytest.mark.parametrize("name", SCRIPTS)
def test_each_bench_script_imports(name):
    proc = subprocess.run([sys.executable, "-c", f"import {name}"], cwd=REPO / "bench", capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
