"""Scenario files: a team's situation as typed, strictly validated data.

A file holds one scenario or ``scenarios: [...]``. Every problem becomes one sentence naming the
file, the scenario and the field, with a hint; a bad scenario never hides the good ones beside it.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from . import yamlio
from .catalogs import PRECISIONS, Catalog, Precision
from .errors import InputError

OptimizeFor = Literal["latency", "cost_per_token", "throughput_per_gpu", "availability"]
Stage = Literal["experimentation", "production"]

DEFAULT_MODEL = "llama-2-70b"  # the seed's "70B model"
DEFAULT_BATCH = 16
# 100,000 scenarios take about 20 MB of YAML; beyond this a file is more likely a mistake, and a
# directory of smaller files runs the same (and in parallel with --jobs).
MAX_FILE_BYTES = 32_000_000
# USD per GPU-hour: a cent to 100 times any list price, so only a typo falls outside
MIN_PRICE, MAX_PRICE = 0.01, 1000.0
SPLIT_HINT = "split it into several files in one directory: `advisor run DIR` reads them all"  # concurrent sequences per deployment: a moderate interactive serving load


class FieldProblem(ValueError):
    """A cross-field rule broken: names the field at fault and the field whose line to show."""

    def __init__(self, field: tuple, message: str, at: tuple):
        super().__init__(message)
        self.field, self.at = field, at


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class Context(_Strict):
    """The team's situation: the inputs of the seed's practical_recommendation and decision factors."""

    starting_fresh: bool = Field(False, description="a new deployment, no fleet to reuse")
    can_afford_h100: Optional[bool] = Field(
        None, description="whether an H100 deployment fits the budget; derived from monthly_budget_usd when absent"
    )
    monthly_budget_usd: Optional[float] = Field(None, ge=0, le=1e12, description="GPU budget per month, USD")
    have_a100_fleet: bool = Field(False, description="an existing A100 fleet")
    utilization: Optional[float] = Field(
        None, ge=0.01, le=1, description="busy share of the A100 fleet's paid hours, 0.01 to 1 (below 1% a cost per token "
        "means nothing); required with a fleet"
    )
    can_use_spot: bool = Field(False, description="spot / preemptible capacity is acceptable")
    using_fp8: bool = Field(False, description="the model is served with FP8 weights")
    optimize_for: Optional[OptimizeFor] = Field(None, description="what matters most")
    stage: Optional[Stage] = Field(None, description="experimentation or production")
    h100_wait_weeks: Optional[float] = Field(None, ge=0, le=520, description="how long H100 capacity takes to get, in weeks")

    @model_validator(mode="after")
    def _fleet_needs_utilization(self) -> "Context":
        if self.have_a100_fleet and self.utilization is None:
            raise FieldProblem(("utilization",), "required when have_a100_fleet is true (0.55 means busy 55% of the time)", ("have_a100_fleet",))
        return self


class WorkloadSpec(_Strict):
    """What is served; every field has a documented default."""

    model: Optional[str] = Field(None, description=f"catalog model id (default {DEFAULT_MODEL} when params_b is absent too)")
    params_b: Optional[float] = Field(None, gt=0, le=10_000, description="model size in billions, instead of model")
    precision: Optional[Precision] = Field(None, description="weight precision (default fp8 when using_fp8, else fp16)")
    batch: int = Field(DEFAULT_BATCH, ge=1, le=4096, description="concurrent sequences per deployment")
    prompt_tokens: int = Field(512, ge=1, le=1_000_000, description="prompt length")
    output_tokens: int = Field(256, ge=1, le=1_000_000, description="generated tokens per request")
    tokens_per_day: Optional[float] = Field(None, gt=0, le=1e15, description="generated tokens a day, for sizing and volume")
    max_ms_per_token: Optional[float] = Field(None, gt=0, le=1e6, description="latency target per generated token, ms")

    @model_validator(mode="after")
    def _one_model(self) -> "WorkloadSpec":
        if self.model is not None and self.params_b is not None:
            raise FieldProblem(("params_b",), "give model or params_b, not both", ("params_b",))
        return self


class Scenario(_Strict):
    name: Optional[str] = Field(None, min_length=1, max_length=200, description="default: the file's stem")
    context: Context = Field(Context(), description="the team's situation (every field has a default)")
    workload: WorkloadSpec = Field(WorkloadSpec(), description="what is served (every field has a default)")
    prices: dict[str, float] = Field(default_factory=dict, description="USD per GPU-hour by catalog GPU id")

    @model_validator(mode="after")
    def _prices_positive(self) -> "Scenario":
        for gpu_id, price in self.prices.items():
            if not MIN_PRICE <= price <= MAX_PRICE:
                raise FieldProblem(("prices", gpu_id), f"a price is {MIN_PRICE:g} to {MAX_PRICE:g} USD per GPU-hour",
                                   ("prices", gpu_id))
        return self

    @property
    def precision(self) -> str:
        return self.workload.precision or ("fp8" if self.context.using_fp8 else "fp16")


@dataclass(frozen=True)
class Loaded:
    """One scenario from a source, or the error that stopped it."""

    source: str
    name: str
    scenario: Optional[Scenario] = None
    error: Optional[str] = None
    raw: object = None  # the input as read, kept for the audit log
    doc: Optional[yamlio.Document] = field(default=None, repr=False, compare=False)
    prefix: tuple = ()  # where this scenario sits in its file

    def where(self, fields: tuple = ()) -> str:
        """``file:line`` of a field of this scenario (the nearest line known), for error messages."""
        line = self.doc.line_of(self.prefix + tuple(fields)) if self.doc else None
        return f"{self.source}:{line}" if line else self.source


def check_against_catalog(s: Scenario, catalog: Catalog) -> None:
    """Ids and combinations that need the catalogs to judge; raises InputError naming the field."""
    w = s.workload
    if w.model is not None and w.model not in catalog.models:
        catalog_hint = _close(w.model, catalog.models)
        raise InputError(f"workload.model: unknown model {w.model!r}", catalog_hint or "`advisor models` lists them", ("workload", "model"))
    for gpu_id in s.prices:
        if gpu_id not in catalog.gpus:
            raise InputError(f"prices.{gpu_id}: unknown GPU {gpu_id!r}", _close(gpu_id, catalog.gpus) or "`advisor gpus` lists them", ("prices", gpu_id))
    if s.context.using_fp8 and w.precision not in (None, "fp8"):
        raise InputError(
            f"workload.precision: {w.precision} contradicts context.using_fp8: true", "set precision: fp8 or using_fp8: false",
            ("workload", "precision"),
        )
    model = catalog.models.get(w.model or (DEFAULT_MODEL if w.params_b is None else ""))
    if model is not None and model.max_context and w.prompt_tokens + w.output_tokens > model.max_context:
        raise InputError(
            f"workload: {w.prompt_tokens} prompt + {w.output_tokens} output tokens exceed {model.id}'s context of {model.max_context}",
            "shorten prompt_tokens or output_tokens", ("workload",),
        )


# --- reading files ---------------------------------------------------------------------------


def read_source(path: str) -> tuple[str, bytes]:
    """(display name, bytes) for a path, or stdin for ``-``; raises InputError when unreadable."""
    import sys

    source = "<stdin>" if path == "-" else path
    try:
        if path == "-":
            return source, yamlio.read_capped(sys.stdin.buffer, MAX_FILE_BYTES, SPLIT_HINT)
        with open(path, "rb") as handle:
            return source, yamlio.read_capped(handle, MAX_FILE_BYTES, SPLIT_HINT)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    except yamlio.YamlError as exc:
        raise InputError(f"{source}: {exc.message}") from None


def parse(source: str, raw: bytes, stem: Optional[str] = None) -> list[Loaded]:
    """Every scenario in one file's bytes; errors are returned as Loaded items, never raised."""
    stem = stem or (Path(source).stem if source != "<stdin>" else "stdin")
    try:
        doc = yamlio.load(raw, want_lines=True, keep_duplicates=True)
    except yamlio.YamlError as exc:
        where = f"{source}:{exc.line}" if exc.line else source
        return [Loaded(source, stem, error=f"{where}: {exc.message}")]
    for dup in doc.duplicates:
        if not (dup.path and len(dup.path) > 2 and dup.path[0] == "scenarios" and isinstance(dup.path[1], int)):
            return [Loaded(source, stem, error=_duplicate(source, stem, dup, dup.path or ()))]
    data = doc.data
    if isinstance(data, dict) and "scenarios" in data:
        extra = sorted(set(data) - {"scenarios"})
        if extra:
            return [Loaded(source, stem, error=f"{source}: next to scenarios:, unexpected key {extra[0]!r} (put it inside a scenario)")]
        items = data["scenarios"]
        if not isinstance(items, list) or not items:
            return [Loaded(source, stem, error=f"{source}: scenarios: must be a non-empty list of scenarios")]
        return [_one(source, f"{stem}[{i}]", item, doc, ("scenarios", i)) for i, item in enumerate(items)]
    if data is None:
        return [Loaded(source, stem, error=f"{source}: empty file (a scenario has context:, workload: and prices:; `advisor schema` describes them)")]
    return [_one(source, stem, data, doc, ())]


