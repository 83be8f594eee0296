"""The planner: the issue's example worked by hand for one GPU, the reasons a GPU has no plan,
and the properties every plan must keep (hypothesis)."""

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.catalog.load import load_catalog
from advisor.perf.serving import Replica
from advisor.plan.planner import Planner, plan_gpu, served_precisions
from advisor.plan.request import PlanRequest, Targets, Traffic
from conftest import cli_json, run_cli

CATALOG = load_catalog()
HOURS = 730


def request(model="llama-3-70b", precision="fp16", tokens_per_day=2e9, tpot=50.0, ttft=1000.0, headroom=0.8, prices=()):
    return PlanRequest(model=CATALOG.model(model), precision=precision, traffic=Traffic.of(tokens_per_day, None, 256, 2.0, headroom),
                       targets=Targets(tpot, ttft), prices=prices)


def test_the_issue_example_for_h100_worked_by_hand():
    # advisor plan --model llama-3-70b --tokens-per-day 2e9 --tpot-ms 50 --ttft-ms 1000, H100 SXM at $3.95/h.
    h100 = plan_gpu(CATALOG, CATALOG.gpu("h100-80gb"), request())
    p = h100.plan
    average = 2e9 / 86_400 / 256  # 90.42 requests/s of 256 generated tokens
    peak = 2 * average
    assert p.load_rps == pytest.approx(average) and p.peak_rps == pytest.approx(peak)
    replica = Replica(CATALOG.gpu("h100-80gb"), CATALOG.model("llama-3-70b"), "fp16", "fp16", p.gpus_per_replica, CATALOG.efficiency, 512, 256)
    # the most concurrency the 50 ms TPOT target allows, and what one replica then completes
    top = p.max_concurrency
    assert replica.tpot_s(top) <= 0.050 < replica.tpot_s(top + 1) or top == replica.max_sequences()
    capacity = top / (256 * replica.tpot_s(top))
    assert p.capacity_rps == pytest.approx(capacity)
    # replicas: the peak within 80% of capacity (TTFT is far below 1 s here, so the headroom decides)
    assert p.replicas == math.ceil(peak / (0.8 * capacity))
    assert p.ttft_ms < 1000 and p.tpot_ms <= 50
    assert p.utilization_peak == pytest.approx(peak / (p.replicas * capacity)) and p.utilization_peak <= 0.8
    assert p.utilization_avg == pytest.approx(p.utilization_peak / 2)
    # the bill: replicas x GPUs x $3.95 x 730 h, over the month's tokens at the average load
    assert p.monthly_cost_usd == pytest.approx(p.replicas * p.gpus_per_replica * 3.95 * HOURS)
    tokens = average * 3600 * HOURS * (512 + 256)
    assert p.usd_per_million_tokens == pytest.approx(p.monthly_cost_usd / tokens * 1e6)
    # TP2 holds the fp16 weights (141 GB over 2 x 70 GB) too tightly to be cheaper; the chosen size is the cheapest kept
    kept = [c for c in h100.candidates if c.plan]
    assert min(kept, key=lambda c: c.plan.monthly_cost_usd).plan is p
    assert all(c.reason for c in h100.candidates if c.plan is not p)


def test_the_issue_example_on_the_command_line_ranks_every_gpu_with_a_plan():
    out = cli_json("plan", "--model", "llama-3-70b", "--tokens-per-day", "2e9", "--tpot-ms", "50", "--ttft-ms", "1000")
    assert out["version"] == 1 and out["workload"]["tpot_ms"] == 50 and out["workload"]["ttft_ms"] == 1000
    with_plan = [g for g in out["gpus"] if g["plan"]]
    costs = [g["plan"]["monthly_cost_usd"] for g in with_plan]
    assert costs == sorted(costs) and out["cheapest"] == with_plan[0]["gpu"]
    assert len(with_plan) >= 8 and all(g["reason"] for g in out["gpus"] if not g["plan"])
    h100 = next(g for g in out["gpus"] if g["gpu"] == "h100-80gb")["plan"]
    assert h100["monthly_cost_usd"] == pytest.approx(plan_gpu(CATALOG, CATALOG.gpu("h100-80gb"), request()).plan.monthly_cost_usd, rel=1e-4)
    text = run_cli("plan", "--model", "llama-3-70b", "--tokens-per-day", "2e9", "--tpot-ms", "50", "--ttft-ms", "1000").stdout
    assert "cheapest" in text and "a100-80gb" in text and "h100-80gb" in text


