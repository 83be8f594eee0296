"""The serving model under continuous batching, worked by hand, and the memory arithmetic of
grouped-query, latent (MLA) and mixture-of-experts models."""

import math
import pickle

import pytest

from advisor.perf import memory, timing
from advisor.perf.serving import Replica, solve_rising

H100_BW, H100_BF16 = 3350e9, 989e12


@pytest.fixture
def replica(catalog):
    # Llama-3-8B bf16 on one H100 SXM, 512-token prompts, 256-token outputs.
    return Replica(catalog.gpu("h100-80gb"), catalog.model("llama-3-8b"), "bf16", "bf16", 1, catalog.efficiency, 512, 256)


def test_tpot_of_the_average_iteration_hand_worked(replica):
    # 16 sequences generating; prompts arrive at 16 x 512 / 256 = 32 tokens an iteration (each
    # attends to 256 positions on average), in 16 / 256 of the iterations.
    b, prompt, pairs, share = 16, 32, 32 * 256, 16 / 256
    streamed = 8_030_261_248 - 128_256 * 4_096  # all but the input embedding table
    weights = streamed * 2 / (H100_BW * 0.665)
    matmul = (b + prompt) * 2 * streamed / (H100_BF16 * 0.71)  # a prefill-carrying pass: no decode factor
    kv = b * (512 + 128) * (2 * 32 * 8 * 128 * 2) / (H100_BW * 0.686)
    attention = (b * 640 + pairs) * 2 * 32 * 32 * (128 + 128) / (H100_BF16 * 0.71)
    overhead = 32 * (3.5 + share * (130 - 3.5)) * 1e-6
    tpot = overhead + max(weights, matmul) + max(kv, attention)
    assert replica.tpot_s(b) == pytest.approx(tpot, rel=1e-12)
    assert replica.tokens_per_s(b) == pytest.approx(b / tpot, rel=1e-12)
    assert replica.capacity_rps(b) == pytest.approx(b / (256 * tpot), rel=1e-12)
    # 0.365 ms overhead + 6.738 ms weights (memory-bound) + 0.584 ms KV cache (memory-bound)
    assert tpot * 1e3 == pytest.approx(0.365 + 6.738 + 0.584, abs=0.002)


@pytest.mark.parametrize("model", ["llama-3-8b", "llama-3-70b", "mixtral-8x7b", "deepseek-v3"])
@pytest.mark.parametrize("gpu, precision, tp", [("h100-80gb", "fp8", 8), ("a100-80gb", "bf16", 8), ("mi300x", "bf16", 1)])
def test_the_bound_iteration_function_is_mixed_step_exactly(catalog, model, gpu, precision, tp):
    # The planner's hot path (timing.Pass.mixed_seconds) must give the very floats of the
    # term-by-term step it stands for, at every concurrency: none, fractional, past the output length.
    r = Replica(catalog.gpu(gpu), catalog.model(model), precision, precision, tp, catalog.efficiency, 3000, 200)
    for b in (0, 0.37, 1, 7.5, 64, 199.9, 200, 201, 1024):
        assert r.tpot_s(b) == r.mixed_step(b).total_s
    assert pickle.loads(pickle.dumps(r)).tpot_s(64) == r.tpot_s(64)  # the bound function is not pickled, but made again


@pytest.mark.parametrize("model", ["llama-3-8b", "llama-3-70b", "qwen2.5-72b"])
@pytest.mark.parametrize("gpu, precision, tp", [("h100-80gb", "fp8", 8), ("a100-80gb", "bf16", 4), ("l40s", "bf16", 1)])
@pytest.mark.parametrize("prompt, output", [(3000, 200), (128, 2048)])
def test_the_concurrency_at_a_load_solved_on_lines_is_the_solvers(catalog, model, gpu, precision, tp, prompt, output):
    # a dense model's TPOT is straight between the points where its mins and maxes switch
    # (Pass.mixed_line); Little's law solved on those lines must give what the solver finds on
    # the model itself, at every load the replica can carry
    r = Replica(catalog.gpu(gpu), catalog.model(model), precision, precision, tp, catalog.efficiency, prompt, output)
    base, share_step, weights, matmul, per_seq = r.passes.mixed_line(prompt, output)
    for b in (0.5, 3, 64, output - 1, output, output + 1, 4000):
        line = base + share_step * min(1, b / output) + max(weights, matmul * b) + per_seq * b
        assert line == pytest.approx(r.tpot_s(b), rel=1e-12)
    limit = 4096
    for share in (1e-4, 0.01, 0.2, 0.5, 0.9, 0.999, 1.0):
        load = share * r.capacity_rps(limit)
        found, solved = r.concurrency_at(load, limit), solve_rising(r.capacity_rps, load, 0.0, float(limit))
        assert r.capacity_rps(found) == pytest.approx(load, rel=1e-9)  # the root itself
        # the solver stops within 1e-7 of the load: where capacity hardly grows with B (compute-bound),
        # its B is good only to that over the curve's slope
        assert r.capacity_rps(solved) == pytest.approx(load, rel=1e-7) and found == pytest.approx(solved, rel=1e-3)


