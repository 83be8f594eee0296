"""The audit store's reading side: queries through indexes, what a record keeps, upgrades of
older stores, stores one may only read, malformed records, and edge cases of the listing."""

import ctypes
import json
import os
import shutil
import sqlite3
import subprocess
import sys

import pytest
from conftest import ADVISOR, REPO, run_cli

from advisor.audit import store as audit_store
from advisor.audit.store import QUERIES, Store

SCENARIOS = REPO / "scenarios"
SPOT = str(SCENARIOS / "spot.yaml")
SEED = [str(p) for p in sorted(SCENARIOS.glob("*.yaml"))]  # the seed's nine scenarios (not scenarios/checks)
FIXTURES = REPO / "tests" / "fixtures" / "audit"


def audited(db, *args, **kwargs):
    return run_cli(*args, "--audit-db", str(db), **kwargs)


def listing(db, *args) -> dict:
    proc = audited(db, "audit", "list", "--format", "json", *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def decided(tmp_path_factory):
    """A store with the shipped scenarios decided twice, and what `run --format json` printed."""
    db = tmp_path_factory.mktemp("store") / "audit.sqlite3"
    printed = []
    for _ in range(2):
        proc = audited(db, "run", *SEED, "--format", "json")
        assert proc.returncode == 0, proc.stderr
        printed += [line.rstrip(",") for line in proc.stdout.splitlines() if line.startswith('{"decision_id"')]
    return db, printed


# --- every query through an index ---------------------------------------------------------------


def _plan(conn, sql, params) -> list[str]:
    return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params)]


def test_every_query_of_the_store_is_answered_through_an_index(decided):
    db, _ = decided
    params = {"list": (0, 21), "list_rule": (1, 0, 21), "get": ("abcd", "abcd\uffff"), "rule_id": ("rec-spot",),
              "rules_of": ("x",), "dictionary": (1,), "plans": (1,), "export": (), "known_rules": (), "revision_rules": ()}
    assert set(params) == set(QUERIES)
    with sqlite3.connect(db) as conn:
        for name, sql in QUERIES.items():
            plan = _plan(conn, sql, params[name])
            assert not any("TEMP B-TREE" in step for step in plan), (name, plan)  # no sort of what was found
            scans = [step for step in plan if step.startswith("SCAN")]
            if name == "export":  # every record, in the order of the table itself
                assert scans == ["SCAN d"], plan
            elif name in ("known_rules", "revision_rules"):  # the small tables of rule ids and revisions
                assert all(s.split()[1] in ("rule_ids", "revisions") for s in scans), plan
            else:
                assert scans == [], (name, plan)
    # and the store runs no other query: a listing, a rule, a date, a prefix, as the commands do
    seen = []
    with Store.open(db, create=False) as store:
        store._db.set_trace_callback(seen.append)
        store.list(limit=5)
        store.list(limit=5, rule="rec-spot", since="2000-01-01")
        store.list(limit=5, since="2999-01-01")
        store.get(store.list(limit=1).records[0].decision_id[:6].upper())
        store.rules_of("x")
        list(store.export_lines())
    shapes = {" ".join(sql.split()) for sql in QUERIES.values()}
    for statement in seen:
        assert any(statement.split(" WHERE ")[0].split(" ORDER BY")[0] in shape for shape in shapes), statement


# --- what a record keeps ---------------------------------------------------------------------------


def test_a_record_gives_back_exactly_what_was_printed_and_is_a_fraction_of_its_size(decided):
    db, printed = decided
    export = audited(db, "audit", "export")
    assert export.returncode == 0, export.stderr
    lines = export.stdout.splitlines()
    assert len(lines) == len(printed)
    for line, text in zip(lines, printed):  # byte for byte, the decision as it was printed
        record = json.loads(line)
        assert line.endswith(', "decision": ' + text + "}")
        assert record["input"] == record["decision"]["input"] and record["text"] == record["decision"]["verdict"]["text"]
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT length(input) + length(body), input_at, codec, plans, plans_at FROM decisions").fetchall()
        plans = conn.execute("SELECT digest, length(body) FROM plans").fetchall()
    # the input stored once, the plans apart; compressed
    assert all(at is not None and codec > 0 and pid is not None and p_at is not None for _, at, codec, pid, p_at in rows)
    stored = (sum(row[0] for row in rows) + sum(size for _, size in plans)) / len(rows)
    as_printed = sum(len(t.encode()) for t in printed) / len(printed)
    assert stored < as_printed / 6, (stored, as_printed)


