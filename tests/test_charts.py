"""Charts: their data checked against `advisor run` and `advisor plan` on the same inputs, worked by
hand where it can be; each file a valid, non-blank image of the stated size; readable without
colour; and without matplotlib, one line saying how to install it."""

from __future__ import annotations

import json
import re
import struct

import pytest
from advisor.catalog.load import load_catalog
from advisor.decide import curves
from advisor.decide.axes import parse_axis
from advisor.decide import sweep as sweeps
from advisor.decide.facts import build
from advisor.render import charts
from advisor.scenario import files
from advisor.yamlio import dump
from conftest import FLEET_PAIR, run_cli

#: The seed's pair at an H100 price where H100 wins: the cost chart's reference is H100, as in the seed's claim.
H100_WINS = FLEET_PAIR.replace("name: fleet-pair", "name: h100-wins") + "prices: {h100-80gb: 2.2}\n"


@pytest.fixture
def advisor(advisor_instance):
    return advisor_instance


@pytest.fixture
def scenario(tmp_path):
    (tmp_path / "h100-wins.yaml").write_text(H100_WINS)
    return tmp_path / "h100-wins.yaml"


def _run(path) -> dict:
    return json.loads(run_cli("run", str(path), "--format", "json", "--no-audit").stdout)["decisions"][0]


# --- the data ----------------------------------------------------------------------------------


def test_cost_curves_pass_through_each_plan_and_break_even_where_the_facts_say(scenario, advisor):
    decided = _run(scenario)
    assert decided["verdict"]["gpu"] == "h100-80gb"
    loaded = files.first_scenario(str(scenario), advisor.catalog)
    _, made = curves.for_scenario(advisor, loaded)
    cost = made.cost
    assert cost.reference == "h100-80gb" and "h100-wins" in cost.title
    for point in cost.points:
        plan = decided["plans"][point.gpu]
        # fully busy, by hand: GPUs of a replica x price / tokens a replica serves in an hour at its capacity, per million
        by_hand = plan["gpus_per_replica"] * plan["price_usd_per_hour"] * 1e6 / (3600 * plan["capacity_rps"] * (512 + 256))
        assert point.fully_busy_usd == pytest.approx(by_hand, rel=1e-3)
        assert point.cost_at(plan["utilization_avg"]) == pytest.approx(plan["usd_per_million_tokens"], rel=1e-9)
    a100 = next(b for b in cost.break_evens if b.gpu == "a100-80gb")
    facts = build(loaded.scenario, advisor.catalog).values
    assert a100.utilization == pytest.approx(facts["compare.h100_vs_a100.a100_break_even_utilization"], rel=1e-3)
    assert a100.reachable == facts["compare.h100_vs_a100.a100_can_match"]
    assert a100.usd_per_million_tokens == decided["plans"]["h100-80gb"]["usd_per_million_tokens"]


def test_the_compare_cost_chart_breaks_even_where_compare_says(tmp_path):
    """`compare`'s break-even utilization of its baseline (A100) is where the A100 curve meets the cheapest's cost."""
    out = json.loads(run_cli("compare", "--model", "llama-3-70b", "--utilization", "0.6", "--format", "json").stdout)
    rows = {r["gpu"]: r for r in out["rows"] if r["eligible"]}
    cheapest = out["cheapest"]
    points = [curves.OperatingPoint(g, 0.6, r["cost_per_million_tokens"]) for g, r in rows.items()]
    made = curves.cost_curves(points, cheapest, "t")
    a100 = next(b for b in made.break_evens if b.gpu == "a100-80gb")
    assert a100.utilization == pytest.approx(rows[cheapest]["break_even_utilization"], rel=1e-3)


def test_the_bars_are_the_decisions_plans_cheapest_first_the_verdicts_marked(scenario, advisor):
    decided = _run(scenario)
    _, made = curves.for_scenario(advisor, files.first_scenario(str(scenario), advisor.catalog))
    feasible = sorted((p["monthly_cost_usd"], g) for g, p in decided["plans"].items() if p["feasible"])
    assert [(b.monthly_cost_usd, b.gpu) for b in made.plans.bars if b.monthly_cost_usd is not None] == feasible
    assert [b.gpu for b in made.plans.bars if b.chosen] == ["h100-80gb"]
    assert {b.gpu for b in made.plans.bars if b.monthly_cost_usd is None} == {g for g, p in decided["plans"].items() if not p["feasible"]}


