"""Input as a hostile tester gives it (issue 9): file names that are not UTF-8, unreadable paths,
long lists read one entry at a time, YAML 1.1 surprises, names carrying terminal escape codes,
and `explain FILE` (which records nothing). Expected values are worked out by hand here."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from advisor import yamlio
from advisor.errors import display_path, echo, printable
from advisor.render import term
from advisor.render.text import table
from advisor.scenario import files as scen
from conftest import ADVISOR, REPO, run_cli

GOOD = "name: good\ncontext: {can_use_spot: true}\n"


# --- file names that are not UTF-8 ----------------------------------------------------------------


def test_a_file_name_with_byte_0xff_is_decided_recorded_and_shown_escaped(tmp_path):
    (tmp_path / "good.yaml").write_text(GOOD)
    with open(os.path.join(os.fsencode(tmp_path), b"caf\xff.yaml"), "w") as handle:
        handle.write("context: {can_use_spot: true}\n")
    db = tmp_path / "audit.sqlite3"
    proc = run_cli("run", str(tmp_path), "--format", "json", "--audit-db", str(db))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)  # whole and valid
    shown = f"{tmp_path}/caf\\xff.yaml"  # the byte as the four characters \xff
    assert [(d["scenario"], d["source"]) for d in out["decisions"]] == [("caf\\xff", shown), ("good", str(tmp_path / "good.yaml"))]
    assert out["errors"] == []
    with sqlite3.connect(db) as conn:
        assert sorted(conn.execute("SELECT scenario, source FROM decisions")) == [("caf\\xff", shown), ("good", str(tmp_path / "good.yaml"))]
    table_out = run_cli("run", str(tmp_path), "--no-audit")
    assert table_out.returncode == 0 and f"caf\\xff  ({shown})" in table_out.stdout


def test_display_path_keeps_utf8_names_and_escapes_other_bytes():
    assert display_path("café.yaml") == "café.yaml"
    assert display_path(os.fsdecode(b"caf\xff.yaml")) == "caf\\xff.yaml"
    assert display_path(b"a\xfe\xffb") == "a\\xfe\\xffb"


# --- unreadable paths: one line each, the good files still decided, exit 1 ---------------------------


def _without_permission_override():
    """For a child of root: drop the capabilities that let root read and search anything
    (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH) from its bounding set, so that file modes apply."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _run_unprivileged(*args, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([ADVISOR, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          preexec_fn=_without_permission_override if os.geteuid() == 0 else None)


@pytest.fixture
def open_dir(tmp_path):
    """A directory whose modes will be obeyed by ``_run_unprivileged``; modes restored afterwards."""
    (tmp_path / "locked").write_text("")
    (tmp_path / "locked").chmod(0)
    try:
        probe = _run_unprivileged("run", "locked", "--no-audit", cwd=tmp_path)
    except (OSError, subprocess.SubprocessError):
        probe = None
    (tmp_path / "locked").unlink()
    if probe is None or "Permission denied" not in probe.stderr:
        pytest.skip("file modes cannot be made to apply to a child process here")
    yield tmp_path
    for path in tmp_path.rglob("*"):
        path.chmod(0o755)


def test_every_unreadable_path_is_one_line_naming_it_and_the_good_files_are_decided(open_dir):
    top = open_dir / "scenarios"
    for name in ("no-search", "no-list"):
        (top / name).mkdir(parents=True)
        (top / name / "inside.yaml").write_text(GOOD)
    (top / "good.yaml").write_text(GOOD)
    (top / "locked.yaml").write_text(GOOD)
    (top / "zz-good.yaml").write_text(GOOD.replace("good", "last"))
    (top / "no-search").chmod(0o644)  # names can be listed, files not opened
    (top / "no-list").chmod(0o311)  # files could be opened, names not listed
    (top / "locked.yaml").chmod(0o000)
    proc = _run_unprivileged("run", "scenarios", "scenarios/no-search/inside.yaml", "--format", "json", "--no-audit", cwd=open_dir)
    assert proc.returncode == 1, proc.stderr
    out = json.loads(proc.stdout)
    assert [d["scenario"] for d in out["decisions"]] == ["good", "last"]
    assert [e["message"] for e in out["errors"]] == [
        "scenarios/locked.yaml: cannot read (Permission denied)",
        "scenarios/no-list: cannot read this directory (Permission denied)",
        "scenarios/no-search: cannot read the files in this directory (Permission denied: no search (x) permission)",
        "scenarios/no-search/inside.yaml: cannot read (Permission denied)",
    ]
    assert proc.stderr.splitlines()[-1] == "advisor: 2 decided, 4 invalid" and "internal error" not in proc.stderr


