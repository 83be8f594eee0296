"""`advisor ask` as a user meets it: the real command in a pseudo-terminal (pexpect).

No test waits for time to pass: each waits for what the command shows (a question on screen, a
message, the end of output). Timeouts are only hang guards, generous enough for a machine busy
with other test runs.
"""

import io
import json
import os
import re
import signal
import time

import pexpect
import pytest
from advisor.catalog.load import load_catalog
from advisor.cli import quickstart
from advisor.cli.session import first_question
from advisor.scenario.questions import OTHER_SIZE, questions
from conftest import ADVISOR, REPO, run_cli

ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")
HANG_GUARD_S = 180  # a hang fails the test; a slow machine does not


def spawn(*args, tmp_path, **env):
    # PROMPT_TOOLKIT_NO_CPR: pexpect does not answer prompt_toolkit's cursor-position request as a
    # real terminal does; without it every prompt waits for the request to time out.
    environment = {**os.environ, "ADVISOR_AUDIT_DB": str(tmp_path / "audit.sqlite3"), "PROMPT_TOOLKIT_NO_CPR": "1", **env}
    child = pexpect.spawn(ADVISOR, ["ask", *args], env=environment, encoding="utf-8", timeout=HANG_GUARD_S, dimensions=(60, 220),
                          cwd=str(tmp_path))
    child.logfile_read = io.StringIO()  # the whole transcript, for assertions on what was shown
    return child


QUESTIONS = questions(load_catalog())
# Each question prints its help line once, before it is asked; then the question itself is drawn
# (a kept first question before its prompt reads keys: keys wait for it). Keys are sent only once
# the question is on screen.
HELP = [re.escape(question.help) for question in QUESTIONS]
SAVE = r"Save these answers as a scenario file\?"


def _shown_message(question) -> str:
    """What of the question's message is always on screen: all of it, or the text before the
    figures a computed message shows ("Keep this workload:")."""
    if callable(question.message):
        return re.escape(question.message({}, load_catalog()).split(":")[0] + ":")
    return re.escape(question.message)


def next_question(child) -> str:
    """Wait until the next question is on screen and reads keys; returns its field name, or "save"
    (the save offer, a question too) or "end"."""
    index = child.expect([SAVE, pexpect.EOF, *HELP])
    if index < 2:
        return "save" if index == 0 else "end"
    alike = [q for q in QUESTIONS if q.help == QUESTIONS[index - 2].help]  # the price questions share theirs
    return alike[child.expect([_shown_message(q) for q in alike])].name


def answer_all_with_enter(child):
    """Press Enter at every question until the save offer shows."""
    while next_question(child) != "save":
        child.send("\r")


def plain(text: str) -> str:
    return ANSI.sub("", text)


def transcript(child) -> str:
    return plain(child.logfile_read.getvalue())


def shown_verdict(shown: str) -> tuple[str, str]:
    """(text, GPU) of the verdict line: the GPU after "->", or the one the text begins with."""
    text = re.search(r"Verdict: (.*)", shown).group(1).strip()
    named = re.fullmatch(r"(.*?)  ->  (\S+)", text)
    return named.groups() if named else (text, text.split(":")[0])


def test_enter_through_the_defaults_gives_a_recommendation(tmp_path):
    child = spawn(tmp_path=tmp_path)
    answer_all_with_enter(child)
    shown = transcript(child)
    verdict = shown_verdict(shown)
    assert "General answer: H100 - better investment for the future: " in shown
    assert shown.index("Verdict:") < shown.index("Plans (") < shown.index("General answer:") < shown.index("Why")
    child.send("\r")  # do not save
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    recorded = json.loads(run_cli("audit", "list", "--format", "json", "--audit-db", str(tmp_path / "audit.sqlite3")).stdout)
    assert [(d["text"], d["gpu"]) for d in recorded["decisions"]] == [verdict]


