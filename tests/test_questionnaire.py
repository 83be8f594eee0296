"""The guided session driven through prompt_toolkit pipe input: keys in, answers and scenario out."""

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from advisor.cli.session import Session
from advisor.decide import facts as factmod
from advisor.decide.decision import Advisor
from advisor.scenario import files as scen
from advisor.scenario import questions as q
from conftest import REPO

ENTER, UP, DOWN, BACKSPACE = "\r", "\x1b[A", "\x1b[B", "\x7f"
# The questions a session with every default asks: the workload (model, FP8, precision, prompt and
# output tokens, how the load is known, TPOT, TTFT), then the team (fleet, new deployment, budget,
# can afford H100, priority, stage, H100 wait, spot, GPUs to choose from, prices).
DEFAULT_PATH = 18


@pytest.fixture(scope="module")
def advisor():
    return Advisor()


def session(advisor, keys: str, prefill=None):
    """Run the questions on ``keys``; returns (answers, figures said, help lines shown)."""
    said, helped = [], []
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        pipe.close()  # the keys run out: the session ends (EOFError) instead of waiting for more
        with create_app_session(input=pipe, output=DummyOutput()):
            answers = Session(advisor.catalog, prefill or {}, say=said.append, help=helped.append).run()
    return answers, said, helped


def typed(text: str) -> str:
    """Replace the default shown in a text prompt with ``text`` and submit it."""
    return BACKSPACE * 12 + text + ENTER


def decide(advisor, answers, name="s"):
    loaded = scen.from_data(q.to_scenario(answers, advisor.catalog, name), "<ask>", name)
    assert loaded.error is None, loaded.error
    return advisor.decide(loaded.scenario, "<ask>", loaded.raw)


def test_enter_through_every_default_gives_a_valid_scenario_and_a_verdict(advisor):
    answers, said, helped = session(advisor, ENTER * DEFAULT_PATH)
    assert len(helped) == DEFAULT_PATH  # every question asked had its help text shown
    d = decide(advisor, answers)
    # defaults: no fleet, a new deployment that can afford H100 -> the seed's first branch
    assert d.general_answer.text == "H100 - better investment for the future"
    assert answers["context.starting_fresh"] is True and "context.utilization" not in answers
    # the figures shown after the targets are the decision's own plans (no load given: the load
    # one A100 replica carries)
    a100, h100 = d.plans["a100-80gb"], d.plans["h100-80gb"]
    assert said[0].startswith("llama-2-70b at fp16: 138 GB of weights; plans for "
                              f"{a100['load_rps']:.2f} requests/s on average (the load one A100 replica carries): ")
    assert f"a100-80gb {a100['total_gpus']} GPUs ${a100['monthly_cost_usd']:,.0f} a month" in said[0]
    assert f"h100-80gb {h100['total_gpus']} GPUs ${h100['monthly_cost_usd']:,.0f} a month" in said[0]
    # and before the budget question, the same plans "for reference"
    assert said[1].startswith("for reference, at ") and said[1].endswith(said[0].split("plans for ")[1].split(": ", 1)[1])


def test_the_figures_of_a_session_plan_each_workload_and_load_once(advisor, monkeypatch):
    from advisor.plan import planner as planner_module

    sized, size_gpu = [], planner_module._size_gpu
    monkeypatch.setattr(planner_module, "_size_gpu", lambda eff, gpu, request, at_most: sized.append((gpu.id, request))
                        or size_gpu(eff, gpu, request, at_most))
    _, said, _ = session(advisor, ENTER * DEFAULT_PATH)
    assert len(said) == 2 and sized  # the plans after the targets, then the same before the budget
    assert len(sized) == len(set(sized))  # the second figure planned nothing again


