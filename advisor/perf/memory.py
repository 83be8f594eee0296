"""Memory: weights, the KV cache, and how many GPUs a model needs to fit.

Conventions: 1 GB = 1e9 bytes (datasheets use decimal units); a deployment is ``gpus``
identical GPUs serving one model replica in tensor parallel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..catalog.hardware import Gpu
from ..catalog.models import ModelSpec
from ..catalog.precisions import BYTES_PER_WEIGHT, KV_PRECISION, PRECISIONS
from ..catalog.efficiency import Efficiency
from ..errors import UsageError
from .checks import gb


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

    The element size follows the weights' activation precision (catalog.KV_PRECISION): 2 bytes,
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
    what = f"{gb(weights)} weights + {gb(kv)} KV cache = {gb(need)}"
    per_gpu = f"{eff.memory.usable_fraction.value:g} x {gpu.memory_gb.value:g} GB - {eff.memory.reserved_gb.value:g} GB"
    for n in sizes:
        if need <= n * usable:
            if n == 1:
                return Sizing(1, need, usable, f"{what} fits in one GPU's {gb(usable)} usable ({per_gpu})")
            smaller = n // 2
            return Sizing(
                n, need, usable,
                f"{what} needs {n} GPUs: {smaller} GPU{'s give' if smaller > 1 else ' gives'} only "
                f"{gb(smaller * usable)} usable ({per_gpu} each)",
            )
    top = sizes[-1]
    return Sizing(
        None, need, usable,
        f"{what} does not fit: {top} GPUs (the most for this model and node) give {gb(top * usable)} usable ({per_gpu} each)",
    )
