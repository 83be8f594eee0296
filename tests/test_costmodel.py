"""The numeric model against hand-worked values and the seed's own numbers.

Expected values are written out as arithmetic on datasheet and config figures, not computed by
calling the module under test.
"""

import pytest

from advisor.perf import memory, pricing, timing
from advisor.errors import UsageError

MB = 1e6
GB = 1e9


# --- the seed's arithmetic --------------------------------------------------------------------


def test_seed_cost_per_million_tokens():
    # The seed: $2.50/h at 30 tokens/s "≈ $0.023 per 1K tokens", i.e. $23.15 per million;
    # $4.50/h at 50 tokens/s "≈ $0.025 per 1K", i.e. $25.00 per million.
    assert pricing.cost_per_million_tokens(2.50, 30) == pytest.approx(2.50 / (30 * 3600) * 1e6)
    assert round(pricing.cost_per_million_tokens(2.50, 30), 2) == 23.15
    assert round(pricing.cost_per_million_tokens(4.50, 50), 2) == 25.00


def test_cost_counts_every_gpu_and_idle_time():
    one = pricing.cost_per_million_tokens(2.50, 30)
    assert pricing.cost_per_million_tokens(2.50, 30, gpus=4) == pytest.approx(4 * one)
    assert pricing.cost_per_million_tokens(2.50, 30, utilization=0.5) == pytest.approx(2 * one)


def test_seed_decode_floor_with_the_seeds_bandwidths():
    # "A100: 140 GB / 2.0 TB/s = 70ms minimum per token; H100: 140 GB / 3.35 TB/s = 42ms".
    assert timing.decode_floor_s(140 * GB, 2.0e12) == pytest.approx(0.070)
    assert timing.decode_floor_s(140 * GB, 3.35e12) == pytest.approx(0.0418, abs=5e-5)


def test_decode_floor_on_two_datasheet_gpus(catalog):
    # 140 GB split over 2 GPUs: A100 SXM 2,039 GB/s -> 140 / 4.078 = 34.3 ms; H100 SXM 3,350 -> 20.9 ms.
    a100, h100 = catalog.gpu("a100-80gb"), catalog.gpu("h100-80gb")
    assert timing.decode_floor_s(140 * GB, a100.bandwidth_bytes_per_s, 2) * 1e3 == pytest.approx(34.33, abs=0.01)
    assert timing.decode_floor_s(140 * GB, h100.bandwidth_bytes_per_s, 2) * 1e3 == pytest.approx(20.90, abs=0.01)


@pytest.mark.parametrize("bad", [0, -1, float("nan")])
def test_cost_rejects_non_positive_inputs(bad):
    with pytest.raises(UsageError):
        pricing.cost_per_million_tokens(bad, 30)
    with pytest.raises(UsageError):
        pricing.cost_per_million_tokens(2.5, bad)


@pytest.mark.parametrize("bad", [0, -0.1, 1.01, float("nan")])
def test_utilization_outside_zero_one_is_refused(bad):
    with pytest.raises(UsageError, match="utilization"):
        pricing.cost_per_million_tokens(2.5, 30, utilization=bad)


# --- memory -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "precision, expected_gb", [("fp16", 140), ("bf16", 140), ("fp8", 70), ("int8", 70), ("int4", 35)]
)
def test_weight_bytes_per_precision(precision, expected_gb):
    assert memory.weight_bytes(70e9, precision) == pytest.approx(expected_gb * GB)


@pytest.mark.parametrize(
    "model_id, expected",
    [
        ("llama-2-70b", 2 * 80 * 8 * 128 * 2),  # 327,680 B: the notes' ~0.33 MB (GQA)
        ("llama-3-70b", 2 * 80 * 8 * 128 * 2),
        ("llama-2-7b", 2 * 32 * 32 * 128 * 2),  # 524,288 B: ~0.52 MB (no GQA)
        ("llama-3-8b", 2 * 32 * 8 * 128 * 2),  # 131,072 B: ~0.13 MB
    ],
)
def test_kv_cache_per_token(catalog, model_id, expected):
    assert memory.kv_bytes_per_token(catalog.model(model_id), "fp16") == expected
    assert memory.kv_bytes_per_token(catalog.model(model_id), "fp8") == expected / 2
    # weight-only int4 keeps a 16-bit KV cache
    assert memory.kv_bytes_per_token(catalog.model(model_id), "int4") == expected


