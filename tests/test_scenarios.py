"""Scenario files: each kind of bad input is one sentence naming file:line, scenario and field,
exit 1, and the good scenarios beside it are still decided."""

import json

import pytest
from advisor.defaults import DEFAULT_BATCH
from advisor.scenario import files as scen
from conftest import REPO, run_cli


def _errors(text: str, name: str = "s.yaml") -> list[str]:
    return [l.error for l in scen.parse(name, text.encode()) if l.error]


@pytest.mark.parametrize("text, expected", [
    ("context:\n  starting_fresh: true\n  utilisation: 0.5\n",
     "s.yaml:3: scenario s: context.utilisation: unknown key 'utilisation' (did you mean utilization?)"),
    ("contxt:\n  starting_fresh: true\n",
     "s.yaml:1: scenario s: contxt: unknown key 'contxt' (did you mean context?)"),
    ("context:\n  starting_fresh: true\n  starting_fresh: false\n",
     "s.yaml:3: scenario s: context.starting_fresh: duplicate key 'starting_fresh' (YAML keeps only one; delete the other)"),
    ("context:\n  starting_fresh: yes please\n",
     "s.yaml:2: scenario s: context.starting_fresh: Input should be a valid boolean, got a string 'yes please'"),
    ("context:\n  have_a100_fleet: true\n  utilization: 'half'\n",
     "s.yaml:3: scenario s: context.utilization: 'half' is not a share: write it like 70% or 0.7"),
    ("context:\n  have_a100_fleet: true\n  utilization: 25ms\n",
     "s.yaml:3: scenario s: context.utilization: '25ms' is not a share (it reads as a time): write it like 70% or 0.7"),
    ("context:\n  monthly_budget_usd: 70%\n",
     "s.yaml:2: scenario s: context.monthly_budget_usd: '70%' is not an amount in USD a month (it reads as a percentage): "
     "write it like $20k or 20000 USD/month"),
    ("context:\n  have_a100_fleet: true\n  utilization: .nan\n",
     "s.yaml:3: scenario s: context.utilization: Input should be a finite number"),
    ("workload:\n  tokens_per_day: .inf\n",
     "s.yaml:2: scenario s: workload.tokens_per_day: Input should be a finite number"),
    ("context:\n  have_a100_fleet: true\n  utilization: 1.5\n",
     "s.yaml:3: scenario s: context.utilization: Input should be less than or equal to 1"),
    ("context:\n  have_a100_fleet: true\n",
     "s.yaml:2: scenario s: context.utilization: required when have_a100_fleet is true"),
    ("workload:\n  model: llama-2-7b\n  params_b: 7\n",
     "s.yaml:3: scenario s: workload.params_b: give one of model, params_b and model_config, not model and params_b"),
    ("context:\n  optimize_for: speed\n",
     "s.yaml:2: scenario s: context.optimize_for: Input should be 'latency', 'cost_per_token', 'throughput_per_gpu' or 'availability'"),
    ("workload:\n  precision: fp2\n",
     "s.yaml:2: scenario s: workload.precision: Input should be"),
    ("prices:\n  a100-80gb: 2.0\n  h100-80gb: 0\n",
     "s.yaml:3: scenario s: prices.h100-80gb: a price is 0.01 to 1000 USD per GPU-hour"),
    ("prices:\n  h100-80gb: cheap\n",
     "s.yaml:2: scenario s: prices.h100-80gb: 'cheap' is not an amount in USD per GPU-hour: write it like $3.95 or 3.95 USD/h"),
    ("- just\n- a list\n", "s.yaml: scenario s: expected a mapping with context:, got a list"),
    ("", "s.yaml: empty file"),
    ("context: {starting_fresh: true\n", "s.yaml:2: did not find expected ',' or '}'"),
    ("scenarios: []\n", "s.yaml: scenarios: must be a non-empty list of scenarios"),
])
def test_bad_input_is_one_sentence_naming_file_line_scenario_and_field(text, expected):
    (error,) = _errors(text)
    assert error.startswith(expected), error
    assert "\n" not in error


def test_a_named_scenario_in_a_list_is_named_by_its_name_or_index():
    errors = _errors("scenarios:\n  - name: ok\n  - name: bad-one\n    context: {using_fp8: 1}\n  - context: {stage: prod}\n")
    assert errors[0].startswith("s.yaml:4: scenario bad-one: context.using_fp8:")
    assert errors[1].startswith("s.yaml:5: scenario s[2]: context.stage:")


def test_a_duplicate_key_rejects_only_its_own_scenario():
    loaded = scen.parse("s.yaml", b"scenarios:\n  - context: {stage: production}\n  - context:\n      stage: production\n      stage: experimentation\n")
    assert loaded[0].scenario is not None and loaded[0].error is None
    assert loaded[1].error.startswith("s.yaml:5: scenario s[1]: context.stage: duplicate key 'stage'")


def test_defaults_give_a_valid_scenario():
    (loaded,) = scen.parse("s.yaml", b"{}\n")
    s = loaded.scenario
    assert s.name == "s" and s.workload.model is None and s.workload.batch == DEFAULT_BATCH
    assert s.precision == "fp16" and not s.context.starting_fresh


