"""`advisor ask` as a user meets it: the real command in a pseudo-terminal (pexpect)."""

import io
import json
import os
import re

import pexpect
import pytest
from advisor.catalog.load import load_catalog
from advisor.scenario.questions import questions
from conftest import ADVISOR, REPO, run_cli

ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


def spawn(*args, tmp_path, **env):
    # PROMPT_TOOLKIT_NO_CPR: pexpect does not answer prompt_toolkit's cursor-position request as a
    # real terminal does; without it every prompt waits for the request to time out.
    environment = {**os.environ, "ADVISOR_AUDIT_DB": str(tmp_path / "audit.sqlite3"), "PROMPT_TOOLKIT_NO_CPR": "1", **env}
    child = pexpect.spawn(ADVISOR, ["ask", *args], env=environment, encoding="utf-8", timeout=30, dimensions=(60, 220),
                          cwd=str(tmp_path))
    child.logfile_read = io.StringIO()  # the whole transcript, for assertions on what was shown
    return child


# Each question prints its help line once, before it is asked: a reliable sign that it is waiting.
HELP = [re.escape(question.help) for question in questions(load_catalog())]
SAVE = r"Save these answers as a scenario file\?"


def next_question(child) -> str:
    """Wait for the next question; returns its field name, or "save" (the save offer) or "end"."""
    index = child.expect([SAVE, pexpect.EOF, *HELP])
    return "save" if index == 0 else "end" if index == 1 else questions(load_catalog())[index - 2].name


def answer_all_with_enter(child):
    """Press Enter at every question until the save offer shows."""
    while next_question(child) != "save":
        child.send("\r")


def plain(text: str) -> str:
    return ANSI.sub("", text)


def transcript(child) -> str:
    return plain(child.logfile_read.getvalue())


def test_enter_through_the_defaults_gives_a_recommendation(tmp_path):
    child = spawn(tmp_path=tmp_path)
    answer_all_with_enter(child)
    shown = transcript(child)
    assert "Recommendation: H100 - better investment for the future  ->  h100-80gb" in shown
    assert shown.index("Recommendation:") < shown.index("Cost comparison") < shown.index("Why")
    child.send("\r")  # do not save
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    recorded = json.loads(run_cli("audit", "list", "--format", "json", "--audit-db", str(tmp_path / "audit.sqlite3")).stdout)
    assert [d["recommendation"] for d in recorded["decisions"]] == ["h100-future"]


def test_a_rejected_answer_shows_why_and_the_user_corrects_it(tmp_path):
    child = spawn(tmp_path=tmp_path)
    assert next_question(child) == "context.have_a100_fleet"
    child.send("y")
    assert next_question(child) == "context.utilization"
    child.send("\x7f" * 3 + "1.5\r")
    child.expect("less than or equal to 1")
    child.send("\x7f" * 3 + "0.5\r")
    answer_all_with_enter(child)
    assert "Recommendation: Optimize A100 usage before upgrading" in transcript(child)
    child.send("\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_ctrl_c_exits_130_with_one_line_and_saves_nothing(tmp_path):
    child = spawn("--save", "mine.yaml", tmp_path=tmp_path)
    assert next_question(child) == "context.have_a100_fleet"
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    tail = transcript(child).strip().splitlines()[-1]
    assert tail.endswith("advisor: interrupted") and "Traceback" not in transcript(child)  # (the tty echoes ^C)
    assert not (tmp_path / "mine.yaml").exists() and list(tmp_path.glob(".mine.yaml*")) == []


def test_without_a_terminal_ask_exits_2_with_a_hint():
    proc = run_cli("ask", input="")
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("advisor: error: advisor ask asks questions and needs a terminal "
                                   "(without one, decide a saved scenario: advisor run FILE)")


def test_saved_answers_replay_to_the_same_decision(tmp_path):
    child = spawn("--save", "mine.yaml", "--no-audit", tmp_path=tmp_path)
    keys = {"context.have_a100_fleet": "n", "context.starting_fresh": "n", "_keep_prices": "n",
            "prices.a100-80gb": "\x7f" * 4 + "1.9\r"}
    while (name := next_question(child)) != "end":
        child.send(keys.get(name, "\r"))
    child.close()
    assert child.exitstatus == 0, transcript(child)
    shown = transcript(child)
    assert "advisor: saved mine.yaml; decide it again with: advisor run mine.yaml" in shown
    verdict = re.search(r"Recommendation: (.*?)  ->  (\S+)", shown).groups()
    saved = tmp_path / "mine.yaml"
    proc = run_cli("run", str(saved), "--format", "json", "--no-audit")
    (d,) = json.loads(proc.stdout)["decisions"]
    assert (d["recommendation"]["text"], d["recommendation"]["gpu"]) == verdict
    assert d["costs"]["a100-80gb"]["price_usd_per_hour"] == 1.9
    # and --from pre-fills a new session with those answers: Enter through gives the same decision
    child = spawn("--from", str(saved), "--no-audit", "--format", "json", tmp_path=tmp_path)
    answer_all_with_enter(child)
    body = transcript(child)
    again = json.loads(body[body.index('{"version"'):body.rindex("}") + 1].replace("\r\n", "\n"))["decisions"][0]
    assert again["recommendation"] == d["recommendation"] and again["costs"] == d["costs"]
    child.send("\r")
    child.expect(pexpect.EOF)


def test_colour_on_a_terminal_and_never_with_no_color(tmp_path):
    spot = str(REPO / "scenarios" / "spot.yaml")
    out = pexpect.run(f"{ADVISOR} run {spot} --no-audit", encoding="utf-8", timeout=30)
    assert "\x1b[" in out
    out = pexpect.run(f"{ADVISOR} run {spot} --no-audit", encoding="utf-8", timeout=30, env={**os.environ, "NO_COLOR": "1"})
    assert "\x1b[" not in out
    assert "\x1b[" not in run_cli("run", spot, "--no-audit").stdout  # a pipe


def test_a_progress_bar_only_on_a_terminal_and_only_for_long_batches(tmp_path):
    for n in range(3):
        (tmp_path / f"batch{n}.yaml").write_text("scenarios:\n" + "  - context: {can_use_spot: true}\n" * 2000)
    out = pexpect.run(f"{ADVISOR} run {tmp_path} --no-audit --format csv", encoding="utf-8", timeout=120,
                      env={**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1"})
    assert re.search(r"\r\[[#.]{24}\] \d/3 files · [\d,]+ decided · 0 invalid", out)
    piped = run_cli("run", str(tmp_path), "--no-audit", "--format", "csv")
    assert piped.returncode == 0 and "files ·" not in piped.stderr and piped.stderr == ""
    quick = pexpect.run(f"{ADVISOR} run {REPO / 'scenarios' / 'spot.yaml'} --no-audit", encoding="utf-8", timeout=30)
    assert "files ·" not in quick


def test_saving_at_the_end_never_overwrites_a_file(tmp_path):
    (tmp_path / "guided-session.yaml").write_text("# mine\n")
    child = spawn("--no-audit", tmp_path=tmp_path)
    answer_all_with_enter(child)
    child.send("y")
    child.expect(r"File name\?")
    child.send("\r")  # the default name exists
    child.expect("exists: choose another name")
    child.send("\x7f" * len("guided-session.yaml") + "other.yaml\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert (tmp_path / "guided-session.yaml").read_text() == "# mine\n"
    assert "context:" in (tmp_path / "other.yaml").read_text()