def test_an_unreadable_directory_is_not_reported_as_empty(open_dir):
    (open_dir / "closed").mkdir()
    (open_dir / "closed" / "a.yaml").write_text(GOOD)
    (open_dir / "closed").chmod(0o000)
    proc = _run_unprivileged("run", "closed", "--no-audit", cwd=open_dir)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == "advisor: invalid input: closed: cannot read this directory (Permission denied)"


# --- a long list, one entry at a time ----------------------------------------------------------------

LIST = """\
scenarios:
  - name: fleet
    context: {have_a100_fleet: true, utilization: 0.5}
  - name: typo
    context: {stage: prod}
  - name: dup
    context:
      can_use_spot: true
      can_use_spot: false
  - 42
  - name: big
    workload: {model: llama-2-7b, batch: 64, tokens_per_day: 1e9}
  - {}
"""


def _summary(loaded_items) -> list:
    return [(x.name, x.error, x.scenario.model_dump() if x.scenario else None, x.raw) for x in loaded_items]


def test_a_list_streamed_entry_by_entry_reads_as_the_same_list_read_whole():
    streamed = scen.parse("s.yaml", LIST.encode())
    assert yamlio.open_list(LIST.encode(), "scenarios").whole is None  # the list was streamed
    whole_text = "--- !!map\n" + LIST  # a tagged root is read whole, one line lower
    assert yamlio.open_list(whole_text.encode(), "scenarios").whole is not None
    whole = scen.parse("s.yaml", whole_text.encode())
    shift = {f"s.yaml:{n + 1}:": f"s.yaml:{n}:" for n in range(1, 30)}
    for item in whole:
        if item.error:
            prefix = item.error.split(" ", 1)[0]
            object.__setattr__(item, "error", item.error.replace(prefix, shift.get(prefix, prefix), 1))
    assert _summary(streamed) == _summary(whole)
    # and the values, worked out by hand
    assert [x.name for x in streamed] == ["fleet", "typo", "dup", "s[3]", "big", "s[5]"]
    assert [x.error for x in streamed if x.error] == [
        "s.yaml:5: scenario typo: context.stage: Input should be 'experimentation' or 'production', got a string 'prod'",
        "s.yaml:9: scenario dup: context.can_use_spot: duplicate key 'can_use_spot' (YAML keeps only one; delete the other)",
        "s.yaml: scenario s[3]: expected a mapping with context:, got an integer"]
    big = streamed[4]
    assert big.scenario.workload.tokens_per_day == 1e9 and big.where(("workload", "batch")) == "s.yaml:12"


def test_a_problem_inside_one_entry_rejects_that_entry_only():
    text = ("scenarios:\n  - &base {context: {can_use_spot: true}}\n  - context: *missing\n  - &base {}\n"
            "  - " + "[" * 120 + "]" * 120 + "\n  - *base\n")
    loaded = scen.parse("s.yaml", text.encode())
    assert [(x.name, x.error) for x in loaded] == [
        ("s[0]", None),
        ("s[1]", "s.yaml:3: scenario s[1]: found undefined alias"),
        ("s[2]", "s.yaml:4: scenario s[2]: second occurrence (found duplicate anchor; first occurrence that starts on line 2)"),
        ("s[3]", "s.yaml:5: scenario s[3]: nesting deeper than 100 levels"),
        ("s[4]", None)]
    assert loaded[4].scenario.context.can_use_spot is True  # an alias to an earlier entry's anchor


