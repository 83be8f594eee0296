"""The building blocks of every catalog entry: strict models and sourced figures."""

from __future__ import annotations

from datetime import date
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat


class Strict(BaseModel):
    """Unknown keys, NaN and infinity are refused; values are frozen once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=False)


class Figure(Strict):
    """One sourced number; ``value`` is None where the hardware lacks the feature."""

    value: Optional[PositiveFloat]
    source: str


class Price(Strict):
    usd_per_hour: PositiveFloat
    observed: date
    source: str
    indicative: bool = False  # a third-party survey, not a provider's own page: verdicts weigh it only at a price the user gives


class Constant(Strict):
    """A fitted or conventional constant of the model: the value, its source and why."""

    value: PositiveFloat
    source: str
    why: str


class Fraction(Constant):
    value: float = Field(gt=0, le=1)
