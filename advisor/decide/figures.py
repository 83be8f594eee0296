"""The figures behind a decision: the planner's plan on every GPU, and what follows from them.

Every number a rule compares is computed here, from the plans (advisor.plan) and the scenario:
the seed pair's comparison at the same traffic, the cheapest plans under each constraint the
checks need (overall, in the seed's pair, outside it, with native FP8, within the budget, without
waiting for H100s), the budget's reach, the existing fleet's load and what it costs on each GPU,
and the spot mix ("H100 spot when available, A100 fallback"). Ratios are how rules compare
figures with each other: a rule compares a fact with a named threshold, never two facts.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Optional

from ..catalog.load import Catalog
from ..catalog.precisions import PRECISIONS
from ..defaults import A100, H100, SEED_PAIR
from ..perf.serving import Replica
from ..plan.planner import GpuPlan, Plan, Planner, Plans
from ..plan.request import PlanRequest, Traffic
from ..rules.schema import FactSpec
from ..scenario.spec import Scenario

#: A plan's figures that rules may read, as plan.<gpu>.<name> and <choice>.<name>.
PLAN_FIGURES = (
    ("feasible", "bool", "a plan carries the load within the latency targets"),
    ("precision", "enum", "the precision the plan serves the model in"),
    ("gpus_per_replica", "number", "GPUs per replica (tensor parallel)"),
    ("replicas", "number", "replicas that carry the peak load within the headroom"),
    ("total_gpus", "number", "GPUs of the plan"),
    ("concurrency", "number", "sequences in flight per replica at the peak"),
    ("monthly_cost_usd", "number", "USD a month for every GPU of the plan"),
    ("usd_per_million_tokens", "number", "USD per million tokens, input and output, at the average load"),
    ("usd_per_million_input_tokens", "number", "USD per million prompt tokens (their share of GPU time)"),
    ("usd_per_million_output_tokens", "number", "USD per million generated tokens"),
    ("tpot_ms", "number", "time per output token at the peak load"),
    ("ttft_ms", "number", "time to first token at the peak load"),
    ("utilization_avg", "number", "share of the plan's capacity the average load uses"),
    ("utilization_peak", "number", "share of the plan's capacity the peak load uses"),
    ("input_share", "number", "share of GPU time spent on prompts"),
    ("price_usd_per_hour", "number", "USD per GPU-hour the plan is priced at"),
)
#: The cheapest plan under each constraint the checks compare the general answer with.
CHOICES = (
    ("best", "the cheapest plan of any GPU"),
    ("best_seed_pair", "the cheaper of the A100 and H100 plans"),
    ("best_other", "the cheapest plan of a GPU outside the seed's pair"),
    ("best_native_fp8", "the cheapest plan of a GPU with FP8 tensor cores"),
    ("best_in_budget", "the cheapest plan within the monthly budget"),
    ("best_available", "the cheapest plan of a GPU that is not an H100 (for an H100 wait)"),
    ("best_indicative", "the cheapest plan of a GPU priced only by a third-party survey"),
)


def fact_specs(gpu_ids) -> list[FactSpec]:
    """The facts this module computes, for the fact table (decide.facts)."""
    specs = []
    for prefix in [f"plan.{gpu}" for gpu in gpu_ids] + [name for name, _ in CHOICES]:
        if not prefix.startswith("plan."):
            specs.append(FactSpec(f"{prefix}.gpu", "enum", dict(CHOICES)[prefix], values=tuple(gpu_ids)))
        specs += [FactSpec(f"{prefix}.{name}", kind, doc, values=PRECISIONS if kind == "enum" else ()) for name, kind, doc in PLAN_FIGURES]
    return specs + [
        FactSpec("targets.tpot_ms", "number", "the TPOT target", optional=False),
        FactSpec("targets.ttft_ms", "number", "the TTFT target", optional=False),
        FactSpec("workload.load_rps", "number", "the average load planned for, requests/s"),
        FactSpec("workload.load_stated", "bool", "the scenario states a load (else: the load one A100 replica carries)", optional=False),
        FactSpec("compare.h100_vs_a100.cost_ratio", "number", "H100 plan's monthly cost / A100 plan's, at the same traffic"),
        FactSpec("compare.h100_vs_a100.gpu_ratio", "number", "H100 plan's GPUs / A100 plan's"),
        FactSpec("compare.h100_vs_a100.speedup", "number", "A100 plan's TPOT / H100 plan's"),
        FactSpec("compare.h100_vs_a100.prefill_cost_ratio", "number", "H100 / A100 cost of prefilling a million prompt tokens"),
        FactSpec("compare.h100_vs_a100.a100_prefill_usd_per_million", "number", "A100 plan's GPUs prefilling alone, USD per million prompt tokens"),
        FactSpec("compare.h100_vs_a100.h100_prefill_usd_per_million", "number", "H100 plan's GPUs prefilling alone, USD per million prompt tokens"),
        FactSpec("workload.prompt_share", "number", "prompt tokens / all tokens of a request", optional=False),
        FactSpec("compare.h100_vs_a100.break_even_price_usd_per_hour", "number", "H100 hourly price at which its plan costs what A100's does"),
        FactSpec("compare.h100_vs_a100.a100_break_even_utilization", "number", "how busy the A100s must be to match H100's cost per token"),
        FactSpec("compare.h100_vs_a100.a100_can_match", "bool", "that break-even utilization is 100% or less"),
        FactSpec("compare.other_vs_pair.cost_ratio", "number", "the cheapest plan outside the seed's pair / the cheaper of A100 and H100"),
        FactSpec("budget.a100_share", "number", "A100 plan / monthly budget"),
        FactSpec("budget.h100_share", "number", "H100 plan / monthly budget"),
        FactSpec("budget.best_share", "number", "the cheapest plan / monthly budget"),
        FactSpec("timeline.h100_weeks_late", "number", "weeks the H100 wait runs past the date the capacity is needed"),
        FactSpec("fleet.gpu", "enum", "the fleet's GPU", values=tuple(gpu_ids)),
        FactSpec("fleet.gpus", "number", "GPUs in the fleet"),
        FactSpec("fleet.monthly_cost_usd", "number", "what the fleet costs a month today"),
        FactSpec("fleet.load_rps", "number", "the fleet's load today: its capacity x its utilization"),
        FactSpec("fleet.optimized_gpus", "number", "GPUs of the fleet's type that carry its load within the targets"),
        FactSpec("fleet.optimized_utilization", "number", "how busy those GPUs would be on average"),
        FactSpec("fleet.saving_usd", "number", "a month saved by carrying the fleet's load on fewer of its GPUs"),
        FactSpec("fleet.saving_share", "number", "that saving / the fleet's cost today"),
        FactSpec("fleet.best_over_today", "number", "the cheapest plan for the fleet's load / the fleet's cost today"),
        FactSpec("spot.h100_usd_per_hour", "number", "H100 spot price"),
        FactSpec("spot.availability", "number", "expected share of hours H100 spot capacity is there"),
        FactSpec("spot.mix_monthly_cost_usd", "number", "H100 spot while there, on-demand A100 sized for the load otherwise"),
        FactSpec("spot.mix_over_best", "number", "the spot mix / the cheapest on-demand plan"),
    ]


@dataclass
class Figures:
    """The plans and the fact values computed from them."""

    plans: dict[str, GpuPlan]
    values: dict[str, object]
    notes: list[str]
    request: PlanRequest
    caveats: dict[str, tuple] = field(default_factory=dict)  # per GPU: what stands against its plan (shared: never change)


def compute(scenario: Scenario, catalog: Catalog, planner: Planner, request: PlanRequest) -> Figures:
    notes: list[str] = []
    stated = request.traffic.requests_per_s is not None
    request = _with_fleet_load(scenario, catalog, planner, request, notes)
    stated = stated or request.traffic.requests_per_s is not None
    request = _with_reference_load(planner, request, notes)
    values: dict[str, object] = {"targets.tpot_ms": request.targets.tpot_ms, "targets.ttft_ms": request.targets.ttft_ms,
                                 "workload.load_stated": stated}
    plans = planner.plan_all(request)
    if request.traffic.requests_per_s is not None:
        values["workload.load_rps"] = request.traffic.requests_per_s
    values.update(_once(plans, "plans", lambda: _all_plan_values(plans)))
    ctx = scenario.context
    allowed = tuple(ctx.gpus) if ctx.gpus is not None else None
    choices, before, after = _once(plans, ("choices", allowed), lambda: _chosen(scenario, catalog, plans))
    in_budget = _in_budget(scenario, catalog, plans)
    choices = {**choices, "best_in_budget": in_budget}
    values.update(before)
    if in_budget is not None:
        values.update(_choice_values("best_in_budget", in_budget))
    values.update(after)
    values["workload.prompt_share"] = request.prompt_tokens / (request.prompt_tokens + request.output_tokens)
    values.update(_once(plans, "seed pair", lambda: _seed_pair(catalog, request, plans)))
    other, pair = choices["best_other"], choices["best_seed_pair"]
    if other is not None and pair is not None:
        values["compare.other_vs_pair.cost_ratio"] = other.plan.monthly_cost_usd / pair.plan.monthly_cost_usd
    values.update(_budget(scenario, plans, choices))
    values.update(_timeline(scenario))
    values.update(_fleet(scenario, catalog, request, plans, choices["best"]))
    values.update(_spot(scenario, catalog, plans, choices, notes))
    return Figures(plans, values, notes, request, _caveats(scenario, catalog, plans))


def _once(plans: Plans, key, compute):
    """``compute()`` once per plans and ``key``: what follows from a request's plans, and from the
    few scenario values named in ``key``. The request holds the scenario's prices, so
    ``indicative`` is the same for every scenario that shares the plans."""
    derived = plans.derived
    if key not in derived:
        derived[key] = compute()
    return derived[key]


def _all_plan_values(plans: dict) -> dict:
    values: dict = {}
    for gpu_id, gpu_plan in plans.items():
        values.update(_plan_values(f"plan.{gpu_id}", gpu_plan.plan))
    return values


def _chosen(scenario: Scenario, catalog: Catalog, plans: dict) -> tuple[dict, dict, dict]:
    """The cheapest plan under each constraint but the budget's (``_in_budget``), and their fact
    values, those before best_in_budget's and those after, in CHOICES order."""
    choices = _choices(scenario, catalog, plans)
    names = [name for name, _ in CHOICES]
    cut = names.index("best_in_budget")
    before, after = {}, {}
    for name in names[:cut]:
        before.update(_choice_values(name, choices[name]))
    for name in names[cut + 1:]:
        after.update(_choice_values(name, choices[name]))
    return choices, before, after


