"""The three catalog files read, validated and cross-checked into one ``Catalog``.

Loading fails, naming file and field, when a value is out of range or a figure cites a source
that is not listed under ``sources:``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from pydantic import BaseModel, ValidationError

from .. import defaults, resources, yamlio
from ..errors import DataError, Location, UsageError, suggest
from .efficiency import Efficiency
from .hardware import Gpu, SeedFigures
from . import hf_config
from .models import CustomModelRule, ModelSpec, Published
from .sourced import Constant, Figure, Price


@dataclass(frozen=True)
class Catalog:
    gpus: dict[str, Gpu]
    models: dict[str, ModelSpec]
    efficiency: Efficiency
    custom_model: CustomModelRule
    sources: dict[str, str]

    def gpu(self, gpu_id: str) -> Gpu:
        if gpu_id not in self.gpus:
            raise UsageError(f"unknown GPU {gpu_id!r}", _hint(gpu_id, self.gpus, "advisor gpus"))
        return self.gpus[gpu_id]

    def model(self, model_id: str) -> ModelSpec:
        if model_id not in self.models:
            raise UsageError(f"unknown model {model_id!r}", _hint(model_id, self.models, "advisor models"))
        return self.models[model_id]

    def survey_priced(self, given=()) -> list[str]:
        """GPUs priced only by a third-party survey (not a quote) and not by the user: a ranking
        that puts one first must say so."""
        return [gpu_id for gpu_id, gpu in self.gpus.items() if gpu.price.indicative and gpu_id not in given]

    def seed_pair(self) -> tuple[Gpu, Gpu]:
        return self.gpu(defaults.A100), self.gpu(defaults.H100)

    def custom(self, params_b: float) -> ModelSpec:
        """A Llama-shaped model of ``params_b`` billion parameters (rule in models.yaml)."""
        return self.custom_model.shape(params_b)


def _hint(wrong: str, known, lister: str) -> str:
    close = suggest(wrong, known)
    return f"did you mean {', '.join(close)}? `{lister}` lists them all" if close else f"`{lister}` lists the known ids"


def _read(path: Path) -> dict:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read the catalog ({exc.strerror})") from None
    try:
        data = yamlio.load(raw).data
    except yamlio.YamlError as exc:
        raise DataError(f"{Location(str(path), exc.line)}: {exc.message}") from None
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


def _mapping(path: Path, item_id: str, body) -> dict:
    if not isinstance(body, dict):
        raise DataError(f"{path}: {item_id}: expected a mapping of fields")
    return body


def _load_gpus(path: Path) -> tuple[dict[str, Gpu], dict]:
    doc = _read(path)
    sources = doc.get("sources") or {}
    gpus = {}
    for gpu_id, body in (doc.get("gpus") or {}).items():
        gpu = _validate(path, f"gpus.{gpu_id}", lambda: Gpu(id=gpu_id, **_mapping(path, gpu_id, body)))
        _check_sources(path, f"gpus.{gpu_id}", gpu, sources)
        gpus[gpu_id] = gpu
    return gpus, sources


def _load_model(path: Path, model_id: str, body) -> ModelSpec:
    """An entry of models.yaml: a config.json beside it (``config:``), or the shape written out."""
    body = dict(_mapping(path, model_id, body))
    published = body.pop("published", None)
    config = body.pop("config", None)
    if config is None:
        model = _validate(path, f"models.{model_id}", lambda: ModelSpec(id=model_id, **body))
    else:
        unknown = sorted(set(body) - {"name", "source"})
        if unknown:
            raise DataError(f"{path}: models.{model_id}.{unknown[0]}: not allowed beside config: (the shape comes from the config.json)")
        model = hf_config.read(path.parent / str(config), model_id, body.get("name"), body.get("source"))
    if published is not None:
        model = _validate(path, f"models.{model_id}.published", lambda: model.model_copy(update={"published": Published(**_mapping(path, model_id, published))}))
    return model


def _load_models(path: Path) -> tuple[dict[str, ModelSpec], CustomModelRule, dict]:
    doc = _read(path)
    sources = doc.get("sources") or {}
    models = {}
    for model_id, body in (doc.get("models") or {}).items():
        model = _load_model(path, model_id, body)
        for field, cited in (("source", model.source), ("published.source", model.published.source if model.published else None)):
            if cited is not None and cited not in sources:
                raise DataError(f"{path}: models.{model_id}.{field}: {cited!r} is not listed under sources:")
        models[model_id] = model
    custom = _validate(path, "custom_model", lambda: CustomModelRule(**(doc.get("custom_model") or {})))
    return models, custom, sources


def _load_efficiency(path: Path) -> tuple[Efficiency, dict]:
    doc = _read(path)
    sources = doc.get("sources") or {}
    body = {k: v for k, v in doc.items() if k not in ("schema_version", "sources")}
    efficiency = _validate(path, "efficiency", lambda: Efficiency(**body))
    _check_sources(path, "efficiency", efficiency, sources)
    return efficiency, sources


@functools.lru_cache(maxsize=4)
def load_catalog(directory: Optional[Path] = None) -> Catalog:
    """Load and cross-check the three catalog files; cached per directory."""
    directory = Path(directory) if directory else resources.catalog_dir()
    gpus, gpu_sources = _load_gpus(directory / "gpus.yaml")
    models, custom, model_sources = _load_models(directory / "models.yaml")
    efficiency, eff_sources = _load_efficiency(directory / "efficiency.yaml")
    if not gpus or not models:
        raise DataError(f"{directory}: the catalogs list no GPUs or no models")
    return Catalog(gpus, models, efficiency, custom, {**gpu_sources, **model_sources, **eff_sources})
