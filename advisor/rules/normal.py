"""Conditions in normal form over partition cells: what the engine compiles and the analysis proves.

Each fact's domain is cut into *cells* at the values the rules compare it with: for a number
with thresholds p0 < p1 < ... the cells are (-inf, p0), {p0}, (p0, p1), {p1}, ..., (pk, inf);
for a bool, true and false; for an enum, each value; for a string, each literal and "another
value"; for a derived flag, present. An optional fact (and every derived flag) also has the cell
"absent". Every comparison of the rule language is constant on each cell, so a comparison is a set
of cells (an int used as a bit mask) and reasoning over cells is exact, not a sample.

A condition becomes a list of *boxes* (disjunctive normal form): a box maps facts to non-empty
masks and means "each of these facts is in one of its cells" (a fact not named is free). Facts vary
independently, so a box is satisfiable exactly when each of its masks is non-empty; all / any /
not become intersection, union and complement of masks. ``Partition.runs`` splits a mask into the
fewest single-path tests an engine can check (an interval with holes, a set of equalities, absent).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Iterable, Optional

from .language import DERIVED, All, Compare, Condition, Not, leaves
from .schema import FactSpec

#: How many alternatives one rule's condition may expand to (the product of its any / not / in);
#: beyond, the rule is refused with its file:line rather than compiled or analysed for minutes.
MAX_ALTERNATIVES = 4096

OTHER = "(another value)"  # the cell of a string fact for every value no rule names


class TooManyAlternatives(ValueError):
    """A condition whose normal form has more than ``MAX_ALTERNATIVES`` boxes."""


@dataclass(frozen=True)
class Path:
    """One way a fact satisfies a mask, as tests on one path: ``tests`` are (op, value) pairs with
    op among eq ne lt le gt ge exists absent; ``mask`` is the part of the mask this path covers."""

    mask: int
    tests: tuple


class Partition:
    """The cells of one fact's domain, cut at the values some rules compare it with."""

    def __init__(self, name: str, spec: Optional[FactSpec], values: Iterable = ()):
        self.name = name
        if spec is None:  # a derived flag: present or absent
            self.type, self.cells, optional = "derived", [True], True
        elif spec.type == "number":
            self.type = "number"
            self.points = sorted({float(v) for v in values})
            self.cells = self._number_cells()
            optional = spec.optional
        elif spec.type == "bool":
            self.type, self.cells, optional = "bool", [True, False], spec.optional
        elif spec.type == "enum":
            self.type, self.cells, optional = "enum", list(spec.values), spec.optional
        else:
            self.type = "string"
            self.cells = sorted({v for v in values if isinstance(v, str)}) + [OTHER]
            optional = spec.optional
        n = len(self.cells)
        self.present = (1 << n) - 1
        if self.type == "number":  # a cell between two adjacent floats holds no value
            for i in range(2, n - 1, 2):
                if math.nextafter(self.points[i // 2 - 1], math.inf) == self.points[i // 2]:
                    self.present &= ~(1 << i)
        self.absent = (1 << n) if optional else 0
        self.full = self.present | self.absent
        self._index = {v: i for i, v in enumerate(self.cells)} if self.type != "number" else None

    def _number_cells(self) -> list:
        cells = []
        for i, p in enumerate(self.points):
            cells.append(("below", p) if i == 0 else ("between", self.points[i - 1], p))
            cells.append(("at", p))
        cells.append(("above", self.points[-1]) if self.points else ("any",))
        return cells

    # --- comparisons as masks --------------------------------------------------------------------

    def mask(self, op: str, value) -> int:
        """The cells where ``fact op value`` holds (never the absent cell but for exists: false)."""
        if op == "exists":
            return self.present if value else self.absent
        if self.type == "derived":
            return self.present
        if op == "in":
            m = 0
            for v in value:
                m |= self.mask("eq", v)
            return m
        if self.type != "number":
            i = self._index.get(value) if value != OTHER else None
            eq = (1 << i) if i is not None else 0
            return eq if op == "eq" else self.present & ~eq
        i = bisect.bisect_left(self.points, float(value))
        if i == len(self.points) or self.points[i] != float(value):
            raise ValueError(f"{self.name}: {value!r} is not one of the partition's points")
        at = 2 * i + 1  # the cell {value}
        below = (1 << at) - 1
        result = {"lt": below, "le": below | (1 << at), "eq": 1 << at}.get(op)
        if result is None:
            result = {"gt": ~(below | (1 << at)), "ge": ~below, "ne": ~(1 << at)}[op]
        return result & self.present

    def complement(self, mask: int) -> int:
        return self.full & ~mask

    def cell_count(self) -> int:
        return bin(self.full).count("1")

    # --- cells as values -------------------------------------------------------------------------

    def sample(self, mask: int):
        """A value in the first cell of ``mask`` (None for absent), for examples in messages."""
        present = mask & self.present
        if not present:
            return None
        i = (present & -present).bit_length() - 1
        if self.type != "number":
            return self.cells[i]
        cell = self.cells[i]
        if cell[0] == "at":
            return cell[1]
        if cell[0] == "any":
            return 0.0
        if cell[0] == "below":
            return _simple_between(-math.inf, cell[1])
        if cell[0] == "above":
            return _simple_between(cell[1], math.inf)
        return _simple_between(cell[1], cell[2])

    # --- masks as tests --------------------------------------------------------------------------

    def runs(self, mask: int) -> list[Path]:
        """The fewest paths of tests that together accept exactly the values in ``mask``.

        An empty list for an empty mask; one path with no tests when the mask is the whole domain."""
        mask &= self.full
        if mask == self.full:
            return [Path(mask, ())]
        paths = []
        present = mask & self.present
        if present == self.present:
            paths.append(Path(present, (("exists", True),)))
        elif present:
            paths += self._present_runs(present)
        if mask & self.absent:
            paths.append(Path(self.absent, (("absent", True),)))
        return paths

    def _present_runs(self, present: int) -> list[Path]:
        n = len(self.cells)
        if self.type == "derived":
            return [Path(present, (("exists", True),))]
        if self.type == "bool":
            return [Path(1 << i, (("eq", self.cells[i]),)) for i in range(n) if present >> i & 1]
        if self.type == "enum" or (self.type == "string" and present >> (n - 1) & 1):
            # all but some values: one path of inequalities (an enum's value is always one of its cells)
            left_out = [self.cells[i] for i in range(n) if not present >> i & 1]
            if len(left_out) == n - 1 and self.type == "enum":
                (i,) = [i for i in range(n) if present >> i & 1]
                return [Path(present, (("eq", self.cells[i]),))]
            return [Path(present, tuple(("ne", v) for v in left_out))]
        if self.type == "string":
            return [Path(1 << i, (("eq", self.cells[i]),)) for i in range(n) if present >> i & 1]
        return self._number_runs(present)

    def _number_runs(self, present: int) -> list[Path]:
        """Intervals of cells; a single missing point inside an interval is a hole (``ne``), not a cut.
        Cells that hold no value (between adjacent floats) may be counted in or out."""
        on = present | (~self.present & ((1 << len(self.cells)) - 1))
        spans: list = []  # [start, end, holes], end inclusive
        while on:
            low = on & -on
            start = low.bit_length() - 1
            end = ((on + low) & ~on).bit_length() - 2  # the carry stops just past the run of ones
            on &= ~((1 << (end + 1)) - 1)
            if spans and start == spans[-1][1] + 2 and start % 2 == 0:  # one point missing: a hole
                spans[-1][1] = end
                spans[-1][2].append(start - 1)
            else:
                spans.append([start, end, []])
        paths = []
        for start, end, holes in spans:
            seg = present & ((1 << (end + 1)) - 1) & ~((1 << start) - 1)
            if not seg:
                continue
            start, end = (seg & -seg).bit_length() - 1, seg.bit_length() - 1
            paths.append(Path(seg, self._interval_tests(start, end, [h for h in holes if start < h < end])))
        return paths

    def _interval_tests(self, start: int, end: int, holes: list) -> tuple:
        last = len(self.cells) - 1
        if start == end and start % 2 == 1:
            return (("eq", self.points[start // 2]),)
        tests = []
        if start > 0:
            tests.append(("ge", self.points[start // 2]) if start % 2 == 1 else ("gt", self.points[start // 2 - 1]))
        if end < last:
            tests.append(("le", self.points[end // 2]) if end % 2 == 1 else ("lt", self.points[end // 2]))
        tests += [("ne", self.points[h // 2]) for h in holes]
        return tuple(tests) or (("exists", True),)


def _simple_between(lo: float, hi: float) -> float:
    """A short number strictly between ``lo`` and ``hi`` (0 when it is), for readable examples."""
    if lo < 0 < hi:
        return 0.0
    if hi == math.inf:
        return float(math.floor(lo) + 1)
    if lo == -math.inf:
        return float(math.ceil(hi) - 1)
    for digits in range(0, 17):
        step = 10.0 ** -digits
        candidate = round((math.floor(lo / step) + 1) * step, digits)
        if lo < candidate < hi:
            return candidate
    return (lo + hi) / 2


# --- partitions of a set of rules ------------------------------------------------------------------


def partitions(rules, schema: dict[str, FactSpec]) -> dict[str, Partition]:
    """A partition per fact the rules read, cut at every value any of them compares it with."""
    values: dict[str, list] = {}
    for rule in rules:
        for leaf in leaves(rule.when):
            vals = values.setdefault(leaf.fact, [])
            if leaf.op not in ("exists",) and leaf.value is not None:
                vals += list(leaf.value) if isinstance(leaf.value, tuple) else [leaf.value]
    out = {}
    for name, vals in values.items():
        spec = None if name.startswith(DERIVED) else schema[name]
        if spec is not None and spec.type == "number":
            vals = [v for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool)]
        out[name] = Partition(name, spec, vals)
    return out


# --- normal form -----------------------------------------------------------------------------------


def boxes(cond: Condition, parts: dict[str, Partition], limit: int = MAX_ALTERNATIVES) -> list[dict]:
    """``cond`` as a list of boxes (fact -> non-empty mask); [] when it never holds, [{}] always."""
    return _simplify(_nnf(cond, False, parts, limit), parts)


def _nnf(cond: Condition, negate: bool, parts: dict[str, Partition], limit: int) -> list[dict]:
    if isinstance(cond, Compare):
        part = parts[cond.fact]
        m = part.mask(cond.op, cond.value)
        if negate:
            m = part.complement(m)
        if m & part.full == part.full:
            return [{}]
        return [{cond.fact: m}] if m & part.full else []
    if isinstance(cond, Not):
        return _nnf(cond.item, not negate, parts, limit)
    conjunction = isinstance(cond, All) != negate
    items = [_nnf(c, negate, parts, limit) for c in cond.items]
    if not conjunction:
        return _bounded(_simplify([b for item in items for b in item], parts, limit), limit)
    result = [{}]
    for item in items:
        product = []
        for a in result:
            product += [m for b in item if (m := _meet(a, b)) is not None]
            if len(product) > 4 * limit:  # stop before the product is built in full
                product = _bounded(list({tuple(sorted(b.items())): b for b in product}.values()), 4 * limit)
        result = _bounded(_simplify(product, parts, limit), limit)
    return result


def _bounded(bs: list, limit: int) -> list:
    if len(bs) > limit:
        raise TooManyAlternatives(f"more than {limit:,} alternatives")
    return bs


def _meet(a: dict, b: dict) -> Optional[dict]:
    """The intersection of two boxes, or None when it is empty."""
    if len(a) < len(b):
        a, b = b, a
    out = dict(a)
    for fact, m in b.items():
        if fact in out:
            m &= out[fact]
            if not m:
                return None
        out[fact] = m
    return out


def meet(a: dict, b: dict) -> Optional[dict]:
    return _meet(a, b)


def _simplify(bs: list[dict], parts: dict[str, Partition], limit: int = MAX_ALTERNATIVES) -> list[dict]:
    """Equivalent boxes, fewer: duplicates dropped, boxes differing in one fact merged, subsumed ones
    dropped (the last two only while the list is small enough for it to be cheap)."""
    if any(not b for b in bs):
        return [{}]
    unique = list({tuple(sorted(b.items())): b for b in bs}.values())
    if len(unique) <= 1 or len(unique) > limit:
        return unique
    changed = True
    while changed and len(unique) > 1:
        changed = False
        facts = sorted({f for b in unique for f in b})
        for fact in facts:
            groups: dict = {}
            for b in unique:
                if fact not in b:
                    key = ("free", tuple(sorted(b.items())))
                else:
                    key = ("on", tuple(sorted((f, m) for f, m in b.items() if f != fact)))
                groups.setdefault(key, []).append(b)
            merged = []
            for (how, rest), members in groups.items():
                if how == "free" or len(members) == 1:
                    merged += members
                    continue
                m = 0
                for b in members:
                    m |= b[fact]
                changed = True
                if m & parts[fact].full == parts[fact].full:
                    box = dict(rest)
                    if not box:
                        return [{}]
                else:
                    box = dict(rest, **{fact: m})
                merged.append(box)
            unique = list({tuple(sorted(b.items())): b for b in merged}.values())
    if len(unique) <= 256:
        unique = [b for i, b in enumerate(unique)
                  if not any(j != i and _within(b, o) and (not _within(o, b) or j < i) for j, o in enumerate(unique))]
    return unique


def _within(a: dict, b: dict) -> bool:
    """Box ``a`` lies inside box ``b``."""
    return all(f in a and a[f] & ~m == 0 for f, m in b.items())


within = _within


def count_paths(box: dict, parts: dict[str, Partition]) -> int:
    n = 1
    for fact, m in box.items():
        n *= len(parts[fact].runs(m))
    return n
