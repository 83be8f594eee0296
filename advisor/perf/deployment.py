"""Deployments: a workload on a GPU type, sized, timed and priced; and all GPUs ranked by cost.

This composes the formulas of memory, timing and pricing into the figures the CLI prints and
the rules engine reads. Every number keeps its unit in its name. Each estimate also keeps its
workings: the formulas with this workload's numbers put in, written where they are computed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Optional

from .. import defaults
from ..catalog.hardware import Gpu
from ..catalog.load import Catalog
from ..catalog.models import ModelSpec
from ..catalog.precisions import BYTES_PER_WEIGHT
from ..errors import UsageError
from . import memory, pricing, timing
from .checks import fraction, positive


@dataclass(frozen=True)
class Workload:
    """What is served. ``model`` None means "unknown": only a stated throughput can be priced."""

    model: Optional[ModelSpec] = None
    precision: str = defaults.DEFAULT_PRECISION
    batch: int = defaults.DEFAULT_BATCH
    prompt_tokens: int = defaults.DEFAULT_PROMPT_TOKENS
    output_tokens: int = defaults.DEFAULT_OUTPUT_TOKENS
    utilization: float = defaults.DEFAULT_UTILIZATION
    max_ms_per_token: Optional[float] = None
    kv_precision: Optional[str] = None  # None: follows the weights

    def __post_init__(self):
        for name in ("batch", "prompt_tokens", "output_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UsageError(f"{name} must be a whole number of at least 1, got {value!r}")
        fraction(self.utilization)
        if self.max_ms_per_token is not None and not (math.isfinite(self.max_ms_per_token) and self.max_ms_per_token > 0):
            raise UsageError(f"the latency target must be a positive number of ms per token, got {self.max_ms_per_token!r}")
        if self.model is not None and self.model.max_context and self.prompt_tokens + self.output_tokens > self.model.max_context:
            raise UsageError(
                f"{self.prompt_tokens} prompt + {self.output_tokens} output tokens exceed {self.model.id}'s "
                f"context of {self.model.max_context}",
                "shorten the prompt or the output",
            )

    @property
    def context_tokens(self) -> int:
        """Tokens a sequence holds at its end: the KV cache must have room for all of them."""
        return self.prompt_tokens + self.output_tokens

    @property
    def mean_decode_context(self) -> float:
        """Average context during generation: the prompt plus half the output."""
        return self.prompt_tokens + self.output_tokens / 2


@dataclass(frozen=True)
class Working:
    """One formula with this workload's numbers put in, as the estimate computed it."""

    name: str
    formula: str

    def to_json(self) -> dict:
        return {"name": self.name, "formula": self.formula}


@dataclass(frozen=True)
class Estimate:
    """Every figure of one deployment. JSON keys are the field names (see ``to_json``)."""

    gpu: str
    model: Optional[str]
    precision: str
    gpus: int
    batch: int
    fits: Optional[bool]
    gpus_reason: str
    weights_gb: Optional[float]
    kv_cache_gb: Optional[float]
    memory_needed_gb: Optional[float]
    memory_usable_gb: float
    decode_floor_ms_per_token: Optional[float]
    decode_ms_per_token: Optional[float]
    decode_bound: Optional[str]
    decode_tokens_per_s: Optional[float]
    tokens_per_s: Optional[float]
    tokens_per_s_source: str
    throughput_ceiling_tokens_per_s: Optional[float]
    ttft_ms: Optional[float]
    prefill_share: Optional[float]
    price_usd_per_hour: float
    utilization: float
    cost_per_million_tokens: Optional[float]
    monthly_cost_usd: float
    warnings: list[str] = field(default_factory=list)
    workings: tuple = field(default=(), compare=False)  # Working: how each figure was computed

    def to_json(self) -> dict:
        return {k: round_figure(v) for k, v in asdict(self).items() if k != "workings"}


@dataclass(frozen=True)
class _Timing:
    """The time figures of one sized deployment."""

    step: timing.StepTime
    ceiling_tokens_per_s: float
    batch_prefill_s: float
    first_token_s: float
    estimated_tokens_per_s: float

    def busy_s(self, output_tokens: int) -> float:
        return self.batch_prefill_s + output_tokens * self.step.total_s


