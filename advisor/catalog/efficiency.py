"""The few constants that turn datasheet peaks into what serving stacks reach, each sourced."""

from __future__ import annotations

from pydantic import model_validator

from .precisions import PRECISIONS, Precision
from .sourced import Constant, Fraction, Strict


class AllReduce(Strict):
    latency_us: Constant
    link_efficiency: Fraction


class MemoryReserve(Strict):
    usable_fraction: Fraction
    reserved_gb: Constant


class DeploymentLimits(Strict):
    max_gpus: Constant
    hours_per_month: Constant


class Efficiency(Strict):
    decode_bandwidth_efficiency: dict[Precision, Fraction]
    compute_efficiency: dict[Precision, Fraction]
    allreduce: AllReduce
    memory: MemoryReserve
    deployment: DeploymentLimits

    @model_validator(mode="after")
    def _every_precision(self) -> "Efficiency":
        for table in ("decode_bandwidth_efficiency", "compute_efficiency"):
            missing = [p for p in PRECISIONS if p not in getattr(self, table)]
            if missing:
                raise ValueError(f"{table} lacks {', '.join(missing)}")
        return self

    @property
    def max_gpus(self) -> int:
        return int(self.deployment.max_gpus.value)

    @property
    def hours_per_month(self) -> float:
        return self.deployment.hours_per_month.value
