"""One handler per command: read the arguments, call the library, print what it returns.

Data goes to stdout, messages to stderr. Heavy modules are imported inside the handlers so
that ``advisor --help`` starts fast.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from .. import defaults
from .recording import open_store, recorder


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
    import functools

    from ..decide import batch
    from ..decide.decision import Advisor
    from ..render import term
    from ..render.decisions import DecisionStream

    advisor = Advisor(args.rules)
    paths = list(batch.expand(args.paths))
    progress = term.Progress(sys.stderr, len(paths))
    prepare = functools.partial(prepare_for_output, fmt=args.format, colour=term.colour_enabled(sys.stdout), width=term.width(sys.stdout))
    out = DecisionStream(args.format, sys.stdout)
    failures, files_done = [], 0
    if args.jobs > 1 and len(paths) > 1:
        per_file = batch.run_parallel(args.rules, paths, min(args.jobs, len(paths)), prepare)
    else:
        per_file = (batch.prepare_file(advisor, item, prepare) for item in paths)
    with recorder(args, advisor.book) as record:
        for results in per_file:
            for result in results:
                if isinstance(result, batch.Failure):
                    failures.append(result)
                    progress.close()
                    for line in result.message.splitlines():  # each problem of a scenario its own line
                        print(f"advisor: invalid input: {line}", file=sys.stderr)
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
    """The audit store to list from, or None (said on stderr) when nothing was recorded yet."""
    from ..audit.store import default_path

    path = Path(args.audit_db) if args.audit_db else default_path()
    if path.exists():
        return open_store(args)
    print(f"advisor: nothing recorded yet in {path}", file=sys.stderr)
    return None


def audit_list(args) -> int:
    from ..render import tables

    records = []
    store = _recorded_store(args)
    if store is not None:
        with store:
            records = store.list(limit=args.limit, rule=args.rule, since=args.since)
    print(tables.audit_list_json(records) if args.format == "json" else tables.audit_list_table(records))
    return 0


def audit_show(args) -> int:
    from ..decide.decision import Decision
    from ..render import term
    from ..render.explanation import record_text
    from ..render.text import to_json

    with open_store(args) as store:
        record = store.get(args.id)
    if args.format == "json":
        print(to_json(record.to_json()))
    else:
        print(record_text(record, Decision.from_json(record.decision), term.Palette(term.colour_enabled(sys.stdout))))
    return 0


def audit_export(args) -> int:
    import json

    from ..render.text import JSON_VERSION

    store = _recorded_store(args)
    if store is None:
        return 0
    with store:
        for record in store.iter_all():
            sys.stdout.write(json.dumps({"version": JSON_VERSION, **record.to_json()}, ensure_ascii=False) + "\n")
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
