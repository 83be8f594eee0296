"""The decision report, for people who will not run the CLI: one self-contained HTML page, or Markdown.

The HTML page carries everything inline (styles, the charts as SVG) and loads nothing: no
script, no font, no image from anywhere, and a Content-Security-Policy that forbids fetching
any. It prints to PDF on A4 without splitting a chart or a table. The Markdown form is for wikis
and pull requests: the same sections, its charts as SVG files beside it. Every text that came
from an input file or a rule is escaped, and kept printable.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Optional

from .. import __version__
from ..catalog.load import Catalog
from ..catalog.precisions import KV_PRECISION
from ..decide.workload import model_of
from ..errors import printable
from ..scenario.spec import Scenario
from ..yamlio import dump
from .decisions import PLAN_HEADERS, gpu_after, plan_line, plan_rows

#: No fetch of any kind; inline styles only; images only as data (there are none: charts are inline SVG).
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


@dataclass(frozen=True)
class Chart:
    name: str  # a file name's stem: cost, plans, latency, map
    title: str
    caption: str  # how to read it
    svg: Optional[str] = None  # the SVG document; None when charts were not drawn


@dataclass
class Report:
    """What the report shows: a decision, the scenario it decided, its charts, where it is recorded."""

    decision: object  # decide.decision.Decision
    scenario: Scenario
    catalog: Catalog
    generated: str  # when, ISO 8601 UTC
    recorded_in: Optional[str]  # the audit store holding the decision; None when not recorded
    charts: list = field(default_factory=list)
    file: Optional[str] = None  # the scenario file, for the commands that reproduce the decision


CAPTIONS = {
    "plans": ("The plans", "The cheapest deployment of each GPU that carries this load within the latency targets, by "
              "monthly cost; the verdict's GPU is hatched and marked *."),
    "cost": ("Cost per token depends on utilization", "Each GPU's cost per million tokens as the share of its paid hours "
             "that do work changes (c / u); the large markers are the plans as made, the stars where another GPU, busier "
             "or idler, would cost what the chosen one does."),
    "latency": ("Latency against throughput", "Time per output token and to the first token against output tokens per "
                "second per GPU as concurrency grows, with the targets; the grey band is the Pareto front."),
    "map": ("Where the verdict changes", "The verdict at each point of a grid around this scenario (the star), each "
            "region hatched, coloured and labelled with the GPU and the verdict."),
}


def _text(value) -> str:
    """Input or rule text in HTML: printable, then escaped."""
    return html.escape(printable("" if value is None else str(value)))


def _lines(text: str) -> str:
    """Several lines of text (a YAML document, commands) for a <pre>: each printable and escaped."""
    return "\n".join(_text(line) for line in text.splitlines())


# --- what the report lists ----------------------------------------------------------------------


def assumptions(scenario: Scenario, given: dict, catalog: Catalog) -> list[tuple[str, str, bool, str]]:
    """Every field of the scenario's context and workload: (field, value, given, what it means);
    not given means the default was used, and the value shown is the one the decision used."""
    rows = []
    used = _defaults_used(scenario, catalog)
    for section in ("context", "workload"):
        model = getattr(scenario, section)
        stated = given.get(section) if isinstance(given.get(section), dict) else {}
        for name, info in type(model).model_fields.items():
            key = info.alias or name
            value = getattr(model, name)
            if value is None:
                value = used.get(f"{section}.{key}")
            shown = "-" if value is None else ", ".join(value) if isinstance(value, list) else str(value).lower() if isinstance(value, bool) else str(value)
            rows.append((f"{section}.{key}", shown, key in stated, info.description or ""))
    return rows


def _defaults_used(scenario: Scenario, catalog: Catalog) -> dict[str, str]:
    """The values a decision uses for fields a scenario leaves empty whose default is worked out
    from the rest (the others stay empty: no budget, no fleet)."""
    w = scenario.workload
    return {"workload.model": model_of(scenario, catalog).id, "workload.precision": scenario.precision,
            "workload.tpot_ms": f"{w.tpot_target_ms:g}", "workload.ttft_ms": f"{w.ttft_target_ms:g}",
            "workload.kv_precision": f"{KV_PRECISION[scenario.precision]} (follows the weights each plan serves)"}


def prices_used(decision, scenario: Scenario, catalog: Catalog) -> list[tuple[str, str, str, str]]:
    """(GPU, USD per GPU-hour, where it came from, observed) of every GPU with a plan."""
    rows = []
    for gpu_id, plan in decision.plans.items():
        if not plan.get("feasible"):
            continue
        price = catalog.gpu(gpu_id).price
        if gpu_id in scenario.prices:
            rows.append((gpu_id, f"${scenario.prices[gpu_id]:.2f}", "the scenario's prices:", "as given"))
        else:
            rows.append((gpu_id, f"${price.usd_per_hour:.2f}", price.source + (" (a survey: indicative)" if price.indicative else ""),
                         price.observed.isoformat()))
    return rows


def sources_used(decision, catalog: Catalog) -> dict[str, str]:
    """Every source the figures behind the plans cite: the GPUs' datasheets and prices, the model, the fitted constants."""
    keys: list[str] = []

    def collect(obj) -> None:
        source = getattr(obj, "source", None)
        if isinstance(source, str) and source in catalog.sources and source not in keys:
            keys.append(source)
        for name in getattr(type(obj), "model_fields", {}):
            value = getattr(obj, name)
            for item in (value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else [value]):
                if hasattr(type(item), "model_fields"):
                    collect(item)

    for gpu_id, plan in decision.plans.items():
        if plan.get("feasible"):
            collect(catalog.gpu(gpu_id))
    model = (decision.input or {}).get("workload", {}).get("model") if isinstance(decision.input, dict) else None
    if model in catalog.models:
        collect(catalog.model(model))
    collect(catalog.efficiency)
    return {key: catalog.sources[key] for key in keys}


