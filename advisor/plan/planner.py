"""The planner: for every GPU, the cheapest deployment that carries the peak load within the
headroom and meets both latency targets, or why there is none.

The search, per GPU (enumerate, evaluate, keep every dropped candidate with its reason, pick):

1. each precision the GPU serves in the requested class (8-bit: FP8 where it has FP8 tensor
   cores, INT8 weight-only elsewhere) and each tensor-parallel size in its node that holds the
   weights and one sequence's KV cache;
2. the largest concurrency B* whose TPOT meets the target and whose KV cache fits, and the
   replica's capacity there, mu = B* / (OSL x TPOT(B*)) requests/s;
3. replicas R = ceil(peak / (headroom x mu)), raised until the TTFT at the peak per replica
   (peak / R) meets its target;
4. the monthly cost R x GPUs per replica x price x 730 h; the cheapest candidate is the GPU's plan.

Without a traffic figure, a plan is one replica at the largest load that meets both targets
within the headroom, and its costs per token are at that load.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, fields, replace
from typing import Optional, Union

from ..catalog.efficiency import Efficiency
from ..catalog.hardware import Gpu
from ..catalog.load import Catalog
from ..catalog.precisions import KV_PRECISION, SERVED_AS
from ..perf import memory
from ..perf.checks import gb
from ..perf.serving import Replica
from .request import PlanRequest

SECONDS_PER_MONTH_PER_HOUR = 3600
MAX_REPLICAS = 100_000  # beyond this the load is not one deployment's


@dataclass(frozen=True)
class Plan:
    """One deployment that meets the targets: its shape, its figures at the peak, and its costs."""

    gpu: str
    precision: str
    kv_precision: str
    gpus_per_replica: int
    replicas: int
    concurrency: float  # sequences in flight per replica at the peak load
    max_concurrency: int  # the most it may run: the TPOT target and the KV cache allow no more
    capacity_rps: float  # one replica's requests/s at max_concurrency
    tpot_ms: float  # at the peak
    ttft_ms: float  # at the peak
    utilization_avg: float  # share of the capacity the average load uses
    utilization_peak: float
    price_usd_per_hour: float
    monthly_cost_usd: float
    usd_per_million_input_tokens: float
    usd_per_million_output_tokens: float
    usd_per_million_tokens: float  # blended: all tokens, in and out
    input_share: float  # share of GPU time spent on prompts
    load_rps: float  # the average load the costs are for
    peak_rps: float

    @property
    def total_gpus(self) -> int:
        return self.replicas * self.gpus_per_replica

    def to_json(self) -> dict:
        """The figures as records keep them (rounded to 4 decimals), rounded once per plan: a
        cached plan serves many decisions."""
        return dict(self._rounded)

    @functools.cached_property
    def _rounded(self) -> dict:
        body = {name: _round(getattr(self, name)) for name in _PLAN_FIELDS}
        body["total_gpus"] = self.total_gpus
        return body


_PLAN_FIELDS = tuple(f.name for f in fields(Plan))


@dataclass(frozen=True)
class Candidate:
    """A point of the searched space: kept with its plan, or dropped with the reason."""

    gpu: str
    precision: str
    gpus_per_replica: int
    plan: Optional[Plan]
    reason: Optional[str]  # why it was dropped, or why it lost to the GPU's plan

    def to_json(self) -> dict:
        return {"gpu": self.gpu, "precision": self.precision, "gpus_per_replica": self.gpus_per_replica,
                "plan": self.plan.to_json() if self.plan else None, "reason": self.reason}


@dataclass(frozen=True)
class GpuPlan:
    """A GPU's cheapest plan, or why it has none, with every candidate it was chosen from."""

    gpu: str
    plan: Optional[Plan]
    reason: Optional[str]  # why there is no plan (the GPU's best attempt)
    candidates: tuple = ()

    def to_json(self) -> dict:
        return {"gpu": self.gpu, "plan": self.plan.to_json() if self.plan else None, "reason": self.reason,
                "candidates": [c.to_json() for c in self.candidates]}


class Plans(dict):
    """Every catalog GPU's plan for one request, by GPU id in catalog order. A cached Plans serves
    every scenario of its request, so what follows from the plans alone is worked out once and
    kept with them in ``derived`` (by the caller's key; shared values: never change one)."""

    __slots__ = ("derived",)

    def __init__(self, plans: dict):
        super().__init__(plans)
        self.derived: dict = {}


