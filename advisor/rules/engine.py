"""The durable-rules engine, driven through its C core, with every one of its limits contained here.

durable-rules 2.0.28 is two layers: a C core (``durable_rules_engine``: the Rete network, sessions,
the agenda) and a Python layer (``durable.engine``: Host, Ruleset, Closure) that JSON-decodes and
re-encodes the whole session state around every action, reads the clock twice per action, starts
timer threads, and logs (and swallows) exceptions raised in actions. This module drives the C core
directly: rules compile to rulesets in durable's JSON form, and a scenario is one ``assert_fact``
per compiled ruleset, whose actions are taken from the agenda one by one with
``start_action_for_state`` / ``complete_and_start_action`` (the pair the Python layer uses) and
handled here in Python, in this thread. What this wrapper guarantees, each with a test in
tests/test_engine.py (shared/notes/durable-rules.md and the C sources for the measurements):

- the limits of the C core are never reached (see "Limits" below): a book is compiled into as
  many durable rulesets as it needs, a wide ``any`` into several alternatives; what cannot be
  compiled around is refused before anything is registered, with the rule's file:line;
- every pattern tests ``kind``, a field only real facts have (a pattern of only ``$ex``/``$nex``
  matches the session's own state fact, and each firing re-asserts it: an endless loop);
- values are validated against the fact schema before they are asserted (the core compares mixed
  types as strings, ``True == 1 == "true"``); absent facts are left out, never sent as null;
- each compiled ruleset has at most one live session, always the same sid, deleted after each
  scenario even when it fails or is interrupted (a ruleset holds at most 1,024 sessions, and the
  process segfaults soon after); a run interrupted while deleting cleans up at the next run;
- a session whose fact matched nothing can be deleted: ``createStateNode`` (state.c:828) leaves
  the session's action context uninitialised and ``deleteStateNode`` (state.c:931) frees it, which
  crashes on a recycled heap slot unless an action once ran in that slot. So each compiled ruleset
  first runs one warm-up session whose rule fires; every later session reuses that pool slot
  (the pool is LIFO and never holds two of our sessions), whose context is then NULL;
- only ``start_action_for_state`` is used, never ``start_action`` or ``assert_timers`` (they walk
  ``reverseStateIndex``, which ``delete_state`` leaves stale: a use-after-free);
- the core never releases the GIL and has no locks: one lock serialises every call into it;
- an exception raised while handling an action is raised to the caller (an EngineError naming the
  ruleset), and a KeyboardInterrupt stays a KeyboardInterrupt, with no traceback printed;
- a rule fires at most once per scenario, however many of its alternatives match;
- derived flags are facts asserted into the sessions that read them; a rule sees the flags of its
  own ruleset and of earlier ones, never of a later one, whatever ruleset the compiler put it in;
- a session allocates about 8 KB per rule (``betaStateNode`` holds two 4 KB indexes, state.h:155)
  in one block and frees it at delete_state; glibc serves such a block with mmap (or trims the
  heap top after it) and the next session faults the pages back in, which made each scenario 4
  times slower: the engine sets ``mallopt(M_MMAP_THRESHOLD)`` and ``mallopt(M_TOP_PAD)`` once per
  process, where the C library has them;
- numbers whose JSON has an exponent without a fraction fail in the core's parser (schema's
  MIN/MAX_NUMBER); strings longer than ``MAX_STRING`` are refused (a value's JSON is capped at
  16 MB, state.h:22).

Limits of the C core (durable-rules 2.0.28 sources, src/rules/) and how each is contained:

- ``MAX_STACK_SIZE 64`` (events.c:18): tests pending at once while one fact walks the alpha
  network; 65 give error 303 and a later crash in delete_state. Each pending test lies on a
  distinct root-to-rule path of the network (a test is pushed only after its parent is popped), so
  a compiled ruleset whose patterns have at most ``PATHS`` paths in all can never exceed it:
  rules are packed into compiled rulesets by that count (a pattern's paths: the product of its
  alternatives);
- ``NEXT_BUCKET_LENGTH 512`` (rules.h:47: tests under one test; 512 hang every assert reaching it,
  513 hang create_ruleset), ``BETA_LIST_LENGTH 256`` (rules.h:49, patterns ending on one test),
  ``NEXT_LIST_LENGTH 128`` (rules.h:48, absent-tests and ``$or`` exits under one test) and
  ``MAX_ACTIONS 4096`` (rete.c:41, rules per ruleset): each counts at most one per path, so ``PATHS``
  bounds them too;
- ``MAX_SEQUENCE_EXPRESSIONS 32`` (rete.h:41, error 113): 2 slots per ``$and`` / ``$or`` in one
  pattern, comparisons with constants none. Conditions compile without ``$ex`` guards (the core
  evaluates a test only on facts that have its field), and a pattern needing more slots is split
  into alternatives;
- ``MAX_OBJECT_PROPERTIES 255`` (state.h:20, error 302): a compiled ruleset reads at most
  ``FIELDS`` facts; a rule reading more is refused;
- ``MAX_MESSAGE_FRAMES 16`` (state.h:23, error 304): facts joined by one rule; a rule may read at
  most 15 derived flags, more are refused;
- ``MAX_HANDLES 131072`` (rules.h:56): rulesets per process; a book may compile to at most
  ``RULESETS``.
"""

