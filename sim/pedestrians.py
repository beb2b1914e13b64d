"""Pedestrians: walk the main road's sidewalks, cross at crosswalks on the walk signal, and
now and then cross mid-block (jaywalk).

State per pedestrian, in the main road's Frenet frame: s, d [m], a walking direction along s,
and a mode. Crossing the main road waits for its red phase; crossing a side road (which the
sidewalk runs across) waits for that side road's red phase.
"""

from __future__ import annotations

import numpy as np

from common.vocab import PEDESTRIAN_SIZE_M

from .lights import RED, TrafficLights
from .kernels import pedestrians_step
from .road import RoadNetwork

WALK, CROSS, WAIT = 0, 1, 2
JAYWALK_RATE_PER_S = 0.004  # chance per second that a walker starts crossing mid-block
CROSS_AT_CROSSWALK_P = 0.5  # chance a walker crosses the main road at a crosswalk it reaches
SIZE_M = PEDESTRIAN_SIZE_M  # footprint side [m]


class Pedestrians:
    def __init__(self, network: RoadNetwork, lights: TrafficLights, per_km: float, rng: np.random.Generator):
        self.net = network
        self.lights = lights
        self.rng = rng
        main = network.main
        lo, hi = main.asphalt_d
        self.walk_d = (lo - main.sidewalk_m / 2, hi + main.sidewalk_m / 2)
        n = int(rng.poisson(per_km * main.length_m / 1000.0)) if main.sidewalk_m > 0 else 0
        self.n = n
        self.s = rng.uniform(5, main.length_m - 5, n)
        side = rng.choice([0, 1], n)
        self.d = np.array(self.walk_d)[side] + rng.uniform(-0.6, 0.6, n)
        self.dir = rng.choice([-1, 1], n).astype(np.int64)
        self.speed = rng.uniform(1.0, 1.6, n)  # [m/s]
        self.height = rng.uniform(1.55, 1.9, n)  # [m]
        self.mode = np.full(n, WALK, dtype=np.int64)
        self.target_d = self.d.copy()
        self.crossed_at = np.full(n, -1, dtype=np.int64)  # last crosswalk handled, to decide once
        self.colour = rng.integers(20, 230, (n, 2, 3)).astype(np.uint8)  # shirt, trousers
        self.skin = np.array([[235, 200, 170], [200, 150, 110], [140, 95, 65], [90, 60, 40]], np.uint8)[rng.integers(0, 4, n)]
        self.yaw_local = np.where(self.dir > 0, 0.0, np.pi)  # relative to the road heading [rad]
        self._pose_key = None
        self._pose_cache = None
        self._inter_arrays = tuple(np.array([getattr(i, a) for i in network.intersections], np.float64).reshape(-1)
                                   for a in ("main_s", "half_main_m", "crosswalk_m"))

    def poses(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World x, y [m] and yaw [rad] of every pedestrian (read-only; cached per state, see Traffic.poses)."""
        key = (self.s.tobytes(), self.d.tobytes(), self.yaw_local.tobytes())
        if self._pose_key != key:
            x, y, h = self.net.main.pose(self.s, self.d)
            yaw = h + self.yaw_local
            boxes = np.stack([x, y, yaw, np.full(self.n, SIZE_M), np.full(self.n, SIZE_M)], axis=1)
            for a in (x, y, yaw, boxes):
                a.flags.writeable = False
            self._pose_cache = (x, y, yaw, boxes)
            self._pose_key = key
        return self._pose_cache[:3]

    def boxes(self) -> np.ndarray:
        """(N, 5) footprints [x, y, yaw, length, width] (read-only)."""
        self.poses()
        return self._pose_cache[3]

    def step(self, dt_s: float, ego_s: float) -> None:
        """Walk, wait at kerbs and crosswalks, cross on red for the crossed road, sometimes jaywalk."""
        if self.n == 0:
            return
        main_state, side_state = self.lights.phase_states()
        inters = self.net.intersections
        # the same draws, in the same order, as one rng.random(n) per intersection and one for jaywalking
        draws = self.rng.random((len(inters) + 1, self.n))
        pedestrians_step(self.s, self.d, self.dir, self.speed, self.mode, self.target_d, self.crossed_at,
                         self.yaw_local, draws, float(dt_s), float(ego_s), float(self.net.main.length_m),
                         float(self.walk_d[0]), float(self.walk_d[1]), *self._inter_arrays,
                         main_state, side_state, CROSS_AT_CROSSWALK_P, JAYWALK_RATE_PER_S * dt_s, WALK, CROSS, WAIT, RED)
