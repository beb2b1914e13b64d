"""Scripted road users: vehicles, cyclists and walkers on timed trajectories, in the interfaces of
``sim.traffic.Traffic`` and ``sim.pedestrians.Pedestrians`` so that the world steps them, the camera
draws them, the labels list them and the collision check finds them as it does its own actors.

A ``Trajectory`` is a straight line in the main road's Frenet frame with a speed profile (speeds at
knots in time, linear between: piecewise constant acceleration) and an optional smooth lateral shift
(a lane change). It ignores everyone else: the scenario, not the actor, decides what happens.
A suite scene holds a handful of actors, so each is evaluated on its own (a per-actor loop over
fewer than ten actors, cheaper than the world's other per-step work).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from common.vocab import CYCLIST_CLASS, CYCLIST_DIMS_M, PEDESTRIAN_SIZE_M, TRAFFIC_CONE_CLASS, TRAFFIC_CONE_DIMS_M, VEHICLE_DIMS_M

from ..road import RoadNetwork
from ..traffic import FrenetPoses

WALK, WAIT = 0, 2  # ``sim.pedestrians`` modes the labels read (a waiting walker reports speed 0)
# a traffic cone: its own class (``common.vocab.TRAFFIC_CONE_CLASS``), a standing obstacle the labels report;
# the camera draws it as the motorcycle's part boxes at the cone's size, in orange (``sim.meshes.VEHICLE_PARTS``)
CONE_CLASS = TRAFFIC_CONE_CLASS
CONE_DIMS_M = TRAFFIC_CONE_DIMS_M  # (length, width, height) [m]
CONE_COLOUR = (255, 110, 20)


@dataclass(frozen=True)
class Trajectory:
    """A timed straight-line motion in the main road's Frenet frame (s along, d left of the centre line)."""

    s0_m: float  # start [m]
    d0_m: float  # start [m]
    heading_rad: float  # direction of travel relative to +s: 0 along the road, +pi/2 crossing to the left [rad]
    knots_s: tuple[float, ...] = (0.0,)  # times of the speed profile's knots, increasing, the first 0 [s]
    speeds_m_s: tuple[float, ...] = (0.0,)  # speed at each knot [m/s]; linear between, the last held after
    shift_m: float = 0.0  # a lateral shift added to d (a lane change), positive to the left [m]
    shift_start_s: float = math.inf  # when the shift begins [s]
    shift_duration_s: float = 1.0  # how long it takes (a half-cosine in time) [s]

    def distance_m(self, t_s: float) -> float:
        """Path length travelled by time ``t_s`` [m] (exact for the piecewise-linear speed)."""
        t, v = self.knots_s, self.speeds_m_s
        dist = 0.0
        for k in range(len(t) - 1):
            if t_s <= t[k]:
                return dist
            end = min(t_s, t[k + 1])
            v_end = v[k] + (v[k + 1] - v[k]) * (end - t[k]) / (t[k + 1] - t[k])
            dist += 0.5 * (v[k] + v_end) * (end - t[k])
        return dist + v[-1] * max(t_s - t[-1], 0.0)

    def speed_m_s(self, t_s: float) -> float:
        """Speed along the heading at ``t_s`` [m/s]."""
        return float(np.interp(t_s, self.knots_s, self.speeds_m_s))

    def state(self, t_s: float) -> tuple[float, float, float, float]:
        """(s [m], d [m], speed [m/s], heading relative to +s [rad]) at time ``t_s``."""
        p = self.distance_m(t_s)
        v = self.speed_m_s(t_s)
        s = self.s0_m + p * math.cos(self.heading_rad)
        d = self.d0_m + p * math.sin(self.heading_rad)
        heading = self.heading_rad
        if self.shift_m:
            u = min(max((t_s - self.shift_start_s) / self.shift_duration_s, 0.0), 1.0)
            d += self.shift_m * 0.5 * (1.0 - math.cos(math.pi * u))
            if 0.0 < u < 1.0:  # the body turns with its sideways speed
                lateral_m_s = self.shift_m * 0.5 * math.pi * math.sin(math.pi * u) / self.shift_duration_s
                heading += math.atan2(lateral_m_s, max(v, 1.0))
        return s, d, v, heading


