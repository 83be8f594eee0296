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
    # a rule reading a derived flag that was asserted fails on its own condition, with the figure:
    # at this load H100's plan costs more a month than A100's (4 A100s against 4 H100s at 1.58x)
    assert why["factor-cost-per-token-h100"]["condition"] == "compare.h100_vs_a100.cost_ratio < 1 (cost_parity)"
    assert why["factor-cost-per-token-h100"]["actual"] > 1
    # a check reading the general answer's figures says which one
    assert why["check-general-misses-targets"]["condition"] == "general.feasible = false"
    assert why["check-general-misses-targets"]["actual"] is True


def test_the_derivation_shows_the_chain_through_a_derived_fact():
    e = explained(str(SCENARIOS / "fleet-busy.yaml"))  # optimize_for cost_per_token, resolved from the costs
    node = next(n for n in e["derivation"] if n["rule"] == "factor-cost-per-token-a100")
    assert node["facts"][0]["fact"] == "compare.h100_vs_a100.cost_ratio" and node["facts"][0]["kind"] == "computed"
    assert node["facts"][0]["value"] >= 1
    (because,) = node["because"]
    assert because["derived"] == "cost_per_token_depends_on_utilization"
    (source,) = because["asserted_by"]
    assert source["rule"] == "factor-cost-per-token"
    assert source["facts"] == [{"fact": "context.optimize_for", "value": "cost_per_token", "kind": "input"}]
    assert {"rule": "rec-default", "ruleset": "recommendation", "by": "rec-default-production"} in e["overridden"]
    # the verdict's chain: the verdict rule read a flag the check asserted from the general answer's figures
    verdict = next(n for n in e["derivation"] if n["ruleset"] == "verdict")
    (because,) = verdict["because"]
    (check,) = because["asserted_by"]
    assert check["ruleset"] == "checks" and check["facts"][0]["fact"].startswith("general.")
    assert e["verdict"]["rule"] == verdict["rule"]


def test_the_formulas_carry_the_numbers_of_the_decision():
    run = json.loads(run_cli("run", str(SCENARIOS / "fleet-underused.yaml"), "--format", "json", "--no-audit").stdout)
    plan = run["decisions"][0]["plans"]["a100-80gb"]
    e = explained(str(SCENARIOS / "fleet-underused.yaml"))
    formulas = {(f["gpu"], f["name"]): f["formula"] for f in e["formulas"]}
    # replicas x GPUs x price x 730 h, recomputed from the numbers shown, equal to the plan's figure
    replicas, gpus, price, month = re.fullmatch(
        r"(\d+) replicas? x (\d+) GPUs? x \$([\d.]+) x 730 h = \$([\d,]+)", formulas[("a100-80gb", "monthly cost")]).groups()
    assert int(replicas) == plan["replicas"] and int(gpus) == plan["gpus_per_replica"]
    assert float(price) == plan["price_usd_per_hour"]
    assert int(replicas) * int(gpus) * float(price) * 730 == float(month.replace(",", "")) == plan["monthly_cost_usd"]
    # cost per million tokens: the month over the tokens it serves
    cost, rps, tokens, result = re.match(r"\$([\d,]+) / \(([\d.]+) requests/s x 2,628,000 s x ([\d,]+) tokens\) x 1e6 = \$([\d.]+)",
                                         formulas[("a100-80gb", "cost per million tokens")]).groups()
    assert float(rps) == round(plan["load_rps"], 2)
    recomputed = float(cost.replace(",", "")) / (plan["load_rps"] * 2_628_000 * int(tokens.replace(",", ""))) * 1e6
    assert abs(recomputed - float(result)) < 0.001 and float(result) == round(plan["usd_per_million_tokens"], 3)
    # memory: 70B parameters in FP16 are 140 GB (138 GB as the catalog counts), over 4 GPUs
    assert formulas[("a100-80gb", "memory")].startswith("per GPU: 138.0 GB weights / 4 + ")
    # the pair's ratio is the two monthly costs divided
    h100 = run["decisions"][0]["plans"]["h100-80gb"]["monthly_cost_usd"]
    assert f"= {h100 / plan['monthly_cost_usd']:.3f}" in formulas[("h100 vs a100", "cost ratio")]


def test_explain_by_id_matches_explain_of_the_file(tmp_path):
    db = str(tmp_path / "audit.sqlite3")
    run = json.loads(run_cli("run", str(SCENARIOS / "spot.yaml"), "--format", "json", "--audit-db", db).stdout)
    decision_id = run["decisions"][0]["decision_id"]
    by_id = explained("--id", decision_id[:10], "--audit-db", db)
    by_file = explained(str(SCENARIOS / "spot.yaml"))
    assert by_id["decision_id"] == decision_id
    for key in ("verdict", "general_answer", "derivation", "overridden", "why_not", "formulas"):
        assert by_id[key] == by_file[key], key


def test_explain_text_puts_the_verdict_first():
    proc = run_cli("explain", str(SCENARIOS / "fleet-busy.yaml"))
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    verdict = json.loads(run_cli("run", str(SCENARIOS / "fleet-busy.yaml"), "--format", "json", "--no-audit").stdout)
    v = verdict["decisions"][0]["verdict"]
    assert lines[1].startswith(f"verdict: {v['text']}") and lines[1].endswith(f"[{v['rule']}]")
    assert lines[2].startswith("general answer: A100 for experiments, H100 for production [rec-default-production]")
    assert "  rec-underused-fleet (recommendation): failed context.utilization < 0.7 (fleet_utilization_floor); actual: 0.85" in lines
