"""The catalogs: figures match the datasheets, parameter counts match the shapes, sources resolve."""

import shutil

import pytest

from advisor.perf import memory
from advisor.catalog.load import load_catalog
from advisor.errors import DataError, UsageError


def test_catalog_lists_the_required_gpus_and_models(catalog):
    assert set(catalog.gpus) == {"a100-80gb", "a100-80gb-pcie", "a100-40gb", "h100-80gb", "h100-pcie", "h200", "l40s",
                                 "b200", "mi300x", "l4", "h100-nvl"}
    assert set(catalog.models) == {"llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3-8b", "llama-3-70b", "llama-3.1-8b",
                                   "llama-3.1-70b", "llama-3.1-405b", "llama-3.3-70b", "qwen2.5-7b", "qwen2.5-72b", "mistral-7b",
                                   "mixtral-8x7b", "deepseek-v3"}


@pytest.mark.parametrize(
    "gpu_id, memory, bandwidth, fp16, fp8",
    [  # shared/notes/cost-model.md, dense figures
        ("a100-80gb", 80, 2039, 312, None),
        ("a100-80gb-pcie", 80, 1935, 312, None),
        ("a100-40gb", 40, 1555, 312, None),
        ("h100-80gb", 80, 3350, 989, 1979),
        ("h100-pcie", 80, 2000, 756, 1513),
        ("h200", 141, 4800, 989, 1979),
        ("l40s", 48, 864, 362, 733),
        # shared/notes/planner.md §6: dense = half the "with sparsity" headline for NVIDIA
        ("b200", 180, 7700, 2250, 4500),
        ("mi300x", 192, 5300, 1307.4, 2614.9),
        ("l4", 24, 300, 121, 242.5),
        ("h100-nvl", 94, 3900, 835.5, 1670.5),
    ],
)
def test_datasheet_figures(catalog, gpu_id, memory, bandwidth, fp16, fp8):
    gpu = catalog.gpu(gpu_id)
    assert (gpu.memory_gb.value, gpu.hbm_bandwidth_gbps.value, gpu.fp16_tflops.value, gpu.fp8_tflops.value) == (
        memory, bandwidth, fp16, fp8)


def test_seed_figures_stay_visible_beside_the_datasheet(catalog):
    a100, h100 = catalog.gpu("a100-80gb").seed, catalog.gpu("h100-80gb").seed
    assert (a100.bandwidth_tbps, a100.fp16_tflops, a100.fp8_tflops, a100.price_usd_per_hour) == (2.0, 312, None, (2.00, 2.50))
    assert (h100.bandwidth_tbps, h100.fp16_tflops, h100.fp8_tflops, h100.price_usd_per_hour) == (3.35, 990, 1979, (4.00, 5.00))


def test_every_figure_cites_a_listed_source(catalog):
    for gpu in catalog.gpus.values():
        for name, value in gpu:
            if hasattr(value, "source"):
                assert value.source in catalog.sources, (gpu.id, name)
        assert gpu.price.observed.year >= 2024
        assert gpu.spot_price is None or gpu.spot_price.usd_per_hour < gpu.price.usd_per_hour
    for model in catalog.models.values():
        assert model.source in catalog.sources and (model.published is None or model.published.source in catalog.sources)
    assert catalog.gpu("b200").fp4_tflops.value == 9000 and catalog.gpu("h100-80gb").fp4_tflops.value is None


def _params_from_shape(m):
    """The count written out per family (planner notes §5), independently of advisor's own shape_params."""
    h, layers = m.hidden_size, m.layers
    embeddings = m.vocab_size * h * (1 if m.tie_word_embeddings else 2)
    if m.mla:  # DeepSeek: q/kv low-rank projections with their norms, then per-head up-projections
        a, heads = m.mla, m.attention_heads
        attention = (h * a.q_lora_rank + a.q_lora_rank + a.q_lora_rank * heads * (a.qk_nope_head_dim + a.qk_rope_head_dim)
                     + h * (a.kv_lora_rank + a.qk_rope_head_dim) + a.kv_lora_rank
                     + a.kv_lora_rank * heads * (a.qk_nope_head_dim + a.v_head_dim) + heads * a.v_head_dim * h)
    else:  # q, o (h x heads x d) and k, v (h x kv x d); Qwen2 adds biases on q, k, v
        attention = 2 * h * m.attention_heads * m.head_dim + 2 * h * m.kv_heads * m.head_dim
        attention += m.head_dim * (m.attention_heads + 2 * m.kv_heads) if m.qkv_bias else 0
    dense_mlp = 3 * h * m.intermediate_size
    if m.moe is None:
        return embeddings + h + layers * (attention + dense_mlp + 2 * h)
    e = m.moe
    moe_mlp = (e.experts + e.shared_experts) * 3 * h * e.expert_intermediate_size + h * e.experts + (e.experts if e.router_bias else 0)
    return embeddings + h + layers * (attention + 2 * h) + e.dense_layers * dense_mlp + (layers - e.dense_layers) * moe_mlp


