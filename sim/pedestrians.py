"""Pedestrians: walk the main road's sidewalks, cross at crosswalks on the walk signal, and
now and then cross mid-block (jaywalk).

State per pedestrian, in the main road's Frenet frame: s, d [m], a walking direction along s,
and a mode. Crossing the main road waits for its red phase; crossing a side road (which the
sidewalk runs across) waits for that side road's red phase.
"""

from __future__ import annotations

import numpy as np

from .lights import RED, TrafficLights
from .road import RoadNetwork

WALK, CROSS, WAIT = 0, 1, 2
JAYWALK_RATE_PER_S = 0.004  # chance per second that a walker starts crossing mid-block
CROSS_AT_CROSSWALK_P = 0.5  # chance a walker crosses the main road at a crosswalk it reaches
SIZE_M = 0.5  # footprint side [m]


class Pedestrians:
    def __init__(self, network: RoadNetwork, lights: TrafficLights, per_km: float, rng: np.random.Generator,
                 keep_clear: tuple[float, float]):
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

    def poses(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x, y, h = self.net.main.pose(self.s, self.d)
        return x, y, h + self.yaw_local

    def boxes(self) -> np.ndarray:
        x, y, yaw = self.poses()
        return np.stack([x, y, yaw, np.full(self.n, SIZE_M), np.full(self.n, SIZE_M)], axis=1)

    def step(self, dt_s: float, ego_s: float) -> None:
        if self.n == 0:
            return
        main_state, side_state = self.lights.phase_states()
        inters = self.net.intersections
        walking = self.mode == WALK
        # walking along: stop at a side road's kerb unless its traffic has red
        for k, inter in enumerate(inters):
            kerb = inter.half_main_m + 0.3
            next_s = self.s + self.dir * self.speed * dt_s
            entering = walking & (np.abs(self.s - inter.main_s) >= kerb) & (np.abs(next_s - inter.main_s) < kerb)
            if side_state[k] != RED:
                self.mode[entering] = WAIT
            # reached this intersection's crosswalk over the main road: maybe cross
            cw = inter.main_s + np.sign(self.s - inter.main_s) * (inter.half_main_m + inter.crosswalk_m / 2)
            at_cw = walking & (np.abs(self.s - cw) < 0.5) & (self.crossed_at != k)
            decide = at_cw & (self.rng.random(self.n) < CROSS_AT_CROSSWALK_P)
            self.crossed_at[at_cw] = k
            self.s[decide] = cw[decide]
            self.mode[decide] = WAIT
            self.target_d[decide] = np.where(self.d[decide] > 0, self.walk_d[0], self.walk_d[1])
        # waiting: go when the relevant road shows red to its traffic
        waiting = self.mode == WAIT
        if waiting.any():
            for k, inter in enumerate(inters):
                near = waiting & (np.abs(self.s - inter.main_s) < inter.half_main_m + inter.crosswalk_m + 1)
                crossing_main = near & (np.abs(self.target_d - self.d) > 1.0)
                crossing_side = near & ~crossing_main
                if main_state[k] == RED:
                    self.mode[crossing_main] = CROSS
                if side_state[k] == RED:
                    self.mode[crossing_side] = WALK
        # jaywalk: a walker far from the ego's immediate path steps out mid-block
        jay = (self.mode == WALK) & (self.rng.random(self.n) < JAYWALK_RATE_PER_S * dt_s) & (np.abs(self.s - ego_s) > 30)
        for inter in inters:
            jay &= np.abs(self.s - inter.main_s) > inter.half_main_m + 10
        self.mode[jay] = CROSS
        self.target_d[jay] = np.where(self.d[jay] > 0, self.walk_d[0], self.walk_d[1])
        # move
        walk = self.mode == WALK
        self.s[walk] += self.dir[walk] * self.speed[walk] * dt_s
        turn = walk & ((self.s < 3) | (self.s > self.net.main.length_m - 3))
        self.dir[turn] *= -1
        cross = self.mode == CROSS
        step = np.clip(self.target_d - self.d, -self.speed * dt_s, self.speed * dt_s)
        self.d[cross] += step[cross]
        done = cross & (np.abs(self.target_d - self.d) < 1e-3)
        self.mode[done] = WALK
        self.yaw_local = np.where(cross, np.sign(step + 1e-9) * np.pi / 2, np.where(self.dir > 0, 0.0, np.pi))