def test_a_rejected_answer_shows_why_and_the_user_corrects_it(tmp_path):
    child = spawn(tmp_path=tmp_path)
    while next_question(child) != "context.have_a100_fleet":
        child.send("\r")
    child.send("y")
    while next_question(child) != "context.utilization":
        child.send("\r")
    child.send("\x7f" * 3 + "1.5\r")
    child.expect("less than or equal to 1")
    child.send("\x7f" * 3 + "25ms\r")
    child.expect(r"a time\): write it like 70% or 0\.7")  # the terminal draws some spaces as cursor moves
    child.send("\x7f" * 4 + "50%\r")
    answer_all_with_enter(child)
    assert "General answer: Optimize A100 usage before upgrading: " in transcript(child)
    child.send("\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_ctrl_c_exits_130_with_one_line_and_saves_nothing(tmp_path):
    child = spawn("--save", "mine.yaml", tmp_path=tmp_path)
    assert next_question(child) == QUESTIONS[0].name  # on screen: the prompt reads keys now
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    tail = transcript(child).strip().splitlines()[-1]
    assert tail.endswith("advisor: interrupted") and "Traceback" not in transcript(child)  # (the tty echoes ^C)
    assert not (tmp_path / "mine.yaml").exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.fixture
def kept_first_question(tmp_path, monkeypatch):
    """A cache directory holding the first question, as an earlier session left it: the next
    session shows it at once and loads the advisor behind it (cli/quickstart.py)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    quickstart.remember(first_question(load_catalog()))
    assert quickstart.cached() is not None
    return tmp_path / "cache" / "advisor" / quickstart.CACHE_NAME


# --save: the session loads before its first question; without: the first question is the one
# kept in the cache, on screen while the advisor loads in a background thread
STARTS = [pytest.param(("--save", "mine.yaml"), id="loaded-first"), pytest.param((), id="first-question-kept")]


@pytest.fixture(params=STARTS)
def start(request):
    if not request.param:
        request.getfixturevalue("kept_first_question")
    return request.param


def test_a_sigint_signal_while_a_question_reads_keys_exits_130(tmp_path, start):
    # kill -INT, or a Ctrl-C that lands before the terminal is in raw mode: prompt_toolkit turns the
    # signal into a <sigint> key, which questionary's prompts ignored (the session waited forever)
    child = spawn(*start, tmp_path=tmp_path)
    assert next_question(child) == QUESTIONS[0].name  # drawn: the terminal is in raw mode
    child.kill(signal.SIGINT)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130 and "Traceback" not in transcript(child)
    assert transcript(child).strip().splitlines()[-1].endswith("advisor: interrupted")
    assert not (tmp_path / "mine.yaml").exists()


@pytest.mark.parametrize("pause_s", [0, 0.005, 0.01, 0.02, 0.04])
def test_ctrl_c_before_the_first_question_also_exits_130(tmp_path, pause_s, start):
    # sent as soon as anything is shown, while the session may still be starting (asyncio and
    # prompt_toolkit setting up, the terminal not yet raw; with the first question kept, the
    # advisor loading behind it): a signal, not a key. The pauses only move where it lands;
    # wherever it lands the answer is the same (one in ~40 was lost before)
    child = spawn(*start, tmp_path=tmp_path)
    child.expect(HELP[0])
    time.sleep(pause_s)
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130 and "Traceback" not in transcript(child)
    assert transcript(child).strip().splitlines()[-1].endswith("advisor: interrupted")
    assert not (tmp_path / "mine.yaml").exists()


def test_ctrl_c_as_the_first_answer_is_given_exits_130(tmp_path, kept_first_question):
    # the answer given and the advisor perhaps still loading in its thread: the wait for it ends too
    child = spawn(tmp_path=tmp_path)
    assert next_question(child) == QUESTIONS[0].name
    child.send("\r")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130 and "Traceback" not in transcript(child)
    assert transcript(child).strip().splitlines()[-1].endswith("advisor: interrupted")


def test_a_session_keeps_its_first_question_and_the_next_asks_it_before_loading(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    verdicts = []
    for _ in range(2):  # the first session finds no cache and writes it; the second starts from it
        child = spawn("--no-audit", tmp_path=tmp_path)
        answer_all_with_enter(child)
        verdicts.append(shown_verdict(transcript(child)))
        child.send("\r")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0
        kept = json.loads((tmp_path / "cache" / "advisor" / quickstart.CACHE_NAME).read_text())
        assert [value for value, _ in kept["question"]["choices"]] == [*load_catalog().models, OTHER_SIZE]
        assert kept["question"]["message"] == QUESTIONS[0].message and kept["digest"] == quickstart.catalog_digest()
    assert verdicts[0] == verdicts[1]


def test_a_kept_first_question_takes_keys_pressed_before_its_prompt_has_started(tmp_path, kept_first_question):
    # drawn before questionary is imported (prompts.EarlySelect); keys pressed at once wait for the
    # prompt, which draws itself over the early lines: Down then Enter picks the model after the default
    first = first_question(load_catalog())
    values = [value for value, _ in first.choices]
    child = spawn("--no-audit", "--format", "json", tmp_path=tmp_path)
    child.expect(re.escape(first.message))
    child.send("\x1b[B\r")
    answer_all_with_enter(child)
    body = transcript(child)
    decision = json.loads(body[body.index('{"version"'):body.rindex("}") + 1].replace("\r\n", "\n"))["decisions"][0]
    assert decision["input"]["workload"]["model"] == values[values.index(first.default) + 1]
    assert body.count(QUESTIONS[0].help) == 1  # the help above it, once
    early_lines_erased = f"\r\x1b[{len(first.choices)}A\x1b[J"  # back to the question's first row, where the prompt draws
    assert early_lines_erased in child.logfile_read.getvalue()
    child.send("\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_a_kept_first_question_is_data_and_an_answer_the_catalog_lacks_is_asked_again(tmp_path, kept_first_question):
    kept = json.loads(kept_first_question.read_text())
    kept["question"]["choices"] = [["no-such-model", "no such model \x1b[31mred"]]
    kept["question"]["default"] = "no-such-model"
    kept_first_question.write_text(json.dumps(kept))
    child = spawn("--no-audit", tmp_path=tmp_path)
    assert next_question(child) == QUESTIONS[0].name
    child.expect_exact("no such model \\x1b[31mred")  # shown escaped, never as an escape code
    child.send("\r")  # the only choice offered, which the catalog does not have
    assert next_question(child) == QUESTIONS[0].name  # asked again, from the catalog
    child.send("\r")
    answer_all_with_enter(child)
    child.send("\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and "\x1b[31mred" not in child.logfile_read.getvalue()
    assert "Verdict:" in transcript(child)


@pytest.mark.parametrize("content", [b"{not json", b"[]", b"\xff\xfe", json.dumps({"format": 1, "digest": "0" * 64}).encode()])
def test_a_cache_that_is_not_for_these_catalogs_is_ignored_and_replaced(tmp_path, kept_first_question, content):
    kept_first_question.write_bytes(content)
    child = spawn("--no-audit", tmp_path=tmp_path)
    answer_all_with_enter(child)
    child.send("\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and quickstart.cached() == first_question(load_catalog())


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
    verdict = shown_verdict(shown)
    saved = tmp_path / "mine.yaml"
    proc = run_cli("run", str(saved), "--format", "json", "--no-audit")
    (d,) = json.loads(proc.stdout)["decisions"]
    assert (d["verdict"]["text"], d["verdict"]["gpu"]) == verdict
    assert d["plans"]["a100-80gb"]["price_usd_per_hour"] == 1.9
    # and --from pre-fills a new session with those answers: Enter through gives the same decision
    child = spawn("--from", str(saved), "--no-audit", "--format", "json", tmp_path=tmp_path)
    answer_all_with_enter(child)
    body = transcript(child)
    again = json.loads(body[body.index('{"version"'):body.rindex("}") + 1].replace("\r\n", "\n"))["decisions"][0]
    assert again["verdict"] == d["verdict"] and again["plans"] == d["plans"]
    child.send("\r")
    child.expect(pexpect.EOF)


def test_colour_on_a_terminal_and_never_with_no_color(tmp_path):
    spot = str(REPO / "scenarios" / "spot.yaml")
    out = pexpect.run(f"{ADVISOR} run {spot} --no-audit", encoding="utf-8", timeout=30)
    assert "\x1b[" in out
    out = pexpect.run(f"{ADVISOR} run {spot} --no-audit", encoding="utf-8", timeout=30, env={**os.environ, "NO_COLOR": "1"})
    assert "\x1b[" not in out
    assert "\x1b[" not in run_cli("run", spot, "--no-audit").stdout  # a pipe


def _run_with_a_slow_file(tmp_path, stdout: str = "", **env) -> str:
    """`advisor run` with stderr on a terminal (stdout too unless ``stdout`` names a file) over three
    files, the middle one a FIFO whose content is written only after the run has waited on it for
    over a second: a batch that is certainly longer than the progress bar's delay however fast the
    machine (a lower bound on time, never an upper one). Returns what the terminal showed."""
    (tmp_path / "a.yaml").write_text("name: a\n")
    (tmp_path / "c.yaml").write_text("name: c\n")
    fifo = tmp_path / "b.yaml"
    os.mkfifo(fifo)
    command = f"{ADVISOR} run a.yaml b.yaml c.yaml --no-audit --format csv" + (f" > {stdout}" if stdout else "")
    child = pexpect.spawn("/bin/sh", ["-c", command], cwd=str(tmp_path), env={**os.environ, **env}, encoding="utf-8",
                          timeout=HANG_GUARD_S)
    deadline = time.monotonic() + HANG_GUARD_S
    while True:  # the run has opened the FIFO (after a.yaml) once a writer can open it
        try:
            writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError:
            assert time.monotonic() < deadline and child.isalive(), "advisor run never read the FIFO"
            time.sleep(0.05)
    time.sleep(1.5)
    os.write(writer, b"name: b\n")
    os.close(writer)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    return child.before


def test_a_progress_bar_on_a_terminal_once_a_batch_takes_longer_than_a_second(tmp_path):
    shown = _run_with_a_slow_file(tmp_path, stdout="out.csv", TERM="xterm")
    assert re.search(r"\r\[[#.]{24}\] [12]/3 files · [12] decided · 0 invalid · [\d,]+/s\x1b\[K", shown), shown
    assert shown.endswith("\r\x1b[K")  # cleared at the end
    assert [row.split(",")[0] for row in (tmp_path / "out.csv").read_text().splitlines()] == ["scenario", "a", "b", "c"]


def test_no_progress_bar_between_decisions_printed_on_the_terminal(tmp_path):
    # a bar drawn there would be glued to the next decision ("[###...] 1/3 files ... 1/sc,c.yaml,...")
    shown = _run_with_a_slow_file(tmp_path, TERM="xterm")
    assert "files ·" not in shown
    assert re.findall(r"^([abc]),\1\.yaml,", shown, re.M) == ["a", "b", "c"]


def test_term_dumb_gets_no_progress_bar_and_no_escape_codes(tmp_path):
    shown = _run_with_a_slow_file(tmp_path, stdout="out.csv", TERM="dumb")
    assert "\x1b" not in shown and "files ·" not in shown and shown.strip() == ""


def test_no_progress_bar_on_a_pipe(tmp_path):
    for n in range(3):
        (tmp_path / f"batch{n}.yaml").write_text("scenarios:\n" + "  - context: {can_use_spot: true}\n" * 200)
    piped = run_cli("run", str(tmp_path), "--no-audit", "--format", "csv")
    assert piped.returncode == 0 and piped.stderr == ""


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


# --- issue 9: TERM=dumb, and everything about --save checked before the first question ---------------


def test_term_dumb_asks_in_plain_lines_without_escape_codes(tmp_path):
    child = spawn("--no-audit", tmp_path=tmp_path, TERM="dumb")
    while (name := next_question(child)) != "save":
        child.send("2\r" if name == "context.optimize_for" else "\r")  # the second choice: latency
    child.send("\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    raw = child.logfile_read.getvalue()
    assert "\x1b" not in raw
    assert "  2) latency (per-token speed, P99)" in raw and "General answer: H100 - better investment for the future: " in raw
    assert "factor optimize_for_latency: H100" in raw


def test_save_follows_the_umask_or_keeps_the_mode_of_the_file_it_replaces(tmp_path):
    for name, umask, existing_mode, expected in (("new.yaml", 0o027, None, 0o640), ("kept.yaml", 0o077, 0o664, 0o664)):
        if existing_mode is not None:
            (tmp_path / name).write_text("# old\n")
            (tmp_path / name).chmod(existing_mode)
        child = pexpect.spawn(ADVISOR, ["ask", "--save", name, "--no-audit"], env={**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1"},
                              encoding="utf-8", timeout=HANG_GUARD_S, dimensions=(60, 220), cwd=str(tmp_path),
                              preexec_fn=lambda mask=umask: os.umask(mask))
        child.logfile_read = io.StringIO()
        while next_question(child) != "end":
            child.send("\r")
        child.close()
        assert child.exitstatus == 0, transcript(child)
        assert (tmp_path / name).stat().st_mode & 0o777 == expected, name
        assert (tmp_path / name).read_text().startswith("# Saved by `advisor ask`")


@pytest.mark.parametrize("name, message", [
    ("n" * 201 + ".yaml", "the file name's stem is 201 characters and becomes the scenario's name, which has at most 200"),
    ("é" * 130 + ".yaml", "the file name is 265 bytes; this file system takes at most 255"),
    ("missing/x.yaml", "missing is not a directory"),
])
def test_a_save_name_that_cannot_be_saved_is_refused_before_any_question(tmp_path, name, message):
    child = spawn("--save", name, tmp_path=tmp_path)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2
    shown = transcript(child)
    assert message in shown and QUESTIONS[0].help not in shown


def test_save_onto_the_from_file_is_asked_first_and_refused_unless_confirmed(tmp_path):
    original = "name: mine\ncontext: {have_a100_fleet: true, utilization: 0.5}\n"
    (tmp_path / "mine.yaml").write_text(original)
    child = spawn("--from", "mine.yaml", "--save", "./mine.yaml", "--no-audit", tmp_path=tmp_path)
    child.expect(r"mine\.yaml is the --from file: replace it with this session's answers at the end\?")
    child.send("\r")  # the default: no
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2 and "is the --from file: not overwritten (choose another --save file to keep both)" in transcript(child)
    assert QUESTIONS[0].help not in transcript(child) and (tmp_path / "mine.yaml").read_text() == original
    child = spawn("--from", "mine.yaml", "--save", "mine.yaml", "--no-audit", tmp_path=tmp_path)
    child.expect("is the --from file: replace it")
    child.send("y")
    while next_question(child) != "end":
        child.send("\r")
    child.close()
    assert child.exitstatus == 0
    saved = (tmp_path / "mine.yaml").read_text()
    assert saved.startswith("# Saved by") and "utilization: 0.5" in saved and "name: mine" in saved


def test_a_from_file_the_catalog_refuses_is_refused_before_any_question(tmp_path):
    (tmp_path / "typo.yaml").write_text("name: typo\nworkload:\n  model: llama-2-7OB\n")
    child = spawn("--from", "typo.yaml", tmp_path=tmp_path)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert ("typo.yaml:3: scenario typo: workload.model: unknown model 'llama-2-7OB' (did you mean llama-2-7b, llama-2-70b?)"
            in transcript(child)) and QUESTIONS[0].help not in transcript(child)