def test_kv_cache_of_a_batch(catalog):
    model = catalog.model("llama-2-70b")
    assert memory.kv_cache_bytes(model, "fp16", 32, 1000) == pytest.approx(32 * 1000 * 327_680)


def test_usable_memory_is_ninety_percent_less_two_gb(catalog):
    assert memory.usable_memory_bytes(catalog.gpu("a100-80gb"), catalog.efficiency) == pytest.approx(0.9 * 80 * GB - 2 * GB)
    assert memory.usable_memory_bytes(catalog.gpu("h200"), catalog.efficiency) == pytest.approx(0.9 * 141 * GB - 2 * GB)


def test_seventy_b_fp16_needs_four_a100s_and_says_why(catalog):
    # 140 GB of weights cannot fit one 80 GB GPU; two give 140 GB usable, no room for the KV cache.
    sizing = memory.gpus_needed(catalog.gpu("a100-80gb"), catalog.custom(70), "fp16", 1, 768, catalog.efficiency)
    assert sizing.gpus == 4
    assert "140.0 GB weights" in sizing.reason and "2 GPUs give only 140.0 GB usable" in sizing.reason


def test_notes_alternatives_for_seventy_b(catalog):
    # "FP8 on 2 H100s, or 1 H200 in FP8" (shared/notes/cost-model.md), for the seed's 70B model.
    # (Llama-2-70B's 69.0 GB in FP8 squeezes onto one H100 with 1 GB of KV cache at batch 1.)
    model, eff = catalog.custom(70), catalog.efficiency
    assert memory.gpus_needed(catalog.gpu("h100-80gb"), model, "fp8", 1, 768, eff).gpus == 2
    assert memory.gpus_needed(catalog.gpu("h200"), model, "fp8", 1, 768, eff).gpus == 1


def test_small_model_fits_one_gpu(catalog):
    sizing = memory.gpus_needed(catalog.gpu("a100-40gb"), catalog.model("llama-2-7b"), "fp16", 1, 768, catalog.efficiency)
    assert sizing.gpus == 1 and "fits in one GPU" in sizing.reason


def test_does_not_fit_beyond_one_node(catalog):
    # 70B fp16 with 256 sequences of 4k tokens: 138 GB + 256 x 4096 x 0.33 MB = 482 GB > 8 x 41.2 GB on L40S.
    sizing = memory.gpus_needed(catalog.gpu("l40s"), catalog.model("llama-2-70b"), "fp16", 256, 4096, catalog.efficiency)
    assert sizing.gpus is None and "does not fit" in sizing.reason


def test_tensor_parallel_sizes_split_the_attention_heads_within_a_node(catalog):
    # Powers of two up to the node's 8 GPUs that divide the heads: Qwen2.5-7B's 28 heads stop at 4.
    h100 = catalog.gpu("h100-80gb")
    assert memory.tensor_parallel_sizes(h100, catalog.model("llama-2-7b")) == [1, 2, 4, 8]
    assert memory.tensor_parallel_sizes(h100, catalog.model("qwen2.5-7b")) == [1, 2, 4]


def test_kv_heads_are_replicated_beyond_their_count(catalog):
    # Llama-3-70B has 8 KV heads: at TP8 each GPU holds 1 (1/8 of the cache), at TP16 it would still hold 1.
    m = catalog.model("llama-3-70b")
    whole = 2 * 80 * 8 * 128 * 2
    assert memory.kv_bytes_per_token_per_gpu(m, "fp16", 8) == whole / 8
    assert memory.kv_bytes_per_token_per_gpu(m.model_copy(update={"kv_heads": 2, "attention_heads": 64}), "fp16", 8) == 2 * 80 * 1 * 128 * 2


