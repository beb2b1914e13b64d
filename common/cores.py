"""Whether this process has the machine's cores to itself or shares them with sibling workers.

A command run alone (a drive, a benchmark, one evaluation process) lets each library use every core.
A worker of a pool that runs one process per core (evaluation episodes, scenario cases, a cluster's units)
calls ``share_cores`` at start-up: torch drops to one thread, and ONNX Runtime sessions made afterwards run
on the calling thread alone (``perception.onnx_backend.cpu_session``). Two workers each spinning a second
ONNX Runtime thread on a 2-core machine made ``eval policy --workers 2`` from the models 23 % slower
(81.7 s against 66.5 s for six 200 m town drives, 2026-12-07).
"""

from __future__ import annotations

_shared = False


def share_cores() -> None:
    """Worker start-up: from now on this process keeps to one core."""
    global _shared
    _shared = True
    try:
        import torch
    except ImportError:  # a job without torch
        return
    torch.set_num_threads(1)


def cores_shared() -> bool:
    """True in a worker that called ``share_cores``."""
    return _shared
