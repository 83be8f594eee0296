"""Charts as SVG and PNG: the only module that imports matplotlib, and only when a chart is drawn.

The numbers come from ``decide.curves`` (and are tested there); this module only draws them.
Every chart reads in black and white and for colour-blind readers: each GPU keeps one colour of
the Okabe-Ito palette, one marker and one line style in every chart, regions of the decision map
are hatched as well as coloured and labelled in place; axes say their units, titles the scenario.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Optional

from ..decide import curves
from ..errors import UsageError

INSTALL_HINT = "charts need matplotlib, an optional extra: pip install 'advisor[charts]'"
FORMATS = ("svg", "png")
DPI = 100
DEFAULT_SIZE = (960, 600)  # pixels of a PNG; an SVG is the same size in inches at 100 dpi (9.6 x 6 in)
#: Okabe & Ito's palette, safe for every common colour-vision deficiency (yellow last: weak on white).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">")  # 11 markers and 10 line styles: 110 pairs before one repeats
LINES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 1)), (0, (5, 3, 1, 3)), (0, (8, 2)), (0, (2, 2)))
HATCHES = ("//", "\\\\", "xx", "..", "oo", "--", "++", "||", "**", "OO")


def require() -> None:
    """Fails with the one line that says how to install the extra when matplotlib is missing (exit 2)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError(INSTALL_HINT) from None


def format_of(path: str) -> str:
    """The image format a path asks for, by its suffix."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise UsageError(f"cannot draw {path}: a chart is written as .svg or .png", "name the file chart.svg or chart.png")
    return suffix


class Styles:
    """One colour, marker and line style per GPU, in the catalog's order: the same in every chart."""

    def __init__(self, gpus):
        self.order = list(gpus)

    def of(self, gpu: str) -> dict:
        if gpu not in self.order:
            self.order.append(gpu)
        i = self.order.index(gpu)
        return {"color": PALETTE[i % len(PALETTE)], "marker": MARKERS[i % len(MARKERS)], "linestyle": LINES[i % len(LINES)]}


def draw(data, path: str, gpus=(), size: tuple = DEFAULT_SIZE) -> None:
    """Write the chart of ``data`` (any of ``decide.curves``' charts) to ``path`` (.svg or .png)."""
    fmt = format_of(path)
    image = render(data, fmt, gpus, size)
    try:
        Path(path).write_bytes(image)
    except OSError as exc:
        raise UsageError(f"cannot write {path} ({exc.strerror})") from None


def render(data, fmt: str, gpus=(), size: tuple = DEFAULT_SIZE) -> bytes:
    """The chart as the bytes of an SVG or PNG file."""
    require()
    import matplotlib
    from matplotlib.figure import Figure

    drawers = {curves.CostCurves: _cost, curves.PlanBars: _bars, curves.LatencyFront: _latency, curves.DecisionMap: _map,
               curves.SweepLine: _line}
    with matplotlib.rc_context({"svg.hashsalt": "advisor", "svg.fonttype": "path", "font.size": 10, "axes.titlesize": 12,
                                "font.family": "DejaVu Sans"}):
        figure = Figure(figsize=(size[0] / DPI, size[1] / DPI), dpi=DPI, layout="constrained")
        drawers[type(data)](figure, data, Styles(gpus))
        out = io.BytesIO()
        figure.savefig(out, format=fmt, dpi=DPI, metadata={"Date": None} if fmt == "svg" else {"Software": None})
    return out.getvalue()


def _titled(figure, ax, title: str, subtitle: str) -> None:
    """The scenario in the title; the workload under it, as the top panel's own title."""
    figure.suptitle(title, fontweight="bold")
    if subtitle:
        ax.set_title(subtitle, fontsize=8, color="#333333")


def _money(value: float) -> str:
    return f"${value:,.0f}" if value >= 100 else f"${value:,.2f}" if value >= 0.1 else f"${value:.3g}"


# --- cost per million tokens against utilization ----------------------------------------------------


