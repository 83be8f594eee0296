"""Time: one forward pass of a replica, as two rooflines in sequence, plus communication and a
fixed cost per layer.

A forward pass runs the linear layers (GEMMs over the weights) and attention (over the KV
cache) one after the other, so each gets its own roofline and the two add up:

    linear    = max(weights read / (bandwidth x eta_w), 2 x matmul params x tokens / (peak x eta_f))
    attention = max(KV read / (bandwidth x eta_kv),   attention FLOPs / (peak x eta_f))
    step      = layers x overhead + linear + attention + 2 x layers x all-reduce(tokens x hidden x 2 B)

each per GPU of a ``tp``-wide replica. The efficiencies (eta) and the overhead come from
rules/catalogs/efficiency.yaml, each with the measurements it was fitted to; nothing here is a
lookup table of measurements. A mixture-of-experts layer reads only the experts its tokens touch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from ..catalog.efficiency import Efficiency
from ..catalog.hardware import Gpu
from ..catalog.models import ModelSpec
from ..catalog.precisions import BYTES_PER_WEIGHT
from .checks import positive
from .memory import kv_bytes_per_token_per_gpu

ACTIVATION_BYTES = 2  # activations exchanged by all-reduces stay 16-bit in every precision here


def decode_floor_s(weight_bytes: float, bandwidth_bytes_per_s: float, gpus: int = 1) -> float:
    """The seed's minimum time per decode step: every weight read once at full bandwidth.

    floor = weight bytes / (gpus x bandwidth)     e.g. 140 GB / 2.0 TB/s = 70 ms
    """
    positive(weight_bytes=weight_bytes, bandwidth_bytes_per_s=bandwidth_bytes_per_s, gpus=gpus)
    return weight_bytes / (gpus * bandwidth_bytes_per_s)


@dataclass(frozen=True)
class StepTime:
    """One forward pass, term by term, in seconds (per GPU of the replica)."""

    weights_s: float  # streaming the weights the pass needs
    matmul_s: float  # the linear layers' FLOPs
    kv_s: float  # reading the KV cache
    attention_s: float  # attention's FLOPs
    communication_s: float
    overhead_s: float

    @property
    def linear_s(self) -> float:
        return max(self.weights_s, self.matmul_s)

    @property
    def attn_s(self) -> float:
        return max(self.kv_s, self.attention_s)

    @property
    def total_s(self) -> float:
        """overhead + max(weights, matmul) + max(KV, attention) + communication."""
        return self.overhead_s + self.linear_s + self.attn_s + self.communication_s

    @property
    def memory_s(self) -> float:
        return self.weights_s + self.kv_s

    @property
    def compute_s(self) -> float:
        return self.matmul_s + self.attention_s

    @property
    def bound(self) -> str:
        """What decides the step: "memory" when reads outweigh FLOPs in the rooflines that bind."""
        return "memory" if self.weights_s + self.kv_s >= self.matmul_s + self.attention_s else "compute"


def allreduce_s(message_bytes: float, gpus: int, gpu: Gpu, eff: Efficiency) -> float:
    """Ring all-reduce: latency + 2 (N-1)/N x bytes / (one-direction link bandwidth x efficiency).

    The link is NVLink (or Infinity Fabric) inside its reach, else PCIe at its own efficiency."""
    if gpus <= 1:
        return 0.0
    share = eff.allreduce.link_efficiency.value if gpu.on_nvlink(gpus) else eff.allreduce.pcie_efficiency.value
    link = gpu.link_bytes_per_s(gpus) * share
    return eff.allreduce.latency_us.value * 1e-6 + 2 * (gpus - 1) / gpus * message_bytes / link


def communication_s(model: ModelSpec, tokens: float, gpus: int, gpu: Gpu, eff: Efficiency) -> float:
    """Two all-reduces per layer (after attention and after the MLP) of tokens x hidden activations."""
    return 2 * model.layers * allreduce_s(tokens * model.hidden_size * ACTIVATION_BYTES, gpus, gpu, eff)


def weights_read_bytes(model: ModelSpec, precision: str, tokens: float) -> float:
    """Bytes of weights a pass over ``tokens`` tokens reads: every weight but the routed experts and
    the input embedding table, plus each MoE layer's experts the tokens touch."""
    params = model.streamed_params + model.moe_layers * model.experts_touched(tokens) * model.expert_params
    return params * BYTES_PER_WEIGHT[precision]


