"""Arguments in, a handler called, an exit code out.

Exit codes: 0 ok, 1 invalid scenario input, 2 usage / data / rules error (and a failure to write
the output or the audit store), 130 interrupted; ``run`` stopped by a signal exits 128 + its number
(SIGHUP 129, SIGINT 130, SIGTERM 143) and by a reader closing its output 141.
Expected errors are one line on stderr; ``--debug`` shows a traceback for unexpected ones.
Heavy modules are imported inside the handlers so that ``advisor --help`` starts fast.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Optional, Sequence

from .. import __version__, defaults
from ..catalog.precisions import KV_PRECISIONS, PRECISIONS

FORMATS = ("table", "json")
DECISION_FORMATS = ("table", "json", "csv", "markdown")


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line with a hint, exit 2."""

    def error(self, message: str):
        sys.stderr.write(f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")
        sys.exit(2)


# --- argument types: each rejects bad values with a sentence argparse prints ------------------


def amount(unit: str, integer: bool = False, share: bool = False):
    """An argument type reading an amount as prompts and scenario files read it ("20k", "$3.95",
    "25ms", "70%"): positive, finite, a whole number when ``integer``, at most 1 when ``share``.
    ``unit`` names one of ``amounts``' units: that module (and its dataclasses) is imported when a
    value is read, not for ``advisor --help``."""

    def read(text: str):
        from .. import amounts
        from ..perf.checks import UTILIZATION_HINT

        try:
            value = amounts.parse(text, getattr(amounts, unit))
        except amounts.AmountError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if share and not 0 < value <= 1:
            raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text} ({UTILIZATION_HINT})")
        if integer:
            if not value.is_integer():
                raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
            if value < 1:
                raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
            return int(value)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
        return value

    read.__name__ = unit.lower()  # argparse names the type in its messages (usd_per_hour)
    return read


positive_float = amount("NUMBER")
positive_int = amount("COUNT", integer=True)
utilization = amount("SHARE", share=True)
usd_per_hour = amount("USD_PER_HOUR")
milliseconds = amount("MILLISECONDS")
tokens = amount("TOKENS", integer=True)


def jobs(text: str) -> int:
    if text == "auto":
        import os

        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of processes or auto, got {text!r}") from None
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError(f"must be between 1 and 256, got {value}")
    return value


def chart_request(kinds: tuple):
    """``[KIND=]PATH``: a chart of one of ``kinds`` (None: the command's default) to write at PATH."""

    def read(text: str) -> tuple:
        kind, sep, path = text.partition("=")
        if not sep:
            return None, text
        if kind not in kinds:
            raise argparse.ArgumentTypeError(f"{kind!r} is not a chart of this command (one of {', '.join(kinds)})")
        if not path:
            raise argparse.ArgumentTypeError(f"expected {kind}=PATH, such as {kind}=chart.svg")
        return kind, path

    read.__name__ = "chart"
    return read