def _choice_values(name: str, gpu_plan: Optional[GpuPlan]) -> dict:
    if gpu_plan is None:
        return {}
    return {f"{name}.gpu": gpu_plan.gpu, **_plan_values(name, gpu_plan.plan)}


def _caveats(scenario: Scenario, catalog: Catalog, plans: dict) -> dict[str, tuple]:
    """Facts that stand against a GPU's plan whatever it costs, as the plans table shows them beside
    a cheaper plan the verdict did not take (which of them weighs is the rules' to say): those of
    the team's situation, worked out once per plans and situation, then the budget's."""
    ctx = scenario.context
    key = ("caveats", tuple(ctx.gpus) if ctx.gpus is not None else None, ctx.using_fp8, ctx.can_afford_h100, ctx.h100_wait_weeks)
    standing = _once(plans, key, lambda: _standing_caveats(scenario, catalog, plans))
    budget = ctx.monthly_budget_usd
    over = {g for g, p in plans.items() if p.plan is not None and p.plan.monthly_cost_usd > budget} if budget is not None else ()
    if not over:
        return standing
    return {g: standing.get(g, ()) + (("over the budget",) if g in over else ()) for g in plans if g in standing or g in over}


def _standing_caveats(scenario: Scenario, catalog: Catalog, plans: dict) -> dict[str, tuple]:
    ctx = scenario.context
    out = {}
    for gpu_id in plans:
        caveats = []
        if ctx.gpus is not None and gpu_id not in ctx.gpus:
            caveats.append("not among context.gpus")
        if indicative(scenario, catalog, gpu_id):
            caveats.append("priced only by a survey")
        if ctx.using_fp8 and not catalog.gpu(gpu_id).supports("fp8"):
            caveats.append("no FP8 tensor cores")
        if gpu_id.startswith("h100") and ctx.can_afford_h100 is False:
            caveats.append("H100: not affordable")
        if gpu_id.startswith("h100") and ctx.h100_wait_weeks:
            caveats.append(f"H100: {ctx.h100_wait_weeks:g} weeks away")
        if caveats:
            out[gpu_id] = tuple(caveats)
    return out


