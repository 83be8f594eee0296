"""Deployments: a workload on a GPU type, sized, timed and priced; and all GPUs ranked by cost.

This composes the pure formulas of costmodel into the figures the CLI prints and the rules
engine reads. Every number keeps its unit in its name.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Optional

from . import costmodel as cm
from .catalogs import Catalog, Gpu, ModelSpec
from .errors import UsageError

DEFAULT_PRECISION = "fp16"
DEFAULT_PROMPT_TOKENS = 512
DEFAULT_OUTPUT_TOKENS = 256


@dataclass(frozen=True)
class Workload:
    """What is served. ``model`` None means "unknown": only a stated throughput can be priced."""

    model: Optional[ModelSpec] = None
    precision: str = DEFAULT_PRECISION
    batch: int = 1
    prompt_tokens: int = DEFAULT_PROMPT_TOKENS
    output_tokens: int = DEFAULT_OUTPUT_TOKENS
    utilization: float = 1.0
    max_ms_per_token: Optional[float] = None

    def __post_init__(self):
        for name in ("batch", "prompt_tokens", "output_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UsageError(f"{name} must be a whole number of at least 1, got {value!r}")
        if not (isinstance(self.utilization, (int, float)) and 0 < self.utilization <= 1):
            raise UsageError(f"utilization must be in (0, 1], got {self.utilization!r}", "0.6 means busy 60% of paid hours")
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

    def to_json(self) -> dict:
        return {k: _round(v) for k, v in asdict(self).items()}


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
    eff = catalog.efficiency
    price = gpu.price.usd_per_hour if price_usd_per_hour is None else price_usd_per_hour
    _check_positive("price", price)
    if stated_tokens_per_s is not None:
        _check_positive("tokens per second", stated_tokens_per_s)
    if gpus is not None and (isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 1):
        raise UsageError(f"gpus must be a whole number of at least 1, got {gpus!r}")
    usable = cm.usable_memory_bytes(gpu, eff)
    model, w = workload.model, workload
    warnings: list[str] = []

    if model is None:
        if stated_tokens_per_s is None:
            raise UsageError("nothing to estimate without a model", "give --model or --params-b, or state --tokens-per-s")
        n = gpus or 1
        warnings.append("no model given: the stated throughput cannot be checked against the bandwidth ceiling")
        return Estimate(
            gpu=gpu.id, model=None, precision=w.precision, gpus=n, batch=w.batch, fits=None,
            gpus_reason=f"{n} GPU{'s' if n > 1 else ''} as given (no model to size)",
            weights_gb=None, kv_cache_gb=None, memory_needed_gb=None, memory_usable_gb=n * usable / 1e9,
            decode_floor_ms_per_token=None, decode_ms_per_token=None, decode_bound=None, decode_tokens_per_s=None,
            tokens_per_s=stated_tokens_per_s, tokens_per_s_source="stated", throughput_ceiling_tokens_per_s=None,
            ttft_ms=None, prefill_share=None, price_usd_per_hour=price, utilization=w.utilization,
            cost_per_million_tokens=cm.cost_per_million_tokens(price, stated_tokens_per_s, n, w.utilization),
            monthly_cost_usd=cm.monthly_cost(price, n, eff.deployment.hours_per_month.value), warnings=warnings,
        )

    cm.check_precision(gpu, w.precision)
    sizing = cm.gpus_needed(gpu, model, w.precision, w.batch, w.context_tokens, eff)
    if gpus is None:
        n = sizing.gpus or cm.tensor_parallel_sizes(model, eff)[-1]
        reason = sizing.reason
    else:
        n = gpus
        reason = f"{n} as given; the fewest that fit: {sizing.gpus or 'none'} ({sizing.reason})"
        if model.kv_heads % n and n % model.kv_heads:
            warnings.append(f"{n} GPUs do not split {model.kv_heads} KV heads evenly; serving engines need a power of two")
    fits = sizing.need_bytes <= n * usable
    if not fits:
        warnings.append(f"does not fit: {sizing.need_bytes / 1e9:.1f} GB needed, {n} x {usable / 1e9:.1f} GB usable")

    weights = cm.weight_bytes(model.params, w.precision)
    step = cm.decode_step(gpu, model, w.precision, n, w.batch, w.mean_decode_context, eff)
    ceiling_step = cm.decode_step(gpu, model, w.precision, n, w.batch, w.mean_decode_context, eff, ideal=True)
    batch_prefill = cm.prefill(gpu, model, w.precision, n, w.batch, w.prompt_tokens, eff)
    first_token = cm.prefill(gpu, model, w.precision, n, 1, w.prompt_tokens, eff)
    estimated_tps = cm.served_tokens_per_s(w.batch, w.output_tokens, batch_prefill.total_s, step.total_s)
    ceiling_tps = w.batch / ceiling_step.total_s
    busy_s = batch_prefill.total_s + w.output_tokens * step.total_s

    if stated_tokens_per_s is not None:
        tps, source = stated_tokens_per_s, "stated"
        if stated_tokens_per_s > ceiling_tps:
            warnings.append(
                f"the stated {stated_tokens_per_s:g} tokens/s is above the {ceiling_tps:.1f} tokens/s that {n} x {gpu.id} "
                f"can reach at batch {w.batch} even at 100% of peak bandwidth and compute"
            )
    else:
        tps, source = estimated_tps, "estimated"
    if w.max_ms_per_token is not None and step.total_s * 1e3 > w.max_ms_per_token:
        warnings.append(f"misses the latency target: {step.total_s * 1e3:.1f} ms per token > {w.max_ms_per_token:g} ms")

    return Estimate(
        gpu=gpu.id, model=model.id, precision=w.precision, gpus=n, batch=w.batch, fits=fits, gpus_reason=reason,
        weights_gb=weights / 1e9,
        kv_cache_gb=cm.kv_cache_bytes(model, w.precision, w.batch, w.context_tokens) / 1e9,
        memory_needed_gb=sizing.need_bytes / 1e9,
        memory_usable_gb=n * usable / 1e9,
        decode_floor_ms_per_token=cm.decode_floor_s(weights, gpu.bandwidth_bytes_per_s, n) * 1e3,
        decode_ms_per_token=step.total_s * 1e3,
        decode_bound=step.bound,
        decode_tokens_per_s=w.batch / step.total_s,
        tokens_per_s=tps,
        tokens_per_s_source=source,
        throughput_ceiling_tokens_per_s=ceiling_tps,
        ttft_ms=first_token.total_s * 1e3,
        prefill_share=batch_prefill.total_s / busy_s,
        price_usd_per_hour=price,
        utilization=w.utilization,
        cost_per_million_tokens=cm.cost_per_million_tokens(price, tps, n, w.utilization),
        monthly_cost_usd=cm.monthly_cost(price, n, eff.deployment.hours_per_month.value),
        warnings=warnings,
    )


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
            break_even_price_usd_per_hour=_round(self.break_even_price_usd_per_hour),
            break_even_utilization=_round(self.break_even_utilization),
        )
        return body


def compare(
    catalog: Catalog,
    workload: Workload,
    *,
    gpus: Optional[int] = None,
    prices: Optional[dict[str, float]] = None,
    baseline: str = "a100-80gb",
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
    rows: list[Ranked] = []
    for gpu in catalog.gpus.values():
        if not gpu.supports(workload.precision):
            rows.append(Ranked(gpu.id, None, False, False, f"no {workload.precision.upper()} support"))
            continue
        est = estimate(catalog, gpu, workload, gpus=gpus, price_usd_per_hour=prices.get(gpu.id))
        if not est.fits:
            reason = "does not fit" + (f" on {est.gpus} GPUs" if gpus else f" in one {catalog.efficiency.max_gpus}-GPU node")
        elif workload.max_ms_per_token is not None and est.decode_ms_per_token > workload.max_ms_per_token:
            reason = f"misses the latency target ({est.decode_ms_per_token:.1f} > {workload.max_ms_per_token:g} ms per token)"
        else:
            reason = None
        rows.append(Ranked(gpu.id, est, reason is None, False, reason))

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


def _with_break_even(row: Ranked, base: Optional[Estimate]) -> Ranked:
    est = row.estimate
    if base is None or est is None or not est.fits:
        return row
    return replace(
        row,
        break_even_price_usd_per_hour=cm.break_even_price(
            base.price_usd_per_hour, base.gpus, base.tokens_per_s, est.gpus, est.tokens_per_s
        ),
        break_even_utilization=cm.break_even_utilization(
            base.price_usd_per_hour, base.gpus, base.tokens_per_s, est.price_usd_per_hour, est.gpus, est.tokens_per_s, est.utilization
        ),
    )


def _check_positive(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise UsageError(f"{name} must be a positive number, got {value!r}")


def _round(value):
    """Round floats for stable, readable JSON (4 significant decimals where it matters)."""
    if isinstance(value, float):
        return round(value, 4)
    return value
