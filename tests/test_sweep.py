"""`advisor sweep`: a grid of one scenario, each point decided as `advisor run` decides a file, and
where the verdict changes, checked against the break-even figures of the plans on either side."""

from __future__ import annotations

import csv
import io
import json

import pytest
from advisor.decide.axes import parse_axis
from advisor.decide import sweep as sweeps
from advisor.yamlio import dump
from conftest import FLEET_PAIR as PAIR
from conftest import run_cli


@pytest.fixture
def advisor(advisor_instance):
    return advisor_instance


@pytest.fixture
def pair(tmp_path):
    path = tmp_path / "pair.yaml"
    path.write_text(PAIR)
    return path


def _jsonl(proc) -> list[dict]:
    assert proc.returncode in (0, 1), proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


# --- axes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec, name, path, values", [
    ("utilization=0.3..0.5/0.05", "utilization", ("context", "utilization"), (0.3, 0.35, 0.4, 0.45, 0.5)),
    ("utilization=30%..50%/10%", "utilization", ("context", "utilization"), (0.3, 0.4, 0.5)),
    ("price.h100-80gb=$2..$3/0.25", "price.h100-80gb", ("prices", "h100-80gb"), (2.0, 2.25, 2.5, 2.75, 3.0)),
    ("tokens_per_day=1e8..1e10:3:log", "tokens_per_day", ("workload", "tokens_per_day"), (1e8, 1e9, 1e10)),
    ("tokens_per_day=100M,1B", "tokens_per_day", ("workload", "tokens_per_day"), (1e8, 1e9)),
    ("prompt_tokens=1k..2k:3", "prompt_tokens", ("workload", "prompt_tokens"), (1000, 1500, 2000)),
    ("model=llama-3-8b,llama-3-70b", "model", ("workload", "model"), ("llama-3-8b", "llama-3-70b")),
    ("context.can_use_spot=false,true", "context.can_use_spot", ("context", "can_use_spot"), (False, True)),
    ("gpus=a100-80gb+h100-80gb,h100-80gb", "gpus", ("context", "gpus"), (("a100-80gb", "h100-80gb"), ("h100-80gb",))),
    ("spot_price.h100-80gb=1..2/0.5", "spot_price.h100-80gb", ("spot_prices", "h100-80gb"), (1.0, 1.5, 2.0)),
])
def test_an_axis_reads_lists_ranges_and_amounts_as_scenario_files_do(spec, name, path, values):
    axis = parse_axis(spec)
    assert (axis.name, axis.path, axis.values) == (name, path, values)
    assert all(type(v) is type(values[0]) for v in axis.values)  # whole-number fields get ints, as the strict model wants


@pytest.mark.parametrize("spec, message", [
    ("utilisation=0.3..1/0.1", "--vary utilisation: not a field of a scenario (did you mean utilization"),
    ("utilization", "--vary 'utilization': expected AXIS=VALUES"),
    ("utilization=1..0.3/0.1", "--vary utilization: a range goes up: 1..0.3"),
    ("utilization=0.3..1/0", "--vary utilization: the step must be greater than 0"),
    ("utilization=0.3..1", "--vary utilization: a range needs a step (/STEP) or a number of values (:N)"),
    ("utilization=0.3..1/25ms", "--vary utilization: '25ms' is not a share (it reads as a time)"),
    ("prompt_tokens=100.5,200", "--vary prompt_tokens=100.5: this field takes whole numbers"),
    ("model=a..b/1", "--vary model: a range needs a number field"),
    ("utilization=0.3,0.3", "--vary utilization: the value 0.3 is given twice"),
    ("tokens_per_day=0..1e9:3:log", "--vary tokens_per_day: a log range starts above 0"),
])
def test_a_bad_axis_is_one_sentence_naming_it_exit_2(pair, spec, message):
    proc = run_cli("sweep", str(pair), "--vary", spec)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr


def test_a_grid_numbers_its_points_first_axis_slowest():
    grid = sweeps.Grid((parse_axis("utilization=0.3,0.5,0.7"), parse_axis("price.h100-80gb=2,3")))
    assert grid.size == 6 and grid.strides == (2, 1)
    assert [grid.values_at(i) for i in range(6)] == [(0.3, 2.0), (0.3, 3.0), (0.5, 2.0), (0.5, 3.0), (0.7, 2.0), (0.7, 3.0)]


def test_the_same_field_twice_is_refused():
    with pytest.raises(Exception, match="varied twice"):
        sweeps.Grid((parse_axis("utilization=0.3,0.5"), parse_axis("context.utilization=0.6,0.7")))


# --- the same path as `advisor run` --------------------------------------------------------------


def _comparable(decision: dict) -> dict:
    return {k: v for k, v in decision.items() if k not in ("decision_id", "source")}


