"""Models: the shapes that decide memory, bandwidth and compute per token.

Dense transformers with multi-head or grouped-query attention (Llama, Mistral, Qwen2), with
mixture-of-experts MLPs (Mixtral, DeepSeek) and with multi-head latent attention (DeepSeek).
The parameter count follows from the shape (``shape_params``); catalog entries state the
published count too, and the tests hold the two together.
"""

from __future__ import annotations

import math
from typing import Optional

from pydantic import NonNegativeInt, PositiveFloat, PositiveInt, model_validator

from ..errors import UsageError
from .sourced import Strict


class MoE(Strict):
    """Mixture-of-experts MLPs: ``experts`` routed experts per MoE layer, ``experts_per_token``
    of them chosen for each token, ``shared_experts`` always run; the first ``dense_layers``
    layers keep a dense MLP of ``intermediate_size``."""

    experts: PositiveInt
    experts_per_token: PositiveInt
    shared_experts: NonNegativeInt = 0
    expert_intermediate_size: PositiveInt
    dense_layers: NonNegativeInt = 0
    router_bias: bool = False  # DeepSeek's e_score_correction_bias

    @model_validator(mode="after")
    def _k_of_e(self) -> "MoE":
        if self.experts_per_token > self.experts:
            raise ValueError("experts_per_token must not exceed experts")
        return self


class MLA(Strict):
    """Multi-head latent attention (DeepSeek-V2/V3): keys and values cached as one compressed
    latent of ``kv_lora_rank`` plus a shared rotary key of ``qk_rope_head_dim`` per token and layer."""

    kv_lora_rank: PositiveInt
    qk_rope_head_dim: PositiveInt
    qk_nope_head_dim: PositiveInt
    v_head_dim: PositiveInt
    q_lora_rank: Optional[PositiveInt] = None


class Published(Strict):
    """A parameter count as the model's authors state it (often rounded), with its source."""

    params_b: PositiveFloat
    active_b: Optional[PositiveFloat] = None
    source: str


class ModelSpec(Strict):
    id: str
    name: str
    params: PositiveInt  # every parameter, all experts included
    layers: PositiveInt
    hidden_size: PositiveInt
    intermediate_size: Optional[PositiveInt] = None
    attention_heads: PositiveInt
    kv_heads: PositiveInt
    head_dim: PositiveInt
    vocab_size: Optional[PositiveInt] = None
    max_context: Optional[PositiveInt] = None
    sliding_window: Optional[PositiveInt] = None  # attention (and the KV cache) over the last N tokens only
    tie_word_embeddings: bool = False
    qkv_bias: bool = False
    moe: Optional[MoE] = None
    mla: Optional[MLA] = None
    source: str
    published: Optional[Published] = None
    estimated: bool = False

    @model_validator(mode="after")
    def _heads(self) -> "ModelSpec":
        if self.attention_heads % self.kv_heads:
            raise ValueError("attention_heads must be a multiple of kv_heads")
        return self

    def cached_tokens(self, context: float) -> float:
        """Tokens of a sequence the KV cache holds: all of them, or the sliding window's."""
        return min(context, self.sliding_window) if self.sliding_window else context

    @property
    def input_embedding_params(self) -> int:
        """The input embedding table: looked up row by row, never multiplied (unless tied to the output head)."""
        return 0 if self.tie_word_embeddings or not self.vocab_size else self.vocab_size * self.hidden_size

    @property
    def moe_layers(self) -> int:
        return self.layers - self.moe.dense_layers if self.moe else 0

    @property
    def expert_params(self) -> int:
        """One expert's MLP: gate, up and down projections."""
        return 3 * self.hidden_size * self.moe.expert_intermediate_size if self.moe else 0

    @property
    def active_params(self) -> int:
        """Parameters one token computes with: the routed experts it picks, not all of them."""
        if not self.moe:
            return self.params
        return self.params - self.moe_layers * (self.moe.experts - self.moe.experts_per_token) * self.expert_params

    @property
    def matmul_params(self) -> int:
        """Parameters multiplied per token (2 FLOPs each): the active ones but the input embedding."""
        return self.active_params - self.input_embedding_params

    @property
    def streamed_params(self) -> int:
        """Parameters a forward pass reads whatever the batch, i.e. all but the routed experts and
        the input embedding table; routed experts are read as the batch touches them."""
        routed = self.moe_layers * self.moe.experts * self.expert_params if self.moe else 0
        return self.params - routed - self.input_embedding_params

    def experts_touched(self, tokens: float) -> float:
        """Distinct routed experts per MoE layer that ``tokens`` tokens select, under uniform routing:
        E x (1 - (1 - k/E)^tokens). Uniform routing is the most by concavity; skew touches fewer."""
        if not self.moe or tokens <= 0:
            return 0.0
        e, k = self.moe.experts, self.moe.experts_per_token
        return e * (1 - (1 - k / e) ** tokens)

    def attention_dims(self, phase: str) -> tuple[int, int]:
        """(query-key, value) width per head. MLA decodes on the compressed latent (weights absorbed,
        as vLLM and SGLang do) and prefills on the decompressed heads."""
        if self.mla is None:
            return self.head_dim, self.head_dim
        if phase == "decode":
            return self.mla.kv_lora_rank + self.mla.qk_rope_head_dim, self.mla.kv_lora_rank
        return self.mla.qk_nope_head_dim + self.mla.qk_rope_head_dim, self.mla.v_head_dim


def shape_params(m: ModelSpec) -> int:
    """The parameter count a shape implies (planner notes §5; vLLM's model definitions).

    N = V x h x (2 - tie) + h + sum over layers of (attention + MLP + 2 h)
    attention (MHA/GQA) = h x d x (2 heads + 2 kv_heads), plus d x (heads + 2 kv_heads) with QKV bias
    attention (MLA) = h q_lora + q_lora + q_lora heads (nope+rope) + h (kv_lora+rope) + kv_lora
                      + kv_lora heads (nope+v) + heads v h        (without q_lora: h heads (nope+rope))
    MLP = 3 h I (dense) or (E + shared) x 3 h I_moe + h E (+ E router bias) (MoE layers)
    """
    h, layers = m.hidden_size, m.layers
    embed = (m.vocab_size or 0) * h * (1 if m.tie_word_embeddings else 2)
    attention = _attention_params(m)
    dense_mlp = 3 * h * (m.intermediate_size or 0)
    total = embed + h + layers * (attention + 2 * h)
    if m.moe:
        moe = m.moe
        moe_mlp = (moe.experts + moe.shared_experts) * m.expert_params + h * moe.experts + (moe.experts if moe.router_bias else 0)
        return total + moe.dense_layers * dense_mlp + m.moe_layers * moe_mlp
    return total + layers * dense_mlp


def _attention_params(m: ModelSpec) -> int:
    h, heads = m.hidden_size, m.attention_heads
    if m.mla is None:
        bias = m.head_dim * (heads + 2 * m.kv_heads) if m.qkv_bias else 0
        return h * m.head_dim * (2 * heads + 2 * m.kv_heads) + bias
    a = m.mla
    qk = a.qk_nope_head_dim + a.qk_rope_head_dim
    query = h * a.q_lora_rank + a.q_lora_rank + a.q_lora_rank * heads * qk if a.q_lora_rank else h * heads * qk
    kv = h * (a.kv_lora_rank + a.qk_rope_head_dim) + a.kv_lora_rank + a.kv_lora_rank * heads * (a.qk_nope_head_dim + a.v_head_dim)
    return query + kv + heads * a.v_head_dim * h


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
