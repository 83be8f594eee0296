"""Batch runs: every scenario of every input path decided; a bad one never stops the others.

What happens to each decision (rendered for output, encoded for the audit store) is the
caller's ``prepare`` function, so that parallel workers do that work too.
"""

from __future__ import annotations

import gc
import itertools
import os
import stat
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Union

from ..errors import AdvisorError, Location, display_path
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
    """Files as given, directories walked for *.yaml / *.yml (in sorted order), ``-`` for stdin.

    Every path that cannot be read (a directory without read or search permission, a name
    that cannot be looked up) is one Failure naming it, in its place in the order; the
    readable files beside it are still yielded. Symbolic links to directories are not followed."""
    for path in paths:
        if path == "-":
            yield path
            continue
        shown = display_path(path)
        try:
            is_dir = stat.S_ISDIR(os.stat(path).st_mode)
        except FileNotFoundError:
            yield Failure(shown, None, f"{Location(shown)}: no such file or directory")
            continue
        except OSError as exc:
            yield Failure(shown, None, f"{Location(shown)}: cannot read ({exc.strerror})")
            continue
        if not is_dir:
            yield path
            continue
        found = False
        for item in _walk(path):
            found = True
            yield item
        if not found:
            yield Failure(shown, None, f"{Location(shown)}: no *.yaml or *.yml scenario files in this directory")


def _walk(directory: str) -> Iterator[Union[str, Failure]]:
    """The scenario files under a directory in the order of their sorted paths (a directory's
    entries sorted by name, each subdirectory walked in its place), and a Failure for every
    directory that cannot be listed or searched."""
    shown = display_path(directory)
    try:
        with os.scandir(directory) as listing:
            entries = sorted(listing, key=lambda e: e.name)
    except OSError as exc:
        yield Failure(shown, None, f"{Location(shown)}: cannot read this directory ({exc.strerror})")
        return
    if not os.access(directory, os.X_OK):  # its names can be listed but none of its files opened
        yield Failure(shown, None, f"{Location(shown)}: cannot read the files in this directory (Permission denied: "
                                   "no search (x) permission)")
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(entry.path)
            elif os.path.splitext(entry.name)[1] in (".yaml", ".yml") and entry.is_file():
                yield entry.path
        except OSError as exc:
            shown = display_path(entry.path)
            yield Failure(shown, None, f"{Location(shown)}: cannot read ({exc.strerror})")


#: Allocations between two runs of the cyclic collector's youngest generation, in a batch.
COLLECT_AFTER = 50_000


def settle_heap() -> None:
    """Once a batch's advisor is loaded: what is loaded lives as long as the process, so the cyclic
    collector stops scanning it again (``gc.freeze``; loading leaves a dozen objects of garbage,
    not worth the 15 ms a collection takes first), and runs less often. Decisions make no
    reference cycles (their garbage goes as soon as it is dropped), so the collector only costs a
    batch time: scanning what is alive, 3-4% of a batch at the default threshold of 700."""
    gc.freeze()
    gc.set_threshold(COLLECT_AFTER, *gc.get_threshold()[1:])


def run_one(advisor: Advisor, item: Union[str, Failure]) -> Iterator[Result]:
    """Decide every scenario of one expanded path (a failure from ``expand`` passes through),
    one at a time: a long list is read, decided and yielded an entry at a time."""
    if isinstance(item, Failure):
        yield item
        return
    try:
        source, raw = scenario_files.read_source(item)
    except AdvisorError as exc:
        yield Failure(display_path(item), None, str(exc))
        return
    for loaded in scenario_files.stream(source, raw):
        yield decide_loaded(advisor, loaded)


def decide_loaded(advisor: Advisor, loaded: scenario_files.Loaded) -> Result:
    """A scenario as read (or the error that stopped it) decided, or why it could not be."""
    if loaded.error:
        return Failure(loaded.source, loaded.name, loaded.error)
    try:
        return advisor.decide(loaded.scenario, loaded.source, loaded.raw)
    except AdvisorError as exc:
        return Failure(loaded.source, loaded.name, loaded.problem(exc))


def prepare_file(advisor: Advisor, item: Union[str, Failure], prepare: Prepare) -> Iterator:
    """Decide one expanded path and ``prepare`` each decision (in a worker, or inline), one at a
    time (so memory does not grow with the scenarios of a file)."""
    return (r if isinstance(r, Failure) else prepare(r) for r in run_one(advisor, item))


# --- parallel batches ---------------------------------------------------------------------------

_WORKER: Optional[tuple] = None  # (advisor, prepare)
_FORKED_FROM: Optional[Advisor] = None  # the advisor of the process that forks the workers, while it does


def worker_advisor(rules_dir: Optional[str]) -> Advisor:
    """A worker's advisor, one per process (durable is single-threaded): its parent's, when the
    worker was forked from a process that had one loaded (the catalogs, the rules and the compiled
    engine, copied on write: no second load of about 0.2 s in every worker), else loaded here."""
    return _FORKED_FROM if _FORKED_FROM is not None else Advisor(rules_dir)


def _start_worker(rules_dir: Optional[str], prepare: Prepare) -> None:
    global _WORKER
    _WORKER = (worker_advisor(rules_dir), prepare)
    settle_heap()


def _decide_file(item: Union[str, Failure]) -> list:
    advisor, prepare = _WORKER
    return list(prepare_file(advisor, item, prepare))


def run_parallel(rules_dir: Optional[str], items: list, jobs: int, prepare: Prepare, advisor: Optional[Advisor] = None) -> Iterator[list]:
    """The results of each expanded path, in input order, decided by ``jobs`` worker processes
    and prepared there, or a ``Failure``. ``prepare`` must be a module-level function; ``advisor``:
    the caller's, for ``rules_dir``, which forked workers take over (``worker_advisor``).

    A file is the unit of work: a batch spread over several files uses every worker."""
    return in_workers(_decide_file, items, jobs, _start_worker, (rules_dir, prepare), advisor)


def in_workers(work: Callable, items: list, jobs: int, initializer: Callable, initargs: tuple,
               advisor: Optional[Advisor] = None) -> Iterator:
    """``work(item)`` for every item, in ``jobs`` worker processes started by ``initializer(*initargs)``,
    the results in the order of the items. At most two items a worker are under way at once, so
    results that the caller has not yet taken do not pile up in memory. ``advisor``: the
    caller's, which forked workers inherit (``worker_advisor``)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    global _FORKED_FROM
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=initializer, initargs=initargs)
    pending: deque = deque()
    queue = iter(items)
    try:
        _FORKED_FROM = advisor if method == "fork" else None
        try:  # the workers start (are forked) at the first submit
            for item in itertools.islice(queue, 2 * jobs):
                pending.append(pool.submit(work, item))
        finally:
            _FORKED_FROM = None
        while pending:
            result = pending.popleft().result()
            for item in itertools.islice(queue, 1):
                pending.append(pool.submit(work, item))
            yield result
    except BrokenProcessPool:  # a worker died (killed, or a crash in the C engine)
        raise AdvisorError("a worker process died; the decisions printed before this line are complete",
                           "rerun with --jobs 1 to find the scenario at fault") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