@dataclass(frozen=True)
class Pass:
    """The per-GPU cost coefficients of a replica's forward passes at one mean decode ``context``,
    computed once so that a planner can time thousands of passes cheaply (``Pass.of``, then ``step``)."""

    weights_s: float  # weights streamed whatever the batch (MoE: without the routed experts)
    expert_s: float  # one routed expert in every MoE layer
    experts: int  # routed experts per MoE layer (0: a dense model)
    expert_miss: float  # 1 - k/E: the chance a token does not pick a given expert
    matmul_s_per_token: dict  # phase -> seconds per token of linear-layer FLOPs
    decode_context: float  # tokens a decoding sequence attends to (its cached context)
    kv_s_per_seq: float  # one decoding sequence's KV cache read
    attention_s_per_pair: dict  # phase -> seconds per attended (query, key) position
    comm_latency_s: float  # the all-reduces' fixed part, per pass
    comm_s_per_token: float
    overhead_s: dict  # phase -> fixed seconds per pass

    @classmethod
    def of(cls, gpu: Gpu, model: ModelSpec, precision: str, tp: int, eff: Efficiency, context: float,
           kv_precision: Optional[str] = None, ideal: bool = False) -> "Pass":
        bandwidth, peak = gpu.bandwidth_bytes_per_s, gpu.peak_flops(precision)
        eta_w = 1.0 if ideal else eff.weight_bandwidth_efficiency[precision].value
        eta_kv = 1.0 if ideal else eff.kv_bandwidth_efficiency.value
        eta_f = 1.0 if ideal else eff.compute_efficiency[precision].value
        decode_factor = 1.0 if ideal else eff.decode_compute_factor.value
        byte = BYTES_PER_WEIGHT[precision]
        flops_token = 2 * model.matmul_params / (tp * peak)
        attention = {phase: 2 * model.layers * model.attention_heads * sum(model.attention_dims(phase)) / (tp * peak * eta_f)
                     for phase in ("decode", "prefill")}
        reduces = 0 if ideal or tp <= 1 else 2 * model.layers
        link = 1.0
        if reduces:
            share = eff.allreduce.link_efficiency.value if gpu.on_nvlink(tp) else eff.allreduce.pcie_efficiency.value
            link = gpu.link_bytes_per_s(tp) * share
        overhead = eff.step_overhead
        return cls(
            weights_s=model.streamed_params * byte / (tp * bandwidth * eta_w),
            expert_s=model.moe_layers * model.expert_params * byte / (tp * bandwidth * eta_w),
            experts=model.moe.experts if model.moe else 0,
            expert_miss=1 - model.moe.experts_per_token / model.moe.experts if model.moe else 1.0,
            matmul_s_per_token={"decode": flops_token / (eta_f * decode_factor), "prefill": flops_token / eta_f},
            decode_context=model.cached_tokens(context),
            kv_s_per_seq=model.cached_tokens(context) * kv_bytes_per_token_per_gpu(model, precision, tp, kv_precision) / (bandwidth * eta_kv),
            attention_s_per_pair=attention,
            comm_latency_s=reduces * eff.allreduce.latency_us.value * 1e-6,
            comm_s_per_token=reduces * 2 * (tp - 1) / tp * model.hidden_size * ACTIVATION_BYTES / link if reduces else 0.0,
            overhead_s={"decode": 0.0 if ideal else model.layers * overhead.decode_us_per_layer.value * 1e-6,
                        "prefill": 0.0 if ideal else model.layers * overhead.prefill_us_per_layer.value * 1e-6},
        )

    def terms(self, decode_seqs: float = 0, prefill_tokens: float = 0, prefill_pairs: float = 0.0,
              prompt_share: Optional[float] = None) -> tuple:
        """(weights, matmul, KV, attention, communication, overhead) seconds of a pass over
        ``decode_seqs`` generating sequences and ``prefill_tokens`` prompt tokens.

        ``prompt_share``: for an average of many iterations, the share of them that carry a prompt
        chunk; they pay the prefill overhead, the others the decode one (default: all, if any prompt)."""
        tokens = decode_seqs + prefill_tokens
        phase = "decode" if prefill_tokens == 0 else "prefill"
        share = (1.0 if prefill_tokens else 0.0) if prompt_share is None else prompt_share
        decode_overhead = self.overhead_s["decode"]
        # distinct experts touched: E x (1 - (1 - k/E)^tokens), as ModelSpec.experts_touched
        touched = self.experts * (1 - self.expert_miss ** tokens) if self.experts else 0.0
        return (self.weights_s + touched * self.expert_s,
                tokens * self.matmul_s_per_token[phase],
                decode_seqs * self.kv_s_per_seq,
                (decode_seqs * self.decode_context + prefill_pairs) * self.attention_s_per_pair[phase],
                (self.comm_latency_s + tokens * self.comm_s_per_token) if tokens else 0.0,
                decode_overhead + share * (self.overhead_s["prefill"] - decode_overhead))

    def step(self, decode_seqs: float = 0, prefill_tokens: float = 0, prefill_pairs: float = 0.0,
             prompt_share: Optional[float] = None) -> StepTime:
        """The pass's terms as a StepTime (see ``terms``)."""
        return StepTime(*self.terms(decode_seqs, prefill_tokens, prefill_pairs, prompt_share))

    def seconds(self, decode_seqs: float = 0, prefill_tokens: float = 0, prefill_pairs: float = 0.0,
                prompt_share: Optional[float] = None) -> float:
        """The pass's total time, as StepTime.total_s adds the terms up."""
        weights, matmul, kv, attention, comm, overhead = self.terms(decode_seqs, prefill_tokens, prefill_pairs, prompt_share)
        return overhead + (weights if weights > matmul else matmul) + (kv if kv > attention else attention) + comm

    def mixed_seconds(self, prompt_tokens: int, output_tokens: int) -> Callable[[float], float]:
        """The average iteration's time at concurrency B as a function of B: ``seconds(B, P, P x ISL / 2,
        min(1, B / OSL))`` with P = B x ISL / OSL prompt tokens (serving.Replica.tpot_s). The planner
        calls it hundreds of thousands of times a batch, so the coefficients are bound once; the
        arithmetic is ``terms``'s, in the same order, so it returns the same floats."""
        isl, osl = prompt_tokens, output_tokens
        experts, miss, expert_s, weights_s = self.experts, self.expert_miss, self.expert_s, self.weights_s
        kv_per_seq, context = self.kv_s_per_seq, self.decode_context
        comm_latency, comm_per_token = self.comm_latency_s, self.comm_s_per_token
        decode_overhead, prefill_overhead = self.overhead_s["decode"], self.overhead_s["prefill"]
        per_token, per_pair = self.matmul_s_per_token, self.attention_s_per_pair
        overhead_step = prefill_overhead - decode_overhead

        def seconds(concurrency: float) -> float:
            prompt = concurrency * isl / osl
            tokens = concurrency + prompt
            phase = "decode" if prompt == 0 else "prefill"
            share = concurrency / osl
            if share > 1.0:
                share = 1.0
            weights = weights_s + (experts * (1 - miss ** tokens) if experts else 0.0) * expert_s
            matmul = tokens * per_token[phase]
            kv = concurrency * kv_per_seq
            attention = (concurrency * context + prompt * isl / 2) * per_pair[phase]
            comm = (comm_latency + tokens * comm_per_token) if tokens else 0.0
            overhead = decode_overhead + share * overhead_step
            return overhead + (weights if weights > matmul else matmul) + (kv if kv > attention else attention) + comm

        return seconds

    def mixed_line(self, prompt_tokens: int, output_tokens: int) -> Optional[tuple]:
        """``mixed_seconds`` of a dense model gathered into lines: at any concurrency B > 0,

            base + share_step x min(1, B / OSL) + max(weights, matmul_per_seq x B) + per_seq x B

        (the decode overhead and the all-reduces' latency; the prefill overhead paid in B / OSL of
        the iterations; the linear layers' roofline; the KV cache and attention, both B times a
        sequence's, and the all-reduces' bytes), as (base, share_step, weights, matmul_per_seq,
        per_seq). None for a mixture of experts: the experts its tokens touch grow with B, not in a line."""
        if self.experts:
            return None
        ratio = prompt_tokens / output_tokens  # prompt tokens per decoding sequence in an iteration
        decode_overhead = self.overhead_s["decode"]
        attention = (self.decode_context + ratio * prompt_tokens / 2) * self.attention_s_per_pair["prefill"]
        return (decode_overhead + self.comm_latency_s, self.overhead_s["prefill"] - decode_overhead, self.weights_s,
                (1 + ratio) * self.matmul_s_per_token["prefill"],
                max(self.kv_s_per_seq, attention) + (1 + ratio) * self.comm_s_per_token)