def _cost(figure, data: curves.CostCurves, styles: Styles) -> None:
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    ax = figure.add_subplot()
    _titled(figure, ax, data.title, data.subtitle)
    xs = data.utilizations
    every = max(1, len(xs) // 9)
    for p in data.points:
        style = styles.of(p.gpu)
        chosen = p.gpu == data.reference
        ax.plot(xs, [p.cost_at(u) for u in xs], label=f"{p.gpu}{' (chosen)' if chosen else ''}", markevery=every,
                linewidth=2.6 if chosen else 1.5, markersize=5, markerfacecolor="white", **style)
        ax.plot([p.utilization], [p.usd_per_million_tokens], marker=style["marker"], color=style["color"], markersize=10,
                markeredgecolor="black", linestyle="none")
    ref = next(p for p in data.points if p.gpu == data.reference)
    ax.axhline(ref.usd_per_million_tokens, color="black", linewidth=1, linestyle=(0, (1, 2)))
    ax.annotate(f"{data.reference} as planned: {_money(ref.usd_per_million_tokens)} at {ref.utilization:.0%} busy",
                (1.0, ref.usd_per_million_tokens), xytext=(-4, 4), textcoords="offset points", ha="right", fontsize=8)
    for even in data.break_evens:
        if even.reachable and even.utilization >= xs[0]:
            color = styles.of(even.gpu)["color"]
            ax.plot([even.utilization], [even.usd_per_million_tokens], marker="*", markersize=15, color=color,
                    markeredgecolor="black", linestyle="none")
            ax.annotate(f"{even.gpu} matches\nat {even.utilization:.0%}", (even.utilization, even.usd_per_million_tokens),
                        xytext=(6, -22), textcoords="offset points", fontsize=8, color="black",
                        arrowprops={"arrowstyle": "-", "color": "#555555", "linewidth": 0.6})
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _money(v)))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlim(xs[0], 1.0)
    ax.set_xlabel("utilization: share of paid GPU-hours busy (%)")
    ax.set_ylabel("cost per million tokens (USD, log scale)")
    ax.grid(True, which="major", color="#dddddd", linewidth=0.6)
    ax.plot([], [], marker="*", markersize=12, color="white", markeredgecolor="black", linestyle="none",
            label=f"break-even with {data.reference}")
    ax.plot([], [], marker="o", markersize=9, color="white", markeredgecolor="black", linestyle="none", label="as planned")
    figure.legend(*ax.get_legend_handles_labels(), fontsize=7, loc="outside lower center", ncols=5)


# --- plans as bars ------------------------------------------------------------------------------


def _bars(figure, data: curves.PlanBars, styles: Styles) -> None:
    from matplotlib.ticker import FuncFormatter

    ax = figure.add_subplot()
    _titled(figure, ax, data.title, data.subtitle)
    bars = list(reversed(data.bars))  # cheapest at the top
    top = max((b.monthly_cost_usd for b in bars if b.monthly_cost_usd is not None), default=1.0)
    for y, bar in enumerate(bars):
        style = styles.of(bar.gpu)
        if bar.monthly_cost_usd is None:
            ax.text(top * 0.01, y, f"no plan: {bar.note}"[:90], va="center", fontsize=8, color="#333333")
            continue
        ax.barh(y, bar.monthly_cost_usd, color=style["color"], edgecolor="black", linewidth=2.0 if bar.chosen else 0.6,
                hatch="//" if bar.chosen else None, alpha=1.0 if bar.chosen else 0.75)
        ax.text(bar.monthly_cost_usd + top * 0.01, y, f"{_money(bar.monthly_cost_usd)}  ({bar.note})" + ("  <- chosen" if bar.chosen else ""),
                va="center", fontsize=8, fontweight="bold" if bar.chosen else "normal")
    ax.set_yticks(range(len(bars)), [b.gpu + (" *" if b.chosen else "") for b in bars])
    ax.set_xlim(0, top * 1.45)
    ax.set_ylim(-0.8, len(bars) - 0.2)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _money(v)))
    ax.set_xlabel("monthly cost of the plan (USD a month; * and hatched: the chosen GPU)")
    ax.grid(True, axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)


# --- latency against throughput ------------------------------------------------------------------