def test_decisions_with_the_same_plans_share_one_copy_of_them(decided):
    db, printed = decided
    # the shipped scenarios decided twice: each distinct plans text once, whoever had it
    distinct = {json.dumps(json.loads(text)["plans"], ensure_ascii=False) for text in printed}
    with sqlite3.connect(db) as conn:
        kept = conn.execute("SELECT count(*) FROM plans").fetchone()[0]
        used = conn.execute("SELECT count(DISTINCT plans) FROM decisions").fetchone()[0]
    assert kept == used == len(distinct) < len(printed)


# --- the listing ---------------------------------------------------------------------------------


def test_the_listing_says_when_there_are_more_than_it_shows(decided):
    db, printed = decided
    out = listing(db, "--limit", "5")
    assert len(out["decisions"]) == 5 and out["more"] is True
    table = audited(db, "audit", "list")
    assert table.returncode == 0 and table.stderr == ""  # 18 of at most 20: all of them
    assert listing(db)["more"] is False and len(listing(db)["decisions"]) == len(printed) == 18
    short = audited(db, "audit", "list", "--limit", "3")
    assert "advisor: the newest 3 shown; more are recorded (--limit N shows more" in short.stderr


def test_dates_and_limits_at_the_edges_are_not_internal_errors(decided):
    db, printed = decided
    assert len(listing(db, "--since", "0001-01-01T00:00:00+01:00", "--limit", "100")["decisions"]) == len(printed)
    assert listing(db, "--since", "9999-12-31T23:59:59-01:00")["decisions"] == []
    assert len(listing(db, "--limit", str(10**30))["decisions"]) == len(printed)
    assert len(listing(db, "--since", "2000-01-01Z", "--limit", "100")["decisions"]) == len(printed)


