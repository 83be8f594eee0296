"""Scenario files: read, parsed, reported and saved.

A file holds one scenario or ``scenarios: [...]`` (read one entry at a time). Every problem
becomes one sentence naming the file, the scenario and the field, with a hint; a bad scenario
never hides the good ones beside it. Input quoted in a sentence is bounded and printable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

from pydantic import BaseModel, ValidationError

from ..catalog.load import Catalog

from .. import yamlio
from ..catalog.precisions import PRECISIONS
from ..errors import AdvisorError, InputError, Location, clip, did_you_mean, display_path, echo
from .spec import NAME_MAX_CHARS, FieldProblem, Scenario, check_against_catalog

# 100,000 scenarios take about 20 MB of YAML; beyond this a file is more likely a mistake, and a
# directory of smaller files runs the same (and in parallel with --jobs).
MAX_FILE_BYTES = 32_000_000
SPLIT_HINT = "split it into several files in one directory: `advisor run DIR` reads them all"
LIST_KEY = "scenarios"


@dataclass(frozen=True)
class Loaded:
    """One scenario from a source, or the error that stopped it."""

    source: str
    name: str
    scenario: Optional[Scenario] = None
    error: Optional[str] = None
    raw: object = None  # the input as read, kept for the audit log
    doc: Optional[yamlio.Document] = field(default=None, repr=False, compare=False)
    prefix: tuple = ()  # where this scenario sits in its file

    def where(self, fields: tuple = ()) -> str:
        """``file:line`` of a field of this scenario (the nearest line known), for error messages."""
        return str(Location(self.source, self.doc.line_of(self.prefix + tuple(fields)) if self.doc else None))

    def problem(self, exc: AdvisorError) -> str:
        """The sentences, one a line, for an error found in this scenario after it was read (a
        catalog check) and the further problems it carries."""
        return "\n".join(f"{self.where(e.field)}: scenario {label(self.name)}: {e}" for e in [exc, *exc.more])


def read_source(path: str) -> tuple[str, bytes]:
    """(display name, bytes) for a path, or stdin for ``-``; raises InputError when unreadable.

    The display name is what outputs and the audit store get (``errors.display_path``): bytes of
    a file name that are not UTF-8 show as ``\\xff``."""
    import sys

    source = "<stdin>" if path == "-" else display_path(path)
    try:
        if path == "-":
            return source, yamlio.read_capped(sys.stdin.buffer, MAX_FILE_BYTES, SPLIT_HINT)
        with open(path, "rb") as handle:
            return source, yamlio.read_capped(handle, MAX_FILE_BYTES, SPLIT_HINT)
    except OSError as exc:
        raise InputError(f"{Location(source)}: cannot read ({exc.strerror})") from None
    except yamlio.YamlError as exc:
        raise InputError(f"{Location(source)}: {exc.message}") from None


def parse(source: str, raw: bytes, stem: Optional[str] = None) -> list[Loaded]:
    """Every scenario in one file's bytes; errors are returned as Loaded items, never raised."""
    return list(stream(source, raw, stem))


def stream(source: str, raw: bytes, stem: Optional[str] = None) -> Iterator[Loaded]:
    """Every scenario in one file's bytes, one at a time: a ``scenarios:`` list is read an entry at
    a time, so memory does not grow with its length. Errors are yielded as Loaded items.

    A problem inside one entry of a list (a duplicate key or anchor, an undefined alias, an alias
    bomb, too deep) rejects that scenario only; what is wrong with the file itself (not UTF-8
    text, a syntax error anywhere) rejects the file before any scenario is read. Keys written
    after the list, or a second document, are found once the list is read: after its scenarios."""
    stem = stem or (Path(source).stem if source != "<stdin>" else "stdin")
    try:
        listed = yamlio.open_list(raw, LIST_KEY)
    except yamlio.YamlError as exc:
        yield Loaded(source, stem, error=f"{Location(source, exc.line)}: {exc.message}")
        return
    if listed.whole is not None:
        yield from _whole(source, stem, listed.whole)
        return
    count = 0
    for entry in listed.entries():
        name = f"{stem}[{entry.index}]"
        if entry.error is not None:
            yield Loaded(source, name, error=f"{Location(source, entry.error.line)}: scenario {label(name)}: {entry.error.message}")
        else:
            yield _one(source, name, entry.doc.data, entry.doc, (LIST_KEY, entry.index))
        count += 1
    problem = _after_list(source, stem, listed, count)
    if problem:
        yield Loaded(source, stem, error=problem)


