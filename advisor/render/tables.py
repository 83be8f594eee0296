"""Tables of the catalog and estimate commands, the rules and the audit store: text and JSON.

Every text cell goes through ``table`` or ``safe``: rule files and the audit store are input too."""

from __future__ import annotations

from typing import Sequence

from .text import money, number, percent, safe, survey_mark, survey_note, table, to_json


# --- estimate ---------------------------------------------------------------------------------


def estimate_table(est, workload_line: str) -> str:
    fields = [
        ("GPUs", f"{est.gpus} x {est.gpu}"),
        ("why that many", est.gpus_reason),
        ("memory", "-" if est.memory_needed_gb is None else f"{est.memory_needed_gb:.1f} GB needed of {est.memory_usable_gb:.1f} GB usable"),
        ("weights", number(est.weights_gb, 1, " GB")),
        ("KV cache", number(est.kv_cache_gb, 2, " GB")),
        ("decode floor", number(est.decode_floor_ms_per_token, 1, " ms/token") + ("  (weights / bandwidth)" if est.decode_floor_ms_per_token else "")),
        ("decode estimate", number(est.decode_ms_per_token, 1, " ms/token") + (f"  ({est.decode_bound}-bound)" if est.decode_bound else "")),
        ("time to first token", number(est.ttft_ms, 0, " ms")),
        ("throughput", f"{number(est.tokens_per_s, 1, ' tokens/s')}  ({est.tokens_per_s_source}, whole deployment)"),
        ("ceiling", number(est.throughput_ceiling_tokens_per_s, 1, " tokens/s") + ("  (100% of peak bandwidth and compute)" if est.throughput_ceiling_tokens_per_s else "")),
        ("prefill share", percent(est.prefill_share) + ("  of GPU time" if est.prefill_share is not None else "")),
        ("price", f"{money(est.price_usd_per_hour)} per GPU-hour at {percent(est.utilization)} utilization"),
        ("cost", f"{money(est.cost_per_million_tokens)} per million tokens"),
        ("monthly", f"{money(est.monthly_cost_usd, 0)} for {est.gpus} GPU{'s' if est.gpus > 1 else ''}"),
    ]
    fields = [(k, v) for k, v in fields if not v.startswith("-")]  # figures that need a model
    width = max(len(k) for k, _ in fields)
    return safe(workload_line) + "\n\n" + "\n".join(f"  {k.ljust(width)}  {safe(v)}" for k, v in fields)


def estimate_json(est) -> str:
    return to_json(est.to_json())


# --- compare ----------------------------------------------------------------------------------


def compare_table(rows, workload_line: str, baseline: str, survey: Sequence[str] = ()) -> str:
    """``survey``: the GPUs priced only by a survey (marked, and named under the table)."""
    body = []
    for r in rows:
        e = r.estimate
        body.append([
            "*" if r.chosen else "",
            r.gpu,
            e.gpus if e else "-",
            money(e.price_usd_per_hour) if e else "-",
            number(e.decode_ms_per_token) if e else "-",
            number(e.tokens_per_s) if e else "-",
            number(e.ttft_ms, 0) if e else "-",
            money(e.cost_per_million_tokens) if e else "-",
            money(e.monthly_cost_usd, 0) if e else "-",
            money(r.break_even_price_usd_per_hour),
            ("cheapest" if r.chosen else r.lost_because) + survey_mark(r.gpu, survey),
        ])
    headers = ["", "GPU", "GPUs", "$/GPU-h", "ms/token", "tokens/s", "TTFT ms", "$/M tokens", "$/month", "break-even $/h", "verdict"]
    note = f"break-even $/h: the hourly price per GPU at which it costs the same per token as {baseline}"
    shown = survey_note([r.gpu for r in rows if r.gpu in survey])
    return (f"{safe(workload_line)}\nranked by cost per million tokens\n\n{table(headers, body, right=range(2, 10))}\n\n{safe(note)}"
            + (f"\n{shown}" if shown else ""))


def compare_json(rows, workload: dict, baseline: str) -> str:
    chosen = next((r.gpu for r in rows if r.chosen), None)
    return to_json({"workload": workload, "baseline": baseline, "cheapest": chosen, "rows": [r.to_json() for r in rows]})


# --- catalogs ---------------------------------------------------------------------------------


