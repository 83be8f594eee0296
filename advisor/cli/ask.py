"""`advisor ask`: the guided session's loop, the figures it shows, and what follows the answers.

The questions themselves are data (``advisor.scenario.questions``); this module asks them with
questionary, shows figures where they help the next answer (GPUs the model needs, the monthly
cost of an H100 deployment against a budget, the utilization at which A100 matches H100), then
decides, records, shows the result and offers to save the answers.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from ..catalog.load import Catalog
from ..decide import facts as factmod
from ..defaults import A100, H100
from ..errors import InputError, UsageError
from ..scenario import files as scenario_files
from ..scenario.questions import (KEEP_WORKLOAD, UNSET, Answers, Question, parse_number, provisional, questions, settle,
                                  to_scenario, from_scenario)


# --- figures shown during the session -------------------------------------------------------------


def workload_figures(answers: Answers, catalog: Catalog) -> Optional[str]:
    s = provisional(answers, catalog)
    if s is None:
        return None
    f = factmod.build(s, catalog)
    cells = [f"{gpu} {p.plan.gpus_per_replica} x {p.plan.replicas}" if p.plan else f"{gpu}: no plan" for gpu, p in
             ((gpu, f.plans[gpu]) for gpu in (A100, H100))]
    model = factmod.model_of(s, catalog)
    return (f"{model.id} at {s.precision}: {f.values['workload.weights_gb']:.0f} GB of weights; plans (GPUs per replica x replicas): "
            f"{', '.join(cells)}")


def budget_figures(answers: Answers, catalog: Catalog) -> Optional[str]:
    s = provisional(answers, catalog)
    if s is None:
        return None
    h = factmod.build(s, catalog).plans[H100].plan
    if h is None:
        return None
    return (f"for reference: the H100 plan for {factmod.model_of(s, catalog).id} ({h.replicas} x {h.gpus_per_replica} GPUs at "
            f"${h.price_usd_per_hour:.2f}/h) costs ${h.monthly_cost_usd:,.0f} a month")


def utilization_figures(answers: Answers, catalog: Catalog) -> Optional[str]:
    s = provisional({**answers, "context.utilization": None, "context.have_a100_fleet": False}, catalog)
    if s is None:
        return None
    values = factmod.build(s, catalog).values
    match = values.get("compare.h100_vs_a100.a100_break_even_utilization")
    if match is None:
        return None
    return (f"for reference: A100s {match:.0%} busy match H100's cost per token for {factmod.model_of(s, catalog).id}"
            if match <= 1 else "for reference: A100 cannot match H100's cost per token even fully busy")


# Figures shown once the answers they depend on are in, or just before the question they inform.
FIGURES_AFTER = {"workload.output_tokens": workload_figures,
                 KEEP_WORKLOAD: lambda a, c: workload_figures(a, c) if a.get(KEEP_WORKLOAD) else None}
FIGURES_BEFORE = {"context.monthly_budget_usd": budget_figures, "context.utilization": utilization_figures}


@dataclass
class Session:
    """One run of the questions, asked with questionary; ``say`` prints a figure, ``help`` a help line."""

    catalog: Catalog
    prefill: Answers = field(default_factory=dict)
    say: Callable[[str], None] = print
    help: Callable[[str], None] = print

    def default_for(self, q: Question, answers: Answers):
        """Where every default comes from: the pre-filled file, else the question's own default."""
        if q.name in self.prefill:
            return self.prefill[q.name]
        return q.default_value(answers, self.catalog)

    def run(self) -> Answers:
        import questionary

        answers: Answers = dict(self.prefill)
        for q in questions(self.catalog):
            if not q.when(answers):
                if not q.name.startswith("_") and q.name not in self.prefill:
                    answers.pop(q.name, None)  # a skipped question is not recorded
                continue
            self._show(FIGURES_BEFORE.get(q.name), answers)
            self.help(q.help)
            answers[q.name] = self._ask(questionary, q, self.default_for(q, answers), answers)
            self._show(FIGURES_AFTER.get(q.name), answers)
        return settle(answers)

    def _show(self, figure, answers: Answers) -> None:
        if figure and (text := figure(answers, self.catalog)):
            self.say(text)

    def _ask(self, questionary, q: Question, default, answers: Answers):
        message = q.message_for(answers, self.catalog)
        if q.kind == "confirm":
            return bool(questionary.confirm(message, default=bool(default)).unsafe_ask())
        if q.kind == "select":
            choices = [questionary.Choice(label, value=value) for value, label in q.choices]
            chosen = next((c for c in choices if c.value == (UNSET if default is None else default)), choices[0])
            value = questionary.select(message, choices=choices, default=chosen).unsafe_ask()
            return None if value == UNSET else value

        def check(text: str):
            if not text.strip() and q.optional:
                return True
            try:
                parse_number(text, q)
            except ValueError as exc:
                return str(exc)
            return True

        shown = "" if default is None else f"{default:g}" if isinstance(default, float) else str(default)
        text = questionary.text(message, default=shown, validate=check).unsafe_ask()
        return None if not text.strip() and q.optional else parse_number(text, q)


