"""What each weight precision stores and computes with."""

from __future__ import annotations

from typing import Literal, get_args

Precision = Literal["fp16", "bf16", "fp8", "int8", "int4"]
PRECISIONS: tuple[str, ...] = get_args(Precision)

#: Bytes per stored weight (int4 packs two weights per byte).
BYTES_PER_WEIGHT = {"fp16": 2.0, "bf16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5}
#: The KV cache is kept at the activation precision: FP8 with FP8 weights (TensorRT-LLM, vLLM
#: fp8 KV cache); 16-bit with weight-only int8/int4 quantization, whose activations stay 16-bit.
KV_PRECISION = {"fp16": "fp16", "bf16": "bf16", "fp8": "fp8", "int8": "fp16", "int4": "fp16"}
#: Which tensor-core rate does the math: weight-only int8/int4 dequantize to fp16 first.
COMPUTE_RATE = {"fp16": "fp16", "bf16": "fp16", "fp8": "fp8", "int8": "fp16", "int4": "fp16"}
