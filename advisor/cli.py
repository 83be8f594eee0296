"""The `advisor` command: a thin argparse layer over the library.

Exit codes: 0 ok, 1 invalid scenario input, 2 usage / data / rules error, 130 interrupted.
Expected errors are one line on stderr; ``--debug`` shows a traceback for unexpected ones.
Heavy modules are imported inside the handlers so that ``advisor --help`` starts fast.
"""

from __future__ import annotations

import argparse
import math
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Optional, Sequence

from . import __version__

PRECISION_CHOICES = ("fp16", "bf16", "fp8", "int8", "int4")
FORMATS = ("table", "json")
DECISION_FORMATS = ("table", "json", "csv", "markdown")


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


def _rules_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rules", metavar="DIR", help="rules directory (default: the shipped rules)")


def _audit_options(p: argparse.ArgumentParser, recording: bool) -> None:
    p.add_argument("--audit-db", metavar="PATH", help="audit store (default: $ADVISOR_AUDIT_DB, else $XDG_STATE_HOME/advisor/audit.sqlite3)")
    if recording:
        p.add_argument("--no-audit", action="store_true", help="do not record the decisions in the audit store")


def _deciding_options(p: argparse.ArgumentParser) -> None:
    """What every command that makes decisions takes: the rules, the output format, the audit store."""
    _rules_option(p)
    p.add_argument("--format", choices=DECISION_FORMATS, default="table", help="output format (default: table)")
    _audit_options(p, recording=True)


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
    run.add_argument("--jobs", type=jobs, default=1, metavar="N",
                     help="worker processes, each with its own engine; a file is the unit of work (default: 1; auto: one per core)")
    _deciding_options(run)
    run.set_defaults(handler=_run)

    ask = sub.add_parser(
        "ask", help="guided session: answer questions, get a recommendation",
        description="Answer questions about your situation, workload and prices (Enter keeps the default), get the "
        "recommendation with its figures and reasons, and optionally save the answers as a scenario file. Needs a terminal.",
    )
    ask.add_argument("--from", dest="from_file", metavar="FILE", help="pre-fill the answers from a scenario file")
    ask.add_argument("--save", metavar="FILE", help="save the answers to FILE (a scenario file for `advisor run`)")
    _deciding_options(ask)
    ask.set_defaults(handler=_ask)

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
    explain.set_defaults(handler=_explain)

    audit = sub.add_parser("audit", help="list, show, export and replay recorded decisions",
                           description="The audit store: every decision of `run` and `ask` with its input, fired rules and rules revision.")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="SUBCOMMAND", parser_class=_Parser, required=True)
    listing = audit_sub.add_parser("list", help="recorded decisions, newest first", description="Recorded decisions, newest first.")
    listing.add_argument("--limit", type=positive_int, default=20, metavar="N", help="at most N decisions (default: 20)")
    listing.add_argument("--rule", metavar="ID", help="only decisions in which this rule fired")
    listing.add_argument("--since", metavar="DATE", help="only decisions recorded at or after DATE (ISO: 2026-11-01 or 2026-11-01T09:30)")
    listing.add_argument("--format", choices=FORMATS, default="table")
    _audit_options(listing, recording=False)
    listing.set_defaults(handler=_audit_list)
    show = audit_sub.add_parser("show", help="one recorded decision", description="One recorded decision: input, result, fired rules.")
    show.add_argument("id", metavar="ID", help="decision id, or a unique prefix of at least 4 characters")
    show.add_argument("--format", choices=FORMATS, default="table")
    _audit_options(show, recording=False)
    show.set_defaults(handler=_audit_show)
    export = audit_sub.add_parser("export", help="every recorded decision as JSON lines",
                                  description="Every recorded decision, oldest first, one JSON object per line.")
    export.add_argument("--format", choices=("jsonl",), default="jsonl")
    _audit_options(export, recording=False)
    export.set_defaults(handler=_audit_export)
    replay = audit_sub.add_parser("replay", help="decide a recorded input again with the current rules",
                                  description="Decide a recorded decision's input again with the current rules; show what "
                                  "changed and whether the rules revision differs.")
    replay.add_argument("id", metavar="ID", help="decision id, or a unique prefix of at least 4 characters")
    _rules_option(replay)
    replay.add_argument("--format", choices=FORMATS, default="table")
    _audit_options(replay, recording=False)
    replay.set_defaults(handler=_audit_replay)

    rules = sub.add_parser("rules", help="check or list the rules", description="Check or list the YAML rules.")
    rules_sub = rules.add_subparsers(dest="rules_command", metavar="SUBCOMMAND", parser_class=_Parser, required=True)
    check = rules_sub.add_parser(
        "check", help="validate rule files and analyse them",
        description="Schema errors as file:line, unknown facts and type mismatches, and for every ruleset an analysis "
        "over the whole input space: gaps, rules that never match, rules that never win, overlaps. Exit 0 clean, 2 on errors.",
    )
    check.add_argument("directory", nargs="?", metavar="DIR", help="rules directory (default: the shipped rules)")
    check.set_defaults(handler=_rules_check)
    rules_list = rules_sub.add_parser("list", help="list the rules", description="Every rule with its ruleset, title and seed source.")
    _rules_option(rules_list)
    rules_list.add_argument("--format", choices=FORMATS, default="table")
    rules_list.set_defaults(handler=_rules_list)

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
    from . import batch, render, term
    from .decision import Advisor

    advisor = Advisor(args.rules)
    paths = list(batch.expand(args.paths))
    progress = term.Progress(sys.stderr, len(paths))
    colour = term.colour_enabled(sys.stdout)
    out = render.DecisionStream(args.format, sys.stdout)
    failures, files_done = [], 0
    if args.jobs > 1 and len(paths) > 1:
        per_file = batch.run_parallel(args.rules, paths, min(args.jobs, len(paths)), args.format, colour)
    else:
        per_file = (batch.prepare_file(advisor, item, args.format, colour) for item in paths)
    with _recorder(args, advisor.book) as record:
        for results in per_file:
            for result in results:
                if isinstance(result, batch.Failure):
                    failures.append(result)
                    progress.close()
                    print(f"advisor: invalid input: {result.message}", file=sys.stderr)
                else:
                    record(result.rows)
                    out.write(result.piece)
                progress.step(files_done, out.count, len(failures))
            files_done += 1
    progress.close()
    out.close(failures)
    if failures:
        print(f"advisor: {out.count} decided, {len(failures)} invalid", file=sys.stderr)
    return 1 if failures else 0


