"""One handler per command: read the arguments, call the library, print what it returns.

Data goes to stdout, messages to stderr. Heavy modules are imported inside the handlers so
that ``advisor --help`` starts fast.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from .. import defaults
from .recording import open_store


# --- figures -------------------------------------------------------------------------------------


def _model(args, catalog):
    """The model the flags name: --model, --params-b or --model-config (None when none is given)."""
    if args.model_config:
        from ..catalog import hf_config

        return hf_config.read(Path(args.model_config))
    return catalog.model(args.model) if args.model else catalog.custom(args.params_b) if args.params_b else None


def _workload(args, catalog):
    from ..perf.deployment import Workload

    return Workload(
        model=_model(args, catalog), precision=args.precision, kv_precision=args.kv_precision, batch=args.batch or defaults.DEFAULT_BATCH,
        prompt_tokens=args.prompt_tokens, output_tokens=args.output_tokens, utilization=args.utilization,
        max_ms_per_token=args.max_ms_per_token,
    )


def _workload_line(w, batch_given: bool) -> str:
    model = w.model.name if w.model else "no model (stated throughput)"
    batch = f"batch {w.batch}" + ("" if batch_given else " (default; --batch to change)")
    return (f"{model} · {w.precision} · {batch} · {w.prompt_tokens} prompt / {w.output_tokens} output tokens"
            f" · utilization {w.utilization:.0%}")


def estimate(args) -> int:
    from ..catalog.load import load_catalog
    from ..perf.deployment import estimate as estimate_deployment
    from ..render import tables

    catalog = load_catalog()
    gpu = catalog.gpu(args.gpu)
    workload = _workload(args, catalog)
    est = estimate_deployment(catalog, gpu, workload, gpus=args.gpus, price_usd_per_hour=args.price, stated_tokens_per_s=args.tokens_per_s)
    if args.format == "json":
        print(tables.estimate_json(est))
    else:
        print(tables.estimate_table(est, _workload_line(workload, args.batch is not None)))
        for warning in est.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    return 0


def compare(args) -> int:
    from ..catalog.load import load_catalog
    from ..perf.deployment import compare as compare_gpus
    from ..render import tables

    catalog = load_catalog()
    workload = _workload(args, catalog)
    rows = compare_gpus(catalog, workload, gpus=args.gpus, prices=dict(args.price), baseline=args.baseline)
    if args.format == "json":
        described = {
            "model": workload.model.id, "precision": workload.precision, "batch": workload.batch,
            "prompt_tokens": workload.prompt_tokens, "output_tokens": workload.output_tokens,
            "utilization": workload.utilization, "max_ms_per_token": workload.max_ms_per_token,
        }
        print(tables.compare_json(rows, described, args.baseline))
    else:
        print(tables.compare_table(rows, _workload_line(workload, args.batch is not None), args.baseline))
    return 0


def plan(args) -> int:
    from ..catalog.load import load_catalog
    from ..plan.planner import Planner
    from ..render import plans as render_plans

    catalog = load_catalog()
    request = _plan_request(args, catalog)
    for gpu_id, _ in request.prices:
        catalog.gpu(gpu_id)
    plans = Planner(catalog).plan_all(request)
    print(render_plans.plans_json(plans, request) if args.format == "json" else render_plans.plans_table(plans, request, args.all))
    return 0


def _plan_request(args, catalog):
    """The plan asked for: a scenario file's workload and prices, with the flags on top of it."""
    import dataclasses

    from ..plan.request import PlanRequest, Targets, Traffic

    if args.scenario:
        from ..decide.workload import plan_request
        from ..scenario.files import first_scenario

        base = plan_request(first_scenario(args.scenario, catalog).scenario, catalog)
    else:
        base = PlanRequest(model=catalog.model(defaults.DEFAULT_MODEL), precision=defaults.DEFAULT_PRECISION)
    model = _model(args, catalog) or base.model
    traffic = base.traffic
    if args.tokens_per_day or args.requests_per_s:
        output = args.output_tokens or base.output_tokens
        traffic = Traffic.of(args.tokens_per_day, args.requests_per_s, output, traffic.peak_to_average, traffic.headroom)
    traffic = dataclasses.replace(traffic, peak_to_average=args.peak_to_average or traffic.peak_to_average,
                                  headroom=args.headroom or traffic.headroom)
    targets = Targets(args.tpot_ms or base.targets.tpot_ms, args.ttft_ms or base.targets.ttft_ms)
    precision = args.precision if (args.precision != defaults.DEFAULT_PRECISION or not args.scenario) else base.precision
    prices = tuple(sorted({**dict(base.prices), **dict(args.price)}.items()))
    return PlanRequest(model=model, precision=precision, prompt_tokens=args.prompt_tokens or base.prompt_tokens,
                       output_tokens=args.output_tokens or base.output_tokens, traffic=traffic, targets=targets,
                       kv_precision=args.kv_precision or base.kv_precision, prices=prices)


