"""Memory: weights, the KV cache, and how many GPUs a model needs to fit.

Conventions: 1 GB = 1e9 bytes (datasheets use decimal units); a replica is ``tp`` identical GPUs
serving one copy of the model in tensor parallel, each holding 1/tp of the weights and its share
of every sequence's KV cache.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from ..catalog.efficiency import Efficiency
from ..catalog.hardware import Gpu
from ..catalog.models import ModelSpec
from ..catalog.precisions import BYTES_PER_WEIGHT, KV_PRECISION, PRECISIONS
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
    """weights W = parameters x bytes per weight (fp16/bf16 2, fp8/int8 1, fp4/int4 0.5)."""
    return params * BYTES_PER_WEIGHT[precision]


def kv_bytes_per_token(model: ModelSpec, precision: str, kv_precision: Optional[str] = None) -> float:
    """KV cache per token, all layers.

    MHA/GQA: 2 (K and V) x layers x kv_heads x head_dim x bytes; MLA: layers x (kv_lora_rank +
    qk_rope_head_dim) x bytes. The element size is ``kv_precision``'s, by default the weights'
    activation precision (catalog.precisions.KV_PRECISION): 2 bytes, or 1 with FP8 weights.
    Llama-2-70B in fp16: 2 x 80 x 8 x 128 x 2 = 327,680 B (0.33 MB); DeepSeek-V3 in bf16:
    61 x (512 + 64) x 2 = 70,272 B.
    """
    element = BYTES_PER_WEIGHT[kv_precision or KV_PRECISION[precision]]
    if model.mla is not None:
        return model.layers * (model.mla.kv_lora_rank + model.mla.qk_rope_head_dim) * element
    return 2 * model.layers * model.kv_heads * model.head_dim * element


def kv_bytes_per_token_per_gpu(model: ModelSpec, precision: str, tp: int, kv_precision: Optional[str] = None) -> float:
    """One GPU's share of a token's KV cache in a ``tp``-wide replica.

    Each GPU holds ceil(kv_heads / tp) KV heads: with more GPUs than KV heads the heads are
    replicated (vLLM, TensorRT-LLM). MLA's latent is not split by heads: every GPU holds all of it.
    """
    whole = kv_bytes_per_token(model, precision, kv_precision)
    if model.mla is not None:
        return whole
    return whole * math.ceil(model.kv_heads / tp) / model.kv_heads


def kv_cache_bytes(model: ModelSpec, precision: str, sequences: int, tokens_per_sequence: int, kv_precision: Optional[str] = None) -> float:
    """KV cache of a batch = sequences x tokens each holds (a sliding window caps them) x KV bytes per token."""
    return sequences * model.cached_tokens(tokens_per_sequence) * kv_bytes_per_token(model, precision, kv_precision)


def usable_memory_bytes(gpu: Gpu, eff: Efficiency) -> float:
    """usable = usable_fraction x memory - reserved (0.9 x 80 GB - 2 GB = 70 GB on an 80 GB GPU)."""
    return eff.memory.usable_fraction.value * gpu.memory_bytes - eff.memory.reserved_gb.value * 1e9


def tensor_parallel_sizes(gpu: Gpu, model: ModelSpec) -> list[int]:
    """Powers of two up to the GPU's node size that split the attention heads evenly."""
    sizes, n = [], 1
    while n <= gpu.gpus_per_node:
        if model.attention_heads % n == 0:
            sizes.append(n)
        n *= 2
    return sizes


def max_sequences(gpu: Gpu, model: ModelSpec, precision: str, tp: int, context_tokens: float, eff: Efficiency,
                  kv_precision: Optional[str] = None) -> int:
    """Sequences of ``context_tokens`` whose KV cache fits beside the weights on each GPU (0: the weights do not fit).

    B_KV = floor((usable - W / tp) / (KV bytes per token per GPU x tokens cached per sequence))
    """
    free = usable_memory_bytes(gpu, eff) - weight_bytes(model.params, precision) / tp
    per_sequence = kv_bytes_per_token_per_gpu(model, precision, tp, kv_precision) * model.cached_tokens(context_tokens)
    return max(0, int(free // per_sequence)) if free > 0 else 0


@dataclass(frozen=True)
class Sizing:
    """How many GPUs a model needs, and the sentence that says why."""

    gpus: Optional[int]  # None: does not fit on the largest deployment allowed
    need_bytes: float
    usable_per_gpu_bytes: float
    reason: str


def gpus_needed(gpu: Gpu, model: ModelSpec, precision: str, sequences: int, context_tokens: int, eff: Efficiency,
                kv_precision: Optional[str] = None) -> Sizing:
    """Smallest tensor-parallel size N at which each GPU holds its share of the weights and of the batch's KV cache.

    N = min { n : W / n + sequences x context x KV/token per GPU(n) <= usable }   (n from tensor_parallel_sizes)
    """
    weights = weight_bytes(model.params, precision)
    kv = kv_cache_bytes(model, precision, sequences, context_tokens, kv_precision)
    need = weights + kv
    usable = usable_memory_bytes(gpu, eff)
    sizes = tensor_parallel_sizes(gpu, model)
    what = f"{gb(weights)} weights + {gb(kv)} KV cache = {gb(need)}"
    per_gpu = f"{eff.memory.usable_fraction.value:g} x {gpu.memory_gb.value:g} GB - {eff.memory.reserved_gb.value:g} GB"
    for n in sizes:
        per_gpu_need = weights / n + sequences * model.cached_tokens(context_tokens) * kv_bytes_per_token_per_gpu(model, precision, n, kv_precision)
        if per_gpu_need <= usable:
            if n == 1:
                return Sizing(1, need, usable, f"{what} fits in one GPU's {gb(usable)} usable ({per_gpu})")
            smaller = sizes[sizes.index(n) - 1]
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