def estimate(
    catalog: Catalog,
    gpu: Gpu,
    workload: Workload,
    *,
    gpus: Optional[int] = None,
    price_usd_per_hour: Optional[float] = None,
    stated_tokens_per_s: Optional[float] = None,
) -> Estimate:
    """Size, time and price ``workload`` on ``gpu``.

    ``gpus`` defaults to the fewest that fit (one when no model is given). A stated throughput
    (the seed's way) replaces the estimated one for the cost, and is checked against the
    physical ceiling of that many GPUs.
    """
    price = gpu.price.usd_per_hour if price_usd_per_hour is None else price_usd_per_hour
    positive(price=price)
    if stated_tokens_per_s is not None:
        positive(tokens_per_s=stated_tokens_per_s)
    if gpus is not None and (isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 1):
        raise UsageError(f"gpus must be a whole number of at least 1, got {gpus!r}")
    if workload.model is None:
        return _stated_only(catalog, gpu, workload, gpus or 1, price, stated_tokens_per_s)
    memory.check_precision(gpu, workload.precision)
    n, reason, fits, need_bytes, warnings = _size(catalog, gpu, workload, gpus)
    times = _time(catalog, gpu, workload, n)
    tps, source = _throughput(workload, n, gpu, times, stated_tokens_per_s, warnings)
    return _priced(catalog, gpu, workload, n, reason, fits, need_bytes, times, tps, source, price, warnings)


def _stated_only(catalog: Catalog, gpu: Gpu, w: Workload, n: int, price: float, stated: Optional[float]) -> Estimate:
    """Without a model only a stated throughput can be priced (the seed's own arithmetic)."""
    if stated is None:
        raise UsageError("nothing to estimate without a model", "give --model or --params-b, or state --tokens-per-s")
    eff = catalog.efficiency
    cost = pricing.cost_per_million_tokens(price, stated, n, w.utilization)
    return Estimate(
        gpu=gpu.id, model=None, precision=w.precision, gpus=n, batch=w.batch, fits=None,
        gpus_reason=f"{n} GPU{'s' if n > 1 else ''} as given (no model to size)",
        weights_gb=None, kv_cache_gb=None, memory_needed_gb=None, memory_usable_gb=n * memory.usable_memory_bytes(gpu, eff) / 1e9,
        decode_floor_ms_per_token=None, decode_ms_per_token=None, decode_bound=None, decode_tokens_per_s=None,
        tokens_per_s=stated, tokens_per_s_source="stated", throughput_ceiling_tokens_per_s=None,
        ttft_ms=None, prefill_share=None, price_usd_per_hour=price, utilization=w.utilization,
        cost_per_million_tokens=cost, monthly_cost_usd=pricing.monthly_cost(price, n, eff.hours_per_month),
        warnings=["no model given: the stated throughput cannot be checked against the bandwidth ceiling"],
        workings=(cost_working(n, price, w.utilization, stated, cost),),
    )


def _size(catalog: Catalog, gpu: Gpu, w: Workload, gpus: Optional[int]):
    """GPUs per deployment (given, or the fewest that fit), why, and whether the workload fits."""
    eff = catalog.efficiency
    sizing = memory.gpus_needed(gpu, w.model, w.precision, w.batch, w.context_tokens, eff, w.kv_precision)
    warnings: list[str] = []
    if gpus is None:
        n, reason = sizing.gpus or memory.tensor_parallel_sizes(gpu, w.model)[-1], sizing.reason
    else:
        n, reason = gpus, f"{gpus} as given; the fewest that fit: {sizing.gpus or 'none'} ({sizing.reason})"
        if w.model.kv_heads % n and n % w.model.kv_heads:
            warnings.append(f"{n} GPUs do not split {w.model.kv_heads} KV heads evenly; serving engines need a power of two")
    usable = sizing.usable_per_gpu_bytes
    fits = sizing.need_bytes <= n * usable
    if not fits:
        warnings.append(f"does not fit: {sizing.need_bytes / 1e9:.1f} GB needed, {n} x {usable / 1e9:.1f} GB usable")
    return n, reason, fits, sizing.need_bytes, warnings


def _time(catalog: Catalog, gpu: Gpu, w: Workload, n: int) -> _Timing:
    eff, model = catalog.efficiency, w.model
    kv = w.kv_precision
    step = timing.decode_step(gpu, model, w.precision, n, w.batch, w.mean_decode_context, eff, kv_precision=kv)
    ceiling = timing.decode_step(gpu, model, w.precision, n, w.batch, w.mean_decode_context, eff, ideal=True, kv_precision=kv)
    batch_prefill = timing.prefill(gpu, model, w.precision, n, w.batch, w.prompt_tokens, eff, kv_precision=kv).total_s
    return _Timing(step=step, ceiling_tokens_per_s=w.batch / ceiling.total_s, batch_prefill_s=batch_prefill,
                   first_token_s=timing.prefill(gpu, model, w.precision, n, 1, w.prompt_tokens, eff, kv_precision=kv).total_s,
                   estimated_tokens_per_s=timing.served_tokens_per_s(w.batch, w.output_tokens, batch_prefill, step.total_s))


