"""Decisions: a scenario's facts through the rules, into a record that says what fired and why.

A decision has two stages. The seed's rulesets (advantages, factors and the practical
recommendation: the general answer) run first; the general answer's facts (``general.*``) are
then added, and the rulesets that check it against this workload's figures run, ending with the
verdict. ``Advisor`` holds what does not change between scenarios (catalogs, rule book, engines,
the planner's cache) so a batch pays for it once; ``decide`` raises an AdvisorError for one bad
scenario, which the batch runner reports and goes past.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Optional

from .. import __version__, resources
from ..catalog.load import Catalog, load_catalog
from ..errors import DataError, InputError
from ..plan.planner import Planner
from ..rules import engine, loader
from ..rules.evaluator import Firing
from ..rules.language import RuleBook
from ..scenario.spec import Scenario, check_against_catalog
from . import facts as factmod
from . import jsontext
from .actions import Actions
from .records import DECISION_JSON_VERSION, Advantage, Decision, Factor, Finding, FiredRule, Outcome, Override, Verdict  # noqa: F401

GENERAL_ANSWER = "recommendation"  # the ruleset whose winner is the seed's general answer
VERDICT = "verdict"  # the ruleset whose winner is the final verdict
NO_GPU = "none"  # an outcome's gpu when it deploys none


def split_book(book: RuleBook) -> tuple[RuleBook, RuleBook]:
    """The rulesets up to the general answer's, and those after it (which read ``general.*``)."""
    names = [rs.name for rs in book.rulesets]
    if GENERAL_ANSWER not in names:
        raise DataError(f"invalid rules: {book.directory} has no `{GENERAL_ANSWER}` ruleset (the seed's general answer)",
                        "a rule book needs the first-hit ruleset `recommendation`; see rules/policy/40-recommendation.yaml")
    cut = names.index(GENERAL_ANSWER) + 1
    return (RuleBook(book.rulesets[:cut], f"{book.revision}/general", book.directory),
            RuleBook(book.rulesets[cut:], f"{book.revision}/checks", book.directory))


class Advisor:
    """Catalogs, rules, engines and planner, loaded once; ``decide`` a scenario at a time."""

    def __init__(self, rules_dir: Optional[Path] = None, catalog: Optional[Catalog] = None):
        self.catalog = catalog or load_catalog()
        self.schema = factmod.schema(self.catalog)
        directory = Path(rules_dir) if rules_dir else resources.policy_dir()
        self.book = loader.load(directory, self.schema, resources.catalog_files(), action_checks=action_checks(self.catalog))
        self.stages = split_book(self.book)
        self.engines = [engine.for_book(stage, self.schema) for stage in self.stages if stage.rulesets]
        self.planner = Planner(self.catalog)
        self.actions = Actions()  # items made from the rules' actions, shared by the decisions that hold them

    @property
    def engine(self):
        """The first stage's engine (the seed's rules)."""
        return self.engines[0]

    def decide(self, scenario: Scenario, source: str = "", raw: Optional[dict] = None) -> Decision:
        check_against_catalog(scenario, self.catalog)
        facts = factmod.build(scenario, self.catalog, self.planner)
        general_firings, seen = self._run(self.engines[0], facts.values)
        general = _winner(self.book, general_firings, GENERAL_ANSWER, facts.values, self.actions)
        if len(self.engines) > 1:
            facts.values.update(factmod.general_values(general, facts, self.catalog))
            check_firings, checked = self._run(self.engines[1], facts.values)
            seen.update(checked)
        else:
            check_firings = []
        return assemble(self.book, scenario, source, facts, general_firings + check_firings, raw, seen, self.actions)

    def _run(self, stage, values: dict) -> tuple[list[Firing], dict]:
        try:
            seen = stage.validate(values, only=stage.reads)
        except engine.EngineError as exc:  # inputs are valid; only an absurd combination gets here
            raise InputError(f"the figures computed from this scenario are out of range ({exc.detail})",
                             "check the workload, the prices and the utilization") from None
        return stage.run(seen, validated=True), seen


