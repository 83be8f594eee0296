"""Models: the shapes that decide memory, bandwidth and compute per token."""

from __future__ import annotations

import math
from typing import Optional

from pydantic import PositiveFloat, PositiveInt, model_validator

from ..errors import UsageError
from .sourced import Strict


class ModelSpec(Strict):
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


class CustomModelRule(Strict):
    """How a model known only by its parameter count is shaped (documented in models.yaml)."""

    head_dim: PositiveInt
    hidden_per_layer: PositiveInt
    params_per_layer_hidden_squared: PositiveFloat
    kv_heads: PositiveInt

    def shape(self, params_b: float) -> ModelSpec:
        """A Llama-shaped model of ``params_b`` billion parameters."""
        if not (isinstance(params_b, (int, float)) and math.isfinite(params_b) and params_b > 0):
            raise UsageError(f"params_b must be a positive number of billions, got {params_b!r}")
        params = params_b * 1e9
        per_layer = self.params_per_layer_hidden_squared * self.hidden_per_layer**2
        layers = max(1, round((params / per_layer) ** (1 / 3)))
        heads = max(self.kv_heads, layers * self.hidden_per_layer // self.head_dim)
        heads -= heads % self.kv_heads
        return ModelSpec(
            id=f"custom-{params_b:g}b",
            name=f"custom {params_b:g}B (estimated shape)",
            params=max(1, round(params)),
            layers=layers,
            hidden_size=heads * self.head_dim,
            attention_heads=heads,
            kv_heads=self.kv_heads,
            head_dim=self.head_dim,
            source="estimate: custom_model rule in rules/catalogs/models.yaml",
            estimated=True,
        )
