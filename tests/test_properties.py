"""Properties of the cost model that must hold for every input (hypothesis)."""

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from advisor.perf import memory, pricing, timing
from advisor.catalog.load import load_catalog
from advisor.catalog.sourced import Figure
from advisor.perf.deployment import Workload, estimate

CATALOG = load_catalog()
GPU_IDS = sorted(CATALOG.gpus)
MODEL_IDS = sorted(CATALOG.models)
precisions = st.sampled_from(["fp16", "bf16", "int8", "int4", "fp8"])
gpu_ids = st.sampled_from(GPU_IDS)
model_ids = st.sampled_from(MODEL_IDS)
tp = st.sampled_from([1, 2, 4, 8])
batches = st.integers(1, 512)
contexts = st.integers(1, 8192)


def _usable(gpu_id, precision):
    return CATALOG.gpu(gpu_id).supports(precision)


@settings(max_examples=300, deadline=None)
@given(gpu_ids, model_ids, precisions, tp, batches, contexts, st.floats(1.01, 5.0))
def test_more_bandwidth_is_never_slower(gpu_id, model_id, precision, gpus, batch, context, factor):
    assume(_usable(gpu_id, precision))
    gpu, model, eff = CATALOG.gpu(gpu_id), CATALOG.model(model_id), CATALOG.efficiency
    faster = gpu.model_copy(update={"hbm_bandwidth_gbps": Figure(value=gpu.hbm_bandwidth_gbps.value * factor, source="test")})
    slow = timing.decode_step(gpu, model, precision, gpus, batch, context, eff).total_s
    fast = timing.decode_step(faster, model, precision, gpus, batch, context, eff).total_s
    assert fast <= slow
    assert timing.prefill(faster, model, precision, gpus, batch, 256, eff).total_s <= timing.prefill(gpu, model, precision, gpus, batch, 256, eff).total_s


@settings(max_examples=300, deadline=None)
@given(gpu_ids, model_ids, precisions, batches, st.integers(1, 64), st.integers(1, 2048), st.integers(1, 1024))
def test_bigger_batch_never_lowers_throughput_while_it_fits(gpu_id, model_id, precision, batch, extra, prompt, output):
    assume(_usable(gpu_id, precision))
    model = CATALOG.model(model_id)
    assume(prompt + output <= model.max_context)
    gpu = CATALOG.gpu(gpu_id)
    small = Workload(model=model, precision=precision, batch=batch, prompt_tokens=prompt, output_tokens=output)
    big = Workload(model=model, precision=precision, batch=batch + extra, prompt_tokens=prompt, output_tokens=output)
    n = memory.gpus_needed(gpu, model, precision, big.batch, big.context_tokens, CATALOG.efficiency).gpus
    assume(n is not None)  # the bigger batch fits on n GPUs, so the smaller one does too
    a = estimate(CATALOG, gpu, small, gpus=n)
    b = estimate(CATALOG, gpu, big, gpus=n)
    assert a.fits and b.fits
    assert b.tokens_per_s >= a.tokens_per_s * (1 - 1e-12)
    assert b.decode_tokens_per_s >= a.decode_tokens_per_s * (1 - 1e-12)


@settings(max_examples=300, deadline=None)
@given(st.floats(0.01, 100), st.floats(0.01, 1e6), st.integers(1, 64), st.floats(0.01, 1.0), st.floats(1.0, 10.0))
def test_cost_is_linear_in_price_and_inverse_in_utilization(price, tps, gpus, util, k):
    base = pricing.cost_per_million_tokens(price, tps, gpus, util)
    assert pricing.cost_per_million_tokens(price * k, tps, gpus, util) == pytest.approx(base * k, rel=1e-9)
    assert pricing.cost_per_million_tokens(price, tps, gpus, util / k) == pytest.approx(base * k, rel=1e-9)
    assert pricing.cost_per_million_tokens(price, tps * k, gpus, util) == pytest.approx(base / k, rel=1e-9)


@settings(max_examples=200, deadline=None)
@given(gpu_ids, model_ids, precisions, tp, batches, contexts)
def test_the_floor_is_never_above_the_estimate(gpu_id, model_id, precision, gpus, batch, context):
    assume(_usable(gpu_id, precision))
    gpu, model, eff = CATALOG.gpu(gpu_id), CATALOG.model(model_id), CATALOG.efficiency
    # the physical floor: every weight a step streams (not the input embedding table, nor unused experts) at full bandwidth
    floor = timing.decode_floor_s(timing.weights_read_bytes(model, precision, batch), gpu.bandwidth_bytes_per_s, gpus)
    ideal = timing.decode_step(gpu, model, precision, gpus, batch, context, eff, ideal=True).total_s
    real = timing.decode_step(gpu, model, precision, gpus, batch, context, eff).total_s
    assert floor <= ideal <= real


@settings(max_examples=200, deadline=None)
@given(gpu_ids, model_ids, precisions, batches, st.integers(1, 4096))
def test_default_gpu_count_is_the_fewest_that_fit(gpu_id, model_id, precision, batch, context):
    assume(_usable(gpu_id, precision))
    gpu, model, eff = CATALOG.gpu(gpu_id), CATALOG.model(model_id), CATALOG.efficiency
    sizing = memory.gpus_needed(gpu, model, precision, batch, context, eff)
    usable = memory.usable_memory_bytes(gpu, eff)
    sizes = memory.tensor_parallel_sizes(gpu, model)

    def per_gpu(n):  # each GPU: its share of the weights and of every sequence's KV cache
        return memory.weight_bytes(model.params, precision) / n + batch * model.cached_tokens(context) * memory.kv_bytes_per_token_per_gpu(model, precision, n)

    if sizing.gpus is None:
        assert all(per_gpu(n) > usable for n in sizes)
    else:
        assert per_gpu(sizing.gpus) <= usable
        assert sizing.gpus == sizes[0] or per_gpu(sizes[sizes.index(sizing.gpus) - 1]) > usable