def _winner(book: RuleBook, firings: list[Firing], ruleset: str, values: dict, actions: Actions) -> Optional[Outcome]:
    """The outcome of a first-hit ruleset: its firing of lowest order."""
    ours = sorted((f for f in firings if f.ruleset == ruleset), key=lambda f: f.order)
    for f in ours:
        outcome = book.rule(f.rule).then.outcome
        if outcome:
            return actions.item(f.rule, "outcome", outcome, values)
    return None


def action_checks(catalog: Catalog) -> dict:
    """What rules may say beyond the rule language: an outcome names catalog GPUs ("a+b" for a mix),
    or ``none`` (a verdict that no GPU carries the workload)."""
    return {"outcome.gpu": loader.one_of([*catalog.gpus, NO_GPU], joined_by="+")}


def assemble(book: RuleBook, scenario: Scenario, source: str, facts: factmod.Facts, firings: list[Firing], raw,
             seen: dict, actions: Actions) -> Decision:
    """Turn firings into the decision: winners of first-hit rulesets, collected items, the trace.

    ``seen``: the facts the rules read, as validated for the engine (kept in the record);
    ``actions``: where the items of a batch's decisions are made (and remembered)."""
    item = actions.item
    values = facts.values
    order = book.positions
    firings = sorted(firings, key=lambda f: (order[f.ruleset], f.order))
    outcomes: dict[str, Outcome] = {}
    factors: dict[str, Factor] = {}
    advantages: list[Advantage] = []
    findings: list[Finding] = []
    overridden: list[Override] = []
    winners: dict[str, str] = {}
    for f in firings:
        then = book.rule(f.rule).then
        if book.ruleset(f.ruleset).hit_policy == "first":
            if f.ruleset in winners:
                overridden.append(Override(f.rule, f.ruleset, winners[f.ruleset]))
                continue
            winners[f.ruleset] = f.rule
        if then.outcome:
            outcomes[f.ruleset] = item(f.rule, "outcome", then.outcome, values)
        if then.advantage:
            advantages.append(item(f.rule, "advantage", then.advantage, values))
        if then.finding:
            findings.append(item(f.rule, "finding", then.finding, values))
        if then.factor:
            factor = item(f.rule, "factor", then.factor, values)
            earlier = factors.get(factor.factor)  # a later rule resolves an open-ended one ("depends on utilization")
            factors[factor.factor] = factor.resolving(earlier) if earlier else factor
    caveats = facts.figures.caveats
    plans = {gpu: jsontext.record(facts.plans, gpu, caveats.get(gpu, ())) for gpu in facts.plans}
    general = outcomes.get(GENERAL_ANSWER)
    return Decision(
        decision_id=str(uuid.uuid4()),
        scenario=scenario.name or "",
        source=source,
        verdict=_verdict(outcomes.get(VERDICT), general, plans),
        general_answer=general,
        findings=findings,
        factors=list(factors.values()),
        advantages=advantages,
        plans=plans,
        fired_rules=firings,
        overridden=overridden,
        rules_revision=book.revision,
        advisor_version=__version__,
        notes=facts.notes,
        input=raw if raw is not None else scenario.model_dump(mode="json", exclude_none=True, by_alias=True),
        facts=seen,
    )


def _verdict(outcome: Optional[Outcome], general: Optional[Outcome], plans: dict) -> Optional[Verdict]:
    """The verdict ruleset's outcome with the plans of the GPUs it deploys; without a verdict
    ruleset, the general answer holds."""
    chosen = outcome or general
    if chosen is None:
        return None
    extra = dict(chosen.extra)
    overturned = extra.pop("overturned_by", "") or None
    gpus = [g for g in chosen.gpu.split("+") if g != NO_GPU]
    if any(g not in plans for g in gpus):
        raise DataError(f"invalid rules: {chosen.rule}'s outcome deploys {chosen.gpu!r}, which is not a GPU of the catalog "
                        "(a fact its gpu names is absent for this scenario)",
                        "the rule's condition should require the fact it names: {fact: ..., exists: true}")
    return Verdict(chosen.id, chosen.text, chosen.gpu, chosen.rule, extra.pop("general_answer", "holds"), overturned,
                   {g: plans[g] for g in gpus})
