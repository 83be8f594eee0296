"""Shared helpers: the catalog, and the installed `advisor` command run as a user would run it."""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

from advisor.catalog.load import load_catalog

# Property tests keep no example database (a failing example is not replayed from a file the
# next run, or in CI) and have no deadline (a loaded machine must not fail them): each test's own
# @settings narrows this further.
settings.register_profile("advisor", database=None, deadline=None)
settings.load_profile("advisor")

ADVISOR = str(Path(sys.executable).with_name("advisor"))
REPO = Path(__file__).resolve().parent.parent

# Decisions the tests make are recorded in a scratch state directory, never in the user's store.
_STATE = tempfile.mkdtemp(prefix="advisor-tests-state-")
atexit.register(shutil.rmtree, _STATE, True)
os.environ["XDG_STATE_HOME"] = _STATE
# ... and `advisor ask` keeps its first question in a scratch cache directory (cli/quickstart.py).
_CACHE = tempfile.mkdtemp(prefix="advisor-tests-cache-")
atexit.register(shutil.rmtree, _CACHE, True)
os.environ["XDG_CACHE_HOME"] = _CACHE
os.environ.pop("ADVISOR_AUDIT_DB", None)


def bench_module(name: str):
    """A module of bench/ (generated inputs the tests share with the benchmarks), loaded by path:
    bench/ is not a package."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


def run_cli(*args: str, cwd=None, input: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the installed console script with a timeout, so a hang fails the test instead of CI."""
    return subprocess.run(
        [ADVISOR, *args], cwd=cwd, input=input, capture_output=True, text=True, timeout=120,
        env={**os.environ, **(env or {})},
    )


def cli_json(*args: str, **kwargs) -> dict:
    proc = run_cli(*args, "--format", "json", **kwargs)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


#: A team choosing between the seed's pair with an A100 fleet (the README's sweep example): its
#: verdict moves with the fleet's utilization (the seed's 70% floor) and with the H100 price.
FLEET_PAIR = (REPO / "docs" / "fleet-pair.yaml").read_text()


@pytest.fixture(scope="session")
def advisor_instance():
    from advisor.decide.decision import Advisor

    return Advisor()