def _latency(figure, data: curves.LatencyFront, styles: Styles) -> None:
    tpot, ttft = figure.subplots(2, 1, sharex=True)
    _titled(figure, tpot, data.title, data.subtitle)
    for curve in data.curves:
        style = styles.of(curve.gpu)
        xs = [p.tokens_per_s_per_gpu for p in curve.points]
        label = f"{curve.gpu} ({curve.gpus_per_replica} x {curve.precision})"
        every = max(1, len(xs) // 8)
        tpot.plot(xs, [p.tpot_ms for p in curve.points], label=label, markevery=every, markersize=4, markerfacecolor="white", **style)
        finite = [(x, p.ttft_ms) for x, p in zip(xs, curve.points) if math.isfinite(p.ttft_ms)]
        if finite:
            ttft.plot(*zip(*finite), markevery=every, markersize=4, markerfacecolor="white", **style)
        for ax, value in ((tpot, curve.plan.tpot_ms), (ttft, curve.plan.ttft_ms)):
            ax.plot([curve.plan.tokens_per_s_per_gpu], [value], marker=style["marker"], color=style["color"], markersize=9,
                    markeredgecolor="black", linestyle="none")
    if data.front:
        tpot.plot([p.tokens_per_s_per_gpu for p in data.front], [p.tpot_ms for p in data.front], color="#777777", linewidth=5,
                  alpha=0.35, solid_capstyle="round", zorder=0, label="Pareto front: no point has both more tokens/s and a lower TPOT")
    tpot.axhline(data.tpot_target_ms, color="black", linestyle=(0, (4, 2)), linewidth=1.2)
    tpot.annotate(f"TPOT target {data.tpot_target_ms:g} ms", (0, data.tpot_target_ms), xycoords=("axes fraction", "data"),
                  xytext=(4, 3), textcoords="offset points", fontsize=8)
    ttft.axhline(data.ttft_target_ms, color="black", linestyle=(0, (4, 2)), linewidth=1.2)
    ttft.annotate(f"TTFT target {data.ttft_target_ms:g} ms", (0, data.ttft_target_ms), xycoords=("axes fraction", "data"),
                  xytext=(4, 3), textcoords="offset points", fontsize=8)
    tpot.set_yscale("log")
    ttft.set_yscale("log")
    tpot.set_ylabel("time per output token (ms)")
    ttft.set_ylabel("time to first token (ms)")
    ttft.set_xlabel("output tokens/s per GPU as concurrency grows (large markers: each plan at its peak load)")
    for ax in (tpot, ttft):
        ax.grid(True, which="major", color="#dddddd", linewidth=0.6)
    figure.legend(*tpot.get_legend_handles_labels(), fontsize=7, loc="outside lower center", ncols=4)


# --- the decision map ------------------------------------------------------------------------------


def _axis_label(name: str, unit_name: Optional[str]) -> str:
    return f"{name} ({unit_name})" if unit_name else name


def _map(figure, data: curves.DecisionMap, styles: Styles) -> None:
    import numpy
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    ax = figure.add_subplot()
    _titled(figure, ax, data.title, data.subtitle)
    codes = numpy.array(data.cells, dtype=float).T  # rows: y, columns: x
    codes[codes < 0] = numpy.nan
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(data.regions))]
    nx, ny = len(data.x_values), len(data.y_values)
    ax.imshow(codes, origin="lower", aspect="auto", interpolation="nearest", extent=(-0.5, nx - 0.5, -0.5, ny - 0.5),
              cmap=ListedColormap(colours or ["white"]), vmin=-0.5, vmax=max(len(colours), 1) - 0.5, alpha=0.55)
    if nx > 1 and ny > 1:
        grid_x, grid_y = numpy.meshgrid(numpy.arange(nx), numpy.arange(ny))
        for code in range(len(data.regions)):
            mask = numpy.where(codes == code, 1.0, 0.0)
            ax.contourf(grid_x, grid_y, mask, levels=[0.5, 1.5], colors="none", hatches=[HATCHES[code % len(HATCHES)]])
            ax.contour(grid_x, grid_y, mask, levels=[0.5], colors="black", linewidths=1.2)
    for code, region in enumerate(data.regions):
        ax.text(*region.at, f"{region.key[1]}\n{region.key[0]}", ha="center", va="center", fontsize=8, fontweight="bold",
                bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": colours[code], "linewidth": 1.5})
    if data.marked is not None:
        x, y = (_position(data.x_values, data.marked[0]), _position(data.y_values, data.marked[1]))
        if x is not None and y is not None:
            ax.plot([x], [y], marker="*", markersize=18, color="white", markeredgecolor="black", markeredgewidth=1.5, linestyle="none")
            ax.annotate("this scenario", (x, y), xytext=(13, 4), textcoords="offset points", fontsize=9, fontweight="bold",
                        bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})  # clear of the star, legible on hatches
    ax.set_xticks(*_ticks(data.x_texts))
    ax.set_yticks(*_ticks(data.y_texts))
    ax.set_xlim(-0.5, nx - 0.5)
    ax.set_ylim(-0.5, ny - 0.5)
    ax.set_xlabel(_axis_label(data.x_name, data.x_unit))
    ax.set_ylabel(_axis_label(data.y_name, data.y_unit))
    handles = [Patch(facecolor=colours[i], edgecolor="black", hatch=HATCHES[i % len(HATCHES)], alpha=0.7,
                     label=f"{r.label}"[:90]) for i, r in enumerate(data.regions)]
    if any(c < 0 for column in data.cells for c in column):
        handles.append(Patch(facecolor="white", edgecolor="black", label="invalid point"))
    ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=2, frameon=False)


