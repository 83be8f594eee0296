"""`advisor ask`: the guided session's loop, the figures it shows, and what follows the answers.

The questions themselves are data (``advisor.scenario.questions``); this module asks them with
questionary (or as plain lines of text on ``TERM=dumb``, a terminal that shows escape codes as
text), lets every question after the first go back to the one before, shows figures where they
help the next answer (the plans for the workload and load answered, against a budget; the
utilization at which A100 matches H100), then decides,
records, shows the result and offers to save the answers. What can be checked before the first
question is (the --from scenario, the --save file), so that a session is never lost at the end.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from ..catalog.load import Catalog
from ..decide import facts as factmod
from ..defaults import A100, H100
from ..errors import InputError, UsageError, display_path, printable
from ..scenario import files as scenario_files
from ..scenario.spec import NAME_MAX_CHARS
from ..scenario.questions import UNSET, Answers, Question, from_scenario, parse_number, provisional, questions, settle, to_scenario


# --- figures shown during the session -------------------------------------------------------------


def _plans_summary(answers: Answers, catalog: Catalog) -> Optional[str]:
    """The cheapest plan and the seed pair's, for the workload and load answered so far."""
    s = provisional(answers, catalog)
    if s is None:
        return None
    f = factmod.build(s, catalog)
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


def workload_figures(answers: Answers, catalog: Catalog) -> Optional[str]:
    summary = _plans_summary(answers, catalog)
    if summary is None:
        return None
    s = provisional(answers, catalog)
    model = factmod.model_of(s, catalog)
    weights = factmod.build(s, catalog).values["workload.weights_gb"]
    return f"{model.id} at {s.precision}: {weights:.0f} GB of weights; plans for {summary}"


def budget_figures(answers: Answers, catalog: Catalog) -> Optional[str]:
    summary = _plans_summary(answers, catalog)
    return f"for reference, at {summary}" if summary else None


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
FIGURES_AFTER = {"workload.ttft_ms": workload_figures}
FIGURES_BEFORE = {"context.monthly_budget_usd": budget_figures, "context.utilization": utilization_figures}


# --- prompts -------------------------------------------------------------------------------------


class Back:
    """The answer "go back to the previous question"."""

    def __repr__(self) -> str:
        return "BACK"


BACK = Back()
BACK_CHOICE = "<- back"
BACK_TEXT = "<"  # typed as the answer to a text question


class QuestionaryPrompts:
    """Questions asked with questionary (arrow keys, answers edited in place). A message may show
    values from the --from file: it is shown ``printable``. With ``back``, a select has a back
    choice, a confirm takes b, and a text question takes < as its answer."""

    def confirm(self, message: str, default: bool, back: bool = False):
        import questionary

        hint = ("(Y/n, b goes back) " if default else "(y/N, b goes back) ") if back else None
        question = questionary.confirm(printable(message), default=default, instruction=hint)
        answer = _asked(question, back_key="b" if back else None)
        return answer if answer is BACK else bool(answer)

    def select(self, message: str, choices: list, default, back: bool = False):
        import questionary

        options = [questionary.Choice(printable(label), value=value) for value, label in choices]
        chosen = next((c for c in options if c.value == default), options[0])
        if back:
            options.append(questionary.Choice(BACK_CHOICE, value=BACK))
        return _asked(questionary.select(printable(message), choices=options, default=chosen))

    def text(self, message: str, default: str, validate: Callable[[str], object], back: bool = False):
        import questionary

        hint = f"({BACK_TEXT} goes back) " if back else None
        answer = _asked(questionary.text(printable(message), default=default, validate=validate, instruction=hint))
        return BACK if back and answer.strip() == BACK_TEXT else answer


def _asked(question, back_key: Optional[str] = None):
    """The question's answer. A SIGINT ends it as Ctrl-C does: prompt_toolkit turns the signal
    into a ``<sigint>`` key that questionary's prompts ignore, so one sent before the terminal
    is in raw mode (or by ``kill -INT``) would leave the session waiting. ``back_key`` ends the
    question with BACK (prompt_toolkit runs the most specific binding)."""
    from prompt_toolkit.key_binding import KeyBindings, merge_key_bindings
    from prompt_toolkit.keys import Keys

    bindings = KeyBindings()

    @bindings.add(Keys.SIGINT, eager=True)
    def _interrupted(event):
        event.app.exit(exception=KeyboardInterrupt, style="class:aborting")

    if back_key:
        @bindings.add(back_key, eager=True)
        def _back(event):
            event.app.exit(result=BACK)

    question.application.key_bindings = merge_key_bindings([question.application.key_bindings, bindings])
    return question.unsafe_ask()