@dataclass
class Planner:
    """Plans for every GPU of a catalog, cached at three levels so that a batch or a sweep pays
    once for what repeats: each request's plans (by request, prices included); each GPU's
    candidates sized for a load, before any price (by request without its prices: a new quote
    only reprices them); and each candidate's replica at its most concurrency (by workload and
    targets, whatever the load). Every level computes what ``plan_gpu`` computes, in the same
    order, so a cached plan is the plan."""

    catalog: Catalog
    cache_size: int = 512  # requests' plans kept (each ~70 KB with what callers keep beside it)
    _cache: dict = field(default_factory=dict, repr=False)
    _sized: dict = field(default_factory=dict, repr=False)
    _replicas: dict = field(default_factory=dict, repr=False)
    _single: dict = field(default_factory=dict, repr=False)  # (request, GPU id) -> that GPU's plan, for plan_one

    def plan_all(self, request: PlanRequest) -> Plans:
        """Every catalog GPU's plan (or why none), in catalog order."""
        cached = self._cache.get(request)
        if cached is None:
            sized = _remembered(self._sized, replace(request, prices=()) if request.prices else request, 4 * self.cache_size,
                                lambda: {gpu_id: _size_gpu(self.catalog.efficiency, gpu, request, self._replica)
                                         for gpu_id, gpu in self.catalog.gpus.items()})
            cached = _remembered(self._cache, request, self.cache_size,
                                 lambda: Plans({gpu_id: _price_gpu(gpu, sized[gpu_id], request, self.catalog.efficiency.hours_per_month)
                                                for gpu_id, gpu in self.catalog.gpus.items()}))
        return cached

    def plan_one(self, request: PlanRequest, gpu_id: str) -> "GpuPlan":
        """One GPU's plan for ``request``, as ``plan_all`` gives it, without planning the others
        (taken from the request's plans when they are cached)."""
        cached = self._cache.get(request)
        if cached is not None:
            return cached[gpu_id]
        return _remembered(self._single, (request, gpu_id), 4 * self.cache_size,
                           lambda: plan_gpu(self.catalog, self.catalog.gpu(gpu_id), request, self._replica))

    def _replica(self, eff: Efficiency, gpu: Gpu, precision: str, tp: int, request: PlanRequest):
        key = (gpu.id, precision, tp, request.model, request.prompt_tokens, request.output_tokens, request.targets, request.kv_precision)
        return _remembered(self._replicas, key, 64 * self.cache_size, lambda: _at_most(eff, gpu, precision, tp, request))


def _remembered(cache: dict, key, size: int, compute):
    """``cache[key]``, computed on a miss; the oldest entry makes room (insertion order)."""
    value = cache.get(key)
    if value is None:
        if len(cache) >= size:
            cache.pop(next(iter(cache)))
        value = cache[key] = compute()
    return value


def plan_gpu(catalog: Catalog, gpu: Gpu, request: PlanRequest, at_most=None) -> GpuPlan:
    """The cheapest plan on ``gpu`` among its precisions and tensor-parallel sizes (``at_most``:
    how a candidate's replica is found, ``_at_most`` or a cache of it)."""
    eff = catalog.efficiency
    return _price_gpu(gpu, _size_gpu(eff, gpu, request, at_most or _at_most), request, eff.hours_per_month)


def _size_gpu(eff: Efficiency, gpu: Gpu, request: PlanRequest, at_most) -> Union[str, list]:
    """Every candidate of ``gpu`` sized for the request's load (a Sized, or why it was dropped),
    or why the GPU has no candidate at all."""
    precisions = served_precisions(gpu, request)
    if not precisions:
        return f"serves no {request.precision_class} precision"
    return [(precision, tp, _sized(at_most(eff, gpu, precision, tp, request), request))
            for precision in precisions for tp in memory.tensor_parallel_sizes(gpu, request.model)]


