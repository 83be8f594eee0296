"""`advisor estimate`, `compare`, `gpus`, `models`: the seed's examples, bad input, formats."""

import json

import pytest

from advisor.catalog.load import load_catalog
from conftest import cli_json, run_cli


def test_seed_example_costs(tmp_path):
    # Run from an unrelated directory: the YAML ships inside the installed package.
    a100 = cli_json("estimate", "--gpu", "a100-80gb", "--price", "2.50", "--tokens-per-s", "30", cwd=tmp_path)
    h100 = cli_json("estimate", "--gpu", "h100-80gb", "--price", "4.50", "--tokens-per-s", "50", cwd=tmp_path)
    assert (a100["gpus"], round(a100["cost_per_million_tokens"], 2)) == (1, 23.15)
    assert (h100["gpus"], round(h100["cost_per_million_tokens"], 2)) == (1, 25.00)
    assert a100["version"] == 1


def test_json_has_the_documented_keys():
    out = cli_json("estimate", "--gpu", "a100-80gb", "--model", "llama-2-7b")
    for key in ("gpu", "model", "precision", "gpus", "batch", "fits", "weights_gb", "kv_cache_gb",
                "decode_floor_ms_per_token", "decode_ms_per_token", "tokens_per_s", "ttft_ms",
                "cost_per_million_tokens", "warnings"):
        assert key in out


@pytest.mark.parametrize("gpu, floor_ms", [("a100-80gb", 34.3), ("h100-80gb", 20.9)])
def test_seed_140_gb_on_two_gpus(gpu, floor_ms):
    out = cli_json("estimate", "--gpu", gpu, "--params-b", "70", "--precision", "fp16", "--gpus", "2")
    assert round(out["decode_floor_ms_per_token"], 1) == floor_ms
    assert out["weights_gb"] == 140.0 and out["gpus"] == 2
    assert out["fits"] is False and any("does not fit" in w for w in out["warnings"])


def test_default_gpu_count_for_140_gb_says_why():
    out = cli_json("estimate", "--gpu", "a100-80gb", "--params-b", "70")
    assert out["gpus"] >= 2 and out["fits"] is True
    assert "140.0 GB weights" in out["gpus_reason"] and "usable" in out["gpus_reason"]
    table = run_cli("estimate", "--gpu", "a100-80gb", "--params-b", "70")
    assert "why that many" in table.stdout and "needs 4 GPUs" in table.stdout


def test_stated_throughput_above_the_bandwidth_ceiling_is_flagged():
    # The seed's 30 tokens/s for 140 GB on 2 A100s: the ceiling is 4,078 GB/s / 140 GB = 29.1.
    out = cli_json("estimate", "--gpu", "a100-80gb", "--params-b", "70", "--gpus", "2", "--batch", "1", "--tokens-per-s", "30",
                   "--price", "2.5")
    assert out["tokens_per_s"] == 30 and out["tokens_per_s_source"] == "stated"
    assert round(out["throughput_ceiling_tokens_per_s"], 1) == 29.1
    assert any("above the 29.1 tokens/s" in w for w in out["warnings"])
    # ...and the cost counts both GPUs: 2 x $2.50 / (30 x 3600) x 1e6 = $46.30.
    assert round(out["cost_per_million_tokens"], 2) == 46.30
    table = run_cli("estimate", "--gpu", "a100-80gb", "--params-b", "70", "--gpus", "2", "--batch", "1", "--tokens-per-s", "30")
    assert "warning: the stated 30 tokens/s is above" in table.stderr


def test_warnings_go_to_stderr_and_data_to_stdout():
    proc = run_cli("estimate", "--gpu", "a100-80gb", "--tokens-per-s", "30")
    assert proc.returncode == 0
    assert "$23" in proc.stdout and "warning:" not in proc.stdout
    assert "warning: no model given" in proc.stderr


BAD = [
    (["estimate", "--gpu", "h100", "--model", "llama-2-7b"], "did you mean h100-80gb"),
    (["estimate", "--gpu", "a100-80gb", "--model", "llama3-70b"], "did you mean llama-3-70b"),
    (["estimate", "--gpu", "a100-80gb", "--model", "llama-2-7b", "--batch", "0"], "--batch: must be at least 1"),
    (["estimate", "--gpu", "a100-80gb", "--model", "llama-2-7b", "--price", "-2"], "--price: must be greater than 0"),
    (["estimate", "--gpu", "a100-80gb", "--params-b", "0"], "--params-b: must be greater than 0"),
    (["estimate", "--gpu", "a100-80gb", "--model", "llama-2-7b", "--utilization", "0"], "must be in (0, 1]"),
    (["estimate", "--gpu", "a100-80gb", "--model", "llama-2-7b", "--utilization", "1.5"], "must be in (0, 1]"),
    (["estimate", "--gpu", "a100-80gb", "--model", "llama-2-7b", "--tokens-per-s", "nan"], "'nan' is not a number: write it like 2.5 or 20k"),
    (["estimate", "--gpu", "a100-80gb", "--model", "llama-2-70b", "--precision", "fp8"], "no FP8 tensor cores"),
    (["estimate", "--gpu", "a100-80gb"], "nothing to estimate without a model"),
    (["estimate", "--gpu", "a100-80gb", "--model", "llama-2-7b", "--prompt-tokens", "4000"], "exceed llama-2-7b's context"),
    (["compare", "--model", "llama-2-7b", "--price", "h100=3"], "did you mean h100-80gb"),
    (["compare"], "compare needs a model"),
    (["frobnicate"], "invalid choice"),
]