def _throughput(w: Workload, n: int, gpu: Gpu, times: _Timing, stated: Optional[float], warnings: list) -> tuple[float, str]:
    """The throughput the cost uses: a stated one (checked against the ceiling), else the estimate."""
    tps, source = (times.estimated_tokens_per_s, "estimated") if stated is None else (stated, "stated")
    if stated is not None and stated > times.ceiling_tokens_per_s:
        warnings.append(f"the stated {stated:g} tokens/s is above the {times.ceiling_tokens_per_s:.1f} tokens/s that {n} x {gpu.id} "
                        f"can reach at batch {w.batch} even at 100% of peak bandwidth and compute")
    if w.max_ms_per_token is not None and times.step.total_s * 1e3 > w.max_ms_per_token:
        warnings.append(f"misses the latency target: {times.step.total_s * 1e3:.1f} ms per token > {w.max_ms_per_token:g} ms")
    return tps, source


def _priced(catalog: Catalog, gpu: Gpu, w: Workload, n: int, reason: str, fits: bool, need_bytes: float, times: _Timing,
            tps: float, source: str, price: float, warnings: list) -> Estimate:
    eff = catalog.efficiency
    weights = memory.weight_bytes(w.model.params, w.precision)
    cost = pricing.cost_per_million_tokens(price, tps, n, w.utilization)
    monthly = pricing.monthly_cost(price, n, eff.hours_per_month)
    est = Estimate(
        gpu=gpu.id, model=w.model.id, precision=w.precision, gpus=n, batch=w.batch, fits=fits, gpus_reason=reason,
        weights_gb=weights / 1e9,
        kv_cache_gb=memory.kv_cache_bytes(w.model, w.precision, w.batch, w.context_tokens, w.kv_precision) / 1e9,
        memory_needed_gb=need_bytes / 1e9,
        memory_usable_gb=n * memory.usable_memory_bytes(gpu, eff) / 1e9,
        decode_floor_ms_per_token=timing.decode_floor_s(weights, gpu.bandwidth_bytes_per_s, n) * 1e3,
        decode_ms_per_token=times.step.total_s * 1e3,
        decode_bound=times.step.bound,
        decode_tokens_per_s=w.batch / times.step.total_s,
        tokens_per_s=tps,
        tokens_per_s_source=source,
        throughput_ceiling_tokens_per_s=times.ceiling_tokens_per_s,
        ttft_ms=times.first_token_s * 1e3,
        prefill_share=times.batch_prefill_s / times.busy_s(w.output_tokens),
        price_usd_per_hour=price,
        utilization=w.utilization,
        cost_per_million_tokens=cost,
        monthly_cost_usd=monthly,
        warnings=warnings,
    )
    return replace(est, workings=_workings(catalog, gpu, w, est, times))


def _workings(catalog: Catalog, gpu: Gpu, w: Workload, est: Estimate, times: _Timing) -> tuple:
    """The formulas behind ``est``, each with the numbers this estimate used."""
    eff, n, step = catalog.efficiency, est.gpus, times.step
    usable = memory.usable_memory_bytes(gpu, eff)
    return (
        Working("memory", f"weights {w.model.params / 1e9:.1f}B params x {BYTES_PER_WEIGHT[w.precision]:g} B ({w.precision}) = "
                          f"{est.weights_gb:.1f} GB; KV cache {w.batch} seq x {w.context_tokens} tokens = {est.kv_cache_gb:.1f} GB; "
                          f"usable per GPU {eff.memory.usable_fraction.value:g} x {gpu.memory_gb.value:g} GB - "
                          f"{eff.memory.reserved_gb.value:g} GB = {usable / 1e9:.1f} GB -> {est.gpus_reason}"),
        Working("decode floor", f"weights / (GPUs x bandwidth) = {est.weights_gb:.1f} GB / ({n} x {gpu.bandwidth_bytes_per_s / 1e12:.2f} TB/s) "
                                f"= {est.decode_floor_ms_per_token:.1f} ms per token (the seed's formula)"),
        Working("decode step", f"max(memory {step.memory_s * 1e3:.2f} ms, compute {step.compute_s * 1e3:.2f} ms) + all-reduce "
                               f"{step.communication_s * 1e3:.2f} ms = {step.total_s * 1e3:.2f} ms per token ({step.bound}-bound)"),
        Working("throughput", f"batch x output / (prefill + output x step) = {w.batch} x {w.output_tokens} / "
                              f"({times.batch_prefill_s:.3f} s + {w.output_tokens} x {step.total_s * 1e3:.2f} ms) = "
                              f"{times.estimated_tokens_per_s:,.0f} tokens/s ({times.estimated_tokens_per_s / n:,.0f} per GPU)"),
        cost_working(n, est.price_usd_per_hour, est.utilization, est.tokens_per_s, est.cost_per_million_tokens),
    )


