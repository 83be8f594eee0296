"""Plans for people and machines: the ranked table, each row with why it lost, and versioned JSON."""

from __future__ import annotations

from typing import Sequence

from ..defaults import SEED_PAIR
from ..plan.planner import GpuPlan, ranked
from ..plan.request import PlanRequest
from .text import money, number, percent, survey_mark, survey_note, table, to_json

WEIGHT_ONLY = {"int8", "int4"}


def request_line(request: PlanRequest) -> str:
    """The workload as planned, with every default said."""
    t, targets = request.traffic, request.targets
    load = (f"{t.requests_per_s:,.2f} requests/s on average, peak x{t.peak_to_average:g}" if t.requests_per_s is not None
            else "no traffic given: one replica, at the most load that meets the targets within the headroom")
    kv = f", KV cache {request.kv_precision}" if request.kv_precision else ""
    return (f"{request.model.name} · {request.precision}{kv} · {request.prompt_tokens} prompt / {request.output_tokens} output tokens · "
            f"{load} · headroom {t.headroom:.0%} · targets TPOT {targets.tpot_ms:g} ms, TTFT {targets.ttft_ms:g} ms")


def _precision(plan) -> str:
    return f"{plan.precision} (weight-only)" if plan.precision in WEIGHT_ONLY else plan.precision


def _rows(order: list[GpuPlan], cheapest, survey: Sequence[str]) -> list[list]:
    rows = []
    for g in order:
        p = g.plan
        if p is None:
            rows.append(["", g.gpu, "-", "-", "-", "-", "-", "-", "-", "-", g.reason])
            continue
        chosen = p is cheapest
        extra = p.monthly_cost_usd - cheapest.monthly_cost_usd
        verdict = "cheapest" if chosen else f"+{money(extra, 0)} a month (+{extra / cheapest.monthly_cost_usd:.0%})"
        rows.append(["*" if chosen else "", g.gpu, _precision(p), f"{p.gpus_per_replica} x {p.replicas} = {p.total_gpus}",
                     f"{p.concurrency:,.0f} / {p.max_concurrency:,}", number(p.tpot_ms, 1), number(p.ttft_ms, 0),
                     f"{percent(p.utilization_avg)} / {percent(p.utilization_peak)}", money(p.monthly_cost_usd, 0),
                     f"{money(p.usd_per_million_input_tokens, 3)} / {money(p.usd_per_million_output_tokens, 3)}",
                     verdict + survey_mark(g.gpu, survey)])
    return rows


def plans_table(plans: dict[str, GpuPlan], request: PlanRequest, show_all: bool = False, survey: Sequence[str] = ()) -> str:
    """Every GPU with a plan, cheapest first (marked); the seed's pair always shown; then the rest.
    ``survey``: the GPUs priced only by a survey (marked, and named under the table)."""
    order = ranked(plans)
    feasible = [g for g in order if g.plan]
    shown = order if show_all else feasible + [g for g in order if not g.plan and g.gpu in SEED_PAIR]
    cheapest = feasible[0].plan if feasible else None
    headers = ["", "GPU", "precision", "GPUs x replicas", "concurrency", "TPOT ms", "TTFT ms", "busy avg / peak", "$ a month",
               "$/M in / out", "verdict"]
    lines = [request_line(request), "ranked by monthly cost; figures at the peak load; concurrency: in flight / most allowed", ""]
    if cheapest is None:
        lines.append("no GPU of the catalog carries this workload within the targets")
    lines.append(table(headers, _rows(shown, cheapest, survey) if cheapest else [["", g.gpu] + ["-"] * 8 + [g.reason] for g in shown],
                       right=range(3, 10)))
    marked = survey_note([g.gpu for g in shown if g.plan and g.gpu in survey])
    if marked:
        lines.append(marked)
    hidden = len(order) - len(shown)
    if hidden:
        lines.append(f"\n{hidden} more GPU{'s' if hidden > 1 else ''} with no plan: --all shows why")
    return "\n".join(lines)


def plans_json(plans: dict[str, GpuPlan], request: PlanRequest) -> str:
    order = ranked(plans)
    cheapest = next((g.gpu for g in order if g.plan), None)
    t = request.traffic
    described = {"model": request.model.id, "precision": request.precision, "kv_precision": request.kv_precision,
                 "prompt_tokens": request.prompt_tokens, "output_tokens": request.output_tokens,
                 "requests_per_s": t.requests_per_s, "peak_to_average": t.peak_to_average, "headroom": t.headroom,
                 "tpot_ms": request.targets.tpot_ms, "ttft_ms": request.targets.ttft_ms}
    return to_json({"workload": described, "cheapest": cheapest, "gpus": [g.to_json() for g in order]})
