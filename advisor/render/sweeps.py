"""Sweeps for people and machines: a line per point (table, CSV, JSON lines) and where the verdict changes.

Lines are rendered one point at a time (in the workers of a parallel sweep), so the table's
columns have widths fixed before the first point: the axes' values are known, and the verdict
and GPU columns take the widest id the rules and the catalog can give. The JSON lines form is
versioned: a ``sweep`` line first, then ``point``, ``invalid`` and ``boundary`` lines in the
order found, and a ``summary`` line last.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Optional

from ..decide import sweep as sweeps
from ..defaults import A100, H100
from ..rules.language import value_text
from .text import money, percent, safe

SWEEP_JSON_VERSION = 1
FORMATS = ("table", "csv", "jsonl")
_MONEY_WIDTH = 10  # "$1,234,567"


def _json(payload: dict) -> str:
    return json.dumps(payload, ensure_ascii=False, allow_nan=False) + "\n"


def _csv(row: list) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([safe(c) if isinstance(c, str) else c for c in row])
    return out.getvalue()


def _plain(value):
    """An axis value in JSON and CSV: numbers as numbers, a list of GPUs as a list."""
    return list(value) if isinstance(value, tuple) else value


def _pair_json(pair) -> Optional[dict]:
    return None if pair is None else {"cheaper": pair.cheaper, "h100_vs_a100_cost_ratio": round(pair.cost_ratio, 6),
                                      "h100_break_even_usd_per_hour": round(pair.break_even_price_usd_per_hour, 6),
                                      "a100_break_even_utilization": round(pair.a100_break_even_utilization, 6)}


class SweepLines:
    """How each point of one sweep is written, in one format. Picklable: workers render with it."""

    def __init__(self, sweep: sweeps.Sweep, fmt: str, gpus: tuple, verdict_width: int, gpu_width: int, width: Optional[int] = None):
        self.grid, self.axes, self.fmt, self.gpus = sweep.grid, sweep.grid.axes, fmt, gpus
        self.scenario, self.source, self.size = sweep.name, sweep.source, sweep.grid.size
        self.widths = [max([len(a.name)] + [len(safe(a.text(v))) for v in a.values]) for a in self.axes]
        self.widths += [max(7, verdict_width), max(3, gpu_width), _MONEY_WIDTH, 10, 9]
        self.shown = self._gpus_that_fit(width)

    def _gpus_that_fit(self, width: Optional[int]) -> tuple:
        used = sum(self.widths) + 2 * len(self.widths)
        room = len(self.gpus) if width is None else max(0, (width - used) // (max(len(g) for g in self.gpus) + 2)) if self.gpus else 0
        return self.gpus[:room]

    def head(self) -> str:
        if self.fmt == "jsonl":
            axes = [{"name": a.name, "field": ".".join(a.path), "values": [_plain(v) for v in a.values]} for a in self.axes]
            return _json({"version": SWEEP_JSON_VERSION, "kind": "sweep", "scenario": self.scenario, "source": self.source,
                          "axes": axes, "points": self.size})
        if self.fmt == "csv":
            return _csv(["point", *[a.name for a in self.axes], "verdict", "gpu", "general_answer_holds", "overturned_by",
                         "monthly_cost_usd", "usd_per_million_tokens", "cheaper_of_pair", "h100_vs_a100_cost_ratio",
                         "h100_break_even_usd_per_hour", "a100_break_even_utilization",
                         *[f"{g}_monthly_cost_usd" for g in self.gpus], "rule", "decision_id"])
        headers = [a.name for a in self.axes] + ["verdict", "GPU", "$ a month", "$/M tokens", "H100/A100"]
        widths = self.widths + [max(len(g), _MONEY_WIDTH) for g in self.shown]
        cells = headers + list(self.shown)
        return self._line(cells, widths) + "\n" + "  ".join("-" * w for w in widths) + "\n"

    def _line(self, cells: list, widths: list) -> str:
        text_columns = len(self.axes) + 2
        return "  ".join(safe(c)[:w].ljust(w) if i < text_columns else safe(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    def point(self, p: sweeps.Point, values: tuple) -> str:
        costs = {gpu: (monthly, per_m) for gpu, monthly, per_m in p.costs}
        if self.fmt == "jsonl":
            return _json({"kind": "point", "point": p.index, "values": {a.name: _plain(v) for a, v in zip(self.axes, values)},
                          "verdict": {"id": p.verdict, "text": p.text, "gpu": p.gpu, "rule": p.rule, "general_answer_holds": p.holds,
                                      "overturned_by": p.overturned_by},
                          "monthly_cost_usd": p.monthly_cost_usd, "usd_per_million_tokens": p.usd_per_million_tokens,
                          "plans": {g: {"monthly_cost_usd": c[0], "usd_per_million_tokens": c[1]} for g, c in costs.items()},
                          "pair": _pair_json(p.pair), "decision_id": p.decision_id})
        if self.fmt == "csv":
            pair = _pair_json(p.pair) or {}
            return _csv([p.index, *[_plain(v) if not isinstance(v, tuple) else "+".join(v) for v in values], p.verdict, p.gpu,
                         "yes" if p.holds else "no", p.overturned_by or "", _blank(p.monthly_cost_usd), _blank(p.usd_per_million_tokens),
                         pair.get("cheaper", ""), _blank(pair.get("h100_vs_a100_cost_ratio")), _blank(pair.get("h100_break_even_usd_per_hour")),
                         _blank(pair.get("a100_break_even_utilization")), *[_blank(costs.get(g, (None,))[0]) for g in self.gpus], p.rule,
                         p.decision_id])
        ratio = f"{p.pair.cost_ratio:.3f}" if p.pair else "-"
        cells = [a.text(v) for a, v in zip(self.axes, values)] + [p.verdict, p.gpu, money(p.monthly_cost_usd, 0),
                                                                   money(p.usd_per_million_tokens, 3), ratio]
        cells += [money(costs[g][0], 0) if g in costs else "-" for g in self.shown]
        return self._line(cells, self.widths + [max(len(g), _MONEY_WIDTH) for g in self.shown]) + "\n"

    def invalid(self, index: int, values: tuple, message: str) -> str:
        """An invalid point: a line of JSON lines (the other formats say it on stderr only)."""
        if self.fmt != "jsonl":
            return ""
        return _json({"kind": "invalid", "point": index, "values": {a.name: _plain(v) for a, v in zip(self.axes, values)}, "message": message})

    def boundary(self, b: sweeps.Boundary, before: tuple, after: tuple) -> str:
        if self.fmt != "jsonl":
            return ""
        side = lambda p, values: {"point": p.index, "value": _plain(values[b.axis]), "verdict": p.verdict, "gpu": p.gpu,  # noqa: E731
                                  "pair": _pair_json(p.pair)}
        return _json({"kind": "boundary", "change": b.kind, "axis": self.axes[b.axis].name, "from": side(b.before, before),
                      "to": side(b.after, after)})


def _blank(value) -> object:
    return "" if value is None else value


# --- the summary: where the answer changes ------------------------------------------------------------


def _answer(kind: str, key) -> str:
    return f"{key[0]} ({key[1]})" if kind == sweeps.VERDICT_CHANGE else str(key)


def summary_json(sweep: sweeps.Sweep, explained: list, groups: int, decided: int, invalid: int, stopped: Optional[str]) -> str:
    out = []
    for e in explained:
        g, b = e.group, e.group.first
        axis = sweep.grid.axes[g.axis]
        before, after = sweep.grid.values_at(b.before.index), sweep.grid.values_at(b.after.index)
        out.append({
            "change": g.kind, "axis": axis.name, "from": list(g.before) if isinstance(g.before, tuple) else g.before,
            "to": list(g.after) if isinstance(g.after, tuple) else g.after, "count": g.count, "rows": e.rows,
            "between": [_plain(before[g.axis]), _plain(after[g.axis])],
            "at": {a.name: _plain(v) for i, (a, v) in enumerate(zip(sweep.grid.axes, before)) if i != g.axis},
            "located": [e.located.low, e.located.high] if e.located else None,
            "causes": [{"rule": c.rule, "condition": c.condition, "fact": c.fact, "before": c.before, "after": c.after} for c in e.causes],
            "pair": {"before": _pair_json(b.before.pair), "after": _pair_json(b.after.pair)},
        })
    return _json({"kind": "summary", "decided": decided, "invalid": invalid, "boundary_groups": groups, "boundaries": out,
                  "stopped": stopped})


def summary_text(sweep: sweeps.Sweep, explained: list, groups: int) -> str:
    """Where the verdict changes, and where the cheaper of A100 and H100 per token changes: one
    paragraph per kind of change along an axis, its nearest instance to the scenario located and explained."""
    if not explained:
        return "the verdict is the same at every point decided" + (
            "" if sweep.grid.size > 1 else " (one point: give more values to see where it changes)")
    lines = []
    for kind, heading in ((sweeps.VERDICT_CHANGE, "where the verdict changes"),
                          (sweeps.PAIR_CHANGE, f"where the cheaper per token of {A100} and {H100} changes")):
        ours = [e for e in explained if e.group.kind == kind]
        if ours:
            lines.append(heading)
            for e in ours:
                lines += _group_lines(sweep, e)
    if kind_count := groups - len(explained):
        lines.append(f"and {kind_count} more kinds of change (--format jsonl lists every boundary)")
    if not any(e.group.kind == sweeps.VERDICT_CHANGE for e in explained):
        lines.insert(0, "the verdict is the same at every point decided")
    return "\n".join(lines)


def _group_lines(sweep: sweeps.Sweep, e) -> list[str]:
    g, b = e.group, e.group.first
    axis = sweep.grid.axes[g.axis]
    values = axis.values
    low, high = min(g.positions), max(g.positions) + 1
    where = (f"between {axis.text(values[low])} and {axis.text(values[high])}" if low + 1 == high
             else f"between {axis.text(values[low])} and {axis.text(values[high])}, depending on the other axes")
    others = [f"{a.label(v)}" for i, (a, v) in enumerate(zip(sweep.grid.axes, sweep.grid.values_at(b.before.index))) if i != g.axis]
    rows = f"; {g.count} of {e.rows} rows" if e.rows > 1 else ""
    lines = [safe(f"  {axis.name}: {_answer(g.kind, g.before)} -> {_answer(g.kind, g.after)} {where}{rows}")]
    if e.located:
        at = f" at {' '.join(others)}" if others else ""
        low, high = axis.precise_text(e.located.low), axis.precise_text(e.located.high)
        lines.append(safe(f"    {'changes at ' + low if low == high else f'changes between {low} and {high}'}{at} "
                          f"(located by {e.located.decided} more decisions)"))
    for c in e.causes:
        lines.append(safe(f"    why: {c.condition} [{c.rule}]: {_fact(c.before)} before, {_fact(c.after)} after"))
    if g.kind == sweeps.PAIR_CHANGE and b.before.pair and b.after.pair:
        x, y = b.before.pair, b.after.pair
        lines.append(f"    the figures: H100/A100 monthly cost {x.cost_ratio:.3f} -> {y.cost_ratio:.3f}; H100 breaks even at "
                     f"{money(x.break_even_price_usd_per_hour)} -> {money(y.break_even_price_usd_per_hour)}/h; A100s must be "
                     f"{percent(x.a100_break_even_utilization)} -> {percent(y.a100_break_even_utilization)} busy to match H100")
    return lines


def _fact(value) -> str:
    return "(absent)" if value is None else value_text(value)
