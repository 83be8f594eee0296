"""Time: a roofline model of prefill and decode, with tensor-parallel all-reduces.

Decode reads every weight once per step (memory-bound until the batch is large), prefill
multiplies every weight by every prompt token (compute-bound), and tensor parallelism adds two
all-reduces per layer. The efficiency factors come from rules/catalogs/efficiency.yaml, each
with the measurement it was taken from; nothing here is a lookup table of measurements.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..catalog.hardware import Gpu
from ..catalog.models import ModelSpec
from ..catalog.efficiency import Efficiency
from .checks import positive
from .memory import kv_bytes_per_token, weight_bytes

ACTIVATION_BYTES = 2  # activations exchanged by all-reduces stay 16-bit in every precision here


def decode_floor_s(weight_bytes: float, bandwidth_bytes_per_s: float, gpus: int = 1) -> float:
    """The seed's minimum time per decode step: every weight read once at full bandwidth.

    floor = weight bytes / (gpus x bandwidth)     e.g. 140 GB / 2.0 TB/s = 70 ms
    """
    positive(weight_bytes=weight_bytes, bandwidth_bytes_per_s=bandwidth_bytes_per_s, gpus=gpus)
    return weight_bytes / (gpus * bandwidth_bytes_per_s)


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


def communication_s(model: ModelSpec, tokens: int, gpus: int, gpu: Gpu, eff: Efficiency) -> float:
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
        communication_s=0.0 if ideal else communication_s(model, batch, gpus, gpu, eff),
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
        communication_s=communication_s(model, batch * n, gpus, gpu, eff),
    )


def served_tokens_per_s(batch: int, output_tokens: int, prefill_s: float, step_s: float) -> float:
    """Output tokens/s of a deployment serving ``batch`` requests at a time, prefill included.

    tokens/s = batch x output tokens / (prefill of the batch + output tokens x decode step)
    """
    return batch * output_tokens / (prefill_s + output_tokens * step_s)