def _plan_values(prefix: str, plan: Optional[Plan]) -> dict:
    names, feasible = _plan_fact_names(prefix)
    if plan is None:
        return {feasible: False}
    body = {fact: getattr(plan, name) for fact, name in names}
    body[feasible] = True
    return body


@functools.lru_cache(maxsize=64)
def _plan_fact_names(prefix: str) -> tuple:
    """((fact name, Plan field), ...) and the feasible fact's name under ``prefix``: made once, so
    that the plans kept by the planner's cache share their names."""
    return tuple((f"{prefix}.{name}", name) for name, _, _ in PLAN_FIGURES if name != "feasible"), f"{prefix}.feasible"


def _cheapest(plans, keep) -> Optional[GpuPlan]:
    feasible = [p for gpu_id, p in plans.items() if p.plan and keep(gpu_id, p.plan)]
    return min(feasible, key=lambda p: (p.plan.monthly_cost_usd, p.plan.total_gpus), default=None)


def indicative(scenario: Scenario, catalog: Catalog, gpu_id: str) -> bool:
    """A GPU priced only by a third-party survey, and not by the scenario: no verdict rests on it."""
    return catalog.gpu(gpu_id).price.indicative and gpu_id not in scenario.prices


def _choices(scenario: Scenario, catalog: Catalog, plans: dict) -> dict[str, Optional[GpuPlan]]:
    """The cheapest plan under each constraint of CHOICES but the budget's."""
    allowed = scenario.context.gpus
    firm = lambda g: not indicative(scenario, catalog, g) and (allowed is None or g in allowed)  # noqa: E731
    return {
        "best": _cheapest(plans, lambda g, p: firm(g)),
        "best_seed_pair": _cheapest(plans, lambda g, p: g in SEED_PAIR),
        "best_other": _cheapest(plans, lambda g, p: g not in SEED_PAIR and firm(g)),
        "best_native_fp8": _cheapest(plans, lambda g, p: catalog.gpu(g).supports("fp8") and firm(g)),
        "best_available": _cheapest(plans, lambda g, p: not g.startswith("h100") and firm(g)),
        "best_indicative": _cheapest(plans, lambda g, p: indicative(scenario, catalog, g) and (allowed is None or g in allowed)),
    }


