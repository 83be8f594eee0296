"""Every decision printed is a decision recorded, whatever signal or error arrives (issue 9).

Each test runs the real command and compares the decision ids it printed with the ids in the
store: after SIGINT, SIGTERM and SIGHUP, a full disk (a file size limit), a store held by another
process, a reader that goes away and a full disk on stdout. No test depends on timing: each
waits for lines of output (or the end of the process), never for a duration; timeouts only
guard against hangs.
"""

import json
import os
import resource
import signal
import sqlite3
import subprocess
import threading

import pytest
from conftest import ADVISOR, REPO, run_cli

SPOT = str(REPO / "scenarios" / "spot.yaml")
HANG_GUARD_S = 300


def sweep(directory, files=20, each=1000):
    """A batch far longer than any test lets it run: it is always stopped part way."""
    directory.mkdir(exist_ok=True)
    for n in range(files):
        (directory / f"batch{n:02d}.yaml").write_text("scenarios:\n" + "".join(
            f"  - name: s{n}-{i}\n    context: {{have_a100_fleet: true, utilization: {0.3 + (i % 60) / 100:.2f}}}\n"
            for i in range(each)))
    return directory


def stored_ids(db) -> set:
    if not db.exists():
        return set()
    with sqlite3.connect(db) as conn:
        return {row[0] for row in conn.execute("SELECT decision_id FROM decisions")}


def csv_ids(lines) -> list:
    return [line.rstrip("\n").rsplit(",", 1)[-1] for line in lines[1:]]  # after the header


class Run:
    """An advisor process whose stdout and stderr are read by threads, line by line, so that a
    test waits for lines (never for a duration) and a hang fails the test instead of blocking it."""

    started: list = []

    def __init__(self, *args, env=None, **kwargs):
        self.proc = subprocess.Popen([ADVISOR, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, **(env or {})}, start_new_session=True, **kwargs)
        Run.started.append(self.proc)
        self.out, self.err = [], []
        self._changed = threading.Condition()
        self._readers = [threading.Thread(target=self._read, args=(stream, lines), daemon=True)
                         for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for reader in self._readers:
            reader.start()

    def _read(self, stream, lines) -> None:
        for line in stream:
            with self._changed:
                lines.append(line)
                self._changed.notify_all()
        with self._changed:
            lines.append(None)  # the end
            self._changed.notify_all()

    def wait_for(self, lines, test) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: test(lines) or (lines and lines[-1] is None), timeout=HANG_GUARD_S), "hung"

    def lines_out(self, count: int) -> None:
        """Wait until ``count`` lines have been printed (or the output ended)."""
        self.wait_for(self.out, lambda lines: len(lines) >= count)

    def err_line(self, text: str) -> None:
        """Wait until a line of stderr contains ``text`` (or stderr ended)."""
        self.wait_for(self.err, lambda lines: any(text in line for line in lines if line))

    def finish(self) -> tuple[list, str]:
        """The end of the process: (every stdout line, all of stderr)."""
        self.proc.wait(timeout=HANG_GUARD_S)
        for reader in self._readers:
            reader.join(timeout=HANG_GUARD_S)
        return [line for line in self.out if line is not None], "".join(line for line in self.err if line is not None)

    @property
    def returncode(self) -> int:
        return self.proc.returncode

    def send_signal(self, signum) -> None:
        self.proc.send_signal(signum)


@pytest.fixture(autouse=True)
def _no_process_left_behind():
    """After a failed test, the processes it started (and their workers) are ended, by group."""
    yield
    for proc in Run.started:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait(timeout=HANG_GUARD_S)
    Run.started.clear()


@pytest.mark.parametrize("signum, jobs", [(signal.SIGTERM, 1), (signal.SIGHUP, 1), (signal.SIGINT, 1), (signal.SIGTERM, 2)])
def test_a_signal_during_a_batch_stops_it_with_printed_equal_to_recorded(tmp_path, signum, jobs):
    db = tmp_path / "audit.sqlite3"
    proc = Run("run", str(sweep(tmp_path / "in")), "--format", "csv", "--jobs", str(jobs), "--audit-db", str(db))
    proc.lines_out(1200)  # more than one transaction's worth printed
    proc.send_signal(signum)
    out, err = proc.finish()
    printed = csv_ids(out)
    assert proc.returncode == 128 + signum, err
    assert 1200 <= len(printed) < 20_000, "the signal came after the end"
    assert len(set(printed)) == len(printed) and set(printed) == stored_ids(db)
    name = signal.Signals(signum).name
    assert f"advisor: interrupted ({name}): {len(printed):,} decisions printed and recorded" in err
    assert "Traceback" not in err and "UNIQUE" not in err


