"""Decisions for people and machines: blocks, streams of JSON, CSV and Markdown, the end of a
guided session."""

from __future__ import annotations

import json
from typing import Optional

from ..decide.records import DECISION_JSON_VERSION
from ..defaults import SEED_PAIR
from .term import PLAIN
from .text import money, number, safe, table, wrapped


# --- decisions ----------------------------------------------------------------------------------

LABEL = 14  # the width of the labels of a decision block ("  verdict     ")
PLANS_TITLE = "the cheapest deployment per GPU for this load; GPUs: per replica x replicas; * the verdict's"


def plan_line(plan: dict) -> str:
    """A plan's shape and bill in one line."""
    if not plan.get("feasible"):
        return safe(plan.get("reason") or "no plan")
    replicas = f"{plan['replicas']} replica{'s' if plan['replicas'] > 1 else ''}"
    return (f"{plan['precision']} · {replicas} of {plan['gpus_per_replica']} GPU{'s' if plan['gpus_per_replica'] > 1 else ''} · "
            f"{money(plan['monthly_cost_usd'], 0)} a month · {money(plan['usd_per_million_tokens'], 3)} per million tokens · "
            f"TPOT {plan['tpot_ms']:.0f} ms, TTFT {plan['ttft_ms']:,.0f} ms at the peak")


def _verdict_plan_lines(verdict) -> list[str]:
    return [f"{safe(gpu)}: {plan_line(plan)}" if len(verdict.plans) > 1 else plan_line(plan) for gpu, plan in verdict.plans.items()]


def gpu_after(text: str, gpu: str) -> str:
    """A verdict's GPU when its text does not begin with it ("{best.gpu}: the cheapest ..."
    does), to show after the text: '' otherwise, so a heading never names the GPU twice."""
    return "" if text.startswith(gpu) else gpu


def decision_block(d, palette=PLAIN, short_revision: int = 12, width: Optional[int] = None) -> str:
    """One decision for people: the verdict with its plan first, then every GPU's plan (the
    verdict's marked, each other with why it lost), the findings, the general answer and the
    reasons. Every text in it is ``safe``: a decision carries names from input files and texts
    from rule files."""
    v, g = d.verdict, d.general_answer
    lines = [palette.bold(safe(d.scenario)) + palette.dim(f"  ({safe(d.source)})")]
    if v:
        gpu = gpu_after(v.text, v.gpu)
        head = (palette.green(palette.bold(safe(v.text))) + (f"  ->  {palette.bold(safe(gpu))}" if gpu else "")
                + f"   {palette.dim('[' + safe(v.rule) + ']')}")
    else:
        head = "(no verdict)"
    lines += wrapped("  verdict     ", head, width, LABEL)
    if v:
        for line in _verdict_plan_lines(v):
            lines += wrapped(" " * LABEL, line, width, LABEL)
    lines += wrapped("  plans       ", PLANS_TITLE, width, LABEL)
    lines += ["    " + line for line in plans_table(d, width - 4 if width else None).splitlines()]
    for f in d.findings:
        lines += wrapped("  finding     ", safe(f.text), width, LABEL)
    if g:
        answer = f"{safe(g.text)} [{safe(g.rule)}]: " + safe(v.general_answer if v else "holds")
        lines += wrapped("  general     ", answer, width, LABEL)
    for f in d.factors:
        lines += wrapped("  factor      ", f"{safe(f.factor)}: {palette.cyan(safe(f.choice))} - {safe(f.reason)}", width, LABEL)
    for a in d.advantages:
        lines += wrapped("  advantage   ", f"{palette.cyan(safe(a.gpu))} {safe(a.id)}: {safe(a.reason)}", width, LABEL)
    for note in d.notes:
        lines += wrapped("  note        ", safe(note), width, LABEL)
    lines.append(palette.dim(f"  rules       {safe(d.rules_revision[:short_revision])} · decision {safe(d.decision_id)}"))
    return "\n".join(lines)


PLAN_HEADERS = ["", "GPU", "precision", "GPUs x replicas", "$ a month", "$/M tokens", "TPOT ms", "TTFT ms", ""]