# The counts the tests re-derive, as published (shared/notes/planner.md §5 and the models' sources).
EXACT = {"llama-2-7b": 6_738_415_616, "llama-2-13b": 13_015_864_320, "llama-2-70b": 68_976_648_192, "llama-3-8b": 8_030_261_248,
         "llama-3-70b": 70_553_706_496, "llama-3.1-8b": 8_030_261_248, "llama-3.1-70b": 70_553_706_496,
         "llama-3.1-405b": 405_853_388_800, "qwen2.5-7b": 7_615_616_512, "qwen2.5-72b": 72_706_203_648,
         "mistral-7b": 7_241_732_096, "mixtral-8x7b": 46_702_792_704, "deepseek-v3": 671_026_419_200}


@pytest.mark.parametrize("model_id", sorted(EXACT))
def test_parameter_counts_are_re_derived_from_the_shapes(catalog, model_id):
    model = catalog.model(model_id)
    assert model.params == _params_from_shape(model) == EXACT[model_id]
    if model.published:  # the authors' figure, often rounded: within half a unit of its last digit, or 2%
        stated = model.published.params_b * 1e9
        assert abs(model.params - stated) <= max(0.02 * stated, 0.5e9), (model.params, stated)


def test_active_parameters_of_the_mixtures_of_experts(catalog):
    # Mixtral: 46.7B total, 12.9B per token (2 of 8 experts); DeepSeek-V3: 671B total, 37B activated.
    assert catalog.model("mixtral-8x7b").active_params == 12_879_925_248
    assert catalog.model("deepseek-v3").active_params == 37_552_297_472
    # DeepSeek's README_WEIGHTS "36.6B" counts the output head but not the input embedding lookup.
    assert round(catalog.model("deepseek-v3").matmul_params / 1e9, 1) == 36.6


@pytest.mark.parametrize("params_b, like", [(8, "llama-3-8b"), (70, "llama-2-70b"), (70, "llama-3-70b")])
def test_custom_model_kv_estimate_is_close_to_real_gqa_models(catalog, params_b, like):
    estimated = memory.kv_bytes_per_token(catalog.custom(params_b), "fp16")
    real = memory.kv_bytes_per_token(catalog.model(like), "fp16")
    assert abs(estimated / real - 1) < 0.15


def test_custom_model_shape(catalog):
    m = catalog.custom(70)
    assert (m.layers, m.kv_heads, m.head_dim, m.params, m.estimated) == (71, 8, 128, 70_000_000_000, True)


def test_unknown_ids_suggest_the_close_ones(catalog):
    with pytest.raises(UsageError, match="did you mean h100-80gb"):
        catalog.gpu("h100")
    with pytest.raises(UsageError, match="llama-3-70b"):
        catalog.model("llama3-70b")


def test_a_catalog_figure_without_a_source_is_refused(tmp_path):
    src = load_catalog().gpus  # noqa: F841 - the shipped catalog loads
    from advisor import resources

    shutil.copytree(resources.catalog_dir(), tmp_path, dirs_exist_ok=True)
    text = (tmp_path / "gpus.yaml").read_text().replace("source: pcie-gen5-x16}", "source: nowhere}", 1)
    (tmp_path / "gpus.yaml").write_text(text)
    with pytest.raises(DataError, match="'nowhere' is not listed under sources"):
        load_catalog(tmp_path)


def test_a_duplicate_key_in_a_catalog_is_refused(tmp_path):
    from advisor import resources

    shutil.copytree(resources.catalog_dir(), tmp_path, dirs_exist_ok=True)
    text = (tmp_path / "gpus.yaml").read_text().replace("    memory_type: HBM3e\n", "    memory_type: HBM3e\n    memory_type: HBM3\n", 1)
    (tmp_path / "gpus.yaml").write_text(text)
    with pytest.raises(DataError, match=r"gpus.yaml:\d+: duplicate key 'memory_type'"):
        load_catalog(tmp_path)