def test_after_a_signal_the_json_output_is_whole_and_says_it_was_interrupted(tmp_path):
    db = tmp_path / "audit.sqlite3"
    proc = Run("run", str(sweep(tmp_path / "in")), "--format", "json", "--audit-db", str(db))
    proc.lines_out(700)  # JSON: one decision a line after two lines of head
    proc.send_signal(signal.SIGTERM)
    lines, err = proc.finish()
    out = json.loads("".join(lines))
    assert proc.returncode == 143, err
    assert {d["decision_id"] for d in out["decisions"]} == stored_ids(db)
    assert out["errors"][-1]["message"].startswith("interrupted (SIGTERM)")


def _file_size_limit(limit: int):
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_full_disk_stops_the_batch_and_says_what_was_not_recorded(tmp_path):
    db = tmp_path / "audit.sqlite3"
    assert run_cli("run", SPOT, "--audit-db", str(db)).returncode == 0  # the store exists, small
    before = stored_ids(db)
    # The store's files may not grow past 2 MB: a few transactions fit, then a write fails (EFBIG,
    # as ENOSPC would). stdout is a pipe, which the limit does not apply to.
    proc = Run("run", str(sweep(tmp_path / "in", files=10)), "--format", "csv", "--audit-db", str(db),
               preexec_fn=_file_size_limit(2_000_000))
    out, err = proc.finish()
    printed = csv_ids(out)
    assert proc.returncode == 2, err
    assert 0 < len(printed) < 10_000
    assert stored_ids(db) - before == set(printed)
    (line,) = [e for e in err.splitlines() if e.startswith("advisor: error: audit store")]
    assert "disk I/O error" in line and "is the disk full" in line and "cannot rollback" not in line
    assert "were neither recorded nor printed, and the rest of the batch was not decided" in line
    assert f"the {len(printed):,} printed before are recorded" in line


