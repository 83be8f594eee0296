"""`advisor ask`: the guided session from start to end: load the advisor (behind the first
question when it can: ``quickstart``), ask the questions (``session``, through ``prompts``),
decide, record, show the result and offer to save the answers. What can be checked before the
first question is (the --from scenario, the --save file, the --rules directory), so that a
session is never lost at the end. The modules that need pydantic are imported once the first
question is on screen; a kept first question is drawn before even questionary is imported
(``prompts.EarlySelect``), and keys pressed meanwhile wait for its prompt.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

from ..errors import InputError, UsageError, display_path, printable
from . import quickstart
from .prompts import EarlySelect, prompting


def ask(args) -> int:
    if not sys.stdin.isatty():
        raise UsageError("advisor ask asks questions and needs a terminal", "without one, decide a saved scenario: advisor run FILE")
    loading = quickstart.Loading(lambda: _load(args.rules))
    first = None if (args.from_file or args.save or args.rules) else quickstart.cached()
    if first is None:
        loading.result()  # everything the user gave is checked before the first question
    screen = sys.stdout if sys.stdout.isatty() else sys.stderr  # prompts never mix with data on a pipe
    early = None
    if first is not None:  # on screen before the prompts' library is imported
        from ..render.term import colour_enabled

        early = EarlySelect.draw(screen, first.help, first.message, first.choices, first.default, colour_enabled(screen))
    try:
        return _session(args, loading, first, early, screen)
    finally:
        if early is not None:
            early.restore()


def _session(args, loading, first, early, screen) -> int:
    with prompting(screen) as (prompts, say, help_):
        try:
            answer = None
            if first is not None:
                if early is None:
                    help_(first.help)
                answer = prompts.select(first.message, list(first.choices), first.default, on_shown=loading.start, early=early)
            advisor = loading.result()
            from ..scenario.questions import to_scenario
            from .session import Session, first_question

            shown = first_question(advisor.catalog)
            if shown is not None and shown != first:  # the one on screen came from the cache and is current
                quickstart.remember(shown)
            prefill, name = _prefill(args, advisor.catalog, prompts)
            session = Session(advisor.catalog, prefill, say=say, help=help_, prompts=prompts)
            data = to_scenario(session.run(first=(first.name, answer) if first is not None else None), advisor.catalog, name)
            decision = _decide_and_record(args, advisor, data, name)
            _show_result(args, advisor, decision)
            _offer_to_save(args, data, name, prompts)
        except EOFError:
            raise UsageError("the input ended before every question was answered", "nothing was saved") from None
    return 0


def _load(rules: Optional[str]):
    from ..decide.decision import Advisor

    return Advisor(rules)


def _prefill(args, catalog, prompts) -> tuple[dict, str]:
    """Answers from ``--from``, and the scenario's name (the --save file's stem, when given).
    Everything that can be checked before the questions is: the --from scenario (against the
    catalogs too) and the --save file (its name, where it goes, whether it is the --from file)."""
    from ..scenario import files as scenario_files
    from ..scenario.questions import from_scenario

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
    from ..scenario import files as scenario_files
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
    from ..scenario import files as scenario_files

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
    from ..scenario.spec import NAME_MAX_CHARS

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