def test_sampled_points_decide_exactly_as_run_decides_them_written_as_files(pair, tmp_path, advisor):
    """Every fourth point of a two-axis sweep, written as a scenario file and decided by `advisor run`,
    is the same decision as the sweep's (the rules fired, the facts, the plans, the verdict; all but the id)."""
    axes = [parse_axis("utilization=0.5..0.9/0.1"), parse_axis("price.h100-80gb=2..4/0.5")]
    spec = sweeps.read(str(pair), axes, advisor.catalog)
    sample = range(0, spec.grid.size, 4)
    for i in sample:
        (tmp_path / f"p{i:03d}.yaml").write_text(dump(spec.point_data(i)))
    run = json.loads(run_cli("run", *[str(tmp_path / f"p{i:03d}.yaml") for i in sample], "--format", "json", "--no-audit").stdout)
    assert run["errors"] == [] and len(run["decisions"]) == len(sample)
    points = {p["point"]: p for p in _jsonl(run_cli("sweep", str(pair), "--vary", "utilization=0.5..0.9/0.1", "--vary",
                                                    "price.h100-80gb=2..4/0.5", "--format", "jsonl")) if p["kind"] == "point"}
    for i, decided in zip(sample, run["decisions"]):
        assert _comparable(spec.decide(advisor, i).to_json()) == _comparable(decided)
        point = points[i]
        verdict_plan = decided["verdict"]["plans"][decided["verdict"]["gpu"]]
        assert (point["verdict"]["id"], point["verdict"]["gpu"]) == (decided["verdict"]["id"], decided["verdict"]["gpu"])
        assert point["monthly_cost_usd"] == verdict_plan["monthly_cost_usd"]
        assert point["plans"] == {g: {"monthly_cost_usd": p["monthly_cost_usd"], "usd_per_million_tokens": p["usd_per_million_tokens"]}
                                  for g, p in decided["plans"].items() if p["feasible"]}


def test_csv_has_a_row_per_point_and_jobs_do_not_change_it(pair):
    args = ("sweep", str(pair), "--vary", "utilization=0.3..1/0.1", "--vary", "price.h100-80gb=2..5/1", "--format", "csv")
    one, two = run_cli(*args), run_cli(*args, "--jobs", "2")
    assert one.returncode == two.returncode == 0, one.stderr + two.stderr
    rows = list(csv.DictReader(io.StringIO(one.stdout)))
    assert len(rows) == 8 * 4 and [int(r["point"]) for r in rows] == list(range(32))
    assert rows[0]["utilization"] == "0.3" and rows[0]["price.h100-80gb"] == "2.0"
    without_ids = lambda text: [r[:-1] for r in csv.reader(io.StringIO(text))]  # noqa: E731 - the decision id differs
    assert without_ids(one.stdout) == without_ids(two.stdout)
    assert "where the verdict changes" in one.stderr  # the summary is a message beside CSV data


def test_the_audit_is_off_by_default_and_on_with_a_flag(pair, tmp_path):
    store = tmp_path / "audit.sqlite3"
    args = ("sweep", str(pair), "--vary", "utilization=0.5,0.8", "--format", "jsonl", "--audit-db", str(store))
    for off in ((), ("--no-audit",)):  # --no-audit, as `advisor run` takes it, says the default
        unrecorded = [p["decision_id"] for p in _jsonl(run_cli(*args, *off)) if p["kind"] == "point"]
        assert not store.exists() and unrecorded == [None, None]  # no id that nothing holds
    ids = [p["decision_id"] for p in _jsonl(run_cli(*args, "--audit")) if p["kind"] == "point"]
    listed = json.loads(run_cli("audit", "list", "--audit-db", str(store), "--format", "json").stdout)
    assert sorted(r["decision_id"] for r in listed["decisions"]) == sorted(ids)


# --- invalid points --------------------------------------------------------------------------------