def cost_working(n: int, price: float, utilization: float, tps: float, cost: float) -> Working:
    return Working("cost per million tokens", f"GPUs x price x 1e6 / (3600 x utilization x tokens/s) = {n} x ${price:.2f} x 1e6 / "
                                              f"(3600 x {utilization:.2f} x {tps:,.0f}) = ${cost:.2f}")


@dataclass(frozen=True)
class Ranked:
    """One row of a comparison: the estimate (None when the GPU cannot run the workload at all)."""

    gpu: str
    estimate: Optional[Estimate]
    eligible: bool
    chosen: bool
    lost_because: Optional[str]
    break_even_price_usd_per_hour: Optional[float] = None
    break_even_utilization: Optional[float] = None

    def to_json(self) -> dict:
        body = self.estimate.to_json() if self.estimate else {"gpu": self.gpu}
        body.update(
            eligible=self.eligible, chosen=self.chosen, lost_because=self.lost_because,
            break_even_price_usd_per_hour=round_figure(self.break_even_price_usd_per_hour),
            break_even_utilization=round_figure(self.break_even_utilization),
        )
        return body


def compare(
    catalog: Catalog,
    workload: Workload,
    *,
    gpus: Optional[int] = None,
    prices: Optional[dict[str, float]] = None,
    baseline: str = defaults.A100,
) -> list[Ranked]:
    """Every catalog GPU on ``workload``, cheapest eligible first, each loser with its reason.

    Ineligible: cannot run the precision, does not fit in one node, misses the latency target.
    Break-even figures are against ``baseline`` (the seed's A100): the hourly price at which a
    GPU would cost the same per token, and the utilization the baseline needs to match it.
    """
    if workload.model is None:
        raise UsageError("compare needs a model", "give --model or --params-b")
    prices = prices or {}
    for gpu_id in prices:
        catalog.gpu(gpu_id)
    catalog.gpu(baseline)
    rows = [_rank_row(catalog, gpu, workload, gpus, prices.get(gpu.id)) for gpu in catalog.gpus.values()]
    eligible = sorted((r for r in rows if r.eligible), key=lambda r: r.estimate.cost_per_million_tokens)
    others = sorted((r for r in rows if not r.eligible), key=lambda r: (r.estimate is None, r.gpu))
    if eligible:
        best = eligible[0].estimate.cost_per_million_tokens
        eligible = [replace(eligible[0], chosen=True)] + [
            replace(r, lost_because=f"costs more (+{(r.estimate.cost_per_million_tokens / best - 1) * 100:.0f}% per token)")
            for r in eligible[1:]
        ]
    base = next((r.estimate for r in rows if r.gpu == baseline and r.estimate and r.estimate.fits), None)
    return [_with_break_even(r, base) for r in eligible + others]


def _rank_row(catalog: Catalog, gpu: Gpu, workload: Workload, gpus: Optional[int], price: Optional[float]) -> Ranked:
    """One GPU's row before ranking: eligible, or the reason it is not."""
    if not gpu.supports(workload.precision):
        return Ranked(gpu.id, None, False, False, f"no {workload.precision.upper()} support")
    est = estimate(catalog, gpu, workload, gpus=gpus, price_usd_per_hour=price)
    if not est.fits:
        reason = "does not fit" + (f" on {est.gpus} GPUs" if gpus else f" in one {gpu.gpus_per_node}-GPU node")
    elif workload.max_ms_per_token is not None and est.decode_ms_per_token > workload.max_ms_per_token:
        reason = f"misses the latency target ({est.decode_ms_per_token:.1f} > {workload.max_ms_per_token:g} ms per token)"
    else:
        reason = None
    return Ranked(gpu.id, est, reason is None, False, reason)


def _with_break_even(row: Ranked, base: Optional[Estimate]) -> Ranked:
    est = row.estimate
    if base is None or est is None or not est.fits:
        return row
    return replace(
        row,
        break_even_price_usd_per_hour=pricing.break_even_price(
            base.price_usd_per_hour, base.gpus, base.tokens_per_s, est.gpus, est.tokens_per_s
        ),
        break_even_utilization=pricing.break_even_utilization(
            base.price_usd_per_hour, base.gpus, base.tokens_per_s, est.price_usd_per_hour, est.gpus, est.tokens_per_s, est.utilization
        ),
    )


def round_figure(value):
    """Round floats for stable, readable JSON (4 decimals; figures are in dollars, ms, GB, shares)."""
    if isinstance(value, float):
        return round(value, 4)
    return value