@contextmanager
def _recorder(args, book):
    """Yields a function that records a decision in the audit store (in transactions), or does nothing."""
    if getattr(args, "no_audit", False):
        yield lambda rows: None
        return
    from .audit import Store

    with Store.open(args.audit_db) as store, store.writer(book) as add:
        yield add


def _ask(args) -> int:
    if not sys.stdin.isatty():
        from .errors import UsageError

        raise UsageError("advisor ask asks questions and needs a terminal", "without one, decide a saved scenario: advisor run FILE")
    from prompt_toolkit.application import create_app_session
    from prompt_toolkit.output import create_output

    from . import audit, questionnaire, render, scenario as scen, term
    from .decision import Advisor
    from .errors import InputError

    advisor = Advisor(args.rules)
    prefill, name = {}, "guided-session"
    if args.from_file:
        loaded = _first_scenario(args.from_file)
        prefill, name = questionnaire.from_scenario(loaded.scenario), loaded.scenario.name
    if args.save:
        name = Path(args.save).stem
        _check_writable(Path(args.save))
    screen = sys.stdout if sys.stdout.isatty() else sys.stderr  # prompts never mix with data on a pipe
    with create_app_session(output=create_output(stdout=screen)):
        import questionary

        session = questionnaire.Session(advisor.catalog, prefill,
                                        say=lambda text: questionary.print(text, style="fg:ansicyan"),
                                        help=lambda text: questionary.print(text, style="fg:ansibrightblack"))
        answers = session.run()
        data = questionnaire.to_scenario(answers, advisor.catalog, name)
        loaded = scen.from_data(data, args.save or "<ask>", name)
        if loaded.error:
            raise InputError(loaded.error)
        decision = advisor.decide(loaded.scenario, loaded.source, data)
        with _recorder(args, advisor.book) as record:
            record(audit.rows_of(decision))
        palette = term.Palette(term.colour_enabled(sys.stdout))
        if args.format == "table":
            title = advisor.book.rule(decision.recommendation["rule"]).title
            print("\n" + render.ask_summary(decision, title, palette, recorded=not args.no_audit))
        else:
            out = render.DecisionStream(args.format, sys.stdout)
            out.write(render.decision_piece(decision, args.format, palette))
            out.close([])
        sys.stdout.flush()
        target = args.save
        if target is None and questionary.confirm("Save these answers as a scenario file?", default=False).unsafe_ask():
            target = questionary.text("File name?", default=f"{name}.yaml", validate=_writable_answer).unsafe_ask()
        if target:
            scen.save(Path(target), data)
            print(f"advisor: saved {target}; decide it again with: advisor run {target}", file=sys.stderr)
    return 0