def _ticks(texts: tuple, most: int = 12) -> tuple[list, list]:
    step = max(1, math.ceil(len(texts) / most))
    positions = list(range(0, len(texts), step))
    return positions, [texts[i] for i in positions]


def _position(values: tuple, value) -> Optional[float]:
    """Where a value lies on an axis of indexes: interpolated between the values around it (None: off the axis)."""
    if value in values:
        return float(values.index(value))
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(numbers) != len(values) or not isinstance(value, (int, float)) or not numbers[0] <= value <= numbers[-1]:
        return None
    for i in range(len(values) - 1):
        low, high = values[i], values[i + 1]
        if low <= value <= high:
            return i + (value - low) / (high - low)
    return None


# --- a sweep along one axis ----------------------------------------------------------------------


def _line(figure, data: curves.SweepLine, styles: Styles) -> None:
    from matplotlib.ticker import FuncFormatter

    ax = figure.add_subplot()
    _titled(figure, ax, data.title, data.subtitle)
    xs = list(data.x_values) if data.numeric else list(range(len(data.x_values)))
    every = max(1, len(xs) // 12)
    for gpu, costs in data.series:
        style = styles.of(gpu)
        ax.plot(xs, [math.nan if c is None else c for c in costs], label=gpu, markevery=every, markersize=4, markerfacecolor="white",
                linewidth=1.3, **style)
        chosen = [(x, c) for x, c, g in zip(xs, costs, data.chosen) if g == gpu and c is not None]
        if chosen:
            ax.plot(*zip(*chosen), marker=style["marker"], color=style["color"], markersize=7, markeredgecolor="black",
                    linestyle="none")
    for at, label in data.changes:
        x = at if data.numeric else at
        ax.axvline(x, color="black", linestyle=(0, (4, 2)), linewidth=1)
        ax.annotate(label, (x, 1), xycoords=("data", "axes fraction"), xytext=(3, -4), textcoords="offset points", fontsize=7,
                    va="top", rotation=90)
    if data.marked is not None:
        x = data.marked if data.numeric else _position(data.x_values, data.marked)
        if x is not None:
            ax.axvline(x, color="#555555", linestyle=":", linewidth=1.5)
            ax.annotate("this scenario", (x, 0), xycoords=("data", "axes fraction"), xytext=(3, 4), textcoords="offset points",
                        fontsize=8)
    if not data.numeric:
        ax.set_xticks(*_ticks(data.x_texts))
    elif data.x_unit and "share" in data.x_unit:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _money(v)))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    ax.set_xlabel(_axis_label(data.x_name, data.x_unit))
    ax.set_ylabel("cost per million tokens of each GPU's plan (USD, log scale)")
    ax.grid(True, which="major", color="#dddddd", linewidth=0.6)
    ax.plot([], [], marker="o", markersize=7, color="white", markeredgecolor="black", linestyle="none", label="the verdict's GPU")
    figure.legend(*ax.get_legend_handles_labels(), fontsize=7, loc="outside lower center", ncols=5)
