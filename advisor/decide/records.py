"""A decision and its parts as typed records, each with ``to_json`` (the stored JSON shape)
and ``from_json`` (to read a record back from the audit store)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..rules.evaluator import Firing as FiredRule  # noqa: F401 - a decision keeps the engine's firings as they are

DECISION_JSON_VERSION = 2  # of a decision's JSON: 2 has verdict, general_answer, findings and plans


def _extra(data: dict, known: tuple) -> dict:
    return {k: v for k, v in data.items() if k not in known}


@dataclass(frozen=True)
class Outcome:
    """The verdict of a first-hit ruleset: an outcome id, its text and the GPU it names."""

    id: str
    text: str
    gpu: str
    rule: str
    extra: dict = field(default_factory=dict)  # further keys a rule author gave the outcome

    def to_json(self) -> dict:
        return {"id": self.id, "text": self.text, "gpu": self.gpu, **self.extra, "rule": self.rule}

    @classmethod
    def from_json(cls, data: dict) -> Optional["Outcome"]:
        if not data:
            return None
        return cls(data["id"], data["text"], data["gpu"], data["rule"], _extra(data, ("id", "text", "gpu", "rule")))


@dataclass(frozen=True)
class Advantage:
    """A situation in which a GPU wins (the seed's h100_advantages / a100_advantages)."""

    gpu: str
    id: str
    reason: str
    rule: str
    extra: dict = field(default_factory=dict)  # e.g. ``seed``: the seed's own wording

    def to_json(self) -> dict:
        return {"gpu": self.gpu, "id": self.id, "reason": self.reason, **self.extra, "rule": self.rule}

    @classmethod
    def from_json(cls, data: dict) -> "Advantage":
        return cls(data["gpu"], data["id"], data["reason"], data["rule"], _extra(data, ("gpu", "id", "reason", "rule")))


@dataclass(frozen=True)
class Factor:
    """A decision factor and its choice; a later rule may resolve an open-ended seed choice
    ("depends on utilization"), keeping the seed's choice and reason beside its own."""

    factor: str
    choice: str
    reason: str
    rule: str
    extra: dict = field(default_factory=dict)
    seed_choice: Optional[str] = None
    seed_reason: Optional[str] = None

    def to_json(self) -> dict:
        body = {"factor": self.factor, "choice": self.choice, "reason": self.reason, **self.extra, "rule": self.rule}
        if self.seed_choice is not None:
            body.update(seed_choice=self.seed_choice, seed_reason=self.seed_reason)
        return body

    def resolving(self, earlier: "Factor") -> "Factor":
        """This factor as the resolution of ``earlier``: the seed's choice is kept."""
        return Factor(self.factor, self.choice, self.reason, self.rule, self.extra,
                      earlier.seed_choice or earlier.choice, earlier.seed_reason or earlier.reason)

    @classmethod
    def from_json(cls, data: dict) -> "Factor":
        known = ("factor", "choice", "reason", "rule", "seed_choice", "seed_reason")
        return cls(data["factor"], data["choice"], data["reason"], data["rule"], _extra(data, known),
                   data.get("seed_choice"), data.get("seed_reason"))


@dataclass(frozen=True)
class Override:
    """A rule of a first-hit ruleset that matched but lost to a higher one."""

    rule: str
    ruleset: str
    by: str

    def to_json(self) -> dict:
        return {"rule": self.rule, "ruleset": self.ruleset, "by": self.by}

    @classmethod
    def from_json(cls, data: dict) -> "Override":
        return cls(data["rule"], data["ruleset"], data["by"])


@dataclass(frozen=True)
class Finding:
    """What a check found, with its numbers."""

    id: str
    text: str
    rule: str
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"id": self.id, "text": self.text, **self.extra, "rule": self.rule}

    @classmethod
    def from_json(cls, data: dict) -> "Finding":
        return cls(data["id"], data["text"], data["rule"], _extra(data, ("id", "text", "rule")))


@dataclass(frozen=True)
class Verdict:
    """The final answer: the verdict ruleset's outcome, whether the general answer holds (and if
    not, the finding that overturned it), and the plan of each GPU it deploys."""

    id: str
    text: str
    gpu: str  # catalog ids joined by "+", or "none"
    rule: str
    general_answer: str  # "holds", or "does not apply here: ..."
    overturned_by: Optional[str]  # the finding id, when the general answer does not hold
    plans: dict = field(default_factory=dict)  # gpu -> the plan's record

    @property
    def holds(self) -> bool:
        return self.overturned_by is None

    def to_json(self) -> dict:
        return {"id": self.id, "text": self.text, "gpu": self.gpu, "general_answer": self.general_answer,
                "overturned_by": self.overturned_by, "plans": self.plans, "rule": self.rule}

    @classmethod
    def from_json(cls, data: dict) -> Optional["Verdict"]:
        if not data:
            return None
        return cls(data["id"], data["text"], data["gpu"], data["rule"], data["general_answer"], data.get("overturned_by"),
                   data.get("plans") or {})


@dataclass
class Decision:
    """A decision: what the rules concluded for a scenario, the plans beside it, and the trace
    (made by ``decide.decision``, or read back from the audit store by ``audit.view``)."""

    decision_id: str
    scenario: str
    source: str
    verdict: Optional[Verdict]
    general_answer: Optional[Outcome]
    findings: list[Finding]
    factors: list[Factor]
    advantages: list[Advantage]
    plans: dict  # per GPU: its plan's record, or why it has none
    fired_rules: list[FiredRule]
    overridden: list[Override]
    rules_revision: str
    advisor_version: str
    notes: list = field(default_factory=list)
    input: Optional[dict] = None  # the scenario as given
    facts: Optional[dict] = None  # the value of every fact the rules read (for audits and why-not)
    _text: Optional[str] = field(default=None, repr=False, compare=False)
    _texts: dict = field(default_factory=dict, repr=False, compare=False)  # each top-level value's JSON text

    def to_json(self) -> dict:
        return {
            "decision_id": self.decision_id, "scenario": self.scenario, "source": self.source,
            "verdict": self.verdict.to_json() if self.verdict else {},
            "general_answer": self.general_answer.to_json() if self.general_answer else {},
            "findings": [f.to_json() for f in self.findings],
            "factors": [f.to_json() for f in self.factors], "advantages": [a.to_json() for a in self.advantages],
            "plans": self.plans, "fired_rules": [f.to_json() for f in self.fired_rules],
            "overridden": [o.to_json() for o in self.overridden], "rules_revision": self.rules_revision,
            "advisor_version": self.advisor_version, "notes": self.notes, "input": self.input, "facts": self.facts,
        }

    def json_text(self) -> str:
        """The decision as one line of JSON, encoded once for both the output and the audit store."""
        if self._text is None:
            from . import jsontext  # the plans' records' encoder: not needed to read a stored decision

            self._text = jsontext.decision_text(self.to_json(), self._texts)
        return self._text

    def part_text(self, key: str) -> str:
        """The JSON text of one top-level value (``input``, ``facts``) as ``json_text`` wrote it."""
        self.json_text()
        return self._texts[key]