class PlainPrompts:
    """Questions as lines of text, for a terminal that shows escape codes as text (``TERM=dumb``):
    no cursor movement and no colour; Enter keeps the default, a choice is picked by its number,
    b (or <) goes back."""

    def __init__(self, screen=None, stdin=None):
        self.screen, self.stdin = screen or sys.stdout, stdin or sys.stdin

    def say(self, text: str) -> None:
        self.screen.write(printable(text) + "\n")
        self.screen.flush()

    def _read(self, prompt: str) -> str:
        self.screen.write(printable(prompt))
        self.screen.flush()
        line = self.stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\r\n")

    def confirm(self, message: str, default: bool, back: bool = False):
        while True:
            answer = self._read(f"? {message} ({'Y/n' if default else 'y/N'}{', b goes back' if back else ''}) ").strip().lower()
            if not answer:
                return default
            if back and answer in ("b", "back", BACK_TEXT):
                return BACK
            if answer in ("y", "yes", "n", "no"):
                return answer.startswith("y")
            self.say("  answer y or n (Enter keeps the default)")

    def select(self, message: str, choices: list, default, back: bool = False):
        default = default if any(value == default for value, _ in choices) else choices[0][0]
        choices = list(choices) + ([(BACK, BACK_CHOICE)] if back else [])
        self.say(f"? {message}")
        for number, (value, label) in enumerate(choices, 1):
            self.say(f"  {number}) {label}" + ("  (default)" if value == default else ""))
        while True:
            answer = self._read(f"  1-{len(choices)}, Enter for the default: ").strip()
            if not answer:
                return default
            if back and answer in ("b", "back", BACK_TEXT):
                return BACK
            if answer.isdigit() and 1 <= int(answer) <= len(choices):
                return choices[int(answer) - 1][0]
            named = [value for value, label in choices if answer in (str(value), label)]
            if named:
                return named[0]
            self.say(f"  a number from 1 to {len(choices)}")

    def text(self, message: str, default: str, validate: Callable[[str], object], back: bool = False):
        while True:
            answer = self._read(f"? {message} " + (f"[{default}] " if default else "") + (f"({BACK_TEXT} goes back) " if back else ""))
            if back and answer.strip() == BACK_TEXT:
                return BACK
            if not answer.strip():
                answer = default
            verdict = validate(answer)
            if verdict is True:
                return answer
            self.say(f"  {verdict}")


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

    def default_for(self, q: Question, answers: Answers):
        """Where every default comes from: this session's last answer to it, the pre-filled file,
        else the question's own default."""
        if q.name in self.given:
            return self.given[q.name]
        if q.name in self.prefill:
            return self.prefill[q.name]
        return q.default_value(answers, self.catalog)

    def run(self) -> Answers:
        asked = questions(self.catalog)
        answers: Answers = dict(self.prefill)
        history: list[tuple[int, Answers]] = []  # (question asked, the answers before it)
        i = 0
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
        if figure and (text := figure(answers, self.catalog)):
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


# --- the command -------------------------------------------------------------------------------------


def ask(args) -> int:
    if not sys.stdin.isatty():
        raise UsageError("advisor ask asks questions and needs a terminal", "without one, decide a saved scenario: advisor run FILE")
    from ..decide.decision import Advisor

    advisor = Advisor(args.rules)
    screen = sys.stdout if sys.stdout.isatty() else sys.stderr  # prompts never mix with data on a pipe
    with _prompting(screen) as (prompts, say, help_):
        try:
            prefill, name = _prefill(args, advisor.catalog, prompts)
            session = Session(advisor.catalog, prefill, say=say, help=help_, prompts=prompts)
            data = to_scenario(session.run(), advisor.catalog, name)
            decision = _decide_and_record(args, advisor, data, name)
            _show_result(args, advisor, decision)
            _offer_to_save(args, data, name, prompts)
        except EOFError:
            raise UsageError("the input ended before every question was answered", "nothing was saved") from None
    return 0