def test_the_load_and_the_targets_are_asked_first_and_read_as_people_write_them(advisor):
    keys = (ENTER + "n" + ENTER  # llama-2-70b, no FP8, fp16
            + typed("2k") + typed("300")  # prompt 2,000 tokens, output 300
            + UP + ENTER + typed("300M") + typed("3x")  # load as tokens a day (above "not known"): 300M; peak 3x the average
            + typed("40ms") + typed("1.5 s")  # TPOT 40 ms, TTFT 1.5 s
            + "n" + "y" + typed("$60k")  # no fleet; new deployment; budget $60,000
            + ENTER * 6)  # priority, stage, wait, spot, GPUs, prices
    answers, said, _ = session(advisor, keys)
    assert answers["workload.prompt_tokens"] == 2000 and answers["workload.output_tokens"] == 300
    assert answers["workload.tokens_per_day"] == 3e8 and answers["workload.peak_to_average"] == 3.0
    assert answers["workload.tpot_ms"] == 40.0 and answers["workload.ttft_ms"] == 1500.0
    assert answers["context.monthly_budget_usd"] == 60000.0
    assert "workload.requests_per_s" not in answers and "context.can_afford_h100" not in answers
    d = decide(advisor, answers)
    # 300M tokens a day of 300-token answers: 300e6 / 300 / 86,400 = 11.57 requests/s
    assert d.plans["a100-80gb"]["load_rps"] == pytest.approx(3e8 / 300 / 86_400, abs=5e-5)  # recorded to 4 decimals
    assert all(p["tpot_ms"] <= 40 and p["ttft_ms"] <= 1500 for p in d.plans.values() if p.get("feasible"))
    assert said[0].split("plans for ")[1].startswith("11.57 requests/s on average: ")


def test_a_bad_answer_is_rejected_in_place_and_the_user_recovers(advisor):
    keys = ENTER * 8 + "y" + ENTER + ENTER  # fleet: yes; its GPU a100-80gb; its size skipped
    keys += typed("1.5") + typed("170%") + typed("55%")  # refused twice (above 1), then taken
    keys += ENTER * 8
    answers, said, _ = session(advisor, keys)
    assert answers["context.utilization"] == 0.55 and answers["context.fleet_gpus"] is None
    assert decide(advisor, answers).general_answer.text == "Optimize A100 usage before upgrading"
    # the break-even utilization was shown before the utilization question
    values = factmod.build(scen.from_data({}, "<t>", "t").scenario, advisor.catalog).values
    match = values["compare.h100_vs_a100.a100_break_even_utilization"]
    assert f"for reference: A100s {match:.0%} busy match H100's cost per token for llama-2-70b" in said


def test_back_returns_to_the_previous_question_with_its_answer_as_the_default(advisor):
    keys = (ENTER + "y"  # llama-2-70b; FP8 yes (precision is then not asked)
            + typed("<")  # back from the prompt length to the FP8 question
            + "b"  # and back again, to the model
            + DOWN + DOWN + ENTER  # two below llama-2-70b: llama-3-70b
            + "n" + ENTER  # no FP8; fp16
            + ENTER * 2 + DOWN + ENTER  # token defaults; load: the back choice (below "not known", the default)
            + ENTER + ENTER  # the output-token question again, default kept; the load question: not known
            + ENTER * (DEFAULT_PATH - 6))
    answers, _, helped = session(advisor, keys)
    assert answers["workload.model"] == "llama-3-70b" and answers["context.using_fp8"] is False
    assert answers["workload.precision"] == "fp16" and answers["workload.output_tokens"] == 256
    models = list(advisor.catalog.models)
    assert models.index("llama-3-70b") == models.index("llama-2-70b") + 2
    # asked: the model, FP8, the prompt length (left), FP8 again (left), the model again, then the path
    assert len(helped) == DEFAULT_PATH + 4 + 2


def test_a_fleet_asks_its_gpu_count_and_utilization_and_spot_asks_its_price_and_availability(advisor):
    keys = (ENTER * 8 + "y" + DOWN + ENTER  # fleet of the GPU below a100-80gb in the catalog
            + typed("64") + typed("40%") + "n" + ENTER  # 64 GPUs 40% busy; not new; no budget
            + ENTER * 3  # priority, stage, wait
            + "y" + typed("$2.10/h") + typed("70%")  # spot at $2.10 an hour, there 70% of the hours
            + ENTER * 2)
    answers, _, _ = session(advisor, keys)
    gpus = list(advisor.catalog.gpus)
    assert answers["context.fleet_gpu"] == gpus[gpus.index("a100-80gb") + 1]
    assert answers["context.fleet_gpus"] == 64 and answers["context.utilization"] == 0.4
    assert answers["spot_prices.h100-80gb"] == 2.1 and answers["context.spot_availability"] == 0.7
    d = decide(advisor, answers)
    assert {f.id for f in d.findings} >= {"spot-mix-pays", "fleet-move"} or {f.id for f in d.findings} >= {"spot-mix-does-not-pay", "fleet-move"}
    assert d.general_answer.text == "Optimize A100 usage before upgrading"


