"""Serving under continuous batching: one replica's TPOT, capacity and TTFT at a concurrency.

A replica runs iterations. Each carries one new token for every one of the ``B`` sequences in
flight, plus the prompt tokens of arriving requests (chunked prefill, as vLLM and TensorRT-LLM
schedule them). In a steady state every request brings ``ISL`` prompt tokens per ``OSL``
generated ones, so an average iteration carries ``C = B x ISL / OSL`` prompt tokens (the
balance aiconfigurator's planner uses):

    TPOT(B)        = step(B decodes at mean context ISL + OSL/2, C prompt tokens)
    tokens/s(B)    = B / TPOT(B)                          output tokens per second
    capacity(B)    = B / (OSL x TPOT(B))                   requests per second
    B at load L    : B = L x OSL x TPOT(B)                 (Little's law over the decode phase)

Time to first token under a load of ``L`` requests/s (a prompt waits for the iteration in
progress, then for the prompts ahead of it, then is processed in chunks beside the decodes):

    TTFT = TPOT/2 + rho x D / (2 (1 - rho)) + chunks x step(B decodes, chunk)
    D    = step(B decodes, ISL prompt tokens) - step(B decodes)    the GPU time one prompt adds
    rho  = L x D                                               (M/D/1 queueing, as DistServe models prefill)

so TTFT grows with the load, without bound as rho approaches 1.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable, Optional

from ..catalog.efficiency import Efficiency
from ..catalog.hardware import Gpu
from ..catalog.models import ModelSpec
from . import memory
from .timing import Pass, StepTime


@dataclass(frozen=True)
class Replica:
    """One replica of a model on ``tp`` GPUs serving requests of ``prompt_tokens`` in and ``output_tokens`` out."""

    gpu: Gpu
    model: ModelSpec
    precision: str
    kv_precision: str
    tp: int
    eff: Efficiency
    prompt_tokens: int
    output_tokens: int

    @functools.cached_property
    def passes(self) -> Pass:
        """The replica's pass coefficients (computed once per replica)."""
        return Pass.of(self.gpu, self.model, self.precision, self.tp, self.eff, self.context, self.kv_precision)

    @property
    def context(self) -> float:
        """Mean context a sequence attends to while it generates: the prompt plus half the output."""
        return self.prompt_tokens + self.output_tokens / 2

    def max_sequences(self) -> int:
        """Sequences whose whole KV cache (prompt + output) fits beside the weights, at most the engine's cap."""
        fit = memory.max_sequences(self.gpu, self.model, self.precision, self.tp, self.prompt_tokens + self.output_tokens,
                                   self.eff, self.kv_precision)
        return min(fit, self.eff.max_sequences)

    def step(self, decode_seqs: float, prefill_tokens: float = 0.0, prefill_offset: float = 0.0) -> StepTime:
        """An iteration: ``decode_seqs`` generating, ``prefill_tokens`` of prompts starting ``prefill_offset`` tokens in."""
        return self.passes.step(decode_seqs, prefill_tokens, prefill_tokens * (prefill_offset + prefill_tokens / 2))

    def mixed_step(self, concurrency: float) -> StepTime:
        """The average iteration at ``concurrency``: B decodes and B x ISL / OSL prompt tokens; a prompt
        arrives in B / OSL of the iterations (Little's law), which pay the prefill overhead."""
        prompt = concurrency * self.prompt_tokens / self.output_tokens
        # a prompt token attends to half its prompt on average
        return self.passes.step(concurrency, prompt, prompt * self.prompt_tokens / 2, min(1.0, concurrency / self.output_tokens))

    def tpot_s(self, concurrency: float) -> float:
        """The average iteration's time at ``concurrency`` (``mixed_step``'s total)."""
        return self._tpot(concurrency)

    @functools.cached_property
    def _tpot(self) -> Callable[[float], float]:
        """``tpot_s`` as a function of the concurrency, bound once per replica (timing.Pass.mixed_seconds)."""
        return self.passes.mixed_seconds(self.prompt_tokens, self.output_tokens)

    @functools.cached_property
    def _line(self) -> Optional[tuple]:
        """``tpot_s`` of a dense model as lines (timing.Pass.mixed_line); None for a mixture of experts."""
        return self.passes.mixed_line(self.prompt_tokens, self.output_tokens)

    @functools.cached_property
    def _stretches(self) -> dict:
        """limit -> ``_line``'s stretches up to it (``_stretches_of``), made once per limit."""
        return {}

    @functools.cached_property
    def _prompt_alone_s(self) -> float:
        """A prompt processed with no decodes beside it (``prompt_s(0)``), once per replica."""
        return self.prompt_s(0.0)

    def __getstate__(self) -> dict:
        """Pickled without the bound ``tpot_s`` function (a closure); it is made again on first use."""
        return {k: v for k, v in self.__dict__.items() if k != "_tpot"}

    def tokens_per_s(self, concurrency: float) -> float:
        """Output tokens per second of the replica at ``concurrency``."""
        return concurrency / self.tpot_s(concurrency)

    def capacity_rps(self, concurrency: float) -> float:
        """Requests per second the replica completes at ``concurrency``."""
        return self.tokens_per_s(concurrency) / self.output_tokens

    def concurrency_at(self, load_rps: float, limit: float) -> Optional[float]:
        """The concurrency at which the replica carries ``load_rps`` (Little's law), or None above ``limit``'s capacity."""
        if load_rps <= 0:
            return 0.0
        if self.capacity_rps(limit) < load_rps:
            return None
        tpot, osl = self._tpot, self.output_tokens
        capacity = lambda b: b / tpot(b) / osl  # noqa: E731 - capacity_rps, inlined
        if self._line is not None:  # a dense model: Little's law solved on the line the root lies on
            stretches = self._stretches.get(limit)
            if stretches is None:
                stretches = self._stretches[limit] = _stretches_of(self._line, float(limit), osl)
            found = _on_line(stretches, load_rps * osl)
            if found is not None and abs(capacity(found) - load_rps) <= 1e-9 * load_rps:  # checked on the model itself
                return found
        return solve_rising(capacity, load_rps, 0.0, float(limit))

    def prefill_work_s(self, concurrency: float, prompt_s: float) -> float:
        """D: the GPU time one prompt adds to the iterations it shares with ``concurrency`` decodes,
        given ``prompt_s``, the prompt's time beside them (``prompt_s(concurrency)``)."""
        return prompt_s - self.chunks() * self.passes.seconds(concurrency)

    def chunks(self) -> int:
        return math.ceil(self.prompt_tokens / self.eff.serving.prefill_chunk_tokens.value)

    def prompt_s(self, concurrency: float) -> float:
        """Time to process one prompt in chunks, each beside ``concurrency`` running decodes."""
        chunk = self.eff.serving.prefill_chunk_tokens.value
        total, offset = 0.0, 0.0
        while offset < self.prompt_tokens:
            size = min(chunk, self.prompt_tokens - offset)
            total += self.passes.seconds(concurrency, size, size * (offset + size / 2))
            offset += size
        return total

    def ttft_s(self, concurrency: float, load_rps: float) -> float:
        """Time to first token at ``concurrency`` and an arrival rate of ``load_rps`` (infinite when saturated)."""
        prompt = self.prompt_s(concurrency)
        work = self.prefill_work_s(concurrency, prompt)
        rho = load_rps * work
        if rho >= 1:
            return math.inf
        waiting = rho * work / (2 * (1 - rho))
        return self.tpot_s(concurrency) / 2 + waiting + prompt

    def input_share(self, concurrency: float) -> float:
        """Share of a request's GPU work that is its prompt: its prefill done alone, against its share
        of the decode steps at ``concurrency`` (each phase's work as if it ran by itself):

            share = prefill(ISL) / (prefill(ISL) + OSL x step(B decodes) / B)"""
        prefill = self._prompt_alone_s
        decode = self.output_tokens * self.passes.seconds(concurrency) / concurrency if concurrency > 0 else math.inf
        return prefill / (prefill + decode)