@pytest.mark.parametrize("args, message", BAD)
def test_bad_input_is_one_line_exit_2(args, message):
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_fp8_on_a100_names_the_alternatives():
    proc = run_cli("estimate", "--gpu", "a100-80gb", "--model", "llama-2-70b", "--precision", "fp8")
    assert "fp16, bf16, int8, int4" in proc.stderr and "h100-80gb" in proc.stderr


def test_compare_ranks_by_cost_and_says_why_each_lost():
    out = cli_json("compare", "--model", "llama-3-70b", "--batch", "16")
    rows = out["rows"]
    eligible = [r for r in rows if r["eligible"]]
    costs = [r["cost_per_million_tokens"] for r in eligible]
    assert costs == sorted(costs)
    assert [r["gpu"] for r in rows if r["chosen"]] == [out["cheapest"]] == [eligible[0]["gpu"]]
    assert all(r["lost_because"].startswith("costs more") for r in eligible[1:])
    assert {r["gpu"] for r in rows} == set(load_catalog().gpus)


def test_compare_fp8_rules_out_ampere_and_latency_target_rules_out_slow_gpus():
    out = cli_json("compare", "--model", "llama-3-70b", "--precision", "fp8", "--max-ms-per-token", "15")
    by_gpu = {r["gpu"]: r for r in out["rows"]}
    for ampere in ("a100-80gb", "a100-80gb-pcie", "a100-40gb"):
        assert by_gpu[ampere]["lost_because"] == "no FP8 support"
    missed = [r for r in out["rows"] if r["lost_because"] and r["lost_because"].startswith("misses the latency target")]
    assert missed and all(r["decode_ms_per_token"] > 15 for r in missed)
    assert all(r["decode_ms_per_token"] <= 15 for r in out["rows"] if r["eligible"])


def test_compare_price_override_changes_the_ranking():
    cheap_a100 = cli_json("compare", "--model", "llama-3-70b", "--batch", "16", "--price", "a100-80gb=0.50")
    assert cheap_a100["cheapest"] == "a100-80gb"
    row = next(r for r in cheap_a100["rows"] if r["gpu"] == "a100-80gb")
    assert row["price_usd_per_hour"] == 0.5


def test_compare_break_even_price_makes_costs_equal():
    out = cli_json("compare", "--model", "llama-3-70b", "--batch", "16")
    base = next(r for r in out["rows"] if r["gpu"] == "a100-80gb")
    h100 = next(r for r in out["rows"] if r["gpu"] == "h100-80gb")
    # at the break-even price the H100 deployment costs what the A100 one does, per token
    at_break_even = h100["gpus"] * h100["break_even_price_usd_per_hour"] * 1e6 / (3600 * h100["tokens_per_s"])
    assert at_break_even == pytest.approx(base["cost_per_million_tokens"], rel=1e-3)


def test_gpus_and_models_listings():
    gpus = cli_json("gpus")["gpus"]
    a100 = next(g for g in gpus if g["id"] == "a100-80gb")
    assert a100["hbm_bandwidth_gbps"] == {"value": 2039.0, "source": "nvidia-a100-datasheet"}
    assert "datasheet" in a100["sources"]["hbm_bandwidth_gbps"]
    assert a100["seed"]["bandwidth_tbps"] == 2.0
    models = cli_json("models")["models"]
    assert {m["id"] for m in models} >= {"llama-2-70b", "llama-3-8b"}
    table = run_cli("gpus")
    assert "h100-80gb" in table.stdout and "3.35 TB/s" in table.stdout


@pytest.mark.parametrize("command", ["estimate", "compare", "gpus", "models"])
def test_help_on_every_command(command):
    proc = run_cli(command, "--help")
    assert proc.returncode == 0 and "usage: advisor" in proc.stdout


def test_a_run_builds_only_the_parser_of_its_command_and_parses_as_the_whole_parser_does():
    from advisor.cli.main import COMMANDS, build_parser, named_command

    subcommands = lambda parser: set(parser._subparsers._group_actions[0].choices)  # noqa: E731
    assert tuple(build_parser()._subparsers._group_actions[0].choices) == COMMANDS  # the list is the builders' own
    for command in COMMANDS:
        assert subcommands(build_parser(command)) == {command}
    line = ["--debug", "plan", "--model", "llama-3-70b", "--tokens-per-day", "2e9", "--ttft-ms", "1000"]
    assert named_command(line) == "plan"
    assert vars(build_parser("plan").parse_args(line)) == vars(build_parser().parse_args(line))
    assert named_command(["--help", "run"]) is None and named_command(["runn"]) is None and named_command([]) is None
    top = run_cli("--help", "run")  # the top-level help lists every command
    assert top.returncode == 0 and all(command in top.stdout for command in COMMANDS)
    typo = run_cli("runn", "x.yaml")  # an unknown command is told with every command known
    assert typo.returncode == 2 and "invalid choice: 'runn'" in typo.stderr and "'run'" in typo.stderr


def test_version():
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("advisor ")


def test_json_output_is_plain_json_on_stdout():
    proc = run_cli("compare", "--model", "llama-2-7b", "--format", "json")
    assert json.loads(proc.stdout)["version"] == 1
