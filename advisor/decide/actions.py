"""What a fired rule's action adds to a decision: an outcome, an advantage, a finding or a factor,
its templates filled with the scenario's fact values.

The scenarios of a batch fill an action's templates with the same values again and again (the
same plans, the same situation), so ``Actions`` remembers each item it makes by its rule and the
values its templates read, types included (``1``, ``1.0`` and ``True`` print differently, and so
do ``0.0`` and ``-0.0``). Items are frozen records: the decisions that hold one share it.
"""

from __future__ import annotations

import math

from ..rules.language import render_template, template_fields
from .records import Advantage, Factor, Finding, Outcome

#: Each kind of action: its record type and the keys that are its fields (the others go to ``extra``).
KINDS = {"outcome": (Outcome, ("id", "text", "gpu")), "advantage": (Advantage, ("gpu", "id", "reason")),
         "finding": (Finding, ("id", "text")), "factor": (Factor, ("factor", "choice", "reason"))}


class Actions:
    """Items made from actions, at most ``kept`` of them remembered (then forgotten all at once)."""

    def __init__(self, kept: int = 4096):
        self.kept = kept
        self._reads: dict = {}  # (rule id, kind) -> the facts its templates name
        self._made: dict = {}

    def item(self, rule: str, kind: str, spec: dict, values: dict):
        """The record ``kind`` of ``rule``'s action ``spec``, filled with ``values``."""
        reads = self._reads.get((rule, kind))
        if reads is None:
            reads = self._reads[(rule, kind)] = tuple(dict.fromkeys(
                name for text in spec.values() if isinstance(text, str) for name in template_fields(text)))
        key = (rule, kind, *[_exactly(values.get(name)) for name in reads])
        made = self._made.get(key)
        if made is None:
            made = filled(rule, kind, spec, values)
            if len(self._made) >= self.kept:
                self._made.clear()
            self._made[key] = made
        return made


def filled(rule: str, kind: str, spec: dict, values: dict):
    """The record ``kind`` of ``rule``'s action ``spec``, its templates filled with ``values``."""
    record, named = KINDS[kind]
    text = {k: render_template(v, values) if isinstance(v, str) else v for k, v in spec.items()}
    return record(**{k: text[k] for k in named}, rule=rule, extra={k: v for k, v in text.items() if k not in named})


def _exactly(value):
    """A fact value as a key that tells apart values that are equal but print differently."""
    kind = value.__class__
    if kind is float and value == 0.0:
        return kind, math.copysign(1.0, value)
    return kind, value
