"""GPUs: datasheet figures, prices, and what each precision needs of the hardware."""

from __future__ import annotations

from typing import Optional

from pydantic import PositiveFloat, PositiveInt, model_validator

from .precisions import COMPUTE_RATE
from .sourced import Figure, Price, Strict

class SeedFigures(Strict):
    """The seed's own spec sheet, kept next to the datasheet figures for comparison."""

    memory: str
    bandwidth_tbps: PositiveFloat
    fp16_tflops: PositiveFloat
    fp8_tflops: Optional[PositiveFloat]
    price_usd_per_hour: tuple[PositiveFloat, PositiveFloat]
    availability: str
    source: str


class Gpu(Strict):
    id: str
    name: str
    form_factor: str
    memory_gb: Figure
    memory_type: str
    hbm_bandwidth_gbps: Figure
    fp16_tflops: Figure
    fp8_tflops: Figure
    int8_tops: Figure
    nvlink_gbps: Figure
    nvlink_max_gpus: PositiveInt
    pcie_gbps: Figure
    price: Price
    seed: Optional[SeedFigures] = None

    @model_validator(mode="after")
    def _required_figures(self) -> "Gpu":
        for name in ("memory_gb", "hbm_bandwidth_gbps", "fp16_tflops", "pcie_gbps"):
            if getattr(self, name).value is None:
                raise ValueError(f"{name}.value is required")
        return self

    @property
    def memory_bytes(self) -> float:
        return self.memory_gb.value * 1e9

    @property
    def bandwidth_bytes_per_s(self) -> float:
        return self.hbm_bandwidth_gbps.value * 1e9

    def supports(self, precision: str) -> bool:
        if precision == "fp8":
            return self.fp8_tflops.value is not None
        if precision in ("int8", "int4"):
            return self.int8_tops.value is not None
        return True

    def peak_flops(self, precision: str) -> float:
        """Dense FLOP/s of the tensor cores that run ``precision``."""
        rate = self.fp8_tflops if COMPUTE_RATE[precision] == "fp8" else self.fp16_tflops
        return rate.value * 1e12

    def link_bytes_per_s(self, gpus: int) -> float:
        """One-direction bandwidth between the GPUs of a ``gpus``-wide tensor-parallel group."""
        if self.nvlink_gbps.value is not None and gpus <= self.nvlink_max_gpus:
            return self.nvlink_gbps.value * 1e9 / 2
        return self.pcie_gbps.value * 1e9 / 2