def chart_size(text: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` in pixels, such as 960x600."""
    width, sep, height = text.lower().partition("x")
    if not (sep and width.isdigit() and height.isdigit() and 200 <= int(width) <= 10_000 and 150 <= int(height) <= 10_000):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in pixels (200 to 10,000 wide, 150 to 10,000 high), got {text!r}")
    return int(width), int(height)


def gpu_price(text: str) -> tuple[str, float]:
    gpu, sep, usd = text.partition("=")
    if not sep or not gpu:
        raise argparse.ArgumentTypeError(f"expected GPU=USD_PER_HOUR such as h100-80gb=3.50, got {text!r}")
    return gpu.strip(), usd_per_hour(usd)


# --- shared options ----------------------------------------------------------------------------


def _model_options(p: argparse.ArgumentParser) -> None:
    which = p.add_mutually_exclusive_group()
    which.add_argument("--model", metavar="ID", help="catalog model id (see `advisor models`)")
    which.add_argument("--params-b", type=amount("BILLIONS"), metavar="N", help="any model size in billions of parameters (Llama-shaped estimate)")
    which.add_argument("--model-config", metavar="PATH", help="a Hugging Face config.json (dense, grouped-query, MLA or mixture-of-experts)")
    p.add_argument("--precision", choices=PRECISIONS, default=defaults.DEFAULT_PRECISION,
                   help=f"weight precision (default: {defaults.DEFAULT_PRECISION})")
    p.add_argument("--kv-precision", choices=KV_PRECISIONS, help="KV-cache precision (default: fp8 with fp8/fp4 weights, else 16-bit)")


def _workload_options(p: argparse.ArgumentParser) -> None:
    _model_options(p)
    p.add_argument("--gpus", type=positive_int, metavar="N", help="GPUs per deployment (default: the fewest that fit)")
    p.add_argument("--batch", type=positive_int, metavar="B",
                   help=f"concurrent sequences (default: {defaults.DEFAULT_BATCH}, as in scenario files)")
    p.add_argument("--prompt-tokens", type=tokens, default=defaults.DEFAULT_PROMPT_TOKENS, metavar="N",
                   help=f"prompt length (default: {defaults.DEFAULT_PROMPT_TOKENS})")
    p.add_argument("--output-tokens", type=tokens, default=defaults.DEFAULT_OUTPUT_TOKENS, metavar="N",
                   help=f"generated tokens per request (default: {defaults.DEFAULT_OUTPUT_TOKENS})")
    p.add_argument("--utilization", type=utilization, default=defaults.DEFAULT_UTILIZATION, metavar="U",
                   help="share of paid hours the GPUs are busy, in (0, 1] (default: 1)")
    p.add_argument("--max-ms-per-token", type=milliseconds, metavar="MS", help="latency target per generated token")
    p.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")


def _rules_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rules", metavar="DIR", help="rules directory (default: the shipped rules)")


def _audit_options(p: argparse.ArgumentParser, recording: bool) -> None:
    p.add_argument("--audit-db", metavar="PATH", help="audit store (default: $ADVISOR_AUDIT_DB, else $XDG_STATE_HOME/advisor/audit.sqlite3)")
    if recording:
        p.add_argument("--no-audit", action="store_true", help="do not record the decisions in the audit store")


def _first_scenario(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", metavar="SCENARIO", help="a scenario file (its first scenario, checked as `advisor run` checks it)")


def _deciding_options(p: argparse.ArgumentParser) -> None:
    """What every command that makes decisions takes: the rules, the output format, the audit store."""
    _rules_option(p)
    p.add_argument("--format", choices=DECISION_FORMATS, default="table", help="output format (default: table)")
    _audit_options(p, recording=True)


# --- one builder per command group -------------------------------------------------------------


def _add_figures_commands(sub) -> None:
    est = sub.add_parser(
        "estimate", help="size, time and price one deployment",
        description="Size, time and price a model on one GPU type: memory, GPUs needed, decode floor and estimate, "
        "time to first token, tokens/s, cost per million tokens.",
    )
    est.add_argument("--gpu", required=True, metavar="ID", help="catalog GPU id (see `advisor gpus`)")
    _workload_options(est)
    est.add_argument("--price", type=usd_per_hour, metavar="USD", help="USD per GPU-hour (default: the catalog price)")
    est.add_argument("--tokens-per-s", type=positive_float, metavar="X", help="measured throughput of the whole deployment; replaces the estimate")
    est.set_defaults(handler="estimate")

    cmp_ = sub.add_parser(
        "compare", help="rank every GPU by cost per million tokens",
        description="Every catalog GPU that can serve the workload, ranked by cost per million tokens; "
        "each other row says why it lost.",
    )
    _workload_options(cmp_)
    cmp_.add_argument("--price", type=gpu_price, action="append", default=[], metavar="GPU=USD", help="override a catalog price (repeatable)")
    cmp_.add_argument("--baseline", default=defaults.A100, metavar="ID", help=f"GPU the break-even figures refer to (default: {defaults.A100})")
    cmp_.add_argument("--chart", type=chart_request(("cost", "plans")), action="append", default=[], metavar="[KIND=]PATH",
                      help="also draw a chart, .svg or .png: cost (per million tokens against utilization, the default) or plans "
                      "(monthly cost per GPU), such as --chart cost.svg --chart plans=plans.png")
    cmp_.set_defaults(handler="compare")

    plan = sub.add_parser(
        "plan", help="the cheapest deployment per GPU for a load and latency targets",
        description="For every catalog GPU, each precision it serves and each tensor-parallel size that fits: the "
        "concurrency and replicas that carry the peak load within the headroom and meet the TPOT and TTFT targets at "
        "the lowest monthly cost; ranked, the cheapest marked, every other row with why it lost. From a scenario file "
        "(its workload and prices) or from flags.",
    )
    plan.add_argument("scenario", nargs="?", metavar="SCENARIO", help="a scenario file (the first scenario in it); flags add to it")
    _model_options(plan)
    plan.add_argument("--prompt-tokens", type=tokens, metavar="N", help=f"average prompt tokens (default: {defaults.DEFAULT_PROMPT_TOKENS})")
    plan.add_argument("--output-tokens", type=tokens, metavar="N", help=f"average output tokens (default: {defaults.DEFAULT_OUTPUT_TOKENS})")
    load = plan.add_mutually_exclusive_group()
    load.add_argument("--tokens-per-day", type=amount("TOKENS_PER_DAY"), metavar="N", help="load: generated tokens a day")
    load.add_argument("--requests-per-s", type=amount("REQUESTS_PER_S"), metavar="N", help="load: average requests per second")
    plan.add_argument("--peak-to-average", type=amount("RATIO"), metavar="X",
                      help=f"peak load / average load (default: {defaults.DEFAULT_PEAK_TO_AVERAGE:g})")
    plan.add_argument("--headroom", type=utilization, metavar="H",
                      help=f"highest share of capacity the peak may use (default: {defaults.DEFAULT_HEADROOM:g})")
    plan.add_argument("--tpot-ms", "--max-ms-per-token", dest="tpot_ms", type=milliseconds, metavar="MS",
                      help=f"target time per output token (default: {defaults.DEFAULT_TPOT_MS:g} ms)")
    plan.add_argument("--ttft-ms", type=milliseconds, metavar="MS", help=f"target time to first token (default: {defaults.DEFAULT_TTFT_MS:g} ms)")
    plan.add_argument("--price", type=gpu_price, action="append", default=[], metavar="GPU=USD", help="override a catalog price (repeatable)")
    plan.add_argument("--all", action="store_true", help="also every GPU without a plan, and why")
    plan.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    plan.add_argument("--chart", type=chart_request(("plans", "cost", "latency")), action="append", default=[], metavar="[KIND=]PATH",
                      help="also draw a chart, .svg or .png: plans (monthly cost per GPU, the default), cost (per million tokens "
                      "against utilization) or latency (against throughput as concurrency grows), such as --chart latency=lat.svg")
    plan.set_defaults(handler="plan")

    gpus = sub.add_parser("gpus", help="list the GPU catalog", description="The GPU catalog with datasheet figures, prices and the seed's own figures.")
    gpus.add_argument("--format", choices=FORMATS, default="table")
    gpus.set_defaults(handler="gpus")

    models = sub.add_parser("models", help="list the model catalog", description="The model catalog: shapes that decide memory and speed.")
    models.add_argument("--format", choices=FORMATS, default="table")
    models.set_defaults(handler="models")


def _add_deciding_commands(sub) -> None:
    run = sub.add_parser(
        "run", help="decide saved scenario files",
        description="Decide every scenario in the given files and directories (*.yaml, *.yml; - for stdin). "
        "A bad scenario is reported and the others are still decided. Exit 0 all decided, 1 some input invalid, "
        "2 usage or rules error.",
    )
    run.add_argument("paths", nargs="+", metavar="PATH", help="scenario file, directory, or - for stdin")
    run.add_argument("--jobs", type=jobs, default=1, metavar="N",
                     help="worker processes, each with its own engine; a file is the unit of work (default: 1; auto: one per core)")
    _deciding_options(run)
    run.set_defaults(handler="run")

    sweep = sub.add_parser(
        "sweep", help="decide one scenario over a grid of values, and say where the verdict changes",
        description="Decide the first scenario of a file at every point of a grid: each --vary gives a field and its values "
        "(a list a,b,c; a range A..B/STEP; or A..B:N evenly spaced values, A..B:N:log on a log scale; amounts as in "
        "scenario files: $3.25, 55%%, 20k). Each point is validated and decided as `advisor run` decides a scenario. "
        "Prints a line per point (the verdict, its GPU, the cost of every GPU's plan), then where the verdict changes "
        "and why. Fields: utilization, tokens_per_day, model, prompt_tokens and every other field of context: and workload: "
        "(`advisor schema`), and price.GPU or spot_price.GPU. The first axis varies slowest. Exit 0 all decided, "
        "1 some points invalid (the others are decided), 2 usage or rules error.",
    )
    _first_scenario(sweep)
    sweep.add_argument("--vary", action="append", required=True, metavar="AXIS=VALUES",
                       help="a field and its values, such as utilization=0.3..1/0.05 or price.h100-80gb=2..5/0.25 (repeatable)")
    sweep.add_argument("--jobs", type=jobs, default=1, metavar="N",
                       help="worker processes, each with its own engine (default: 1; auto: one per core)")
    _rules_option(sweep)
    sweep.add_argument("--format", choices=("table", "csv", "jsonl"), default="table",
                       help="a line per point: table, csv, or jsonl (JSON lines: the sweep, each point, each boundary, a summary)")
    sweep.add_argument("--chart", metavar="PATH", help="also draw the sweep: .svg or .png (one axis: cost per GPU along it; "
                       "two axes: the decision map)")
    recording = sweep.add_mutually_exclusive_group()
    recording.add_argument("--audit", action="store_true", help="record every point's decision in the audit store (off by default)")
    recording.add_argument("--no-audit", dest="audit", action="store_false", help="record nothing (the default; as `advisor run` takes it)")
    _audit_options(sweep, recording=False)
    sweep.set_defaults(handler="sweep")

    chart = sub.add_parser(
        "chart", help="draw a chart of a scenario's decision (SVG or PNG)",
        description="Decide the first scenario of a file (as `advisor run` does; not recorded) and draw one chart: cost "
        "(per million tokens against utilization, a line per GPU, the break-evens with the chosen GPU marked), plans "
        "(the monthly cost of each GPU's plan, the chosen one marked), latency (TPOT and TTFT against throughput per GPU "
        "as concurrency grows, the Pareto front and the targets), or map (the verdict over two axes, regions labelled, "
        "the scenario's own point marked; the axes are --vary's, by default the A100 fleet's utilization, or the A100 "
        "price, against the H100 price). Needs the charts extra: pip install 'advisor[charts]'.",
    )
    chart.add_argument("kind", choices=("cost", "plans", "latency", "map"), help="which chart")
    _first_scenario(chart)
    chart.add_argument("-o", "--output", required=True, metavar="PATH", help="the image to write: .svg or .png")
    chart.add_argument("--vary", action="append", default=[], metavar="AXIS=VALUES", help="map only: an axis, as `advisor sweep` takes it (twice)")
    chart.add_argument("--size", type=chart_size, default=(960, 600), metavar="WxH",
                       help="pixels of a PNG, or of an SVG at 100 per inch (default: 960x600)")
    _rules_option(chart)
    chart.set_defaults(handler="chart")

    report = sub.add_parser(
        "report", help="a decision report to pass on: one self-contained HTML page, or Markdown",
        description="Decide the first scenario of a file as `advisor run` does, record it in the audit store, and write a "
        "report for people who will not run the CLI: the verdict, whether the seed's general answer holds, every GPU's "
        "plan, the charts (plans, cost against utilization, latency against throughput, the decision map), the findings, "
        "every assumption and default, the sources of prices and figures with their dates, the rules revision, the "
        "decision id and how to reproduce it. HTML: one file, styles and charts inline, no script, nothing loaded from "
        "the network, prints to PDF. Markdown (for wikis and pull requests): its charts as SVG files beside it.",
    )
    _first_scenario(report)
    report.add_argument("-o", "--output", metavar="FILE", help="where to write it (default: standard output)")
    report.add_argument("--format", choices=("html", "markdown"), help="html, or markdown (default: markdown for a .md FILE, else html)")
    report.add_argument("--no-charts", action="store_true", help="without charts (they need the charts extra)")
    _rules_option(report)
    _audit_options(report, recording=True)
    report.set_defaults(handler="report")

    ask = sub.add_parser(
        "ask", help="guided session: answer questions, get a recommendation",
        description="Answer questions about your situation, workload and prices (Enter keeps the default), get the "
        "recommendation with its figures and reasons, and optionally save the answers as a scenario file. Needs a terminal.",
    )
    ask.add_argument("--from", dest="from_file", metavar="FILE", help="pre-fill the answers from a scenario file")
    ask.add_argument("--save", metavar="FILE", help="save the answers to FILE (a scenario file for `advisor run`)")
    _deciding_options(ask)
    ask.set_defaults(handler="ask")

    explain = sub.add_parser(
        "explain", help="why a decision came out as it did",
        description="The verdict; the derivation as a tree (facts and figures -> rules -> results); the overridden "
        "matches; for every rule that did not fire, the first condition that failed and the actual value; the formulas "
        "with the numbers put in. Of every scenario in FILE, or of a recorded decision (--id).",
    )
    which = explain.add_mutually_exclusive_group(required=True)
    which.add_argument("file", nargs="?", metavar="FILE", help="scenario file")
    which.add_argument("--id", metavar="ID", help="a recorded decision id (or a unique prefix of it)")
    _rules_option(explain)
    explain.add_argument("--format", choices=("text", "json"), default="text")
    _audit_options(explain, recording=False)
    explain.set_defaults(handler="explain")


def _add_audit_commands(sub) -> None:
    audit = sub.add_parser("audit", help="list, show, export and replay recorded decisions",
                           description="The audit store: every decision of `run` and `ask` with its input, fired rules and rules revision.")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="SUBCOMMAND", parser_class=_Parser, required=True)
    listing = audit_sub.add_parser("list", help="recorded decisions, newest first", description="Recorded decisions, newest first.")
    listing.add_argument("--limit", type=positive_int, default=20, metavar="N", help="at most N decisions (default: 20)")
    listing.add_argument("--rule", metavar="ID", help="only decisions in which this rule fired")
    listing.add_argument("--since", metavar="DATE", help="only decisions recorded at or after DATE (ISO: 2026-11-01 or 2026-11-01T09:30)")
    listing.add_argument("--format", choices=FORMATS, default="table")
    _audit_options(listing, recording=False)
    listing.set_defaults(handler="audit_list")
    show = audit_sub.add_parser("show", help="one recorded decision", description="One recorded decision: input, result, fired rules.")
    show.add_argument("id", metavar="ID", help="decision id, or a unique prefix of at least 4 characters")
    show.add_argument("--format", choices=FORMATS, default="table")
    _audit_options(show, recording=False)
    show.set_defaults(handler="audit_show")
    export = audit_sub.add_parser("export", help="every recorded decision as JSON lines",
                                  description="Every recorded decision, oldest first, one JSON object per line.")
    export.add_argument("--format", choices=("jsonl",), default="jsonl")
    _audit_options(export, recording=False)
    export.set_defaults(handler="audit_export")
    replay = audit_sub.add_parser("replay", help="decide a recorded input again with the current rules",
                                  description="Decide a recorded decision's input again with the current rules; show what "
                                  "changed and whether the rules revision differs.")
    replay.add_argument("id", metavar="ID", help="decision id, or a unique prefix of at least 4 characters")
    _rules_option(replay)
    replay.add_argument("--format", choices=FORMATS, default="table")
    _audit_options(replay, recording=False)
    replay.set_defaults(handler="audit_replay")


def _add_rules_commands(sub) -> None:
    rules = sub.add_parser("rules", help="check, test or list the rules", description="Check, test or list the YAML rules.")
    rules_sub = rules.add_subparsers(dest="rules_command", metavar="SUBCOMMAND", parser_class=_Parser, required=True)
    check = rules_sub.add_parser(
        "check", help="validate rule files and analyse them",
        description="Schema errors as file:line, unknown facts and type mismatches, and for every ruleset an analysis "
        "over the whole input space: gaps, rules that never match, rules that never win, overlaps. Exit 0 clean, 2 on errors.",
    )
    check.add_argument("directory", nargs="?", metavar="DIR", help="rules directory (default: the shipped rules)")
    check.set_defaults(handler="rules_check")
    test = rules_sub.add_parser(
        "test", help="run the rule cases kept beside the rules",
        description="Run every *.cases.yaml beside the rule files: each case gives facts and the rules that must fire "
        "(and the outcome a first-hit ruleset must give), through the engine and the reference evaluator. Exit 0 all "
        "pass, 2 on a failure or an invalid case.",
    )
    test.add_argument("directory", nargs="?", metavar="DIR", help="rules directory (default: the shipped rules)")
    test.set_defaults(handler="rules_test")
    rules_list = rules_sub.add_parser("list", help="list the rules", description="Every rule with its ruleset, title and seed source.")
    _rules_option(rules_list)
    rules_list.add_argument("--format", choices=FORMATS, default="table")
    rules_list.set_defaults(handler="rules_list")

    schema = sub.add_parser("schema", help="print the JSON Schema of scenario files", description="JSON Schema of a scenario file, for editors.")
    schema.set_defaults(handler="schema")


#: Every command, in the order the builders add them: a run builds only the parser of the command
#: it names (all of them take about 20 ms), --help and anything unknown build them all.
COMMANDS = ("estimate", "compare", "plan", "gpus", "models", "run", "sweep", "chart", "report", "ask", "explain", "audit", "rules",
            "schema")


class _Unbuilt:
    """A command's parser that this invocation does not use: takes every builder's call, builds nothing."""

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: self


class _OneCommand:
    """The commands' subparsers action, as the builders see it: it builds the parser of ``wanted``
    only (every command's when ``wanted`` is None)."""

    def __init__(self, sub, wanted: Optional[str]):
        self._sub, self._wanted = sub, wanted

    def add_parser(self, name: str, **kwargs):
        return self._sub.add_parser(name, **kwargs) if self._wanted in (None, name) else _Unbuilt()


def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """The parser of every command, or of ``command`` only (one of COMMANDS)."""
    parser = _Parser(prog="advisor", description="GPU procurement advisor for LLM inference: H100 or A100, with the figures behind it.")
    parser.add_argument("--version", action="version", version=f"advisor {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    sub = _OneCommand(parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser), command)
    for add in (_add_figures_commands, _add_deciding_commands, _add_audit_commands, _add_rules_commands):
        add(sub)
    return parser


def named_command(argv: Sequence[str]) -> Optional[str]:
    """The command ``argv`` names (its first word that is not an option) when it is one of
    COMMANDS and no --help comes before it; else None (the top-level options take no value)."""
    for word in argv:
        if word in ("-h", "--help"):
            return None
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


# --- entry point -------------------------------------------------------------------------------


def main(argv: Optional[Sequence[str]] = None) -> int:
    from . import streams

    closed = streams.prepare()  # before anything opens a file: see streams
    try:
        return _main(argv, closed)
    finally:
        streams.restore()


def _main(argv, closed: set) -> int:
    from .streams import OutputError, discard_output

    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(named_command(argv))
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    if 1 in closed:
        print("advisor: error: standard output is closed: nowhere to write the result (redirect it to a file or"
              " /dev/null instead of closing it)", file=sys.stderr)
        return 2
    from ..errors import AdvisorError

    try:
        from . import commands

        code = getattr(commands, args.handler)(args)  # a name: the handlers' imports wait for a command
        sys.stdout.flush()
        return code
    except AdvisorError as exc:
        for line in str(exc).splitlines():  # several problems of one input: a line each
            print(f"advisor: error: {line}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("advisor: interrupted", file=sys.stderr)
        return 130
    except OutputError as exc:
        discard_output()  # what is still buffered goes nowhere, instead of failing again at exit
        if exc.broken_pipe:  # the reader went away (`advisor gpus | head -1`): not worth a message
            return 0
        print(f"advisor: error: cannot write the output ({exc.reason})", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the last line of defence: never a bare traceback
        if args.debug:
            raise
        print(f"advisor: internal error: {type(exc).__name__}: {exc} (a bug; rerun with --debug for the traceback)", file=sys.stderr)
        return 2