# --- the command -------------------------------------------------------------------------------------


def ask(args) -> int:
    if not sys.stdin.isatty():
        raise UsageError("advisor ask asks questions and needs a terminal", "without one, decide a saved scenario: advisor run FILE")
    from prompt_toolkit.application import create_app_session
    from prompt_toolkit.output import create_output

    from ..decide.decision import Advisor

    advisor = Advisor(args.rules)
    prefill, name = _prefill(args)
    screen = sys.stdout if sys.stdout.isatty() else sys.stderr  # prompts never mix with data on a pipe
    with create_app_session(output=create_output(stdout=screen)):
        import questionary

        session = Session(advisor.catalog, prefill, say=lambda text: questionary.print(text, style="fg:ansicyan"),
                          help=lambda text: questionary.print(text, style="fg:ansibrightblack"))
        data = to_scenario(session.run(), advisor.catalog, name)
        decision = _decide_and_record(args, advisor, data, name)
        _show_result(args, advisor, decision)
        _offer_to_save(args, data, name)
    return 0


def _prefill(args) -> tuple[Answers, str]:
    """Answers from ``--from``, and the scenario's name (the --save file's stem, when given)."""
    prefill, name = {}, "guided-session"
    if args.from_file:
        loaded = first_scenario(args.from_file)
        prefill, name = from_scenario(loaded.scenario), loaded.scenario.name
    if args.save:
        name = Path(args.save).stem
        _check_writable(Path(args.save))
    return prefill, name


def _decide_and_record(args, advisor, data: dict, name: str):
    from ..audit.store import rows_of
    from .recording import recorder

    loaded = scenario_files.from_data(data, args.save or "<ask>", name)
    if loaded.error:
        raise InputError(loaded.error)
    decision = advisor.decide(loaded.scenario, loaded.source, data)
    with recorder(args, advisor.book) as record:
        record(rows_of(decision))
    return decision


def _show_result(args, advisor, decision) -> None:
    from ..render import term
    from ..render.decisions import DecisionStream, ask_summary, decision_piece

    palette = term.Palette(term.colour_enabled(sys.stdout))
    if args.format == "table":
        print("\n" + ask_summary(decision, palette, recorded=not args.no_audit, width=term.width(sys.stdout)))
    else:
        out = DecisionStream(args.format, sys.stdout)
        out.write(decision_piece(decision, args.format, palette))
        out.close([])
    sys.stdout.flush()


def _offer_to_save(args, data: dict, name: str) -> None:
    import questionary

    target = args.save
    if target is None and questionary.confirm("Save these answers as a scenario file?", default=False).unsafe_ask():
        target = questionary.text("File name?", default=f"{name}.yaml", validate=_writable_answer).unsafe_ask()
    if target:
        scenario_files.save(Path(target), data)
        print(f"advisor: saved {target}; decide it again with: advisor run {target}", file=sys.stderr)


def _writable_answer(text: str):
    """The file name typed at the end of a session: never an existing file (--save may overwrite)."""
    if Path(text.strip()).exists():
        return f"{text.strip()} exists: choose another name"
    try:
        _check_writable(Path(text.strip()))
    except Exception as exc:  # noqa: BLE001 - the reason is shown in place
        return str(exc)
    return True


def _check_writable(path: Path) -> None:
    if not path.name or path.is_dir():
        raise UsageError(f"{path} is a directory", "give a file name such as my-team.yaml")
    if not path.parent.is_dir():
        raise UsageError(f"{path.parent} is not a directory", "create it first or choose another place")
    if path.suffix not in (".yaml", ".yml"):
        raise UsageError(f"{path} does not end in .yaml or .yml", "`advisor run` reads *.yaml and *.yml")


def first_scenario(path: str):
    source, raw = scenario_files.read_source(path)
    loaded = scenario_files.parse(source, raw)[0]
    if loaded.error:
        raise InputError(loaded.error)
    return loaded