from __future__ import annotations

import json
import math
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Optional

import durable_rules_engine as _core

from ..errors import AdvisorError, DataError
from .evaluator import Firing
from .language import DERIVED, All, Compare, Condition, Problem, Rule, RuleBook, facts_of, leaves
from .normal import MAX_ALTERNATIVES, Partition, TooManyAlternatives, boxes, partitions
from .schema import MAX_NUMBER, MIN_NUMBER, FactSpec

KIND = "kind"  # the discriminator every compiled pattern checks
_SCENARIO, _DERIVED, _WARMUP = "scenario", "derived", "$warmup"
SID = "1"  # the one session of each compiled ruleset

# The C core's constants (durable-rules 2.0.28), and the budgets this compiler keeps below them.
MAX_STACK_SIZE = 64  # events.c:18
MAX_SEQUENCE_EXPRESSIONS = 32  # rete.h:41
MAX_OBJECT_PROPERTIES = 255  # state.h:20
MAX_MESSAGE_FRAMES = 16  # state.h:23
MAX_HANDLES = 131072  # rules.h:56
PATHS = 60  # paths of all patterns of one compiled ruleset: < MAX_STACK_SIZE, with room to spare
SLOTS = MAX_SEQUENCE_EXPRESSIONS - 1  # expression slots of one pattern
FIELDS = 240  # facts one compiled ruleset reads: sid, id and kind come on top, < MAX_OBJECT_PROPERTIES
DERIVED_READS = MAX_MESSAGE_FRAMES - 1  # derived flags one rule reads (its scenario pattern is the 16th)
RULESETS = 4096  # compiled rulesets of one book, a small share of MAX_HANDLES
MAX_STRING = 1_000_000  # characters of a string fact (a value's JSON is capped at 16 MB, state.h:22)
TOP_PAD = 16 << 20  # bytes glibc keeps at the top of the heap instead of returning them after each session
MMAP_THRESHOLD = 32 << 20  # blocks below this come from the heap, not from mmap (glibc's largest setting)
_M_TOP_PAD, _M_MMAP_THRESHOLD = -2, -3  # malloc.h

_OPS = {"ne": "$neq", "lt": "$lt", "le": "$lte", "gt": "$gt", "ge": "$gte"}
_CORE_ERRORS = {302: "a fact with too many properties", 303: "too many tests pending at once",
                304: "too many facts joined by one rule", 314: "a value longer than 16 MB"}


