"""What each chart shows, as numbers: computed here, drawn by ``render.charts``, checked by tests.

- cost per million tokens against utilization (the seed's "cost per token depends on
  utilization"): a deployment busy ``u`` of its paid hours costs ``c1 / u`` per token, where ``c1``
  is its cost per token fully busy; the break-even of a GPU is the utilization at which its curve
  meets the chosen GPU's cost at that GPU's own utilization;
- the decision map: which verdict each point of a two-axis sweep gets, and where to label each region;
- latency against throughput as concurrency grows, per GPU, with the Pareto front and the targets;
- the plans of one decision as bars of monthly cost.

Plans come as records (``Plan.to_json()``, or a decision's ``plans``), so a decision read back
from the audit store draws the same charts.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from typing import Optional, Sequence

from ..catalog.load import Catalog
from ..defaults import A100, H100
from ..perf.serving import Replica
from ..plan.request import PlanRequest


@dataclass(frozen=True)
class PairFigures:
    """The seed's pair at the same traffic, from their plans: which is cheaper per token, and where they break even."""

    cheaper: str  # the A100 at parity, as the rules' cost_parity reads a ratio of 1
    cost_ratio: float  # H100 plan's monthly cost / A100 plan's
    break_even_price_usd_per_hour: float  # the H100 price at which its plan costs what the A100 plan does
    a100_break_even_utilization: float  # how busy the A100s must be to match H100 per token


def pair_figures(plans: dict) -> Optional[PairFigures]:
    """From plan records (a decision's ``plans``); None unless both of the pair have a plan.
    The same formulas as the decision's ``compare.h100_vs_a100.*`` facts."""
    a, h = plans.get(A100) or {}, plans.get(H100) or {}
    if not (a.get("feasible") and h.get("feasible")):
        return None
    ratio = h["monthly_cost_usd"] / a["monthly_cost_usd"]
    return PairFigures(H100 if ratio < 1 else A100, ratio, h["price_usd_per_hour"] / ratio,
                       a["utilization_avg"] * a["usd_per_million_tokens"] / h["usd_per_million_tokens"])


def workload_text(request: PlanRequest, load_rps: Optional[float] = None) -> str:
    """A plan request in a chart's subtitle: model, precision, tokens, load (the plans' when the
    request states none) and targets."""
    load = request.traffic.requests_per_s or load_rps
    return (f"{request.model.name} · {request.precision} · {request.prompt_tokens} prompt / {request.output_tokens} output tokens"
            + (f" · {load:,.2f} requests/s" if load is not None else "")
            + f" · TPOT ≤ {request.targets.tpot_ms:g} ms, TTFT ≤ {request.targets.ttft_ms:g} ms")


# --- cost per million tokens against utilization ---------------------------------------------------


@dataclass(frozen=True)
class OperatingPoint:
    """A GPU's deployment as planned: how busy it is and what a million tokens cost there."""

    gpu: str
    utilization: float
    usd_per_million_tokens: float

    @property
    def fully_busy_usd(self) -> float:
        """Its cost per million tokens busy all its paid hours: cost x utilization."""
        return self.usd_per_million_tokens * self.utilization

    def cost_at(self, utilization: float) -> float:
        return self.fully_busy_usd / utilization


@dataclass(frozen=True)
class BreakEven:
    """Where a GPU's curve meets the reference GPU's cost at the reference's own utilization."""

    gpu: str
    utilization: float  # how busy ``gpu`` must be to cost what the reference costs
    usd_per_million_tokens: float  # the reference's cost
    reachable: bool  # at most fully busy


@dataclass(frozen=True)
class CostCurves:
    title: str
    subtitle: str
    points: tuple  # OperatingPoint per GPU
    reference: str  # the chosen GPU
    break_evens: tuple  # BreakEven per other GPU
    utilizations: tuple  # where the curves are drawn

    def curve(self, gpu: str) -> list[tuple[float, float]]:
        point = next(p for p in self.points if p.gpu == gpu)
        return [(u, point.cost_at(u)) for u in self.utilizations]


LOWEST_UTILIZATION = 0.1  # below this every curve runs off the chart


