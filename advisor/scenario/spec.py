"""A team's situation as typed, strictly validated data: context, workload and prices.

Every field has a documented default (``advisor schema`` prints them) so that an empty scenario
is valid. Checks that need the catalogs (ids, context length) are in ``check_against_catalog``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import core_schema

from .. import amounts, yamlio
from ..catalog.load import Catalog
from ..catalog.precisions import KvPrecision, Precision
from ..defaults import (A100, DEFAULT_BATCH, DEFAULT_HEADROOM, DEFAULT_MODEL, DEFAULT_OUTPUT_TOKENS, DEFAULT_PEAK_TO_AVERAGE,
                        DEFAULT_PROMPT_TOKENS, DEFAULT_TPOT_MS, DEFAULT_TTFT_MS)
from ..errors import InputError, clip, echo, suggest

OptimizeFor = Literal["latency", "cost_per_token", "throughput_per_gpu", "availability"]
Stage = Literal["experimentation", "production"]

# USD per GPU-hour: a cent to 100 times any list price, so only a typo falls outside
MIN_PRICE, MAX_PRICE = 0.01, 1000.0
#: Longest scenario name (a --save file's stem becomes the name, so it is checked up front too).
NAME_MAX_CHARS = 200


class FieldProblem(ValueError):
    """A cross-field rule broken: names the field at fault and the field whose line to show."""

    def __init__(self, field: tuple, message: str, at: tuple):
        super().__init__(message)
        self.field, self.at = field, at


@dataclass(frozen=True)
class AmountOf:
    """A number field that also reads an amount as people write it ("$20k", "70%", "25ms"; see
    ``advisor.amounts``): the same reading in files, prompts and flags. Its JSON schema says so."""

    unit: amounts.Unit
    integer: bool = False

    def __get_pydantic_core_schema__(self, source, handler):
        return core_schema.no_info_before_validator_function(self.read, handler(source))

    def __get_pydantic_json_schema__(self, core, handler):
        return {"anyOf": [handler(core), {"type": "string", "description": f"an amount such as {self.unit.example}"}],
                "unit": self.unit.name}

    def read(self, value):
        if not isinstance(value, str):
            return value
        if hint := yamlio.number_hint(value):  # 010, 0x10, 1:30: YAML 1.1 and 1.2 disagree, so neither is guessed
            raise ValueError(f"Input should be a valid {'integer' if self.integer else 'number'}, got a string {echo(value)} ({hint})")
        try:
            number = amounts.parse(value, self.unit)
        except amounts.AmountError as exc:
            raise ValueError(str(exc)) from None
        if self.integer:
            if not number.is_integer():
                raise ValueError(f"{echo(value)} is not a whole number")
            return int(number)
        return number


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True, protected_namespaces=())


class Context(_Strict):
    """The team's situation: the inputs of the seed's practical_recommendation and decision factors."""

    starting_fresh: bool = Field(False, description="a new deployment, no fleet to reuse")
    can_afford_h100: Optional[bool] = Field(
        None, description="whether an H100 deployment fits the budget; derived from monthly_budget_usd when absent"
    )
    monthly_budget_usd: Annotated[Optional[float], AmountOf(amounts.USD_PER_MONTH)] = Field(None, ge=0, le=1e12, description="GPU budget per month, USD")
    have_a100_fleet: bool = Field(False, description="an existing A100 fleet")
    utilization: Annotated[Optional[float], AmountOf(amounts.SHARE)] = Field(
        None, ge=0.01, le=1, description="busy share of the A100 fleet's paid hours, 0.01 to 1 (below 1% a cost per token "
        "means nothing); required with a fleet"
    )
    can_use_spot: bool = Field(False, description="spot / preemptible capacity is acceptable")
    using_fp8: bool = Field(False, description="the model is served with FP8 weights")
    optimize_for: Optional[OptimizeFor] = Field(None, description="what matters most")
    stage: Optional[Stage] = Field(None, description="experimentation or production")
    h100_wait_weeks: Annotated[Optional[float], AmountOf(amounts.WEEKS)] = Field(None, ge=0, le=520, description="how long H100 capacity takes to get, in weeks")
    needed_in_weeks: Annotated[Optional[float], AmountOf(amounts.WEEKS)] = Field(None, ge=0, le=520, description="when the capacity is needed, in weeks from now")
    fleet_gpu: str = Field(A100, min_length=1, max_length=100, description="the catalog GPU of the existing fleet")
    fleet_gpus: Annotated[Optional[int], AmountOf(amounts.COUNT, integer=True)] = Field(None, ge=1, le=1_000_000, description="GPUs in the existing fleet; with utilization it gives "
                                      "the fleet's load, when the workload states none")
    spot_availability: Annotated[Optional[float], AmountOf(amounts.SHARE)] = Field(None, gt=0, le=1, description="expected share of hours H100 spot capacity is there "
                                               "(0.7 = 70%); with can_use_spot it costs the seed's spot mix")
    gpus: Optional[list[str]] = Field(None, min_length=1, max_length=100, description="the catalog GPUs the team would buy or "
                                            "rent (default: all); the verdict chooses among them, the seed's pair is planned anyway")

    @model_validator(mode="after")
    def _fleet_needs_utilization(self) -> "Context":
        if self.have_a100_fleet and self.utilization is None:
            raise FieldProblem(("utilization",), "required when have_a100_fleet is true (0.55 means busy 55% of the time)", ("have_a100_fleet",))
        return self


class WorkloadSpec(_Strict):
    """What is served, how much and how fast; every field has a documented default."""

    model: Optional[str] = Field(None, description=f"catalog model id (default {DEFAULT_MODEL} when params_b and model_config are absent too)")
    params_b: Annotated[Optional[float], AmountOf(amounts.BILLIONS)] = Field(None, gt=0, le=10_000, description="model size in billions, instead of model (a Llama-shaped estimate)")
    model_config_path: Optional[str] = Field(None, alias="model_config", min_length=1, max_length=4096,
                                             description="a Hugging Face config.json, instead of model (relative to the scenario file)")
    precision: Optional[Precision] = Field(None, description="weight precision (default fp8 when using_fp8, else fp16)")
    kv_precision: Optional[KvPrecision] = Field(None, description="KV-cache precision (default: fp8 with fp8/fp4 weights, else 16-bit)")
    batch: Annotated[int, AmountOf(amounts.COUNT, integer=True)] = Field(DEFAULT_BATCH, ge=1, le=4096, description="concurrent sequences per deployment, for the fixed-batch estimate")
    prompt_tokens: Annotated[int, AmountOf(amounts.TOKENS, integer=True)] = Field(DEFAULT_PROMPT_TOKENS, ge=1, le=1_000_000, description="average prompt length, tokens")
    output_tokens: Annotated[int, AmountOf(amounts.TOKENS, integer=True)] = Field(DEFAULT_OUTPUT_TOKENS, ge=1, le=1_000_000, description="average generated tokens per request")
    tokens_per_day: Annotated[Optional[float], AmountOf(amounts.TOKENS_PER_DAY)] = Field(None, gt=0, le=1e15, description="load: generated tokens a day (or requests_per_s)")
    requests_per_s: Annotated[Optional[float], AmountOf(amounts.REQUESTS_PER_S)] = Field(None, gt=0, le=1e9, description="load: average requests per second (or tokens_per_day)")
    peak_to_average: Annotated[float, AmountOf(amounts.RATIO)] = Field(DEFAULT_PEAK_TO_AVERAGE, ge=1, le=100, description="how much higher the peak load is than the average")
    headroom: Annotated[float, AmountOf(amounts.SHARE)] = Field(DEFAULT_HEADROOM, gt=0, le=1, description="the highest share of capacity the peak may use")
    tpot_ms: Annotated[Optional[float], AmountOf(amounts.MILLISECONDS)] = Field(None, gt=0, le=1e6, description=f"target time per output token, ms (default {DEFAULT_TPOT_MS:g}; "
                                     "max_ms_per_token is read as this)")
    ttft_ms: Annotated[Optional[float], AmountOf(amounts.MILLISECONDS)] = Field(None, gt=0, le=1e7, description=f"target time to first token, ms (default {DEFAULT_TTFT_MS:g})")
    max_ms_per_token: Annotated[Optional[float], AmountOf(amounts.MILLISECONDS)] = Field(None, gt=0, le=1e6, description="latency target per generated token, ms (the same as tpot_ms)")

    @model_validator(mode="after")
    def _one_of_each(self) -> "WorkloadSpec":
        models = [name for name, value in (("model", self.model), ("params_b", self.params_b), ("model_config", self.model_config_path))
                  if value is not None]
        if len(models) > 1:
            raise FieldProblem((models[1],), f"give one of model, params_b and model_config, not {' and '.join(models)}", (models[1],))
        if self.tokens_per_day is not None and self.requests_per_s is not None:
            raise FieldProblem(("requests_per_s",), "give tokens_per_day or requests_per_s, not both", ("requests_per_s",))
        if self.tpot_ms is not None and self.max_ms_per_token is not None and self.tpot_ms != self.max_ms_per_token:
            raise FieldProblem(("max_ms_per_token",), f"max_ms_per_token is tpot_ms by another name: {self.max_ms_per_token:g} "
                               f"contradicts tpot_ms {self.tpot_ms:g}", ("max_ms_per_token",))
        return self

    @property
    def tpot_target_ms(self) -> float:
        return self.tpot_ms or self.max_ms_per_token or DEFAULT_TPOT_MS

    @property
    def ttft_target_ms(self) -> float:
        return self.ttft_ms or DEFAULT_TTFT_MS


class Scenario(_Strict):
    name: Optional[str] = Field(None, min_length=1, max_length=NAME_MAX_CHARS, description="default: the file's stem")
    context: Context = Field(Context(), description="the team's situation (every field has a default)")
    workload: WorkloadSpec = Field(WorkloadSpec(), description="what is served (every field has a default)")
    prices: dict[str, Annotated[float, AmountOf(amounts.USD_PER_HOUR)]] = Field(default_factory=dict, description="on-demand USD per GPU-hour by catalog GPU id")
    spot_prices: dict[str, Annotated[float, AmountOf(amounts.USD_PER_HOUR)]] = Field(default_factory=dict, description="spot USD per GPU-hour by catalog GPU id")

    @model_validator(mode="after")
    def _prices_positive(self) -> "Scenario":
        for table in ("prices", "spot_prices"):
            for gpu_id, price in getattr(self, table).items():
                if not MIN_PRICE <= price <= MAX_PRICE:
                    raise FieldProblem((table, gpu_id), f"a price is {MIN_PRICE:g} to {MAX_PRICE:g} USD per GPU-hour", (table, gpu_id))
        return self

    @property
    def precision(self) -> str:
        return self.workload.precision or ("fp8" if self.context.using_fp8 else "fp16")


def check_against_catalog(s: Scenario, catalog: Catalog) -> None:
    """Ids and combinations that need the catalogs to judge; raises InputError naming the field
    of the first problem, with every further one in its ``more``."""
    problems = catalog_problems(s, catalog)
    if problems:
        problems[0].more = problems[1:]
        raise problems.pop(0)  # held by no local: its traceback and this frame make no cycle


def catalog_problems(s: Scenario, catalog: Catalog) -> list[InputError]:
    """Every problem only the catalogs can show (unknown ids, a context too short), each naming its field."""
    w = s.workload
    problems = []
    if w.model is not None and w.model not in catalog.models:
        problems.append(InputError(f"workload.model: unknown model {echo(w.model)}",
                                   _close(w.model, catalog.models) or "`advisor models` lists them", ("workload", "model")))
    gpus = [(f"{table}.{clip(gpu_id)}", gpu_id, (table, gpu_id)) for table in ("prices", "spot_prices") for gpu_id in getattr(s, table)]
    gpus += [("context.gpus", gpu_id, ("context", "gpus")) for gpu_id in s.context.gpus or ()]
    gpus.append(("context.fleet_gpu", s.context.fleet_gpu, ("context", "fleet_gpu")))
    for label, gpu_id, field in gpus:
        if gpu_id not in catalog.gpus:
            problems.append(InputError(f"{label}: unknown GPU {echo(gpu_id)}", _close(gpu_id, catalog.gpus) or "`advisor gpus` lists them",
                                       field))
    if s.context.using_fp8 and w.precision not in (None, "fp8"):
        problems.append(InputError(f"workload.precision: {w.precision} contradicts context.using_fp8: true",
                                   "set precision: fp8 or using_fp8: false", ("workload", "precision")))
    model = catalog.models.get(w.model or (DEFAULT_MODEL if w.params_b is None and w.model_config_path is None else ""))
    if model is not None and model.max_context and w.prompt_tokens + w.output_tokens > model.max_context:
        problems.append(InputError(
            f"workload: {w.prompt_tokens} prompt + {w.output_tokens} output tokens exceed {model.id}'s context of {model.max_context}",
            "shorten prompt_tokens or output_tokens", ("workload",)))
    return problems


def _close(wrong: str, known) -> Optional[str]:
    close = suggest(wrong, known)
    return f"did you mean {', '.join(close)}?" if close else None