@pytest.mark.parametrize("command", [("plan", "--tokens-per-day", "2e9"), ("compare",)])
def test_a_gpu_priced_only_by_a_survey_is_marked_until_the_user_prices_it(command):
    survey = [g.id for g in CATALOG.gpus.values() if g.price.indicative]
    assert survey  # the catalog has one (MI300X: no provider's own on-demand page)
    lines = run_cli(*command, "--model", "llama-3-70b").stdout.splitlines()
    for gpu in survey:
        row = next(line for line in lines if gpu in line.split()[:2])  # the table's (the bars follow it)
        assert row.endswith("(survey price)"), row
    assert any(line.startswith("priced only by a survey, not a quote: " + ", ".join(survey)) for line in lines)
    priced = run_cli(*command, "--model", "llama-3-70b", *[a for g in survey for a in ("--price", f"{g}=9")]).stdout
    assert "survey" not in priced


def test_a_gpu_without_fp8_serves_8_bit_as_int8_never_as_fp16():
    r = request(precision="fp8")
    assert served_precisions(CATALOG.gpu("a100-80gb"), r) == ["int8"]
    assert served_precisions(CATALOG.gpu("h100-80gb"), r) == ["fp8"]
    assert served_precisions(CATALOG.gpu("b200"), request(precision="int4")) == ["fp4"]
    assert plan_gpu(CATALOG, CATALOG.gpu("a100-80gb"), r).plan.precision == "int8"


def test_why_a_gpu_has_no_plan():
    big = plan_gpu(CATALOG, CATALOG.gpu("a100-80gb"), request(model="deepseek-v3", precision="fp8"))
    assert big.plan is None and big.reason.startswith("does not fit one 8-GPU node")
    slow = plan_gpu(CATALOG, CATALOG.gpu("l4"), request(tpot=20))
    assert slow.plan is None and slow.reason.startswith("misses TPOT even at concurrency 1")
    impatient = plan_gpu(CATALOG, CATALOG.gpu("a100-80gb"), request(model="llama-3.1-8b", ttft=1.0))
    assert impatient.plan is None and "misses TTFT even without load" in impatient.reason


def test_without_traffic_one_replica_carries_what_it_can_within_the_headroom():
    r = PlanRequest(model=CATALOG.model("llama-3-8b"), precision="bf16")
    p = plan_gpu(CATALOG, CATALOG.gpu("h100-80gb"), r).plan
    assert p.replicas == 1 and p.utilization_peak == pytest.approx(0.8) and p.load_rps == p.peak_rps


def test_a_local_config_gives_the_same_plan_as_the_catalog_id(tmp_path):
    from advisor import resources

    for model_id in CATALOG.models:
        config = resources.catalog_dir() / "configs" / f"{model_id}.json"
        by_id = cli_json("plan", "--model", model_id, "--precision", "fp8", "--requests-per-s", "3")
        by_config = cli_json("plan", "--model-config", str(config), "--precision", "fp8", "--requests-per-s", "3")
        assert [g["plan"] for g in by_config["gpus"]] == [g["plan"] for g in by_id["gpus"]], model_id


LLAMA = {"architectures": ["LlamaForCausalLM"], "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
         "num_attention_heads": 32, "vocab_size": 32000, "max_position_embeddings": 4096}


@pytest.mark.parametrize("config, key, line", [
    ({**LLAMA, "architectures": ["GPT2LMHeadModel"]}, "architectures", True),
    ({k: v for k, v in LLAMA.items() if k != "intermediate_size"}, "intermediate_size", False),  # missing: no line to name
    ({**LLAMA, "mystery_scale": 2}, "mystery_scale", True),  # a setting it does not model
    ({**LLAMA, "hidden_size": "big"}, "hidden_size", True),
    ({**LLAMA, "hidden_act": "gelu"}, "hidden_act", True),
    ("{not json", None, True),
])
def test_a_malformed_or_unsupported_config_is_one_line_naming_the_file_and_the_key(tmp_path, config, key, line):
    path = tmp_path / "config.json"
    path.write_text(config if isinstance(config, str) else json.dumps(config))
    proc = run_cli("plan", "--model-config", str(path))
    assert proc.returncode == 2 and proc.stdout == ""
    (message,) = proc.stderr.splitlines()
    assert message.startswith(f"advisor: error: {path}{':1' if line else ''}: ") and "Traceback" not in proc.stderr
    assert (f": {key}: " in message) if key else "not JSON" in message