def plans_table(d, width: Optional[int] = None) -> str:
    """The plans behind a decision: every GPU with a plan (the seed's pair always), the verdict's
    marked, each other with why it lost."""
    headers = [*PLAN_HEADERS[:3], "GPUs", *PLAN_HEADERS[4:]]  # "4 x 1" under a short header: the terminal is narrow
    return table(headers, plan_rows(d), right=range(3, 8), width=width, optional=(7, 6, 2, 5))  # the width decides


def plan_rows(d) -> list[list]:
    """The rows of ``plans_table`` (the report shows them too), under ``PLAN_HEADERS``."""
    chosen = set(d.verdict.gpu.split("+")) if d.verdict else set()
    base = min((p["monthly_cost_usd"] for gpu, p in d.plans.items() if gpu in chosen and p.get("feasible")), default=None)
    order = sorted(d.plans.items(), key=lambda gp: (not gp[1].get("feasible"), gp[1].get("monthly_cost_usd", 0)))
    rows = []
    for gpu, p in order:
        if not p.get("feasible"):
            if gpu in SEED_PAIR:
                rows.append(["", gpu, "-", "-", "-", "-", "-", "-", p.get("reason") or "no plan"])
            continue
        caveats = "; ".join(p.get("caveats", ()))
        if gpu in chosen:
            why = "the verdict"
        elif base:
            extra = p["monthly_cost_usd"] - base
            why = (f"+{money(extra, 0)} a month (+{extra / base:.0%})" + (f"; {caveats}" if caveats else "") if extra > 0
                   else f"{money(-extra, 0)} a month less, but: " + (caveats or "see the findings"))
        else:
            why = caveats
        rows.append(["*" if gpu in chosen else "", gpu, p["precision"], f"{p['gpus_per_replica']} x {p['replicas']}",
                     money(p["monthly_cost_usd"], 0), money(p["usd_per_million_tokens"], 3), number(p["tpot_ms"], 1),
                     number(p["ttft_ms"], 0), why])
    return rows


def decision_piece(d, fmt: str, palette=PLAIN, width: Optional[int] = None) -> str:
    """One decision in an output format, without the separators a stream adds around it."""
    if fmt == "json":  # one decision a line: the C encoder, and easy to grep
        return d.json_text()
    if fmt == "table":
        return decision_block(d, palette, width=width)
    if fmt == "csv":
        return _csv_line(_flat_row(d))
    return _markdown_row(d) + "\n"


class DecisionStream:
    """Decisions written as they come, so that memory does not grow with the batch.

    The JSON form is ``{"version": 2, "decisions": [...], "errors": [...]}``, written piece by
    piece, one decision a line.
    """

    def __init__(self, fmt: str, out):
        self.fmt, self.out, self.count = fmt, out, 0

    def write(self, piece: str) -> None:
        """Write one decision, rendered by ``decision_piece`` (perhaps in another process)."""
        if self.fmt == "json":
            head = '{"version": %d,\n"decisions": [\n' % DECISION_JSON_VERSION if self.count == 0 else ",\n"
        elif self.fmt == "table":
            head = "\n\n" if self.count else ""
        elif self.fmt == "csv":
            head = _csv_line(FLAT_HEADERS) if self.count == 0 else ""
        else:
            head = "\n".join(MARKDOWN_HEAD) + "\n" if self.count == 0 else ""
        self.out.write(head + piece)
        self.count += 1

    def flush(self) -> None:
        self.out.flush()

    def close(self, failures) -> None:
        if self.fmt == "json":
            head = '{"version": %d,\n"decisions": [' % DECISION_JSON_VERSION if self.count == 0 else ""
            errors = [json.dumps(f.to_json(), ensure_ascii=False) for f in failures]
            self.out.write(head + ("\n],\n" if self.count else "],\n") + '"errors": ['
                           + ("\n" + ",\n".join(errors) + "\n]" if errors else "]") + "}\n")
        elif self.fmt == "table" and self.count:
            self.out.write("\n")