def test_a_batch_with_good_and_bad_input_decides_the_good_and_exits_1(tmp_path):
    (tmp_path / "good.yaml").write_text("context: {starting_fresh: true, can_afford_h100: true}\n")
    (tmp_path / "bad.yaml").write_text("context: {starting_fresh: true, can_afford_h100: maybe}\n")
    (tmp_path / "model.yaml").write_text("name: typo\nworkload:\n  model: llama-2-7OB\n")
    (tmp_path / "binary.yaml").write_bytes(b"\x00\x01\x02")
    (tmp_path / "notes.txt").write_text("not a scenario: ignored, only *.yaml / *.yml are read\n")
    proc = run_cli("run", str(tmp_path), str(tmp_path / "missing.yaml"), "--format", "json", "--no-audit")
    assert proc.returncode == 1
    out = json.loads(proc.stdout)
    assert [d["scenario"] for d in out["decisions"]] == ["good"]
    assert out["decisions"][0]["general_answer"]["text"] == "H100 - better investment for the future"
    messages = {e["scenario"]: e["message"] for e in out["errors"]}
    assert set(messages) == {"bad", "typo", "binary", None}
    assert messages["typo"] == (f"{tmp_path / 'model.yaml'}:3: scenario typo: workload.model: unknown model 'llama-2-7OB' "
                                "(did you mean llama-2-7b, llama-2-70b?)")
    assert messages[None] == f"{tmp_path / 'missing.yaml'}: no such file or directory"
    stderr = proc.stderr.splitlines()
    assert len(stderr) == 5 and stderr[-1] == "advisor: 1 decided, 4 invalid" and "Traceback" not in proc.stderr


def test_stdin_is_read_with_dash():
    proc = run_cli("run", "-", "--format", "json", "--no-audit", input="context: {can_use_spot: true}\n")
    assert proc.returncode == 0, proc.stderr
    (d,) = json.loads(proc.stdout)["decisions"]
    assert d["scenario"] == "stdin" and d["general_answer"]["id"] == "mix-spot"


def test_schema_is_a_json_schema_that_describes_the_shipped_scenarios():
    proc = run_cli("schema")
    assert proc.returncode == 0
    schema = json.loads(proc.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    context = schema["$defs"]["Context"]
    assert context["additionalProperties"] is False
    assert {"starting_fresh", "can_afford_h100", "monthly_budget_usd", "have_a100_fleet", "utilization", "can_use_spot",
            "using_fp8", "optimize_for", "stage", "h100_wait_weeks", "needed_in_weeks", "fleet_gpu", "fleet_gpus",
            "spot_availability", "gpus"} == set(context["properties"])
    # an amount field takes a number or a string as people write it, and says its unit
    budget = context["properties"]["monthly_budget_usd"]
    assert budget["unit"] == "USD a month" and {"type": "string", "description": "an amount such as $20k or 20000 USD/month"} in budget["anyOf"]
    # every key used in a shipped scenario is one the schema knows
    import yaml
    for path in (REPO / "scenarios").rglob("*.yaml"):
        data = yaml.safe_load(path.read_text())
        for item in data.get("scenarios", [data]):
            assert set(item) <= set(schema["$defs"]["Scenario"]["properties"]), path
            assert set(item.get("context", {})) <= set(context["properties"]), path
            assert set(item.get("workload", {})) <= set(schema["$defs"]["WorkloadSpec"]["properties"]), path


def test_jobs_keep_the_order_and_the_decisions_of_one_job(tmp_path):
    for n in range(4):
        (tmp_path / f"f{n}.yaml").write_text("scenarios:\n" + "".join(
            f"  - name: f{n}-{i}\n    context: {{have_a100_fleet: true, utilization: {0.5 + i / 100:.2f}, can_use_spot: {str(i % 2 == 0).lower()}}}\n"
            for i in range(40)))
    (tmp_path / "f2.yaml").write_text((tmp_path / "f2.yaml").read_text() + "  - context: {stage: prod}\n")
    runs = {}
    for jobs in ("1", "3", "auto"):
        proc = run_cli("run", str(tmp_path), "--jobs", jobs, "--format", "json", "--no-audit")
        assert proc.returncode == 1  # the one bad scenario, reported whatever the jobs
        out = json.loads(proc.stdout)
        runs[jobs] = ([(d["scenario"], d["verdict"], d["plans"]) for d in out["decisions"]], out["errors"])
    assert runs["1"] == runs["3"] == runs["auto"]
    assert [name for name, _, _ in runs["1"][0]][:3] == ["f0-0", "f0-1", "f0-2"] and len(runs["1"][0]) == 160


def _worker_advisor(_item):
    """Run in a worker: the rules revision of its advisor, and whether it is the one it was forked with."""
    from advisor.decide import batch

    advisor = batch._WORKER[0]
    return advisor.book.revision, advisor is batch._FORKED_FROM


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="workers are forked only where fork exists")
def test_forked_workers_take_over_the_callers_advisor_instead_of_loading_one(advisor_instance):
    from advisor.decide import batch

    results = list(batch.in_workers(_worker_advisor, list(range(6)), 2, batch._start_worker, (None, None), advisor_instance))
    assert results == [(advisor_instance.book.revision, True)] * 6
    assert batch._FORKED_FROM is None  # the caller keeps no reference once its workers have started
    loaded = list(batch.in_workers(_worker_advisor, [0, 1], 2, batch._start_worker, (None, None)))
    assert loaded == [(advisor_instance.book.revision, False)] * 2  # no advisor given: each worker loads its own


@pytest.mark.parametrize("value", ["0", "-2", "many", "1000"])
def test_bad_jobs_are_a_usage_error(value):
    proc = run_cli("run", str(REPO / "scenarios"), "--jobs", value, "--no-audit")
    assert proc.returncode == 2 and "--jobs" in proc.stderr and len(proc.stderr.splitlines()) == 1
