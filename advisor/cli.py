"""The `advisor` command: a thin argparse layer over the library.

Exit codes: 0 ok, 1 invalid scenario input, 2 usage / data / rules error, 130 interrupted.
Expected errors are one line on stderr; ``--debug`` shows a traceback for unexpected ones.
Heavy modules are imported inside the handlers so that ``advisor --help`` starts fast.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Optional, Sequence

from . import __version__

PRECISION_CHOICES = ("fp16", "bf16", "fp8", "int8", "int4")
FORMATS = ("table", "json")


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line with a hint, exit 2."""

    def error(self, message: str):
        sys.stderr.write(f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")
        sys.exit(2)


# --- argument types: each rejects bad values with a sentence argparse prints ------------------


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def utilization(text: str) -> float:
    value = _number(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text} (0.6 means busy 60% of paid hours)")
    return value


def gpu_price(text: str) -> tuple[str, float]:
    gpu, sep, usd = text.partition("=")
    if not sep or not gpu:
        raise argparse.ArgumentTypeError(f"expected GPU=USD_PER_HOUR such as h100-80gb=3.50, got {text!r}")
    return gpu.strip(), positive_float(usd)


# --- parser ------------------------------------------------------------------------------------


def _workload_options(p: argparse.ArgumentParser) -> None:
    which = p.add_mutually_exclusive_group()
    which.add_argument("--model", metavar="ID", help="catalog model id (see `advisor models`)")
    which.add_argument("--params-b", type=positive_float, metavar="N", help="any model size in billions of parameters (Llama-shaped estimate)")
    p.add_argument("--precision", choices=PRECISION_CHOICES, default="fp16", help="weight precision (default: fp16)")
    p.add_argument("--gpus", type=positive_int, metavar="N", help="GPUs per deployment (default: the fewest that fit)")
    p.add_argument("--batch", type=positive_int, default=1, metavar="B", help="concurrent sequences (default: 1)")
    p.add_argument("--prompt-tokens", type=positive_int, default=512, metavar="N", help="prompt length (default: 512)")
    p.add_argument("--output-tokens", type=positive_int, default=256, metavar="N", help="generated tokens per request (default: 256)")
    p.add_argument("--utilization", type=utilization, default=1.0, metavar="U", help="share of paid hours the GPUs are busy, in (0, 1] (default: 1)")
    p.add_argument("--max-ms-per-token", type=positive_float, metavar="MS", help="latency target per generated token")
    p.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="advisor", description="GPU procurement advisor for LLM inference: H100 or A100, with the figures behind it.")
    parser.add_argument("--version", action="version", version=f"advisor {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    est = sub.add_parser(
        "estimate", help="size, time and price one deployment",
        description="Size, time and price a model on one GPU type: memory, GPUs needed, decode floor and estimate, "
        "time to first token, tokens/s, cost per million tokens.",
    )
    est.add_argument("--gpu", required=True, metavar="ID", help="catalog GPU id (see `advisor gpus`)")
    _workload_options(est)
    est.add_argument("--price", type=positive_float, metavar="USD", help="USD per GPU-hour (default: the catalog price)")
    est.add_argument("--tokens-per-s", type=positive_float, metavar="X", help="measured throughput of the whole deployment; replaces the estimate")
    est.set_defaults(handler=_estimate)

    cmp_ = sub.add_parser(
        "compare", help="rank every GPU by cost per million tokens",
        description="Every catalog GPU that can serve the workload, ranked by cost per million tokens; "
        "each other row says why it lost.",
    )
    _workload_options(cmp_)
    cmp_.add_argument("--price", type=gpu_price, action="append", default=[], metavar="GPU=USD", help="override a catalog price (repeatable)")
    cmp_.add_argument("--baseline", default="a100-80gb", metavar="ID", help="GPU the break-even figures refer to (default: a100-80gb)")
    cmp_.set_defaults(handler=_compare)

    gpus = sub.add_parser("gpus", help="list the GPU catalog", description="The GPU catalog with datasheet figures, prices and the seed's own figures.")
    gpus.add_argument("--format", choices=FORMATS, default="table")
    gpus.set_defaults(handler=_gpus)

    models = sub.add_parser("models", help="list the model catalog", description="The model catalog: shapes that decide memory and speed.")
    models.add_argument("--format", choices=FORMATS, default="table")
    models.set_defaults(handler=_models)

    run = sub.add_parser(
        "run", help="decide saved scenario files",
        description="Decide every scenario in the given files and directories (*.yaml, *.yml; - for stdin). "
        "A bad scenario is reported and the others are still decided. Exit 0 all decided, 1 some input invalid, "
        "2 usage or rules error.",
    )
    run.add_argument("paths", nargs="+", metavar="PATH", help="scenario file, directory, or - for stdin")
    run.add_argument("--rules", metavar="DIR", help="rules directory (default: the shipped rules)")
    run.add_argument("--format", choices=("table", "json", "csv", "markdown"), default="table")
    run.add_argument("--no-audit", action="store_true", help="do not record the decisions in the audit store")
    run.set_defaults(handler=_run)

    rules = sub.add_parser("rules", help="check or list the rules", description="Check or list the YAML rules.")
    rules_sub = rules.add_subparsers(dest="rules_command", metavar="SUBCOMMAND", parser_class=_Parser, required=True)
    check = rules_sub.add_parser(
        "check", help="validate rule files and analyse them",
        description="Schema errors as file:line, unknown facts and type mismatches, and for every ruleset an analysis "
        "over the whole input space: gaps, rules that never match, rules that never win, overlaps. Exit 0 clean, 2 on errors.",
    )
    check.add_argument("directory", nargs="?", metavar="DIR", help="rules directory (default: the shipped rules)")
    check.set_defaults(handler=_rules_check)
    listing = rules_sub.add_parser("list", help="list the rules", description="Every rule with its ruleset, title and seed source.")
    listing.add_argument("--rules", metavar="DIR", help="rules directory (default: the shipped rules)")
    listing.add_argument("--format", choices=FORMATS, default="table")
    listing.set_defaults(handler=_rules_list)

    schema = sub.add_parser("schema", help="print the JSON Schema of scenario files", description="JSON Schema of a scenario file, for editors.")
    schema.set_defaults(handler=_schema)
    return parser


