"""What a plan is asked for: the model and precision, the traffic and the latency targets."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

from .. import defaults
from ..catalog.models import ModelSpec
from ..catalog.precisions import PRECISION_CLASS
from ..errors import UsageError

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class Targets:
    """Latency targets: time per output token and time to first token, at the peak load."""

    tpot_ms: float = defaults.DEFAULT_TPOT_MS
    ttft_ms: float = defaults.DEFAULT_TTFT_MS


@dataclass(frozen=True)
class Traffic:
    """Average load in requests per second (None: no traffic given, plan one replica at its
    headroom), how much higher the peak is, and the share of capacity the peak may use."""

    requests_per_s: Optional[float] = None
    peak_to_average: float = defaults.DEFAULT_PEAK_TO_AVERAGE
    headroom: float = defaults.DEFAULT_HEADROOM

    @classmethod
    def of(cls, tokens_per_day: Optional[float], requests_per_s: Optional[float], output_tokens: int,
           peak_to_average: float = defaults.DEFAULT_PEAK_TO_AVERAGE, headroom: float = defaults.DEFAULT_HEADROOM) -> "Traffic":
        """From generated tokens a day (requests/s = tokens_per_day / 86,400 / output tokens) or requests/s."""
        if tokens_per_day is not None and requests_per_s is not None:
            raise UsageError("give tokens_per_day or requests_per_s, not both")
        rate = tokens_per_day / SECONDS_PER_DAY / output_tokens if tokens_per_day is not None else requests_per_s
        return cls(rate, peak_to_average, headroom)

    @property
    def peak_rps(self) -> Optional[float]:
        return None if self.requests_per_s is None else self.requests_per_s * self.peak_to_average


@dataclass(frozen=True)
class PlanRequest:
    model: ModelSpec
    precision: str  # as asked; each GPU serves it in its precision class (catalog.precisions.SERVED_AS)
    prompt_tokens: int = defaults.DEFAULT_PROMPT_TOKENS
    output_tokens: int = defaults.DEFAULT_OUTPUT_TOKENS
    traffic: Traffic = field(default_factory=Traffic)
    targets: Targets = field(default_factory=Targets)
    kv_precision: Optional[str] = None  # None: follows the weights (catalog.precisions.KV_PRECISION)
    prices: tuple = ()  # ((gpu id, USD per GPU-hour), ...): overrides of the catalog's on-demand prices

    def __post_init__(self):
        for name in ("prompt_tokens", "output_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UsageError(f"{name} must be a whole number of at least 1, got {value!r}")
        if self.model.max_context and self.prompt_tokens + self.output_tokens > self.model.max_context:
            raise UsageError(f"{self.prompt_tokens} prompt + {self.output_tokens} output tokens exceed {self.model.id}'s "
                             f"context of {self.model.max_context}", "shorten the prompt or the output")
        for name, value in (("tpot_ms", self.targets.tpot_ms), ("ttft_ms", self.targets.ttft_ms),
                            ("peak_to_average", self.traffic.peak_to_average)):
            if not (math.isfinite(value) and value > 0):
                raise UsageError(f"{name} must be a positive number, got {value!r}")
        if self.traffic.peak_to_average < 1:
            raise UsageError(f"peak_to_average must be at least 1 (the peak is at least the average), got {self.traffic.peak_to_average!r}")
        if not 0 < self.traffic.headroom <= 1:
            raise UsageError(f"headroom must be in (0, 1], got {self.traffic.headroom!r}", "0.8: the peak uses at most 80% of capacity")
        if self.traffic.requests_per_s is not None and not (math.isfinite(self.traffic.requests_per_s) and self.traffic.requests_per_s > 0):
            raise UsageError(f"the load must be a positive number, got {self.traffic.requests_per_s!r}")

    @property
    def precision_class(self) -> str:
        return PRECISION_CLASS[self.precision]

    def price_of(self, gpu_id: str) -> Optional[float]:
        return dict(self.prices).get(gpu_id)