def _in_budget(scenario: Scenario, catalog: Catalog, plans: dict) -> Optional[GpuPlan]:
    """The cheapest plan within the monthly budget (the choice that varies with every scenario)."""
    budget = scenario.context.monthly_budget_usd
    if budget is None:
        return None
    allowed = scenario.context.gpus
    return _cheapest(plans, lambda g, p: p.monthly_cost_usd <= budget and not indicative(scenario, catalog, g)
                     and (allowed is None or g in allowed))


def prefill_usd_per_million(catalog: Catalog, request: PlanRequest, plan: Plan) -> float:
    """What prompts cost on a plan's GPUs doing nothing else: a replica prefilling one prompt at a
    time (compute-bound), GPUs x price / prompt tokens per hour, per million."""
    replica = Replica(catalog.gpu(plan.gpu), request.model, plan.precision, plan.kv_precision, plan.gpus_per_replica,
                      catalog.efficiency, request.prompt_tokens, request.output_tokens)
    tokens_per_s = request.prompt_tokens / replica.prompt_s(0.0)
    return plan.gpus_per_replica * plan.price_usd_per_hour / (3600 * tokens_per_s) * 1e6


def _seed_pair(catalog: Catalog, request: PlanRequest, plans: dict) -> dict:
    """H100 against A100 at the same traffic: what each plan costs, and where they would break even."""
    a, h = plans[A100].plan, plans[H100].plan
    if not (a and h):
        return {}
    ratio = h.monthly_cost_usd / a.monthly_cost_usd
    prefill_a, prefill_h = prefill_usd_per_million(catalog, request, a), prefill_usd_per_million(catalog, request, h)
    # A100's cost per token falls as it gets busier: cost x u_A / u; it matches H100's at u = u_A x ratio_A/H.
    break_even = a.utilization_avg * a.usd_per_million_tokens / h.usd_per_million_tokens
    return {
        "compare.h100_vs_a100.cost_ratio": ratio,
        "compare.h100_vs_a100.gpu_ratio": h.total_gpus / a.total_gpus,
        "compare.h100_vs_a100.speedup": a.tpot_ms / h.tpot_ms,
        "compare.h100_vs_a100.prefill_cost_ratio": prefill_h / prefill_a,
        "compare.h100_vs_a100.a100_prefill_usd_per_million": prefill_a,
        "compare.h100_vs_a100.h100_prefill_usd_per_million": prefill_h,
        "compare.h100_vs_a100.break_even_price_usd_per_hour": h.price_usd_per_hour / ratio,
        "compare.h100_vs_a100.a100_break_even_utilization": break_even,
        "compare.h100_vs_a100.a100_can_match": break_even <= 1,
    }


