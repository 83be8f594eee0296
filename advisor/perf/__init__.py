"""The numeric model: pure functions in SI units (bytes, seconds, FLOPs, USD), a formula in
each docstring, no file or terminal I/O.

May import: ``catalog`` and the root modules. Modules: ``memory`` (weights, KV cache, fit),
``timing`` (prefill, decode step, all-reduce), ``pricing`` (cost per token, monthly, break-even),
``deployment`` (a workload on one GPU type sized, timed and priced; all GPUs compared),
``checks`` (argument checks the formulas share).
"""
