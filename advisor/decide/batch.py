"""Batch runs: every scenario of every input path decided; a bad one never stops the others.

What happens to each decision (rendered for output, encoded for the audit store) is the
caller's ``prepare`` function, so that parallel workers do that work too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional, Union

from ..errors import AdvisorError
from ..scenario import files as scenario_files
from .decision import Advisor, Decision


@dataclass(frozen=True)
class Failure:
    source: str
    scenario: Optional[str]
    message: str

    def to_json(self) -> dict:
        return {"source": self.source, "scenario": self.scenario, "message": self.message}


Result = Union[Decision, Failure]
Prepare = Callable[[Decision], object]  # a decision made ready to write (small, picklable)


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


def run_one(advisor: Advisor, item: Union[str, Failure]) -> Iterator[Result]:
    """Decide every scenario of one expanded path (a failure from ``expand`` passes through)."""
    if isinstance(item, Failure):
        yield item
        return
    try:
        source, raw = scenario_files.read_source(item)
    except AdvisorError as exc:
        yield Failure(item, None, str(exc))
        return
    for loaded in scenario_files.parse(source, raw):
        if loaded.error:
            yield Failure(source, loaded.name, loaded.error)
            continue
        try:
            yield advisor.decide(loaded.scenario, source, loaded.raw)
        except AdvisorError as exc:
            yield Failure(source, loaded.name, f"{loaded.where(exc.field)}: scenario {loaded.name}: {exc}")


def prepare_file(advisor: Advisor, item: Union[str, Failure], prepare: Prepare) -> list:
    """Decide one expanded path and ``prepare`` each decision (in a worker, or inline)."""
    return [r if isinstance(r, Failure) else prepare(r) for r in run_one(advisor, item)]


# --- parallel batches ---------------------------------------------------------------------------

_WORKER: Optional[tuple] = None  # (advisor, prepare)


def _start_worker(rules_dir: Optional[str], prepare: Prepare) -> None:
    global _WORKER
    _WORKER = (Advisor(rules_dir), prepare)  # one engine per worker process (durable is single-threaded)


def _decide_file(item: Union[str, Failure]) -> list:
    advisor, prepare = _WORKER
    return prepare_file(advisor, item, prepare)


def run_parallel(rules_dir: Optional[str], items: list, jobs: int, prepare: Prepare) -> Iterator[list]:
    """The results of each expanded path, in input order, decided by ``jobs`` worker processes
    and prepared there, or a ``Failure``. ``prepare`` must be a module-level function.

    A file is the unit of work: a batch spread over several files uses every worker."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_worker, initargs=(rules_dir, prepare)) as pool:
        try:
            yield from pool.map(_decide_file, items)
        except BrokenProcessPool:  # a worker died (killed, or a crash in the C engine)
            raise AdvisorError("a worker process died; the decisions printed before this line are complete",
                               "rerun with --jobs 1 to find the scenario at fault") from None