def _budget(scenario: Scenario, plans: dict, choices: dict) -> dict:
    budget = scenario.context.monthly_budget_usd
    if not budget:
        return {}
    out = {}
    for key, gpu_plan in (("a100", plans[A100]), ("h100", plans[H100]), ("best", choices["best"])):
        if gpu_plan is not None and gpu_plan.plan is not None:
            out[f"budget.{key}_share"] = gpu_plan.plan.monthly_cost_usd / budget
    return out


def _timeline(scenario: Scenario) -> dict:
    ctx = scenario.context
    if ctx.h100_wait_weeks is None or ctx.needed_in_weeks is None:
        return {}
    return {"timeline.h100_weeks_late": ctx.h100_wait_weeks - ctx.needed_in_weeks}


def _fleet_capacity_rps(scenario: Scenario, catalog: Catalog, planner: Planner, request: PlanRequest) -> Optional[tuple[float, int]]:
    """The fleet's full capacity (requests/s) and its replica size: its GPUs in replicas of the
    fleet GPU's plan, each at that plan's most concurrency."""
    ctx = scenario.context
    unloaded = replace(request, traffic=Traffic(None, request.traffic.peak_to_average, 1.0))
    gpu_plan = planner.plan_all(unloaded)[ctx.fleet_gpu].plan
    if gpu_plan is None:
        return None
    replicas = ctx.fleet_gpus // gpu_plan.gpus_per_replica
    return replicas * gpu_plan.capacity_rps, gpu_plan.gpus_per_replica


def _with_fleet_load(scenario: Scenario, catalog: Catalog, planner: Planner, request: PlanRequest, notes: list) -> PlanRequest:
    """Without a stated load, a fleet's load is the load to plan for: its capacity x its utilization."""
    ctx = scenario.context
    if request.traffic.requests_per_s is not None or not (ctx.have_a100_fleet and ctx.fleet_gpus and ctx.utilization):
        return request
    found = _fleet_capacity_rps(scenario, catalog, planner, request)
    if found is None or found[0] <= 0:
        notes.append(f"the fleet's {ctx.fleet_gpus} x {ctx.fleet_gpu} cannot serve this workload within the targets: its load is unknown")
        return request
    capacity, _ = found
    load = capacity * ctx.utilization
    notes.append(f"load planned for: the fleet's, {ctx.fleet_gpus} x {ctx.fleet_gpu} at {ctx.utilization:.0%} of a capacity of "
                 f"{capacity:,.2f} requests/s = {load:,.2f} requests/s")
    return replace(request, traffic=Traffic(load, request.traffic.peak_to_average, request.traffic.headroom))


