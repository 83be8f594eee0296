"""The guided session driven through prompt_toolkit pipe input: keys in, answers and scenario out."""

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from advisor.cli.ask import Session
from advisor.scenario import questions as q
from advisor.decide import facts as factmod
from advisor.scenario import files as scen
from advisor.decide.decision import Advisor
from conftest import REPO

ENTER, DOWN, BACKSPACE = "\r", "\x1b[B", "\x7f"


@pytest.fixture(scope="module")
def advisor():
    return Advisor()


def session(advisor, keys: str, prefill=None):
    """Run the questions on ``keys``; returns (answers, figures said, help lines shown)."""
    said, helped = [], []
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        with create_app_session(input=pipe, output=DummyOutput()):
            answers = Session(advisor.catalog, prefill or {}, say=said.append, help=helped.append).run()
    return answers, said, helped


def decide(advisor, answers, name="s"):
    loaded = scen.from_data(q.to_scenario(answers, advisor.catalog, name), "<ask>", name)
    assert loaded.error is None, loaded.error
    return advisor.decide(loaded.scenario, "<ask>", loaded.raw)


def test_enter_through_every_default_gives_a_valid_scenario_and_a_recommendation(advisor):
    answers, said, helped = session(advisor, ENTER * 12)
    d = decide(advisor, answers)
    # defaults: no fleet, a new deployment that can afford H100 -> the seed's first branch
    assert d.recommendation.text == "H100 - better investment for the future"
    assert answers["context.starting_fresh"] is True and "context.utilization" not in answers
    assert len(helped) == 11  # every question asked had its help text shown
    # figures where they help: the H100 monthly cost before the budget, the GPUs the model needs
    assert said[0] == "for reference: an H100 deployment of llama-2-70b (1 x 4 GPUs at $3.95/h) costs $11,534 a month"
    assert said[1] == "llama-2-70b at fp16: 138 GB of weights -> 4 x a100-80gb, 4 x h100-80gb per deployment"


def test_a_bad_answer_is_rejected_in_place_and_the_user_recovers(advisor):
    # fleet: yes; utilization "1.5" is refused (the field's own limit), then "55%" is taken
    keys = "y" + BACKSPACE * 3 + "1.5" + ENTER + BACKSPACE * 3 + "55%" + ENTER + ENTER * 10
    answers, said, _ = session(advisor, keys)
    assert answers["context.utilization"] == 0.55
    assert decide(advisor, answers).recommendation.text == "Optimize A100 usage before upgrading"
    # the break-even utilization was shown before the utilization question
    # (the figures of the default workload, as the cost model gives them: tested in test_costmodel)
    costs = factmod.build(scen.from_data({}, "<t>", "t").scenario, advisor.catalog).costs
    a, h = costs["a100-80gb"]["cost_per_million_tokens"], costs["h100-80gb"]["cost_per_million_tokens"]
    assert said[0] == (f"for reference: kept fully busy, A100 serves llama-2-70b at ${a:.2f} per million tokens (H100 ${h:.2f}); "
                       "half as busy, twice the cost per token")


def test_conditional_questions_follow_the_answers(advisor):
    # fleet: no; new deployment: no -> neither utilization nor budget nor can_afford is asked
    answers, _, helped = session(advisor, "n" + "n" + ENTER * 8)
    assert "context.utilization" not in answers and "context.monthly_budget_usd" not in answers
    assert "context.can_afford_h100" not in answers and len(helped) == 9
    assert decide(advisor, answers).recommendation.text == "A100 for experiments, H100 for production"