def test_an_invalid_value_is_said_once_and_the_good_points_are_still_decided(pair):
    proc = run_cli("sweep", str(pair), "--vary", "utilization=0.5,1.5,0.8", "--vary", "price.h100-80gb=2,3", "--format", "jsonl")
    assert proc.returncode == 1
    lines = _jsonl(proc)
    assert [line["point"] for line in lines if line["kind"] == "point"] == [0, 1, 4, 5]
    invalid = [line for line in lines if line["kind"] == "invalid"]
    assert [line["point"] for line in invalid] == [2, 3]
    assert f"{pair}: scenario fleet-pair [utilization=150% price.h100-80gb=$2.00]: context.utilization: " \
           "Input should be less than or equal to 1" in invalid[0]["message"]
    assert ("every point with utilization=150% is invalid (2 points): " in proc.stderr
            and "4 of 6 points decided, 2 invalid" in proc.stderr), proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_scenario_file_that_is_not_valid_stops_before_any_point(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("context:\n  utilisation: 0.5\n")
    proc = run_cli("sweep", str(bad), "--vary", "utilization=0.5,0.6")
    assert proc.returncode == 1 and proc.stdout == ""
    assert f"{bad}:2: scenario bad: context.utilisation: unknown key" in proc.stderr


# --- where the verdict changes ---------------------------------------------------------------------


def _plans(pair, price: float) -> dict:
    """The plans of the scenario's decision by `advisor run`, at one H100 price."""
    priced = pair.with_name("priced.yaml")
    priced.write_text(PAIR + f"prices: {{h100-80gb: {price}}}\n")
    return json.loads(run_cli("run", str(priced), "--format", "json", "--no-audit").stdout)["decisions"][0]["plans"]


def test_the_boundaries_agree_with_the_break_even_figures_of_the_plans_on_either_side(pair):
    """Along the H100 price, at 85% utilization (the general answer: H100 in production):
    - the cheaper per token of the pair changes where the H100 plan costs what the A100 plan does:
      p = A100 monthly / (H100 GPUs x 730 h), the break-even price both sides' figures give;
    - the verdict changes where the H100 plan costs 115% of the A100 plan (the rules' material gap):
      p = 1.15 x that break-even price.
    Worked from `advisor run` at one price: the plans' shapes do not change with the price."""
    plans = _plans(pair, 3.0)
    a100, h100 = plans["a100-80gb"], plans["h100-80gb"]
    break_even = a100["monthly_cost_usd"] / (h100["total_gpus"] * 730)
    proc = run_cli("sweep", str(pair), "--vary", "price.h100-80gb=1.95..3.75/0.3", "--format", "jsonl")
    summary = _jsonl(proc)[-1]
    assert summary["kind"] == "summary" and summary["invalid"] == 0
    by_change = {(b["change"], b["axis"]): b for b in summary["boundaries"]}
    pair_change = by_change[(sweeps.PAIR_CHANGE, "price.h100-80gb")]
    assert (pair_change["from"], pair_change["to"]) == ("h100-80gb", "a100-80gb")
    low, high = pair_change["between"]
    assert low < break_even < high
    assert pair_change["located"][0] <= break_even <= pair_change["located"][1] and pair_change["located"][1] - pair_change["located"][0] < 0.001
    for side in ("before", "after"):  # both decisions' figures put the break-even at the same price
        assert pair_change["pair"][side]["h100_break_even_usd_per_hour"] == pytest.approx(break_even, rel=1e-4)
    verdict = by_change[(sweeps.VERDICT_CHANGE, "price.h100-80gb")]
    assert (verdict["from"], verdict["to"]) == (["general-holds", "h100-80gb"], ["cheaper-plan", "a100-80gb"])
    assert verdict["located"][0] <= 1.15 * break_even <= verdict["located"][1]
    assert verdict["causes"] == [{"rule": "check-general-costs-more", "condition": "general.cost_over_best > 1.15 (material_cost_gap)",
                                  "fact": "general.cost_over_best", "before": pytest.approx(verdict["causes"][0]["before"]),
                                  "after": pytest.approx(verdict["causes"][0]["after"])}]
    assert verdict["causes"][0]["before"] <= 1.15 < verdict["causes"][0]["after"]


def test_the_utilization_boundary_is_the_seeds_70_percent_floor(pair):
    proc = run_cli("sweep", str(pair), "--vary", "utilization=0.5..0.9/0.1", "--vary", "price.h100-80gb=3")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.split("where the verdict changes")[1]
    assert ("utilization: general-holds (a100-80gb) -> cheaper-plan (a100-80gb) between 60% and 70%" in text
            and "changes at 70% at price.h100-80gb=$3.00" in text
            and "why: context.utilization < 0.7 (fleet_utilization_floor) [rec-underused-fleet]: 0.6 before, 0.7 after" in text), text


def test_the_finder_keeps_only_the_slice_of_the_grid_a_neighbour_lies_in():
    grid = sweeps.Grid((parse_axis("utilization=0.1..1/0.1"), parse_axis("price.h100-80gb=1..2/0.1")))
    finder = sweeps.BoundaryFinder(grid)
    point = lambda i, verdict: sweeps.Point(i, verdict, "a100-80gb", "", "", True, None, (), None, "")  # noqa: E731
    found = []
    for i in range(grid.size):
        found += finder.add(i, point(i, "x" if grid.values_at(i)[1] < 1.5 else "y"))
        assert len(finder.window) <= grid.strides[0]
    assert len(found) == 10 and all(b.axis == 1 for b in found)
    assert {grid.values_at(b.after.index)[1] for b in found} == {1.5}