# --- handlers ----------------------------------------------------------------------------------


def _workload(args, catalog):
    from .deployment import Workload

    model = catalog.model(args.model) if args.model else catalog.custom(args.params_b) if args.params_b else None
    return Workload(
        model=model, precision=args.precision, batch=args.batch, prompt_tokens=args.prompt_tokens,
        output_tokens=args.output_tokens, utilization=args.utilization, max_ms_per_token=args.max_ms_per_token,
    )


def _workload_line(w) -> str:
    model = w.model.name if w.model else "no model (stated throughput)"
    return (f"{model} · {w.precision} · batch {w.batch} · {w.prompt_tokens} prompt / {w.output_tokens} output tokens"
            f" · utilization {w.utilization:.0%}")


def _estimate(args) -> int:
    from . import render
    from .catalogs import load_catalog
    from .deployment import estimate

    catalog = load_catalog()
    gpu = catalog.gpu(args.gpu)
    workload = _workload(args, catalog)
    est = estimate(catalog, gpu, workload, gpus=args.gpus, price_usd_per_hour=args.price, stated_tokens_per_s=args.tokens_per_s)
    if args.format == "json":
        print(render.estimate_json(est))
    else:
        print(render.estimate_table(est, _workload_line(workload)))
        for warning in est.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    return 0


def _compare(args) -> int:
    from . import render
    from .catalogs import load_catalog
    from .deployment import compare

    catalog = load_catalog()
    workload = _workload(args, catalog)
    rows = compare(catalog, workload, gpus=args.gpus, prices=dict(args.price), baseline=args.baseline)
    if args.format == "json":
        described = {
            "model": workload.model.id, "precision": workload.precision, "batch": workload.batch,
            "prompt_tokens": workload.prompt_tokens, "output_tokens": workload.output_tokens,
            "utilization": workload.utilization, "max_ms_per_token": workload.max_ms_per_token,
        }
        print(render.compare_json(rows, described, args.baseline))
    else:
        print(render.compare_table(rows, _workload_line(workload), args.baseline))
    return 0


def _gpus(args) -> int:
    from . import render
    from .catalogs import load_catalog

    catalog = load_catalog()
    print(render.gpus_json(catalog) if args.format == "json" else render.gpus_table(catalog))
    return 0


def _models(args) -> int:
    from . import render
    from .catalogs import load_catalog
    from .costmodel import kv_bytes_per_token

    catalog = load_catalog()
    print(render.models_json(catalog, kv_bytes_per_token) if args.format == "json" else render.models_table(catalog, kv_bytes_per_token))
    return 0


def _run(args) -> int:
    from . import batch, render
    from .decision import Advisor

    advisor = Advisor(args.rules)
    decisions, failures = [], []
    for result in batch.run(advisor, args.paths):
        if isinstance(result, batch.Failure):
            failures.append(result)
            print(f"advisor: invalid input: {result.message}", file=sys.stderr)
        else:
            decisions.append(result)
    if args.format == "json":
        print(render.decisions_json(decisions, failures))
    elif decisions:
        print({"table": render.decisions_table, "csv": render.decisions_csv, "markdown": render.decisions_markdown}[args.format](decisions))
    if failures:
        print(f"advisor: {len(decisions)} decided, {len(failures)} invalid", file=sys.stderr)
    return 1 if failures else 0


def _rules_check(args) -> int:
    from . import analysis, facts, resources, rulelang
    from .catalogs import load_catalog

    schema = facts.schema(load_catalog())
    directory = args.directory or str(resources.policy_dir())
    book, problems = rulelang.parse_directory(Path(directory), schema)
    if book is not None:
        report = analysis.analyse(book, schema)
        problems += report.problems
    for problem in problems:
        print(problem, file=sys.stderr)
    errors = [p for p in problems if p.severity == "error"]
    if book is not None:
        for rs in book.rulesets:
            pairs = report.overlaps[rs.name]
            overlap = f", {len(pairs)} overlapping pairs resolved by priority" if rs.hit_policy == "first" else ""
            print(f"{rs.name}: {len(rs.rules)} rules, {rs.hit_policy} hit policy, {report.points[rs.name]:,} input points{overlap}")
            for first, second, _example in pairs:
                print(f"  overlap: {first} wins over {second} where both match")
    print(f"{directory}: {len(errors)} error(s), {len(problems) - len(errors)} warning(s)", file=sys.stderr)
    return 2 if errors else 0


def _rules_list(args) -> int:
    from . import render
    from .decision import Advisor

    book = Advisor(args.rules).book
    print(render.rules_json(book) if args.format == "json" else render.rules_table(book))
    return 0


def _schema(args) -> int:
    import json

    from .scenario import schema

    print(json.dumps(schema(), indent=2))
    return 0


# --- entry point -------------------------------------------------------------------------------


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    from .errors import AdvisorError

    try:
        return args.handler(args)
    except AdvisorError as exc:
        print(f"advisor: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("advisor: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`advisor gpus | head -1`): not an error worth a message.
        sys.stderr.close()
        return 0
    except Exception as exc:  # noqa: BLE001 - the last line of defence: never a bare traceback
        if args.debug:
            raise
        print(f"advisor: internal error: {type(exc).__name__}: {exc} (a bug; rerun with --debug for the traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
