"""Decisions for people and machines: blocks, streams of JSON, CSV and Markdown, the end of a
guided session."""

from __future__ import annotations

import json

from ..defaults import SEED_PAIR
from .term import PLAIN
from .text import JSON_VERSION, money, number, percent, table


# --- decisions ----------------------------------------------------------------------------------

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
             f"  verdict     {palette.green(palette.bold(rec.text if rec else '(no recommendation)'))}  ->  "
             f"{palette.bold(rec.gpu if rec else '-')}   {palette.dim('[' + (rec.rule if rec else '-') + ']')}"]
    for f in d.factors:
        lines.append(f"  factor      {f.factor}: {palette.cyan(f.choice)} - {f.reason}")
    for a in d.advantages:
        lines.append(f"  advantage   {palette.cyan(a.gpu)} {a.id}: {a.reason}")
    for o in d.overridden:
        lines.append(palette.dim(f"  overridden  {o.rule} (by {o.by})"))
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

    def flush(self) -> None:
        self.out.flush()

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
    return [d.scenario, d.source, *((rec.id, rec.text, rec.gpu, rec.rule) if rec else (None,) * 4),
            *["" if c is None else f"{c:.4f}" for c in costs],
            " ".join(f"{f.factor}={f.choice}" for f in d.factors),
            " ".join(f"{a.gpu}:{a.id}" for a in d.advantages),
            " ".join(f.rule for f in d.fired_rules), d.rules_revision, d.decision_id]


FLAT_HEADERS = ["scenario", "source", "recommendation", "text", "gpu", "rule", "a100_80gb_usd_per_m_tokens",
                "h100_80gb_usd_per_m_tokens", "factors", "advantages", "fired_rules", "rules_revision", "decision_id"]


MARKDOWN_HEAD = ["| scenario | verdict | GPU | A100 $/M tokens | H100 $/M tokens | advantages | rule |", "|---|---|---|---|---|---|---|"]


def _markdown_row(d) -> str:
    row = _flat_row(d)
    cells = [row[0], row[3], row[4], row[6], row[7], row[9], row[5]]
    return "| " + " | ".join(str(c or "").replace("|", "\\|") for c in cells) + " |"


def ask_summary(d, rule_title: str, palette=PLAIN, recorded: bool = True) -> str:
    """The end of a guided session: the verdict, then the cost comparison, then the reasons."""
    rec = d.recommendation
    lines = [f"{palette.bold('Recommendation:')} {palette.green(palette.bold(rec.text if rec else '(none)'))}  ->  "
             f"{palette.bold(rec.gpu if rec else '-')}",
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
    lines.append(f"  {rule_title} ({rec.rule if rec else '-'})")
    for f in d.factors:
        lines.append(f"  factor {f.factor}: {palette.cyan(f.choice)} - {f.reason}")
    for a in d.advantages:
        lines.append(f"  {palette.cyan(a.gpu)} advantage {a.id}: {a.reason}")
    for note in d.notes:
        lines.append(f"  note: {note}")
    lines.append("")
    tail = f"decision {d.decision_id}" + (" (recorded)" if recorded else "")
    lines.append(palette.dim(f"{tail}; the full derivation: advisor explain --id {d.decision_id[:8]}" if recorded else tail))
    return "\n".join(lines)
