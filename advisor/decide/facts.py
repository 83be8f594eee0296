"""Facts: the flat, typed view of a scenario and its computed figures that rules read.

``schema(catalog)`` is this product's fact table: every name a rule may mention, its type and
where it comes from. The rules checker validates rule files against it, and ``build`` produces
values that conform to it (so nothing unvalidated ever reaches the engine).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Optional, get_args

from ..catalog.load import Catalog
from ..catalog.precisions import PRECISIONS
from ..defaults import A100, H100
from ..perf import memory, pricing
from ..perf.deployment import Estimate, Working, Workload, cost_working, estimate
from ..rules.schema import FactSpec
from ..scenario.spec import OptimizeFor, Scenario, Stage
from .workload import model_of

SECONDS_PER_DAY = 86_400
# The figures the cost model gives each GPU that rules may read, as cost.<gpu>.<name>.
COST_FIGURES = (
    ("fits", "bool", "the workload fits one deployment of this GPU"),
    ("price_usd_per_hour", "number", "USD per GPU-hour (scenario prices, else the catalog)"),
    ("gpus", "number", "GPUs per deployment (tensor parallel)"),
    ("replicas", "number", "deployments needed for tokens_per_day"),
    ("utilization", "number", "utilization the cost assumes"),
    ("cost_per_million_tokens", "number", "USD per million generated tokens"),
    ("monthly_cost_usd", "number", "USD a month for all replicas"),
    ("decode_ms_per_token", "number", "per-stream latency of one generated token"),
    ("tokens_per_s_per_gpu", "number", "generated tokens per second per GPU"),
    ("ttft_ms", "number", "time to first token"),
    ("prefill_share", "number", "share of GPU time spent in prefill"),
    ("meets_latency", "bool", "decode_ms_per_token within max_ms_per_token"),
)
COST_FACTS = frozenset(name for name, _, _ in COST_FIGURES)


def _schema(catalog_gpus) -> dict[str, FactSpec]:
    specs = [
        FactSpec("context.starting_fresh", "bool", "a new deployment", optional=False),
        FactSpec("context.can_afford_h100", "bool", "an H100 deployment fits the budget (given, or derived from monthly_budget_usd)"),
        FactSpec("context.monthly_budget_usd", "number", "GPU budget per month, USD"),
        FactSpec("context.have_a100_fleet", "bool", "an existing A100 fleet", optional=False),
        FactSpec("context.utilization", "number", "busy share of the A100 fleet's hours"),
        FactSpec("context.can_use_spot", "bool", "spot capacity acceptable", optional=False),
        FactSpec("context.using_fp8", "bool", "serving with FP8 weights", optional=False),
        FactSpec("context.optimize_for", "enum", "what matters most", values=get_args(OptimizeFor)),
        FactSpec("context.stage", "enum", "experimentation or production", values=get_args(Stage)),
        FactSpec("context.h100_wait_weeks", "number", "weeks to get H100 capacity"),
        FactSpec("workload.model", "string", "model id", optional=False),
        FactSpec("workload.precision", "enum", "weight precision", values=PRECISIONS, optional=False),
        FactSpec("workload.batch", "number", "concurrent sequences per deployment", optional=False),
        FactSpec("workload.prompt_tokens", "number", "prompt length", optional=False),
        FactSpec("workload.output_tokens", "number", "generated tokens per request", optional=False),
        FactSpec("workload.tokens_per_day", "number", "generated tokens a day"),
        FactSpec("workload.max_ms_per_token", "number", "latency target, ms per generated token"),
        FactSpec("workload.weights_gb", "number", "weight memory at the chosen precision", optional=False),
        FactSpec("compare.h100_vs_a100.cost_ratio", "number", "H100 cost per token / A100 cost per token"),
        FactSpec("compare.h100_vs_a100.speedup", "number", "A100 ms per token / H100 ms per token"),
        FactSpec("compare.h100_vs_a100.break_even_price_usd_per_hour", "number", "H100 hourly price at which it costs what A100 does per token"),
        FactSpec("compare.h100_vs_a100.a100_break_even_utilization", "number", "A100 utilization needed to match H100's cost per token"),
    ]
    specs += [FactSpec(f"cost.{gpu}.{name}", kind, doc) for gpu in catalog_gpus for name, kind, doc in COST_FIGURES]
    return {s.name: s for s in specs}


_SCHEMAS: dict[tuple, dict[str, FactSpec]] = {}


def schema(catalog: Catalog) -> dict[str, FactSpec]:
    key = tuple(catalog.gpus)
    if key not in _SCHEMAS:
        _SCHEMAS[key] = _schema(key)
    return _SCHEMAS[key]


@dataclass
class Facts:
    """Fact values by name, the per-GPU figures behind them, how they were computed, and notes."""

    values: dict[str, object]
    costs: dict[str, dict]
    notes: list[str] = field(default_factory=list)
    workings: dict[str, list[Working]] = field(default_factory=dict)  # per GPU, the formulas with numbers


class EstimateCache:
    """Deployment estimates by what they depend on (GPU, workload, precision served, price),
    shared by the scenarios of a batch, which mostly repeat them (price and utilization sweeps).
    Bounded: the least recently used estimate goes first."""

    def __init__(self, size: int = 10_000):
        self.size = size
        self._items: OrderedDict = OrderedDict()

    def get(self, key, compute) -> Estimate:
        est = self._items.get(key)
        if est is None:
            est = self._items[key] = compute()
            if len(self._items) > self.size:
                self._items.popitem(last=False)
        else:
            self._items.move_to_end(key)
        return est


def build(scenario: Scenario, catalog: Catalog, estimates: Optional[EstimateCache] = None) -> Facts:
    """Compute every fact of ``scenario``: context and workload as given, cost figures per GPU."""
    estimates = estimates or EstimateCache()
    values = _given(scenario, catalog)
    facts = Facts(values, {})
    for gpu_id in catalog.gpus:
        facts.costs[gpu_id] = _cost(scenario, catalog, gpu_id, facts, estimates)
        for key, value in facts.costs[gpu_id].items():
            if key in COST_FACTS and value is not None:
                values[f"cost.{gpu_id}.{key}"] = value
    values.update(_seed_pair_comparison(facts.costs[A100], facts.costs[H100]))
    _derive_affordability(scenario, catalog, facts)
    return facts


def _given(scenario: Scenario, catalog: Catalog) -> dict[str, object]:
    """The facts the scenario states (context and workload), and the weights they imply."""
    ctx, w = scenario.context, scenario.workload
    values: dict[str, object] = {f"context.{k}": v for k, v in ctx.model_dump().items() if v is not None}
    values.update({
        "workload.model": model_of(scenario, catalog).id,
        "workload.precision": scenario.precision,
        "workload.batch": w.batch,
        "workload.prompt_tokens": w.prompt_tokens,
        "workload.output_tokens": w.output_tokens,
        "workload.weights_gb": memory.weight_bytes(model_of(scenario, catalog).params, scenario.precision) / 1e9,
    })
    if w.tokens_per_day is not None:
        values["workload.tokens_per_day"] = w.tokens_per_day
    if w.max_ms_per_token is not None:
        values["workload.max_ms_per_token"] = w.max_ms_per_token
    return values


def _seed_pair_comparison(a: dict, h: dict) -> dict[str, float]:
    """H100 against A100 at their own utilizations: cost ratio, speed-up, break-even price and utilization."""
    if not (a.get("fits") and h.get("fits")):
        return {}
    return {
        "compare.h100_vs_a100.cost_ratio": h["cost_per_million_tokens"] / a["cost_per_million_tokens"],
        "compare.h100_vs_a100.speedup": a["decode_ms_per_token"] / h["decode_ms_per_token"],
        # Each side busy at its own utilization: effective throughput is u x tokens/s.
        "compare.h100_vs_a100.break_even_price_usd_per_hour": pricing.break_even_price(
            a["price_usd_per_hour"], a["gpus"], a["utilization"] * a["tokens_per_s"], h["gpus"], h["utilization"] * h["tokens_per_s"]),
        "compare.h100_vs_a100.a100_break_even_utilization": pricing.break_even_utilization(
            a["price_usd_per_hour"], a["gpus"], a["tokens_per_s"], h["price_usd_per_hour"], h["gpus"], h["tokens_per_s"], h["utilization"]),
    }


def _derive_affordability(scenario: Scenario, catalog: Catalog, facts: Facts) -> None:
    """can_afford_h100 from the monthly budget, when the scenario gives a budget but not the answer."""
    ctx = scenario.context
    if ctx.can_afford_h100 is not None or ctx.monthly_budget_usd is None:
        return
    h = facts.costs[H100]
    if h.get("fits"):
        afford = ctx.monthly_budget_usd >= h["monthly_cost_usd"]
        facts.notes.append(
            f"can_afford_h100 derived: budget ${ctx.monthly_budget_usd:,.0f}/month {'>=' if afford else '<'} "
            f"H100 deployment ${h['monthly_cost_usd']:,.0f}/month ({h['replicas']} x {h['gpus']} x {H100} at ${h['price_usd_per_hour']:.2f}/h x "
            f"{catalog.efficiency.hours_per_month:g} h)"
        )
    else:
        afford = False
        facts.notes.append("can_afford_h100 derived: false, the workload does not fit an H100 deployment")
    facts.values["context.can_afford_h100"] = afford


def served_precision(scenario: Scenario, catalog: Catalog, gpu_id: str) -> str:
    """The scenario's precision, or fp16 on a GPU that lacks it (A100 has no FP8)."""
    return scenario.precision if catalog.gpu(gpu_id).supports(scenario.precision) else "fp16"