def _hold(db):
    """Another process's write transaction on the store (this test's connection)."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def test_a_store_held_past_the_wait_limit_prints_nothing_it_did_not_record(tmp_path):
    db = tmp_path / "audit.sqlite3"
    assert run_cli("run", SPOT, "--audit-db", str(db)).returncode == 0
    before = stored_ids(db)
    holder = _hold(db)
    try:
        proc = Run("run", str(sweep(tmp_path / "in", files=1, each=50)), "--format", "csv", "--audit-db", str(db),
                   env={"ADVISOR_AUDIT_WAIT": "3"})
        out, err = proc.finish()
    finally:
        holder.rollback()
        holder.close()
    assert proc.returncode == 2, err
    assert out == []  # not a decision printed: none was recorded
    assert stored_ids(db) == before
    assert "is held by another process; waiting for it (up to 3 s" in err  # said while it waited
    assert "held by another process for 3 s" in err and "the last 50 decided" in err
    assert "were neither recorded nor printed" in err


def test_a_store_held_for_a_while_is_waited_for_with_a_message_and_loses_nothing(tmp_path):
    db = tmp_path / "audit.sqlite3"
    assert run_cli("run", SPOT, "--audit-db", str(db)).returncode == 0
    holder = _hold(db)
    try:
        proc = Run("run", str(sweep(tmp_path / "in", files=1, each=50)), "--format", "csv", "--audit-db", str(db))
        proc.err_line("is held by another process; waiting for it")  # then the other process lets go
    finally:
        holder.rollback()
        holder.close()
    out, err = proc.finish()
    assert proc.returncode == 0, err
    assert "is held by another process; waiting for it" in err
    printed = csv_ids(out)
    assert len(printed) == 50 and set(printed) <= stored_ids(db)


def test_ctrl_c_while_the_store_is_held_is_interrupted_exit_130_without_a_false_error(tmp_path):
    db = tmp_path / "audit.sqlite3"
    assert run_cli("run", SPOT, "--audit-db", str(db)).returncode == 0
    before = stored_ids(db)
    holder = _hold(db)
    try:
        proc = Run("run", str(sweep(tmp_path / "in", files=1, each=50)), "--format", "csv", "--audit-db", str(db))
        proc.err_line("waiting for it")
        proc.send_signal(signal.SIGINT)
        out, err = proc.finish()
    finally:
        holder.rollback()
        holder.close()
    assert proc.returncode == 130, err
    assert out == [] and stored_ids(db) == before
    assert "interrupted (SIGINT) while waiting for the audit store: the last 50 decided" in err
    assert "UNIQUE" not in err and "Traceback" not in err


def test_a_reader_that_goes_away_stops_the_batch_and_every_decision_it_saw_is_recorded(tmp_path):
    db, seen, err = tmp_path / "audit.sqlite3", tmp_path / "seen.csv", tmp_path / "err.txt"
    script = '"$0" run "$1" --format csv --audit-db "$2" 2> "$3" | head -n 11 > "$4"; echo "${PIPESTATUS[0]}"'
    proc = subprocess.run(["bash", "-c", script, ADVISOR, str(sweep(tmp_path / "in")), str(db), str(err), str(seen)],
                          capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert proc.stdout.strip() == "141", err.read_text()
    printed = csv_ids(seen.read_text().splitlines())
    assert len(printed) == 10 and set(printed) <= stored_ids(db) and len(stored_ids(db)) < 20_000
    message = err.read_text()
    assert "the output was closed by its reader" in message and "were recorded, and their output may be incomplete" in message


def test_a_full_disk_on_stdout_is_one_line_exit_2(tmp_path):
    db = tmp_path / "audit.sqlite3"
    with open("/dev/full", "w") as full:
        gpus = subprocess.run([ADVISOR, "gpus"], stdout=full, stderr=subprocess.PIPE, text=True, timeout=HANG_GUARD_S)
        run = subprocess.run([ADVISOR, "run", str(sweep(tmp_path / "in", files=1)), "--audit-db", str(db)],
                             stdout=full, stderr=subprocess.PIPE, text=True, timeout=HANG_GUARD_S)
    assert gpus.returncode == 2 and gpus.stderr == "advisor: error: cannot write the output (No space left on device)\n"
    assert run.returncode == 2 and len(run.stderr.splitlines()) == 1, run.stderr
    recorded = len(stored_ids(db))  # the first transaction: recorded, said so, and the batch stopped
    assert 0 < recorded < 1000
    assert f"cannot write the output (No space left on device): the last {recorded:,} decisions" in run.stderr
    assert "were recorded, and their output may be incomplete" in run.stderr


def test_a_path_is_a_path_even_when_it_reads_like_an_sqlite_uri(tmp_path):
    name = "file:x?mode=memory"
    proc = run_cli("run", SPOT, "--audit-db", name, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / name).is_file() and len(stored_ids(tmp_path / name)) == 1
    listed = run_cli("audit", "list", "--format", "json", "--audit-db", name, cwd=tmp_path)
    assert [d["scenario"] for d in json.loads(listed.stdout)["decisions"]] == ["spot"]


def _closing(fd: int):
    return lambda: os.close(fd)


def test_with_stderr_closed_the_json_output_stays_valid(tmp_path):
    proc = subprocess.run([ADVISOR, "run", SPOT, str(tmp_path / "missing.yaml"), "--format", "json", "--no-audit"],
                          stdout=subprocess.PIPE, text=True, preexec_fn=_closing(2), timeout=HANG_GUARD_S)
    assert proc.returncode == 1
    out = json.loads(proc.stdout)
    assert [d["scenario"] for d in out["decisions"]] == ["spot"] and "no such file" in out["errors"][0]["message"]


def test_with_stdout_closed_nothing_is_decided_or_recorded(tmp_path):
    db = tmp_path / "audit.sqlite3"
    proc = subprocess.run([ADVISOR, "run", SPOT, "--audit-db", str(db)], stderr=subprocess.PIPE, text=True,
                          preexec_fn=_closing(1), timeout=HANG_GUARD_S)
    assert proc.returncode == 2 and proc.stderr.startswith("advisor: error: standard output is closed")
    assert not db.exists()


def test_with_stdin_closed_reading_stdin_is_an_input_error_and_other_commands_work(tmp_path):
    db = tmp_path / "audit.sqlite3"
    assert run_cli("run", SPOT, "--audit-db", str(db)).returncode == 0
    stdin = subprocess.run([ADVISOR, "run", "-", "--audit-db", str(db)], capture_output=True, text=True,
                           preexec_fn=_closing(0), timeout=HANG_GUARD_S)
    assert stdin.returncode == 1 and "internal error" not in stdin.stderr and "<stdin>" in stdin.stderr
    listing = subprocess.run([ADVISOR, "audit", "list", "--audit-db", str(db)], capture_output=True, text=True,
                             preexec_fn=_closing(0), timeout=HANG_GUARD_S)
    assert listing.returncode == 0 and "spot" in listing.stdout
