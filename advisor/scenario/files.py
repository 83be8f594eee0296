"""Scenario files: read, parsed, reported and saved.

A file holds one scenario or ``scenarios: [...]``. Every problem becomes one sentence naming the
file, the scenario and the field, with a hint; a bad scenario never hides the good ones beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from pydantic import BaseModel, ValidationError

from .. import yamlio
from ..catalog.precisions import PRECISIONS
from ..errors import InputError, Location, did_you_mean
from .spec import FieldProblem, Scenario

# 100,000 scenarios take about 20 MB of YAML; beyond this a file is more likely a mistake, and a
# directory of smaller files runs the same (and in parallel with --jobs).
MAX_FILE_BYTES = 32_000_000
SPLIT_HINT = "split it into several files in one directory: `advisor run DIR` reads them all"


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


def read_source(path: str) -> tuple[str, bytes]:
    """(display name, bytes) for a path, or stdin for ``-``; raises InputError when unreadable."""
    import sys

    source = "<stdin>" if path == "-" else path
    try:
        if path == "-":
            return source, yamlio.read_capped(sys.stdin.buffer, MAX_FILE_BYTES, SPLIT_HINT)
        with open(path, "rb") as handle:
            return source, yamlio.read_capped(handle, MAX_FILE_BYTES, SPLIT_HINT)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    except yamlio.YamlError as exc:
        raise InputError(f"{source}: {exc.message}") from None


def parse(source: str, raw: bytes, stem: Optional[str] = None) -> list[Loaded]:
    """Every scenario in one file's bytes; errors are returned as Loaded items, never raised."""
    stem = stem or (Path(source).stem if source != "<stdin>" else "stdin")
    try:
        doc = yamlio.load(raw, want_lines=True, keep_duplicates=True)
    except yamlio.YamlError as exc:
        return [Loaded(source, stem, error=f"{Location(source, exc.line)}: {exc.message}")]
    for dup in doc.duplicates:
        if not (dup.path and len(dup.path) > 2 and dup.path[0] == "scenarios" and isinstance(dup.path[1], int)):
            return [Loaded(source, stem, error=_duplicate(source, stem, dup, dup.path or ()))]
    data = doc.data
    if isinstance(data, dict) and "scenarios" in data:
        extra = sorted(set(data) - {"scenarios"})
        if extra:
            return [Loaded(source, stem, error=f"{source}: next to scenarios:, unexpected key {extra[0]!r} (put it inside a scenario)")]
        items = data["scenarios"]
        if not isinstance(items, list) or not items:
            return [Loaded(source, stem, error=f"{source}: scenarios: must be a non-empty list of scenarios")]
        return [_one(source, f"{stem}[{i}]", item, doc, ("scenarios", i)) for i, item in enumerate(items)]
    if data is None:
        return [Loaded(source, stem, error=f"{source}: empty file (a scenario has context:, workload: and prices:; `advisor schema` describes them)")]
    return [_one(source, stem, data, doc, ())]


def from_data(data, source: str, name: str) -> Loaded:
    """A scenario from data already parsed (an audit record's input), validated like a file's."""
    return _one(source, name, data, yamlio.Document(data), ())


def _one(source: str, default_name: str, data, doc: yamlio.Document, prefix: tuple) -> Loaded:
    name = data.get("name") if isinstance(data, dict) and isinstance(data.get("name"), str) and data.get("name") else default_name
    dup = next((d for d in doc.duplicates if d.path and d.path[: len(prefix)] == prefix), None)
    if dup is not None:
        return Loaded(source, name, error=_duplicate(source, name, dup, dup.path[len(prefix):]), raw=_jsonable(data))
    if not isinstance(data, dict):
        return Loaded(source, name, error=f"{source}: scenario {name}: expected a mapping with context:, got {_kind(data)}", raw=_jsonable(data))
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
    what = ".".join(map(str, field)) or "(file)"
    return f"{Location(source, dup.line)}: scenario {name}: {what}: {dup.message} (YAML keeps only one; delete the other)"


def _describe(source: str, name: str, exc: ValidationError, doc: yamlio.Document, prefix: tuple) -> str:
    """The first validation error as one sentence: file:line, scenario, field, problem, hint."""
    err = exc.errors(include_url=False)[0]
    loc = tuple(p for p in err["loc"] if not isinstance(p, str) or not p.startswith("function-"))
    problem = (err.get("ctx") or {}).get("error")
    at = loc
    if isinstance(problem, FieldProblem):
        loc, at = loc + problem.field, loc + problem.at
    field = ".".join(str(p) for p in loc) or "(scenario)"
    where = Location(source, doc.line_of(prefix + at))
    kind, msg = err["type"], err["msg"]
    hint = ""
    if kind == "extra_forbidden":
        known = _fields_at(loc[:-1])
        msg = f"unknown key {loc[-1]!r}"
        hint = did_you_mean(str(loc[-1]), known) or f" (known keys: {', '.join(known)})"
    elif kind == "missing":
        msg = "required field is missing"
    elif kind.startswith(("bool", "int", "float", "string", "literal", "dict")):
        msg = f"{msg}, got {_kind(err.get('input'))} {_short(err.get('input'))}"
    elif kind == "value_error":
        msg = str(problem) if problem is not None else msg.removeprefix("Value error, ")
    if kind == "literal_error" and loc[-1] == "precision":
        hint = f" (one of {', '.join(PRECISIONS)})"
    return f"{where}: scenario {name}: {field}: {msg}{hint}"


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


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


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


def save(path: Path, data: dict) -> None:
    """Write a scenario file atomically: a temporary file renamed into place, never half a file."""
    import os
    import tempfile
    from datetime import date

    import yaml

    text = (f"# Saved by `advisor ask` on {date.today().isoformat()}; decide it with: advisor run {path.name}\n"
            + yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent or Path(".")))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
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