@contextmanager
def _prompting(screen):
    """(prompts, say, help) for this terminal: questionary's, or plain lines on ``TERM=dumb``."""
    from ..render import term

    if term.dumb_terminal():
        prompts = PlainPrompts(screen)
        yield prompts, prompts.say, prompts.say
        return
    from prompt_toolkit.application import create_app_session
    from prompt_toolkit.output import create_output

    with create_app_session(output=create_output(stdout=screen)):
        import questionary

        yield (QuestionaryPrompts(), lambda text: questionary.print(printable(text), style="fg:ansicyan"),
               lambda text: questionary.print(printable(text), style="fg:ansibrightblack"))


def _prefill(args, catalog: Catalog, prompts) -> tuple[Answers, str]:
    """Answers from ``--from``, and the scenario's name (the --save file's stem, when given).
    Everything that can be checked before the questions is: the --from scenario (against the
    catalogs too) and the --save file (its name, where it goes, whether it is the --from file)."""
    prefill, name = {}, "guided-session"
    if args.from_file:
        loaded = scenario_files.first_scenario(args.from_file, catalog)
        prefill, name = from_scenario(loaded.scenario), loaded.scenario.name
    if args.save:
        target = Path(args.save)
        _check_writable(target)
        name = display_path(target.stem)
        if args.from_file and _same_file(args.from_file, args.save) and not prompts.confirm(
                f"{display_path(args.save)} is the --from file: replace it with this session's answers at the end?", False):
            raise UsageError(f"{display_path(args.save)} is the --from file: not overwritten",
                             "choose another --save file to keep both")
    return prefill, name


def _same_file(first: str, second: str) -> bool:
    try:
        return os.path.samefile(first, second)
    except OSError:  # the --save file does not exist yet
        return False


def _decide_and_record(args, advisor, data: dict, name: str):
    from ..audit.store import rows_of
    from .recording import recorder

    loaded = scenario_files.from_data(data, display_path(args.save) if args.save else "<ask>", name)
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


def _offer_to_save(args, data: dict, name: str, prompts) -> None:
    target = args.save
    if target is None and prompts.confirm("Save these answers as a scenario file?", False):
        target = prompts.text("File name?", f"{name}.yaml", _writable_answer)
    if target:
        scenario_files.save(Path(target), data)
        print(f"advisor: saved {printable(display_path(target))}; decide it again with: advisor run {printable(display_path(target))}",
              file=sys.stderr)


def _writable_answer(text: str):
    """The file name typed at the end of a session: never an existing file (--save may overwrite)."""
    path = Path(text.strip())
    try:
        _check_writable(path)
        if path.exists():
            return f"{printable(display_path(text.strip()))} exists: choose another name"
    except UsageError as exc:  # the reason is shown in place
        return str(exc)
    except OSError as exc:
        return f"cannot save there ({exc.strerror})"
    return True


def _check_writable(path: Path) -> None:
    """A scenario file can be saved at ``path``; checked before any question is asked, so that a
    session is never lost to a name that cannot be saved."""
    shown = printable(display_path(path))
    parent = path.parent
    try:
        if not path.name or (len(os.fsencode(path.name)) <= _name_max(parent) and path.is_dir()):
            raise UsageError(f"{shown} is a directory", "give a file name such as my-team.yaml")
        if not parent.is_dir():
            raise UsageError(f"{printable(display_path(parent))} is not a directory", "create it first or choose another place")
    except OSError as exc:
        raise UsageError(f"cannot save {shown} ({exc.strerror})", "choose another place") from None
    if path.suffix not in (".yaml", ".yml"):
        raise UsageError(f"{shown} does not end in .yaml or .yml", "`advisor run` reads *.yaml and *.yml")
    if len(path.stem) > NAME_MAX_CHARS:
        raise UsageError(f"the file name's stem is {len(path.stem)} characters and becomes the scenario's name, which has at most "
                         f"{NAME_MAX_CHARS}", "choose a shorter name")
    limit = _name_max(parent)
    if len(os.fsencode(path.name)) > limit:
        raise UsageError(f"the file name is {len(os.fsencode(path.name))} bytes; this file system takes at most {limit}",
                         "choose a shorter name")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write in {printable(display_path(parent))} (permission denied)", "choose another place")


def _name_max(directory: Path) -> int:
    try:
        return os.pathconf(directory, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255
