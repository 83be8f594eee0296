"""GPU, model and efficiency catalogs: YAML data under rules/catalogs, validated into typed objects.

The catalogs are data a reviewer can audit: every figure carries the key of its source, and
loading fails (naming file and field) when a source key is missing or a value is out of range.
"""

from __future__ import annotations

import difflib
import functools
import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal, Optional, get_args

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, ValidationError, model_validator

from . import resources, yamlio
from .errors import DataError, UsageError

Precision = Literal["fp16", "bf16", "fp8", "int8", "int4"]
PRECISIONS: tuple[str, ...] = get_args(Precision)

#: Bytes per stored weight (int4 packs two weights per byte).
BYTES_PER_WEIGHT = {"fp16": 2.0, "bf16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5}
#: The KV cache is kept at the activation precision: FP8 with FP8 weights (TensorRT-LLM, vLLM
#: fp8 KV cache); 16-bit with weight-only int8/int4 quantization, whose activations stay 16-bit.
KV_PRECISION = {"fp16": "fp16", "bf16": "bf16", "fp8": "fp8", "int8": "fp16", "int4": "fp16"}
#: Which tensor-core rate does the math: weight-only int8/int4 dequantize to fp16 first.
COMPUTE_RATE = {"fp16": "fp16", "bf16": "fp16", "fp8": "fp8", "int8": "fp16", "int4": "fp16"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=False)


class Figure(_Strict):
    """One sourced number; ``value`` is None where the hardware lacks the feature."""

    value: Optional[PositiveFloat]
    source: str


class Price(_Strict):
    usd_per_hour: PositiveFloat
    observed: date
    source: str


class SeedFigures(_Strict):
    """The seed's own spec sheet, kept next to the datasheet figures for comparison."""

    memory: str
    bandwidth_tbps: PositiveFloat
    fp16_tflops: PositiveFloat
    fp8_tflops: Optional[PositiveFloat]
    price_usd_per_hour: tuple[PositiveFloat, PositiveFloat]
    availability: str
    source: str


class Gpu(_Strict):
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


class ModelSpec(_Strict):
    id: str
    name: str
    params: PositiveInt
    layers: PositiveInt
    hidden_size: PositiveInt
    intermediate_size: Optional[PositiveInt] = None
    attention_heads: PositiveInt
    kv_heads: PositiveInt
    head_dim: PositiveInt
    vocab_size: Optional[PositiveInt] = None
    max_context: Optional[PositiveInt] = None
    source: str
    estimated: bool = False

    @model_validator(mode="after")
    def _heads(self) -> "ModelSpec":
        if self.attention_heads % self.kv_heads:
            raise ValueError("attention_heads must be a multiple of kv_heads")
        return self


class CustomModelRule(_Strict):
    """How a model known only by its parameter count is shaped (documented in models.yaml)."""

    head_dim: PositiveInt
    hidden_per_layer: PositiveInt
    params_per_layer_hidden_squared: PositiveFloat
    kv_heads: PositiveInt


class Constant(_Strict):
    value: PositiveFloat
    source: str
    why: str


class _Fraction(Constant):
    value: float = Field(gt=0, le=1)


class AllReduce(_Strict):
    latency_us: Constant
    link_efficiency: _Fraction


class MemoryReserve(_Strict):
    usable_fraction: _Fraction
    reserved_gb: Constant


class DeploymentLimits(_Strict):
    max_gpus: Constant
    hours_per_month: Constant


class Efficiency(_Strict):
    decode_bandwidth_efficiency: dict[Precision, _Fraction]
    compute_efficiency: dict[Precision, _Fraction]
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


@dataclass(frozen=True)
class Catalog:
    gpus: dict[str, Gpu]
    models: dict[str, ModelSpec]
    efficiency: Efficiency
    custom_model: CustomModelRule
    sources: dict[str, str]

    def gpu(self, gpu_id: str) -> Gpu:
        if gpu_id not in self.gpus:
            raise UsageError(f"unknown GPU {gpu_id!r}", _suggest(gpu_id, self.gpus, "advisor gpus"))
        return self.gpus[gpu_id]

    def model(self, model_id: str) -> ModelSpec:
        if model_id not in self.models:
            raise UsageError(f"unknown model {model_id!r}", _suggest(model_id, self.models, "advisor models"))
        return self.models[model_id]

    def custom(self, params_b: float) -> ModelSpec:
        """A Llama-shaped model of ``params_b`` billion parameters (rule in models.yaml)."""
        if not (isinstance(params_b, (int, float)) and math.isfinite(params_b) and params_b > 0):
            raise UsageError(f"params_b must be a positive number of billions, got {params_b!r}")
        rule = self.custom_model
        params = params_b * 1e9
        per_layer = rule.params_per_layer_hidden_squared * rule.hidden_per_layer**2
        layers = max(1, round((params / per_layer) ** (1 / 3)))
        heads = max(rule.kv_heads, layers * rule.hidden_per_layer // rule.head_dim)
        heads -= heads % rule.kv_heads
        return ModelSpec(
            id=f"custom-{params_b:g}b",
            name=f"custom {params_b:g}B (estimated shape)",
            params=max(1, round(params)),
            layers=layers,
            hidden_size=heads * rule.head_dim,
            attention_heads=heads,
            kv_heads=rule.kv_heads,
            head_dim=rule.head_dim,
            source="estimate: custom_model rule in rules/catalogs/models.yaml",
            estimated=True,
        )


def _suggest(wrong: str, known, lister: str) -> str:
    wrong = wrong.lower()
    close = [k for k in known if wrong in k]
    close += [k for k in difflib.get_close_matches(wrong, list(known), n=3, cutoff=0.5) if k not in close]
    if close:
        return f"did you mean {', '.join(close[:3])}? `{lister}` lists them all"
    return f"`{lister}` lists the known ids"


def _read(path: Path) -> dict:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read the catalog ({exc.strerror})") from None
    try:
        data = yamlio.load(raw).data
    except yamlio.YamlError as exc:
        where = f"{path}:{exc.line}" if exc.line else str(path)
        raise DataError(f"{where}: {exc.message}") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a mapping at the top level")
    return data


def _validate(path: Path, what: str, factory):
    try:
        return factory()
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise DataError(f"{path}: {what}{'.' + field if field else ''}: {err['msg']}") from None


def _check_sources(path: Path, item_id: str, obj: BaseModel, sources: dict) -> None:
    for name, value in obj:
        if isinstance(value, (Figure, Price, Constant, SeedFigures)) and value.source not in sources:
            raise DataError(f"{path}: {item_id}.{name}: source {value.source!r} is not listed under sources:")
        if isinstance(value, BaseModel) and not isinstance(value, (Figure, Price, SeedFigures)):
            _check_sources(path, f"{item_id}.{name}", value, sources)
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, BaseModel):
                    _check_sources(path, f"{item_id}.{name}.{key}", item, sources)


@functools.lru_cache(maxsize=4)
def load_catalog(directory: Optional[Path] = None) -> Catalog:
    """Load and cross-check the three catalog files; cached per directory."""
    directory = Path(directory) if directory else resources.catalog_dir()
    gpus_path, models_path, eff_path = (directory / f for f in ("gpus.yaml", "models.yaml", "efficiency.yaml"))

    gpu_doc = _read(gpus_path)
    gpu_sources = gpu_doc.get("sources") or {}
    gpus = {}
    for gpu_id, body in (gpu_doc.get("gpus") or {}).items():
        gpu = _validate(gpus_path, f"gpus.{gpu_id}", lambda: Gpu(id=gpu_id, **_mapping(gpus_path, gpu_id, body)))
        _check_sources(gpus_path, f"gpus.{gpu_id}", gpu, gpu_sources)
        gpus[gpu_id] = gpu

    model_doc = _read(models_path)
    model_sources = model_doc.get("sources") or {}
    models = {}
    for model_id, body in (model_doc.get("models") or {}).items():
        model = _validate(models_path, f"models.{model_id}", lambda: ModelSpec(id=model_id, **_mapping(models_path, model_id, body)))
        if model.source not in model_sources:
            raise DataError(f"{models_path}: models.{model_id}.source: {model.source!r} is not listed under sources:")
        models[model_id] = model
    custom = _validate(models_path, "custom_model", lambda: CustomModelRule(**(model_doc.get("custom_model") or {})))

    eff_doc = _read(eff_path)
    eff_sources = eff_doc.get("sources") or {}
    efficiency = _validate(
        eff_path, "efficiency", lambda: Efficiency(**{k: v for k, v in eff_doc.items() if k not in ("schema_version", "sources")})
    )
    _check_sources(eff_path, "efficiency", efficiency, eff_sources)

    if not gpus or not models:
        raise DataError(f"{directory}: the catalogs list no GPUs or no models")
    return Catalog(gpus, models, efficiency, custom, {**gpu_sources, **model_sources, **eff_sources})


def _mapping(path: Path, item_id: str, body) -> dict:
    if not isinstance(body, dict):
        raise DataError(f"{path}: {item_id}: expected a mapping of fields")
    return body
