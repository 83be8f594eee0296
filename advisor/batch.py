"""Batch runs: every scenario of every input path decided; a bad one never stops the others."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Union

from . import scenario as scen
from .decision import Advisor, Decision
from .errors import AdvisorError


@dataclass(frozen=True)
class Failure:
    source: str
    scenario: Optional[str]
    message: str

    def to_json(self) -> dict:
        return {"source": self.source, "scenario": self.scenario, "message": self.message}


Result = Union[Decision, Failure]


def expand(paths: list[str]) -> Iterator[Union[str, Failure]]:
    """Files as given, directories walked for *.yaml / *.yml (sorted), ``-`` for stdin."""
    for path in paths:
        if path == "-":
            yield path
            continue
        p = Path(path)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix in (".yaml", ".yml") and f.is_file())
            if not found:
                yield Failure(path, None, f"{path}: no *.yaml or *.yml scenario files in this directory")
            yield from (str(f) for f in found)
        elif p.exists():
            yield path
        else:
            yield Failure(path, None, f"{path}: no such file or directory")


def run(advisor: Advisor, paths: list[str]) -> Iterator[Result]:
    """Decide every scenario in ``paths``, in order, yielding a decision or a failure for each."""
    for item in expand(paths):
        yield from run_one(advisor, item)


def run_one(advisor: Advisor, item: Union[str, Failure]) -> Iterator[Result]:
    """Decide every scenario of one expanded path (a failure from ``expand`` passes through)."""
    if isinstance(item, Failure):
        yield item
        return
    try:
        source, raw = scen.read_source(item)
    except AdvisorError as exc:
        yield Failure(item, None, str(exc))
        return
    for loaded in scen.parse(source, raw):
        if loaded.error:
            yield Failure(source, loaded.name, loaded.error)
            continue
        try:
            yield advisor.decide(loaded.scenario, source, loaded.raw)
        except AdvisorError as exc:
            yield Failure(source, loaded.name, f"{loaded.where(exc.field)}: scenario {loaded.name}: {exc}")