class EngineError(AdvisorError):
    """The engine failed on a scenario; the batch reports it and goes on."""

    exit_code = 2

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.detail = detail  # the fact at fault, when a value was refused


_ENGINES: dict[str, "Engine"] = {}
_heap_padded: Optional[bool] = None  # whether mallopt(M_TOP_PAD) took (None: not tried yet)
_LOCK = threading.RLock()  # the core has no locks and keeps the GIL: one caller at a time
_NAMES = iter(range(1, 1 << 62))


def for_book(book: RuleBook, schema: dict[str, FactSpec]) -> "Engine":
    """The engine of a rules revision, compiled and registered once per process.

    Raises DataError, naming the rule's file:line, for a book the engine cannot run."""
    with _LOCK:
        if book.revision not in _ENGINES:
            _ENGINES[book.revision] = Engine(book, schema)
        return _ENGINES[book.revision]


def check(book: RuleBook, schema: dict[str, FactSpec]) -> list[Problem]:
    """What keeps the engine from running ``book`` (each problem with its file:line), without
    registering anything: what ``advisor rules check`` reports and ``for_book`` refuses."""
    return _plan(book, schema)[1]


# --- compilation -------------------------------------------------------------------------------


@dataclass
class _Unit:
    """One alternative of one rule: a durable rule of one compiled ruleset."""

    index: int  # its durable rule is named u<index>
    rule: Rule
    position: int  # its ruleset's position in the book
    tests: list  # [(fact, [Path])]: the scenario pattern, a path list per fact
    derived: tuple  # derived flags it reads
    paths: int

    @property
    def fields(self) -> set:
        return {fact for fact, _ in self.tests}


@dataclass
class _Compiled:
    """One durable ruleset: the units packed into it, the facts it reads."""

    units: list = field(default_factory=list)
    fields: set = field(default_factory=set)
    paths: int = 0
    derived: set = field(default_factory=set)  # distinct derived patterns (flag, ruleset position bound)
    handle: Optional[int] = None
    keys: tuple = ()  # ((fact, engine key), ...) sent in its scenario fact


def _plan(book: RuleBook, schema: dict[str, FactSpec]) -> tuple[list, list[Problem]]:
    """Units packed into compiled rulesets, and what cannot be compiled."""
    problems: list[Problem] = []
    rules = book.rules
    try:
        parts = partitions(rules, schema)
    except KeyError as exc:
        return [], [Problem(book.directory, None, f"engine: unknown fact {exc.args[0]!r}")]
    position = book.positions
    units: list[_Unit] = []
    for rule in rules:
        derived, rest = _split_derived(rule.when)
        if any(leaf.fact.startswith(DERIVED) for leaf in (leaves(rest) if rest is not None else ())):
            problems.append(Problem(rule.file, rule.line, f"{rule.id}: derived facts may be read only at the top level of all"))
            continue
        if len(derived) > DERIVED_READS:
            problems.append(Problem(rule.file, rule.line, (
                f"{rule.id} reads {len(derived)} derived facts; at most {DERIVED_READS}: durable-rules joins at most "
                f"{MAX_MESSAGE_FRAMES} facts per rule (MAX_MESSAGE_FRAMES, state.h:23), the scenario and the flags")))
            continue
        try:
            alternatives = boxes(rest, parts) if rest is not None else [{}]
        except TooManyAlternatives:
            problems.append(Problem(rule.file, rule.line, (
                f"{rule.id}: its condition expands to more than {MAX_ALTERNATIVES:,} alternatives (each any, in and not "
                f"multiplies them), the most the engine compiles for one rule: split it into several rules")))
            continue
        fields = {f for box in alternatives for f in box}
        if len(fields) > FIELDS:
            problems.append(Problem(rule.file, rule.line, (
                f"{rule.id} reads {len(fields)} facts; at most {FIELDS}: durable-rules takes at most {MAX_OBJECT_PROPERTIES} "
                f"properties in one fact (MAX_OBJECT_PROPERTIES, state.h:20)")))
            continue
        for box in alternatives:
            for tests in _fit(box, parts):
                paths = 1
                for _fact, fact_paths in tests:
                    paths *= len(fact_paths)
                units.append(_Unit(len(units), rule, position[rule.ruleset], tests, tuple(derived), paths))
    compiled = _pack(units, book)
    if len(compiled) > RULESETS:
        problems.append(Problem(book.directory, None, (
            f"the rules compile to {len(compiled):,} durable-rules rulesets; at most {RULESETS:,} "
            f"(a process holds at most {MAX_HANDLES:,}, MAX_HANDLES, rules.h:56): fewer rules, or rules with fewer alternatives")))
    return compiled, problems