def test_latency_curves_cross_the_tpot_target_where_the_plan_stops_and_carry_its_point(tmp_path):
    """Against `advisor plan`: each plan's point is its TPOT and TTFT at the peak; on each curve the
    plan's most concurrency meets the TPOT target and one more does not (unless the KV cache stops it)."""
    request_args = ("--model", "llama-3-70b", "--requests-per-s", "4", "--tpot-ms", "40")
    plans = {g["gpu"]: g["plan"] for g in json.loads(run_cli("plan", *request_args, "--format", "json").stdout)["gpus"] if g["plan"]}
    from advisor.plan.request import PlanRequest, Targets, Traffic

    catalog = load_catalog()
    request = PlanRequest(model=catalog.model("llama-3-70b"), precision="fp16", traffic=Traffic(4.0), targets=Targets(40.0))
    front = curves.latency_front(catalog, request, {g: {"feasible": True, **p} for g, p in plans.items()}, "t")
    assert front.tpot_target_ms == 40.0 and {c.gpu for c in front.curves} == set(plans)
    for curve in front.curves:
        plan = plans[curve.gpu]
        assert (curve.plan.tpot_ms, curve.plan.ttft_ms) == (plan["tpot_ms"], plan["ttft_ms"])
        by_concurrency = {p.concurrency: p for p in curve.points}
        assert by_concurrency[plan["max_concurrency"]].tpot_ms <= 40.0
        if plan["max_concurrency"] + 1 in by_concurrency:
            assert by_concurrency[plan["max_concurrency"] + 1].tpot_ms > 40.0
        speeds = [p.tokens_per_s_per_gpu for p in curve.points]
        assert speeds == sorted(speeds)
    # the front: no point of any curve has both more throughput and a lower TPOT than a point on it
    everything = [p for c in front.curves for p in c.points]
    for f in front.front:
        assert not any(p.tokens_per_s_per_gpu > f.tokens_per_s_per_gpu and p.tpot_ms < f.tpot_ms for p in everything)


def test_the_decision_map_is_runs_verdict_at_every_sampled_point(scenario, tmp_path, advisor):
    loaded = files.first_scenario(str(scenario), advisor.catalog)
    axes = [parse_axis("utilization=0.4..1:4"), parse_axis("price.h100-80gb=1.8..3.3:4")]
    made = sweeps.map_for(advisor, loaded, axes)
    spec = sweeps.of(loaded, axes, advisor.catalog)
    for i in range(0, spec.grid.size, 3):
        (tmp_path / f"p{i:02d}.yaml").write_text(dump(spec.point_data(i)))
        verdict = _run(tmp_path / f"p{i:02d}.yaml")["verdict"]
        x, y = spec.grid.coordinates(i)
        assert made.region_at(x, y).key == (verdict["id"], verdict["gpu"]), spec.point_name(i)
    assert len(made.regions) >= 3  # the 70% floor and the 115% cost gap both cross this grid
    for code, region in enumerate(made.regions):
        assert made.cells[region.at[0]][region.at[1]] == code  # each label sits inside its region
        assert region.cells == sum(column.count(code) for column in made.cells)
    assert made.marked == (0.85, 2.2) and "h100-wins" in made.title
    assert made.x_unit == "share from 0 to 1" and made.y_unit == "USD per GPU-hour"


def test_the_default_map_axes_are_around_the_scenario(scenario, advisor):
    loaded = files.first_scenario(str(scenario), advisor.catalog)
    utilization, h100 = sweeps.default_map_axes(loaded.scenario, advisor.catalog)
    assert utilization.name == "utilization" and utilization.values[0] == 0.3 and utilization.values[-1] == 1.0
    assert h100.name == "price.h100-80gb" and (h100.values[0], h100.values[-1]) == (1.1, 3.3) and len(h100.values) == 15


# --- the images ----------------------------------------------------------------------------------


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _assert_non_blank_png(path) -> None:
    from matplotlib.image import imread

    pixels = imread(str(path))[:, :, :3]
    inked = (pixels.min(axis=2) < 0.9).mean()
    assert 0.02 < inked < 0.9, inked  # something drawn, not a solid block
    assert pixels.std() > 0.05


@pytest.mark.parametrize("kind", ["cost", "plans", "latency", "map"])
def test_each_chart_is_a_valid_non_blank_png_and_svg_of_the_stated_size(scenario, tmp_path, kind):
    png, svg = tmp_path / f"{kind}.png", tmp_path / f"{kind}.svg"
    extra = ["--vary", "utilization=0.5..1:3", "--vary", "price.h100-80gb=2..3:3"] if kind == "map" else []
    for path, size in ((png, "960x600"), (svg, "800x500")):
        proc = run_cli("chart", kind, str(scenario), "-o", str(path), "--size", size, *extra)
        assert proc.returncode == 0 and proc.stdout == "", proc.stderr
        assert proc.stderr == f"advisor: {kind} chart written to {path}\n"
    assert _png_size(png.read_bytes()) == (960, 600)
    _assert_non_blank_png(png)
    text = svg.read_text()
    head = re.search(r"<svg [^>]*>", text).group(0)
    assert 'width="576pt"' in head and 'height="360pt"' in head and 'viewBox="0 0 576 360"' in head  # 8 x 5 in at 72 pt
    assert text.count("<path") > 50 and "<!-- h100-wins: " in text  # text drawn as paths (no font needed), its words kept beside


