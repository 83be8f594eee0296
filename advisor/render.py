"""Rendering: aligned tables for people, versioned JSON for machines.

Renderers return strings; the CLI decides where they go (data to stdout, warnings to stderr).
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Optional, Sequence

from .term import PLAIN

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


def decision_block(d, palette=PLAIN, short_revision: int = 12) -> str:
    """One decision for people: the verdict first, then the reasons and the cost per GPU."""
    rec = d.recommendation
    lines = [palette.bold(f"{d.scenario}") + palette.dim(f"  ({d.source})"),
             f"  verdict     {palette.green(palette.bold(rec.get('text', '(no recommendation)')))}  ->  "
             f"{palette.bold(rec.get('gpu', '-'))}   {palette.dim('[' + rec.get('rule', '-') + ']')}"]
    for f in d.factors:
        lines.append(f"  factor      {f['factor']}: {palette.cyan(f['choice'])} - {f['reason']}")
    for a in d.advantages:
        lines.append(f"  advantage   {palette.cyan(a['gpu'])} {a['id']}: {a['reason']}")
    for o in d.overridden:
        lines.append(palette.dim(f"  overridden  {o['rule']} (by {o['by']})"))
    pair = [c for c in _cost_cells(d) if c.split()[0] in SEED_PAIR]
    lines.append(f"  $/M tokens  {' · '.join(pair)}")
    for note in d.notes:
        if note.startswith("can_afford_h100"):
            lines.append(f"  note        {note}")
    lines.append(palette.dim(f"  rules       {d.rules_revision[:short_revision]} · decision {d.decision_id}"))
    return "\n".join(lines)


def decision_piece(d, fmt: str, palette=PLAIN) -> str:
    """One decision in an output format, without the separators a stream adds around it."""
    if fmt == "json":  # one decision a line: the C encoder, and easy to grep
        return d.json_text()
    if fmt == "table":
        return decision_block(d, palette)
    if fmt == "csv":
        return _csv_line(_flat_row(d))
    return _markdown_row(d) + "\n"


class DecisionStream:
    """Decisions written as they come, so that memory does not grow with the batch.

    The JSON form is ``{"version": 1, "decisions": [...], "errors": [...]}``, written piece by
    piece, one decision a line.
    """

    def __init__(self, fmt: str, out):
        self.fmt, self.out, self.count = fmt, out, 0

    def write(self, piece: str) -> None:
        """Write one decision, rendered by ``decision_piece`` (perhaps in another process)."""
        if self.fmt == "json":
            head = '{"version": %d,\n"decisions": [\n' % JSON_VERSION if self.count == 0 else ",\n"
        elif self.fmt == "table":
            head = "\n\n" if self.count else ""
        elif self.fmt == "csv":
            head = _csv_line(FLAT_HEADERS) if self.count == 0 else ""
        else:
            head = "\n".join(MARKDOWN_HEAD) + "\n" if self.count == 0 else ""
        self.out.write(head + piece)
        self.count += 1

    def close(self, failures) -> None:
        if self.fmt == "json":
            head = '{"version": %d,\n"decisions": [' % JSON_VERSION if self.count == 0 else ""
            errors = [json.dumps(f.to_json(), ensure_ascii=False) for f in failures]
            self.out.write(head + ("\n],\n" if self.count else "],\n") + '"errors": ['
                           + ("\n" + ",\n".join(errors) + "\n]" if errors else "]") + "}\n")
        elif self.fmt == "table" and self.count:
            self.out.write("\n")


def _csv_line(row) -> str:
    import csv
    import io

    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(row)
    return out.getvalue()


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


MARKDOWN_HEAD = ["| scenario | verdict | GPU | A100 $/M tokens | H100 $/M tokens | advantages | rule |", "|---|---|---|---|---|---|---|"]


def _markdown_row(d) -> str:
    row = _flat_row(d)
    cells = [row[0], row[3], row[4], row[6], row[7], row[9], row[5]]
    return "| " + " | ".join(str(c or "").replace("|", "\\|") for c in cells) + " |"


# --- rules ----------------------------------------------------------------------------------------


def rules_table(book) -> str:
    rows = [[r.ruleset, rs.hit_policy, r.order, r.id, r.title] for rs in book.rulesets for r in rs.rules]
    return table(["ruleset", "policy", "#", "rule", "title"], rows, right=[2]) + f"\n\nrules revision {book.revision[:12]}"


def rules_json(book) -> str:
    return to_json({
        "revision": book.revision,
        "rules": [{"id": r.id, "ruleset": r.ruleset, "title": r.title, "source": r.source} for r in book.rules],
    })


def ask_summary(d, rule_title: str, palette=PLAIN, recorded: bool = True) -> str:
    """The end of a guided session: the verdict, then the cost comparison, then the reasons."""
    rec = d.recommendation
    lines = [f"{palette.bold('Recommendation:')} {palette.green(palette.bold(rec.get('text', '(none)')))}  ->  {palette.bold(rec.get('gpu', '-'))}",
             "", palette.bold("Cost comparison")]
    rows = []
    for gpu in SEED_PAIR:
        c = d.costs.get(gpu, {})
        if c.get("fits"):
            rows.append([gpu, c["gpus"] * c["replicas"], money(c["cost_per_million_tokens"]), money(c["monthly_cost_usd"], 0),
                         number(c["decode_ms_per_token"], 1), f"{c['tokens_per_s_per_gpu']:,.0f}", percent(c["utilization"])])
        else:
            rows.append([gpu, "-", "does not fit", "-", "-", "-", "-"])
    lines += ["  " + line for line in table(["GPU", "GPUs", "$/M tokens", "per month", "ms/token", "tokens/s/GPU", "busy"], rows,
                                            right=[1, 2, 3, 4, 5, 6]).splitlines()]
    lines += ["", palette.bold("Why")]
    lines.append(f"  {rule_title} ({rec.get('rule', '-')})")
    for f in d.factors:
        lines.append(f"  factor {f['factor']}: {palette.cyan(f['choice'])} - {f['reason']}")
    for a in d.advantages:
        lines.append(f"  {palette.cyan(a['gpu'])} advantage {a['id']}: {a['reason']}")
    for note in d.notes:
        lines.append(f"  note: {note}")
    lines.append("")
    tail = f"decision {d.decision_id}" + (" (recorded)" if recorded else "")
    lines.append(palette.dim(f"{tail}; the full derivation: advisor explain --id {d.decision_id[:8]}" if recorded else tail))
    return "\n".join(lines)


# --- explanations -----------------------------------------------------------------------------


def explanation_text(expl, palette=PLAIN) -> str:
    d = expl.decision
    rec = d["recommendation"]
    lines = [palette.bold(f"{d['scenario']}") + palette.dim(f"  ({d['source']}) · decision {d['decision_id']}"),
             f"verdict: {palette.green(palette.bold(rec.get('text', '(none)')))} -> {palette.bold(rec.get('gpu', '-'))}  "
             + palette.dim(f"[{rec.get('rule', '-')}]"), "", palette.bold("derivation")]

    def walk(node, depth: int) -> None:
        pad = "  " * depth
        lines.append(f"{pad}{palette.cyan(node.rule)} ({node.ruleset}) => {node.result}")
        for name, value, kind in node.facts:
            lines.append(f"{pad}    {name} = {format_value(value)}  " + palette.dim(kind))
        for flag, sources in node.because:
            lines.append(f"{pad}    derived.{flag}  " + palette.dim("asserted by"))
            for child in sources:
                walk(child, depth + 3)

    for node in expl.tree:
        walk(node, 1)
    if expl.overridden:
        lines += ["", palette.bold("overridden (first hit: a higher rule won)")]
        lines += [f"  {o['rule']} ({o['ruleset']}) matched too; {o['by']} comes first" for o in expl.overridden]
    lines += ["", palette.bold("why not")]
    for w in expl.why_not:
        actual = "" if w["fact"] is None else f"; actual: {format_value(w['actual'])}"
        lines.append(f"  {palette.yellow(w['rule'])} ({w['ruleset']}): failed {w['condition']}{actual}")
    if expl.formulas:
        lines += ["", palette.bold("formulas")]
        lines += [f"  {f['gpu']:<12} {f['name']}: {f['formula']}" for f in expl.formulas]
    if expl.notes:
        lines += [""] + [f"note: {n}" for n in expl.notes]
    return "\n".join(lines)


def format_value(value) -> str:
    """How a fact value reads in explanations and audit records."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


