"""Workload and targets in, a searched space of deployments out (as aiconfigurator and vidur do):
for each GPU, each precision it can serve and each tensor-parallel size that fits, the
concurrency and replicas that carry the peak load within the headroom and meet the latency
targets at the lowest monthly cost; every candidate kept with the reason it lost or was dropped.

May import: ``perf``, ``catalog`` and the root modules. Modules: ``request`` (what is served,
how much, how fast), ``planner`` (the search and its result).
"""