def workload_on(scenario: Scenario, catalog: Catalog, gpu_id: str) -> Workload:
    """The scenario's workload as served on ``gpu_id``."""
    w = scenario.workload
    return Workload(model=model_of(scenario, catalog), precision=served_precision(scenario, catalog, gpu_id), batch=w.batch,
                    prompt_tokens=w.prompt_tokens, output_tokens=w.output_tokens, max_ms_per_token=w.max_ms_per_token)


def _cost(scenario: Scenario, catalog: Catalog, gpu_id: str, facts: Facts, estimates: EstimateCache) -> dict:
    """One GPU's figures: the estimate, sized to the traffic (replicas) at the utilization that applies."""
    w = scenario.workload
    precision = served_precision(scenario, catalog, gpu_id)
    if precision != scenario.precision:
        facts.notes.append(f"{gpu_id} has no {scenario.precision.upper()}: costed at {precision}")
    price = scenario.prices.get(gpu_id)
    key = (gpu_id, w.model, w.params_b, precision, w.batch, w.prompt_tokens, w.output_tokens, w.max_ms_per_token, price)
    est = estimates.get(key, lambda: estimate(catalog, catalog.gpu(gpu_id), workload_on(scenario, catalog, gpu_id),
                                              price_usd_per_hour=price))
    figures = {"precision": precision, "fits": est.fits, "gpus": est.gpus, "price_usd_per_hour": est.price_usd_per_hour,
               "gpus_reason": est.gpus_reason}
    if not est.fits:
        facts.workings[gpu_id] = [est.workings[0], Working("fit", f"does not fit one node of {gpu_id}: not costed")]
        return figures
    replicas, utilization = _sized(scenario, gpu_id, est)
    cost = pricing.cost_per_million_tokens(est.price_usd_per_hour, est.tokens_per_s, est.gpus, utilization)
    monthly = replicas * est.monthly_cost_usd
    figures.update(
        replicas=replicas, utilization=utilization, tokens_per_s=est.tokens_per_s, tokens_per_s_per_gpu=est.tokens_per_s / est.gpus,
        decode_ms_per_token=est.decode_ms_per_token, ttft_ms=est.ttft_ms, prefill_share=est.prefill_share,
        cost_per_million_tokens=cost, monthly_cost_usd=monthly,
    )
    if w.max_ms_per_token is not None:
        figures["meets_latency"] = est.decode_ms_per_token <= w.max_ms_per_token
    hours = catalog.efficiency.hours_per_month
    facts.workings[gpu_id] = [*est.workings[:-1], cost_working(est.gpus, est.price_usd_per_hour, utilization, est.tokens_per_s, cost),
                              Working("monthly cost", f"replicas x GPUs x price x {hours:g} h = {replicas} x {est.gpus} x "
                                                      f"${est.price_usd_per_hour:.2f} x {hours:g} = ${monthly:,.0f}")]
    return figures


def _sized(scenario: Scenario, gpu_id: str, est: Estimate) -> tuple[int, float]:
    """Replicas for tokens_per_day and the utilization they run at (the fleet's measured one for A100)."""
    ctx, w = scenario.context, scenario.workload
    replicas, utilization = 1, ctx.utilization or 1.0
    if w.tokens_per_day is not None:
        needed = w.tokens_per_day / SECONDS_PER_DAY
        replicas = max(1, math.ceil(needed / est.tokens_per_s))
        utilization = min(1.0, needed / (replicas * est.tokens_per_s))
    if gpu_id == A100 and ctx.have_a100_fleet and ctx.utilization:
        utilization = ctx.utilization  # the fleet's measured utilization beats a sizing estimate
    return replicas, utilization