def test_keys_after_a_streamed_list_are_reported_after_its_scenarios():
    loaded = scen.parse("s.yaml", b"scenarios:\n  - name: a\nname: oops\n")
    assert [(x.name, x.error) for x in loaded] == [
        ("a", None), ("s", "s.yaml: next to scenarios:, unexpected key 'name' (put it inside a scenario)")]
    loaded = scen.parse("s.yaml", b"scenarios:\n  - name: a\nscenarios:\n  - name: b\n")
    assert loaded[-1].error == "s.yaml:3: scenario s: scenarios: duplicate key 'scenarios' (YAML keeps only one; delete the other)"
    assert scen.parse("s.yaml", b"scenarios: []\n")[0].error == "s.yaml: scenarios: must be a non-empty list of scenarios"
    assert scen.parse("s.yaml", b"scenarios:\n  - {}\n---\n{}\n")[-1].error == (
        "s.yaml:3: expected a single document in the stream, but found another document")


def test_a_syntax_error_late_in_a_list_refuses_the_file_before_any_scenario():
    text = "scenarios:\n" + "  - {}\n" * 50 + "  - {oops\n"
    (loaded,) = scen.parse("s.yaml", text.encode())
    assert loaded.error.startswith("s.yaml:53: ")


def test_a_batch_decides_a_list_entry_by_entry_and_a_bad_entry_does_not_stop_it(tmp_path):
    from advisor.decide import batch
    from advisor.decide.decision import Advisor

    path = tmp_path / "many.yaml"
    path.write_text("scenarios:\n" + "  - {}\n" * 3 + "  - &x {context: *x}\n")
    results = batch.run_one(Advisor(), str(path))
    first = next(results)
    assert first.scenario == "many[0]"
    assert [getattr(r, "message", None) for r in results][-1] == f"{path}:5: scenario many[3]: nesting deeper than 100 levels"


# --- YAML 1.2 numbers, merge keys ------------------------------------------------------------------


@pytest.mark.parametrize("text, value", [
    ("1e15", 1e15), ("1.5e3", 1500.0), ("-2E-2", -0.02), (".5", 0.5), ("1_000", 1000), ("+12", 12), ("0", 0), ("-.inf", float("-inf")),
    ("1:30", "1:30"), ("0x10", "0x10"), ("0o17", "0o17"), ("0b101", "0b101"), ("010", "010"), ("=", "="), ("yes", True),
])
def test_numbers_are_read_as_yaml_1_2_core_reads_them(text, value):
    assert yamlio.load(f"v: {text}\n").data == {"v": value}


def test_1e15_tokens_a_day_is_a_number_in_a_scenario():
    (loaded,) = scen.parse("s.yaml", b"workload: {tokens_per_day: 1e15}\n")
    assert loaded.error is None and loaded.scenario.workload.tokens_per_day == 1e15


def test_a_key_beside_a_merge_key_overrides_the_merged_value():
    text = (b"scenarios:\n"
            b"  - context: &fleet {have_a100_fleet: true, utilization: 0.5}\n"
            b"  - context:\n"
            b"      <<: *fleet\n"
            b"      utilization: 0.9\n")
    first, second = scen.parse("s.yaml", text)
    assert first.error is None and second.error is None, second.error
    assert (second.scenario.context.have_a100_fleet, second.scenario.context.utilization) == (True, 0.9)
    assert second.where(("context", "utilization")) == "s.yaml:5"  # its own line, not the merged one's
    (twice,) = scen.parse("s.yaml", b"base: &b {x: 1}\ncontext:\n  <<: *b\n  stage: production\n  stage: production\n")
    assert "s.yaml:5: scenario s: context.stage: duplicate key 'stage'" in twice.error