def _price_gpu(gpu: Gpu, sized: Union[str, list], request: PlanRequest, hours: float) -> GpuPlan:
    if isinstance(sized, str):
        return GpuPlan(gpu.id, None, sized)
    price = request.price_of(gpu.id) or gpu.price.usd_per_hour
    candidates = [Candidate(gpu.id, precision, tp, None, one) if isinstance(one, str) else
                  Candidate(gpu.id, precision, tp, one.priced(price, hours), None) for precision, tp, one in sized]
    kept = sorted((c for c in candidates if c.plan), key=lambda c: (c.plan.monthly_cost_usd, c.plan.total_gpus, c.plan.ttft_ms))
    if not kept:
        return GpuPlan(gpu.id, None, _why_none(gpu, candidates), tuple(candidates))
    best = kept[0]
    ranked = [best] + [_lost(c, best.plan) for c in candidates if c is not best]
    return GpuPlan(gpu.id, best.plan, None, tuple(ranked))


def served_precisions(gpu: Gpu, request: PlanRequest) -> list[str]:
    """The precision ``gpu`` serves the request in: the one asked for 16-bit; for 8 and 4 bits the
    best format of the class it has (FP8 before INT8 weight-only, FP4 before INT4: the same bytes,
    read and computed faster), so a GPU without FP8 serves 8-bit as INT8, never silently as FP16."""
    if request.precision_class == "16-bit":
        return [request.precision]
    return [p for p in SERVED_AS[request.precision_class] if gpu.supports(p)][:1]


def _at_most(eff: Efficiency, gpu: Gpu, precision: str, tp: int, request: PlanRequest) -> Union[str, tuple]:
    """A candidate whatever the load: (its replica, the most concurrency the TPOT target and the
    KV cache allow, the replica's capacity there), or why it is dropped."""
    kv = request.kv_precision or KV_PRECISION[precision]
    replica = Replica(gpu, request.model, precision, kv, tp, eff, request.prompt_tokens, request.output_tokens)
    targets = request.targets
    most = replica.max_sequences()
    if most < 1:
        weights = memory.weight_bytes(request.model.params, precision)
        return (f"does not fit {tp} x {gpu.id}: {gb(weights)} of weights and one sequence's KV cache "
                f"need more than {tp} x {gb(memory.usable_memory_bytes(gpu, eff))} usable")
    if replica.tpot_s(1) * 1e3 > targets.tpot_ms:
        return f"misses TPOT even at concurrency 1: {replica.tpot_s(1) * 1e3:.1f} ms > {targets.tpot_ms:g} ms"
    idle_ttft = replica.ttft_s(0.0, 0.0) * 1e3
    if idle_ttft > targets.ttft_ms:
        return f"misses TTFT even without load: {idle_ttft:,.0f} ms > {targets.ttft_ms:g} ms"
    top = _max_concurrency(replica, most, targets.tpot_ms / 1e3)
    return replica, top, replica.capacity_rps(top)


def _sized(at_most: Union[str, tuple], request: PlanRequest) -> Union[str, "Sized"]:
    """The candidate sized for the request's load (its replicas), or why it is dropped."""
    if isinstance(at_most, str):
        return at_most
    replica, top, capacity = at_most
    targets, traffic = request.targets, request.traffic
    if traffic.requests_per_s is None:
        peak = _largest_load(replica, top, capacity * traffic.headroom, targets.ttft_ms / 1e3)
        replicas, average = 1, peak
    else:
        peak, average = traffic.peak_rps, traffic.requests_per_s
        replicas = _replicas(replica, top, capacity, peak, traffic.headroom, targets.ttft_ms / 1e3)
        if replicas is None:
            return f"needs more than {MAX_REPLICAS:,} replicas"
    return Sized.of(replica, top, capacity, replicas, peak, average)


def _max_concurrency(replica: Replica, most: int, tpot_s: float) -> int:
    """The largest concurrency up to ``most`` whose TPOT meets the target (TPOT rises with concurrency)."""
    if replica.tpot_s(most) <= tpot_s:
        return most
    low, high = 1, most  # tpot(low) meets, tpot(high) does not
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if replica.tpot_s(mid) <= tpot_s else (low, mid)
    return low


def _ttft_at(replica: Replica, top: int, load_rps: float) -> float:
    concurrency = replica.concurrency_at(load_rps, top)
    return math.inf if concurrency is None else replica.ttft_s(concurrency, load_rps)


