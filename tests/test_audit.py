"""The audit store: round trip through run / list / show / export, replay after a rule change,
concurrent writers, and where the store lives."""

import json
import shutil
import signal
import sqlite3
import subprocess
import time

import pytest
import yaml
from conftest import ADVISOR, REPO, run_cli

SCENARIOS = REPO / "scenarios"
SHIPPED = sorted(SCENARIOS.rglob("*.yaml"))


def audited(db, *args, **kwargs):
    return run_cli(*args, "--audit-db", str(db), **kwargs)


def listed(db, *args) -> list[dict]:
    proc = audited(db, "audit", "list", "--format", "json", *args)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["version"] == 1
    return out["decisions"]


def test_round_trip_run_list_show_export(tmp_path):
    db = tmp_path / "audit.sqlite3"
    run = audited(db, "run", str(SCENARIOS), "--format", "json")
    assert run.returncode == 0, run.stderr
    decided = {d["decision_id"]: d for d in json.loads(run.stdout)["decisions"]}

    rows = listed(db, "--limit", "100")
    assert {r["decision_id"] for r in rows} == set(decided) and len(rows) == len(SHIPPED)
    assert all(r["rules_revision"] == next(iter(decided.values()))["rules_revision"] for r in rows)
    assert len(listed(db, "--limit", "3")) == 3

    # --rule: only the decisions in which that rule fired
    def fired(rule):
        return sorted(d["decision_id"] for d in decided.values() if rule in {f["rule"] for f in d["fired_rules"]})

    for rule in ("rec-spot", "factor-fp8", "verdict-general-holds"):
        assert sorted(r["decision_id"] for r in listed(db, "--rule", rule)) == fired(rule) != []
    spot = [r for r in listed(db, "--rule", "rec-spot") if r["scenario"] == "spot"]
    assert listed(db, "--since", "2999-01-01") == [] and len(listed(db, "--since", "2000-01-01", "--limit", "100")) == len(SHIPPED)

    # show: the whole input and the whole decision, fired rules included, as it was printed
    some_id = spot[0]["decision_id"]
    shown = audited(db, "audit", "show", some_id[:8], "--format", "json")
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert record["decision"] == decided[some_id]
    assert record["input"] == yaml.safe_load((SCENARIOS / "spot.yaml").read_text())
    table = audited(db, "audit", "show", some_id)
    assert "Mix - H100 spot when available, A100 fallback" in table.stdout and "fired rules" in table.stdout

    # export: one JSON object per line, oldest first, each whole
    export = audited(db, "audit", "export")
    lines = export.stdout.splitlines()
    assert [json.loads(line)["decision_id"] for line in lines] == list(decided)
    assert all(json.loads(line)["decision"]["fired_rules"] for line in lines)


def test_unknown_ids_and_bad_dates_are_one_line_errors(tmp_path):
    db = tmp_path / "audit.sqlite3"
    audited(db, "run", str(SCENARIOS / "spot.yaml"))
    missing = audited(db, "audit", "show", "ffffffff")
    assert missing.returncode == 1 and missing.stderr.startswith("advisor: error: no decision ffffffff in the audit store")
    short = audited(db, "audit", "show", "ab")
    assert short.returncode == 2 and "too short" in short.stderr
    since = audited(db, "audit", "list", "--since", "last tuesday")
    assert since.returncode == 2 and "is not a date" in since.stderr
    nothing = audited(tmp_path / "none.sqlite3", "audit", "show", "abcd1234")
    assert nothing.returncode == 1 and "no such file" in nothing.stderr
    for proc in (missing, short, since, nothing):
        assert len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr


def test_a_store_that_is_not_a_database_is_a_clear_error(tmp_path):
    db = tmp_path / "audit.sqlite3"
    db.write_text("this is not sqlite\n" * 100)
    proc = audited(db, "run", str(SCENARIOS / "spot.yaml"))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith(f"advisor: error: audit store {db}: file is not a database")
    assert "--no-audit" in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_replay_after_a_rule_file_changes_shows_the_change(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules" / "policy", rules)
    db = tmp_path / "audit.sqlite3"
    run = audited(db, "run", str(SCENARIOS / "fleet-underused.yaml"), "--rules", str(rules), "--format", "json")
    (decision,) = json.loads(run.stdout)["decisions"]
    assert decision["general_answer"]["id"] == "optimize-a100"  # utilization 0.45 < 0.7

    same = json.loads(audited(db, "audit", "replay", decision["decision_id"], "--rules", str(rules), "--format", "json").stdout)
    assert same["changes"] == [] and same["rules_revision"]["changed"] is False

    # the floor drops to 0.4: a fleet at 45% is no longer "underused"
    policy = rules / "40-recommendation.yaml"
    policy.write_text(policy.read_text().replace("value: 0.7", "value: 0.4"))
    replay = audited(db, "audit", "replay", decision["decision_id"], "--rules", str(rules), "--format", "json")
    assert replay.returncode == 0, replay.stderr
    out = json.loads(replay.stdout)
    assert out["rules_revision"]["changed"] is True and out["rules_revision"]["stored"] == decision["rules_revision"]
    assert out["rules_changed"] == {"modified": ["rec-underused-fleet"], "added": [], "removed": []}
    changes = {c["what"]: (c["before"], c["after"]) for c in out["changes"]}
    assert changes["general_answer.id"] == ("optimize-a100", "a100-experiments-h100-production")
    assert changes["general_answer.rule"] == ("rec-underused-fleet", "rec-default-production")
    text = audited(db, "audit", "replay", decision["decision_id"][:8], "--rules", str(rules)).stdout
    assert "(the rules changed)" in text and "modified: rec-underused-fleet" in text
    assert "changed    general_answer.text: Optimize A100 usage before upgrading -> A100 for experiments, H100 for production" in text


def _batch(path, n):
    path.write_text("scenarios:\n" + "".join(
        f"  - name: s{i}\n    context: {{have_a100_fleet: true, utilization: {0.3 + (i % 60) / 100:.2f}}}\n" for i in range(n)))
    return path


@pytest.mark.parametrize("writers, each", [(2, 1500), (4, 800)])
def test_concurrent_writers_lose_nothing(tmp_path, writers, each):
    batch = _batch(tmp_path / "batch.yaml", each)
    db = tmp_path / "audit.sqlite3"
    procs = [subprocess.Popen([ADVISOR, "run", str(batch), "--format", "csv", "--audit-db", str(db)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(writers)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * writers, [err for _, err in outputs]
    printed = {line.split(",")[-1] for out, _ in outputs for line in out.splitlines()[1:]}
    with sqlite3.connect(db) as conn:
        stored = {row[0] for row in conn.execute("SELECT decision_id FROM decisions")}
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert len(printed) == writers * each and stored == printed


def test_kill_9_during_a_batch_leaves_a_readable_store_of_whole_decisions(tmp_path):
    for n in range(4):
        _batch(tmp_path / f"batch{n}.yaml", 2000)
    db = tmp_path / "audit.sqlite3"
    proc = subprocess.Popen([ADVISOR, "run", str(tmp_path), "--format", "csv", "--audit-db", str(db)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    count = 0
    while count < 1000 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=1) as conn:
                    count = conn.execute("SELECT count(*) FROM decisions").fetchone()[0]
            except sqlite3.OperationalError:
                pass  # the schema is being created
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the batch ended before it could be killed"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        fired = dict(conn.execute("SELECT d.decision_id, count(*) FROM fired f JOIN decisions d ON d.seq = f.seq"
                                  " GROUP BY d.seq").fetchall())
    export = audited(db, "audit", "export")
    assert export.returncode == 0, export.stderr
    rows = [json.loads(line) for line in export.stdout.splitlines()]
    assert 1000 <= len(rows) < 8000
    for row in rows:  # each record whole: its JSON complete, its fired rules all there
        decision = row["decision"]
        assert decision["decision_id"] == row["decision_id"] and decision["verdict"]["text"]
        assert fired[row["decision_id"]] == len(decision["fired_rules"])
    assert len(listed(db, "--limit", "5")) == 5  # and the store still works, for reading and writing
    assert audited(db, "run", str(SCENARIOS / "spot.yaml")).returncode == 0
    assert len(listed(db, "--limit", "100000")) == len(rows) + 1


def test_the_store_lives_where_the_user_says(tmp_path):
    spot = str(SCENARIOS / "spot.yaml")
    env_db = tmp_path / "from-env.sqlite3"
    assert run_cli("run", spot, env={"ADVISOR_AUDIT_DB": str(env_db)}).returncode == 0
    assert env_db.exists()
    state = tmp_path / "state"
    assert run_cli("run", spot, env={"ADVISOR_AUDIT_DB": "", "XDG_STATE_HOME": str(state)}).returncode == 0
    assert (state / "advisor" / "audit.sqlite3").exists()
    flag_db = tmp_path / "flag.sqlite3"
    assert run_cli("run", spot, "--audit-db", str(flag_db), env={"ADVISOR_AUDIT_DB": str(env_db)}).returncode == 0
    assert len(listed(flag_db)) == 1 and len(listed(env_db)) == 1
    none_db = tmp_path / "none.sqlite3"
    assert run_cli("run", spot, "--no-audit", "--audit-db", str(none_db)).returncode == 0
    assert not none_db.exists()


def test_a_store_written_by_the_flat_package_still_reads(tmp_path):
    # tests/fixtures/audit/v0.1.0-flat.sqlite3 was written by advisor before the package was
    # split into subpackages (fleet-busy and spot, decided by `advisor run`).
    store = tmp_path / "old.sqlite3"
    shutil.copy(REPO / "tests" / "fixtures" / "audit" / "v0.1.0-flat.sqlite3", store)
    listed = json.loads(run_cli("audit", "list", "--format", "json", "--audit-db", str(store)).stdout)["decisions"]
    assert [d["scenario"] for d in listed] == ["spot", "fleet-busy"]
    shown = json.loads(run_cli("audit", "show", "d851f590", "--format", "json", "--audit-db", str(store)).stdout)
    assert shown["decision"]["recommendation"]["text"] == "Mix - H100 spot when available, A100 fallback"
    text = run_cli("audit", "show", "b0e74870", "--audit-db", str(store))
    assert text.returncode == 0 and "A100 for experiments, H100 for production" in text.stdout
    explained = run_cli("explain", "--id", "b0e74870", "--audit-db", str(store), "--format", "json")
    assert explained.returncode == 0, explained.stderr
    replay = json.loads(run_cli("audit", "replay", "d851f590", "--format", "json", "--audit-db", str(store)).stdout)
    assert replay["replayed"]["general_answer"]["id"] == "mix-spot"
    # the stored decision had no verdict: the replay shows the one today's rules give
    assert {"what": "verdict.id", "before": None, "after": replay["replayed"]["verdict"]["id"]} in replay["changes"]