def _with_reference_load(planner: Planner, request: PlanRequest, notes: list) -> PlanRequest:
    """Without a stated load, every GPU is planned for one load, so that their costs compare: the
    peak one replica of the seed's A100 carries within the targets and the headroom (the seed's
    single deployment), else of its H100, else of the first GPU with a plan. Only the GPUs tried
    for the reference are planned without a load (usually the A100 alone)."""
    if request.traffic.requests_per_s is not None:
        return request
    order = [*SEED_PAIR, *(g for g in planner.catalog.gpus if g not in SEED_PAIR)]
    reference = next((p for p in (planner.plan_one(request, g) for g in order) if p.plan), None)
    if reference is None:
        return request
    peak = reference.plan.peak_rps
    traffic = Traffic(peak / request.traffic.peak_to_average, request.traffic.peak_to_average, request.traffic.headroom)
    notes.append(f"no load given: every GPU is planned for the peak one {reference.gpu} replica carries "
                 f"within the targets, {peak:,.2f} requests/s ({traffic.requests_per_s:,.2f} on average)")
    return replace(request, traffic=traffic)


def _fleet(scenario: Scenario, catalog: Catalog, request: PlanRequest, plans: dict, best: Optional[GpuPlan]) -> dict:
    """The fleet today, and the same load on fewer of its GPUs ("optimize A100 usage", in numbers)."""
    ctx = scenario.context
    if not (ctx.have_a100_fleet and ctx.fleet_gpus):
        return {}
    gpu = catalog.gpu(ctx.fleet_gpu)
    price = scenario.prices.get(gpu.id, gpu.price.usd_per_hour)
    today = ctx.fleet_gpus * price * catalog.efficiency.hours_per_month
    out = {"fleet.gpu": gpu.id, "fleet.gpus": float(ctx.fleet_gpus), "fleet.monthly_cost_usd": today}
    if request.traffic.requests_per_s is not None:
        out["fleet.load_rps"] = request.traffic.requests_per_s
    optimized = plans[gpu.id].plan
    if optimized is not None:
        out.update({"fleet.optimized_gpus": float(optimized.total_gpus), "fleet.optimized_utilization": optimized.utilization_avg,
                    "fleet.saving_usd": today - optimized.monthly_cost_usd,
                    "fleet.saving_share": (today - optimized.monthly_cost_usd) / today})
    if best is not None:
        out["fleet.best_over_today"] = best.plan.monthly_cost_usd / today
    return out


def _spot(scenario: Scenario, catalog: Catalog, plans: dict, choices: dict, notes: list) -> dict:
    """The seed's mix: H100 spot while it is there, on-demand A100 sized for the load otherwise,
    each billed for the hours it runs: availability x H100 plan at spot price + (1 - availability) x A100 plan."""
    ctx = scenario.context
    h100 = catalog.gpu(H100)
    spot_price = scenario.spot_prices.get(H100) or (h100.spot_price.usd_per_hour if h100.spot_price else None)
    if not ctx.can_use_spot or spot_price is None:
        return {}
    out = {"spot.h100_usd_per_hour": spot_price}
    h, a, best = plans[H100].plan, plans[A100].plan, choices["best"]
    if ctx.spot_availability is None or not (h and a and best):
        if ctx.spot_availability is None:
            notes.append("the spot mix is not costed: give context.spot_availability (the share of hours H100 spot capacity is there)")
        return out
    share = ctx.spot_availability
    mix = share * h.total_gpus * spot_price * catalog.efficiency.hours_per_month + (1 - share) * a.monthly_cost_usd
    out.update({"spot.availability": share, "spot.mix_monthly_cost_usd": mix, "spot.mix_over_best": mix / best.plan.monthly_cost_usd})
    return out


def plan_record(gpu_plan: GpuPlan, caveats: list = ()) -> dict:
    """A GPU's plan as the decision records it: the plan's figures, or why there is none, and the
    caveats that stand against it."""
    record = {"feasible": False, "reason": gpu_plan.reason} if gpu_plan.plan is None else {"feasible": True, **gpu_plan.plan.to_json()}
    if caveats:
        record["caveats"] = list(caveats)
    return record
