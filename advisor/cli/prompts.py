"""How `advisor ask` asks: questionary's prompts on a terminal, plain lines of text on
``TERM=dumb`` (a terminal that shows escape codes as text), and its own SIGINT handling, so that a
Ctrl-C ends the session wherever it comes. The only module that imports questionary and
prompt_toolkit; it imports them when a question is first asked."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Optional

from ..errors import printable


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

    def select(self, message: str, choices: list, default, back: bool = False, on_shown: Optional[Callable[[], None]] = None):
        """``on_shown`` is called once the question is on screen."""
        import questionary

        options = [questionary.Choice(printable(label), value=value) for value, label in choices]
        chosen = next((c for c in options if c.value == default), options[0])
        if back:
            options.append(questionary.Choice(BACK_CHOICE, value=BACK))
        return _asked(questionary.select(printable(message), choices=options, default=chosen), on_shown=on_shown)

    def text(self, message: str, default: str, validate: Callable[[str], object], back: bool = False):
        import questionary

        hint = f"({BACK_TEXT} goes back) " if back else None
        answer = _asked(questionary.text(printable(message), default=default, validate=validate, instruction=hint))
        return BACK if back and answer.strip() == BACK_TEXT else answer


def _asked(question, back_key: Optional[str] = None, on_shown: Optional[Callable[[], None]] = None):
    """The question's answer; ``back_key`` ends it with BACK (prompt_toolkit runs the most
    specific binding); ``on_shown`` runs after the question is first drawn. prompt_toolkit's own
    SIGINT handling is off: ``_interrupts`` handles it."""
    if back_key:
        from prompt_toolkit.key_binding import KeyBindings, merge_key_bindings

        bindings = KeyBindings()

        @bindings.add(back_key, eager=True)
        def _back(event):
            event.app.exit(result=BACK)

        question.application.key_bindings = merge_key_bindings([question.application.key_bindings, bindings])
    app = question.application
    if on_shown is not None:
        def shown(_app) -> None:
            app.after_render -= shown
            on_shown()

        app.after_render += shown
    _SIGINT.asking = True
    try:
        answer = app.run(handle_sigint=False, pre_run=lambda: _SIGINT.received and _end(app))
    finally:
        _SIGINT.asking = False
    if _SIGINT.received:  # the question ended with an answer as the signal came: the session ends all the same
        raise KeyboardInterrupt
    return answer


class _SigintState:
    """Whether a question is being asked (from before its application starts until after it
    ends), and whether a SIGINT came meanwhile."""

    asking = False
    received = False


_SIGINT = _SigintState()


def _end(app) -> None:
    """End a question's application as its Ctrl-C key does."""
    if app.future is not None and not app.future.done():
        app.exit(exception=KeyboardInterrupt, style="class:aborting")


@contextmanager
def _interrupts():
    """SIGINT ends the session wherever it is, for as long as it lasts. Left to them, asyncio
    (``asyncio.run`` cancels its task on a first SIGINT, which prompt_toolkit may absorb) and
    prompt_toolkit (which turns the signal into a ``<sigint>`` key that questionary's prompts
    ignore) lost a Ctrl-C sent while a question was starting, or a ``kill -INT``: the session
    waited for ever. While a question is asked, the signal is noted and its application ended
    from its event loop, or as it starts (``pre_run``), or ``_asked`` raises once it is over:
    raising inside the loop, or before it runs, would leave its tasks or its coroutine pending.
    Otherwise the signal raises KeyboardInterrupt. A handler that is not
    ``signal.default_int_handler`` keeps asyncio's away."""
    import signal

    from prompt_toolkit.application.current import get_app_or_none

    def interrupted(signum, frame):
        if not _SIGINT.asking:
            raise KeyboardInterrupt
        _SIGINT.received = True
        app = get_app_or_none()
        if app is not None and app.loop is not None:
            app.loop.call_soon_threadsafe(_end, app)

    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


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

    def select(self, message: str, choices: list, default, back: bool = False, on_shown: Optional[Callable[[], None]] = None):
        default = default if any(value == default for value, _ in choices) else choices[0][0]
        choices = list(choices) + ([(BACK, BACK_CHOICE)] if back else [])
        self.say(f"? {message}")
        for number, (value, label) in enumerate(choices, 1):
            self.say(f"  {number}) {label}" + ("  (default)" if value == default else ""))
        if on_shown is not None:
            on_shown()
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


@contextmanager
def prompting(screen):
    """(prompts, say, help) for this terminal: questionary's, or plain lines on ``TERM=dumb``."""
    from ..render import term

    if term.dumb_terminal():
        prompts = PlainPrompts(screen)
        yield prompts, prompts.say, prompts.say
        return
    from prompt_toolkit.application import create_app_session
    from prompt_toolkit.output import create_output

    with create_app_session(output=create_output(stdout=screen)), _interrupts():
        import questionary

        yield (QuestionaryPrompts(), lambda text: questionary.print(printable(text), style="fg:ansicyan"),
               lambda text: questionary.print(printable(text), style="fg:ansibrightblack"))