def test_a_custom_workload_and_prices_are_asked_and_used(advisor):
    keys = ("n" + ENTER + "50000" + ENTER  # no fleet; new deployment (default yes); budget $50,000
            + "y" + "n"  # spot yes; fp8 no
            + DOWN + ENTER + ENTER + ENTER  # optimize for latency; stage default; wait weeks skipped
            + "n" + DOWN * 2 + ENTER  # custom workload: two below the default llama-2-70b
            + DOWN * 2 + ENTER  # precision fp8
            + ENTER * 3 + "5e7" + ENTER + ENTER  # batch, prompt, output defaults; 5e7 tokens a day; no latency target
            + "n" + BACKSPACE * 4 + "2.2" + ENTER + BACKSPACE * 4 + "3.1" + ENTER)
    answers, said, _ = session(advisor, keys)
    model = "llama-3-70b"
    assert list(advisor.catalog.models).index(model) == list(advisor.catalog.models).index("llama-2-70b") + 2
    assert answers["workload.model"] == model and answers["workload.precision"] == "fp8"
    assert answers["workload.tokens_per_day"] == 5e7 and answers["context.monthly_budget_usd"] == 50000
    assert answers["prices.a100-80gb"] == 2.2 and answers["prices.h100-80gb"] == 3.1
    d = decide(advisor, answers)
    assert d.costs["h100-80gb"]["price_usd_per_hour"] == 3.1
    assert any(f.factor == "optimize_for_latency" for f in d.factors)
    assert said[-1].startswith(f"{model} at fp8:")


def test_a_saved_scenario_prefills_the_answers_and_replays_to_the_same_decision(advisor, tmp_path):
    path = REPO / "scenarios" / "fleet-busy.yaml"
    (loaded,) = scen.parse(str(path), path.read_bytes())
    original = advisor.decide(loaded.scenario, str(path), loaded.raw)
    answers, _, _ = session(advisor, ENTER * 12, prefill=q.from_scenario(loaded.scenario))
    again = decide(advisor, answers, "fleet-busy")
    assert again.recommendation == original.recommendation
    assert again.factors == original.factors and again.costs == original.costs
    # and the saved file is a scenario `advisor run` reads back to the same decision
    saved = tmp_path / "answers.yaml"
    scen.save(saved, q.to_scenario(answers, advisor.catalog, "fleet-busy"))
    (reread,) = scen.parse(str(saved), saved.read_bytes())
    assert advisor.decide(reread.scenario, str(saved)).recommendation == original.recommendation


@pytest.mark.parametrize("text, kind, name, expected", [
    ("55%", "number", "context.utilization", 0.55),
    ("0.4", "number", "context.utilization", 0.4),
    ("50,000,000", "number", "workload.tokens_per_day", 5e7),
    ("5e7", "number", "workload.tokens_per_day", 5e7),
    ("$3.10", "number", "prices.h100-80gb", 3.1),
    ("32", "integer", "workload.batch", 32),
])
def test_numbers_are_read_as_people_write_them(text, kind, name, expected):
    question = q.Question(name, kind, "", "", percent=name == "context.utilization")
    assert q.parse_number(text, question) == expected


@pytest.mark.parametrize("text, kind, name, message", [
    ("1.5", "number", "context.utilization", "less than or equal to 1"),
    ("0", "number", "context.utilization", "greater than or equal to 0.01"),
    ("lots", "number", "workload.tokens_per_day", "'lots' is not a number"),
    ("2.5", "integer", "workload.batch", "a whole number"),
    ("0", "integer", "workload.batch", "greater than or equal to 1"),
    ("0", "number", "prices.h100-80gb", "0.01 to 1000"),
    ("nan", "number", "workload.max_ms_per_token", "finite number"),
])
def test_bad_numbers_are_refused_with_the_reason(text, kind, name, message):
    with pytest.raises(ValueError, match=message):
        q.parse_number(text, q.Question(name, kind, "", "", percent=name == "context.utilization"))


def test_answering_fp8_overrides_a_prefilled_precision(advisor):
    # pre-filled int8; the user then says FP8: the scenario is served at fp8, not refused as a contradiction
    keys = "n" + ENTER + ENTER + ENTER + "n" + "y" + ENTER * 6
    answers, _, _ = session(advisor, keys, prefill={"workload.precision": "int8"})
    assert answers["context.using_fp8"] is True and "workload.precision" not in answers
    d = decide(advisor, answers)
    assert d.costs["h100-80gb"]["precision"] == "fp8"