def from_data(data, source: str, name: str) -> Loaded:
    """A scenario from data already parsed (an audit record's input), validated like a file's."""
    return _one(source, name, data, yamlio.Document(data), ())


def _one(source: str, default_name: str, data, doc: yamlio.Document, prefix: tuple) -> Loaded:
    name = data.get("name") if isinstance(data, dict) and isinstance(data.get("name"), str) and data.get("name") else default_name
    dup = next((d for d in doc.duplicates if d.path and d.path[: len(prefix)] == prefix), None)
    if dup is not None:
        return Loaded(source, name, error=_duplicate(source, name, dup, dup.path[len(prefix):]), raw=_jsonable(data))
    if not isinstance(data, dict):
        return Loaded(source, name, error=f"{source}: scenario {name}: expected a mapping with context:, got {_kind(data)}", raw=_jsonable(data))
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        return Loaded(source, name, error=_describe(source, name, exc, doc, prefix), raw=_jsonable(data))
    if scenario.name is None:
        scenario = scenario.model_copy(update={"name": name})
    return Loaded(source, name, scenario=scenario, raw=_jsonable(data), doc=doc, prefix=prefix)


def _duplicate(source: str, name: str, dup: yamlio.YamlError, field: tuple) -> str:
    where = ".".join(map(str, field)) or "(file)"
    return f"{source}:{dup.line}: scenario {name}: {where}: {dup.message} (YAML keeps only one; delete the other)"