def reproduce(report: Report) -> list[str]:
    d = report.decision
    file = report.file or "scenario.yaml"
    lines = [f"advisor run {file}", f"advisor report {file} -o report.html"]
    if report.recorded_in:
        lines += [f"advisor audit show {d.decision_id[:8]}", f"advisor explain --id {d.decision_id[:8]}"]
    return lines


# --- HTML ------------------------------------------------------------------------------------------

STYLE = """
:root { --ink: #1a1a1a; --muted: #555; --line: #ccc; --accent: #0072B2; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", Arial, sans-serif; color: var(--ink);
       max-width: 60rem; margin: 2rem auto; padding: 0 1.2rem; background: #fff; }
h1 { font-size: 1.6rem; margin: 0 0 .3rem; } h2 { font-size: 1.2rem; margin: 2rem 0 .6rem; border-bottom: 2px solid var(--line); }
.meta { color: var(--muted); font-size: .85rem; margin: 0; }
.verdict { border: 3px solid var(--accent); border-radius: 6px; padding: .8rem 1rem; margin: 1.2rem 0; }
.verdict .answer { font-size: 1.3rem; font-weight: 700; margin: 0 0 .3rem; }
.verdict p { margin: .3rem 0; }
.holds { font-weight: 700; } .overturned { font-weight: 700; text-decoration: underline; }
table { border-collapse: collapse; width: 100%; font-size: .82rem; margin: .4rem 0; }
th, td { border-bottom: 1px solid var(--line); padding: .25rem .4rem; text-align: left; vertical-align: top; }
th { background: #f2f2f2; } td.n { text-align: right; white-space: nowrap; } tr.chosen td { font-weight: 700; background: #eef5fb; }
figure { margin: 1rem 0; } figure svg { width: 100%; height: auto; display: block; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: .85rem; margin-top: .3rem; }
pre { background: #f6f6f6; border: 1px solid var(--line); padding: .6rem; font-size: .8rem; white-space: pre-wrap; }
ul { padding-left: 1.2rem; } li { margin: .2rem 0; }
.given { font-weight: 700; } .default { color: var(--muted); }
@page { size: A4; margin: 14mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 11px; }
  h2 { break-after: avoid; } figure, .verdict, tr, pre { break-inside: avoid; }
  figure svg { border: none; }
}
"""


