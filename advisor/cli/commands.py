"""One handler per command: read the arguments, call the library, print what it returns.

Data goes to stdout, messages to stderr. Heavy modules are imported inside the handlers so
that ``advisor --help`` starts fast.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from .. import defaults
from ..errors import UsageError
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
    from ..render import tables, term
    from ..render.text import bars, money

    catalog = load_catalog()
    workload = _workload(args, catalog)
    rows = compare_gpus(catalog, workload, gpus=args.gpus, prices=dict(args.price), baseline=args.baseline)
    _draw(args.chart, "cost", lambda kind: _compare_chart(kind, rows, workload, args))
    if args.format == "json":
        described = {
            "model": workload.model.id, "precision": workload.precision, "batch": workload.batch,
            "prompt_tokens": workload.prompt_tokens, "output_tokens": workload.output_tokens,
            "utilization": workload.utilization, "max_ms_per_token": workload.max_ms_per_token,
        }
        print(tables.compare_json(rows, described, args.baseline))
    else:
        survey = catalog.survey_priced(dict(args.price))
        print(tables.compare_table(rows, _workload_line(workload, args.batch is not None), args.baseline, survey))
        items = [(r.gpu, r.estimate.cost_per_million_tokens, r.chosen, money(r.estimate.cost_per_million_tokens))
                 for r in rows if r.eligible]
        print("\n" + bars("cost per million tokens (* the cheapest)", items, term.width(sys.stdout), _unicode_out()))
    return 0


def _unicode_out() -> bool:
    """Block characters draw the text bars where the output can encode them."""
    return "utf" in (getattr(sys.stdout, "encoding", "") or "").lower()


def _draw(requests: list, default: str, data_of) -> None:
    """Write each chart asked for with ``--chart [KIND=]PATH`` (``default`` without a kind); ``data_of(kind)``
    gives its data. Everything is checked before anything is drawn."""
    if not requests:
        return
    from ..render import charts
    from .recording import message

    for kind, path in requests:
        charts.format_of(path)
    charts.require()
    for kind, path in requests:
        data = data_of(kind or default)
        if data is None:
            raise UsageError(f"no {kind or default} chart for {path}: no GPU has a plan to draw")
        charts.draw(data, path, _catalog_gpus())
        message(f"{kind or default} chart written to {path}")


def _catalog_gpus() -> tuple:
    from ..catalog.load import load_catalog

    return tuple(load_catalog().gpus)


def _compare_chart(kind: str, rows, workload, args):
    from ..decide import curves

    eligible = [r for r in rows if r.eligible]
    if not eligible:
        return None
    subtitle = _workload_line(workload, args.batch is not None)
    title = workload.model.name
    if kind == "plans":
        bars_ = [curves.Bar(r.gpu, r.estimate.monthly_cost_usd, r.chosen, f"{r.estimate.gpus} GPUs") for r in eligible]
        return curves.PlanBars(f"{title}: monthly cost of each GPU's deployment", subtitle, tuple(bars_))
    points = [curves.OperatingPoint(r.gpu, workload.utilization, r.estimate.cost_per_million_tokens) for r in eligible]
    chosen = next(r.gpu for r in eligible if r.chosen)
    return curves.cost_curves(points, chosen, f"{title}: cost per million tokens against utilization", subtitle)


def plan(args) -> int:
    from ..catalog.load import load_catalog
    from ..plan.planner import Planner
    from ..render import plans as render_plans
    from ..render import term
    from ..render.text import bars, money

    catalog = load_catalog()
    request = _plan_request(args, catalog)
    for gpu_id, _ in request.prices:
        catalog.gpu(gpu_id)
    plans = Planner(catalog).plan_all(request)
    _draw(args.chart, "plans", lambda kind: _plan_chart(kind, plans, request, catalog))
    if args.format == "json":
        print(render_plans.plans_json(plans, request))
        return 0
    print(render_plans.plans_table(plans, request, args.all, catalog.survey_priced(dict(request.prices))))
    ranked = sorted((g for g in plans.values() if g.plan), key=lambda g: g.plan.monthly_cost_usd)
    items = [(g.gpu, g.plan.monthly_cost_usd, i == 0, money(g.plan.monthly_cost_usd, 0)) for i, g in enumerate(ranked)]
    if items:
        print("\n" + bars("monthly cost of each GPU's plan (* the cheapest)", items, term.width(sys.stdout), _unicode_out()))
    return 0


def _plan_chart(kind: str, plans: dict, request, catalog):
    from ..decide import curves
    from ..decide.figures import plan_record

    records = {gpu: plan_record(g) for gpu, g in plans.items()}
    cheapest = min((g for g in plans.values() if g.plan), key=lambda g: g.plan.monthly_cost_usd, default=None)
    if cheapest is None:
        return None
    charts = curves.decision_charts(request.model.name, records, {cheapest.gpu}, request, catalog)
    return {"plans": charts.plans, "cost": charts.cost, "latency": charts.latency}[kind]


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
    batch.settle_heap()
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
                per_file = batch.run_parallel(args.rules, paths, min(args.jobs, len(paths)), prepare, advisor)
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


@dataclass(frozen=True)
class PreparedPoint:
    """A point decided and made ready to write: its line, its audit rows, and its summary."""

    piece: str
    rows: tuple
    point: object  # decide.sweep.Point


def prepare_point(index: int, decision, lines, record: bool) -> PreparedPoint:
    """A point's line and audit rows, made where it was decided (a worker of a parallel sweep).
    Unrecorded, ``rows`` holds only what a message about it names (id, scenario, source)."""
    from ..audit.store import rows_of
    from ..decide.sweep import point_of

    point = point_of(decision, index, recorded=record)
    rows = rows_of(decision) if record else (decision.decision_id, None, None, decision.scenario, decision.source)
    return PreparedPoint(lines.point(point, lines.grid.values_at(index)), rows, point)


MAX_INVALID_SHOWN = 10  # invalid points named one by one on stderr; the rest are counted


def sweep(args) -> int:
    """Decide every point of the grid (printed as it is decided, recorded first with --audit),
    then say where the verdict changes; exit 0, 1 (some points invalid), 2, or 128 + n after signal n."""
    import functools

    from ..decide import batch
    from ..decide import sweep as sweeps
    from ..decide.axes import parse_axis
    from ..decide.decision import Advisor
    from ..render import term
    from ..render.sweeps import summary_json, summary_text
    from .recording import BatchOutput, Stopped, message, open_writer, signals_held, stop_on_signals

    advisor = Advisor(args.rules)
    batch.settle_heap()
    spec = sweeps.read(args.scenario, [parse_axis(text) for text in args.vary], advisor.catalog)
    chart = _sweep_chart(args, spec, advisor)  # a chart that cannot be drawn stops the sweep before it starts
    lines = _sweep_lines(spec, args.format, advisor)
    prepare = functools.partial(prepare_point, lines=lines, record=args.audit)
    finder = sweeps.BoundaryFinder(spec.grid, spec.own_coordinates())
    invalid = _InvalidPoints(spec.grid)
    progress = term.Progress(sys.stderr, spec.grid.size, unit="points")
    store = open_writer(args) if args.audit else None
    decided, carry, stopped = 0, "", None
    try:
        with stop_on_signals() as stop:
            output = BatchOutput(store, advisor.book, sys.stdout, stop)
            with signals_held():
                sys.stdout.write(lines.head())
            chunks = sweeps.run(spec, advisor, args.rules, args.jobs, prepare)
            try:
                for chunk in chunks:
                    for result in chunk:
                        if stop():
                            break
                        if isinstance(result, sweeps.Invalid):
                            progress.close()
                            invalid.add(result)
                            carry += lines.invalid(result.index, spec.grid.values_at(result.index), result.failure.message)
                            finder.add(result.index, None)
                            chart.add(result.index, None)
                        else:
                            decided += 1
                            for b in finder.add(result.point.index, result.point):
                                carry += lines.boundary(b, spec.grid.values_at(b.before.index), spec.grid.values_at(b.after.index))
                            chart.add(result.point.index, result.point)
                            output.add(PreparedPoint(carry + result.piece, result.rows, None))
                            carry = ""
                        progress.step(decided + invalid.count, decided, invalid.count)
                    if stop():
                        break
                output.finish()
            except Stopped as exc:
                stopped = exc
            finally:
                chunks.close()
    finally:
        if store is not None:
            store.close()
    progress.close()
    code = 1 if invalid.count else 0
    ending = None
    if stopped:
        ending, code = stopped.text, stopped.exit_code
    elif stop():
        ending, code = (f"interrupted ({stop.name}): {decided:,} of {spec.grid.size:,} points decided and printed"
                        f"{' and recorded' if store else ''}; the rest of the sweep was not decided"), stop.exit_code
    explained = [] if ending or output.output_failed else sweeps.explain_groups(advisor, spec, finder.groups.values())
    if not output.output_failed:
        with signals_held():
            if args.format == "jsonl":
                sys.stdout.write(carry + summary_json(spec, explained, len(finder.groups), decided, invalid.count, ending))
            elif args.format == "table" and not ending:
                sys.stdout.write("\n" + summary_text(spec, explained, len(finder.groups)) + "\n")
            sys.stdout.flush()
        if args.format == "csv" and not ending:
            for line in summary_text(spec, explained, len(finder.groups)).splitlines():
                message(line)
    invalid.report(spec)
    if ending:
        message(ending)
    elif args.chart:
        chart.draw(args.chart, explained)
        message(f"chart written to {args.chart}")
    return code


class _NoChart:
    def add(self, index: int, point) -> None:
        pass


class _SweepChart:
    """A sweep's chart, filled as its points arrive: the decision map of two axes, or each GPU's
    cost along one axis (with where the verdict changes)."""

    MOST_POINTS = 1_000_000  # a chart of more would be a wall of ink, and its data memory

    def __init__(self, spec, advisor):
        from ..decide import curves
        from ..decide.workload import plan_request
        from ..scenario.files import from_data

        axes = spec.grid.axes
        if len(axes) > 2:
            raise UsageError(f"--chart draws a sweep of one or two axes; this one has {len(axes)}",
                             "sweep two axes for a decision map, or draw without --chart")
        if spec.grid.size > self.MOST_POINTS:
            raise UsageError(f"--chart draws at most {self.MOST_POINTS:,} points; this sweep has {spec.grid.size:,}", "use larger steps")
        self.spec, self.gpus = spec, tuple(advisor.catalog.gpus)
        scenario = from_data(spec.base, spec.source, spec.name).scenario
        self.subtitle = curves.workload_text(plan_request(scenario, advisor.catalog))
        self.builder = (curves.MapBuilder(len(axes[0].values), len(axes[1].values)) if len(axes) == 2
                        else curves.LineBuilder(len(axes[0].values)))

    def add(self, index: int, point) -> None:
        from ..decide.curves import MapBuilder

        if isinstance(self.builder, MapBuilder):
            self.builder.add(index, point.key if point else None, point.text if point else "")
        else:
            self.builder.add(index, point.gpu.split("+")[0] if point else None, point.key if point else None, point.costs if point else ())

    def draw(self, path: str, explained: list) -> None:
        from ..decide import sweep as sweeps
        from ..decide.curves import MapBuilder
        from ..render import charts

        axes = [sweeps.axis_view(a) for a in self.spec.grid.axes]
        if isinstance(self.builder, MapBuilder):
            data = self.builder.build(f"{self.spec.name}: the verdict over {axes[0].name} and {axes[1].name}", self.subtitle,
                                      *axes, self.spec.own)
        else:
            located = {e.group.first.after.index: (e.located.low + e.located.high) / 2 for e in explained
                       if e.located and e.group.kind == sweeps.VERDICT_CHANGE}
            data = self.builder.build(f"{self.spec.name}: each GPU's cost as {axes[0].name} varies", self.subtitle, axes[0],
                                      self.spec.own[0] if self.spec.own else None, located)
        charts.draw(data, path, self.gpus)


def _sweep_chart(args, spec, advisor):
    if not args.chart:
        return _NoChart()
    from ..render import charts

    charts.format_of(args.chart)
    charts.require()
    return _SweepChart(spec, advisor)


def _sweep_lines(spec, fmt: str, advisor):
    """How the points are written: the table's verdict and GPU columns as wide as any id the rules and catalog give."""
    from ..render import term
    from ..render.sweeps import SweepLines

    from ..decide.decision import VERDICT

    ruled = [r for r in advisor.book.rules if r.then.outcome]
    outcomes = [r.then.outcome for r in ruled if r.ruleset == VERDICT] or [r.then.outcome for r in ruled]
    verdict_width = max((len(o["id"]) for o in outcomes if "{" not in o["id"]), default=12)
    gpu_width = max([len(g) for g in advisor.catalog.gpus] + [len(o["gpu"]) for o in outcomes if "{" not in o["gpu"]])
    return SweepLines(spec, fmt, tuple(advisor.catalog.gpus), verdict_width, gpu_width, term.width(sys.stdout) if fmt == "table" else None)


