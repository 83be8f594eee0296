"""What each weight precision stores and computes with, and what a KV cache may be stored in."""

from __future__ import annotations

from typing import Literal, get_args

Precision = Literal["fp16", "bf16", "fp8", "fp4", "int8", "int4"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
KvPrecision = Literal["fp16", "bf16", "fp8"]
KV_PRECISIONS: tuple[str, ...] = get_args(KvPrecision)

#: Bytes per stored weight (4-bit formats pack two weights per byte; block scales not counted).
BYTES_PER_WEIGHT = {"fp16": 2.0, "bf16": 2.0, "fp8": 1.0, "fp4": 0.5, "int8": 1.0, "int4": 0.5}
#: The KV cache's default precision follows the activations: FP8 with FP8 or FP4 weights
#: (TensorRT-LLM, vLLM fp8 KV cache); 16-bit with weight-only int8/int4, whose activations stay
#: 16-bit. A workload may choose its own (``kv_precision``).
KV_PRECISION = {"fp16": "fp16", "bf16": "bf16", "fp8": "fp8", "fp4": "fp8", "int8": "fp16", "int4": "fp16"}
#: Which tensor-core rate does the math: weight-only int8/int4 dequantize to fp16 first.
COMPUTE_RATE = {"fp16": "fp16", "bf16": "fp16", "fp8": "fp8", "fp4": "fp4", "int8": "fp16", "int4": "fp16"}
#: Weight precisions by how many bits a weight keeps: a user asks for a class; each GPU serves it
#: with the best format it has (FP8 where the GPU has FP8 tensor cores, INT8 weight-only elsewhere).
PRECISION_CLASS = {"fp16": "16-bit", "bf16": "16-bit", "fp8": "8-bit", "int8": "8-bit", "fp4": "4-bit", "int4": "4-bit"}
SERVED_AS = {"16-bit": ("bf16", "fp16"), "8-bit": ("fp8", "int8"), "4-bit": ("fp4", "int4")}
