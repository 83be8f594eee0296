"""The axes of a sweep: ``--vary AXIS=VALUES`` read into a scenario field and its values.

An axis names a field of ``context:`` or ``workload:`` (by its full or short name) or a price
(``price.GPU``, ``spot_price.GPU``); its values are a list, a range with a step, or a number of
values (evenly or log spaced), amounts read as in scenario files. Every mistake is one
UsageError naming the axis and the value at fault.
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass
from typing import Optional

from .. import amounts
from ..errors import UsageError, clip, did_you_mean, echo
from ..rules.language import value_text
from ..scenario.spec import AmountOf, Context, Scenario, WorkloadSpec

MAX_VALUES = 1_000_000  # on one axis
VARY_HINT = ("write AXIS=VALUES: a list (model=llama-3-8b,llama-3-70b), a range with a step "
             "(utilization=0.3..1/0.05) or with a number of values (tokens_per_day=1e8..1e10:3:log)")
_TABLES = {"price": "prices", "prices": "prices", "spot_price": "spot_prices", "spot_prices": "spot_prices"}
_SECTIONS = {"context": Context, "workload": WorkloadSpec}


@dataclass(frozen=True)
class FieldKind:
    """What a scenario field holds, for reading and showing the values of an axis over it."""

    kind: str  # number | bool | text | list
    unit: Optional[amounts.Unit] = None
    integer: bool = False


@dataclass(frozen=True)
class Axis:
    """A scenario field and the values a sweep gives it, in the order written."""

    name: str  # as the command line names it (utilization, price.h100-80gb, workload.model)
    path: tuple  # the keys of the field in a scenario's data
    values: tuple
    kind: FieldKind

    @property
    def numeric(self) -> bool:
        return self.kind.kind == "number"

    def text(self, value) -> str:
        """A value as people read it: $3.25, 55%, 1e9, llama-3-8b."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "+".join(value) if isinstance(value, tuple) else value_text(value)
        unit = self.kind.unit
        if unit is not None and unit.currency:  # cents, or as many places as the value has (a step of $0.005)
            return f"${value:,.2f}" if abs(value - round(value, 2)) < 1e-9 else f"${value:,.4f}".rstrip("0")
        if unit is not None and unit.percent:
            return f"{value * 100:.4g}%"
        return number_text(value)

    def precise_text(self, value: float) -> str:
        """A value found between two points, to a tenth of a cent or 4 significant digits: $2.174, 69.99%."""
        unit = self.kind.unit
        if unit is not None and unit.currency:
            return f"${value:,.3f}"
        if unit is not None and unit.percent:
            return f"{value * 100:.4g}%"
        return f"{value:.4g}"

    def label(self, value) -> str:
        return f"{self.name}={self.text(value)}"

    def data_value(self, value):
        """The value as it goes into a scenario's data (a list field takes a list)."""
        return list(value) if isinstance(value, tuple) else value


def number_text(value: float) -> str:
    """A number short and exact enough to name a point: 0.55, 2000, 1e9, 2.5e10."""
    text = f"{value:.10g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa}e{int(exponent)}"
    return text


def _field_kind(annotation, metadata) -> FieldKind:
    amount = next((m for m in metadata if isinstance(m, AmountOf)), None)
    if amount is not None:
        return FieldKind("number", amount.unit, amount.integer)
    args = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    if bool in args:
        return FieldKind("bool")
    if any(typing.get_origin(a) is list for a in args):
        return FieldKind("list")
    return FieldKind("text")


def sweepable_fields() -> dict[str, tuple[tuple, FieldKind]]:
    """Every field an axis may name, by its full name (context.utilization): its path in the data and kind."""
    out = {}
    for section, model in _SECTIONS.items():
        for name, info in model.model_fields.items():
            key = info.alias or name
            out[f"{section}.{key}"] = ((section, key), _field_kind(info.annotation, info.metadata))
    return out


def resolve(name: str) -> tuple[str, tuple, FieldKind]:
    """An axis name to (its full name, the field's path, its kind): ``utilization`` is
    ``context.utilization``; ``price.GPU`` (or ``prices.GPU``, ``spot_price.GPU``) a price."""
    head, _, rest = name.partition(".")
    if head in _TABLES and rest:
        price = Scenario.model_fields["prices"].annotation.__args__[1].__metadata__[0]
        return f"{_TABLES[head]}.{rest}", (_TABLES[head], rest), FieldKind("number", price.unit)
    fields = sweepable_fields()
    if name in fields:
        return name, *fields[name]
    short = {full.split(".", 1)[1]: full for full in fields}
    if name in short:
        full = short[name]
        return full, *fields[full]
    known = list(short) + ["price.GPU", "spot_price.GPU"]
    raise UsageError(f"--vary {clip(name)}: not a field of a scenario{did_you_mean(name, known) or ''}",
                     "`advisor schema` lists the fields; prices are price.GPU, such as price.h100-80gb")


