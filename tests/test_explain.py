"""`advisor explain`: the derivation, the overridden matches, why-not with the actual values, and
the formulas with the numbers put in, checked on shipped scenarios."""

import json
import re

from conftest import REPO, run_cli

SCENARIOS = REPO / "scenarios"


def explained(*args) -> dict:
    proc = run_cli("explain", *args, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    (one,) = json.loads(proc.stdout)["explanations"]
    return one


def test_why_not_names_the_failing_condition_and_the_actual_value():
    e = explained(str(SCENARIOS / "fleet-busy.yaml"))  # a fleet at 85%: not "underused"
    why = {w["rule"]: w for w in e["why_not"]}
    assert why["rec-underused-fleet"]["condition"] == "context.utilization < 0.7 (fleet_utilization_floor)"
    assert why["rec-underused-fleet"]["actual"] == 0.85
    assert why["rec-fresh-with-budget"]["condition"] == "context.starting_fresh = true"
    assert why["rec-fresh-with-budget"]["actual"] is False
    assert why["a100-availability"]["actual"] == "(absent)"  # no wait time given
    # every rule of the book either fired or says why not
    rules = json.loads(run_cli("rules", "list", "--format", "json").stdout)["rules"]
    def names(nodes):
        return {n["rule"] for n in nodes} | {r for n in nodes for b in n["because"] for r in names(b["asserted_by"])}

    fired = names(e["derivation"]) | {o["rule"] for o in e["overridden"]}
    assert {r["id"] for r in rules} == set(why) | fired and not set(why) & fired
    # a rule reading a derived flag that was asserted fails on its own condition, with the figure
    assert why["factor-cost-per-token-a100"]["condition"] == "compare.h100_vs_a100.cost_ratio >= 1 (cost_parity)"
    assert why["factor-cost-per-token-a100"]["actual"] < 1


def test_the_derivation_shows_the_chain_through_a_derived_fact():
    e = explained(str(SCENARIOS / "fleet-busy.yaml"))  # optimize_for cost_per_token, resolved from the costs
    node = next(n for n in e["derivation"] if n["rule"] == "factor-cost-per-token-h100")
    assert node["facts"][0]["fact"] == "compare.h100_vs_a100.cost_ratio" and node["facts"][0]["kind"] == "computed"
    assert node["facts"][0]["value"] < 1
    (because,) = node["because"]
    assert because["derived"] == "cost_per_token_depends_on_utilization"
    (source,) = because["asserted_by"]
    assert source["rule"] == "factor-cost-per-token"
    assert source["facts"] == [{"fact": "context.optimize_for", "value": "cost_per_token", "kind": "input"}]
    assert e["overridden"] == [{"rule": "rec-default", "ruleset": "recommendation", "by": "rec-default-production"}]


def test_the_formulas_carry_the_numbers_of_the_decision():
    run = json.loads(run_cli("run", str(SCENARIOS / "fleet-underused.yaml"), "--format", "json", "--no-audit").stdout)
    costs = run["decisions"][0]["costs"]
    e = explained(str(SCENARIOS / "fleet-underused.yaml"))
    formulas = {(f["gpu"], f["name"]): f["formula"] for f in e["formulas"]}
    a100 = formulas[("a100-80gb", "cost per million tokens")]
    # N x price x 1e6 / (3600 x utilization x tokens/s), recomputed from the numbers shown
    n, price, util, tps, result = re.search(
        r"= (\d+) x \$([\d.]+) x 1e6 / \(3600 x ([\d.]+) x ([\d,]+)\) = \$([\d.]+)", a100).groups()
    assert int(n) == costs["a100-80gb"]["gpus"] and float(util) == 0.45
    assert abs(int(n) * float(price) * 1e6 / (3600 * float(util) * float(tps.replace(",", ""))) - float(result)) < 0.05
    assert float(result) == round(costs["a100-80gb"]["cost_per_million_tokens"], 2)
    # the seed's decode floor: weights / (N x bandwidth), 138 GB over 4 x 2.04 TB/s = 16.9 ms
    assert formulas[("a100-80gb", "decode floor")].endswith("= 16.9 ms per token (the seed's formula)")


def test_explain_by_id_matches_explain_of_the_file(tmp_path):
    db = str(tmp_path / "audit.sqlite3")
    run = json.loads(run_cli("run", str(SCENARIOS / "spot.yaml"), "--format", "json", "--audit-db", db).stdout)
    decision_id = run["decisions"][0]["decision_id"]
    by_id = explained("--id", decision_id[:10], "--audit-db", db)
    by_file = explained(str(SCENARIOS / "spot.yaml"))
    assert by_id["decision_id"] == decision_id
    for key in ("recommendation", "derivation", "overridden", "why_not", "formulas"):
        assert by_id[key] == by_file[key], key


def test_explain_text_puts_the_verdict_first():
    proc = run_cli("explain", str(SCENARIOS / "fleet-busy.yaml"))
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert lines[1] == "verdict: A100 for experiments, H100 for production -> h100-80gb  [rec-default-production]"
    assert "  rec-underused-fleet (recommendation): failed context.utilization < 0.7 (fleet_utilization_floor); actual: 0.85" in lines
