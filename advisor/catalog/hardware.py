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
    vendor: str = "NVIDIA"
    form_factor: str
    memory_gb: Figure
    memory_type: str
    hbm_bandwidth_gbps: Figure
    fp16_tflops: Figure
    fp8_tflops: Figure
    fp4_tflops: Figure
    int8_tops: Figure
    nvlink_gbps: Figure  # the scale-up link (NVLink, Infinity Fabric), bidirectional per GPU
    nvlink_max_gpus: PositiveInt  # GPUs that link joins all-to-all at full bandwidth
    link_per_peer_gbps: Optional[Figure] = None  # point-to-point meshes: bandwidth to one peer (bidirectional)
    pcie_gbps: Figure
    gpus_per_node: PositiveInt = 8  # the most GPUs one replica may span: tensor parallelism stays in a node
    price: Price
    spot_price: Optional[Price] = None
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
        if precision == "fp4":
            return self.fp4_tflops.value is not None
        if precision in ("int8", "int4"):
            return self.int8_tops.value is not None
        return True

    def peak_flops(self, precision: str) -> float:
        """Dense FLOP/s of the tensor cores that run ``precision``."""
        rate = {"fp16": self.fp16_tflops, "fp8": self.fp8_tflops, "fp4": self.fp4_tflops}[COMPUTE_RATE[precision]]
        return rate.value * 1e12

    def on_nvlink(self, gpus: int) -> bool:
        return self.nvlink_gbps.value is not None and gpus <= self.nvlink_max_gpus

    def link_bytes_per_s(self, gpus: int) -> float:
        """One-direction bandwidth each GPU of a ``gpus``-wide tensor-parallel group has to the others.

        A switched link (NVSwitch) gives every GPU its full link; a point-to-point mesh (MI300X's
        Infinity Fabric: 7 links of 128 GB/s) gives ``gpus - 1`` peer links at most; beyond the
        link's reach, or without one, the group talks over PCIe."""
        if not self.on_nvlink(gpus):
            return self.pcie_gbps.value * 1e9 / 2
        full = self.nvlink_gbps.value * 1e9 / 2
        if self.link_per_peer_gbps is None:
            return full
        return min(full, (gpus - 1) * self.link_per_peer_gbps.value * 1e9 / 2)