def _stretches_of(line: tuple, limit: float, osl: int) -> tuple:
    """``Pass.mixed_line``'s TPOT on (0, limit] as straight stretches (low, high, a, b), TPOT = a + b B
    on each: the points where its min (at B = OSL) or its max (at weights = matmul x B) switches
    split the range."""
    base, share_step, weights, matmul, per_seq = line
    corners = sorted({0.0, limit, *(x for x in (float(osl), weights / matmul if matmul > 0 else limit) if 0 < x < limit)})
    stretches = []
    for low, high in zip(corners, corners[1:]):
        middle = (low + high) / 2
        a, b = base, per_seq
        if middle < osl:
            b += share_step / osl
        else:
            a += share_step
        if matmul * middle < weights:
            a += weights
        else:
            b += matmul
        stretches.append((low, high, a, b))
    return tuple(stretches)


def _on_line(stretches: tuple, k: float) -> Optional[float]:
    """B with B = k x TPOT(B) (Little's law at a load of k / OSL requests/s) on the stretch of
    ``_stretches_of`` that holds it: B = k a / (1 - k b). None if none does (then a solver finds it)."""
    for low, high, a, b in stretches:
        if k * b < 1:
            root = k * a / (1 - k * b)
            if low * (1 - 1e-12) <= root <= high * (1 + 1e-12):
                return min(max(root, low), high)
    return None


def solve_rising(f, target: float, low: float, high: float, tolerance: float = 1e-7) -> float:
    """x in [low, high] with f(x) = target for a rising f, f(low) <= target <= f(high): the
    Illinois variant of false position, which converges in a handful of steps on the smooth,
    piecewise-linear curves of the serving model (bisection's guarantee kept as a fallback)."""
    f_low, f_high = f(low) - target, f(high) - target
    if f_high <= 0:
        return high
    side = 0
    for _ in range(60):
        x = (low * f_high - high * f_low) / (f_high - f_low) if f_high != f_low else (low + high) / 2
        if not low < x < high:
            x = (low + high) / 2
        fx = f(x) - target
        if abs(fx) <= tolerance * abs(target):
            return x
        if high - low <= tolerance * max(1.0, abs(high)):
            return high
        if fx > 0:
            high, f_high = x, fx
            if side == 1:
                f_low /= 2
            side = 1
        else:
            low, f_low = x, fx
            if side == -1:
                f_high /= 2
            side = -1
    return high
