"""Light stand-ins for a navigation world's actors.

``ParkedTraffic`` has the attributes and methods of ``sim.roadgraph.traffic.GraphTraffic`` but
holds only the scenario's parked cars, which never move (what a pedestrian walking between parked
cars is tested against). ``NoPedestrians`` is an empty ``sim.pedestrians.Pedestrians``: the
navigation world's walkers where there are none (``pedestrians_per_km`` 0, the highway).
"""

from __future__ import annotations

import numpy as np

from .roadgraph.graph import RoadGraph
from .traffic import KIND_DIMS_M, _paint


def _frozen(*arrays):
    for a in arrays:
        a.flags.writeable = False
    return arrays


class ParkedTraffic:
    """Parked cars (kind car, speed 0) in the ``GraphTraffic`` layout: Frenet state on their road."""

    def __init__(self, graph: RoadGraph, parked, rng: np.random.Generator):
        self.graph = graph
        n = len(parked)
        self.n = n
        self.road = np.array([p.road for p in parked], np.int64)
        self.dir = np.array([p.direction for p in parked], np.int64)
        self.s = np.array([p.s_m for p in parked], np.float64)
        self.d = np.array([p.d_m for p in parked], np.float64)
        self.parked = np.ones(n, bool)
        self.kind = np.zeros(n, np.int64)
        self.dims = KIND_DIMS_M[self.kind] * rng.uniform(0.92, 1.08, (n, 1))
        self.colour = _paint(self.kind, rng)
        self.v = np.zeros(n)
        if n:
            x, y, h = graph.packed.pose(self.road, self.s, self.d)
            yaw = h + np.where(self.dir > 0, 0.0, np.pi)
        else:
            x = y = yaw = np.zeros(0)
        self._poses = _frozen(x, y, yaw)
        (self._boxes,) = _frozen(np.stack([x, y, yaw, self.dims[:, 0], self.dims[:, 1]], 1).reshape(-1, 5))

    def poses(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World x, y [m] and yaw [rad] of every vehicle (read-only)."""
        return self._poses

    def boxes(self) -> np.ndarray:
        """(N, 5) footprints [x, y, yaw, length, width] (read-only)."""
        return self._boxes

    def step(self, dt_s: float, ego_xy_yaw_speed, ego_lane, ego_lane_s: float, time_s: float) -> None:
        """Parked cars stay put."""


class NoPedestrians:
    """No pedestrians: the arrays of ``sim.pedestrians.Pedestrians``, all empty."""

    n = 0

    def __init__(self):
        self.s = self.d = self.speed = self.height = np.zeros(0)
        self.mode = np.zeros(0, np.int64)
        self.colour = np.zeros((0, 2, 3), np.uint8)
        self.skin = np.zeros((0, 3), np.uint8)
        self._poses = _frozen(np.zeros(0), np.zeros(0), np.zeros(0))
        (self._boxes,) = _frozen(np.zeros((0, 5)))

    def poses(self):
        return self._poses

    def boxes(self) -> np.ndarray:
        return self._boxes

    def step(self, dt_s: float, ego_xy: tuple[float, float], vehicle_xy_v=None, bodies=None) -> None:
        """Nobody walks."""

    def on_carriageway(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
