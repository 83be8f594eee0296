"""The numeric model: pure functions, SI units (bytes, seconds, FLOPs, USD), formula in each docstring.

A roofline model of LLM inference. Decode reads every weight once per step (memory-bound until
the batch is large), prefill multiplies every weight by every prompt token (compute-bound), and
tensor parallelism adds two all-reduces per layer. The efficiency factors come from
rules/catalogs/efficiency.yaml, each with the measurement it was taken from; nothing here is a
lookup table of measurements.

Conventions: 1 GB = 1e9 bytes (datasheets use decimal units); "tokens/s" counts generated
(output) tokens; a deployment is ``gpus`` identical GPUs serving one model replica in tensor
parallel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .catalogs import BYTES_PER_WEIGHT, KV_PRECISION, PRECISIONS, Efficiency, Gpu, ModelSpec
from .errors import UsageError

ACTIVATION_BYTES = 2  # activations exchanged by all-reduces stay 16-bit in every precision here


# --- the seed's own arithmetic --------------------------------------------------------------


def cost_per_million_tokens(hourly_usd: float, tokens_per_s: float, gpus: int = 1, utilization: float = 1.0) -> float:
    """USD per million generated tokens.

    cost = gpus x hourly price x 1e6 / (3600 x utilization x tokens/s)

    ``hourly_usd`` is per GPU; ``tokens_per_s`` is the whole deployment's throughput while busy;
    ``utilization`` is the share of paid hours it is busy. With one GPU at full utilization this
    is the seed's ``hourly_cost / (tokens_per_second x 3600) x 1_000_000``.
    """
    _positive(hourly_usd=hourly_usd, tokens_per_s=tokens_per_s, gpus=gpus)
    _fraction(utilization)
    return gpus * hourly_usd * 1e6 / (3600 * utilization * tokens_per_s)


def decode_floor_s(weight_bytes: float, bandwidth_bytes_per_s: float, gpus: int = 1) -> float:
    """The seed's minimum time per decode step: every weight read once at full bandwidth.

    floor = weight bytes / (gpus x bandwidth)     e.g. 140 GB / 2.0 TB/s = 70 ms
    """
    _positive(weight_bytes=weight_bytes, bandwidth_bytes_per_s=bandwidth_bytes_per_s, gpus=gpus)
    return weight_bytes / (gpus * bandwidth_bytes_per_s)


# --- memory -------------------------------------------------------------------------------


def check_precision(gpu: Gpu, precision: str) -> None:
    """Raise a UsageError naming the alternatives when ``gpu`` cannot run ``precision``."""
    if precision not in PRECISIONS:
        raise UsageError(f"unknown precision {precision!r}", f"choose one of {', '.join(PRECISIONS)}")
    if not gpu.supports(precision):
        others = [p for p in PRECISIONS if gpu.supports(p)]
        raise UsageError(
            f"{gpu.id} has no {precision.upper()} tensor cores",
            f"use {', '.join(others)} on it, or a GPU with {precision.upper()} such as h100-80gb",
        )


def weight_bytes(params: float, precision: str) -> float:
    """weights W = parameters x bytes per weight (fp16/bf16 2, fp8/int8 1, int4 0.5)."""
    return params * BYTES_PER_WEIGHT[precision]


def kv_bytes_per_token(model: ModelSpec, precision: str) -> float:
    """KV cache per token = 2 (K and V) x layers x kv_heads x head_dim x bytes per element.

    The element size follows the weights' activation precision (catalogs.KV_PRECISION): 2 bytes,
    or 1 with FP8 weights. Llama-2-70B in fp16: 2 x 80 x 8 x 128 x 2 = 327,680 B (0.33 MB).
    """
    return 2 * model.layers * model.kv_heads * model.head_dim * BYTES_PER_WEIGHT[KV_PRECISION[precision]]


def kv_cache_bytes(model: ModelSpec, precision: str, sequences: int, tokens_per_sequence: int) -> float:
    """KV cache of a batch = sequences x tokens per sequence x KV bytes per token."""
    return sequences * tokens_per_sequence * kv_bytes_per_token(model, precision)


def usable_memory_bytes(gpu: Gpu, eff: Efficiency) -> float:
    """usable = usable_fraction x memory - reserved (0.9 x 80 GB - 2 GB = 70 GB on an 80 GB GPU)."""
    return eff.memory.usable_fraction.value * gpu.memory_bytes - eff.memory.reserved_gb.value * 1e9


@dataclass(frozen=True)
class Sizing:
    """How many GPUs a model needs, and the sentence that says why."""

    gpus: Optional[int]  # None: does not fit on the largest deployment allowed
    need_bytes: float
    usable_per_gpu_bytes: float
    reason: str


def tensor_parallel_sizes(model: ModelSpec, eff: Efficiency) -> list[int]:
    """Powers of two up to the node size and not above the KV-head count (each GPU owns whole heads)."""
    sizes, n = [], 1
    while n <= min(eff.max_gpus, model.kv_heads):
        sizes.append(n)
        n *= 2
    return sizes


def gpus_needed(gpu: Gpu, model: ModelSpec, precision: str, sequences: int, context_tokens: int, eff: Efficiency) -> Sizing:
    """Smallest tensor-parallel size N whose usable memory holds weights plus the batch's KV cache.

    N = min { n in 1, 2, 4, 8 (n <= kv_heads) : W + KV(sequences, context) <= n x usable }
    """
    weights = weight_bytes(model.params, precision)
    kv = kv_cache_bytes(model, precision, sequences, context_tokens)
    need = weights + kv
    usable = usable_memory_bytes(gpu, eff)
    sizes = tensor_parallel_sizes(model, eff)
    what = f"{_gb(weights)} weights + {_gb(kv)} KV cache = {_gb(need)}"
    per_gpu = f"{eff.memory.usable_fraction.value:g} x {gpu.memory_gb.value:g} GB - {eff.memory.reserved_gb.value:g} GB"
    for n in sizes:
        if need <= n * usable:
            if n == 1:
                return Sizing(1, need, usable, f"{what} fits in one GPU's {_gb(usable)} usable ({per_gpu})")
            smaller = n // 2
            return Sizing(
                n, need, usable,
                f"{what} needs {n} GPUs: {smaller} GPU{'s give' if smaller > 1 else ' gives'} only "
                f"{_gb(smaller * usable)} usable ({per_gpu} each)",
            )
    top = sizes[-1]
    return Sizing(
        None, need, usable,
        f"{what} does not fit: {top} GPUs (the most for this model and node) give {_gb(top * usable)} usable ({per_gpu} each)",
    )


# --- time ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepTime:
    """One forward pass: the three roofline terms and their combination, in seconds."""

    memory_s: float
    compute_s: float
    communication_s: float

    @property
    def total_s(self) -> float:
        """max(memory, compute) + communication: the slower resource decides, all-reduces add on."""
        return max(self.memory_s, self.compute_s) + self.communication_s

    @property
    def bound(self) -> str:
        return "memory" if self.memory_s >= self.compute_s else "compute"


def allreduce_s(message_bytes: float, gpus: int, gpu: Gpu, eff: Efficiency) -> float:
    """Ring all-reduce: latency + 2 (N-1)/N x bytes / (one-direction link bandwidth x efficiency)."""
    if gpus <= 1:
        return 0.0
    link = gpu.link_bytes_per_s(gpus) * eff.allreduce.link_efficiency.value
    return eff.allreduce.latency_us.value * 1e-6 + 2 * (gpus - 1) / gpus * message_bytes / link


def _communication_s(model: ModelSpec, tokens: int, gpus: int, gpu: Gpu, eff: Efficiency) -> float:
    """Two all-reduces per layer (after attention and after the MLP) of tokens x hidden activations."""
    return 2 * model.layers * allreduce_s(tokens * model.hidden_size * ACTIVATION_BYTES, gpus, gpu, eff)


def decode_step(
    gpu: Gpu, model: ModelSpec, precision: str, gpus: int, batch: int, context_tokens: float, eff: Efficiency, *, ideal: bool = False
) -> StepTime:
    """Time of one decode step generating one token for each of ``batch`` sequences.

    memory  = (W + batch x context x KV/token) / (gpus x bandwidth x eta_bw)
    compute = batch x (2 x params + 4 x layers x heads x head_dim x context) / (gpus x peak x eta_f)
    comm    = 2 x layers x allreduce(batch x hidden x 2 bytes)          (gpus > 1)
    step    = max(memory, compute) + comm

    ``ideal`` sets both efficiencies to 1 and drops communication: the physical ceiling.
    """
    eta_bw = 1.0 if ideal else eff.decode_bandwidth_efficiency[precision].value
    eta_f = 1.0 if ideal else eff.compute_efficiency[precision].value
    read = weight_bytes(model.params, precision) + batch * context_tokens * kv_bytes_per_token(model, precision)
    flops = batch * (2 * model.params + 4 * model.layers * model.attention_heads * model.head_dim * context_tokens)
    return StepTime(
        memory_s=read / (gpus * gpu.bandwidth_bytes_per_s * eta_bw),
        compute_s=flops / (gpus * gpu.peak_flops(precision) * eta_f),
        communication_s=0.0 if ideal else _communication_s(model, batch, gpus, gpu, eff),
    )


def prefill(gpu: Gpu, model: ModelSpec, precision: str, gpus: int, batch: int, prompt_tokens: int, eff: Efficiency) -> StepTime:
    """Time to process ``batch`` prompts of ``prompt_tokens`` each (time to first token when batch=1).

    compute = batch x (2 x params x n + 2 x layers x heads x head_dim x n^2) / (gpus x peak x eta_f)
              (the n^2 term is causal attention: QK^T and AV over half the n x n matrix each)
    memory  = W / (gpus x bandwidth x eta_bw)        (the weights are read at least once)
    comm    = 2 x layers x allreduce(batch x n x hidden x 2 bytes)
    """
    n = prompt_tokens
    flops = batch * (2 * model.params * n + 2 * model.layers * model.attention_heads * model.head_dim * n * n)
    return StepTime(
        memory_s=weight_bytes(model.params, precision) / (gpus * gpu.bandwidth_bytes_per_s * eff.decode_bandwidth_efficiency[precision].value),
        compute_s=flops / (gpus * gpu.peak_flops(precision) * eff.compute_efficiency[precision].value),
        communication_s=_communication_s(model, batch * n, gpus, gpu, eff),
    )


def served_tokens_per_s(batch: int, output_tokens: int, prefill_s: float, step_s: float) -> float:
    """Output tokens/s of a deployment serving ``batch`` requests at a time, prefill included.

    tokens/s = batch x output tokens / (prefill of the batch + output tokens x decode step)
    """
    return batch * output_tokens / (prefill_s + output_tokens * step_s)


# --- money --------------------------------------------------------------------------------


def monthly_cost(hourly_usd: float, gpus: int, hours_per_month: float) -> float:
    """USD a month for keeping the deployment: gpus x hourly price x hours a month (730)."""
    return gpus * hourly_usd * hours_per_month


def break_even_price(base_price: float, base_gpus: int, base_tokens_per_s: float, gpus: int, tokens_per_s: float) -> float:
    """Per-GPU hourly price at which a deployment matches the baseline's cost per token.

    Equal cost: gpus x p / T = base_gpus x base_p / base_T   =>   p = base_p x (base_gpus / gpus) x (T / base_T)
    (the notes' p_A x R, with R the ratio of per-GPU throughput). Same utilization on both sides.
    """
    _positive(base_price=base_price, base_gpus=base_gpus, base_tokens_per_s=base_tokens_per_s, gpus=gpus, tokens_per_s=tokens_per_s)
    return base_price * (base_gpus / gpus) * (tokens_per_s / base_tokens_per_s)


def break_even_utilization(
    base_price: float, base_gpus: int, base_tokens_per_s: float, price: float, gpus: int, tokens_per_s: float, utilization: float
) -> float:
    """Utilization the baseline needs to match a deployment running at ``utilization``.

    base_gpus x base_p / (u_b x base_T) = gpus x p / (u x T)   =>   u_b = u x base_gpus x base_p x T / (gpus x p x base_T)

    Above 1 means the baseline cannot match it at any utilization.
    """
    _positive(base_price=base_price, base_gpus=base_gpus, base_tokens_per_s=base_tokens_per_s, price=price, gpus=gpus, tokens_per_s=tokens_per_s)
    _fraction(utilization)
    return utilization * base_gpus * base_price * tokens_per_s / (gpus * price * base_tokens_per_s)


# --- helpers ------------------------------------------------------------------------------


def _positive(**values: float) -> None:
    for name, value in values.items():
        if not value > 0:
            raise UsageError(f"{name} must be greater than 0, got {value!r}")


def _fraction(utilization: float) -> None:
    if not 0 < utilization <= 1:
        raise UsageError(f"utilization must be in (0, 1], got {utilization!r}", "0.6 means busy 60% of paid hours")


def _gb(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:.1f} GB"