def _writable_answer(text: str):
    """The file name typed at the end of a session: never an existing file (--save may overwrite)."""
    if Path(text.strip()).exists():
        return f"{text.strip()} exists: choose another name"
    try:
        _check_writable(Path(text.strip()))
    except Exception as exc:  # noqa: BLE001 - the reason is shown in place
        return str(exc)
    return True


def _check_writable(path: Path) -> None:
    from .errors import UsageError

    if not path.name or path.is_dir():
        raise UsageError(f"{path} is a directory", "give a file name such as my-team.yaml")
    if not path.parent.is_dir():
        raise UsageError(f"{path.parent} is not a directory", "create it first or choose another place")
    if path.suffix not in (".yaml", ".yml"):
        raise UsageError(f"{path} does not end in .yaml or .yml", "`advisor run` reads *.yaml and *.yml")


def _first_scenario(path: str):
    from . import scenario as scen
    from .errors import InputError

    source, raw = scen.read_source(path)
    loaded = scen.parse(source, raw)[0]
    if loaded.error:
        raise InputError(loaded.error)
    return loaded


def _explain(args) -> int:
    from . import explain, render, term
    from . import scenario as scen
    from .decision import Advisor
    from .errors import InputError

    advisor = Advisor(args.rules)
    items = []
    if args.id:
        with _open_store(args) as store:
            record = store.get(args.id)
        loaded = scen.from_data(record.input, record.source, record.scenario)
        items.append(explain.explain(record.decision, advisor.book, loaded.scenario, advisor.catalog))
    else:
        source, raw = scen.read_source(args.file)
        for loaded in scen.parse(source, raw):
            if loaded.error:
                raise InputError(loaded.error)
            decision = advisor.decide(loaded.scenario, source, loaded.raw)
            items.append(explain.explain(decision.to_json(), advisor.book, loaded.scenario, advisor.catalog))
    if args.format == "json":
        print(render.to_json({"explanations": [e.to_json() for e in items]}))
    else:
        palette = term.Palette(term.colour_enabled(sys.stdout))
        print("\n\n".join(render.explanation_text(e, palette) for e in items))
    return 0


def _open_store(args):
    """The audit store to read; an error (exit 1) when there is none."""
    from .audit import Store

    return Store.open(args.audit_db, create=False)


def _recorded_store(args):
    """The audit store to list from, or None (said on stderr) when nothing was recorded yet."""
    from .audit import default_path

    path = Path(args.audit_db) if args.audit_db else default_path()
    if path.exists():
        return _open_store(args)
    print(f"advisor: nothing recorded yet in {path}", file=sys.stderr)
    return None


def _audit_list(args) -> int:
    from . import render

    records = []
    store = _recorded_store(args)
    if store is not None:
        with store:
            records = store.list(limit=args.limit, rule=args.rule, since=args.since)
    print(render.audit_list_json(records) if args.format == "json" else render.audit_list_table(records))
    return 0


def _audit_show(args) -> int:
    from . import render, term
    from .decision import Decision

    with _open_store(args) as store:
        record = store.get(args.id)
    if args.format == "json":
        print(render.to_json(record.to_json()))
    else:
        print(render.record_text(record, Decision(**record.decision), term.Palette(term.colour_enabled(sys.stdout))))
    return 0


def _audit_export(args) -> int:
    import json

    from .render import JSON_VERSION

    store = _recorded_store(args)
    if store is None:
        return 0
    with store:
        for record in store.iter_all():
            sys.stdout.write(json.dumps({"version": JSON_VERSION, **record.to_json()}, ensure_ascii=False) + "\n")
    return 0


def _audit_replay(args) -> int:
    from . import render, term
    from .decision import Advisor

    advisor = Advisor(args.rules)
    with _open_store(args) as store:
        record = store.get(args.id)
        stored_rules = store.rules_of(record.rules_revision)
    result = advisor.replay(record, stored_rules)
    if args.format == "json":
        print(render.to_json(result))
    else:
        print(render.replay_text(result, term.Palette(term.colour_enabled(sys.stdout))))
    return 0


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