def _whole(source: str, stem: str, doc: yamlio.Document) -> Iterator[Loaded]:
    """The scenarios of a document read whole (one scenario, or a list not written first)."""
    for dup in doc.duplicates:
        if not (dup.path and len(dup.path) > 2 and dup.path[0] == LIST_KEY and isinstance(dup.path[1], int)):
            yield Loaded(source, stem, error=_duplicate(source, stem, dup, dup.path or ()))
            return
    data = doc.data
    if isinstance(data, dict) and LIST_KEY in data:
        extra = sorted(map(str, set(data) - {LIST_KEY}))
        if extra:
            yield Loaded(source, stem, error=_extra_key(source, extra[0]))
            return
        items = data[LIST_KEY]
        if not isinstance(items, list) or not items:
            yield Loaded(source, stem, error=_EMPTY_LIST.format(Location(source)))
            return
        yield from (_one(source, f"{stem}[{i}]", item, doc, (LIST_KEY, i)) for i, item in enumerate(items))
    elif data is None:
        yield Loaded(source, stem, error=f"{Location(source)}: empty file (a scenario has context:, workload: and prices:; "
                                         "`advisor schema` describes them)")
    else:
        yield _one(source, stem, data, doc, ())


def _after_list(source: str, stem: str, listed: yamlio.Listed, count: int) -> Optional[str]:
    """What is wrong with a streamed file once its list is read: the checks ``_whole`` makes first."""
    for key, line in listed.other_keys:
        if key == LIST_KEY:
            return _duplicate(source, stem, yamlio.YamlError(f"duplicate key {LIST_KEY!r}", line), (LIST_KEY,))
    if listed.other_keys:
        return _extra_key(source, sorted(str(key) for key, _line in listed.other_keys)[0])
    if listed.trailing is not None:
        return f"{Location(source, listed.trailing.line)}: {listed.trailing.message}"
    if count == 0:
        return _EMPTY_LIST.format(Location(source))
    return None


_EMPTY_LIST = "{}: scenarios: must be a non-empty list of scenarios"


def _extra_key(source: str, key: str) -> str:
    return f"{Location(source)}: next to scenarios:, unexpected key {echo(key)} (put it inside a scenario)"


def label(name: str) -> str:
    """A scenario's name as a message shows it: printable, bounded."""
    return clip(name, NAME_MAX_CHARS)


def from_data(data, source: str, name: str) -> Loaded:
    """A scenario from data already parsed (an audit record's input), validated like a file's."""
    return _one(source, name, data, yamlio.Document(data), ())


def _one(source: str, default_name: str, data, doc: yamlio.Document, prefix: tuple) -> Loaded:
    name = data.get("name") if isinstance(data, dict) and isinstance(data.get("name"), str) and data.get("name") else default_name
    dup = next((d for d in doc.duplicates if d.path and d.path[: len(prefix)] == prefix), None)
    if dup is not None:
        return Loaded(source, name, error=_duplicate(source, name, dup, dup.path[len(prefix):]), raw=_jsonable(data))
    if not isinstance(data, dict):
        return Loaded(source, name, error=f"{Location(source)}: scenario {label(name)}: expected a mapping with context:, "
                                          f"got {_kind(data)}", raw=_jsonable(data))
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        return Loaded(source, name, error=_describe(source, name, exc, doc, prefix), raw=_jsonable(data))
    if scenario.name is None:
        scenario = scenario.model_copy(update={"name": name})
    scenario = _anchored(scenario, source)
    return Loaded(source, name, scenario=scenario, raw=_jsonable(data), doc=doc, prefix=prefix)


def _anchored(scenario: Scenario, source: str) -> Scenario:
    """A relative ``workload.model_config`` read from a file is relative to that file's directory."""
    path = scenario.workload.model_config_path
    if path is None or Path(path).is_absolute() or source.startswith("<"):
        return scenario
    workload = scenario.workload.model_copy(update={"model_config_path": str(Path(source).parent / path)})
    return scenario.model_copy(update={"workload": workload})