class _InvalidPoints:
    """Invalid points: the first few named on stderr as they come, then counted by axis value, so
    that a value no point can take (utilization=1.5) is said once with how many points it cost."""

    def __init__(self, grid):
        from collections import Counter

        self.grid, self.count = grid, 0
        self.by_value: Counter = Counter()
        self.first: dict = {}

    def add(self, invalid) -> None:
        from .recording import message

        self.count += 1
        for axis, position in enumerate(self.grid.coordinates(invalid.index)):
            self.by_value[(axis, position)] += 1
            self.first.setdefault((axis, position), invalid.failure.message.splitlines()[0])
        if self.count <= MAX_INVALID_SHOWN:
            for line in invalid.failure.message.splitlines():
                message(f"invalid input: {line}")

    def report(self, spec) -> None:
        from .recording import message

        if not self.count:
            return
        for (axis, position), failed in sorted(self.by_value.items()):
            values = spec.grid.axes[axis]
            if len(spec.grid.axes) > 1 and failed == spec.grid.size // len(values.values):
                message(f"every point with {values.label(values.values[position])} is invalid ({failed:,} points): "
                        f"{self.first[(axis, position)]}")
        shown = min(self.count, MAX_INVALID_SHOWN)
        message(f"{spec.grid.size - self.count:,} of {spec.grid.size:,} points decided, {self.count:,} invalid"
                + (f" ({shown} named above; --format jsonl lists every one)" if self.count > shown else ""))