def parse_axis(spec: str) -> Axis:
    """``AXIS=VALUES`` read as an axis; a UsageError names the axis and the value at fault."""
    name, sep, text = spec.partition("=")
    name, text = name.strip(), text.strip()
    if not sep or not name or not text:
        raise UsageError(f"--vary {echo(spec)}: expected AXIS=VALUES", VARY_HINT)
    full, path, kind = resolve(name)
    if kind.kind == "list" and ".." in text:
        raise UsageError(f"--vary {clip(name)}: a list field takes lists of ids joined by +, not a range", VARY_HINT)
    values = _range(name, text, kind) if ".." in text else tuple(_value(name, piece.strip(), kind) for piece in text.split(","))
    seen = set()
    for value in values:
        if value in seen:
            raise UsageError(f"--vary {clip(name)}: the value {value_text(value) if not isinstance(value, tuple) else '+'.join(value)} "
                             "is given twice", "each value once, in the order to sweep them")
        seen.add(value)
    return Axis(name, path, values, kind)


def _value(axis: str, text: str, kind: FieldKind):
    if not text:
        raise UsageError(f"--vary {clip(axis)}: an empty value", VARY_HINT)
    if kind.kind == "bool":
        truth = {"true": True, "yes": True, "false": False, "no": False}.get(text.lower())
        if truth is None:
            raise UsageError(f"--vary {clip(axis)}={clip(text)}: expected true or false")
        return truth
    if kind.kind == "list":
        return tuple(part.strip() for part in text.split("+"))
    if kind.kind == "text":
        return text
    return _whole(axis, _amount(axis, text, kind), kind)


def _amount(axis: str, text: str, kind: FieldKind) -> float:
    try:
        value = amounts.parse(text, kind.unit)
    except amounts.AmountError as exc:
        raise UsageError(f"--vary {clip(axis)}: {exc}") from None
    if not math.isfinite(value):
        raise UsageError(f"--vary {clip(axis)}={clip(text)}: expected a finite number")
    return _clean(value)


def _clean(value: float) -> float:
    """Without the float noise of adding steps (0.30000000000000004 is 0.3)."""
    return float(f"{value:.12g}")


def _whole(axis: str, value: float, kind: FieldKind):
    if not kind.integer:
        return value
    if not value.is_integer():
        raise UsageError(f"--vary {clip(axis)}={number_text(value)}: this field takes whole numbers",
                         "give whole numbers, or a range whose step is one")
    return int(value)


def _range(axis: str, text: str, kind: FieldKind) -> tuple:
    """``A..B/STEP`` (A, A + STEP, ... up to B), ``A..B:N`` (N values evenly spaced, A and B
    included) or ``A..B:N:log`` (evenly spaced on a log scale)."""
    if kind.kind != "number":
        raise UsageError(f"--vary {clip(axis)}: a range needs a number field; list the values instead (a,b,c)", VARY_HINT)
    low_text, _, rest = text.partition("..")
    if "/" in rest:
        high_text, _, step_text = rest.partition("/")
        low, high, step = (_amount(axis, t.strip(), kind) for t in (low_text, high_text, step_text))
        if step <= 0:
            raise UsageError(f"--vary {clip(axis)}: the step must be greater than 0, got {number_text(step)}", VARY_HINT)
        count = math.floor((high - low) / step * (1 + 1e-12) + 1e-9) + 1
        values = lambda: (low + i * step for i in range(count))  # noqa: E731
    elif ":" in rest:
        high_text, _, count_text = rest.partition(":")
        count_text, _, scale = count_text.partition(":")
        low, high = _amount(axis, low_text.strip(), kind), _amount(axis, high_text.strip(), kind)
        count = _count(axis, count_text)
        if scale not in ("", "log"):
            raise UsageError(f"--vary {clip(axis)}: {echo(scale)} after the count: only log", VARY_HINT)
        if scale == "log" and low <= 0:
            raise UsageError(f"--vary {clip(axis)}: a log range starts above 0, got {number_text(low)}", VARY_HINT)
        values = lambda: (low * (high / low) ** (i / (count - 1)) if scale else low + (high - low) * i / (count - 1)  # noqa: E731
                          for i in range(count))
    else:
        raise UsageError(f"--vary {clip(axis)}: a range needs a step (/STEP) or a number of values (:N)", VARY_HINT)
    if high <= low:
        raise UsageError(f"--vary {clip(axis)}: a range goes up: {number_text(low)}..{number_text(high)}", "write the smaller end first")
    if count > MAX_VALUES:
        raise UsageError(f"--vary {clip(axis)}: {count:,} values, more than {MAX_VALUES:,} on one axis", "use a larger step")
    cleaned = [_clean(v) for v in values()]
    if kind.integer and ":" in rest:  # evenly spaced counts of tokens, replicas...: the nearest whole numbers
        cleaned = list(dict.fromkeys(float(round(v)) for v in cleaned))
    return tuple(_whole(axis, v, kind) for v in cleaned)


def _count(axis: str, text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise UsageError(f"--vary {clip(axis)}: {echo(text)} is not a number of values", VARY_HINT) from None
    if count < 2:
        raise UsageError(f"--vary {clip(axis)}: a range has at least 2 values, got {count}", VARY_HINT)
    return count
