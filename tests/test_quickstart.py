"""`advisor ask`'s first question before the advisor loads (advisor/cli/quickstart.py): what is
kept, what is refused, and the background loading. The sessions themselves are in test_cli_ask."""

import json
import subprocess
import sys

import pytest
from advisor.catalog.load import load_catalog
from advisor.cli import quickstart
from advisor.cli.session import first_question
from advisor.errors import DataError

DIGEST = "ab" * 32
GOOD = {"format": 1, "digest": DIGEST, "question": {"name": "workload.model", "message": "Which model?", "help": "h",
                                                    "choices": [["a", "a  (1B)"], ["b", "b  (2B)"]], "default": "b"}}


def _with(path: tuple, value):
    data = json.loads(json.dumps(GOOD))
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


def test_a_well_formed_cache_for_these_catalogs_gives_its_question():
    assert quickstart.parse(GOOD, DIGEST) == quickstart.FirstQuestion("workload.model", "Which model?", "h",
                                                                        (("a", "a  (1B)"), ("b", "b  (2B)")), "b")


@pytest.mark.parametrize("data", [
    GOOD | {"digest": "cd" * 32},  # other catalogs, or another advisor version
    GOOD | {"format": 2},
    [], "text", None,
    _with(("question",), []),
    _with(("question", "message"), 3),
    _with(("question", "choices"), []),
    _with(("question", "choices"), [["a"]]),
    _with(("question", "choices"), [["a", 1]]),
    _with(("question", "choices"), "ab"),
    _with(("question", "default"), "c"),  # not one of the choices
])
def test_anything_else_is_ignored(data):
    assert quickstart.parse(data, DIGEST) is None


def test_remember_then_cached_round_trips(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    shown = first_question(load_catalog())
    quickstart.remember(shown)
    assert quickstart.cached() == shown
    kept = json.loads((tmp_path / "advisor" / quickstart.CACHE_NAME).read_text())
    assert kept["digest"] == quickstart.catalog_digest() and len(kept["digest"]) == 64
    assert [p.name for p in (tmp_path / "advisor").iterdir()] == [quickstart.CACHE_NAME]  # no temporary file left


def test_a_relative_xdg_cache_home_is_not_used(tmp_path, monkeypatch):
    # XDG: a relative path is invalid and ignored
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert quickstart.cache_file() == tmp_path / ".cache" / "advisor" / quickstart.CACHE_NAME


def test_a_cache_that_cannot_be_written_is_no_error(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))  # a file where the directory would go
    quickstart.remember(first_question(load_catalog()))
    assert quickstart.cached() is None


def test_loading_runs_once_in_its_thread_and_hands_over_what_it_raised():
    calls = []
    loading = quickstart.Loading(lambda: calls.append(1) or "advisor")
    loading.start()
    loading.start()
    assert loading.result() == "advisor" and calls == [1]

    def broken():
        raise DataError("rules/x.yaml: a broken rule")

    failing = quickstart.Loading(broken)
    failing.start()
    with pytest.raises(DataError, match="a broken rule"):
        failing.result()
    here = quickstart.Loading(lambda: calls.append(2) or "here")  # never started: built by the caller, once
    assert here.result() == here.result() == "here" and calls == [1, 2]


def test_what_runs_before_the_first_question_imports_neither_pydantic_nor_yaml_nor_the_engine():
    # the point of the kept first question: it is on screen before any of these is imported
    code = ("import sys\nimport advisor.cli.main, advisor.cli.commands, advisor.cli.ask, advisor.cli.prompts\n"
            "from advisor.cli import quickstart\nquickstart.cached()\n"
            "print(sorted(m for m in ('pydantic', 'yaml', 'durable', 'advisor.catalog.load', 'advisor.rules.engine') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"