def chart(args) -> int:
    """One chart of a scenario's decision (decided again here, not recorded), or its decision map."""
    from ..decide import curves
    from ..decide import sweep as sweeps
    from ..decide.axes import parse_axis
    from ..decide.decision import Advisor
    from ..render import charts
    from ..scenario.files import first_scenario
    from .recording import message

    charts.format_of(args.output)
    charts.require()
    advisor = Advisor(args.rules)
    loaded = first_scenario(args.scenario, advisor.catalog)
    if args.kind == "map":
        data = sweeps.map_for(advisor, loaded, [parse_axis(text) for text in args.vary])
    elif args.vary:
        raise UsageError("--vary draws a decision map: advisor chart map SCENARIO --vary X=... --vary Y=...")
    else:
        data = getattr(curves.for_scenario(advisor, loaded)[1], args.kind)
        if data is None:
            raise UsageError(f"no {args.kind} chart: no GPU has a plan for {loaded.name}", "`advisor run` says why")
    charts.draw(data, args.output, tuple(advisor.catalog.gpus), args.size)
    message(f"{args.kind} chart written to {args.output}")
    return 0


def report(args) -> int:
    """The decision report of a scenario: decided as `advisor run` decides it, recorded (unless
    --no-audit), its charts drawn, written as one HTML page or as Markdown with its charts beside it."""
    from datetime import datetime, timezone

    from ..audit.store import default_path, rows_of
    from ..decide import curves
    from ..decide import sweep as sweeps
    from ..decide.decision import Advisor
    from ..render import report as reports
    from ..scenario.files import first_scenario
    from .recording import message, recorder

    fmt = args.format or ("markdown" if args.output and args.output.lower().endswith(".md") else "html")
    if not args.no_charts:
        from ..render import charts

        charts.require()
    advisor = Advisor(args.rules)
    loaded = first_scenario(args.scenario, advisor.catalog)
    with recorder(args, advisor.book) as record:
        decision, made = curves.for_scenario(advisor, loaded)
        record(rows_of(decision))
    drawn = [] if args.no_charts else _report_charts(advisor, loaded, made, sweeps.map_for)
    recorded_in = None if args.no_audit else str(Path(args.audit_db) if args.audit_db else default_path())
    content = reports.Report(decision, loaded.scenario, advisor.catalog, datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                             recorded_in, drawn, args.scenario)
    if fmt == "html":
        text = reports.to_html(content)
    else:
        text = reports.to_markdown(content, _charts_beside(args.output, drawn) if args.output else {})
    if args.output:
        _write_text(args.output, text)
        message(f"report of {loaded.name} written to {args.output} (decision {decision.decision_id[:8]}"
                f"{', recorded' if recorded_in else ', not recorded'})")
    else:
        sys.stdout.write(text)
    return 0


def _report_charts(advisor, loaded, made, map_for) -> list:
    """The report's charts as SVG: the plans, cost against utilization, latency, and the decision map around the scenario."""
    from ..render import charts
    from ..render.report import CAPTIONS, Chart

    gpus = tuple(advisor.catalog.gpus)
    data = {"plans": made.plans, "cost": made.cost, "latency": made.latency, "map": map_for(advisor, loaded)}
    return [Chart(name, *CAPTIONS[name], charts.render(value, "svg", gpus).decode("utf-8")) for name, value in data.items()
            if value is not None]


def _charts_beside(output: str, drawn: list) -> dict:
    """The charts of a Markdown report written as SVG files beside it: chart name -> file name."""
    stem = Path(output).stem
    names = {}
    for chart in drawn:
        name = f"{stem}-{chart.name}.svg"
        _write_text(str(Path(output).with_name(name)), chart.svg)
        names[chart.name] = name
    return names


def _write_text(path: str, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path} ({exc.strerror})", "choose a path in a directory you can write") from None


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