def gpus_table(catalog) -> str:
    rows = []
    for g in catalog.gpus.values():
        seed = ""
        if g.seed:
            lo, hi = g.seed.price_usd_per_hour
            seed = f"{g.seed.bandwidth_tbps} TB/s, {g.seed.fp16_tflops:g} TF, ${lo:.2f}-{hi:.2f}"
        rows.append([
            g.id, g.name, f"{g.memory_gb.value:g} GB", f"{g.hbm_bandwidth_gbps.value:,.0f}", f"{g.fp16_tflops.value:g}",
            number(g.fp8_tflops.value, 0), number(g.fp4_tflops.value, 0), number(g.nvlink_gbps.value, 0), money(g.price.usd_per_hour),
            money(g.spot_price.usd_per_hour) if g.spot_price else "-", g.price.observed.isoformat(), seed,
        ])
    headers = ["id", "name", "memory", "GB/s", "FP16 TF", "FP8 TF", "FP4 TF", "link GB/s", "$/h", "spot $/h", "price seen", "seed says"]
    return table(headers, rows, right=range(3, 10)) + "\n\nDense TFLOPS (no sparsity); sources and dates: `advisor gpus --format json`."


def gpus_json(catalog) -> str:
    gpus = []
    for g in catalog.gpus.values():
        body = g.model_dump(mode="json")
        body["sources"] = {
            name: catalog.sources[value["source"]]
            for name, value in body.items()
            if isinstance(value, dict) and "source" in value and value["source"] in catalog.sources
        }
        gpus.append(body)
    return to_json({"gpus": gpus})


def models_table(catalog, kv_bytes_per_token) -> str:
    rows = [
        [m.id, m.name, f"{m.params / 1e9:.2f}", f"{m.active_params / 1e9:.2f}", m.layers, m.hidden_size,
         "MLA" if m.mla else f"{m.attention_heads}/{m.kv_heads}", f"{m.moe.experts_per_token} of {m.moe.experts}" if m.moe else "-",
         f"{kv_bytes_per_token(m, 'fp16') / 1e6:.3f}", f"{m.max_context:,}" if m.max_context else "-"]
        for m in catalog.models.values()
    ]
    headers = ["id", "name", "params (B)", "active (B)", "layers", "hidden", "heads/KV", "experts", "KV MB/token 16-bit", "context"]
    return (table(headers, rows, right=range(2, 10)) + "\n\nAny other model: --model-config config.json (a Hugging Face config), "
            "or --params-b N (a Llama-shaped estimate, see rules/catalogs/models.yaml).")


def models_json(catalog, kv_bytes_per_token) -> str:
    return to_json({
        "models": [
            {**m.model_dump(mode="json"), "kv_bytes_per_token_fp16": kv_bytes_per_token(m, "fp16"), "source_url": catalog.sources.get(m.source)}
            for m in catalog.models.values()
        ]
    })


# --- rules ----------------------------------------------------------------------------------------


def rules_table(book) -> str:
    rows = [[r.ruleset, rs.hit_policy, r.order, r.id, r.title] for rs in book.rulesets for r in rs.rules]
    return table(["ruleset", "policy", "#", "rule", "title"], rows, right=[2]) + f"\n\nrules revision {safe(book.revision[:12])}"


def rules_json(book) -> str:
    return to_json({
        "revision": book.revision,
        "rules": [{"id": r.id, "ruleset": r.ruleset, "title": r.title, "source": r.source} for r in book.rules],
    })


# --- audit --------------------------------------------------------------------------------------


def audit_list_table(records) -> str:
    rows = [[r.recorded_at[:19].replace("T", " "), r.decision_id[:8], r.scenario, r.text or r.recommendation, r.gpu,
             r.rules_revision[:12]] for r in records]
    return table(["recorded (UTC)", "decision", "scenario", "verdict", "GPU", "rules"], rows)


def audit_list_json(records, more: bool = False) -> str:
    """``more``: further decisions match beyond the limit."""
    return to_json({"decisions": [r.summary() for r in records], "more": more})


def rules_check_text(book, report) -> str:
    """Per ruleset: its rules, hit policy, the input points analysed and the overlaps priority resolves."""
    lines = []
    for rs in book.rulesets:
        pairs = report.overlaps[rs.name]
        overlap = f", {len(pairs)} overlapping pairs resolved by priority" if rs.hit_policy == "first" else ""
        lines.append(f"{safe(rs.name)}: {len(rs.rules)} rules, {safe(rs.hit_policy)} hit policy, {report.points[rs.name]:,} input points{overlap}")
        lines += [f"  overlap: {safe(first)} wins over {safe(second)} where both match" for first, second, _example in pairs]
    return "\n".join(lines)


def rules_test_text(results) -> tuple[str, int]:
    """Each case as pass or FAIL with what differed, and a count; returns (text, failures)."""
    lines, failed = [], 0
    for r in results:
        if r.ok:
            lines.append(f"pass  {safe(r.where)}  {safe(r.name)}")
        else:
            failed += 1
            lines.append(f"FAIL  {safe(r.where)}  {safe(r.name)}")
            lines += [f"      {safe(problem)}" for problem in r.problems]
    lines.append(f"{len(results) - failed} passed, {failed} failed")
    return "\n".join(lines), failed
