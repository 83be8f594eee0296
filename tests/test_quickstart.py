"""`advisor ask`'s first question before the advisor loads (advisor/cli/quickstart.py): what is
kept, what is refused, the background loading, and the question drawn before the prompts' library
loads (cli/prompts.EarlySelect, in a pseudo-terminal). The sessions themselves are in test_cli_ask."""

import json
import os
import select
import subprocess
import sys
import termios
import unicodedata

import pytest
from advisor.catalog.load import load_catalog
from advisor.cli import quickstart
from advisor.cli.prompts import EarlySelect
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


def test_what_runs_before_the_first_question_imports_neither_pydantic_nor_yaml_nor_the_engine_nor_the_prompts():
    # the point of the kept first question: it is on screen before any of these is imported
    code = ("import sys\nimport advisor.cli.main, advisor.cli.commands, advisor.cli.ask, advisor.cli.prompts\n"
            "from advisor.cli import quickstart\nquickstart.cached()\n"
            "advisor.cli.prompts.EarlySelect.draw(sys.stdout, 'help', 'Which model?', [('a', 'a')], 'a', False)\n"
            "print(sorted(m for m in ('pydantic', 'yaml', 'durable', 'advisor.catalog.load', 'advisor.rules.engine', 'prompt_toolkit', "
            "'questionary') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


# --- the first question drawn before the prompts' library loads (cli/prompts.EarlySelect) -------------

CHOICES = [("a", "a  (1B)"), ("b", "b \x1b[31m(2B)")]


@pytest.fixture
def terminal(monkeypatch):
    """A pseudo-terminal of 100 x 30 as the session's stdin and screen: (its other side, its fd, the screen)."""
    other, fd = os.openpty()
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("LINES", "30")
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setattr(sys, "stdin", os.fdopen(fd, "r", closefd=False))
    screen = os.fdopen(os.dup(fd), "w")
    yield other, fd, screen
    screen.close()
    os.close(fd)
    os.close(other)


def _shown(other: int, ending: bytes) -> str:
    """What the pseudo-terminal shows up to ``ending`` (a hang guard, not a wait for time to pass)."""
    data = b""
    while not data.endswith(ending):
        ready, _, _ = select.select([other], [], [], 30)
        assert ready, f"nothing more shown after {data!r}"
        data += os.read(other, 65536)
    return data.decode()


def test_the_first_question_is_drawn_as_the_prompt_draws_it_and_keys_wait_for_the_prompt(terminal):
    other, fd, screen = terminal
    modes = termios.tcgetattr(fd)
    early = EarlySelect.draw(screen, "Sizes from config.json.", "Which model?", CHOICES, "b", colour=False)
    assert _shown(other, b"(2B)") == ("Sizes from config.json.\r\n? Which model? (Use arrow keys)\r\n   a  (1B)\r\n"
                                      " \u00bb b \\x1b[31m(2B)")  # the kept text is data: shown escaped
    lflag = termios.tcgetattr(fd)[3]
    assert not lflag & (termios.ECHO | termios.ICANON) and lflag & termios.ISIG  # Ctrl-C still signals
    os.write(other, b"\x1b[B")  # a key pressed before the prompt starts: kept whole for it, not a line to edit
    assert os.read(fd, 16) == b"\x1b[B"
    early.erase()
    assert _shown(other, b"[J") == "\r\x1b[2A\x1b[J"  # back to the question's first row: the prompt draws there
    early.restore()
    assert termios.tcgetattr(fd) == modes


def test_a_line_wider_than_the_terminal_is_clipped_to_one_row(terminal, monkeypatch):
    other, _, screen = terminal
    monkeypatch.setenv("COLUMNS", "40")
    choices = [("a", "a" * 60), ("b", "\u6a21\u578b" * 20)]  # double-width characters count two columns
    EarlySelect.draw(screen, "", "Which of these models will you serve today?", choices, "a", colour=False).restore()
    rows = _shown(other, "\u2026\r\n".encode()).split("\r\n")[:-1]  # restored without a prompt: a new line below
    widths = [sum(2 if unicodedata.east_asian_width(c) == "W" else 1 for c in row) for row in rows]
    assert len(rows) == 3 and max(widths) < 40 and all(row.endswith("\u2026") for row in rows[1:])


@pytest.mark.parametrize("setting", [("TERM", "dumb"), ("LINES", "3"), ("COLUMNS", "39")])
def test_nothing_is_drawn_early_where_it_could_not_be_erased_exactly(terminal, monkeypatch, setting):
    _, fd, screen = terminal
    monkeypatch.setenv(*setting)
    modes = termios.tcgetattr(fd)
    assert EarlySelect.draw(screen, "help", "Which model?", CHOICES, "a", colour=False) is None
    assert termios.tcgetattr(fd) == modes


def test_nothing_is_drawn_early_without_a_terminal(tmp_path):
    with open(tmp_path / "screen", "w") as screen:
        assert EarlySelect.draw(screen, "help", "Which model?", CHOICES, "a", colour=False) is None
