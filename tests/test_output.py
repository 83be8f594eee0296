"""What people read: a decision's text fits the terminal it is shown on, with the verdict first."""

import re

import pytest

from advisor.decide.decision import Advisor
from advisor.render.decisions import ask_summary, decision_block
from advisor.render.term import PLAIN, Palette
from advisor.scenario import files as scen
from conftest import REPO

CHECKS = sorted((REPO / "scenarios" / "checks").glob("*.yaml"))
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def decisions():
    advisor = Advisor()
    out = []
    for path in CHECKS:
        (loaded,) = scen.parse(str(path), path.read_bytes())
        out.append(advisor.decide(loaded.scenario, str(path), loaded.raw))
    return out


@pytest.mark.parametrize("width", [100, 120, 160])
def test_every_line_fits_the_terminal_in_colour_and_without(decisions, width):
    for d in decisions:
        for palette in (PLAIN, Palette(True)):
            for text in (decision_block(d, palette, width=width), ask_summary(d, palette, width=width)):
                long = [line for line in text.splitlines() if len(ANSI.sub("", line)) > width]
                assert not long, (d.scenario, width, long)


def test_the_verdict_comes_first_then_the_plans_the_findings_and_the_general_answer(decisions):
    for d in decisions:
        labels = [line[:14].strip() for line in decision_block(d).splitlines()[1:] if line[:14].strip()]
        order = [label for label in dict.fromkeys(labels) if label in ("verdict", "plans", "finding", "general")]
        assert order == [label for label in ("verdict", "plans", "finding", "general") if label in labels], d.scenario
        summary = ask_summary(d)
        heads = [summary.index(h) for h in ("Verdict:", "Plans (", "General answer:") if h in summary]
        assert heads == sorted(heads) and len(heads) == 3, d.scenario


def test_the_plans_table_marks_the_verdicts_gpu_and_says_why_each_other_lost(decisions):
    for d in decisions:
        rows = [line for line in decision_block(d).splitlines() if re.match(r"^    [ *]  \S", line)]
        chosen = {g for g in d.verdict.gpu.split("+")}
        marked = {line.split()[1] for line in rows if line[4] == "*"}
        assert marked == {g for g in chosen if d.plans.get(g, {}).get("feasible")}, d.scenario
        for gpu, plan in d.plans.items():
            row = next((line for line in rows if line.split()[1 if line[4] == "*" else 0] == gpu), None)
            if not plan.get("feasible"):
                continue
            assert row is not None, (d.scenario, gpu)  # every GPU with a plan is shown
            if gpu not in chosen:
                assert re.search(r"\+\$[\d,]+ a month \(\+\d+%\)|a month less, but: ", row), (d.scenario, row)


def test_the_width_is_the_terminal_the_output_goes_to_not_whatever_stdout_is(monkeypatch):
    import fcntl
    import os
    import struct
    import termios

    from advisor.render import term

    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 72, 0, 0))
    with os.fdopen(follower, "w") as screen:
        monkeypatch.delenv("COLUMNS", raising=False)
        assert term.width(screen) == 72  # while this test's stdout is a pipe or another terminal
        monkeypatch.setenv("COLUMNS", "120")
        assert term.width(screen) == 120
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 0, 0, 0, 0))
        monkeypatch.delenv("COLUMNS")
        assert term.width(screen) == 100  # a terminal that does not say
    os.close(leader)
    with open(os.devnull, "w") as pipe:
        assert term.width(pipe) is None
