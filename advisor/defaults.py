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