def _fit(box: dict, parts: dict[str, Partition]) -> list[list]:
    """The box as patterns within the core's limits: split on its widest fact while a pattern
    would need more than SLOTS expression slots or have more than PATHS paths."""
    tests = [(fact, parts[fact].runs(box[fact])) for fact in sorted(box)]
    return _fit_tests(tests)


def _fit_tests(tests: list) -> list[list]:
    paths, slots = 1, 2
    for _fact, fact_paths in tests:
        paths *= len(fact_paths)
        if len(fact_paths) > 1:
            slots += 2 + 2 * sum(1 for p in fact_paths if len(p.tests) > 1)
    if paths <= PATHS and slots <= SLOTS:
        return [tests]
    widest = max(range(len(tests)), key=lambda i: len(tests[i][1]))
    fact, fact_paths = tests[widest]
    return [t for p in fact_paths for t in _fit_tests(tests[:widest] + [(fact, [p])] + tests[widest + 1:])]


def _pack(units: list[_Unit], book: RuleBook) -> list[_Compiled]:
    """Units in book order into compiled rulesets, each within PATHS, FIELDS and derived patterns."""
    later_asserters = _asserted_at(book)
    out: list[_Compiled] = []
    current = _Compiled()
    for unit in units:
        fields = current.fields | unit.fields
        patterns = current.derived | {_derived_pattern(flag, unit.position, later_asserters) for flag in unit.derived}
        if current.units and (current.paths + unit.paths > PATHS or len(fields) > FIELDS or len(patterns) > PATHS):
            out.append(current)
            current = _Compiled()
            fields = set(unit.fields)
            patterns = {_derived_pattern(flag, unit.position, later_asserters) for flag in unit.derived}
        current.units.append(unit)
        current.fields, current.derived = fields, patterns
        current.paths += unit.paths
    if current.units:
        out.append(current)
    return out


def _asserted_at(book: RuleBook) -> dict[str, int]:
    """Each derived flag: the position of the last ruleset that asserts it."""
    last: dict[str, int] = {}
    for i, rs in enumerate(book.rulesets):
        for rule in rs.rules:
            for flag in rule.then.asserts:
                last[flag] = i
    return last


def _derived_pattern(flag: str, position: int, last_asserter: dict) -> tuple:
    """A reader in ruleset ``position`` sees a flag asserted by its own or an earlier ruleset: when a
    later ruleset also asserts it, the pattern bounds the asserting ruleset's position."""
    return (flag, position if last_asserter.get(flag, -1) > position else None)


def _split_derived(cond: Condition) -> tuple[list[str], Optional[Condition]]:
    """Derived flags read at the top level of ``when`` (each a pattern of its own), and the rest."""
    items = list(_flatten(cond))
    derived = [c.fact[len(DERIVED):] for c in items if isinstance(c, Compare) and c.fact.startswith(DERIVED)]
    rest = [c for c in items if not (isinstance(c, Compare) and c.fact.startswith(DERIVED))]
    return list(dict.fromkeys(derived)), (All(tuple(rest)) if rest else None)


def _flatten(cond: Condition):
    if isinstance(cond, All):
        for item in cond.items:
            yield from _flatten(item)
    else:
        yield cond


