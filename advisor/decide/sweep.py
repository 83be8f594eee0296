"""Sweeps: one scenario decided over a grid of values of its fields, to see where the verdict changes.

A point is the scenario's data as read, with each axis's value put in its field: validated by
``files.from_data`` and decided by ``Advisor.decide``, exactly the path a scenario of a file takes
in ``advisor run`` (so a point written out as a file decides the same). The grid is walked in
index order, the first axis slowest; a point is made from its index, so nothing grows with the
grid: results stream out, and finding where the verdict changes keeps only the slice of the grid
a point's neighbours lie in. Where it changes, the two decisions on either side are compared: the
rule conditions that hold on one side only, with their figures, say why.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional, Union

from ..errors import UsageError, clip
from ..rules.evaluator import first_failure
from ..rules.language import DERIVED, Compare, condition_text
from ..scenario import files
from ..scenario.spec import NAME_MAX_CHARS, Scenario
from .axes import VARY_HINT, Axis, parse_axis
from .batch import Failure, decide_loaded, in_workers, settle_heap, worker_advisor
from . import curves
from .curves import PairFigures, pair_figures
from .decision import GENERAL_ANSWER, VERDICT, Advisor, Decision

MAX_POINTS = 10_000_000  # a grid beyond this is a typo in a step, not a question
CHUNK_POINTS = 500  # points a worker decides at a time


# --- the grid and its points ---------------------------------------------------------------------


@dataclass(frozen=True)
class Grid:
    """Every combination of the axes' values; point ``index`` in the order of nested loops, the first axis outermost."""

    axes: tuple

    def __post_init__(self):
        if not self.axes:
            raise UsageError("a sweep needs at least one --vary AXIS=VALUES", VARY_HINT)
        names = [a.path for a in self.axes]
        for i, path in enumerate(names):
            if path in names[:i]:
                raise UsageError(f"--vary {clip(self.axes[i].name)}: this field is varied twice", "give each field one --vary")
        if self.size > MAX_POINTS:
            raise UsageError(f"the grid has {self.size:,} points, more than {MAX_POINTS:,}", "use fewer values or larger steps")

    @property
    def size(self) -> int:
        return math.prod(len(a.values) for a in self.axes)

    @property
    def strides(self) -> tuple:
        """How far apart in index two points are that differ by one step on each axis."""
        out, step = [], 1
        for axis in reversed(self.axes):
            out.append(step)
            step *= len(axis.values)
        return tuple(reversed(out))

    def coordinates(self, index: int) -> tuple:
        """The position of point ``index`` on each axis."""
        return tuple((index // stride) % len(axis.values) for axis, stride in zip(self.axes, self.strides))

    def values_at(self, index: int) -> tuple:
        return tuple(axis.values[i] for axis, i in zip(self.axes, self.coordinates(index)))



@dataclass(frozen=True)
class Sweep:
    """A scenario's data as read from its file, and the grid to decide it over."""

    base: dict
    source: str
    name: str
    grid: Grid
    own: tuple = ()  # the scenario's own value of each axis's field (None when it has none)

    def own_coordinates(self) -> tuple:
        """The grid point nearest the scenario itself, on each axis (the first value where it has none)."""
        out = []
        for axis, own in zip(self.grid.axes, self.own or (None,) * len(self.grid.axes)):
            if axis.numeric and isinstance(own, (int, float)) and not isinstance(own, bool):
                out.append(min(range(len(axis.values)), key=lambda i: abs(axis.values[i] - own)))
            else:
                out.append(axis.values.index(own) if own in axis.values else 0)
        return tuple(out)

    def point_name(self, index: int) -> str:
        return self.name_for(self.grid.values_at(index))

    def name_for(self, values: tuple) -> str:
        label = " [" + " ".join(axis.label(value) for axis, value in zip(self.grid.axes, values)) + "]"
        return clip(self.name, max(1, NAME_MAX_CHARS - len(label))) + label if len(label) < NAME_MAX_CHARS else label[-NAME_MAX_CHARS:]

    def point_data(self, index: int) -> dict:
        return self.data_for(self.grid.values_at(index))

    def data_for(self, values: tuple) -> dict:
        """The scenario's data with ``values`` in the axes' fields (the base's dicts copied on the way)."""
        data = dict(self.base)
        data["name"] = self.name_for(values)
        for axis, value in zip(self.grid.axes, values):
            node = data
            for key in axis.path[:-1]:
                node[key] = node = dict(node.get(key) or {})
            node[axis.path[-1]] = axis.data_value(value)
        return data

    def decide(self, advisor: Advisor, index: int) -> Union[Decision, Failure]:
        """Point ``index`` decided as `advisor run` decides a scenario of a file."""
        return self.decide_values(advisor, self.grid.values_at(index))

    def decide_values(self, advisor: Advisor, values: tuple) -> Union[Decision, Failure]:
        """The scenario with ``values`` on the axes (a point of the grid or between two)."""
        return decide_loaded(advisor, files.from_data(self.data_for(values), self.source, self.name_for(values)))


def read(path: str, axes: list[Axis], catalog) -> Sweep:
    """The first scenario of a file (checked as `advisor run` checks it), to sweep over ``axes``."""
    return of(files.first_scenario(path, catalog), axes, catalog)


def of(loaded: files.Loaded, axes: list[Axis], catalog) -> Sweep:
    """A scenario as read, to sweep over ``axes``."""
    grid = Grid(tuple(axes))
    return Sweep(loaded.raw, loaded.source, loaded.scenario.name or loaded.name, grid,
                 tuple(own_value(loaded.scenario, axis, catalog) for axis in grid.axes))


def own_value(scenario: Scenario, axis: Axis, catalog):
    """The value a scenario has in an axis's field: given, its default, or for a price the catalog's."""
    section, key = axis.path
    if section in ("prices", "spot_prices"):
        given = getattr(scenario, section).get(key)
        gpu = catalog.gpus.get(key)
        listed = gpu and (gpu.price if section == "prices" else gpu.spot_price)
        return given if given is not None else (listed.usd_per_hour if listed else None)
    model = getattr(scenario, section)
    name = next((n for n, info in type(model).model_fields.items() if (info.alias or n) == key), key)
    value = getattr(model, name, None)
    return tuple(value) if isinstance(value, list) else value


# --- what a point keeps: enough for the output, the boundaries and the charts ----------------------


@dataclass(frozen=True)
class Point:
    """A decided point, in brief: its verdict, what every GPU's plan costs, and the seed pair's figures."""

    index: int
    verdict: str  # the verdict's outcome id
    gpu: str  # the GPU(s) it deploys
    text: str
    rule: str
    holds: bool  # the general answer holds
    overturned_by: Optional[str]
    costs: tuple  # ((gpu, USD a month, USD per million tokens), ...) of every GPU with a plan, catalog order
    pair: Optional[PairFigures]
    decision_id: Optional[str]  # only of a recorded decision: an id nothing holds would be a false lead

    @property
    def key(self) -> tuple:
        return self.verdict, self.gpu

    @property
    def monthly_cost_usd(self) -> Optional[float]:
        """The plan of the (first) GPU the verdict deploys, as `advisor run`'s CSV gives it."""
        first = self.gpu.split("+")[0]
        return next((c[1] for c in self.costs if c[0] == first), None)

    @property
    def usd_per_million_tokens(self) -> Optional[float]:
        first = self.gpu.split("+")[0]
        return next((c[2] for c in self.costs if c[0] == first), None)


def point_of(decision: Decision, index: int, recorded: bool = False) -> Point:
    v = decision.verdict
    costs = tuple((gpu, p["monthly_cost_usd"], p["usd_per_million_tokens"]) for gpu, p in decision.plans.items() if p.get("feasible"))
    return Point(index, v.id if v else "", v.gpu if v else "", v.text if v else "", v.rule if v else "", bool(v and v.holds),
                 v.overturned_by if v else None, costs, pair_figures(decision.plans),
                 decision.decision_id if recorded else None)


# --- deciding: in this process, or in workers ---------------------------------------------------------

Prepare = Callable[[int, Decision], object]  # a decided point made ready to write (small, picklable)


@dataclass(frozen=True)
class Invalid:
    """A point that failed validation or could not be decided."""

    index: int
    failure: Failure


def decide_range(advisor: Advisor, sweep: Sweep, start: int, stop: int, prepare: Prepare) -> Iterator:
    """Points ``start`` to ``stop`` decided one at a time: ``prepare(index, decision)`` or ``Invalid``."""
    for index in range(start, stop):
        result = sweep.decide(advisor, index)
        yield Invalid(index, result) if isinstance(result, Failure) else prepare(index, result)


_WORKER: Optional[tuple] = None  # (advisor, sweep, prepare)


def _start_worker(rules_dir, sweep: Sweep, prepare: Prepare) -> None:
    global _WORKER
    _WORKER = (worker_advisor(rules_dir), sweep, prepare)
    settle_heap()


def _decide_chunk(bounds: tuple) -> list:
    advisor, sweep, prepare = _WORKER
    return list(decide_range(advisor, sweep, *bounds, prepare))


def run(sweep: Sweep, advisor: Advisor, rules_dir, jobs: int, prepare: Prepare) -> Iterator[list]:
    """Every point, in index order, in chunks: decided here (lazily, so that a caller may stop
    between two points) or by ``jobs`` worker processes, each with its own engine and planner
    cache. ``prepare`` must be a module-level function (or a partial of one) to reach the workers."""
    size = sweep.grid.size
    chunks = [(start, min(start + CHUNK_POINTS, size)) for start in range(0, size, CHUNK_POINTS)]
    if jobs <= 1 or len(chunks) == 1:
        return (decide_range(advisor, sweep, start, stop, prepare) for start, stop in chunks)
    return in_workers(_decide_chunk, chunks, jobs, _start_worker, (rules_dir, sweep, prepare), advisor)


# --- where the verdict changes -------------------------------------------------------------------

VERDICT_CHANGE, PAIR_CHANGE = "verdict", "cheaper of the pair"


@dataclass(frozen=True)
class Boundary:
    """Two neighbouring points (one step apart on ``axis``) whose verdict, or whose cheaper GPU of
    the seed's pair, differ."""

    kind: str  # VERDICT_CHANGE | PAIR_CHANGE
    axis: int
    before: Point
    after: Point

    def keys(self) -> tuple:
        return (self.before.key, self.after.key) if self.kind == VERDICT_CHANGE else (self.before.pair.cheaper, self.after.pair.cheaper)


@dataclass
class BoundaryGroup:
    """Every boundary on one axis between the same two answers: where the change lies, how often."""

    kind: str
    axis: int
    before: tuple  # the answer on the lower side (verdict id and GPU, or the cheaper GPU)
    after: tuple
    first: Boundary  # the one nearest the scenario's own point: the one explained
    count: int = 0
    positions: set = field(default_factory=set)  # (index on the axis before the change)


class BoundaryFinder:
    """Boundaries found as points arrive in index order, keeping only the last ``strides[0]``
    points (a point's neighbour on the first axis is that far back), grouped by axis and answers."""

    def __init__(self, grid: Grid, own: tuple = ()):
        self.grid = grid
        self.own = own or (0,) * len(grid.axes)
        self.window: dict[int, Optional[Point]] = {}
        self.order: deque = deque()
        self.keep = grid.strides[0]
        self.groups: dict[tuple, BoundaryGroup] = {}

    def add(self, index: int, point: Optional[Point]) -> list[Boundary]:
        """A point decided (None: invalid) at ``index``, the indexes in order; the boundaries it closes."""
        coordinates = self.grid.coordinates(index)
        found = []
        if point is not None:
            for axis, stride in enumerate(self.grid.strides):
                neighbour = self.window.get(index - stride) if coordinates[axis] else None
                if neighbour is None:
                    continue
                if neighbour.key != point.key:
                    found.append(Boundary(VERDICT_CHANGE, axis, neighbour, point))
                if neighbour.pair and point.pair and neighbour.pair.cheaper != point.pair.cheaper:
                    found.append(Boundary(PAIR_CHANGE, axis, neighbour, point))
        for boundary in found:
            self._group(boundary, coordinates[boundary.axis] - 1)
        self.window[index] = point
        self.order.append(index)
        if len(self.order) > self.keep:
            del self.window[self.order.popleft()]
        return found

    def _group(self, boundary: Boundary, position: int) -> None:
        before, after = boundary.keys()
        key = (boundary.kind, boundary.axis, before, after)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = BoundaryGroup(boundary.kind, boundary.axis, before, after, boundary)
        elif self._distance(boundary) < self._distance(group.first):
            group.first = boundary
        group.count += 1
        group.positions.add(position)

    def _distance(self, boundary: Boundary) -> int:
        """Steps from the scenario's own point to the boundary, along the other axes."""
        where = self.grid.coordinates(boundary.before.index)
        return sum(abs(w - o) for axis, (w, o) in enumerate(zip(where, self.own)) if axis != boundary.axis)


@dataclass(frozen=True)
class Cause:
    """A rule condition that holds on one side of a boundary and not on the other, with its fact's value on each side."""

    rule: str
    condition: str
    fact: str
    before: object
    after: object


def causes(advisor: Advisor, before: Decision, after: Decision) -> list[Cause]:
    """Why the verdict differs: the rules of the general answer, of the checks that can overturn
    it and of the verdict that fired on one side only, each with the condition that fails on the
    other side. Conditions on derived flags are left out (the rules asserting them are listed),
    and so are those on the general answer's figures when the general answer itself changed."""
    book = advisor.book
    fired = [{f.rule for f in d.fired_rules} for d in (before, after)]
    facts = [{**(d.facts or {}), **{DERIVED + name: True for f in d.fired_rules for name in f.asserted}} for d in (before, after)]
    general_changed = _general(before) != _general(after)
    out = []
    for rule in book.rules:
        if (rule.id in fired[0]) == (rule.id in fired[1]):
            continue
        if rule.ruleset not in (GENERAL_ANSWER, VERDICT) and not rule.then.asserts:
            continue
        failed = first_failure(rule.when, facts[0 if rule.id in fired[1] else 1])
        if not isinstance(failed, Compare) or failed.fact.startswith(DERIVED) or (general_changed and failed.fact.startswith("general.")):
            continue
        out.append(Cause(rule.id, condition_text(failed), failed.fact, facts[0].get(failed.fact), facts[1].get(failed.fact)))
    return out


def _general(decision: Decision) -> tuple:
    g = decision.general_answer
    return (g.id, g.gpu) if g else ()


def answer_of(kind: str, point: Point):
    """What a boundary of ``kind`` separates: the verdict (id and GPU), or the cheaper GPU of the pair."""
    return point.key if kind == VERDICT_CHANGE else (point.pair.cheaper if point.pair else None)


@dataclass(frozen=True)
class Located:
    """Where between two points of a number axis the answer changes, found by deciding points between them."""

    low: float  # the last value known to give the answer before
    high: float  # the first value known to give the answer after
    decided: int  # points decided to find it


def locate(advisor: Advisor, sweep: Sweep, boundary: Boundary, steps: int = 12) -> Optional[Located]:
    """Bisect between the two points of a boundary on a number axis, each point decided as the
    sweep's are; None on a text axis, or when a point between them is invalid or has a third answer."""
    axis = sweep.grid.axes[boundary.axis]
    if not axis.numeric:
        return None
    values = list(sweep.grid.values_at(boundary.before.index))
    low, high = values[boundary.axis], sweep.grid.values_at(boundary.after.index)[boundary.axis]
    want_low, want_high = answer_of(boundary.kind, boundary.before), answer_of(boundary.kind, boundary.after)
    decided = 0
    for _ in range(steps):
        middle = (low + high) / 2
        if axis.kind.integer:
            middle = math.floor(middle)
            if middle <= low:
                break
        values[boundary.axis] = middle
        result = sweep.decide_values(advisor, tuple(values))
        decided += 1
        if isinstance(result, Failure):
            return None
        answer = answer_of(boundary.kind, point_of(result, -1))
        if answer == want_low:
            low = middle
        elif answer == want_high:
            high = middle
        else:
            return None
    return Located(low, high, decided)


@dataclass(frozen=True)
class Explained:
    """A group of boundaries with its representative located and its causes."""

    group: BoundaryGroup
    located: Optional[Located]
    causes: tuple
    rows: int  # lines of the grid along the group's axis (the points of the other axes)


MAX_EXPLAINED = 20  # groups whose boundary is located and explained; the rest are counted


def explain_groups(advisor: Advisor, sweep: Sweep, groups) -> list[Explained]:
    """The groups, verdict changes first, each with its representative located (number axes) and,
    for verdict changes, the rule conditions that differ on its two sides."""
    ordered = sorted(groups, key=lambda g: (g.kind != VERDICT_CHANGE, g.axis, -g.count))
    out = []
    for group in ordered[:MAX_EXPLAINED]:
        b = group.first
        found = ()
        if group.kind == VERDICT_CHANGE:
            before, after = sweep.decide(advisor, b.before.index), sweep.decide(advisor, b.after.index)
            if isinstance(before, Decision) and isinstance(after, Decision):
                found = tuple(causes(advisor, before, after))
        out.append(Explained(group, locate(advisor, sweep, b), found, sweep.grid.size // len(sweep.grid.axes[group.axis].values)))
    return out


# --- the decision map ------------------------------------------------------------------------------

MAP_VALUES = 15  # on each default axis


def default_map_axes(scenario: Scenario, catalog) -> list[Axis]:
    """The decision map's axes when none are given, each around the scenario's own value: the
    A100 fleet's utilization (with a fleet; else the A100 price) against the H100 price."""
    from ..defaults import A100, H100

    def around(gpu: str) -> Axis:
        price = scenario.prices.get(gpu) or catalog.gpu(gpu).price.usd_per_hour
        return parse_axis(f"price.{gpu}={price * 0.5:.2f}..{price * 1.5:.2f}:{MAP_VALUES}")

    first = parse_axis(f"utilization=0.3..1:{MAP_VALUES}") if scenario.context.have_a100_fleet else around(A100)
    return [first, around(H100)]


def axis_view(axis: Axis) -> curves.AxisView:
    return curves.AxisView(axis.name, axis.kind.unit.name if axis.kind.unit else None, axis.values,
                           tuple(axis.text(v) for v in axis.values), axis.numeric)


def decision_map(advisor: Advisor, sweep: Sweep, title: str, subtitle: str = "") -> curves.DecisionMap:
    """Every point of a two-axis sweep decided here, as a map of verdicts with the scenario's own point."""
    x, y = sweep.grid.axes
    builder = curves.MapBuilder(len(x.values), len(y.values))
    for index in range(sweep.grid.size):
        result = sweep.decide(advisor, index)
        if isinstance(result, Decision) and result.verdict:
            builder.add(index, (result.verdict.id, result.verdict.gpu), result.verdict.text)
    return builder.build(title, subtitle, axis_view(x), axis_view(y), sweep.own)


def map_for(advisor: Advisor, loaded: files.Loaded, axes: Optional[list] = None) -> curves.DecisionMap:
    """The decision map of a scenario as read: over ``axes`` (two), or ``default_map_axes``."""
    from .workload import plan_request

    axes = axes or default_map_axes(loaded.scenario, advisor.catalog)
    if len(axes) != 2:
        raise UsageError(f"a decision map has two axes; {len(axes)} given", "give --vary twice, or not at all for the default axes")
    spec = of(loaded, axes, advisor.catalog)
    subtitle = curves.workload_text(plan_request(loaded.scenario, advisor.catalog))
    return decision_map(advisor, spec, f"{spec.name}: the verdict over {axes[0].name} and {axes[1].name}", subtitle)