def forward(gpu: Gpu, model: ModelSpec, precision: str, tp: int, eff: Efficiency, *, decode_seqs: float = 0,
            context: float = 0.0, prefill_tokens: float = 0, prefill_pairs: float = 0.0, kv_precision: Optional[str] = None,
            ideal: bool = False) -> StepTime:
    """One forward pass of a ``tp``-wide replica over ``decode_seqs`` sequences generating one token
    each at a mean ``context``, and ``prefill_tokens`` prompt tokens (``prefill_pairs``: the
    positions they attend to, summed; n x n / 2 for a whole causal prompt of n).

    weights   = weights read (MoE: experts touched) / (tp x bandwidth x eta_w[precision])
    matmul    = 2 x matmul params x tokens / (tp x peak[precision] x eta_f[precision] (x decode factor))
    KV        = decode_seqs x cached context x KV bytes per token per GPU / (bandwidth x eta_kv)
    attention = 2 x layers x heads x (d_qk + d_v) x (decode_seqs x context + prefill_pairs) / (tp x peak x eta_f)

    ``ideal`` sets every efficiency to 1 and drops communication and overhead: the physical ceiling.
    """
    return Pass.of(gpu, model, precision, tp, eff, context, kv_precision, ideal).step(decode_seqs, prefill_tokens, prefill_pairs)


