"""The guided session's loop and the figures it shows between questions.

The questions themselves are data (``advisor.scenario.questions``); a ``Session`` asks them
through a prompts object (``advisor.cli.prompts``), lets every question after the first go back
to the one before, and shows figures where they help the next answer (the plans for the
workload and load answered, against a budget; the utilization at which A100 matches H100).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ..catalog.load import Catalog
from ..decide import facts as factmod
from ..defaults import A100, H100
from ..plan.planner import Planner
from ..scenario.questions import UNSET, Answers, Question, parse_number, provisional, questions, settle
from .prompts import BACK, BACK_TEXT, QuestionaryPrompts
from .quickstart import FirstQuestion


# --- figures shown during the session -------------------------------------------------------------


def _plans_summary(f: factmod.Facts) -> str:
    """The cheapest plan and the seed pair's, for the workload and load answered so far (``f``)."""
    cells = []
    best = f.values.get("best.gpu")  # the cheapest at a price from a provider (or the user)
    if best is not None and best not in (A100, H100):
        cells.append(f"cheapest {best} {_plan_cell(f.plans[best].plan)}")
    for gpu in (A100, H100):
        plan = f.plans[gpu].plan
        cells.append(f"{gpu} {_plan_cell(plan)}" if plan else f"{gpu}: no plan")
    load = f.values.get("workload.load_rps")
    stated = "" if f.values.get("workload.load_stated") else " (the load one A100 replica carries)"
    return f"{load:.2f} requests/s on average{stated}: " + "; ".join(cells) if load else "; ".join(cells)


def _plan_cell(plan) -> str:
    return f"{plan.total_gpus} GPU{'s' if plan.total_gpus > 1 else ''} ${plan.monthly_cost_usd:,.0f} a month"


def workload_figures(answers: Answers, catalog: Catalog, planner: Planner) -> Optional[str]:
    s = provisional(answers, catalog)
    if s is None:
        return None
    f = factmod.build(s, catalog, planner)
    return (f"{factmod.model_of(s, catalog).id} at {s.precision}: {f.values['workload.weights_gb']:.0f} GB of weights; "
            f"plans for {_plans_summary(f)}")


def budget_figures(answers: Answers, catalog: Catalog, planner: Planner) -> Optional[str]:
    s = provisional(answers, catalog)
    return f"for reference, at {_plans_summary(factmod.build(s, catalog, planner))}" if s is not None else None


def utilization_figures(answers: Answers, catalog: Catalog, planner: Planner) -> Optional[str]:
    s = provisional({**answers, "context.utilization": None, "context.have_a100_fleet": False}, catalog)
    if s is None:
        return None
    values = factmod.build(s, catalog, planner).values
    match = values.get("compare.h100_vs_a100.a100_break_even_utilization")
    if match is None:
        return None
    return (f"for reference: A100s {match:.0%} busy match H100's cost per token for {factmod.model_of(s, catalog).id}"
            if match <= 1 else "for reference: A100 cannot match H100's cost per token even fully busy")


# Figures shown once the answers they depend on are in, or just before the question they inform;
# each is figure(answers, catalog, planner), the planner the session's (a workload planned once).
FIGURES_AFTER = {"workload.ttft_ms": workload_figures}
FIGURES_BEFORE = {"context.monthly_budget_usd": budget_figures, "context.utilization": utilization_figures}


# --- the session ---------------------------------------------------------------------------------


@dataclass
class Session:
    """One run of the questions; ``say`` prints a figure, ``help`` a help line, ``prompts`` asks
    (questionary's by default). Every question after the first can go back to the one before."""

    catalog: Catalog
    prefill: Answers = field(default_factory=dict)
    say: Callable[[str], None] = print
    help: Callable[[str], None] = print
    prompts: object = field(default_factory=QuestionaryPrompts)
    given: Answers = field(default_factory=dict)  # the last answer given to each question (a default after going back)
    planner: Planner = field(init=False)  # the figures': a workload and load answered again is not planned again

    def __post_init__(self):
        self.planner = Planner(self.catalog)

    def default_for(self, q: Question, answers: Answers):
        """Where every default comes from: this session's last answer to it, the pre-filled file,
        else the question's own default."""
        if q.name in self.given:
            return self.given[q.name]
        if q.name in self.prefill:
            return self.prefill[q.name]
        return q.default_value(answers, self.catalog)

    def run(self, first: Optional[tuple[str, Any]] = None) -> Answers:
        """The answers, settled. ``first``: (field, answer) of the first question, when it was
        asked before the session (``advisor.cli.quickstart``); an answer the first question
        does not offer is dropped and the question asked again."""
        asked = questions(self.catalog)
        answers: Answers = dict(self.prefill)
        history: list[tuple[int, Answers]] = []  # (question asked, the answers before it)
        i = 0
        if first is not None and _offered(asked[0], first, answers, self.catalog):
            history.append((0, dict(answers)))
            answers[asked[0].name] = self.given[asked[0].name] = first[1]
            self._show(FIGURES_AFTER.get(asked[0].name), answers)
            i = 1
        while i < len(asked):
            q = asked[i]
            if not q.when(answers):
                if not q.name.startswith("_") and q.name not in self.prefill:
                    answers.pop(q.name, None)  # a skipped question is not recorded
                i += 1
                continue
            self._show(FIGURES_BEFORE.get(q.name), answers)
            self.help(q.help)
            value = self._ask(q, self.default_for(q, answers), answers, back=bool(history))
            if value is BACK:
                i, answers = history.pop()
                continue
            history.append((i, dict(answers)))
            answers[q.name] = self.given[q.name] = value
            self._show(FIGURES_AFTER.get(q.name), answers)
            i += 1
        return settle(answers)

    def _show(self, figure, answers: Answers) -> None:
        if figure and (text := figure(answers, self.catalog, self.planner)):
            self.say(text)

    def _ask(self, q: Question, default, answers: Answers, back: bool):
        message = q.message_for(answers, self.catalog)
        if q.kind == "confirm":
            return self.prompts.confirm(message, bool(default), back=back)
        if q.kind == "select":
            value = self.prompts.select(message, q.choices_for(answers, self.catalog), UNSET if default is None else default, back=back)
            return None if value == UNSET else value

        def check(text: str):
            if not text.strip() and q.optional:
                return True
            if back and text.strip() == BACK_TEXT:
                return True
            try:
                parse_number(text, q)
            except ValueError as exc:
                return str(exc)
            return True

        shown = "" if default is None else f"{default:g}" if isinstance(default, float) else str(default)
        text = self.prompts.text(message, shown, check, back=back)
        if text is BACK:
            return BACK
        return None if not text.strip() and q.optional else parse_number(text, q)


def _offered(question: Question, first: tuple, answers: Answers, catalog: Catalog) -> bool:
    name, value = first
    return (name == question.name and question.kind == "select" and question.when(answers)
            and any(value == offered for offered, _ in question.choices_for(answers, catalog)))


def first_question(catalog: Catalog) -> Optional[FirstQuestion]:
    """The first question as a session without pre-filled answers shows it (kept by quickstart),
    when it is a select (the only kind quickstart asks)."""
    question = questions(catalog)[0]
    if question.kind != "select":
        return None
    return FirstQuestion(question.name, question.message_for({}, catalog), question.help,
                         tuple((str(value), str(label)) for value, label in question.choices_for({}, catalog)),
                         str(question.default_value({}, catalog)))
