"""Decisions: the shipped scenarios, the seed's practical_recommendation, engine vs evaluator."""

import csv
import io
import itertools
import json
import re
from pathlib import Path

import pytest
from advisor.decide.decision import Advisor
from advisor.scenario.spec import Scenario
from conftest import REPO, run_cli


@pytest.fixture(scope="module")
def advisor():
    return Advisor()


def seed_practical_recommendation(context: dict) -> str:
    """Transcribed verbatim from the seed document: the oracle."""
    # New deployment with budget
    if context.get("starting_fresh"):
        if context.get("can_afford_h100"):
            return "H100 - better investment for the future"
    # Existing A100 fleet
    if context.get("have_a100_fleet"):
        if context.get("utilization") < 0.7:
            return "Optimize A100 usage before upgrading"
    # Spot instances
    if context.get("can_use_spot"):
        return "Mix - H100 spot when available, A100 fallback"
    return "A100 for experiments, H100 for production"


BOOLEANS = ["starting_fresh", "can_afford_h100", "have_a100_fleet", "can_use_spot"]


@pytest.mark.parametrize("utilization", [0.3, 0.69, 0.7, 0.95])
@pytest.mark.parametrize("stage", [None, "experimentation", "production"])
def test_every_combination_matches_the_seed_function(advisor, utilization, stage):
    for values in itertools.product([False, True], repeat=len(BOOLEANS)):
        context = dict(zip(BOOLEANS, values))
        if context["have_a100_fleet"]:
            context["utilization"] = utilization
        if stage:
            context["stage"] = stage
        decision = advisor.decide(Scenario.model_validate({"name": "combo", "context": context}))
        assert decision.recommendation.text == seed_practical_recommendation(context), context


def _expectations(path: Path) -> dict:
    line = next(l for l in path.read_text().splitlines() if l.startswith("# expect:"))
    return [tuple(item.split("=", 1)) for item in line[len("# expect:"):].split()]


SHIPPED = sorted((REPO / "scenarios").glob("*.yaml"))


def test_shipped_scenarios_are_decided_as_their_comments_say():
    proc = run_cli("run", str(REPO / "scenarios"), "--format", "json", "--no-audit")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["version"] == 1 and out["errors"] == []
    by_source = {Path(d["source"]).name: d for d in out["decisions"]}
    assert set(by_source) == {p.name for p in SHIPPED} and len(SHIPPED) >= 9
    for path in SHIPPED:
        d = by_source[path.name]
        for key, want in _expectations(path):
            if key == "recommendation":
                assert d["recommendation"]["id"] == want, path.name
            elif key == "gpu":
                assert d["recommendation"]["gpu"] == want, path.name
            elif key == "advantage":
                gpu, ident = want.split(":")
                assert {"gpu": gpu, "id": ident} in [{"gpu": a["gpu"], "id": a["id"]} for a in d["advantages"]], path.name
            elif key == "factor":
                name, _, choice = want.partition(":")
                factor = next(f for f in d["factors"] if f["factor"] == name)
                assert not choice or factor["choice"] == choice, path.name
            else:
                raise AssertionError(f"unknown expectation {key} in {path.name}")


def test_decision_records_what_fired_and_why(advisor):
    d = advisor.decide(Scenario.model_validate({"name": "x", "context": {"have_a100_fleet": True, "utilization": 0.5, "stage": "production"}}))
    assert d.recommendation.rule == "rec-underused-fleet"
    fired = {f.rule: f for f in d.fired_rules}
    assert fired["rec-underused-fleet"].matched == {"context.have_a100_fleet": True, "context.utilization": 0.5}
    assert {o.rule for o in d.overridden} == {"rec-default-production", "rec-default"}
    assert all(o.by == "rec-underused-fleet" for o in d.overridden)
    assert len(d.rules_revision) == 64 and d.decision_id
    assert d.costs["a100-80gb"]["gpus"] == 4


def test_cost_per_token_factor_is_resolved_from_the_costs_at_the_scenarios_prices(advisor):
    base = {"name": "x", "context": {"optimize_for": "cost_per_token"}}
    cheap_h100 = advisor.decide(Scenario.model_validate({**base, "prices": {"h100-80gb": 2.0}}))
    dear_h100 = advisor.decide(Scenario.model_validate({**base, "prices": {"h100-80gb": 9.0}}))
    pick = lambda d: next(f for f in d.factors if f.factor == "optimize_for_cost_per_token")
    assert pick(cheap_h100).choice == "H100" and pick(dear_h100).choice == "A100"
    assert pick(cheap_h100).seed_choice == "Depends on utilization"
    ratio = lambda d: d.costs["h100-80gb"]["cost_per_million_tokens"] / d.costs["a100-80gb"]["cost_per_million_tokens"]
    assert ratio(cheap_h100) < 1 < ratio(dear_h100)


def test_csv_and_markdown_carry_the_same_verdicts_as_json():
    as_json = json.loads(run_cli("run", str(REPO / "scenarios"), "--format", "json", "--no-audit").stdout)["decisions"]
    want = {d["scenario"]: (d["recommendation"]["text"], d["recommendation"]["gpu"]) for d in as_json}
    proc = run_cli("run", str(REPO / "scenarios"), "--format", "csv", "--no-audit")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert {r["scenario"]: (r["text"], r["gpu"]) for r in rows} == want
    assert all(float(r["a100_80gb_usd_per_m_tokens"]) > 0 and len(r["rules_revision"]) == 64 for r in rows)
    md = run_cli("run", str(REPO / "scenarios"), "--format", "markdown", "--no-audit").stdout.splitlines()
    assert md[0].startswith("| scenario | verdict | GPU |") and set(md[1]) <= set("|-")
    cells = {line.split(" | ")[0].lstrip("| "): line.split(" | ")[1] for line in md[2:]}
    assert cells == {name: text for name, (text, _) in want.items()}
