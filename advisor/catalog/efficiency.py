"""The few constants that turn datasheet peaks into what serving stacks reach, each sourced."""

from __future__ import annotations

from pydantic import model_validator

from .precisions import PRECISIONS, Precision
from .sourced import Constant, Fraction, Strict


class AllReduce(Strict):
    latency_us: Constant
    link_efficiency: Fraction  # of the one-direction NVLink / Infinity Fabric bandwidth
    pcie_efficiency: Fraction  # of the one-direction PCIe bandwidth, for GPUs without a scale-up link


class MemoryReserve(Strict):
    usable_fraction: Fraction
    reserved_gb: Constant


class StepOverhead(Strict):
    """Fixed time per layer of every forward pass (kernel launches and small kernels)."""

    prefill_us_per_layer: Constant
    decode_us_per_layer: Constant


class Serving(Strict):
    max_sequences: Constant  # the most sequences a replica runs at once (the engine's batch cap)
    prefill_chunk_tokens: Constant  # prompt tokens one iteration takes (chunked prefill's token budget)


class DeploymentLimits(Strict):
    hours_per_month: Constant


class Efficiency(Strict):
    weight_bandwidth_efficiency: dict[Precision, Fraction]
    kv_bandwidth_efficiency: Fraction
    compute_efficiency: dict[Precision, Fraction]
    decode_compute_factor: Fraction
    step_overhead: StepOverhead
    allreduce: AllReduce
    memory: MemoryReserve
    serving: Serving
    deployment: DeploymentLimits

    @model_validator(mode="after")
    def _every_precision(self) -> "Efficiency":
        for table in ("weight_bandwidth_efficiency", "compute_efficiency"):
            missing = [p for p in PRECISIONS if p not in getattr(self, table)]
            if missing:
                raise ValueError(f"{table} lacks {', '.join(missing)}")
        return self

    @property
    def hours_per_month(self) -> float:
        return self.deployment.hours_per_month.value

    @property
    def max_sequences(self) -> int:
        return int(self.serving.max_sequences.value)