# --- audit --------------------------------------------------------------------------------------


def audit_list_table(records) -> str:
    rows = [[r.recorded_at[:19].replace("T", " "), r.decision_id[:8], r.scenario, r.summary()["text"] or r.recommendation, r.gpu,
             r.rules_revision[:12]] for r in records]
    return table(["recorded (UTC)", "decision", "scenario", "verdict", "GPU", "rules"], rows)


def audit_list_json(records) -> str:
    return to_json({"decisions": [r.summary() for r in records]})


def record_text(record, decision, palette=PLAIN) -> str:
    head = [f"decision   {record.decision_id}", f"recorded   {record.recorded_at} (UTC)",
            f"advisor    {record.advisor_version} · rules {record.rules_revision}", "", ""]
    fired = ["", palette.bold("fired rules")] + [
        f"  {f['order']:>2} {f['rule']} ({f['ruleset']}): "
        + (", ".join(f"{k}={format_value(v)}" for k, v in f["matched"].items()) or "(always)")
        + (f" => asserts {', '.join(f['asserted'])}" if f["asserted"] else "") for f in record.decision["fired_rules"]]
    return "\n".join(head) + decision_block(decision, palette) + "\n".join(fired)


def replay_text(replay, palette=PLAIN) -> str:
    r = replay
    same = r["rules_revision"]["stored"] == r["rules_revision"]["current"]
    lines = [f"decision   {r['decision_id']} ({r['scenario']})",
             f"rules      {r['rules_revision']['stored'][:12]} -> {r['rules_revision']['current'][:12]}"
             + ("  (same revision)" if same else palette.yellow("  (the rules changed)"))]
    changed = r.get("rules_changed")
    if changed:
        for kind in ("modified", "added", "removed"):
            if changed[kind]:
                lines.append(f"           {kind}: {', '.join(changed[kind])}")
    elif not same:
        lines.append("           (the stored revision's rules are not in this store: rule-level changes unknown)")
    if not r["changes"]:
        lines.append(palette.green("unchanged: the current rules decide this input the same way"))
    for c in r["changes"]:
        lines.append(f"{palette.yellow('changed')}    {c['what']}: {format_value(c['before'])} -> {format_value(c['after'])}")
    if r["replayed"] is not None:
        lines.append(f"now        {r['replayed']['recommendation'].get('text')} -> {r['replayed']['recommendation'].get('gpu')}")
    return "\n".join(lines)
