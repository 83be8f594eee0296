"""What a fact is to the rule language: a name, a type, and the numbers rules may compare.

The product's own table of facts (which names exist) is built by the layer that computes them;
the language, the engine and the analysis only see ``FactSpec``s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FactType = Literal["bool", "number", "enum", "string"]

#: The magnitudes rules may compare. durable-rules' C parser rejects JSON numbers written with an
#: exponent but no fraction ("1e-30", "1e+300"; error 204); Python writes floats that way only
#: outside [1e-4, 1e16). Smaller magnitudes are taken as 0 by the engine, larger ones refused.
MIN_NUMBER, MAX_NUMBER = 1e-4, 1e16
NUMBER_RANGE_TEXT = "0, or 1e-4 to 1e16 in magnitude"


@dataclass(frozen=True)
class FactSpec:
    name: str
    type: FactType
    doc: str
    values: tuple = ()  # enum values
    optional: bool = True  # may be absent from a scenario's facts


def comparable(value: float) -> bool:
    """A number a rule may compare with: 0, or a magnitude within [MIN_NUMBER, MAX_NUMBER)."""
    return value == 0 or MIN_NUMBER <= abs(value) < MAX_NUMBER