def test_an_id_prefix_is_found_in_any_case(decided):
    db, _ = decided
    some = listing(db)["decisions"][3]["decision_id"]
    shown = audited(db, "audit", "show", some[:8].upper(), "--format", "json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["decision_id"] == some


def test_a_rule_no_revision_has_is_a_usage_error_and_a_known_one_that_never_fired_is_said(decided, tmp_path):
    db, _ = decided
    typo = audited(db, "audit", "list", "--rule", "rec-spott")
    assert typo.returncode == 2 and typo.stdout == ""
    assert "--rule rec-spott: no such rule in any rules revision recorded" in typo.stderr and "did you mean rec-spot" in typo.stderr
    # a rule of a recorded revision that no recorded decision fired: an empty answer, said
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules" / "policy", rules)
    path = rules / "40-recommendation.yaml"
    path.write_text(path.read_text().replace("id: rec-spot\n", "id: rec-spot-renamed\n"))
    other = tmp_path / "other.sqlite3"
    assert audited(other, "run", str(SCENARIOS / "fleet-busy.yaml"), "--rules", str(rules)).returncode == 0
    never = audited(other, "audit", "list", "--rule", "rec-spot-renamed")
    assert never.returncode == 0 and "no recorded decision matches --rule rec-spot-renamed" in never.stderr


# --- files that are not (yet) stores ------------------------------------------------------------


def test_a_file_without_tables_reads_as_empty_and_another_database_is_refused(tmp_path):
    empty = tmp_path / "empty.sqlite3"
    empty.write_bytes(b"")
    listed = audited(empty, "audit", "list")
    assert listed.returncode == 0 and "nothing recorded yet" in listed.stderr
    assert audited(empty, "audit", "export").returncode == 0
    assert audited(empty, "audit", "show", "abcd1234").returncode == 1
    assert audited(empty, "run", SPOT).returncode == 0 and len(listing(empty)["decisions"]) == 1
    versioned = tmp_path / "versioned.sqlite3"
    with sqlite3.connect(versioned) as conn:
        conn.execute("PRAGMA user_version = 1")
    assert audited(versioned, "audit", "list").returncode == 0
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE invoices (id)")
    for proc in (audited(other, "audit", "list"), audited(other, "run", SPOT)):
        assert proc.returncode == 2 and "not an advisor audit store" in proc.stderr and proc.stdout == ""
        assert "internal error" not in proc.stderr


# --- malformed records ---------------------------------------------------------------------------


def test_a_malformed_record_is_named_and_the_others_still_list_and_export(tmp_path):
    db = tmp_path / "audit.sqlite3"
    assert audited(db, "run", *SEED).returncode == 0
    with sqlite3.connect(db) as conn:
        bad = conn.execute("SELECT decision_id FROM decisions WHERE seq = 3").fetchone()[0]
        conn.execute("UPDATE decisions SET body = x'0011223344' WHERE seq = 3")
    assert len(listing(db, "--limit", "100")["decisions"]) == 9
    export = audited(db, "audit", "export")
    assert export.returncode == 2
    assert [json.loads(line)["decision_id"] for line in export.stdout.splitlines()] == [
        d["decision_id"] for d in reversed(listing(db)["decisions"]) if d["decision_id"] != bad]
    assert f"record {bad} is malformed (its compressed body is damaged" in export.stderr
    assert "1 malformed record(s) not exported" in export.stderr
    shown = audited(db, "audit", "show", bad[:8])
    assert shown.returncode == 2 and len(shown.stderr.splitlines()) == 1 and "is malformed" in shown.stderr


def test_a_malformed_record_of_an_old_store_survives_the_upgrade_and_is_named(tmp_path):
    db = tmp_path / "old.sqlite3"
    shutil.copy(FIXTURES / "v0.1.0-packaged.sqlite3", db)
    with sqlite3.connect(db) as conn:
        bad = conn.execute("SELECT decision_id FROM decisions WHERE seq = 2").fetchone()[0]
        conn.execute("UPDATE decisions SET decision = '{\"broken' WHERE seq = 2")
    assert len(listing(db, "--limit", "100")["decisions"]) == 11
    export = audited(db, "audit", "export")
    assert export.returncode == 2 and len(export.stdout.splitlines()) == 10
    assert f"record {bad} is malformed (its JSON is invalid" in export.stderr


# --- upgrades --------------------------------------------------------------------------------------


def test_a_store_of_schema_1_is_upgraded_whole_and_exports_byte_for_byte_as_before(tmp_path):
    # tests/fixtures/audit/v0.1.0-packaged.sqlite3 was written by the commit before schema 2 (the
    # shipped scenarios, one with a non-ASCII name, then one under a changed rule book), and its
    # export beside it by that same version.
    db = tmp_path / "old.sqlite3"
    shutil.copy(FIXTURES / "v0.1.0-packaged.sqlite3", db)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    export = audited(db, "audit", "export")
    assert export.returncode == 0, export.stderr
    assert export.stdout == (FIXTURES / "v0.1.0-packaged.export.jsonl").read_text()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not tables & {"fired_rules", "decisions_1", "revisions_1"}
    # what schema 3 answers from its own tables: rules, dates, prefixes, the two revisions
    assert [d["scenario"] for d in listing(db, "--rule", "rec-underused-fleet")["decisions"]] == ["café ✓ 70b", "fleet-underused"]
    assert len(listing(db, "--since", "2026-11-25T06:34:57Z")["decisions"]) == 1
    replay = audited(db, "audit", "replay", listing(db)["decisions"][0]["decision_id"][:8], "--format", "json")
    assert replay.returncode == 0 and json.loads(replay.stdout)["rules_changed"] is not None
    assert audited(db, "run", SPOT).returncode == 0 and len(listing(db, "--limit", "100")["decisions"]) == 12


def test_a_store_of_schema_2_is_upgraded_and_exports_byte_for_byte_as_before(tmp_path):
    # tests/fixtures/audit/schema2.sqlite3 was written by the commit before schema 3 (the shipped
    # scenarios and their checks, one with a non-ASCII name, then one under a changed rule book),
    # and its export beside it by that same version.
    db = tmp_path / "schema2.sqlite3"
    shutil.copy(FIXTURES / "schema2.sqlite3", db)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    export = audited(db, "audit", "export")
    assert export.returncode == 0, export.stderr
    assert export.stdout == (FIXTURES / "schema2.export.jsonl").read_text()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM decisions WHERE plans IS NOT NULL").fetchone()[0] == 0  # kept as they were
    shown = audited(db, "audit", "show", listing(db)["decisions"][1]["decision_id"][:8], "--format", "json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["scenario"] == "café ✓ 70b"
    replay = audited(db, "audit", "replay", listing(db)["decisions"][0]["decision_id"][:8], "--format", "json")
    assert replay.returncode == 0 and json.loads(replay.stdout)["rules_changed"] is not None
    # new decisions in the upgraded store keep their plans apart, and the old ones still export as before
    assert audited(db, "run", SPOT, SPOT).returncode == 0
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT plans) FROM decisions WHERE plans IS NOT NULL").fetchone() == (2, 1)
    again = audited(db, "audit", "export")
    assert again.returncode == 0 and again.stdout.startswith(export.stdout) and len(again.stdout.splitlines()) == 23


def test_a_damaged_plans_text_names_the_records_that_use_it_and_the_others_still_read(decided, tmp_path):
    db = tmp_path / "audit.sqlite3"
    shutil.copy(decided[0], db)
    with sqlite3.connect(db) as conn:
        damaged = conn.execute("SELECT plans FROM decisions ORDER BY seq LIMIT 1").fetchone()[0]
        users = {row[0] for row in conn.execute("SELECT decision_id FROM decisions WHERE plans = ?", (damaged,))}
        conn.execute("UPDATE plans SET body = substr(body, 1, 40) WHERE id = ?", (damaged,))
        total = conn.execute("SELECT count(*) FROM decisions").fetchone()[0]
    export = audited(db, "audit", "export")
    assert export.returncode == 2
    assert len(export.stdout.splitlines()) == total - len(users)
    assert {line.split("record ")[1].split(" is malformed")[0] for line in export.stderr.splitlines() if "is malformed" in line} == users
    assert f"{len(users)} malformed record(s) not exported" in export.stderr
    shown = audited(db, "audit", "show", sorted(users)[0][:8])
    assert shown.returncode == 2 and len(shown.stderr.splitlines()) == 1 and "is malformed" in shown.stderr


# --- a store one may only read ------------------------------------------------------------------


def _read_only():
    """Run the child without CAP_DAC_OVERRIDE (root ignores file modes otherwise)."""
    if os.geteuid() != 0:
        return None
    libc = ctypes.CDLL(None, use_errno=True)

    def drop():
        for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
            if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
                raise OSError(ctypes.get_errno(), "prctl")

    return drop


def _as_reader(*args):
    return subprocess.run([ADVISOR, *args], capture_output=True, text=True, timeout=120, preexec_fn=_read_only())


def test_a_store_one_may_only_read_reads_and_refuses_writes_clearly(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "audit.sqlite3"
    assert audited(db, "run", *SEED).returncode == 0
    some = listing(db)["decisions"][0]["decision_id"]
    db.chmod(0o444)
    folder.chmod(0o555)
    try:
        probe = subprocess.run(["sh", "-c", f"touch {folder}/probe"], capture_output=True, preexec_fn=_read_only())
        if probe.returncode == 0:
            pytest.skip("this process can write anywhere (cannot drop CAP_DAC_OVERRIDE)")
        listed = _as_reader("audit", "list", "--format", "json", "--audit-db", str(db))
        assert listed.returncode == 0, listed.stderr
        assert len(json.loads(listed.stdout)["decisions"]) == 9
        shown = _as_reader("audit", "show", some[:8], "--audit-db", str(db))
        assert shown.returncode == 0 and some in shown.stdout
        export = _as_reader("audit", "export", "--audit-db", str(db))
        assert export.returncode == 0 and len(export.stdout.splitlines()) == 9
        writing = _as_reader("run", SPOT, "--audit-db", str(db))
        assert writing.returncode == 2 and writing.stdout == ""
        assert writing.stderr.startswith(f"advisor: error: audit store {db}: attempt to write a readonly database")
    finally:
        folder.chmod(0o755)
        db.chmod(0o644)


def test_an_old_store_one_may_only_read_says_it_needs_an_upgrade(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "old.sqlite3"
    shutil.copy(FIXTURES / "v0.1.0-packaged.sqlite3", db)
    db.chmod(0o444)
    folder.chmod(0o555)
    try:
        probe = subprocess.run(["sh", "-c", f"touch {folder}/probe"], capture_output=True, preexec_fn=_read_only())
        if probe.returncode == 0:
            pytest.skip("this process can write anywhere (cannot drop CAP_DAC_OVERRIDE)")
        listed = _as_reader("audit", "list", "--audit-db", str(db))
        assert listed.returncode == 2 and len(listed.stderr.splitlines()) == 1
        assert "written by an older advisor" in listed.stderr and "write access" in listed.stderr
    finally:
        folder.chmod(0o755)
        db.chmod(0o644)


# --- what reading imports ------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["audit", "list"], ["audit", "show", "ID"], ["audit", "export"]])
def test_reading_the_store_imports_neither_pydantic_nor_the_engine_nor_the_catalogs(decided, command, tmp_path):
    db, _ = decided
    command = [listing(db)["decisions"][0]["decision_id"][:8] if part == "ID" else part for part in command]
    modules = tmp_path / "modules.json"
    code = ("import json, sys\nfrom advisor.cli.main import main\n"
            f"code = main({command + ['--audit-db', str(db)]!r})\n"
            f"open({str(modules)!r}, 'w').write(json.dumps(sorted(sys.modules)))\nsys.exit(code)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(modules.read_text())
    heavy = [m for m in loaded if m.split(".")[0] in ("pydantic", "durable", "durable_rules_engine", "yaml")
             or m in ("advisor.catalog.load", "advisor.decide.decision", "advisor.rules.engine", "advisor.rules.loader")
             or m.startswith("advisor.scenario")]
    assert heavy == []


def test_the_wait_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("ADVISOR_AUDIT_WAIT", "7.5")
    assert audit_store.wait_limit() == 7.5
    monkeypatch.setenv("ADVISOR_AUDIT_WAIT", "soon")
    with pytest.raises(Exception, match="not a number of seconds"):
        audit_store.wait_limit()
