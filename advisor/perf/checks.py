"""Argument checks shared by the formulas: a wrong value is a UsageError naming it."""

from __future__ import annotations

import math

from ..errors import UsageError

UTILIZATION_HINT = "0.6 means busy 60% of paid hours"


def positive(**values: float) -> None:
    for name, value in values.items():
        if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0):
            raise UsageError(f"{name} must be greater than 0, got {value!r}")


def fraction(utilization: float) -> None:
    if not (isinstance(utilization, (int, float)) and 0 < utilization <= 1):
        raise UsageError(f"utilization must be in (0, 1], got {utilization!r}", UTILIZATION_HINT)


def gb(n_bytes: float) -> str:
    """Bytes as decimal gigabytes, the unit of datasheets: ``70.0 GB``."""
    return f"{n_bytes / 1e9:.1f} GB"