def cost_curves(points: Sequence[OperatingPoint], reference: str, title: str, subtitle: str = "", samples: int = 91) -> CostCurves:
    """Every GPU's cost against its utilization, and each one's break-even with ``reference``."""
    ref = next(p for p in points if p.gpu == reference)
    evens = tuple(BreakEven(p.gpu, p.fully_busy_usd / ref.usd_per_million_tokens, ref.usd_per_million_tokens,
                            p.fully_busy_usd <= ref.usd_per_million_tokens) for p in points if p.gpu != reference)
    step = (1 - LOWEST_UTILIZATION) / (samples - 1)
    return CostCurves(title, subtitle, tuple(points), reference, evens, tuple(LOWEST_UTILIZATION + i * step for i in range(samples)))


def operating_points(plans: dict) -> list[OperatingPoint]:
    """The planned deployment of every GPU with a plan (records: ``Plan.to_json()`` or a decision's ``plans``)."""
    return [OperatingPoint(gpu, p["utilization_avg"], p["usd_per_million_tokens"]) for gpu, p in plans.items() if p.get("feasible")]


# --- plans as bars -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    gpu: str
    monthly_cost_usd: Optional[float]  # None: no plan
    chosen: bool
    note: str  # the plan's shape, or why there is none


@dataclass(frozen=True)
class PlanBars:
    title: str
    subtitle: str
    bars: tuple  # cheapest first, then the GPUs without a plan


def plan_bars(plans: dict, chosen: set, title: str, subtitle: str = "") -> PlanBars:
    """Monthly cost of every GPU's plan, cheapest first, the chosen GPU(s) marked."""
    bars = [Bar(gpu, p["monthly_cost_usd"], gpu in chosen, f"{p['gpus_per_replica']} x {p['replicas']} {p['precision']}")
            for gpu, p in plans.items() if p.get("feasible")]
    bars.sort(key=lambda b: b.monthly_cost_usd)
    bars += [Bar(gpu, None, gpu in chosen, p.get("reason") or "no plan") for gpu, p in plans.items() if not p.get("feasible")]
    return PlanBars(title, subtitle, tuple(bars))


# --- latency against throughput -------------------------------------------------------------------


@dataclass(frozen=True)
class LatencyPoint:
    concurrency: float
    tokens_per_s_per_gpu: float  # output tokens
    tpot_ms: float
    ttft_ms: float  # at the load this concurrency carries (infinite when prompts queue without end)


@dataclass(frozen=True)
class LatencyCurve:
    """One GPU's replica (its plan's precision and tensor-parallel size) as concurrency grows."""

    gpu: str
    precision: str
    gpus_per_replica: int
    points: tuple  # LatencyPoint, concurrency rising
    plan: LatencyPoint  # where the plan runs at the peak load
    max_concurrency: int  # the most its plan allows (the TPOT target, the KV cache)


@dataclass(frozen=True)
class LatencyFront:
    title: str
    subtitle: str
    curves: tuple
    front: tuple  # LatencyPoint of any GPU that no other beats on both throughput and TPOT, throughput rising
    front_gpus: tuple  # the GPU of each point of the front
    tpot_target_ms: float
    ttft_target_ms: float


def _concurrencies(most: int, samples: int) -> list[int]:
    """1 to ``most``, denser where the curve bends (low concurrency): geometric steps, every integer hit once."""
    if most <= samples:
        return list(range(1, most + 1))
    ratio = most ** (1 / (samples - 1))
    return sorted({max(1, min(most, round(ratio ** i))) for i in range(samples)} | {most})