def wait_then_go(t_go_s: float, speed_m_s: float, accel_dist_m: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Speed knots of an actor that stands until ``t_go_s``, then speeds up evenly over ``accel_dist_m``
    and holds ``speed_m_s`` (how the protocols' dummies start)."""
    t_acc = 2.0 * accel_dist_m / speed_m_s
    if t_go_s <= 0.0:
        return (0.0, t_acc), (0.0, speed_m_s)
    return (0.0, t_go_s, t_go_s + t_acc), (0.0, 0.0, speed_m_s)


def time_to_cover(distance_m: float, speed_m_s: float, accel_dist_m: float) -> float:
    """Seconds from starting (``wait_then_go``) to having covered ``distance_m`` >= ``accel_dist_m`` [s]."""
    return (distance_m + accel_dist_m) / speed_m_s


def cruise_then_brake(speed_m_s: float, t_brake_s: float, decel_m_s2: float, end_m_s: float = 0.0):
    """Speed knots of an actor that holds ``speed_m_s`` and brakes at ``decel_m_s2`` from ``t_brake_s`` to ``end_m_s``."""
    return (0.0, t_brake_s, t_brake_s + (speed_m_s - end_m_s) / decel_m_s2), (speed_m_s, speed_m_s, end_m_s)


@dataclass(frozen=True)
class ScriptedActor:
    """One scripted road user (or a traffic cone, which the scenarios move nowhere): what it is, how it
    looks, how it moves and what part it plays."""

    kind: str  # "car" | "cyclist" | "adult" | "child" | "cone"
    trajectory: Trajectory
    role: str = "target"  # "target" (what the scenario is about) | "obstruction" | "traffic"
    colour: tuple[int, int, int] = (200, 200, 205)  # body paint (vehicles) or shirt (walkers), RGB
    height_m: float = 1.8  # walkers' height [m]

    @property
    def is_walker(self) -> bool:
        return self.kind in ("adult", "child")

    @property
    def class_id(self) -> int:
        """The object class the labels give it (``common.vocab.CLASS_NAMES``); walkers are pedestrians."""
        return {"car": 0, "cyclist": CYCLIST_CLASS, "cone": CONE_CLASS}[self.kind]

    @property
    def dims_m(self) -> tuple[float, float, float]:
        """(length, width, height) of its body [m]."""
        if self.kind == "car":
            return VEHICLE_DIMS_M[0]
        if self.kind == "cyclist":
            return CYCLIST_DIMS_M
        if self.kind == "cone":
            return CONE_DIMS_M
        return (PEDESTRIAN_SIZE_M, PEDESTRIAN_SIZE_M, self.height_m)


def _frozen(*arrays):
    for a in arrays:
        a.flags.writeable = False
    return arrays


class ScriptedVehicles:
    """Scripted cars and cyclists with the attributes ``World``, the labels and the view read of
    ``sim.traffic.Traffic`` (Frenet state on road 0, kind, dims, colour, speed, poses, boxes)."""

    def __init__(self, network: RoadNetwork, actors: tuple[ScriptedActor, ...]):
        self.net = network
        self.actors = actors
        n = len(actors)
        self.n = n
        self.road = np.zeros(n, np.int64)
        self.kind = np.array([a.class_id for a in actors], np.int64)
        self.dims = np.array([a.dims_m for a in actors], np.float64).reshape(n, 3)
        self.colour = np.array([a.colour for a in actors], np.uint8).reshape(n, 3)
        self.parked = np.array([max(a.trajectory.speeds_m_s) == 0.0 for a in actors], bool)
        self.dir = np.ones(n, np.int64)  # headings are kept whole in ``heading_offset``
        self.s, self.d, self.v, self.heading_offset = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
        self._poses = FrenetPoses()
        self._place(0.0)

    def _place(self, t_s: float) -> None:
        for i, a in enumerate(self.actors):
            self.s[i], self.d[i], self.v[i], self.heading_offset[i] = a.trajectory.state(t_s)

    def poses(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World x, y [m] and yaw [rad] of every vehicle (read-only arrays)."""
        return self._poses.get(self, self.net.packed)[:3]

    def boxes(self) -> np.ndarray:
        """(N, 5) oriented footprints [x, y, yaw, length, width] (read-only)."""
        return self._poses.get(self, self.net.packed)[3]

    def step(self, dt_s: float, obstacles, time_s: float) -> None:
        """Move every vehicle to where its trajectory is at ``time_s`` (the world's clock, already advanced)."""
        self._place(time_s)


def walker_looks(walkers, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Heights [m], (n, 2, 3) shirt and trouser colours, (n, 3) skin of walkers that each have ``height_m`` and
    ``colour`` (the shirt): what the renderer reads off a pedestrian group. Trousers, then skin, from ``rng``."""
    n = len(walkers)
    height = np.array([w.height_m for w in walkers], np.float64)
    trousers = rng.integers(20, 120, (n, 3))
    colour = np.stack([np.array([w.colour for w in walkers]).reshape(n, 3), trousers], 1).astype(np.uint8)
    skin = np.array([[235, 200, 170], [200, 150, 110], [140, 95, 65], [90, 60, 40]], np.uint8)[rng.integers(0, 4, n)]
    return height, colour, skin


class ScriptedWalkers:
    """Scripted pedestrians (adults and children) with the attributes of ``sim.pedestrians.Pedestrians``
    that the world, the labels and the view read."""

    def __init__(self, network: RoadNetwork, actors: tuple[ScriptedActor, ...], rng: np.random.Generator):
        self.net = network
        self.actors = actors
        n = len(actors)
        self.n = n
        self.height, self.colour, self.skin = walker_looks(actors, rng)
        self.s, self.d, self.speed, self.yaw_local = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
        self.mode = np.full(n, WAIT, np.int64)
        self.time_s = 0.0
        self._key = None
        self._cache = None
        self._place(0.0)

    def _place(self, t_s: float) -> None:
        for i, a in enumerate(self.actors):
            self.s[i], self.d[i], self.speed[i], self.yaw_local[i] = a.trajectory.state(t_s)
        self.mode[:] = np.where(self.speed > 0.0, WALK, WAIT)

    def poses(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World x, y [m] and yaw [rad] of every walker (read-only; cached per state)."""
        key = (self.s.tobytes(), self.d.tobytes(), self.yaw_local.tobytes())
        if self._key != key:
            x, y, h = self.net.main.pose(self.s, self.d)
            yaw = h + self.yaw_local
            size = np.full(self.n, PEDESTRIAN_SIZE_M)
            self._cache = _frozen(x, y, yaw, np.stack([x, y, yaw, size, size], 1).reshape(-1, 5))
            self._key = key
        return self._cache[:3]

    def boxes(self) -> np.ndarray:
        """(N, 5) footprints [x, y, yaw, length, width] (read-only)."""
        self.poses()
        return self._cache[3]

    def step(self, dt_s: float, ego_s: float) -> None:
        """Advance the walkers' own clock (which runs with the world's) and move them there."""
        self.time_s += dt_s
        self._place(self.time_s)