def _csv_line(row) -> str:
    """One CSV record; its text ``safe`` (no raw newline or escape code, so one record is one line)."""
    import csv
    import io

    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([safe(c) if isinstance(c, str) else c for c in row])
    return out.getvalue()


def _flat_row(d) -> list:
    v, g = d.verdict, d.general_answer
    plan = next(iter(v.plans.values()), {}) if v else {}
    return [d.scenario, d.source, *((v.id, v.text, v.gpu, v.rule) if v else (None,) * 4),
            plan.get("precision", ""), plan.get("total_gpus", ""), "" if "monthly_cost_usd" not in plan else f"{plan['monthly_cost_usd']:.2f}",
            "" if "usd_per_million_tokens" not in plan else f"{plan['usd_per_million_tokens']:.4f}",
            *((g.id, g.text) if g else ("", "")), v.general_answer if v else "", (v.overturned_by or "") if v else "",
            " ".join(f.id for f in d.findings),
            " ".join(f"{f.factor}={f.choice}" for f in d.factors),
            " ".join(f"{a.gpu}:{a.id}" for a in d.advantages),
            " ".join(f.rule for f in d.fired_rules), d.rules_revision, d.decision_id]


FLAT_HEADERS = ["scenario", "source", "verdict", "text", "gpu", "rule", "precision", "total_gpus", "monthly_cost_usd",
                "usd_per_million_tokens", "general_answer", "general_text", "general_answer_holds", "overturned_by", "findings",
                "factors", "advantages", "fired_rules", "rules_revision", "decision_id"]


MARKDOWN_HEAD = ["| scenario | verdict | GPU | $ a month | general answer | holds | findings |", "|---|---|---|---|---|---|---|"]


def _markdown_row(d) -> str:
    row = _flat_row(d)
    cells = [row[0], row[3], row[4], money(float(row[8]), 0) if row[8] else "", row[11], row[12], row[14]]
    return "| " + " | ".join(safe(c or "").replace("|", "\\|") for c in cells) + " |"


def ask_summary(d, palette=PLAIN, recorded: bool = True, width: Optional[int] = None) -> str:
    """The end of a guided session: the verdict, the plans, the findings, the general answer, the reasons."""
    v, g = d.verdict, d.general_answer
    named = gpu_after(v.text, v.gpu) if v else "-"
    lines = wrapped(f"{palette.bold('Verdict:')} ", palette.green(palette.bold(safe(v.text) if v else "(none)"))
                    + (f"  ->  {palette.bold(safe(named))}" if named else ""), width, 2)
    if v:
        for line in _verdict_plan_lines(v):
            lines += wrapped("  ", line, width, 2)
    lines += [""] + wrapped("", palette.bold(f"Plans ({PLANS_TITLE})"), width, 0)
    lines += ["  " + line for line in plans_table(d, width - 2 if width else None).splitlines()]
    if d.findings:
        lines += ["", palette.bold("Findings")]
        for f in d.findings:
            lines += wrapped("  ", safe(f.text), width, 2)
    if g:
        lines += [""] + wrapped(f"{palette.bold('General answer:')} ", f"{safe(g.text)}: " + safe(v.general_answer if v else "holds"),
                                width, 2)
    lines += ["", palette.bold("Why")]
    for f in d.factors:
        lines += wrapped("  ", f"factor {safe(f.factor)}: {palette.cyan(safe(f.choice))} - {safe(f.reason)}", width, 2)
    for a in d.advantages:
        lines += wrapped("  ", f"{palette.cyan(safe(a.gpu))} advantage {safe(a.id)}: {safe(a.reason)}", width, 2)
    for note in d.notes:
        lines += wrapped("  ", f"note: {safe(note)}", width, 2)
    lines.append("")
    tail = f"decision {d.decision_id}" + (" (recorded)" if recorded else "")
    lines += [palette.dim(line) for line in wrapped("", f"{tail}; the full derivation: advisor explain --id {d.decision_id[:8]}"
                                                     if recorded else tail, width, 0)]
    return "\n".join(lines)
