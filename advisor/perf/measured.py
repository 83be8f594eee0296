"""The serving model's prediction of a published measurement, so that it can be judged against it.

Three kinds of measurement, each predicted the way it was measured:
- ``output_tokens_per_s_per_gpu``: a static batch (TensorRT-LLM's gptSessionBenchmark): the whole
  batch prefilled at once, then ``output_tokens`` decode steps; total output tokens / time / tp;
- ``first_token_ms``: one prompt of ``prompt_tokens`` at batch 1;
- ``decode_tokens_per_s``: one stream's decode rate (gpt-fast): 1 / decode step.
"""

from __future__ import annotations

from ..catalog.efficiency import Efficiency
from ..catalog.hardware import Gpu
from ..catalog.models import ModelSpec
from . import timing

METRICS = ("output_tokens_per_s_per_gpu", "first_token_ms", "decode_tokens_per_s")


def predict(gpu: Gpu, model: ModelSpec, eff: Efficiency, *, metric: str, precision: str, tp: int, batch: int,
            prompt_tokens: int, output_tokens: int | None = None) -> float:
    if metric == "first_token_ms":
        return timing.prefill(gpu, model, precision, tp, 1, prompt_tokens, eff).total_s * 1e3
    if metric == "decode_tokens_per_s":
        context = prompt_tokens + (output_tokens or 0) / 2
        return 1 / timing.decode_step(gpu, model, precision, tp, batch, context, eff).total_s
    if metric == "output_tokens_per_s_per_gpu":
        prefill_s = timing.prefill(gpu, model, precision, tp, batch, prompt_tokens, eff).total_s
        step_s = timing.decode_step(gpu, model, precision, tp, batch, prompt_tokens + output_tokens / 2, eff).total_s
        return timing.served_tokens_per_s(batch, output_tokens, prefill_s, step_s) / tp
    raise ValueError(f"unknown metric {metric!r}; one of {', '.join(METRICS)}")