def decode_step(gpu: Gpu, model: ModelSpec, precision: str, gpus: int, batch: int, context_tokens: float, eff: Efficiency, *,
                ideal: bool = False, kv_precision: Optional[str] = None) -> StepTime:
    """One decode step generating a token for each of ``batch`` sequences at ``context_tokens``."""
    return forward(gpu, model, precision, gpus, eff, decode_seqs=batch, context=context_tokens, kv_precision=kv_precision, ideal=ideal)


def prefill(gpu: Gpu, model: ModelSpec, precision: str, gpus: int, batch: int, prompt_tokens: int, eff: Efficiency, *,
            kv_precision: Optional[str] = None) -> StepTime:
    """Processing ``batch`` prompts of ``prompt_tokens`` each in one pass (time to first token when batch=1).

    Each prompt's causal attention covers n x n / 2 positions."""
    n = prompt_tokens
    return forward(gpu, model, precision, gpus, eff, prefill_tokens=batch * n, prefill_pairs=batch * n * n / 2, kv_precision=kv_precision)


def served_tokens_per_s(batch: int, output_tokens: int, prefill_s: float, step_s: float) -> float:
    """Output tokens/s of a static batch: every request prefilled together, then generated together.

    tokens/s = batch x output tokens / (prefill of the batch + output tokens x decode step)
    """
    return batch * output_tokens / (prefill_s + output_tokens * step_s)
