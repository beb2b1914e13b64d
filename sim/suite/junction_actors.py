"""Actors of the junction cases, in the interfaces a ``sim.nav_world.NavWorld`` steps, draws, labels and
collides with:

- ``JunctionTraffic``: the town's real traffic (``GraphTraffic``: vehicles placed by the case, that
  follow, obey the lights and yield by the town's rules) and scripted vehicles on fixed paths
  (``PathVehicles``: the red-light runner, which ignores everything), as one vehicle list, the graph's
  vehicles first. A graph vehicle may be held: its desired speed near zero until a release time (the
  head of a queue waiting on something beyond the junction), its followers queue behind it by IDM.
- ``CrossingWalkers``: walkers crossing a crosswalk kerb to kerb at their pace, each stepping off at
  its own time (the case's timing), then standing at the far kerb.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from common.vocab import PEDESTRIAN_SIZE_M

from ..road import Road
from ..roadgraph.traffic import GraphTraffic
from .actors import WAIT, WALK, ScriptedActor, walker_looks

HOLD_SPEED_FACTOR = 1e-3  # a held vehicle wants this share of the limit: it stands (a few mm/s at most)


@dataclass(frozen=True)
class PathActor:
    """A scripted vehicle on a path: its ``actor.trajectory`` runs along ``path`` (s0 the path s at
    t = 0, d and heading unused: 0)."""

    actor: ScriptedActor
    path: Road


@dataclass(frozen=True)
class GraphVehicle:
    """A vehicle the case places in the town's traffic (``GraphTraffic.add_vehicle``)."""

    lane: tuple[int, int, int]  # street lane (road, direction, lane)
    s_m: float  # road s of its centre [m]
    speed_m_s: float
    connector: int  # index into ``graph.connectors`` it takes at the junction ahead
    role: str = "traffic"  # "target" | "traffic" (as ``ScriptedActor.role``)
    hold_until_s: float = 0.0  # stands until then (a queue's head) [s]; 0: drives from the start


@dataclass(frozen=True)
class CrossingWalk:
    """A walker crossing kerb to kerb along a straight line."""

    start_xy: tuple[float, float]  # on the near kerb's sidewalk [m]
    heading_rad: float  # the way it walks [rad]
    length_m: float  # to the far kerb's sidewalk [m]
    speed_m_s: float
    go_s: float  # when it steps off [s]; negative: already that long on its way at the start
    height_m: float = 1.75
    colour: tuple[int, int, int] = (60, 90, 160)
    role: str = "target"


class PathVehicles:
    """Scripted vehicles on paths (``PathActor``), in ``GraphTraffic``'s read interface."""

    def __init__(self, actors: tuple[PathActor, ...]):
        self.actors = actors
        n = len(actors)
        self.n = n
        self.kind = np.array([a.actor.class_id for a in actors], np.int64)
        self.dims = np.array([a.actor.dims_m for a in actors], np.float64).reshape(n, 3)
        self.colour = np.array([a.actor.colour for a in actors], np.uint8).reshape(n, 3)
        self.parked = np.zeros(n, bool)
        self.v = np.zeros(n)
        self._boxes = np.zeros((n, 5))
        self.place(0.0)

    def place(self, t_s: float) -> None:
        for i, a in enumerate(self.actors):
            s, _, v, _ = a.actor.trajectory.state(t_s)
            x, y, h = a.path.pose(np.array([s]), np.zeros(1))
            self.v[i] = v
            self._boxes[i] = float(x[0]), float(y[0]), float(h[0]), self.dims[i, 0], self.dims[i, 1]

    def boxes(self) -> np.ndarray:
        return self._boxes