def latency_front(catalog: Catalog, request: PlanRequest, plans: dict, title: str, subtitle: str = "", samples: int = 40) -> LatencyFront:
    """Every GPU with a plan: TPOT and TTFT against output tokens/s per GPU, concurrency 1 to the
    most its KV cache holds; the plan's own point; the Pareto front over all of them."""
    curves = []
    for gpu_id, p in plans.items():
        if not p.get("feasible"):
            continue
        replica = Replica(catalog.gpu(gpu_id), request.model, p["precision"], p["kv_precision"], p["gpus_per_replica"],
                          catalog.efficiency, request.prompt_tokens, request.output_tokens)
        at = lambda b: _latency_point(replica, b)  # noqa: E731
        most = replica.max_sequences()
        # the plan's most concurrency and one more: where the TPOT target is crossed
        shown = sorted(set(_concurrencies(most, samples)) | {c for c in (p["max_concurrency"], p["max_concurrency"] + 1) if c <= most})
        points = tuple(at(b) for b in shown)
        planned = LatencyPoint(p["concurrency"], replica.tokens_per_s(p["concurrency"]) / replica.tp, p["tpot_ms"], p["ttft_ms"])
        curves.append(LatencyCurve(gpu_id, p["precision"], p["gpus_per_replica"], points, planned, p["max_concurrency"]))
    everything = sorted(((pt, c.gpu) for c in curves for pt in c.points), key=lambda item: (-item[0].tokens_per_s_per_gpu, item[0].tpot_ms))
    front, best_tpot = [], math.inf
    for pt, gpu in everything:  # fastest first: a point is on the front when its TPOT beats every faster point's
        if pt.tpot_ms < best_tpot:
            front.append((pt, gpu))
            best_tpot = pt.tpot_ms
    front.reverse()
    return LatencyFront(title, subtitle, tuple(curves), tuple(pt for pt, _ in front), tuple(g for _, g in front),
                        request.targets.tpot_ms, request.targets.ttft_ms)


def _latency_point(replica: Replica, concurrency: int) -> LatencyPoint:
    """At a concurrency, in the steady state: the load it carries is its capacity there."""
    return LatencyPoint(concurrency, replica.tokens_per_s(concurrency) / replica.tp, replica.tpot_s(concurrency) * 1e3,
                        replica.ttft_s(concurrency, replica.capacity_rps(concurrency)) * 1e3)


# --- the charts of one decision --------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionCharts:
    cost: Optional[CostCurves]  # None: no GPU has a plan
    plans: PlanBars
    latency: LatencyFront


def decision_charts(name: str, plans: dict, chosen: set, request: PlanRequest, catalog: Catalog) -> DecisionCharts:
    """The charts of one decision (or one ``advisor plan``): ``plans`` are records, ``chosen`` the
    GPUs the verdict deploys (the cost curves' reference: the first with a plan, else the cheapest per token)."""
    points = operating_points(plans)
    load = next((p["load_rps"] for p in plans.values() if p.get("feasible")), None)
    subtitle = workload_text(request, load)
    ours = [p for p in points if p.gpu in chosen] or sorted(points, key=lambda p: p.usd_per_million_tokens)
    cost = cost_curves(points, ours[0].gpu, f"{name}: cost per million tokens against utilization", subtitle) if ours else None
    return DecisionCharts(cost, plan_bars(plans, chosen, f"{name}: monthly cost of each GPU's plan", subtitle),
                          latency_front(catalog, request, plans, f"{name}: latency against throughput as concurrency grows", subtitle))


def for_scenario(advisor, loaded) -> tuple:
    """A scenario as read, decided as `advisor run` decides it, and the charts of its decision:
    (the decision, its ``DecisionCharts``); an InputError when it cannot be decided."""
    from ..errors import InputError
    from .batch import Failure, decide_loaded
    from .workload import plan_request

    decision = decide_loaded(advisor, loaded)
    if isinstance(decision, Failure):
        raise InputError(decision.message)
    chosen = set(decision.verdict.gpu.split("+")) if decision.verdict else set()
    request = plan_request(loaded.scenario, advisor.catalog)
    return decision, decision_charts(decision.scenario, decision.plans, chosen, request, advisor.catalog)


# --- charts of a sweep ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AxisView:
    """A sweep axis as a chart shows it: its name, unit, values and how each reads."""

    name: str
    unit: Optional[str]
    values: tuple
    texts: tuple
    numeric: bool


@dataclass(frozen=True)
class SweepLine:
    """A one-axis sweep: each GPU's cost per million tokens along the axis, the verdict's GPU at each point, where it changes."""

    title: str
    subtitle: str
    x_name: str
    x_unit: Optional[str]
    x_values: tuple
    x_texts: tuple
    numeric: bool
    series: tuple  # (gpu, (USD per million tokens or None, ...)) per GPU with a plan somewhere
    chosen: tuple  # the verdict's (first) GPU at each point; None where the point was invalid
    changes: tuple  # (x, label): where the verdict changes, and to what
    marked: object  # the scenario's own value on the axis