def _duplicate(source: str, name: str, dup: yamlio.YamlError, field: tuple) -> str:
    return (f"{Location(source, dup.line)}: scenario {label(name)}: {_field(field, '(file)')}: {dup.message} "
            "(YAML keeps only one; delete the other)")


def _field(path: tuple, empty: str) -> str:
    """A dotted field path as a message shows it (keys from the input bounded and printable)."""
    return ".".join(clip(str(p)) for p in path) or empty


def _describe(source: str, name: str, exc: ValidationError, doc: yamlio.Document, prefix: tuple) -> str:
    """Every validation error of a scenario, a sentence each (one a line): file:line, scenario,
    field, problem, hint. Cross-field rules are checked once the fields themselves are valid."""
    return "\n".join(_sentence(source, name, err, doc, prefix) for err in exc.errors(include_url=False))


def _sentence(source: str, name: str, err: dict, doc: yamlio.Document, prefix: tuple) -> str:
    loc = tuple(p for p in err["loc"] if not isinstance(p, str) or not p.startswith("function-"))
    problem = (err.get("ctx") or {}).get("error")
    at = loc
    if isinstance(problem, FieldProblem):
        loc, at = loc + problem.field, loc + problem.at
    where = Location(source, doc.line_of(prefix + at))
    kind, msg, value = err["type"], err["msg"], err.get("input")
    hint = ""
    if kind == "extra_forbidden":
        known = _fields_at(loc[:-1])
        msg = f"unknown key {echo(loc[-1])}"
        hint = did_you_mean(str(loc[-1]), known) or f" (known keys: {', '.join(known)})"
    elif kind == "missing":
        msg = "required field is missing"
    elif kind.startswith(("bool", "int", "float", "string", "literal", "dict")):
        msg = f"{msg}, got {_kind(value)} {echo(value, 40)}"
        if kind.startswith(("int", "float")) and (number := yamlio.number_hint(value)):
            hint = f" ({number})"
    elif kind == "value_error":
        msg = str(problem) if problem is not None else msg.removeprefix("Value error, ")
    if kind == "literal_error" and loc[-1] == "precision":
        hint = f" (one of {', '.join(PRECISIONS)})"
    return f"{where}: scenario {label(name)}: {_field(loc, '(scenario)')}: {msg}{hint}"


def _fields_at(loc: tuple) -> list[str]:
    model = Scenario
    for part in loc:
        annotation = model.model_fields[part].annotation if part in model.model_fields else None
        model = next((a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if model is None:
            return []
    return list(model.model_fields)


def _kind(value) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a mapping", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _jsonable(value):
    """The raw input as JSON-safe data for the audit log: NaN and infinity become strings, dates text."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def first_scenario(path: str, catalog: Catalog) -> Loaded:
    """The first scenario of a file, checked as `advisor run` would check it (``ask --from``, ``plan``)."""
    source, raw = read_source(path)
    loaded = next(stream(source, raw))
    if loaded.error:
        raise InputError(loaded.error)
    try:
        check_against_catalog(loaded.scenario, catalog)
    except InputError as exc:
        raise InputError(loaded.problem(exc)) from None
    return loaded


def save(path: Path, data: dict) -> None:
    """Write a scenario file atomically: a temporary file renamed into place, never half a file.

    The file gets the permissions any new file gets (the umask decides), or keeps those of the
    file it replaces; the temporary file's own (owner only) would otherwise stay."""
    import os
    import stat
    import tempfile
    from datetime import date

    from ..errors import printable

    text = (f"# Saved by `advisor ask` on {date.today().isoformat()}; decide it with: advisor run {printable(display_path(path.name))}\n"
            + yamlio.dump(data))
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0o022)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:40]}.", suffix=".tmp", dir=str(path.parent or Path(".")))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def schema() -> dict:
    """JSON Schema of a scenario file: one scenario, or {scenarios: [...]}."""
    one = Scenario.model_json_schema()
    defs = one.pop("$defs", {})
    defs["Scenario"] = one
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "advisor scenario file",
        "$defs": defs,
        "oneOf": [
            {"$ref": "#/$defs/Scenario"},
            {
                "type": "object",
                "properties": {"scenarios": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/Scenario"}}},
                "required": ["scenarios"],
                "additionalProperties": False,
            },
        ],
    }