def inline_svg(svg: str, prefix: str) -> str:
    """An SVG file as an element of an HTML page: no XML prologue, no metadata, no namespace URLs
    (the HTML parser knows SVG's), its ids prefixed so that several charts share a page, and
    scaled to the width of the page."""
    svg = re.sub(r"<\?xml[^>]*\?>|<!DOCTYPE[^>]*>|<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r'\sxmlns(:\w+)?="[^"]*"', "", svg)
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}\1"', svg)
    svg = re.sub(r'(href=")#([^"]+)"', rf'\1#{prefix}\2"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}\1)", svg)
    svg = re.sub(r'(<svg\b[^>]*?)\s(width|height)="[^"]*"', r"\1", svg, count=1)
    svg = re.sub(r'(<svg\b[^>]*?)\s(width|height)="[^"]*"', r"\1", svg, count=1)
    return svg.strip()


def _html_table(headers: list, rows: list, numbers: range = range(0), classes: Optional[list] = None) -> str:
    head = "".join(f"<th>{_text(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cells = "".join(f'<td class="n">{_text(c)}</td>' if j in numbers else f"<td>{_text(c)}</td>" for j, c in enumerate(row))
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def to_html(report: Report) -> str:
    d, v, g = report.decision, report.decision.verdict, report.decision.general_answer
    parts = [f"<header><h1>GPU decision: {_text(d.scenario)}</h1>", f'<p class="meta">{_meta(report)}</p></header>']
    parts.append('<section class="verdict">')
    if v:
        gpu = gpu_after(v.text, v.gpu)
        parts.append(f'<p class="answer">{_text(v.text)}{" &rarr; " + _text(gpu) if gpu else ""}</p>')
        parts += [f"<p>{_text(gpu + ': ' if len(v.plans) > 1 else '')}{_text(plan_line(plan))}</p>" for gpu, plan in v.plans.items()]
    if g:
        holds = v.holds if v else True
        status = '<span class="holds">holds</span>' if holds else f'<span class="overturned">{_text(v.general_answer)}</span>'
        parts.append(f"<p>The seed's general answer, &ldquo;{_text(g.text)}&rdquo; ({_text(g.gpu)}): {status}</p>")
    parts.append("</section>")
    rows = plan_rows(d)
    parts += ["<section><h2>Every GPU's plan</h2>",
              "<p>The cheapest deployment of each GPU for this load within the targets; * the verdict's, each other with why it lost.</p>",
              _html_table(PLAN_HEADERS, rows, range(3, 8), ["chosen" if r[0] == "*" else "" for r in rows]), "</section>"]
    drawn = [c for c in report.charts if c.svg]
    if drawn:
        parts.append("<section><h2>Charts</h2>")
        for n, chart in enumerate(drawn):
            parts.append(f"<figure>{inline_svg(chart.svg, f'c{n}-')}<figcaption><strong>{_text(chart.title)}.</strong> "
                         f"{_text(chart.caption)}</figcaption></figure>")
        parts.append("</section>")
    parts.append(_why_html(d))
    parts.append(_assumptions_html(report))
    parts.append(_sources_html(report))
    given = dump(d.input) if isinstance(d.input, dict) else ""
    parts += ["<section><h2>How to reproduce it</h2>", "<p>The scenario as given:</p>", f"<pre>{_lines(given)}</pre>",
              "<p>With advisor installed (<code>pip install 'advisor[charts]'</code>):</p>", f"<pre>{_lines(chr(10).join(reproduce(report)))}</pre>",
              "</section>"]
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>GPU decision: {_text(d.scenario)}</title>\n'
            f"<style>{STYLE}</style>\n</head>\n<body>\n" + "\n".join(parts) + "\n</body>\n</html>\n")


def _meta(report: Report) -> str:
    d = report.decision
    recorded = (f"recorded in the audit store {_text(report.recorded_in)}" if report.recorded_in else "not recorded")
    return (f"from {_text(d.source)} · generated {_text(report.generated)} by advisor {_text(__version__)} · rules revision "
            f"{_text(d.rules_revision[:12])} · decision {_text(d.decision_id)} ({recorded})")


def _why_html(d) -> str:
    items = [("Findings", [f.text for f in d.findings]),
             ("Decision factors", [f"{f.factor}: {f.choice} - {f.reason}" for f in d.factors]),
             ("Advantages", [f"{a.gpu} {a.id}: {a.reason}" for a in d.advantages]),
             ("Notes", list(d.notes))]
    parts = ["<section><h2>Why</h2>"]
    for heading, texts in items:
        if texts:
            parts.append(f"<h3>{heading}</h3><ul>" + "".join(f"<li>{_text(t)}</li>" for t in texts) + "</ul>")
    return "".join(parts) + "</section>"


def _assumptions_html(report: Report) -> str:
    rows = assumptions(report.scenario, report.decision.input or {}, report.catalog)
    body = "".join(f"<tr><td>{_text(f)}</td><td class=\"{'given' if given else 'default'}\">{_text(value)}</td>"
                   f"<td>{'given' if given else 'default'}</td><td>{_text(what)}</td></tr>" for f, value, given, what in rows)
    prices = prices_used(report.decision, report.scenario, report.catalog)
    return ("<section><h2>Assumptions and defaults</h2><p>Every field of the scenario: the value used, and whether it was "
            "given or the default.</p><table><thead><tr><th>field</th><th>value</th><th></th><th>meaning</th></tr></thead>"
            f"<tbody>{body}</tbody></table><h3>Prices used</h3>"
            + _html_table(["GPU", "USD per GPU-hour", "source", "observed"], prices) + "</section>")


def _sources_html(report: Report) -> str:
    sources = sources_used(report.decision, report.catalog)
    items = "".join(f"<li><strong>{_text(k)}</strong>: {_text(text)}</li>" for k, text in sources.items())
    return ("<section><h2>Sources</h2><p>Every datasheet figure, price and fitted constant behind the plans names one of "
            f"these (the catalog: <code>advisor gpus</code>, <code>advisor models</code>).</p><ul>{items}</ul></section>")


# --- Markdown ------------------------------------------------------------------------------------


def _md(value) -> str:
    return printable("" if value is None else str(value)).replace("|", "\\|")


def _md_table(headers: list, rows: list) -> list[str]:
    return ["| " + " | ".join(_md(h) or " " for h in headers) + " |", "|" + "---|" * len(headers)] + [
        "| " + " | ".join(_md(c) for c in row) + " |" for row in rows]


def to_markdown(report: Report, images: dict) -> str:
    """``images``: chart name -> the file name it was written to (beside the Markdown file)."""
    d, v, g = report.decision, report.decision.verdict, report.decision.general_answer
    lines = [f"# GPU decision: {_md(d.scenario)}", "", f"_{_md(_meta_text(report))}_", ""]
    if v:
        gpu = gpu_after(v.text, v.gpu)
        lines += [f"**{_md(v.text)}{' → ' + _md(gpu) if gpu else ''}**", ""] + [f"- {_md(plan_line(plan))}" for plan in v.plans.values()] + [""]
    if g:
        lines += [f"The seed's general answer, \u201c{_md(g.text)}\u201d ({_md(g.gpu)}): "
                  f"**{_md('holds' if not v or v.holds else v.general_answer)}**", ""]
    lines += ["## Every GPU's plan", ""] + _md_table(PLAN_HEADERS, plan_rows(d)) + [""]
    drawn = [c for c in report.charts if c.name in images]
    if drawn:
        lines += ["## Charts", ""]
        for chart in drawn:
            lines += [f"![{_md(chart.title)}]({images[chart.name]})", "", f"_{_md(chart.caption)}_", ""]
    elif report.charts:
        lines += ["_Charts: write the report to a file (`-o report.md`) to have them beside it._", ""]
    for heading, texts in (("Findings", [f.text for f in d.findings]),
                           ("Decision factors", [f"{f.factor}: {f.choice} - {f.reason}" for f in d.factors]),
                           ("Advantages", [f"{a.gpu} {a.id}: {a.reason}" for a in d.advantages]), ("Notes", d.notes)):
        if texts:
            lines += [f"## {heading}", ""] + [f"- {_md(t)}" for t in texts] + [""]
    lines += ["## Assumptions and defaults", ""]
    lines += _md_table(["field", "value", "", "meaning"],
                       [(f, value, "given" if given else "default", what) for f, value, given, what in
                        assumptions(report.scenario, d.input or {}, report.catalog)]) + [""]
    lines += ["### Prices used", ""] + _md_table(["GPU", "USD per GPU-hour", "source", "observed"],
                                                 prices_used(d, report.scenario, report.catalog)) + [""]
    lines += ["## Sources", ""] + [f"- **{_md(k)}**: {_md(t)}" for k, t in sources_used(d, report.catalog).items()] + [""]
    given = dump(d.input) if isinstance(d.input, dict) else ""
    lines += ["## How to reproduce it", "", "```yaml", *map(printable, given.splitlines()), "```", "", "```", *reproduce(report), "```", ""]
    return "\n".join(lines)


def _meta_text(report: Report) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", _meta(report)))
