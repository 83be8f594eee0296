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

    def select(self, message: str, choices: list, default, back: bool = False, on_shown: Optional[Callable[[], None]] = None,
               early: Optional["EarlySelect"] = None):
        """``on_shown`` is called once the question is on screen; ``early``: the question drawn
        before questionary was imported, replaced by this prompt as it starts."""
        import questionary

        options = [questionary.Choice(printable(label), value=value) for value, label in choices]
        chosen = next((c for c in options if c.value == default), options[0])
        if back:
            options.append(questionary.Choice(BACK_CHOICE, value=BACK))
        question = questionary.select(printable(message), choices=options, default=chosen)
        if early is None:
            return _asked(question, on_shown=on_shown)
        try:
            return _asked(question, on_shown=on_shown, before=early.erase)
        finally:
            early.restore()

    def text(self, message: str, default: str, validate: Callable[[str], object], back: bool = False):
        import questionary

        hint = f"({BACK_TEXT} goes back) " if back else None
        answer = _asked(questionary.text(printable(message), default=default, validate=validate, instruction=hint))
        return BACK if back and answer.strip() == BACK_TEXT else answer


def _asked(question, back_key: Optional[str] = None, on_shown: Optional[Callable[[], None]] = None,
           before: Optional[Callable[[], None]] = None):
    """The question's answer; ``back_key`` ends it with BACK (prompt_toolkit runs the most
    specific binding); ``on_shown`` runs after the question is first drawn, ``before`` just
    before. prompt_toolkit's own SIGINT handling is off: ``_interrupts`` handles it."""
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
    def pre_run() -> None:
        if before is not None:
            before()
        if _SIGINT.received:
            _end(app)

    _SIGINT.asking = True
    try:
        answer = app.run(handle_sigint=False, pre_run=pre_run)
    finally:
        _SIGINT.asking = False
    if _SIGINT.received:  # the question ended with an answer as the signal came: the session ends all the same
        raise KeyboardInterrupt
    return answer


class EarlySelect:
    """A select question drawn before questionary is imported (importing it takes 0.1-0.3 s), so
    that it is on screen at once: the lines questionary's select draws first, its help above
    them. Until the prompt starts, the terminal neither echoes nor edits lines, so keys pressed
    meanwhile wait, untouched, for the prompt to read them; the prompt erases these lines and
    draws itself in their place (``erase``), and ``restore`` gives the terminal back its modes.
    ``draw`` returns None where that cannot be done exactly: not a terminal, ``TERM=dumb``, a
    screen too small for the question."""

    def __init__(self, screen, fd: int, modes: list, rows: int):
        self.screen, self.fd, self.modes, self.rows = screen, fd, modes, rows
        self.shown = self.erased = self.restored = False

    @classmethod
    def draw(cls, screen, help_text: str, message: str, choices: list, default, colour: bool) -> Optional["EarlySelect"]:
        import os
        import termios

        from ..render import term

        try:
            fd = sys.stdin.fileno()
            if term.dumb_terminal() or not (screen.isatty() and os.isatty(fd)):
                return None
            modes = termios.tcgetattr(fd)
        except (OSError, ValueError, termios.error):
            return None
        columns, lines = term.size(screen)
        rows = 1 + len(choices)
        if columns < 40 or rows + 2 > lines:
            return None
        quiet = list(modes)
        quiet[3] &= ~(termios.ECHO | termios.ICANON)  # lflag: keys wait unseen; Ctrl-C still signals
        quiet[6] = list(quiet[6])
        quiet[6][termios.VMIN], quiet[6][termios.VTIME] = 1, 0
        paint = (lambda code, text: f"\x1b[{code}m{text}\x1b[0m") if colour else (lambda code, text: text)
        instruction = "(Use arrow keys)"
        fit = lambda text, room: _clipped(printable(text), room)  # noqa: E731 - one row each, never wrapped
        out = [paint("0;90", printable(help_text)) + "\n"] if help_text else []
        out.append(paint("0;38;5;67", "?") + paint("0;1", f" {fit(message, columns - len(instruction) - 5)} ") + instruction)
        for value, label in choices:
            out.append("\n" + (" » " + paint("7", fit(label, columns - 4)) if value == default else "   " + fit(label, columns - 4)))
        drawn = cls(screen, fd, modes, rows)
        try:
            termios.tcsetattr(fd, termios.TCSANOW, quiet)  # TCSANOW: nothing typed is dropped
            screen.write("".join(out))
            screen.flush()
            drawn.shown = True
        except termios.error:
            drawn.restore()
            return None
        except BaseException:  # the screen went away, or a signal came: the terminal's modes back first
            drawn.restore()
            raise
        return drawn

    def erase(self) -> None:
        """Take the drawn question off the screen (the prompt draws itself where it began)."""
        if not self.erased:
            self.erased = True
            self.screen.write(f"\r\x1b[{self.rows - 1}A\x1b[J" if self.rows > 1 else "\r\x1b[J")
            self.screen.flush()

    def restore(self) -> None:
        """The terminal's modes as they were before ``draw``; below the drawn lines when no prompt
        replaced them (the session ended first), so that what follows starts a line of its own."""
        import termios

        if not self.restored:
            self.restored = True
            try:
                termios.tcsetattr(self.fd, termios.TCSANOW, self.modes)
            except termios.error:
                pass
            if self.shown and not self.erased:
                try:
                    self.screen.write("\n")
                    self.screen.flush()
                except (OSError, ValueError):
                    pass


def _clipped(text: str, columns: int) -> str:
    """``text`` in at most ``columns`` terminal columns (a wide character counts two), "…" where cut."""
    import unicodedata

    used = 0
    for index, char in enumerate(text):
        used += 2 if unicodedata.east_asian_width(char) in "WF" else 1
        if used > columns:
            return text[: max(0, index - 1)] + "…"
    return text


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

    def select(self, message: str, choices: list, default, back: bool = False, on_shown: Optional[Callable[[], None]] = None,
               early: Optional[EarlySelect] = None):
        """``early`` is always None here: nothing is drawn early on a terminal without cursor movement."""
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