def test_sweep_and_plan_draw_their_charts_too(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(H100_WINS)
    proc = run_cli("sweep", str(scenario), "--vary", "price.h100-80gb=2..3/0.5", "--chart", str(tmp_path / "line.png"))
    assert proc.returncode == 0 and "chart written to" in proc.stderr
    assert _png_size((tmp_path / "line.png").read_bytes()) == charts.DEFAULT_SIZE
    proc = run_cli("plan", str(scenario), "--chart", str(tmp_path / "bars.svg"), "--chart", f"latency={tmp_path / 'lat.png'}")
    assert proc.returncode == 0 and (tmp_path / "bars.svg").stat().st_size > 10_000
    _assert_non_blank_png(tmp_path / "lat.png")
    proc = run_cli("compare", "--model", "llama-3-8b", "--chart", str(tmp_path / "cost.png"))
    assert proc.returncode == 0
    _assert_non_blank_png(tmp_path / "cost.png")


def test_a_chart_that_cannot_be_drawn_is_refused_before_any_work(tmp_path, scenario):
    proc = run_cli("plan", "--model", "llama-3-8b", "--chart", str(tmp_path / "x.jpg"))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [f"advisor: error: cannot draw {tmp_path / 'x.jpg'}: a chart is written as .svg or .png "
                                        "(name the file chart.svg or chart.png)"]
    proc = run_cli("sweep", str(scenario), "--vary", "utilization=0.5,0.6", "--vary", "price.h100-80gb=2,3", "--vary",
                   "stage=production,experimentation", "--chart", str(tmp_path / "x.svg"))
    assert proc.returncode == 2 and proc.stdout == "" and "--chart draws a sweep of one or two axes; this one has 3" in proc.stderr
    proc = run_cli("plan", "--model", "llama-3-8b", "--chart", "speed=x.svg")
    assert proc.returncode == 2 and "'speed' is not a chart of this command (one of plans, cost, latency)" in proc.stderr


# --- readable without colour ----------------------------------------------------------------------


def test_every_gpu_has_its_own_marker_and_line_style_and_the_palette_is_colour_blind_safe():
    gpus = list(load_catalog().gpus)
    styles = charts.Styles(gpus)
    shapes = {(styles.of(g)["marker"], str(styles.of(g)["linestyle"])) for g in gpus}
    assert len(shapes) == len(gpus)  # told apart in black and white
    assert charts.PALETTE[:7] == ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")  # Okabe-Ito
    assert len(set(charts.HATCHES)) == len(charts.HATCHES)  # map regions hatched as well as coloured


# --- without the extra ------------------------------------------------------------------------------


def test_without_matplotlib_a_chart_is_one_line_saying_how_to_install_it_and_the_rest_works(tmp_path, scenario):
    blocker = tmp_path / "blocked" / "matplotlib"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('matplotlib is not installed')\n")
    env = {"PYTHONPATH": str(tmp_path / "blocked")}
    proc = run_cli("plan", "--model", "llama-3-8b", "--chart", str(tmp_path / "x.svg"), env=env)
    assert proc.returncode == 2 and proc.stdout == "" and not (tmp_path / "x.svg").exists()
    assert proc.stderr.splitlines() == ["advisor: error: charts need matplotlib, an optional extra: pip install 'advisor[charts]'"]
    proc = run_cli("chart", "cost", str(scenario), "-o", str(tmp_path / "y.png"), env=env)
    assert proc.returncode == 2 and "pip install 'advisor[charts]'" in proc.stderr
    proc = run_cli("plan", "--model", "llama-3-8b", env=env)  # charts are loaded only when asked for
    assert proc.returncode == 0 and "monthly cost of each GPU's plan" in proc.stdout


# --- the text bars ------------------------------------------------------------------------------


def test_compare_and_plan_show_a_text_bar_of_cost_per_gpu():
    out = run_cli("plan", "--model", "llama-3-70b", "--tokens-per-day", "1e9").stdout
    block = out.split("monthly cost of each GPU's plan (* the cheapest)\n")[1].splitlines()
    costs = [float(line.rsplit("$", 1)[1].replace(",", "")) for line in block]
    lengths = [line.count("█") for line in block]
    assert block[0].startswith("  * ") and costs == sorted(costs)
    assert lengths == sorted(lengths) and lengths[-1] == max(lengths) > lengths[0]
    plans = json.loads(run_cli("plan", "--model", "llama-3-70b", "--tokens-per-day", "1e9", "--format", "json").stdout)
    assert costs == sorted(round(g["plan"]["monthly_cost_usd"]) for g in plans["gpus"] if g["plan"])
    out = run_cli("compare", "--model", "llama-3-70b").stdout
    assert "cost per million tokens (* the cheapest)" in out and "█" in out