def _describe(source: str, name: str, exc: ValidationError, doc: yamlio.Document, prefix: tuple) -> str:
    """The first validation error as one sentence: file:line, scenario, field, problem, hint."""
    err = exc.errors(include_url=False)[0]
    loc = tuple(p for p in err["loc"] if not isinstance(p, str) or not p.startswith("function-"))
    problem = (err.get("ctx") or {}).get("error")
    at = loc
    if isinstance(problem, FieldProblem):
        loc, at = loc + problem.field, loc + problem.at
    field = ".".join(str(p) for p in loc) or "(scenario)"
    line = doc.line_of(prefix + at)
    where = f"{source}:{line}" if line else source
    kind, msg = err["type"], err["msg"]
    hint = ""
    if kind == "extra_forbidden":
        known = _fields_at(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        msg = f"unknown key {loc[-1]!r}"
        hint = f" (did you mean {close[0]}?)" if close else f" (known keys: {', '.join(known)})"
    elif kind == "missing":
        msg = "required field is missing"
    elif kind.startswith(("bool", "int", "float", "string", "literal", "dict")):
        msg = f"{msg}, got {_kind(err.get('input'))} {_short(err.get('input'))}"
    elif kind == "value_error":
        msg = str(problem) if problem is not None else msg.removeprefix("Value error, ")
    if kind == "literal_error" and loc[-1] == "precision":
        hint = f" (one of {', '.join(PRECISIONS)})"
    return f"{where}: scenario {name}: {field}: {msg}{hint}"


def _fields_at(loc: tuple) -> list[str]:
    model = Scenario
    for part in loc:
        annotation = model.model_fields[part].annotation if part in model.model_fields else None
        model = next((a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if model is None:
            return []
    return list(model.model_fields)


def _close(wrong: str, known) -> Optional[str]:
    close = [k for k in known if wrong.lower() in k] or difflib.get_close_matches(wrong.lower(), list(known), n=2)
    return f"did you mean {', '.join(close[:2])}?" if close else None


def _kind(value) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a mapping", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _jsonable(value):
    """The raw input as JSON-safe data for the audit log: NaN and infinity become strings, dates text."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def save(path: Path, data: dict) -> None:
    """Write a scenario file atomically: a temporary file renamed into place, never half a file."""
    import os
    import tempfile
    from datetime import date

    import yaml

    text = (f"# Saved by `advisor ask` on {date.today().isoformat()}; decide it with: advisor run {path.name}\n"
            + yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent or Path(".")))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def schema() -> dict:
    """JSON Schema of a scenario file: one scenario, or {scenarios: [...]}."""
    one = Scenario.model_json_schema()
    defs = one.pop("$defs", {})
    defs["Scenario"] = one
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "advisor scenario file",
        "$defs": defs,
        "oneOf": [
            {"$ref": "#/$defs/Scenario"},
            {
                "type": "object",
                "properties": {"scenarios": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/Scenario"}}},
                "required": ["scenarios"],
                "additionalProperties": False,
            },
        ],
    }