def _test(key: str, op: str, value) -> dict:
    if op == "eq":
        return {key: value}
    if op == "exists":
        return {"$ex": {key: 1}}
    if op == "absent":
        return {"$nex": {key: 1}}
    return {_OPS[op]: {key: value}}


# --- the engine --------------------------------------------------------------------------------


class Engine:
    def __init__(self, book: RuleBook, schema: dict[str, FactSpec]):
        self.book = book
        self.schema = schema
        # Engine-side field names: short, collision-free, never "sid", "id", "kind" or "name".
        self._keys = {name: f"f{i}" for i, name in enumerate(sorted(schema))}
        compiled, problems = _plan(book, schema)
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise DataError(f"invalid rules: {errors[0].where}: {errors[0].message}{more}; "
                            f"see `advisor rules check {book.directory}`")
        self._compiled = compiled
        self._units = [u for c in compiled for u in c.units]
        self._units.sort(key=lambda u: u.index)
        self._position = book.positions
        read = {f for r in book.rules for f in facts_of(r.when) if not f.startswith(DERIVED)}
        self.reads = tuple(name for name in schema if name in read)  # in the fact table's order: a record's is stable
        # once: firings are on the hot path. A rule matched its scenario facts and its derived flags.
        self._reads = {r.id: (tuple(f for f in facts_of(r.when) if not f.startswith(DERIVED)),
                              dict.fromkeys((f for f in facts_of(r.when) if f.startswith(DERIVED)), True)) for r in book.rules}
        self._routes = self._derived_routes()
        self._derived_json: dict = {}
        self._live: list[int] = []  # handles with a session (deleted after each scenario)
        self._closed = False
        with _LOCK:
            _pad_heap()
            self._register()

    def _definition(self, compiled: _Compiled, last: dict) -> dict:
        definition = {}
        for unit in compiled.units:
            expr = [{KIND: _SCENARIO}]
            for fact, fact_paths in unit.tests:
                key = self._keys[fact]
                if len(fact_paths) == 1:
                    expr += [_test(key, op, v) for op, v in fact_paths[0].tests]
                else:
                    alternatives = [[_test(key, op, v) for op, v in p.tests] for p in fact_paths]
                    expr.append({"$or": [a[0] if len(a) == 1 else {"$and": a} for a in alternatives]})
            patterns = [{"s": expr[0] if len(expr) == 1 else {"$and": expr}}]
            for i, flag in enumerate(unit.derived):
                test = [{KIND: _DERIVED}, {"name": flag}]
                _flag, bound = _derived_pattern(flag, unit.position, last)
                if bound is not None:
                    test.append({"$lte": {"at": bound}})
                patterns.append({f"d{i}": {"$and": test}})
            definition[f"u{unit.index}"] = {"all": patterns}
        definition[_WARMUP] = {"all": [{"w": {KIND: _WARMUP}}]}
        return definition

    def _definitions(self) -> list[dict]:
        """The compiled rulesets in durable's JSON form, as registered (for tests and debugging)."""
        last = _asserted_at(self.book)
        return [self._definition(c, last) for c in self._compiled]

    def _register(self) -> None:
        """Create each compiled ruleset in the core and warm its session slot up."""
        last = _asserted_at(self.book)
        for compiled in self._compiled:
            compiled.keys = tuple((f, self._keys[f]) for f in sorted(compiled.fields))
            name = f"advisor_{self.book.revision[:12]}_{next(_NAMES)}"
            try:
                compiled.handle = _core.create_ruleset(name, json.dumps(self._definition(compiled, last)))
            except _core.error as exc:  # the plan keeps within every known limit: this is a bug
                raise EngineError(f"engine: durable-rules refused a compiled ruleset: {_core_error(exc)}") from None
            self._warm_up(compiled.handle)

    @staticmethod
    def _warm_up(handle: int) -> None:
        """One session whose rule fires, deleted: its pool slot, reused by every later session of this
        ruleset, now has a NULL action context (see the module docstring)."""
        _code, offset = _core.assert_fact(handle, '{"sid":"%s","id":"w","%s":"%s"}' % (SID, KIND, _WARMUP))
        fired = 0
        r = _core.start_action_for_state(handle, offset)
        while r is not None:
            fired += 1
            r = _core.complete_and_start_action(handle, offset)
        _core.delete_state(handle, SID)
        if fired != 1:
            raise EngineError(f"engine: the warm-up session of a compiled ruleset fired {fired} rules, not 1")

    def _derived_routes(self) -> dict:
        """(flag, asserting ruleset position) -> the compiled rulesets with a rule that may read it."""
        routes: dict = {}
        for compiled in self._compiled:
            for unit in compiled.units:
                for flag in unit.derived:
                    for position in range(unit.position + 1):
                        targets = routes.setdefault((flag, position), [])
                        if compiled not in targets:
                            targets.append(compiled)
        return routes

    def close(self) -> None:
        """Unregister the compiled rulesets (the engine refuses to run afterwards)."""
        with _LOCK:
            if self._closed:
                return
            self._release()
            self._closed = True
            for compiled in self._compiled:
                if compiled.handle is not None:
                    _core.delete_ruleset(compiled.handle)
                    compiled.handle = None
            if _ENGINES.get(self.book.revision) is self:
                del _ENGINES[self.book.revision]

    # --- running -------------------------------------------------------------------------------

    def validate(self, facts: dict, only: Optional[tuple] = None) -> dict:
        """Facts as the engine may see them: known names, the schema's type, nothing absent or null
        (``only``: those of these names, in their order, the others passed over unchecked: a
        scenario's facts number a few hundred, the rules of a stage read a few dozen)."""
        clean = {}
        for name in facts if only is None else [n for n in only if n in facts]:
            value = facts[name]
            spec = self.schema.get(name)
            if spec is None:
                raise EngineError(f"engine: unknown fact {name!r}")
            if value is None:
                continue
            kind = type(value)  # exact types: bool is not a number here, nor 1 a bool
            if spec.type == "bool":
                ok = kind is bool
            elif spec.type == "number":
                ok = (kind is float or kind is int) and math.isfinite(value) and abs(value) < MAX_NUMBER
                value = (0.0 if abs(value) < MIN_NUMBER else float(value)) if ok else value
            elif spec.type == "enum":
                ok = value in spec.values
            else:
                ok = isinstance(value, str) and len(value) <= MAX_STRING
            if not ok:
                shown = repr(value) if not isinstance(value, str) or len(value) <= 80 else f"a text of {len(value):,} characters"
                raise EngineError(f"engine: fact {name} = {shown} is not a valid {spec.type}", f"{name} = {shown}")
            clean[name] = value
        return clean

    def run(self, facts: dict, *, validated: bool = False) -> list[Firing]:
        """Fire the rule book on one scenario's facts; firings sorted by ruleset and priority.

        ``validated``: the facts come from ``validate`` already (the decision keeps them)."""
        if not validated:
            facts = self.validate(facts)
        fired: dict[str, Firing] = {}
        with _LOCK:
            if self._closed:
                raise EngineError("engine: this engine was closed")
            self._release()  # a run interrupted while cleaning up left sessions behind
            try:
                self._decide(facts, fired)
            finally:
                self._release()
        position = self._position
        return sorted(fired.values(), key=lambda f: (position[f.ruleset], f.order))

    def _decide(self, facts: dict, fired: dict) -> None:
        queue: deque = deque()
        sent: set = set()
        for compiled in self._compiled:
            body = {key: facts[name] for name, key in compiled.keys if name in facts}
            text = '{"sid":"%s","id":"s","%s":"%s"' % (SID, KIND, _SCENARIO) + ("," + json.dumps(body)[1:] if body else "}")
            self._live.append(compiled.handle)
            self._assert(compiled.handle, text, facts, fired, queue, sent)
            if not compiled.derived:  # no rule of it reads a flag: nothing more will come, free it now
                self._release(keep=len(self._live) - 1)
        while queue:
            handle, text = queue.popleft()
            self._assert(handle, text, facts, fired, queue, sent)

    def _assert(self, handle: int, text: str, facts: dict, fired: dict, queue: deque, sent: set) -> None:
        """Assert one fact into a session and handle the actions it makes ready."""
        try:
            _code, offset = _core.assert_fact(handle, text)
            r = _core.start_action_for_state(handle, offset)
        except _core.error as exc:
            raise EngineError(f"engine: durable-rules refused this scenario: {_core_error(exc)}") from None
        while r is not None:
            message = r[1] if type(r) is tuple else r
            unit = self._units[int(message[3:message.index('"', 3)])]  # {"u<index>": {...}}
            if unit.rule.id not in fired:
                self._fire(unit, facts, fired, queue, sent)
            try:
                r = _core.complete_and_start_action(handle, offset)
            except _core.error as exc:
                raise EngineError(f"engine: durable-rules failed in this scenario: {_core_error(exc)}") from None

    def _fire(self, unit: _Unit, facts: dict, fired: dict, queue: deque, sent: set) -> None:
        """A rule's action: record the firing, send its derived flags to the sessions that read them."""
        rule = unit.rule
        try:
            reads, flags = self._reads[rule.id]
            matched = {f: facts[f] for f in reads if f in facts}
            if flags:
                matched.update(flags)
            fired[rule.id] = Firing(rule.id, rule.ruleset, rule.order, matched, rule.then.asserts)
            for flag in rule.then.asserts:
                for compiled in self._routes.get((flag, unit.position), ()):
                    if (compiled.handle, flag, unit.position) not in sent:
                        sent.add((compiled.handle, flag, unit.position))
                        queue.append((compiled.handle, self._derived_fact(flag, unit.position)))
        except Exception as exc:  # noqa: BLE001 - a bug in an action: name the ruleset, keep the cause
            raise EngineError(f"engine: an action of ruleset {rule.ruleset} failed: {_first_line(exc)}") from exc

    def _derived_fact(self, flag: str, position: int) -> str:
        text = self._derived_json.get((flag, position))
        if text is None:
            text = json.dumps({"sid": SID, "id": f"d{position}:{flag}", KIND: _DERIVED, "name": flag, "at": position})
            self._derived_json[(flag, position)] = text
        return text

    def _release(self, keep: int = 0) -> None:
        """Delete the live sessions but the first ``keep`` (all: the finally of each run, and the
        start of the next; the last one: a session nothing more will be sent to)."""
        live = self._live
        while len(live) > keep:
            try:
                _core.delete_state(live[-1], SID)
            except _core.error:
                pass  # 309: the assert failed before the session existed
            live.pop()


def _pad_heap() -> None:
    """Keep TOP_PAD bytes at the heap top (glibc's mallopt), so that sessions reuse their pages."""
    global _heap_padded
    if _heap_padded is None:
        try:
            import ctypes

            libc = ctypes.CDLL(None)
            # both: setting one turns glibc's sliding mmap threshold off, and a session's ~8 KB per rule
            # in one block is past the default 128 KB: mmap'ed and unmapped every scenario otherwise
            _heap_padded = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(libc.mallopt(_M_TOP_PAD, TOP_PAD))
        except (OSError, AttributeError):  # not glibc: the engine is slower, not wrong
            _heap_padded = False


def _core_error(exc: BaseException) -> str:
    text = _first_line(exc)
    code = text.rsplit(":", 1)[-1].strip()
    meaning = _CORE_ERRORS.get(int(code)) if code.isdigit() else None
    return f"{text} ({meaning})" if meaning else text


def _first_line(cause) -> str:
    return str(cause).splitlines()[0][:300] if cause and str(cause) else type(cause).__name__