# --- properties -----------------------------------------------------------------------------------------

MODELS = st.sampled_from(["llama-3-8b", "llama-3-70b", "mixtral-8x7b", "qwen2.5-7b"])
PRECISIONS = st.sampled_from(["bf16", "fp8", "int4"])
LOADS = st.floats(1e7, 1e11)
PLANNER = Planner(CATALOG)
FAST = settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def _gpus(plans):
    return {g: p.plan.total_gpus for g, p in plans.items() if p.plan}


def _costs(plans):
    return {g: p.plan.monthly_cost_usd for g, p in plans.items() if p.plan}


@FAST
@given(MODELS, PRECISIONS, LOADS, st.floats(1.0, 4.0))
def test_more_load_never_needs_fewer_gpus(model, precision, load, more):
    low = _gpus(PLANNER.plan_all(request(model, precision, load)))
    high = _gpus(PLANNER.plan_all(request(model, precision, load * more)))
    assert set(high) <= set(low)
    assert all(high[g] >= low[g] for g in high)


@FAST
@given(MODELS, PRECISIONS, LOADS, st.floats(20, 200), st.floats(0.3, 1.0), st.floats(300, 5000), st.floats(0.2, 1.0))
def test_a_tighter_latency_target_never_lowers_the_cost(model, precision, load, tpot, tighter_tpot, ttft, tighter_ttft):
    loose = _costs(PLANNER.plan_all(request(model, precision, load, tpot, ttft)))
    tight = _costs(PLANNER.plan_all(request(model, precision, load, tpot * tighter_tpot, ttft * tighter_ttft)))
    assert set(tight) <= set(loose)
    assert all(tight[g] >= loose[g] * (1 - 1e-9) for g in tight)


@FAST
@given(MODELS, PRECISIONS, LOADS, st.sampled_from(sorted(CATALOG.gpus)), st.floats(0.05, 1.0))
def test_a_cheaper_price_never_raises_the_cost(model, precision, load, gpu, cheaper):
    listed = CATALOG.gpu(gpu).price.usd_per_hour
    before = _costs(PLANNER.plan_all(request(model, precision, load)))
    after = _costs(PLANNER.plan_all(request(model, precision, load, prices=((gpu, listed * cheaper),))))
    assert set(after) == set(before)
    assert after[gpu] <= before[gpu] * (1 + 1e-9) if gpu in after else True
    assert all(after[g] == before[g] for g in after if g != gpu)


@FAST
@given(MODELS, PRECISIONS, LOADS, st.floats(0.3, 1.0), st.floats(0.3, 1.0))
def test_more_headroom_never_lowers_the_number_of_replicas(model, precision, load, share, less):
    # headroom: the share of capacity the peak may use; a smaller share leaves more spare capacity
    roomy = PLANNER.plan_all(request(model, precision, load, headroom=share * less))
    tight = PLANNER.plan_all(request(model, precision, load, headroom=share))
    for gpu, plan in tight.items():
        if plan.plan and roomy[gpu].plan:
            assert roomy[gpu].plan.total_gpus >= plan.plan.total_gpus


@settings(max_examples=50, deadline=None, database=None)
@given(st.integers(1, 4096), st.sampled_from(["fp16", "fp8", "fp4"]))
def test_a_moe_model_never_reads_more_per_step_than_its_dense_equivalent(tokens, precision):
    from advisor.perf.timing import weights_read_bytes

    for model_id in ("mixtral-8x7b", "deepseek-v3"):
        moe = CATALOG.model(model_id)
        dense = moe.model_copy(update={"moe": None, "intermediate_size": moe.intermediate_size})  # same total parameters
        assert dense.params == moe.params
        assert weights_read_bytes(moe, precision, tokens) <= weights_read_bytes(dense, precision, tokens)


def test_the_plan_json_is_versioned_and_names_every_default():
    out = json.loads(run_cli("plan", "--model", "llama-3-8b", "--format", "json").stdout)
    assert out["version"] == 1
    assert out["workload"] == {"model": "llama-3-8b", "precision": "fp16", "kv_precision": None, "prompt_tokens": 512,
                               "output_tokens": 256, "requests_per_s": None, "peak_to_average": 2.0, "headroom": 0.8,
                               "tpot_ms": 50.0, "ttft_ms": 2000.0}