class JunctionTraffic:
    """``GraphTraffic`` and ``PathVehicles`` as one vehicle list (graph vehicles first), with the
    attributes the world, the labels and the view read."""

    def __init__(self, graph_traffic: GraphTraffic, scripted: PathVehicles, holds: dict[int, float]):
        self.graph_traffic, self.scripted = graph_traffic, scripted
        self.holds = dict(holds)  # graph vehicle index -> release time [s]
        self._factor = {i: float(graph_traffic.speed_factor[i]) for i in self.holds}
        for i in self.holds:
            graph_traffic.speed_factor[i] = HOLD_SPEED_FACTOR
        self.n = graph_traffic.n + scripted.n
        self.kind = np.concatenate([graph_traffic.kind, scripted.kind])
        self.dims = np.concatenate([graph_traffic.dims, scripted.dims])
        self.colour = np.concatenate([graph_traffic.colour, scripted.colour])
        self.parked = np.concatenate([graph_traffic.parked, scripted.parked])

    @property
    def v(self) -> np.ndarray:
        return np.concatenate([self.graph_traffic.v, self.scripted.v])

    def boxes(self) -> np.ndarray:
        """(N, 5) footprints [x, y, yaw, length, width] (a fresh array: a few rows)."""
        return np.concatenate([self.graph_traffic.boxes(), self.scripted.boxes()]).reshape(-1, 5)

    def poses(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        b = self.boxes()
        return b[:, 0], b[:, 1], b[:, 2]

    def step(self, dt_s: float, ego_xy_yaw_speed, ego_lane, ego_lane_s: float, time_s: float,
             walkers_xy=None, ego_next=(-1, math.inf)) -> None:
        for i, release in list(self.holds.items()):
            if time_s >= release:
                self.graph_traffic.speed_factor[i] = self._factor.pop(i)
                del self.holds[i]
        self.graph_traffic.step(dt_s, ego_xy_yaw_speed, ego_lane, ego_lane_s, time_s, walkers_xy, ego_next)
        self.scripted.place(time_s)


class CrossingWalkers:
    """Walkers on ``CrossingWalk`` lines, in the read interface of ``sim.roadgraph.pedestrians``."""

    def __init__(self, walks: tuple[CrossingWalk, ...], rng: np.random.Generator):
        self.walks = walks
        n = len(walks)
        self.n = n
        self.height, self.colour, self.skin = walker_looks(walks, rng)
        self._x0 = np.array([w.start_xy[0] for w in walks], np.float64)
        self._y0 = np.array([w.start_xy[1] for w in walks], np.float64)
        self._yaw = np.array([w.heading_rad for w in walks], np.float64)
        self._len = np.array([w.length_m for w in walks], np.float64)
        self._v = np.array([w.speed_m_s for w in walks], np.float64)
        self._go = np.array([w.go_s for w in walks], np.float64)
        self.time_s = 0.0
        self._place()

    def _place(self) -> None:
        walked = np.clip(self._v * (self.time_s - self._go), 0.0, self._len)
        walking = (self.time_s > self._go) & (walked < self._len)
        self.mode = np.where(walking, WALK, WAIT).astype(np.int64)
        self.speed = np.where(walking, self._v, 0.0)
        x = self._x0 + walked * np.cos(self._yaw)
        y = self._y0 + walked * np.sin(self._yaw)
        size = np.full(self.n, PEDESTRIAN_SIZE_M)
        self._poses = (x, y, self._yaw.copy())
        self._boxes = np.stack([x, y, self._yaw, size, size], 1).reshape(-1, 5)

    def poses(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self._poses

    def boxes(self) -> np.ndarray:
        return self._boxes

    def step(self, dt_s: float, ego_xy=None, vehicle_xy_v=None, bodies=None) -> None:
        """They keep to their timing, whatever comes, the ego in their way too (the case, not the walker, decides)."""
        self.time_s += dt_s
        self._place()

    def on_carriageway(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Indices and x, y [m] of the walkers on their way across (traffic stops for them)."""
        idx = np.flatnonzero(self.mode == WALK)
        x, y, _ = self._poses
        return idx, x[idx], y[idx]
