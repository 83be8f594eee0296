"""Amounts as people write them, read the same way in prompts, flags and scenario files.

``$4``, ``4 USD``, ``$3.95/h``, ``70%``, ``20k``, ``3e8``, ``300M``, ``1.5B``, ``25ms``, ``0.5 s``,
``2,000``, ``26 weeks``: each field has a ``Unit`` that says which notations it accepts, so a
price typed as ``25ms`` is refused in one line that says what the field wants, not read as 25.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import echo


@dataclass(frozen=True)
class Unit:
    name: str  # the JSON schema's "unit"
    example: str  # how to write one ("$3.95")
    what: str  # what a message calls one ("an amount in USD per GPU-hour")
    currency: bool = False  # "$" and "USD" accepted
    percent: bool = False  # "70%" is 0.7
    scaled: bool = False  # "20k", "300M", "1.5B"
    suffixes: tuple = ()  # ((accepted suffix, factor), ...), checked after the number


_PER_HOUR = (("/gpu-hour", 1.0), ("/gpu-h", 1.0), ("/hour", 1.0), ("/hr", 1.0), ("/h", 1.0), ("per hour", 1.0), ("an hour", 1.0),
             ("a gpu-hour", 1.0), ("per gpu-hour", 1.0))
_PER_MONTH = (("/month", 1.0), ("/mo", 1.0), ("per month", 1.0), ("a month", 1.0))

USD_PER_HOUR = Unit("USD per GPU-hour", "$3.95 or 3.95 USD/h", "an amount in USD per GPU-hour", currency=True, suffixes=_PER_HOUR)
USD_PER_MONTH = Unit("USD a month", "$20k or 20000 USD/month", "an amount in USD a month", currency=True, scaled=True, suffixes=_PER_MONTH)
SHARE = Unit("share from 0 to 1", "70% or 0.7", "a share", percent=True)
MILLISECONDS = Unit("milliseconds", "25ms, 0.5 s or 25", "a number of milliseconds", suffixes=(("ms", 1.0), ("milliseconds", 1.0), ("msec", 1.0),
                                                                    ("seconds", 1000.0), ("sec", 1000.0), ("s", 1000.0)))
WEEKS = Unit("weeks", "26, 26 weeks or 6 months", "a number of weeks", suffixes=(("weeks", 1.0), ("week", 1.0), ("wk", 1.0), ("w", 1.0),
                                                           ("months", 52 / 12), ("month", 52 / 12), ("days", 1 / 7), ("d", 1 / 7)))
TOKENS = Unit("tokens", "2k or 2048", "a number of tokens", scaled=True, suffixes=(("tokens", 1.0), ("tok", 1.0)))
TOKENS_PER_DAY = Unit("tokens a day", "300M, 3e8 or 300,000,000", "a number of tokens a day", scaled=True,
                      suffixes=(("tokens/day", 1.0), ("tokens a day", 1.0), ("/day", 1.0), ("a day", 1.0)))
REQUESTS_PER_S = Unit("requests per second", "5, 5 req/s or 18k/h", "a number of requests per second", scaled=True,
                      suffixes=(("requests/s", 1.0), ("req/s", 1.0), ("rps", 1.0), ("/s", 1.0), ("/min", 1 / 60), ("/h", 1 / 3600)))
COUNT = Unit("count", "8 or 1k", "a whole number", scaled=True)
NUMBER = Unit("number", "2.5 or 20k", "a number", scaled=True)
RATIO = Unit("ratio", "2 or 2x", "a ratio", suffixes=(("x", 1.0),))
BILLIONS = Unit("billions of parameters", "70 or 70B", "a number of billions of parameters", suffixes=(("b", 1.0),))

_SCALE = {"k": 1e3, "m": 1e6, "mn": 1e6, "b": 1e9, "bn": 1e9, "g": 1e9, "t": 1e12}
_NUMBER = re.compile(r"^[+-]?(\d[\d,_]*(\.\d*)?|\.\d+)(e[+-]?\d+)?")
_KINDS = (("%", "a percentage"), ("ms", "a time"), ("usd", "an amount of money"), ("$", "an amount of money"))


class AmountError(ValueError):
    """An amount that cannot be read for its field: the message says what the field wants."""


def parse(text, unit: Unit) -> float:
    """``text`` (or a number) as a float in ``unit``; AmountError with the reason otherwise."""
    if isinstance(text, bool):
        raise AmountError(f"{text} is not {unit.what}: write it like {unit.example}")
    if isinstance(text, (int, float)):
        return float(text)
    raw = str(text)
    s = raw.strip().lower().replace("\u00a0", " ")
    if unit.currency:
        s = re.sub(r"^(us\$|\$)\s*", "", s)
        s = re.sub(r"\s*(usd|us\$|\$|dollars?)(?=$|\s*/|\s+(per|an?)\b)", "", s)
    match = _NUMBER.match(s)
    if not match or not re.search(r"\d", match.group(0)):
        raise AmountError(f"{echo(raw.strip())} is not {unit.what}{_looks_like(s, unit)}: write it like {unit.example}")
    number = match.group(0).replace(",", "").replace("_", "")
    value = float(number)
    rest = s[match.end():].strip()
    if rest and unit.scaled:
        word = re.match(r"^[a-z]+", rest)
        if word and word.group(0) in _SCALE:
            value *= _SCALE[word.group(0)]
            rest = rest[word.end():].strip()
    if rest and unit.percent and rest == "%":
        return value / 100
    for suffix, factor in unit.suffixes:
        if rest == suffix:
            return value * factor
    if rest:
        raise AmountError(f"{echo(raw.strip())} is not {unit.what}{_looks_like(rest, unit)}: write it like {unit.example}")
    return value


def _looks_like(text: str, unit: Unit) -> str:
    """What a refused amount looks like, when that is another kind than the field's."""
    accepted = {"%": unit.percent, "usd": unit.currency, "$": unit.currency, "ms": unit is MILLISECONDS}
    for mark, kind in _KINDS:
        if mark in text and not accepted[mark]:
            return f" (it reads as {kind})"
    return ""