def _largest_load(replica: Replica, top: int, limit_rps: float, ttft_s: float) -> float:
    """The largest load up to ``limit_rps`` at which one replica meets the TTFT target."""
    if _ttft_at(replica, top, limit_rps) <= ttft_s:
        return limit_rps
    low, high = 0.0, limit_rps
    for _ in range(30):
        mid = (low + high) / 2
        low, high = (mid, high) if _ttft_at(replica, top, mid) <= ttft_s else (low, mid)
    return low


def _replicas(replica: Replica, top: int, capacity: float, peak: float, headroom: float, ttft_s: float) -> Optional[int]:
    """The fewest replicas that carry ``peak`` within the headroom and meet the TTFT target at it."""
    fewest = max(1, math.ceil(peak / (headroom * capacity) - 1e-9))
    meets = lambda r: _ttft_at(replica, top, peak / r) <= ttft_s  # noqa: E731 - more replicas, less load each, lower TTFT
    if meets(fewest):
        return fewest
    high = fewest
    while not meets(high):
        high *= 2
        if high > MAX_REPLICAS:
            return None
    low = high // 2
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if meets(mid) else (mid, high)
    return high


@dataclass(frozen=True)
class Sized:
    """A candidate sized for its load: every figure of its plan but those a price sets."""

    replica: Replica
    replicas: int
    concurrency: float
    max_concurrency: int
    capacity_rps: float
    tpot_ms: float
    ttft_ms: float
    utilization_avg: float
    utilization_peak: float
    input_share: float
    load_rps: float
    peak_rps: float
    input_tokens: float  # a month's, at the average load
    output_tokens: float

    @classmethod
    def of(cls, replica: Replica, top: int, capacity: float, replicas: int, peak: float, average: float) -> "Sized":
        at_peak = replica.concurrency_at(peak / replicas, top)
        at_average = replica.concurrency_at(average / replicas, top)
        seconds = replica.eff.hours_per_month * SECONDS_PER_MONTH_PER_HOUR
        return cls(
            replica=replica, replicas=replicas, concurrency=at_peak, max_concurrency=top, capacity_rps=capacity,
            tpot_ms=replica.tpot_s(at_peak) * 1e3, ttft_ms=replica.ttft_s(at_peak, peak / replicas) * 1e3,
            utilization_avg=average / (replicas * capacity), utilization_peak=peak / (replicas * capacity),
            input_share=replica.input_share(at_average), load_rps=average, peak_rps=peak,
            input_tokens=average * seconds * replica.prompt_tokens, output_tokens=average * seconds * replica.output_tokens,
        )

    def priced(self, price: float, hours: float) -> Plan:
        """The plan at ``price`` USD per GPU-hour for ``hours`` a month."""
        replica, share, inputs, outputs = self.replica, self.input_share, self.input_tokens, self.output_tokens
        monthly = self.replicas * replica.tp * price * hours
        return Plan(
            gpu=replica.gpu.id, precision=replica.precision, kv_precision=replica.kv_precision, gpus_per_replica=replica.tp,
            replicas=self.replicas, concurrency=self.concurrency, max_concurrency=self.max_concurrency, capacity_rps=self.capacity_rps,
            tpot_ms=self.tpot_ms, ttft_ms=self.ttft_ms, utilization_avg=self.utilization_avg, utilization_peak=self.utilization_peak,
            price_usd_per_hour=price, monthly_cost_usd=monthly,
            usd_per_million_input_tokens=monthly * share / inputs * 1e6,
            usd_per_million_output_tokens=monthly * (1 - share) / outputs * 1e6,
            usd_per_million_tokens=monthly / (inputs + outputs) * 1e6, input_share=share, load_rps=self.load_rps, peak_rps=self.peak_rps,
        )


def _lost(candidate: Candidate, best: Plan) -> Candidate:
    if candidate.plan is None:
        return candidate
    extra = candidate.plan.monthly_cost_usd - best.monthly_cost_usd
    reason = (f"costs ${extra:,.0f} more a month (+{extra / best.monthly_cost_usd:.0%})" if extra > 0.005
              else f"same cost, {'more GPUs' if candidate.plan.total_gpus > best.total_gpus else 'slower first token'}")
    return Candidate(candidate.gpu, candidate.precision, candidate.gpus_per_replica, candidate.plan, reason)