def test_fp8_on_a100_names_the_alternatives(catalog):
    with pytest.raises(UsageError) as err:
        memory.check_precision(catalog.gpu("a100-80gb"), "fp8")
    text = str(err.value)
    assert "no FP8" in text and "fp16" in text and "int8" in text and "h100-80gb" in text
    memory.check_precision(catalog.gpu("h100-80gb"), "fp8")  # supported: no error


# --- time ---------------------------------------------------------------------------------------


def test_decode_step_hand_worked(catalog):
    # Llama-2-7B bf16, batch 1, context 100, one A100 SXM (2,039 GB/s, 312 TFLOPS). The constants,
    # from efficiency.yaml: eta_w 0.665, eta_kv 0.686, eta_f 0.71 x decode factor 0.872, 3.5 us per layer.
    # weights read = (6,738,415,616 - 32,000 x 4,096 input embedding) x 2 B = 13,214,687,232 B
    #              / (2039e9 x 0.665)                                        = 9.7459 ms
    # KV read      = 100 x 524,288 B / (2039e9 x 0.686)                      = 0.0375 ms
    # matmul       = 2 x 6,607,343,616 / (312e12 x 0.71 x 0.872)             = 0.0684 ms
    # attention    = 2 x 32 x 32 x (128 + 128) x 100 / (312e12 x 0.71)       = 0.0002 ms
    # overhead     = 32 x 3.5 us                                             = 0.1120 ms
    step = timing.decode_step(catalog.gpu("a100-80gb"), catalog.model("llama-2-7b"), "bf16", 1, 1, 100, catalog.efficiency)
    assert step.weights_s == pytest.approx(13_214_687_232 / (2039e9 * 0.665), rel=1e-12)
    assert step.kv_s == pytest.approx(100 * 524_288 / (2039e9 * 0.686), rel=1e-12)
    assert step.matmul_s == pytest.approx(2 * 6_607_343_616 / (312e12 * 0.71 * 0.872), rel=1e-12)
    assert step.attention_s == pytest.approx(2 * 32 * 32 * 256 * 100 / (312e12 * 0.71), rel=1e-12)
    assert step.communication_s == 0 and step.overhead_s == pytest.approx(32 * 3.5e-6)
    assert step.bound == "memory"
    assert step.total_s * 1e3 == pytest.approx(9.7459 + 0.0375 + 0.1120, abs=2e-4)


def test_allreduce_hand_worked(catalog):
    # H100 SXM, 2 GPUs on NVLink (900 GB/s both ways: 450e9 one way), 16,384 bytes, latency 18 us,
    # link efficiency 0.63: 18 us + 2 x 1/2 x 16,384 / (450e9 x 0.63) = 18.0578 us.
    h100 = catalog.gpu("h100-80gb")
    assert timing.allreduce_s(16_384, 2, h100, catalog.efficiency) * 1e6 == pytest.approx(18 + 16_384 / (450e9 * 0.63) * 1e6)
    assert timing.allreduce_s(16_384, 1, h100, catalog.efficiency) == 0
    # L40S has no NVLink: PCIe Gen4 (32e9 one way) at the PCIe efficiency 0.44.
    l40s = catalog.gpu("l40s")
    assert timing.allreduce_s(16_384, 2, l40s, catalog.efficiency) * 1e6 == pytest.approx(18 + 16_384 / (32e9 * 0.44) * 1e6)


def test_a_point_to_point_mesh_gives_a_pair_one_link(catalog):
    # MI300X: 7 Infinity Fabric links of 128 GB/s (64 one way); a pair gets one, 8 GPUs all seven (448 one way).
    mi300x = catalog.gpu("mi300x")
    assert mi300x.link_bytes_per_s(2) == 64e9
    assert mi300x.link_bytes_per_s(8) == 448e9