def test_a_mixture_of_experts_is_left_to_the_solver(catalog):
    r = Replica(catalog.gpu("h100-80gb"), catalog.model("mixtral-8x7b"), "bf16", "bf16", 2, catalog.efficiency, 512, 256)
    assert r.passes.mixed_line(512, 256) is None
    load = 0.5 * r.capacity_rps(256)
    assert r.capacity_rps(r.concurrency_at(load, 256)) == pytest.approx(load, rel=1e-6)


def test_concurrency_at_a_load_follows_littles_law(replica):
    load = 30.0  # requests/s
    b = replica.concurrency_at(load, 512)
    assert b == pytest.approx(load * 256 * replica.tpot_s(b), rel=1e-6)  # B = L x OSL x TPOT(B)
    assert replica.concurrency_at(1e9, 512) is None  # beyond the capacity at the limit


def test_ttft_is_prefill_plus_waiting_and_grows_with_load(replica):
    # M/D/1: TTFT = TPOT/2 + rho x D / (2 (1 - rho)) + prompt time, with D the GPU time a prompt adds.
    b, load = 40.0, 20.0
    prompt_s = replica.step(b, 512, 0).total_s  # the whole 512-token prompt fits one 8,192-token chunk
    work = prompt_s - replica.step(b).total_s
    rho = load * work
    expected = replica.tpot_s(b) / 2 + rho * work / (2 * (1 - rho)) + prompt_s
    assert replica.ttft_s(b, load) == pytest.approx(expected, rel=1e-12)
    loads = [0.0, 10.0, 40.0, 0.9 / work]
    ttfts = [replica.ttft_s(b, x) for x in loads]
    assert ttfts == sorted(ttfts)
    assert ttfts[-1] - ttfts[0] == pytest.approx(0.9 * work / (2 * 0.1), rel=1e-9)  # at rho 0.9 the wait alone is 4.5 D
    assert replica.ttft_s(b, 1 / work) == math.inf  # saturated: the queue never empties


def test_a_long_prompt_is_processed_in_chunks(catalog):
    r = Replica(catalog.gpu("h100-80gb"), catalog.model("llama-3.1-8b"), "bf16", "bf16", 1, catalog.efficiency, 20_000, 100)
    assert r.chunks() == 3  # 8,192 + 8,192 + 3,616 prompt tokens
    by_hand = sum(r.step(4, size, offset).total_s for size, offset in ((8192, 0), (8192, 8192), (3616, 16384)))
    assert r.prompt_s(4) == pytest.approx(by_hand, rel=1e-12)


def test_kv_capacity_hand_worked(catalog):
    # Llama-3-70B fp8 (weights 1 B, KV fp8) on 2 H100: each GPU holds 70,553,706,496 / 2 B of weights and
    # 4 of 8 KV heads: 2 x 80 x 4 x 128 x 1 = 81,920 B per token; 1,024-token sequences.
    free = 0.9 * 80e9 - 2e9 - 70_553_706_496 / 2
    expected = int(free // (81_920 * 1024))
    assert memory.max_sequences(catalog.gpu("h100-80gb"), catalog.model("llama-3-70b"), "fp8", 2, 1024, catalog.efficiency) == expected == 413


def test_mla_caches_a_compressed_latent_on_every_gpu(catalog):
    # DeepSeek-V3: 61 x (512 + 64) x 2 B = 70,272 B per token (arXiv 2505.09343), not split by tensor parallelism.
    m = catalog.model("deepseek-v3")
    assert memory.kv_bytes_per_token(m, "bf16") == 70_272
    assert memory.kv_bytes_per_token_per_gpu(m, "bf16", 8) == 70_272
    assert memory.kv_bytes_per_token(m, "fp8") == 35_136


def test_a_sliding_window_caps_the_cache(catalog):
    # Mistral-7B attends to the last 4,096 tokens: a 10,000-token sequence caches 4,096.
    m = catalog.model("mistral-7b")
    assert memory.kv_cache_bytes(m, "bf16", 1, 10_000) == 4_096 * 2 * 32 * 8 * 128 * 2


@pytest.mark.parametrize("tokens, touched", [(1, 8), (8, 57), (32, 163), (128, 252)])
def test_experts_touched_by_a_batch(catalog, tokens, touched):
    # DeepSeek-V3 (256 routed experts, 8 per token), uniform routing: 256 x (1 - (1 - 8/256)^B) (planner notes §4).
    assert round(catalog.model("deepseek-v3").experts_touched(tokens)) == touched


def test_a_moe_step_reads_the_experts_its_tokens_touch(catalog):
    m = catalog.model("mixtral-8x7b")  # 8 experts of 3 x 4096 x 14336 weights in each of 32 layers
    expert = 3 * 4096 * 14336
    one = timing.weights_read_bytes(m, "fp8", 1)
    assert one == pytest.approx(m.streamed_params + 32 * 2 * expert, rel=1e-12)  # top-2: 2 experts a layer
    many = timing.weights_read_bytes(m, "fp8", 4096)
    assert many == pytest.approx(m.params - m.input_embedding_params, rel=1e-6)  # a large batch touches all 8


def test_solving_a_rising_curve():
    assert solve_rising(lambda x: x * x, 2.0, 0.0, 2.0) == pytest.approx(math.sqrt(2), rel=1e-6)
    assert solve_rising(lambda x: 3 * x + 1, 4.0, 0.0, 10.0) == pytest.approx(1.0, rel=1e-6)