def gpus(args) -> int:
    from ..catalog.load import load_catalog
    from ..render import tables

    catalog = load_catalog()
    print(tables.gpus_json(catalog) if args.format == "json" else tables.gpus_table(catalog))
    return 0


def models(args) -> int:
    from ..catalog.load import load_catalog
    from ..perf.memory import kv_bytes_per_token
    from ..render import tables

    catalog = load_catalog()
    print(tables.models_json(catalog, kv_bytes_per_token) if args.format == "json" else tables.models_table(catalog, kv_bytes_per_token))
    return 0


# --- decisions -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """A decision made ready to write: its output piece and its audit rows (small to pass between processes)."""

    piece: str
    rows: tuple


def prepare_for_output(decision, fmt: str, colour: bool, width=None) -> Prepared:
    """A decision rendered for the output and encoded for the audit store (run in batch workers)."""
    from ..audit.store import rows_of
    from ..render import term
    from ..render.decisions import decision_piece

    return Prepared(decision_piece(decision, fmt, term.Palette(colour), width), rows_of(decision))


def run(args) -> int:
    """Decide every scenario of the paths; each decision is printed once it is recorded (see
    ``recording``). Exit 0, 1 (some input invalid), 2 (the store or the output failed), or
    128 + n after signal n (SIGINT 130, SIGTERM 143, SIGHUP 129), saying what was recorded."""
    import functools

    from ..decide import batch
    from ..decide.decision import Advisor
    from ..errors import AdvisorError
    from ..render import term
    from ..render.decisions import DecisionStream
    from .recording import BatchOutput, Stopped, message, open_writer, signals_held, stop_on_signals
    from .streams import OutputError

    advisor = Advisor(args.rules)
    paths = list(batch.expand(args.paths))
    progress = term.Progress(sys.stderr, len(paths))
    prepare = functools.partial(prepare_for_output, fmt=args.format, colour=term.colour_enabled(sys.stdout), width=term.width(sys.stdout))
    out = DecisionStream(args.format, sys.stdout)
    failures, files_done, stopped = [], 0, None
    store = open_writer(args)  # before deciding: a store that cannot be written stops the batch before it starts
    try:
        with stop_on_signals() as stop:
            output = BatchOutput(store, advisor.book, out, stop)
            if args.jobs > 1 and len(paths) > 1:
                per_file = batch.run_parallel(args.rules, paths, min(args.jobs, len(paths)), prepare)
            else:  # lazily, so that a signal stops the batch between two scenarios
                per_file = ((r if isinstance(r, batch.Failure) else prepare(r) for r in batch.run_one(advisor, item)) for item in paths)
            try:
                for results in per_file:
                    for result in results:
                        if stop():
                            break
                        if isinstance(result, batch.Failure):
                            failures.append(result)
                            progress.close()
                            for line in result.message.splitlines():  # each problem of a scenario its own line
                                message(f"invalid input: {line}")
                        else:
                            output.add(result)
                        progress.step(files_done, out.count, len(failures))
                    if stop():
                        break
                    files_done += 1
                output.finish()
            except Stopped as exc:
                stopped = exc
            except AdvisorError:  # a worker died: what was decided before it is kept
                try:
                    output.finish()
                except Stopped as exc:
                    message(exc.text)
                raise
            finally:
                per_file.close()
    finally:
        if store is not None:
            store.close()
    progress.close()
    ending, code = None, 1 if failures else 0
    if stopped:
        ending, code = stopped.text, stopped.exit_code
    elif stop():
        ending, code = (f"interrupted ({stop.name}): {out.count:,} decisions printed{' and recorded' if store else ''}; "
                        "the rest of the batch was not decided"), stop.exit_code
    if not output.output_failed:
        try:
            with signals_held():
                out.close(failures + ([batch.Failure("", None, ending.removeprefix("error: "))] if ending else []))
                out.flush()
        except OutputError:
            if ending is None:
                raise
    if failures:
        message(f"{out.count} decided, {len(failures)} invalid")
    if ending:
        message(ending)
    return code


