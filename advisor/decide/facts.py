"""Facts: the flat, typed view of a scenario and its figures that rules read.

``schema(catalog)`` is this product's fact table: every name a rule may mention, its type and
what it means. The rules checker validates rule files against it, and ``build`` produces values
that conform to it (so nothing unvalidated ever reaches the engine). The figures are the
planner's plans (decide.figures); the general answer's facts (``general.*``) are added between
the two stages of a decision (decide.decision), once the seed's rules have given it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, get_args

from ..catalog.load import Catalog
from ..catalog.precisions import PRECISIONS
from ..perf import memory
from ..plan.planner import Planner
from ..rules.schema import FactSpec
from ..scenario.spec import OptimizeFor, Scenario, Stage
from . import figures
from .workload import model_of, plan_request

_CONTEXT = (
    FactSpec("context.starting_fresh", "bool", "a new deployment", optional=False),
    FactSpec("context.can_afford_h100", "bool", "an H100 deployment fits the budget (given, or derived from monthly_budget_usd)"),
    FactSpec("context.monthly_budget_usd", "number", "GPU budget per month, USD"),
    FactSpec("context.have_a100_fleet", "bool", "an existing A100 fleet", optional=False),
    FactSpec("context.utilization", "number", "busy share of the A100 fleet's hours"),
    FactSpec("context.can_use_spot", "bool", "spot capacity acceptable", optional=False),
    FactSpec("context.using_fp8", "bool", "serving with FP8 weights", optional=False),
    FactSpec("context.h100_wait_weeks", "number", "weeks to get H100 capacity"),
    FactSpec("context.needed_in_weeks", "number", "weeks until the capacity is needed"),
)
_WORKLOAD = (
    FactSpec("workload.model", "string", "model id", optional=False),
    FactSpec("workload.precision", "enum", "weight precision", values=PRECISIONS, optional=False),
    FactSpec("workload.prompt_tokens", "number", "average prompt length", optional=False),
    FactSpec("workload.output_tokens", "number", "average generated tokens per request", optional=False),
    FactSpec("workload.tokens_per_day", "number", "generated tokens a day"),
    FactSpec("workload.weights_gb", "number", "weight memory at the chosen precision", optional=False),
)
#: The general answer, for the rulesets that check it: added once the seed's rules have run.
GENERAL = (
    FactSpec("general.id", "string", "the general answer's outcome id", optional=False),
    FactSpec("general.text", "string", "the general answer, as the seed words it", optional=False),
    FactSpec("general.feasible", "bool", "the general answer's GPU has a plan within the targets", optional=False),
    FactSpec("general.monthly_cost_usd", "number", "its plan's monthly cost"),
    FactSpec("general.usd_per_million_tokens", "number", "its plan's cost per million tokens"),
    FactSpec("general.cost_over_best", "number", "its plan's monthly cost / the cheapest plan's"),
    FactSpec("general.budget_share", "number", "its plan's monthly cost / the monthly budget"),
    FactSpec("general.native_fp8", "bool", "its GPU has FP8 tensor cores", optional=False),
)


def _schema(gpu_ids: tuple) -> dict[str, FactSpec]:
    specs = list(_CONTEXT) + [
        FactSpec("context.optimize_for", "enum", "what matters most", values=get_args(OptimizeFor)),
        FactSpec("context.stage", "enum", "experimentation or production", values=get_args(Stage)),
    ] + list(_WORKLOAD) + figures.fact_specs(gpu_ids) + list(GENERAL) + [
        FactSpec("general.gpu", "enum", "the GPU the general answer deploys (the first it names)", values=tuple(gpu_ids), optional=False)]
    return {s.name: s for s in specs}


_SCHEMAS: dict[tuple, dict[str, FactSpec]] = {}


def schema(catalog: Catalog) -> dict[str, FactSpec]:
    key = tuple(catalog.gpus)
    if key not in _SCHEMAS:
        _SCHEMAS[key] = _schema(key)
    return _SCHEMAS[key]


@dataclass
class Facts:
    """Fact values by name, the plans behind them, and notes on how they were derived."""

    values: dict[str, object]
    figures: figures.Figures
    notes: list[str] = field(default_factory=list)

    @property
    def plans(self):
        return self.figures.plans


def build(scenario: Scenario, catalog: Catalog, planner: Optional[Planner] = None) -> Facts:
    """Every fact of ``scenario`` but the general answer's: context, workload, and the plans' figures."""
    planner = planner or Planner(catalog)
    figs = figures.compute(scenario, catalog, planner, plan_request(scenario, catalog))
    values = _given(scenario, catalog)
    values.update(figs.values)
    notes = list(figs.notes)
    _derive_affordability(scenario, figs, values, notes)
    return Facts(values, figs, notes)


def _given(scenario: Scenario, catalog: Catalog) -> dict[str, object]:
    """The facts the scenario states (context and workload), and the weights they imply."""
    ctx, w = scenario.context, scenario.workload
    names = {spec.name for spec in _CONTEXT} | {"context.optimize_for", "context.stage"}
    values: dict[str, object] = {f"context.{k}": v for k, v in ctx.model_dump().items() if v is not None and f"context.{k}" in names}
    model = model_of(scenario, catalog)
    values.update({
        "workload.model": model.id,
        "workload.precision": scenario.precision,
        "workload.prompt_tokens": w.prompt_tokens,
        "workload.output_tokens": w.output_tokens,
        "workload.weights_gb": memory.weight_bytes(model.params, scenario.precision) / 1e9,
    })
    if w.tokens_per_day is not None:
        values["workload.tokens_per_day"] = w.tokens_per_day
    return values


def _derive_affordability(scenario: Scenario, figs: figures.Figures, values: dict, notes: list) -> None:
    """can_afford_h100 from the monthly budget and the H100 plan, when the scenario gives a budget but not the answer."""
    ctx = scenario.context
    if ctx.can_afford_h100 is not None or ctx.monthly_budget_usd is None:
        return
    share = values.get("budget.h100_share")
    if share is None:
        values["context.can_afford_h100"] = False
        notes.append("can_afford_h100 derived: false, no H100 plan carries this workload within the targets")
        return
    h = figs.plans["h100-80gb"].plan
    values["context.can_afford_h100"] = share <= 1
    notes.append(f"can_afford_h100 derived: budget ${ctx.monthly_budget_usd:,.0f}/month {'>=' if share <= 1 else '<'} "
                 f"H100 plan ${h.monthly_cost_usd:,.0f}/month ({h.replicas} x {h.gpus_per_replica} GPUs at ${h.price_usd_per_hour:.2f}/h)")


def general_values(outcome, facts: Facts, catalog: Catalog) -> dict[str, object]:
    """The general answer's facts: which GPU it deploys (the first it names), and that GPU's plan against the cheapest."""
    if outcome is None:
        return {}
    gpu_id = outcome.gpu.split("+")[0]
    values: dict[str, object] = {"general.id": outcome.id, "general.gpu": gpu_id, "general.text": outcome.text,
                                 "general.native_fp8": gpu_id in catalog.gpus and catalog.gpu(gpu_id).supports("fp8")}
    plan = facts.plans[gpu_id].plan if gpu_id in facts.plans else None
    values["general.feasible"] = plan is not None
    if plan is not None:
        values.update({"general.monthly_cost_usd": plan.monthly_cost_usd, "general.usd_per_million_tokens": plan.usd_per_million_tokens})
        best = facts.values.get("best.monthly_cost_usd")
        if best:
            values["general.cost_over_best"] = plan.monthly_cost_usd / best
        budget = facts.values.get("context.monthly_budget_usd")
        if budget:
            values["general.budget_share"] = plan.monthly_cost_usd / budget
    return values
