"""A decision's JSON text, put together from pieces, its plans' records encoded once per request.

Most of the time ``json.dumps`` spends on a decision goes to its plans: a record per catalog GPU,
a score of floats each, the same for every scenario of a workload, prices and situation. Each
record is a ``PlanRecord``, made once per plans and caveats (``record``, kept with the planner's
cached plans) and carrying its JSON text; ``decision_text`` encodes the rest with the standard
library's C encoder and puts the records' texts in place. The result is the text ``json.dumps``
gives for ``Decision.to_json()`` with the same options (tests/test_fast_paths.py holds the two
equal), and no NaN or infinity gets in: every piece is encoded with ``allow_nan=False``.
"""

from __future__ import annotations

import functools
import json
from typing import Optional

from ..plan.planner import Plans
from .figures import plan_record

#: The one encoding of decisions: what ``json.dumps(..., allow_nan=False, ensure_ascii=False,
#: separators=(", ", ": "))`` writes, with the encoder made once.
encode = json.JSONEncoder(allow_nan=False, ensure_ascii=False, separators=(", ", ": ")).encode


class PlanRecord(dict):
    """A plan's record as decisions keep it, with its JSON text. Shared by every decision whose
    plan and caveats it is: never change one."""

    __slots__ = ("text",)

    def __init__(self, record: dict):
        super().__init__(record)
        self.text = encode(self)  # NaN and infinity raise here, as json.dumps raises


def record(plans: Plans, gpu: str, caveats: tuple) -> PlanRecord:
    """``gpu``'s plan record with ``caveats``, made once per plans (see ``Plans.derived``)."""
    key = ("record", gpu, caveats)
    made = plans.derived.get(key)
    if made is None:
        made = plans.derived[key] = PlanRecord(plan_record(plans[gpu], caveats))
    return made


def _plans(plans: dict) -> str:
    return _object([(gpu, rec.text if type(rec) is PlanRecord else encode(rec)) for gpu, rec in plans.items()])


def _verdict(verdict: dict) -> str:
    return _object([(k, _plans(v) if k == "plans" else encode(v)) for k, v in verdict.items()]) if verdict else "{}"


def _object(pairs: list) -> str:
    """``{"key": text, ...}`` from (key, encoded value) pairs, as the encoder writes an object."""
    return "{" + ", ".join([f"{_key(key)}: {text}" for key, text in pairs]) + "}"


@functools.lru_cache(maxsize=1024)
def _key(key: str) -> str:
    """A key's JSON text (the same few: GPU ids, the verdict's and the decision's fields)."""
    return encode(key)


#: Top-level values encoded on their own: those that hold plan records, and those whose text the
#: audit store keeps (``texts``). The others are encoded together, one call for each run of them.
_APART = {"verdict": _verdict, "plans": _plans, "input": encode, "facts": encode}


def decision_text(body: dict, texts: Optional[dict] = None) -> str:
    """The JSON text of ``Decision.to_json()``'s ``body``; ``texts`` collects the text of the
    values encoded apart (the audit store reuses the input's and the facts')."""
    pieces, run = [], {}
    for key, value in body.items():
        apart = _APART.get(key)
        if apart is None:
            run[key] = value
            continue
        if run:
            pieces.append(encode(run)[1:-1])
            run = {}
        text = apart(value)
        if texts is not None:
            texts[key] = text
        pieces.append(f"{_key(key)}: {text}")
    if run:
        pieces.append(encode(run)[1:-1])
    return "{" + ", ".join(pieces) + "}"