def test_pcie_cards_fall_back_to_pcie_beyond_their_bridge(catalog):
    # An NVLink bridge joins 2 PCIe cards; a 4-way group talks over PCIe Gen5 (64 GB/s one way).
    h100_pcie = catalog.gpu("h100-pcie")
    assert h100_pcie.link_bytes_per_s(2) == 300e9
    assert h100_pcie.link_bytes_per_s(4) == 64e9
    assert catalog.gpu("l40s").link_bytes_per_s(2) == 32e9


def test_prefill_hand_worked(catalog):
    # Llama-2-70B fp16, 1 prompt of 1,000 tokens on 4 A100 SXM (312 TFLOPS, 300 GB/s NVLink one way):
    # matmul    = 2 x (68,976,648,192 - 32,000 x 8,192) x 1000 / (4 x 312e12 x 0.71)   = 155.10 ms
    # attention = 2 x 80 x 64 x 256 x (1000 x 1000 / 2) / (4 x 312e12 x 0.71)        =   1.48 ms
    # comm      = 2 x 80 x (18 us + 2 x 3/4 x 1000 x 8192 x 2 B / (300e9 x 0.63))      =  23.68 ms
    # overhead  = 80 x 130 us                                                          =  10.40 ms
    p = timing.prefill(catalog.gpu("a100-80gb"), catalog.model("llama-2-70b"), "fp16", 4, 1, 1000, catalog.efficiency)
    matmul = 2 * (68_976_648_192 - 32_000 * 8_192) * 1000 / (4 * 312e12 * 0.71)
    attention = 2 * 80 * 64 * 256 * 500_000 / (4 * 312e12 * 0.71)
    comm = 160 * (18e-6 + 1.5 * 1000 * 8192 * 2 / (300e9 * 0.63))
    assert p.matmul_s == pytest.approx(matmul, rel=1e-9) and p.attention_s == pytest.approx(attention, rel=1e-9)
    assert p.communication_s == pytest.approx(comm, rel=1e-9)
    assert p.bound == "compute" and p.kv_s == 0
    assert p.total_s * 1e3 == pytest.approx(155.10 + 1.48 + 23.69 + 10.40, abs=0.02)


def test_served_tokens_include_prefill():
    # 8 requests, 100 output tokens each; prefill 0.5 s, 20 ms a step: 800 tokens in 2.5 s.
    assert timing.served_tokens_per_s(8, 100, 0.5, 0.020) == pytest.approx(320)


# --- money --------------------------------------------------------------------------------------


def test_monthly_cost():
    assert pricing.monthly_cost(2.50, 4, 730) == pytest.approx(7300)


def test_break_even_price_equalises_cost_per_token():
    # Baseline: 4 GPUs at $2.50 making 40 tokens/s; candidate: 2 GPUs making 60 tokens/s.
    # p = 2.50 x (4 / 2) x (60 / 40) = $7.50
    price = pricing.break_even_price(2.50, 4, 40, 2, 60)
    assert price == pytest.approx(7.50)
    assert pricing.cost_per_million_tokens(price, 60, gpus=2) == pytest.approx(pricing.cost_per_million_tokens(2.50, 40, gpus=4))


def test_break_even_utilization_equalises_cost_per_token():
    # Candidate: 2 x $4.50 at 60 tokens/s, 90% busy. Baseline: 4 x $2.50 at 40 tokens/s.
    # u_b = 0.9 x 4 x 2.50 x 60 / (2 x 4.50 x 40) = 1.5: the baseline cannot match it.
    assert pricing.break_even_utilization(2.50, 4, 40, 4.50, 2, 60, 0.9) == pytest.approx(1.5)
    u = pricing.break_even_utilization(2.50, 1, 30, 4.50, 1, 50, 0.9)  # the seed's per-GPU example
    assert u == pytest.approx(0.9 * 2.50 * 50 / (4.50 * 30))
    assert pricing.cost_per_million_tokens(2.50, 30, utilization=u) == pytest.approx(pricing.cost_per_million_tokens(4.50, 50, utilization=0.9))
