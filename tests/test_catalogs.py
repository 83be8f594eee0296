"""The catalogs: figures match the datasheets, parameter counts match the shapes, sources resolve."""

import pytest

from advisor.perf import memory, pricing, timing
from advisor.catalog.load import load_catalog
from advisor.errors import DataError, UsageError


def test_catalog_lists_the_required_gpus_and_models(catalog):
    assert set(catalog.gpus) == {"a100-80gb", "a100-80gb-pcie", "a100-40gb", "h100-80gb", "h100-pcie", "h200", "l40s"}
    assert set(catalog.models) == {"llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3-8b", "llama-3-70b"}


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
    for model in catalog.models.values():
        assert catalog.sources[model.source].startswith("https://huggingface.co/meta-llama/")


def _params_from_shape(m):
    # Llama: untied input and output embeddings; per layer q, o (d x heads*hd), k, v (d x kv*hd),
    # SwiGLU MLP (3 x d x ff) and two RMSNorm weights; one final norm.
    attn = 2 * m.hidden_size * m.attention_heads * m.head_dim + 2 * m.hidden_size * m.kv_heads * m.head_dim
    mlp = 3 * m.hidden_size * m.intermediate_size
    return 2 * m.vocab_size * m.hidden_size + m.layers * (attn + mlp + 2 * m.hidden_size) + m.hidden_size


@pytest.mark.parametrize("model_id", ["llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3-8b", "llama-3-70b"])
def test_parameter_counts_match_the_shapes(catalog, model_id):
    model = catalog.model(model_id)
    assert model.params == _params_from_shape(model)
    assert model.hidden_size == model.attention_heads * model.head_dim


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

    for name in ("gpus.yaml", "models.yaml", "efficiency.yaml"):
        (tmp_path / name).write_text((resources.catalog_dir() / name).read_text())
    text = (tmp_path / "gpus.yaml").read_text().replace("source: pcie-gen5-x16}", "source: nowhere}", 1)
    (tmp_path / "gpus.yaml").write_text(text)
    with pytest.raises(DataError, match="'nowhere' is not listed under sources"):
        load_catalog(tmp_path)


def test_a_duplicate_key_in_a_catalog_is_refused(tmp_path):
    from advisor import resources

    for name in ("gpus.yaml", "models.yaml", "efficiency.yaml"):
        (tmp_path / name).write_text((resources.catalog_dir() / name).read_text())
    text = (tmp_path / "models.yaml").read_text().replace("    layers: 32\n", "    layers: 32\n    layers: 33\n", 1)
    (tmp_path / "models.yaml").write_text(text)
    with pytest.raises(DataError, match=r"models.yaml:\d+: duplicate key 'layers'"):
        load_catalog(tmp_path)
