"""Seeded work units and the maps that run them: one contract for one process, a process pool and a cluster.

A *unit* is one independent, seeded piece of a job (an episode, a scenario case, a scene, a perception
seed) whose result depends on the unit alone, never on which process ran it or what that process ran
before. A *units map* runs ``fn`` over a list of units and yields ``(index, result)`` pairs as units
finish, in any order; the caller puts each result in its place, so the job's output is the same
whatever map ran it. ``serial_units`` and ``executor_units`` are one machine's maps;
``drivestack.cluster.RayUnits`` is the cluster's.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, Sequence


class UnitsMap(Protocol):
    def __call__(self, fn: Callable[[Any], Any], units: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        """``(index, fn(units[index]))`` for every unit, as each finishes."""


def serial_units(fn: Callable[[Any], Any], units: Sequence[Any]) -> Iterator[tuple[int, Any]]:
    """Every unit in this process, in order."""
    for index, unit in enumerate(units):
        yield index, fn(unit)


def executor_units(executor) -> UnitsMap:
    """A map over a ``concurrent.futures`` executor (a process pool the caller keeps warm across jobs:
    ``drivestack bench cluster``'s plain multiprocess peer); results come back as they finish."""

    def run(fn: Callable[[Any], Any], units: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        from concurrent.futures import as_completed

        futures = {executor.submit(fn, unit): index for index, unit in enumerate(units)}
        for future in as_completed(futures):
            yield futures[future], future.result()

    return run


@contextlib.contextmanager
def local_units(workers: int, initializer: Callable[[], None] | None = None):
    """This machine's map for the ``with`` block: the units in this process (one worker), or over ``workers``
    spawned processes started with ``initializer`` (``common.cores.share_cores``)."""
    if workers <= 1:
        yield serial_units
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=initializer) as pool:
        yield executor_units(pool)


def in_order(pairs: Iterator[tuple[int, Any]], count: int, on_done: Callable[[Any], None] | None = None) -> list:
    """The results of a units map's ``(index, result)`` pairs as a list in unit order; ``on_done(result)``
    as each arrives (a progress bar counting finished units)."""
    results: list = [None] * count
    for index, result in pairs:
        results[index] = result
        if on_done is not None:
            on_done(result)
    return results


def journaled(units_map: UnitsMap, folder: Path) -> UnitsMap:
    """``units_map`` that keeps each finished unit's result in ``folder`` (one pickle per unit, written
    whole then renamed, named by a hash of the function and the unit's repr) and, run again over the
    same units, returns the kept results instead of running those units: an interrupted job resumes
    where it stopped. The caller removes ``folder`` once the job's own output is written, so a later
    job never reads results of files that have since changed (a retrained policy at the same path)."""

    def run(fn: Callable[[Any], Any], units: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        import hashlib
        import os
        import pickle

        folder.mkdir(parents=True, exist_ok=True)
        name = f"{fn.__module__}.{fn.__qualname__}"
        paths = [folder / (hashlib.sha256(f"{name}|{unit!r}".encode()).hexdigest()[:24] + ".pkl") for unit in units]
        todo = []
        for index, path in enumerate(paths):
            try:
                result = pickle.loads(path.read_bytes())
            except (OSError, pickle.UnpicklingError, EOFError):  # not there (or torn): run it
                todo.append(index)
                continue
            yield index, result
        for j, result in units_map(fn, [units[i] for i in todo]):
            index = todo[j]
            tmp = paths[index].with_suffix(".tmp")
            tmp.write_bytes(pickle.dumps(result))
            os.replace(tmp, paths[index])
            yield index, result

    return run