def _why_none(gpu: Gpu, candidates: list[Candidate]) -> str:
    """The reason of the largest candidate (the one closest to fitting), or of the only one."""
    if not candidates:
        return f"no tensor-parallel size of {gpu.id} splits the model's attention heads"
    last = max(candidates, key=lambda c: c.gpus_per_replica)
    if last.reason and last.reason.startswith("does not fit"):
        return f"does not fit one {gpu.gpus_per_node}-GPU node: " + last.reason.split(": ", 1)[1]
    return last.reason


def ranked(plans: dict[str, GpuPlan]) -> list[GpuPlan]:
    """GPUs with a plan, cheapest a month first, then those without."""
    feasible = sorted((p for p in plans.values() if p.plan), key=lambda p: (p.plan.monthly_cost_usd, p.plan.total_gpus))
    return feasible + [p for p in plans.values() if not p.plan]


def _round(value):
    return round(value, 4) if isinstance(value, float) and math.isfinite(value) else value


def workings(catalog: Catalog, request: PlanRequest, plan: Plan) -> list[tuple[str, str]]:
    """The formulas behind ``plan``, with its numbers, from the same serving model the search used:
    (name, formula with the numbers put in)."""
    gpu, eff = catalog.gpu(plan.gpu), catalog.efficiency
    replica = Replica(gpu, request.model, plan.precision, plan.kv_precision, plan.gpus_per_replica, eff,
                      request.prompt_tokens, request.output_tokens)
    step = replica.mixed_step(plan.concurrency)
    tp, top = plan.gpus_per_replica, plan.max_concurrency
    weights = memory.weight_bytes(request.model.params, plan.precision)
    kv = memory.kv_bytes_per_token_per_gpu(request.model, plan.precision, tp, plan.kv_precision)
    context = request.prompt_tokens + request.output_tokens
    seconds = eff.hours_per_month * SECONDS_PER_MONTH_PER_HOUR
    tokens = plan.load_rps * seconds * context
    return [
        ("memory", f"per GPU: {gb(weights)} weights / {tp} + {replica.max_sequences():,} sequences x {context:,} tokens x "
                   f"{kv:,.0f} B of KV cache fit in {gb(memory.usable_memory_bytes(gpu, eff))} usable"),
        ("iteration", f"at {plan.concurrency:,.1f} sequences: overhead {step.overhead_s * 1e3:.2f} ms + max(weights "
                      f"{step.weights_s * 1e3:.2f}, matmul {step.matmul_s * 1e3:.2f}) + max(KV {step.kv_s * 1e3:.2f}, attention "
                      f"{step.attention_s * 1e3:.2f}) + all-reduce {step.communication_s * 1e3:.2f} = TPOT {step.total_s * 1e3:.1f} ms"),
        ("capacity", f"most concurrency within TPOT {request.targets.tpot_ms:g} ms: {top:,}; a replica completes "
                     f"{top:,} / ({request.output_tokens} x {replica.tpot_s(top) * 1e3:.1f} ms) = {plan.capacity_rps:,.2f} requests/s"),
        ("replicas", f"ceil({plan.peak_rps:,.2f} requests/s at the peak / ({request.traffic.headroom:g} x {plan.capacity_rps:,.2f})) "
                     f"= {math.ceil(plan.peak_rps / (request.traffic.headroom * plan.capacity_rps) - 1e-9)}; with TTFT "
                     f"{plan.ttft_ms:,.0f} ms <= {request.targets.ttft_ms:g} ms: {plan.replicas}"),
        ("monthly cost", f"{plan.replicas} replica{'s' if plan.replicas != 1 else ''} x {tp} GPU{'s' if tp != 1 else ''} "
                         f"x ${plan.price_usd_per_hour:.2f} x {eff.hours_per_month:g} h "
                         f"= ${plan.monthly_cost_usd:,.0f}"),
        ("cost per million tokens", f"${plan.monthly_cost_usd:,.0f} / ({plan.load_rps:,.2f} requests/s x {seconds:,.0f} s x "
                                    f"{context:,} tokens) x 1e6 = ${plan.usd_per_million_tokens:.3f}"
                                    + (f" ({tokens / 1e9:,.1f}B tokens a month)" if tokens else "")),
    ]
