"""A scenario's workload as the numeric model takes it: the model (catalog id, parameter count
or config.json), and the plan request (traffic, targets, prices)."""

from __future__ import annotations

import os
from functools import lru_cache

from ..catalog import hf_config
from ..catalog.load import Catalog
from ..catalog.models import ModelSpec
from ..defaults import DEFAULT_MODEL
from ..errors import DataError, InputError
from ..plan.request import PlanRequest, Targets, Traffic
from ..scenario.spec import Scenario


def model_of(scenario: Scenario, catalog: Catalog) -> ModelSpec:
    """The model a scenario names: a catalog id, a parameter count, or a config.json."""
    w = scenario.workload
    if w.model_config_path is not None:
        return model_from_config(w.model_config_path)
    if w.model:
        return catalog.model(w.model)
    return catalog.custom(w.params_b) if w.params_b else catalog.model(DEFAULT_MODEL)


def model_from_config(path: str) -> ModelSpec:
    """A scenario's config.json, read once per file version in a batch; a bad file is the scenario's fault (exit 1)."""
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise InputError(f"workload.model_config: cannot read {path} ({exc.strerror})", "give the path of a config.json",
                         ("workload", "model_config")) from None
    try:
        return _read_config(path, stat.st_mtime_ns, stat.st_size)
    except DataError as exc:
        raise InputError(f"workload.model_config: {exc.message}", exc.hint, ("workload", "model_config")) from None


@lru_cache(maxsize=64)
def _read_config(path: str, _mtime_ns: int, _size: int) -> ModelSpec:
    return hf_config.read(path)


def plan_request(scenario: Scenario, catalog: Catalog) -> PlanRequest:
    """What the planner is asked for this scenario: its model, precision, traffic, targets and prices."""
    w = scenario.workload
    return PlanRequest(
        model=model_of(scenario, catalog), precision=scenario.precision, prompt_tokens=w.prompt_tokens, output_tokens=w.output_tokens,
        traffic=Traffic.of(w.tokens_per_day, w.requests_per_s, w.output_tokens, w.peak_to_average, w.headroom),
        targets=Targets(w.tpot_target_ms, w.ttft_target_ms), kv_precision=w.kv_precision,
        prices=tuple(sorted(scenario.prices.items())),
    )
