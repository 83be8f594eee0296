"""Every default the advisor assumes, defined once: commands, scenario files and the guided
session all read them from here, and the output says when one was assumed."""

from __future__ import annotations

#: The seed's "70B model" and its two GPUs.
DEFAULT_MODEL = "llama-2-70b"
A100, H100 = "a100-80gb", "h100-80gb"
SEED_PAIR = (A100, H100)

DEFAULT_PRECISION = "fp16"
#: Concurrent sequences per deployment: a moderate interactive serving load. Batch 1 would price
#: a GPU serving one user at a time (the seed's own arithmetic, $80 per million tokens for 70B).
DEFAULT_BATCH = 16
DEFAULT_PROMPT_TOKENS = 512
DEFAULT_OUTPUT_TOKENS = 256
#: A deployment busy all its paid hours unless said otherwise.
DEFAULT_UTILIZATION = 1.0

# --- planning a deployment (advisor plan, and the figures behind every decision) ---------------
#: Latency targets of an interactive chat service. 50 ms per output token is 20 tokens/s per
#: stream, several times reading speed; a first token within 2 s (aiconfigurator's default TTFT
#: target is 2,000 ms, vidur's P90 TTFT SLO 2 s).
DEFAULT_TPOT_MS = 50.0
DEFAULT_TTFT_MS = 2000.0
#: Traffic peaks at twice its daily average (diurnal load of an interactive service).
DEFAULT_PEAK_TO_AVERAGE = 2.0
#: The peak may use at most 80% of capacity (vidur flags configurations above 80% of an SLO as at
#: risk; queues grow without bound as utilization approaches 1).
DEFAULT_HEADROOM = 0.8