def test_rule_files_read_numbers_the_same_way(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules" / "policy", rules)
    book = rules / "40-recommendation.yaml"
    text = book.read_text()
    assert "value: 0.7\n" in text
    book.write_text(text.replace("value: 0.7\n", "value: 7e-1\n"))  # YAML 1.1 read this as the string '7e-1'
    check = run_cli("rules", "check", str(rules))
    assert check.returncode == 0, check.stderr
    spot = json.loads(run_cli("run", "--rules", str(rules), str(REPO / "scenarios" / "fleet-underused.yaml"), "--no-audit",
                              "--format", "json").stdout)
    assert spot["decisions"][0]["general_answer"]["id"] == "optimize-a100"
    book.write_text(text.replace("value: 0.7\n", "value: 0:42\n"))  # base 60, which YAML 1.1 read as 42
    assert run_cli("rules", "check", str(rules)).returncode == 2


def test_a_saved_scenario_reads_back_equal_even_when_its_text_looks_like_a_number(tmp_path):
    data = {"name": "1e3", "context": {"stage": "production"}}
    for name in ("1e3", "1:30", "0x10", "yes", "010"):
        data["name"] = name
        scen.save(tmp_path / "s.yaml", data)
        (loaded,) = scen.parse("s.yaml", (tmp_path / "s.yaml").read_bytes())
        assert loaded.error is None and loaded.scenario.name == name


# --- text from input never reaches a terminal as control codes ------------------------------------------

FORGED = 'name: "\\e[2J\\e]0;pwned\\a\\nverdict     forged\\u202e"\ncontext: {can_use_spot: true}\n'
SHOWN = "\\x1b[2J\\x1b]0;pwned\\x07\\nverdict     forged\\u202e"


def test_printable_and_table_cells_escape_control_characters():
    assert printable("a\x1b[31mb\nc\td\r\x7f\x85é\u202e") == "a\\x1b[31mb\\nc\\td\\r\\x7f\\x85é\\u202e"
    assert table(["h\x1b"], [["x\ny"]]) == "h\\x1b\n-----\nx\\ny"  # the cells as shown, widths included
    assert echo("x" * 100) == repr("x" * 59 + "\u2026") and echo("short") == "'short'"


@pytest.mark.parametrize("fmt", ["table", "csv", "markdown"])
def test_a_forged_name_is_shown_escaped_in_every_text_format(tmp_path, fmt):
    (tmp_path / "forged.yaml").write_text(FORGED)
    proc = run_cli("run", str(tmp_path / "forged.yaml"), "--no-audit", "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout and "\u202e" not in proc.stdout and SHOWN in proc.stdout
    assert not any(line.startswith("verdict") for line in proc.stdout.splitlines())
    if fmt == "table":
        # one verdict line, and the forged "verdict" stays inside the name's line
        assert sum(line.startswith("  verdict ") for line in proc.stdout.splitlines()) == 1
        assert sum(SHOWN in line for line in proc.stdout.splitlines()) == 1
    else:
        assert len(proc.stdout.splitlines()) == 2 + (fmt == "markdown")  # header(s) and one record


def test_json_keeps_the_name_exact(tmp_path):
    (tmp_path / "forged.yaml").write_text(FORGED)
    out = json.loads(run_cli("run", str(tmp_path / "forged.yaml"), "--no-audit", "--format", "json").stdout)
    assert out["decisions"][0]["scenario"] == "\x1b[2J\x1b]0;pwned\x07\nverdict     forged\u202e"


def test_a_forged_name_is_escaped_in_audit_list_show_and_explain(tmp_path):
    (tmp_path / "forged.yaml").write_text(FORGED)
    db = str(tmp_path / "audit.sqlite3")
    assert run_cli("run", str(tmp_path / "forged.yaml"), "--audit-db", db).returncode == 0
    listing = run_cli("audit", "list", "--audit-db", db)
    (record,) = json.loads(run_cli("audit", "list", "--audit-db", db, "--format", "json").stdout)["decisions"]
    shown = run_cli("audit", "show", record["decision_id"], "--audit-db", db)
    explained = run_cli("explain", "--id", record["decision_id"], "--audit-db", db)
    explained_file = run_cli("explain", str(tmp_path / "forged.yaml"))
    for proc in (listing, shown, explained, explained_file):
        assert proc.returncode == 0, proc.stderr
        assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout and SHOWN in proc.stdout, proc.stdout
    assert not any(line.startswith("verdict") for line in listing.stdout.splitlines())


def test_an_error_naming_a_forged_name_is_one_escaped_line(tmp_path):
    (tmp_path / "forged.yaml").write_text(FORGED.replace("can_use_spot: true", "stage: prod"))
    proc = run_cli("run", str(tmp_path / "forged.yaml"), "--no-audit")
    assert proc.returncode == 1 and "\x1b" not in proc.stderr and len(proc.stderr.splitlines()) == 2
    assert f"scenario {SHOWN}: context.stage:" in proc.stderr


# --- bounded echoes ---------------------------------------------------------------------------------


def test_a_5_mb_unknown_model_id_is_echoed_short(tmp_path):
    (tmp_path / "big.yaml").write_text("workload: {model: " + "llama" * 1_000_000 + "}\n")
    proc = run_cli("run", str(tmp_path / "big.yaml"), "--no-audit", "--format", "json")
    (error,) = json.loads(proc.stdout)["errors"]
    assert error["message"] == (f"{tmp_path / 'big.yaml'}:1: scenario big: workload.model: unknown model "
                                f"'{('llama' * 12)[:59]}\u2026' (`advisor models` lists them)")
    explained = run_cli("explain", str(tmp_path / "big.yaml"))
    assert explained.returncode == 1 and len(explained.stderr) < 300


def test_long_keys_are_echoed_short():
    (loaded,) = scen.parse("s.yaml", ("context: {" + "k" * 1_000 + ": 1}\n").encode())
    assert len(loaded.error) < 400 and loaded.error.startswith("s.yaml:1: scenario s: context." + "k" * 59 + "\u2026: unknown key '")


# --- explain FILE records nothing and shows no id ------------------------------------------------------------


def test_explain_of_a_file_says_it_is_not_recorded_and_shows_no_decision_id(tmp_path):
    db = str(tmp_path / "audit.sqlite3")
    text = run_cli("explain", str(REPO / "scenarios" / "spot.yaml"), "--audit-db", db)
    assert text.returncode == 0
    head = text.stdout.splitlines()[0]
    assert head.endswith("· not recorded (explain decides again; `advisor run` records)") and "decision" not in head
    (e,) = json.loads(run_cli("explain", str(REPO / "scenarios" / "spot.yaml"), "--format", "json").stdout)["explanations"]
    assert e["decision_id"] is None and e["recorded"] is False
    assert not Path(db).exists()
    # a recorded decision keeps its id
    run = json.loads(run_cli("run", str(REPO / "scenarios" / "spot.yaml"), "--audit-db", db, "--format", "json").stdout)
    decision_id = run["decisions"][0]["decision_id"]
    by_id = run_cli("explain", "--id", decision_id, "--audit-db", db)
    assert f"decision {decision_id}" in by_id.stdout.splitlines()[0]
    (e,) = json.loads(run_cli("explain", "--id", decision_id, "--audit-db", db, "--format", "json").stdout)["explanations"]
    assert e["decision_id"] == decision_id and e["recorded"] is True


# --- the progress bar, on a fake clock ------------------------------------------------------------------


class FakeTerminal:
    def __init__(self, tty: bool = True):
        self.tty, self.written = tty, ""

    def isatty(self):
        return self.tty

    def write(self, text):
        self.written += text

    def flush(self):
        pass


def test_the_progress_bar_waits_a_second_then_redraws_at_most_ten_times_a_second(monkeypatch):
    monkeypatch.setenv("TERM", "xterm")
    now = [100.0]
    screen = FakeTerminal()
    bar = term.Progress(screen, 4, clock=lambda: now[0], data=FakeTerminal(tty=False))
    for t, files in ((100.5, 1), (101.2, 2), (101.25, 3)):
        now[0] = t
        bar.step(files, files * 10, 0)
    assert screen.written == "\r[############............] 2/4 files · 20 decided · 0 invalid · 17/s\x1b[K"
    bar.close()
    assert screen.written.endswith("\r\x1b[K")


@pytest.mark.parametrize("term_name, stderr_tty, stdout_tty", [("dumb", True, False), ("xterm", False, False), ("xterm", True, True)])
def test_no_progress_bar_on_a_dumb_terminal_a_pipe_or_between_decisions_on_the_terminal(monkeypatch, term_name, stderr_tty, stdout_tty):
    monkeypatch.setenv("TERM", term_name)
    screen = FakeTerminal(stderr_tty)
    bar = term.Progress(screen, 1, clock=lambda: 1000.0, data=FakeTerminal(stdout_tty))
    bar.step(1, 5, 0)
    bar.close()
    assert screen.written == ""