class LineBuilder:
    """A one-axis sweep's chart, filled as its points arrive."""

    def __init__(self, count: int):
        self.costs: dict[str, list] = {}
        self.count = count
        self.chosen: list = [None] * count
        self.keys: list = [None] * count

    def add(self, index: int, gpu: Optional[str], key: Optional[tuple], costs: tuple) -> None:
        """Point ``index``: the verdict's first GPU and key (None: invalid) and the (gpu, monthly, per million) of each plan."""
        self.chosen[index], self.keys[index] = gpu, key
        for plan_gpu, _, per_million in costs:
            self.costs.setdefault(plan_gpu, [None] * self.count)[index] = per_million

    def build(self, title: str, subtitle: str, x: AxisView, marked=None, located: dict = None) -> SweepLine:
        """``located``: for a change between points i-1 and i, where it was found to lie (else midway)."""
        changes = []
        for i in range(1, self.count):
            before, after = self.keys[i - 1], self.keys[i]
            if before is not None and after is not None and before != after:
                midway = (x.values[i - 1] + x.values[i]) / 2 if x.numeric else i - 0.5
                changes.append(((located or {}).get(i, midway), f"{after[0]} ({after[1]})"))
        return SweepLine(title, subtitle, x.name, x.unit, x.values, x.texts, x.numeric, tuple((g, tuple(c)) for g, c in self.costs.items()),
                         tuple(self.chosen), tuple(changes), marked)


# --- the decision map ----------------------------------------------------------------------------

NO_VERDICT = -1  # a cell whose point was invalid


@dataclass(frozen=True)
class Region:
    key: tuple  # (verdict id, GPU)
    label: str
    cells: int
    at: tuple  # (x index, y index) of the cell where its label goes: inside the region, near its middle


@dataclass(frozen=True)
class DecisionMap:
    title: str
    subtitle: str
    x_name: str
    y_name: str
    x_unit: Optional[str]
    y_unit: Optional[str]
    x_values: tuple
    y_values: tuple
    x_texts: tuple  # how each value reads (with its unit)
    y_texts: tuple
    cells: tuple  # per x index, per y index: the region's number, or NO_VERDICT
    regions: tuple
    marked: Optional[tuple]  # the scenario's own (x, y) values, when it has them

    def region_at(self, x: int, y: int) -> Optional[Region]:
        code = self.cells[x][y]
        return None if code == NO_VERDICT else self.regions[code]


class MapBuilder:
    """The map's cells, filled as a two-axis sweep's points arrive (two bytes a point)."""

    def __init__(self, x_count: int, y_count: int):
        self.x_count, self.y_count = x_count, y_count
        self.codes = array("h", [NO_VERDICT]) * (x_count * y_count)
        self.keys: dict[tuple, int] = {}
        self.texts: dict[tuple, str] = {}

    def add(self, index: int, key: Optional[tuple], label: str = "") -> None:
        """Point ``index`` (x outer, y inner, as a sweep numbers them) got verdict ``key`` (None: invalid)."""
        if key is None:
            return
        if key not in self.keys:
            self.keys[key] = len(self.keys)
            self.texts[key] = label
        self.codes[index] = self.keys[key]

    def build(self, title: str, subtitle: str, x: "AxisView", y: "AxisView", marked: Optional[tuple] = None) -> DecisionMap:
        cells = tuple(tuple(self.codes[i * self.y_count:(i + 1) * self.y_count]) for i in range(self.x_count))
        regions = tuple(Region(key, self.texts[key], *_label_cell(cells, code)) for key, code in self.keys.items())
        return DecisionMap(title, subtitle, x.name, y.name, x.unit, y.unit, x.values, y.values, x.texts, y.texts, cells, regions, marked)


def _label_cell(cells: tuple, code: int) -> tuple[int, tuple]:
    """How many cells a region has, and the one of them nearest its centre of mass (always inside it)."""
    mine = [(x, y) for x, column in enumerate(cells) for y, c in enumerate(column) if c == code]
    cx, cy = sum(x for x, _ in mine) / len(mine), sum(y for _, y in mine) / len(mine)
    return len(mine), min(mine, key=lambda xy: ((xy[0] - cx) ** 2 + (xy[1] - cy) ** 2, xy))
