"""Rendering: aligned tables for people, versioned JSON for machines.

Renderers return strings; the CLI decides where they go (data to stdout, warnings to stderr).
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Optional, Sequence

JSON_VERSION = 1


def to_json(payload: dict) -> str:
    """Stable JSON: ``version`` first, keys in the order given, no NaN."""
    return json.dumps({"version": JSON_VERSION, **payload}, indent=2, allow_nan=False, ensure_ascii=False)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, right: Iterable[int] = ()) -> str:
    """Columns padded to their widest cell; columns in ``right`` are right-aligned (numbers)."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    right = set(right)
    lines = []
    for n, row in enumerate(cells):
        parts = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def money(value: Optional[float], places: int = 2) -> str:
    return "-" if value is None else f"${value:,.{places}f}"


def number(value: Optional[float], places: int = 1, unit: str = "") -> str:
    return "-" if value is None else f"{value:,.{places}f}{unit}"


def percent(value: Optional[float]) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


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
    return workload_line + "\n\n" + "\n".join(f"  {k.ljust(width)}  {v}" for k, v in fields)


def estimate_json(est) -> str:
    return to_json(est.to_json())


# --- compare ----------------------------------------------------------------------------------


def compare_table(rows, workload_line: str, baseline: str) -> str:
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
            "cheapest" if r.chosen else r.lost_because,
        ])
    headers = ["", "GPU", "GPUs", "$/GPU-h", "ms/token", "tokens/s", "TTFT ms", "$/M tokens", "$/month", "break-even $/h", "verdict"]
    note = f"break-even $/h: the hourly price per GPU at which it costs the same per token as {baseline}"
    return f"{workload_line}\nranked by cost per million tokens\n\n{table(headers, body, right=range(2, 10))}\n\n{note}"


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
            number(g.fp8_tflops.value, 0), number(g.nvlink_gbps.value, 0), money(g.price.usd_per_hour),
            g.price.observed.isoformat(), seed,
        ])
    headers = ["id", "name", "memory", "GB/s", "FP16 TF", "FP8 TF", "NVLink GB/s", "$/h", "price seen", "seed says"]
    return table(headers, rows, right=range(3, 8)) + "\n\nDense TFLOPS (no sparsity); sources: `advisor gpus --format json`."


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
        [m.id, m.name, f"{m.params / 1e9:.2f}", m.layers, m.hidden_size, m.attention_heads, m.kv_heads,
         f"{kv_bytes_per_token(m, 'fp16') / 1e6:.3f}", m.max_context]
        for m in catalog.models.values()
    ]
    headers = ["id", "name", "params (B)", "layers", "hidden", "heads", "KV heads", "KV MB/token fp16", "context"]
    return table(headers, rows, right=range(2, 9)) + "\n\nAny other size: --params-b N (a Llama-shaped estimate, see rules/catalogs/models.yaml)."


def models_json(catalog, kv_bytes_per_token) -> str:
    return to_json({
        "models": [
            {**m.model_dump(mode="json"), "kv_bytes_per_token_fp16": kv_bytes_per_token(m, "fp16"), "source_url": catalog.sources.get(m.source)}
            for m in catalog.models.values()
        ]
    })


# --- decisions ----------------------------------------------------------------------------------

SEED_PAIR = ("a100-80gb", "h100-80gb")


def _cost_cells(decision) -> list[str]:
    cells = []
    for gpu, c in decision.costs.items():
        if c.get("fits") and c.get("cost_per_million_tokens") is not None:
            cells.append(f"{gpu} {money(c['cost_per_million_tokens'])} ({c['gpus']} GPU{'s' if c['gpus'] > 1 else ''})")
        else:
            cells.append(f"{gpu} does not fit")
    return cells


def decisions_table(decisions, short_revision: int = 12) -> str:
    blocks = []
    for d in decisions:
        rec = d.recommendation
        lines = [f"{d.scenario}  ({d.source})", f"  verdict     {rec.get('text', '(no recommendation)')}  ->  {rec.get('gpu', '-')}   [{rec.get('rule', '-')}]"]
        for f in d.factors:
            lines.append(f"  factor      {f['factor']}: {f['choice']} - {f['reason']}")
        for a in d.advantages:
            lines.append(f"  advantage   {a['gpu']} {a['id']}: {a['reason']}")
        for o in d.overridden:
            lines.append(f"  overridden  {o['rule']} (by {o['by']})")
        pair = [c for c in _cost_cells(d) if c.split()[0] in SEED_PAIR]
        lines.append(f"  $/M tokens  {' · '.join(pair)}")
        for note in d.notes:
            if note.startswith("can_afford_h100"):
                lines.append(f"  note        {note}")
        lines.append(f"  rules       {d.rules_revision[:short_revision]} · decision {d.decision_id}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def decisions_json(decisions, failures) -> str:
    return to_json({"decisions": [d.to_json() for d in decisions], "errors": [f.to_json() for f in failures]})


def _flat_row(d) -> list:
    rec = d.recommendation
    costs = [d.costs.get(g, {}).get("cost_per_million_tokens") for g in SEED_PAIR]
    return [d.scenario, d.source, rec.get("id"), rec.get("text"), rec.get("gpu"), rec.get("rule"),
            *["" if c is None else f"{c:.4f}" for c in costs],
            " ".join(f"{f['factor']}={f['choice']}" for f in d.factors),
            " ".join(f"{a['gpu']}:{a['id']}" for a in d.advantages),
            " ".join(f["rule"] for f in d.fired_rules), d.rules_revision, d.decision_id]


FLAT_HEADERS = ["scenario", "source", "recommendation", "text", "gpu", "rule", "a100_80gb_usd_per_m_tokens",
                "h100_80gb_usd_per_m_tokens", "factors", "advantages", "fired_rules", "rules_revision", "decision_id"]


def decisions_csv(decisions) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FLAT_HEADERS)
    writer.writerows(_flat_row(d) for d in decisions)
    return out.getvalue().rstrip("\n")


def decisions_markdown(decisions) -> str:
    headers = ["scenario", "verdict", "GPU", "A100 $/M tokens", "H100 $/M tokens", "advantages", "rule"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for d in decisions:
        row = _flat_row(d)
        cells = [row[0], row[3], row[4], row[6], row[7], row[9], row[5]]
        lines.append("| " + " | ".join(str(c or "").replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


# --- rules ----------------------------------------------------------------------------------------


def rules_table(book) -> str:
    rows = [[r.ruleset, rs.hit_policy, r.order, r.id, r.title] for rs in book.rulesets for r in rs.rules]
    return table(["ruleset", "policy", "#", "rule", "title"], rows, right=[2]) + f"\n\nrules revision {book.revision[:12]}"


def rules_json(book) -> str:
    return to_json({
        "revision": book.revision,
        "rules": [{"id": r.id, "ruleset": r.ruleset, "title": r.title, "source": r.source} for r in book.rules],
    })