def test_a_custom_workload_and_prices_are_asked_and_used(advisor):
    keys = (DOWN * 2 + ENTER + "n" + DOWN * 3 + ENTER  # llama-3-70b; no FP8; int8 (fp16, bf16, fp4, int8: fp8 is the question before)
            + ENTER * 2 + ENTER + ENTER * 2  # tokens; load not known; targets
            + "n" + "y" + ENTER + ENTER + DOWN + ENTER + ENTER * 4  # new; no budget; can afford; latency first
            + "n" + typed("2.2") + typed("$3.10"))
    answers, _, _ = session(advisor, keys)
    assert answers["workload.model"] == "llama-3-70b" and answers["workload.precision"] == "int8"
    assert answers["prices.a100-80gb"] == 2.2 and answers["prices.h100-80gb"] == 3.1
    d = decide(advisor, answers)
    assert d.plans["h100-80gb"]["price_usd_per_hour"] == 3.1 and d.plans["a100-80gb"]["price_usd_per_hour"] == 2.2
    assert any(f.factor == "optimize_for_latency" for f in d.factors)


def test_a_saved_scenario_prefills_the_answers_and_replays_to_the_same_decision(advisor, tmp_path):
    for name in ("fleet-busy", "checks/spot-costed", "checks/cost-first-40ms"):
        path = REPO / "scenarios" / f"{name}.yaml"
        (loaded,) = scen.parse(str(path), path.read_bytes())
        original = advisor.decide(loaded.scenario, str(path), loaded.raw)
        answers, _, _ = session(advisor, ENTER * 30, prefill=q.from_scenario(loaded.scenario))
        again = decide(advisor, answers, loaded.scenario.name)
        assert again.verdict == original.verdict and again.general_answer == original.general_answer, name
        assert again.factors == original.factors and again.plans == original.plans, name
        # and the saved file is a scenario `advisor run` reads back to the same decision
        saved = tmp_path / "answers.yaml"
        scen.save(saved, q.to_scenario(answers, advisor.catalog, loaded.scenario.name))
        (reread,) = scen.parse(str(saved), saved.read_bytes())
        assert advisor.decide(reread.scenario, str(saved)).verdict == original.verdict, name


@pytest.mark.parametrize("text, name, expected", [
    ("55%", "context.utilization", 0.55),
    ("0.4", "context.utilization", 0.4),
    ("50,000,000", "workload.tokens_per_day", 5e7),
    ("5e7", "workload.tokens_per_day", 5e7),
    ("300M", "workload.tokens_per_day", 3e8),
    ("$3.10", "prices.h100-80gb", 3.1),
    ("4 USD", "prices.h100-80gb", 4.0),
    ("$20k", "context.monthly_budget_usd", 20_000.0),
    ("25ms", "workload.tpot_ms", 25.0),
    ("2k", "workload.prompt_tokens", 2000),
    ("6 months", "context.h100_wait_weeks", 26.0),
])
def test_numbers_are_read_as_people_write_them(text, name, expected):
    assert q.parse_number(text, q.Question(name, "number", "", "")) == expected


@pytest.mark.parametrize("text, name, message", [
    ("1.5", "context.utilization", "less than or equal to 1"),
    ("0", "context.utilization", "greater than or equal to 0.01"),
    ("lots", "workload.tokens_per_day", "'lots' is not a number of tokens a day: write it like 300M"),
    ("2.5k5", "workload.tokens_per_day", "is not a number of tokens a day"),
    ("2.5", "workload.prompt_tokens", "'2.5' is not a whole number"),
    ("0", "workload.prompt_tokens", "greater than or equal to 1"),
    ("0", "prices.h100-80gb", "0.01 to 1000"),
    ("25ms", "prices.h100-80gb", "'25ms' is not an amount in USD per GPU-hour (it reads as a time)"),
    ("70%", "context.monthly_budget_usd", "(it reads as a percentage)"),
    ("nan", "workload.tpot_ms", "'nan' is not a number of milliseconds"),
])
def test_bad_numbers_are_refused_with_the_reason(text, name, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("$", r"\$")):
        q.parse_number(text, q.Question(name, "number", "", ""))


def test_answering_fp8_overrides_a_prefilled_precision(advisor):
    # pre-filled int8; the user then says FP8: the scenario is served at fp8, not refused as a contradiction
    keys = ENTER + "y" + ENTER * (DEFAULT_PATH - 3)
    answers, _, _ = session(advisor, keys, prefill={"workload.precision": "int8"})
    assert answers["context.using_fp8"] is True and "workload.precision" not in answers
    d = decide(advisor, answers)
    assert d.plans["h100-80gb"]["precision"] == "fp8"
