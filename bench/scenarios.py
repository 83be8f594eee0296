"""Generated scenario batches for the benchmarks: what a team's what-if sweep looks like.

A team sweeps its situation (fleet, budget, priorities, spot, a waiting list, the GPUs it may
buy) over a handful of workloads and price quotes; ``batch`` writes such a sweep as files of
``PER_FILE`` scenarios (a file is the unit of work of ``--jobs``), in YAML or in JSON. The mix,
per scenario, drawn with a fixed seed:

- workload: one of ``WORKLOADS`` (six: chat, long prompts, a small model, FP8 by request, a
  load in requests/s, tighter latency targets); FP8 also whenever ``context.using_fp8`` is drawn;
- prices: one of ``PRICES`` (four quotes for the seed's pair, the catalog's for the rest);
- context: starting_fresh, can_use_spot (with spot_availability half the time), using_fp8,
  an A100 fleet half the time with its utilization (two decimals, 0.20 to 1.00) and, for a
  quarter of the fleets, its size (8, 16, 32 or 64 GPUs; the load is then the fleet's, from its
  utilization rounded to the 0.05 a fleet dashboard reports), optimize_for, stage, a monthly
  budget (USD 5k to 500k, to the thousand) or can_afford_h100, an H100 wait and a date needed,
  and the GPUs the team would buy (all, the seed's pair, or the pair and two more).

``distinct_loads=True`` gives every fleet its own size, so that no two scenarios plan the same
load: the worst case for the planner's caches, measured beside the realistic mix.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

PER_FILE = 1_000

WORKLOADS = [
    {"model": "llama-3-70b", "tokens_per_day": 2e9},
    {"model": "llama-3-70b", "prompt_tokens": 3000, "output_tokens": 300, "tokens_per_day": 5e8},
    {"model": "llama-3-8b", "tokens_per_day": 1e9},
    {"model": "llama-2-70b", "precision": "fp8"},
    {"model": "qwen2.5-72b", "requests_per_s": 20},
    {"model": "llama-3.1-70b", "tpot_ms": 30, "ttft_ms": 500},
]
PRICES = [
    {},
    {"h100-80gb": 3.0, "a100-80gb": 1.8},
    {"h100-80gb": 2.5, "a100-80gb": 1.5},
    {"h100-80gb": 4.5, "a100-80gb": 2.5},
]
GPU_CHOICES = [None, ["a100-80gb", "h100-80gb"], ["a100-80gb", "h100-80gb", "h200", "mi300x"]]


def scenario(rng: random.Random, index: int, distinct_loads: bool = False) -> dict:
    """One scenario of the mix (see the module docstring)."""
    ctx: dict = {"starting_fresh": rng.random() < 0.4, "can_use_spot": rng.random() < 0.25, "using_fp8": rng.random() < 0.15}
    if ctx["can_use_spot"] and rng.random() < 0.5:
        ctx["spot_availability"] = rng.choice([0.5, 0.7, 0.9])
    workload = dict(rng.choice(WORKLOADS))
    if ctx["using_fp8"]:
        workload["precision"] = "fp8"
    if rng.random() < 0.5:
        ctx["have_a100_fleet"] = True
        ctx["utilization"] = round(rng.uniform(0.2, 1.0), 2)
        if distinct_loads:
            ctx["fleet_gpus"] = 8 + index
        elif rng.random() < 0.25:
            ctx["fleet_gpus"] = rng.choice([8, 16, 32, 64])
            ctx["utilization"] = max(0.05, round(ctx["utilization"] * 20) / 20)
        if "fleet_gpus" in ctx:
            workload = {k: v for k, v in workload.items() if k not in ("tokens_per_day", "requests_per_s")}
    if rng.random() < 0.5:
        ctx["optimize_for"] = rng.choice(["latency", "cost_per_token", "throughput_per_gpu", "availability"])
    if rng.random() < 0.5:
        ctx["stage"] = rng.choice(["experimentation", "production"])
    if rng.random() < 0.3:
        ctx["monthly_budget_usd"] = float(rng.randrange(5, 500) * 1000)
    elif rng.random() < 0.3:
        ctx["can_afford_h100"] = rng.random() < 0.6
    if rng.random() < 0.2:
        ctx["h100_wait_weeks"] = rng.choice([2, 6, 12, 20])
        ctx["needed_in_weeks"] = rng.choice([4, 8, 16])
    gpus = rng.choice(GPU_CHOICES)
    if gpus:
        ctx["gpus"] = gpus
    return {"name": f"s{index}", "context": ctx, "workload": workload, "prices": dict(rng.choice(PRICES))}


def batch(directory: Path, count: int, *, seed: int = 7, fmt: str = "yaml", distinct_loads: bool = False) -> Path:
    """``count`` scenarios in files of PER_FILE under ``directory`` (YAML flow style, or JSON)."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for start in range(0, count, PER_FILE):
        entries = [scenario(rng, i, distinct_loads) for i in range(start, min(count, start + PER_FILE))]
        path = directory / f"batch-{start // PER_FILE:04d}.{fmt}"
        if fmt == "json":
            path.write_text(json.dumps({"scenarios": entries}, indent=1) + "\n")
        else:
            path.write_text("scenarios:\n" + "".join(f"  - {_flow(e)}\n" for e in entries))
    return directory


def _flow(value) -> str:
    """A value in YAML flow style, as a person writes a sweep by hand: plain keys and numbers."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1e6:
        return f"{value:.0e}".replace("e+0", "e").replace("e+", "e")
    return str(value)