def ask(args) -> int:
    from .ask import ask as ask_session

    return ask_session(args)


def explain(args) -> int:
    from ..decide.decision import Advisor
    from ..decide.explain import explain as explain_decision
    from ..errors import InputError
    from ..render import term
    from ..render.explanation import explanation_text
    from ..render.text import to_json
    from ..scenario import files as scenario_files

    advisor = Advisor(args.rules)
    items = []
    if args.id:
        with open_store(args) as store:
            record = store.get(args.id)
        loaded = scenario_files.from_data(record.input, record.source, record.scenario)
        items.append(explain_decision(record.decision, advisor.book, loaded.scenario, advisor.catalog))
    else:  # decided again here, and not recorded: no decision id is shown as if it were
        source, raw = scenario_files.read_source(args.file)
        for loaded in scenario_files.stream(source, raw):
            if loaded.error:
                raise InputError(loaded.error)
            try:
                decision = advisor.decide(loaded.scenario, source, loaded.raw)
            except InputError as exc:
                raise InputError(loaded.problem(exc)) from None
            items.append(explain_decision(decision.to_json(), advisor.book, loaded.scenario, advisor.catalog))
    recorded = bool(args.id)
    if args.format == "json":
        print(to_json({"explanations": [{**e.to_json(), **({} if recorded else {"decision_id": None}), "recorded": recorded}
                                        for e in items]}))
    else:
        palette = term.Palette(term.colour_enabled(sys.stdout))
        print("\n\n".join(explanation_text(e, palette, recorded=recorded) for e in items))
    return 0


# --- the audit store -----------------------------------------------------------------------------------


def _recorded_store(args):
    """The audit store to read, or None (said on stderr) when nothing was recorded yet."""
    from ..audit.store import default_path
    from .recording import message

    path = Path(args.audit_db) if args.audit_db else default_path()
    store = open_store(args) if path.exists() else None
    if store is None or store.empty:
        message(f"nothing recorded yet in {path}")
    return store


def audit_list(args) -> int:
    from ..audit.store import parse_since
    from ..render import tables
    from .recording import message

    if args.since:
        parse_since(args.since)  # a bad date is an error even where nothing is recorded
    records, more = [], False
    store = _recorded_store(args)
    if store is not None:
        with store:
            listing = store.list(limit=args.limit, rule=args.rule, since=args.since)
        records, more = listing.records, listing.more
    print(tables.audit_list_json(records, more) if args.format == "json" else tables.audit_list_table(records))
    if more:
        message(f"the newest {len(records):,} shown; more are recorded (--limit N shows more, --since DATE fewer)")
    elif not records and store is not None and not store.empty and (args.rule or args.since):
        message("no recorded decision matches" + (f" --rule {args.rule}" if args.rule else "") + (f" --since {args.since}" if args.since else ""))
    return 0


