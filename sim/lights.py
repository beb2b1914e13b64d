"""Traffic lights: one controller per intersection cycling green -> yellow -> red per road.

Each intersection has two phases (main road, side road) that never show green together:
main green, main yellow, all red, side green, side yellow, all red, and again. A light head
stands on the far-right corner of every approach, facing the traffic that approaches it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .road import RoadNetwork

GREEN, YELLOW, RED = 0, 1, 2
STATE_NAMES = ("green", "yellow", "red")
YELLOW_S = 3.0  # [s]
ALL_RED_S = 1.5  # [s]
HOUSING_BOTTOM_M = 3.2  # height of the housing's lower edge [m]
HOUSING_SIZE_M = (0.3, 0.4, 1.0)  # depth, width, height [m]


@dataclass
class LightHead:
    """One light head: where it stands, whom it controls."""

    intersection: int
    road: int  # road whose traffic it controls
    direction: int  # +1 / -1: traffic direction on that road
    x_m: float
    y_m: float
    yaw_rad: float  # the direction its lamps face
    stop_s: float  # stop line on ``road`` for that direction [m]


class TrafficLights:
    """Light heads and the per-intersection signal timing."""

    stop_signs: tuple = ()  # the straight town has lights only (navigation towns: ``sim.roadgraph.signals``)
    sign_xyyaw = (np.zeros(0), np.zeros(0), np.zeros(0))  # the signs' x, y [m] and facing yaw [rad]: none

    def __init__(self, network: RoadNetwork, rng: np.random.Generator):
        self.heads: list[LightHead] = []
        n = len(network.intersections)
        self.green_main_s = rng.uniform(10.0, 18.0, n)
        self.green_side_s = rng.uniform(7.0, 12.0, n)
        self.cycle_s = self.green_main_s + self.green_side_s + 2 * (YELLOW_S + ALL_RED_S)
        self.offset_s = rng.uniform(0.0, 1.0, n) * self.cycle_s
        self.time_s = 0.0
        main = network.main
        for inter in network.intersections:
            side = network.roads[inter.side_road]
            for road, centre_s, half_along, half_across in (
                (main, inter.main_s, inter.half_main_m, inter.half_side_m),
                (side, inter.side_s, inter.half_side_m, inter.half_main_m),
            ):
                for direction in (1, -1):
                    s = centre_s + direction * (half_along + 0.8)
                    d = -direction * (half_across + 0.8)
                    x, y, h = road.pose(s, d)
                    yaw = float(h) + (np.pi if direction > 0 else 0.0)
                    inter.light_ids[(road.road_id, direction)] = len(self.heads)
                    self.heads.append(LightHead(inter.index, road.road_id, direction, float(x), float(y), yaw,
                                                inter.stop_s[(road.road_id, direction)]))
        self._head_inter = np.array([h.intersection for h in self.heads], dtype=np.int64)
        self._head_is_main = np.array([h.road == 0 for h in self.heads], dtype=bool)
        # heads never move: their poses as arrays, for the camera and the labels
        self.head_x_m, self.head_y_m, self.head_yaw_rad = (
            np.array([getattr(h, a) for h in self.heads], np.float64) for a in ("x_m", "y_m", "yaw_rad"))
        self._states_time_s = None  # head_states() is asked several times a step: cached per time
        self._states = None
        self._phases_time_s = None
        self._phases = None

    def step(self, dt_s: float) -> None:
        self.time_s += dt_s

    def phase_states(self) -> tuple[np.ndarray, np.ndarray]:
        """States (GREEN/YELLOW/RED) of the main-road and side-road phases, per intersection
        (read-only; pedestrians and the heads ask every step, so cached per time)."""
        if self._phases_time_s != self.time_s:
            self._phases = self._compute_phase_states()
            for a in self._phases:
                a.flags.writeable = False
            self._phases_time_s = self.time_s
        return self._phases

    def _compute_phase_states(self) -> tuple[np.ndarray, np.ndarray]:
        t = np.mod(self.time_s + self.offset_s, self.cycle_s)
        gm, gs = self.green_main_s, self.green_side_s
        main = np.full(t.shape, RED, dtype=np.int64)
        main[t < gm] = GREEN
        main[(t >= gm) & (t < gm + YELLOW_S)] = YELLOW
        side_start = gm + YELLOW_S + ALL_RED_S
        side = np.full(t.shape, RED, dtype=np.int64)
        side[(t >= side_start) & (t < side_start + gs)] = GREEN
        side[(t >= side_start + gs) & (t < side_start + gs + YELLOW_S)] = YELLOW
        return main, side

    def head_states(self) -> np.ndarray:
        """State of every light head, (H,) int64 (read-only)."""
        if not self.heads:
            return np.zeros(0, dtype=np.int64)
        if self._states_time_s != self.time_s:
            main, side = self.phase_states()
            self._states = np.where(self._head_is_main, main[self._head_inter], side[self._head_inter])
            self._states.flags.writeable = False
            self._states_time_s = self.time_s
        return self._states
