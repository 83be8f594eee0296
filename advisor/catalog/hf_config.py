"""A Hugging Face ``config.json`` read into a ``ModelSpec``: dense (Llama, Mistral, Qwen2),
mixture-of-experts (Mixtral, DeepSeek) and multi-head latent attention (DeepSeek).

Only what decides memory, bandwidth and compute is read; every key of the file must be one this
module knows (a shape it models, or a setting that does not change the shape), so that an
architecture it does not model is refused rather than mis-sized. A problem is one line naming
the file, the key and what was expected.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Optional

from pydantic import ValidationError

from ..errors import DataError, Location, did_you_mean
from .models import MLA, ModelSpec, MoE, shape_params

MAX_CONFIG_BYTES = 1_000_000

#: Settings that do not change a model's shape: read past, whatever their value.
_NOT_SHAPE = {
    "_name_or_path", "architectures", "model_type", "attention_dropout", "bos_token_id", "eos_token_id", "pad_token_id",
    "initializer_range", "rms_norm_eps", "rope_scaling", "rope_theta", "torch_dtype", "transformers_version", "use_cache",
    "pretraining_tp", "max_window_layers", "use_mrope", "output_router_logits", "router_aux_loss_coef", "router_jitter_noise",
    "quantization_config", "auto_map", "aux_loss_alpha", "seq_aux", "ep_size", "n_group", "topk_group", "topk_method",
    "norm_topk_prob", "routed_scaling_factor", "scoring_func", "num_nextn_predict_layers", "moe_layer_freq",
}
_DENSE = {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim",
          "vocab_size", "max_position_embeddings", "tie_word_embeddings", "hidden_act", "attention_bias", "mlp_bias",
          "sliding_window", "use_sliding_window"}
_MIXTRAL = _DENSE | {"num_local_experts", "num_experts_per_tok"}
_DEEPSEEK = _DENSE | {"n_routed_experts", "n_shared_experts", "num_experts_per_tok", "moe_intermediate_size", "first_k_dense_replace",
                      "kv_lora_rank", "q_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"}


class _Config:
    """The parsed file with typed getters that name the key at fault."""

    def __init__(self, path: str, text: str, data: dict):
        self.path, self.text, self.data = path, text, data

    def fail(self, key: str, message: str) -> DataError:
        marker = f'"{key}"'
        line = self.text[: self.text.index(marker)].count("\n") + 1 if marker in self.text else None
        return DataError(f"{Location(self.path, line)}: {key}: {message}", "a Hugging Face config.json of a supported model; "
                         "`advisor models` lists the shipped ones")

    def int(self, key: str, default: Optional[int] = None, minimum: int = 1) -> int:
        value = self.data.get(key, default)
        if value is None:
            raise self.fail(key, "required, missing")
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(key, f"expected a whole number of at least {minimum}, got {_short(value)}")
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {_short(value)}")
        return value

    def check_keys(self, known: set) -> None:
        for key in self.data:
            if key not in known and key not in _NOT_SHAPE:
                raise self.fail(key, "a setting this advisor does not model (it may change the shape)"
                                + did_you_mean(key, sorted(known)))

    def must(self, key: str, allowed: tuple) -> None:
        if key in self.data and self.data[key] not in allowed:
            raise self.fail(key, f"{_short(self.data[key])} is not modelled (only {', '.join(map(str, allowed))})")


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _dense_fields(c: _Config, qkv_bias: bool) -> dict:
    heads = c.int("num_attention_heads")
    hidden = c.int("hidden_size")
    c.must("hidden_act", ("silu",))
    c.must("mlp_bias", (False,))
    window = c.data.get("sliding_window") if c.data.get("use_sliding_window", True) else None
    return dict(
        layers=c.int("num_hidden_layers"), hidden_size=hidden, intermediate_size=c.int("intermediate_size"),
        attention_heads=heads, kv_heads=c.int("num_key_value_heads", heads), head_dim=c.int("head_dim", hidden // heads),
        vocab_size=c.int("vocab_size"), max_context=c.int("max_position_embeddings"),
        tie_word_embeddings=c.flag("tie_word_embeddings"), qkv_bias=qkv_bias or c.flag("attention_bias"),
        sliding_window=c.int("sliding_window") if window is not None else None,
    )


def _llama(c: _Config) -> dict:
    c.check_keys(_DENSE)
    return _dense_fields(c, qkv_bias=False)


def _qwen2(c: _Config) -> dict:
    c.check_keys(_DENSE)
    return _dense_fields(c, qkv_bias=True)  # Qwen2 always has biases on q, k and v


def _mixtral(c: _Config) -> dict:
    c.check_keys(_MIXTRAL)
    fields = _dense_fields(c, qkv_bias=False)
    fields["moe"] = MoE(experts=c.int("num_local_experts"), experts_per_token=c.int("num_experts_per_tok"),
                        expert_intermediate_size=fields["intermediate_size"])
    return fields


def _deepseek(c: _Config) -> dict:
    c.check_keys(_DEEPSEEK)
    c.must("attention_bias", (False,))
    fields = _dense_fields(c, qkv_bias=False)
    fields["moe"] = MoE(experts=c.int("n_routed_experts"), experts_per_token=c.int("num_experts_per_tok"),
                        shared_experts=c.int("n_shared_experts", 0, minimum=0), expert_intermediate_size=c.int("moe_intermediate_size"),
                        dense_layers=c.int("first_k_dense_replace", 0, minimum=0), router_bias=c.data.get("topk_method") == "noaux_tc")
    q_lora = c.data.get("q_lora_rank")
    fields["mla"] = MLA(kv_lora_rank=c.int("kv_lora_rank"), qk_rope_head_dim=c.int("qk_rope_head_dim"),
                        qk_nope_head_dim=c.int("qk_nope_head_dim"), v_head_dim=c.int("v_head_dim"),
                        q_lora_rank=None if q_lora is None else c.int("q_lora_rank"))
    fields["head_dim"] = fields["mla"].qk_nope_head_dim + fields["mla"].qk_rope_head_dim
    return fields


ARCHITECTURES: dict[str, Callable[[_Config], dict]] = {
    "LlamaForCausalLM": _llama, "MistralForCausalLM": _llama, "Qwen2ForCausalLM": _qwen2,
    "MixtralForCausalLM": _mixtral, "DeepseekV3ForCausalLM": _deepseek, "DeepseekV2ForCausalLM": _deepseek,
}


def parse(text: str, path: str, model_id: str, name: Optional[str] = None, source: Optional[str] = None) -> ModelSpec:
    """A ModelSpec from a config.json's text; DataError naming ``path`` and the key on any problem."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{Location(path, exc.lineno)}: not JSON ({exc.msg})", "a Hugging Face config.json") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: a config.json is a JSON object of settings")
    c = _Config(path, text, data)
    architectures = data.get("architectures")
    if not (isinstance(architectures, list) and len(architectures) == 1 and isinstance(architectures[0], str)):
        raise c.fail("architectures", "expected a list with one architecture such as [\"LlamaForCausalLM\"]")
    builder = ARCHITECTURES.get(architectures[0])
    if builder is None:
        raise c.fail("architectures", f"{_short(architectures[0])} is not modelled (supported: {', '.join(ARCHITECTURES)})"
                      + did_you_mean(architectures[0], ARCHITECTURES))
    try:
        fields = builder(c)
        shaped = ModelSpec(id=model_id, name=name or model_id, params=1, source=source or path, **fields)
        return shaped.model_copy(update={"params": shape_params(shaped)})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise DataError(f"{path}: {'.'.join(map(str, err['loc'])) or 'config'}: {err['msg']}") from None


def read(path: Path, model_id: Optional[str] = None, name: Optional[str] = None, source: Optional[str] = None) -> ModelSpec:
    """A ModelSpec from a config.json file (``--model-config``, ``workload.model_config``)."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise DataError(f"{path}: larger than {MAX_CONFIG_BYTES // 1_000_000} MB; a config.json is a few KB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text; a config.json is JSON") from None
    stem = path.parent.name if path.name == "config.json" else path.stem
    return parse(text, str(path), model_id or stem, name, source)