def audit_show(args) -> int:
    from ..audit.view import stored_decision
    from ..render import term
    from ..render.explanation import record_text
    from ..render.text import to_json

    with open_store(args) as store:
        record = store.get(args.id)
    if args.format == "json":
        print(to_json(record.to_json()))
    else:
        print(record_text(record, stored_decision(record.decision), term.Palette(term.colour_enabled(sys.stdout))))
    return 0


def audit_export(args) -> int:
    """Every record as a JSON line, streamed; a malformed record is skipped and named (exit 2)."""
    from .recording import message

    store = _recorded_store(args)
    if store is None:
        return 0
    binary = getattr(sys.stdout, "binary", None)
    write = binary() if binary else (lambda data: sys.stdout.write(data.decode("utf-8")))
    skipped, lines, size = 0, [], 0
    with store:
        for line in store.export_lines():
            if isinstance(line, bytes):
                lines.append(line)
                size += len(line)
                if size >= 1 << 18:  # a few large writes rather than one a record
                    write(b"".join(lines))
                    lines, size = [], 0
            else:
                skipped += 1
                message(f"warning: {line.message}: not exported")
    write(b"".join(lines))
    if skipped:
        message(f"error: {skipped:,} malformed record(s) not exported; every other record was")
        return 2
    return 0


def audit_replay(args) -> int:
    from ..audit.replay import replay
    from ..decide.decision import Advisor
    from ..render import term
    from ..render.explanation import replay_text
    from ..render.text import to_json

    advisor = Advisor(args.rules)
    with open_store(args) as store:
        record = store.get(args.id)
        stored_rules = store.rules_of(record.rules_revision)
    result = replay(advisor, record, stored_rules)
    if args.format == "json":
        print(to_json(result))
    else:
        print(replay_text(result, term.Palette(term.colour_enabled(sys.stdout))))
    return 0


# --- rules -----------------------------------------------------------------------------------------


def rules_check(args) -> int:
    from .. import resources
    from ..catalog.load import load_catalog
    from ..decide import facts
    from ..decide.decision import action_checks
    from ..render.tables import rules_check_text
    from ..rules import analysis, engine, loader

    catalog = load_catalog()
    schema = facts.schema(catalog)
    directory = args.directory or str(resources.policy_dir())
    used = loader.rules_directory(Path(directory))
    if used != Path(directory):
        print(f"note: {directory} holds the catalogs beside the rules: checking its rule files, in {used}", file=sys.stderr)
    book, problems = loader.parse_directory(Path(directory), schema, action_checks=action_checks(catalog))
    report = analysis.analyse(book, schema) if book is not None else None
    problems += report.problems + engine.check(book, schema) if report else []
    for problem in problems:
        print(problem, file=sys.stderr)
    if report:
        print(rules_check_text(book, report))
    errors = [p for p in problems if p.severity == "error"]
    print(f"{directory}: {len(errors)} error(s), {len(problems) - len(errors)} warning(s)", file=sys.stderr)
    return 2 if errors else 0


def rules_test(args) -> int:
    from ..decide.decision import Advisor
    from ..render.tables import rules_test_text
    from ..rules import cases

    from ..rules import engine

    advisor = Advisor(args.directory)
    whole = engine.for_book(advisor.book, advisor.schema)  # cases give the general answer's facts themselves
    results = cases.run_directory(Path(advisor.book.directory), advisor.book, advisor.schema, whole)
    text, failed = rules_test_text(results)
    print(text)
    return 2 if failed else 0


def rules_list(args) -> int:
    from ..decide.decision import Advisor
    from ..render import tables

    book = Advisor(args.rules).book
    print(tables.rules_json(book) if args.format == "json" else tables.rules_table(book))
    return 0


def schema(args) -> int:
    import json

    from ..scenario.files import schema as scenario_schema

    print(json.dumps(scenario_schema(), indent=2))
    return 0
