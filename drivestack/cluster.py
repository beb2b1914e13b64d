"""Seeded work units on a Ray cluster: ``--ray [ADDRESS]`` of ``drivestack dataset`` and ``drivestack eval``.

``RayUnits`` is a units map (``common.units``): each unit (an episode, a suite case, a scene, a perception
seed) is one Ray task, retried up to ``max_retries`` times when its worker dies or it raises, and its
result comes back as it finishes, so the progress bar counts finished units across the cluster and the
caller puts every result in its place: the output is the single-machine run's, whatever the number of
workers. No ADDRESS starts a local Ray instance on this machine (``--ray-cpus`` worker slots, default
every core); ``auto`` joins the cluster that ``ray start`` runs here, ``HOST:PORT`` (or ``ray://HOST:PORT``)
a remote one. docs/cluster.md takes a user from one machine to a cluster.

Ray is the optional ``cluster`` extra: without it ``--ray`` is a one-line error naming the extra, and
nothing else changes. Before any unit runs, one probe task per node checks that the node's workers
import the project and, where the workers write files (a dataset export, the suite's failure clips),
see and can write the output folder (a shared filesystem at the same path on every node); either
failing is a one-line error.

Test hook: ``DRIVESTACK_CLUSTER_FAULT=raise:DIR`` (or ``exit:DIR``) makes each unit's first attempt
raise (or its worker process exit) once, marking ``DIR/unit-<index>``; the retry then runs it.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from common.cores import share_cores
from common.errors import UsageError
from common.units import journaled

EXTRA = 'pip install -e ".[cluster]"'
LOCAL = "local"  # --ray without an address: a new Ray instance on this machine
MAX_RETRIES = 3  # attempts after the first, per unit (a lost worker, or an exception)
FAULT_ENV = "DRIVESTACK_CLUSTER_FAULT"
_ADDRESS = re.compile(r"^(auto|local|(ray://)?[A-Za-z0-9.\-_\[\]:]+:\d+)$")


@dataclass(frozen=True)
class RaySpec:
    """Where the units run."""

    address: str = LOCAL  # "local": start an instance here; "auto" or HOST:PORT: join a running cluster
    cpus: int | None = None  # local instance only: worker slots (None: every core)
    max_retries: int = MAX_RETRIES
    in_flight: int | None = None  # units submitted ahead of the finished ones (None: in_flight_window of the cluster)


IN_FLIGHT_PER_CPU = 4  # queued units per worker slot: a slot finds its next unit waiting, the queue stays short
MIN_IN_FLIGHT = 16


def in_flight_window(cluster_cpus: float) -> int:
    """How many units are out on the cluster at once: ``IN_FLIGHT_PER_CPU`` per slot, at least ``MIN_IN_FLIGHT``."""
    return max(MIN_IN_FLIGHT, int(IN_FLIGHT_PER_CPU * cluster_cpus))


def add_ray_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ray", nargs="?", const=LOCAL, default=None, metavar="ADDRESS",
                        help="run the units (episodes, cases, scenes, seeds) as Ray tasks: no ADDRESS starts a local "
                             "instance, 'auto' or HOST:PORT joins a cluster (needs the cluster extra: "
                             f"{EXTRA}; docs/cluster.md)")
    parser.add_argument("--ray-cpus", type=int, default=None, metavar="N",
                        help="with --ray and no address: worker slots of the local instance (default: every core)")


def spec_from_args(args: argparse.Namespace) -> RaySpec | None:
    """The ``RaySpec`` of ``--ray`` / ``--ray-cpus``, None without ``--ray``; a UsageError for bad values."""
    cpus = getattr(args, "ray_cpus", None)
    if args.ray is None:
        if cpus is not None:
            raise UsageError("--ray-cpus is not allowed without --ray")
        return None
    if not _ADDRESS.match(args.ray):
        raise UsageError(f"--ray {args.ray!r} is not allowed; give no address (a local instance), 'auto' or HOST:PORT")
    if cpus is not None and (cpus < 1 or args.ray != LOCAL):
        raise UsageError(f"--ray-cpus {cpus} is not allowed; use an integer >= 1, and only with a local instance "
                         "(--ray without an address)")
    require_ray()
    return RaySpec(args.ray, cpus)


def require_ray():
    """The ``ray`` module, or a UsageError naming the extra that brings it."""
    try:
        import ray
    except ImportError:
        raise UsageError(f"--ray needs Ray, which is not installed; install the cluster extra: {EXTRA}") from None
    return ray


JOURNAL = ".units"  # under an evaluation's --out: each finished unit's result until the report is written


@contextlib.contextmanager
def units_on(spec: RaySpec | None, shared_dir: str | os.PathLike | None = None, out: str | os.PathLike | None = None,
             workers: int | None = None):
    """A context giving the units map of ``spec`` (``RayUnits``), or None without ``--ray`` (the command's
    own single-machine path). ``out``: an evaluation's output folder, where the finished units' results
    are kept (``common.units.journaled``) so that the same command run again after an interruption
    runs only the units that had not finished; ``finish(out)`` drops them once the report is written.
    ``workers``: without ``--ray`` but with ``out``, this machine's map over that many processes, journaled the
    same way (an evaluation of 50 routes from the models is hours of a 2-core machine; None: no local map)."""
    if spec is None:
        if out is None or workers is None:
            yield None
            return
        from common.cores import share_cores
        from common.units import local_units

        with local_units(workers, share_cores) as local:
            yield journaled(local, Path(out) / JOURNAL)
        return
    with RayUnits(spec, shared_dir) as units:
        yield units if out is None else journaled(units, Path(out) / JOURNAL)


def finish(out: str | os.PathLike | None) -> None:
    """The report is written: the kept unit results under ``out`` go."""
    import shutil

    if out is not None:
        shutil.rmtree(Path(out) / JOURNAL, ignore_errors=True)


@contextlib.contextmanager
def ray_session(spec: RaySpec):
    """Ray connected as ``spec`` says for the ``with`` block (a local instance started, or a cluster joined),
    then disconnected (the local instance stopped); a UsageError when the cluster cannot be reached."""
    ray = require_ray()
    options: dict[str, Any] = {"include_dashboard": False, "logging_level": "ERROR", "log_to_driver": False}
    if spec.address == LOCAL:
        options["num_cpus"] = spec.cpus or os.cpu_count()
        # Ray starts its workers at nice 15 (ahead of them: its own raylet); on a machine shared with
        # other work that hands them a sliver of the CPU. A local instance is this command's own
        # workers, so they run at the driver's priority, as --workers processes do
        options["_system_config"] = {"worker_niceness": 0}
    elif spec.address != "auto":
        _check_reachable(spec.address)
    try:
        ray.init(address=spec.address, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise UsageError(f"--ray {spec.address}: no Ray cluster could be reached there: {_first_line(exc)}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


class RayUnits:
    """A units map on Ray (``with RayUnits(spec) as units: units(fn, items)``): connects on entry,
    disconnects on exit (stopping the instance it started); ``shared_dir``: the folder every node's
    workers write to, checked on each node before the first unit."""

    def __init__(self, spec: RaySpec, shared_dir: str | os.PathLike | None = None):
        self.spec = spec
        self.shared_dir = None if shared_dir is None else str(Path(shared_dir).absolute())
        self._checked = False

    def __enter__(self) -> "RayUnits":
        self._session = ray_session(self.spec)
        self._session.__enter__()
        return self

    def __exit__(self, *exc_info) -> None:
        self._session.__exit__(*exc_info)

    def __call__(self, fn: Callable[[Any], Any], units: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        import ray

        if not self._checked:  # here, not on entry: an export's folder holds its manifest only by now
            self.check_nodes()
            self._checked = True
        task = ray.remote(_run_unit).options(num_cpus=1, max_retries=self.spec.max_retries, retry_exceptions=True)
        fn_ref, fault = ray.put(fn), _fault_from_env()
        # units go out in a sliding window: enough queued to keep every slot busy, few enough that a
        # million-unit sweep does not hold a million task specs in the driver and the cluster's queue
        window = self.spec.in_flight or in_flight_window(ray.cluster_resources().get("CPU", 1))
        queue = iter(enumerate(units))
        index_of: dict[Any, int] = {}
        pending: list = []

        def submit(n: int) -> None:
            for index, unit in itertools.islice(queue, n):
                ref = task.remote(fn_ref, unit, index, fault)
                index_of[ref] = index
                pending.append(ref)

        submit(window)
        try:
            while pending:
                done, pending[:] = ray.wait(pending, num_returns=1)
                for ref in done:
                    result = ray.get(ref)
                    submit(1)
                    yield index_of.pop(ref), result
        finally:
            for ref in pending:  # an error, or the caller stopped early: no orphan work on the cluster
                ray.cancel(ref)

    def check_nodes(self) -> None:
        """One probe per alive node: its workers import the project and (``shared_dir``) see and write
        the output folder; a UsageError naming the first node that fails."""
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        sentinel = None
        if self.shared_dir is not None:  # a file only this run wrote: seen on a node, the folder is shared
            sentinel = Path(self.shared_dir) / f".cluster_probe_{os.getpid()}"
            sentinel.write_bytes(b"")
        probe = ray.remote(_probe)
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        refs = {probe.options(num_cpus=0, max_retries=0,
                              scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
                .remote(None if sentinel is None else str(sentinel)): n.get("NodeManagerAddress", n["NodeID"])
                for n in nodes}
        try:
            for ref, node in refs.items():
                try:
                    problem = ray.get(ref)
                except Exception as exc:  # the worker could not even unpickle the probe: no drivestack there
                    problem = (f"its workers cannot run drivestack ({_first_line(exc)}); install the project on "
                               "every node (pip install -e . from the same commit)")
                if problem:
                    raise UsageError(f"--ray {self.spec.address}: node {node}: {problem}")
        finally:
            if sentinel is not None:
                sentinel.unlink(missing_ok=True)


def _run_unit(fn: Callable[[Any], Any], unit: Any, index: int, fault: tuple[str, str] | None) -> Any:
    """One unit on a worker (``fn`` arrives resolved from the object store)."""
    share_cores()  # a slot of one CPU (num_cpus=1): its libraries keep to one thread
    if fault is not None:
        mode, folder = fault
        marker = Path(folder) / f"unit-{index}"
        if not marker.exists():
            marker.touch()
            if mode == "exit":
                os._exit(1)  # the worker dies mid-unit, as a lost node's would
            raise RuntimeError(f"unit {index}: injected failure ({FAULT_ENV})")
    return fn(unit)


def _probe(sentinel: str | None) -> str | None:
    """On one node: None when it can run the units, else what is wrong (``sentinel``: a file the driver
    just wrote in the shared output folder)."""
    import control  # noqa: F401  (the layers the units import)
    import perception  # noqa: F401
    import sim  # noqa: F401

    if sentinel is None:
        return None
    folder = Path(sentinel).parent
    if not Path(sentinel).is_file():
        return (f"the output folder {folder} is not the driver's on this node; use a path on a filesystem "
                "every node mounts at the same place")
    probe = folder / f".write_probe_{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return f"the output folder {folder} is not writable from this node: {exc.strerror or exc}"
    return None


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """A UsageError when nothing listens at HOST:PORT (Ray itself retries an unreachable head for minutes)."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise UsageError(f"--ray {address}: no Ray cluster could be reached there: {exc.strerror or exc}") from None


def _fault_from_env() -> tuple[str, str] | None:
    text = os.environ.get(FAULT_ENV)
    if not text:
        return None
    mode, _, folder = text.partition(":")
    if mode not in ("raise", "exit") or not folder:
        raise UsageError(f"{FAULT_ENV}={text!r} is not allowed; use raise:DIR or exit:DIR")
    return mode, folder


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
