"""Other vehicles: IDM car-following, MOBIL lane changes, red lights and pedestrians.

Vehicles live in Frenet coordinates of the road they drive on (numpy arrays, one entry per
vehicle), so lane keeping is exact and one step for all vehicles is a handful of array
operations. Every road gathers its obstacles (vehicles, the ego, pedestrians on the asphalt,
stop lines showing red) and each vehicle follows the nearest one ahead in its corridor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from common.vocab import VEHICLE_DIMS_M

from .collision import box_rows
from .idm import IDMParams, MOBILParams, idm_accel, idm_free_term, mobil_gain
from .kernels import leader_search, traffic_accel
from .lights import RED, YELLOW, TrafficLights
from .road import RoadNetwork

# kind: (length, width, height) [m], share of spawned vehicles in town / highway
VEHICLE_KINDS = ("car", "truck", "bus", "motorcycle")
KIND_DIMS_M = np.array([VEHICLE_DIMS_M[k] for k in range(len(VEHICLE_KINDS))])  # kind = vehicle class index
KIND_SHARE = {"town": [0.75, 0.07, 0.08, 0.10], "highway": [0.72, 0.18, 0.04, 0.06]}
LANE_CHANGE_SPEED_M_S = 1.0  # lateral speed during a lane change [m/s]
LANE_CHANGE_PERIOD_S = 1.0  # how often a vehicle reconsiders its lane [s]
MIN_SPAWN_GAP_M = 12.0


@dataclass
class Obstacles:
    """Things a vehicle may have to follow or stop for, in one road's Frenet frame."""

    s: np.ndarray  # (M,) [m]
    d: np.ndarray  # (M,) [m]
    half_len: np.ndarray  # (M,) [m]
    half_wid: np.ndarray  # (M,) [m]
    v_s: np.ndarray  # (M,) signed speed along +s [m/s]
    vehicle: np.ndarray  # (M,) index into Traffic arrays, -1 for non-vehicles


class FrenetPoses:
    """World poses and footprints of vehicles kept in Frenet coordinates (``road``, ``s``, ``d``,
    ``dir``, ``heading_offset``, ``dims`` arrays on the owner), on a ``PackedRoads``.

    Collision checks, labels and the camera all ask for the poses several times a step; they are
    computed once per distinct state (keyed by the state's bytes, so a caller that moves vehicles
    directly still gets fresh poses). Both traffic models (this module's and
    ``sim.roadgraph.traffic``) use it."""

    def __init__(self) -> None:
        self._key = None
        self._cache = None

    def get(self, v, packed) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(x, y, yaw, boxes) of the vehicles of ``v``, read-only arrays."""
        key = (v.s.tobytes(), v.d.tobytes(), v.heading_offset.tobytes(), v.road.tobytes(), v.dir.tobytes())
        if self._key != key:
            x, y, h = packed.pose(v.road, v.s, v.d)
            yaw = h + np.where(v.dir > 0, 0.0, np.pi) + v.heading_offset
            boxes = box_rows(x, y, yaw, v.dims[:, 0], v.dims[:, 1])
            for a in (x, y, yaw, boxes):
                a.flags.writeable = False
            self._cache = (x, y, yaw, boxes)
            self._key = key
        return self._cache


class Traffic:
    """All non-ego vehicles, parked ones included (speed 0, never move)."""

    def __init__(self, network: RoadNetwork, lights: TrafficLights, kind: str, density_per_km: float,
                 parked: list[tuple[float, float, float]], rng: np.random.Generator, keep_clear: tuple[float, float]):
        self.net = network
        self.lights = lights
        self.idm = IDMParams()
        self.mobil = MOBILParams()
        rows = []
        for road in network.roads:
            for direction, lanes in ((1, road.lanes_fwd), (-1, road.lanes_bwd)):
                for lane in range(lanes):
                    count = rng.poisson(density_per_km * road.length_m / 1000.0)
                    s_vals = np.sort(rng.uniform(0, road.length_m, count))
                    last = -1e9
                    for s in s_vals:
                        if s - last < MIN_SPAWN_GAP_M:
                            continue
                        if road.road_id == 0 and direction == 1 and keep_clear[0] <= s <= keep_clear[1]:
                            continue
                        last = s
                        rows.append((road.road_id, direction, lane, s, False))
        for s, d, _ in parked:
            rows.append((0, 1 if d < 0 else -1, -1, s, True))
        n = len(rows)
        self.n = n
        self.road = np.array([r[0] for r in rows], dtype=np.int64)
        self.dir = np.array([r[1] for r in rows], dtype=np.int64)
        self.parked = np.array([r[4] for r in rows], dtype=bool)
        self.s = np.array([r[3] for r in rows], dtype=np.float64)
        self.kind = rng.choice(len(VEHICLE_KINDS), size=n, p=KIND_SHARE[kind]).astype(np.int64)
        self.kind[self.parked] = 0  # parked: cars
        self.dims = KIND_DIMS_M[self.kind] * rng.uniform(0.92, 1.08, (n, 1))
        self.d = np.zeros(n)
        self.lane = np.array([max(r[2], 0) for r in rows], dtype=np.int64)
        for i, r in enumerate(rows):
            road = network.roads[r[0]]
            if r[4]:
                self.d[i] = [p for p in parked if p[0] == r[3]][0][1]
            else:
                self.d[i] = float(road.lane_centre_d(r[2], r[1]))
        self.d_target = self.d.copy()
        limit = np.array([network.roads[r].speed_limit_m_s for r in self.road]) if n else np.zeros(0)
        factor = rng.uniform(0.85, 1.1, n)
        factor[self.kind == 1] *= 0.85  # trucks are slower
        self.v_desired = np.where(self.parked, 0.0, limit * factor)
        self.v = self.v_desired * rng.uniform(0.6, 1.0, n)
        self.lc_phase = rng.uniform(0, LANE_CHANGE_PERIOD_S, n)
        self.colour = _paint(self.kind, rng)
        self._stop_tables = self._build_stop_tables()
        self.heading_offset = np.zeros(n)  # yaw relative to the lane direction during lane changes [rad]
        self._road_length_m = np.array([network.roads[r].length_m for r in self.road], np.float64)
        self._moving_idx = np.flatnonzero(~self.parked)
        self._poses = FrenetPoses()

    # --- geometry ------------------------------------------------------------------------
    def poses(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World x, y [m] and yaw [rad] of every vehicle (read-only arrays, ``FrenetPoses``)."""
        return self._poses.get(self, self.net.packed)[:3]

    def boxes(self) -> np.ndarray:
        """(N, 5) oriented footprints [x, y, yaw, length, width] (read-only)."""
        return self._poses.get(self, self.net.packed)[3]

    # --- dynamics ------------------------------------------------------------------------
    def _build_stop_tables(self):
        """Stop lines of all light heads: road, s [m], direction, head index (int64 / float64 columns)."""
        heads = self.lights.heads
        return (np.array([h.road for h in heads], np.int64), np.array([h.stop_s for h in heads], np.float64),
                np.array([h.direction for h in heads], np.int64))

    def step(self, dt_s: float, obstacles: tuple[Obstacles, np.ndarray], time_s: float) -> None:
        """Advance every moving vehicle by ``dt_s``.

        ``obstacles``: every road's obstacles and the road each lies on, all vehicles first in
        index order, then the extras (ego, pedestrians), as ``World.obstacles`` gathers them.
        """
        if self.n == 0:
            return
        acc = np.zeros(self.n)
        head_states = self.lights.head_states()
        idx = self._moving_idx
        obs, obs_road = obstacles
        if idx.size:
            acc[idx] = self._idm_accel(idx, obs, obs_road, head_states)
            self._lane_changes(idx, obs, obs_road, acc, dt_s, time_s)
        moving = ~self.parked
        v_new = np.maximum(self.v + acc * dt_s, 0.0)
        travel = 0.5 * (self.v + v_new) * dt_s
        self.v = np.where(moving, v_new, 0.0)
        kappa = self.net.packed.curvature_at(self.road, self.s)
        scale = 1.0 / np.clip(1.0 - kappa * self.d, 0.5, 2.0)  # offset lanes are longer/shorter in curves
        self.s += np.where(moving, self.dir * travel * scale, 0.0)
        # lane change: slide d toward the target lane
        delta = self.d_target - self.d
        step = np.clip(delta, -LANE_CHANGE_SPEED_M_S * dt_s, LANE_CHANGE_SPEED_M_S * dt_s)
        self.d += step
        lateral_speed = step / dt_s
        self.heading_offset = np.arctan2(lateral_speed * self.dir, np.maximum(self.v, 1.0))
        self._recycle()

    def _road_obstacles(self, obs: Obstacles, obs_road: np.ndarray, road_id: int) -> Obstacles:
        m = obs_road == road_id
        return Obstacles(*(getattr(obs, f)[m] for f in Obstacles.__dataclass_fields__))

    def _idm_accel(self, idx: np.ndarray, obs: Obstacles, obs_road: np.ndarray, head_states: np.ndarray) -> np.ndarray:
        """IDM acceleration of vehicles ``idx``: following the obstacle ahead, and braking for a stop
        line that shows red (or yellow while stopping is still comfortable), whichever is lower
        (one compiled pass, ``kernels.traffic_accel``)."""
        p = self.idm
        free = idm_free_term(self.v, self.v_desired, p)
        stop_road, stop_s, stop_dir = self._stop_tables
        return traffic_accel(idx, self.s, self.d, self.dir, self.dims[:, 0], self.dims[:, 1], self.road, self.v, free,
                             obs.s, obs.d, obs.half_len, obs.half_wid, obs.v_s, obs.vehicle, obs_road,
                             stop_road, stop_s, stop_dir, head_states, RED, YELLOW,
                             p.T_s, p.s0_m, p.a_m_s2, p.b_m_s2, 2.0 * math.sqrt(p.a_m_s2 * p.b_m_s2), p.max_brake_m_s2)

    def _lane_changes(self, idx, obs, obs_road, acc, dt_s, time_s) -> None:
        """MOBIL on multi-lane roads, only for roads with a vehicle whose turn it is."""
        due = np.mod(time_s + self.lc_phase[idx], LANE_CHANGE_PERIOD_S) < dt_s
        if not due.any():
            return
        for road in self.net.roads:
            if max(road.lanes_fwd, road.lanes_bwd) > 1 and np.any(due & (self.road[idx] == road.road_id)):
                on = idx[self.road[idx] == road.road_id]
                self._consider_lane_change(on, self._road_obstacles(obs, obs_road, road.road_id), acc, dt_s,
                                           time_s, road)

    def _leader(self, idx: np.ndarray, d_self: np.ndarray, obs: Obstacles):
        """Gap [m] to and speed [m/s] of the nearest obstacle ahead in each vehicle's corridor.

        ``idx`` are vehicles on one road and ``obs`` that road's obstacles."""
        if len(obs.s) == 0 or len(idx) == 0:
            return np.full(len(idx), np.inf), np.zeros(len(idx)), np.zeros(len(idx), np.int64)
        obs_road = np.full(len(obs.s), self.road[idx[0]], np.int64)
        gap, j = leader_search(idx, d_self, self.s, self.dir, self.dims[:, 0], self.dims[:, 1], self.road,
                               obs.s, obs.d, obs.half_len, obs.half_wid, obs.vehicle, obs_road)
        return gap, np.maximum(obs.v_s[j] * self.dir[idx], 0.0), j

    def _consider_lane_change(self, idx, obs, acc, dt_s, time_s, road) -> None:
        """MOBIL for the vehicles whose turn it is, not mid-change and not near an intersection."""
        due = (np.mod(time_s + self.lc_phase[idx], LANE_CHANGE_PERIOD_S) < dt_s) & (np.abs(self.d_target[idx] - self.d[idx]) < 0.05)
        for inter in self.net.intersections:
            centre = inter.main_s if road.road_id == 0 else inter.side_s
            due &= np.abs(self.s[idx] - centre) > 40.0
        cand = idx[due]
        if cand.size == 0:
            return
        lanes = np.where(self.dir[cand] > 0, road.lanes_fwd, road.lanes_bwd)
        a_now = acc[cand]
        for step_dir in (-1, 1):  # -1: toward lane 0 (left of the traffic direction), +1: toward the edge (right)
            new_lane = self.lane[cand] + step_dir
            ok = (new_lane >= 0) & (new_lane < lanes)
            if not ok.any():
                continue
            c = cand[ok]
            d_new = road.lane_centre_d(new_lane[ok], self.dir[c])
            gap, v_lead, _ = self._leader(c, d_new, obs)
            a_new = idm_accel(self.v[c], self.v_desired[c], gap, v_lead, self.idm)
            # the new follower: nearest vehicle behind in the target lane
            rel = (obs.s[None, :] - self.s[c, None]) * self.dir[c, None]
            same_dir = np.sign(obs.v_s[None, :] + 1e-3) == self.dir[c, None]
            in_lane = np.abs(obs.d[None, :] - d_new[:, None]) < 1.0
            # every obstacle counts as a possible new follower, the ego included (it is not in the vehicle
            # arrays: obs.vehicle == -1), so nobody merges into the ego's side or just ahead of its bumper
            behind = (rel < 0) & in_lane & same_dir
            back_gap = np.where(behind, -rel - obs.half_len[None, :] - self.dims[c, 0, None] / 2, np.inf)
            f = np.argmin(back_gap, axis=1)
            fg = back_gap[np.arange(len(c)), f]
            has_f = np.isfinite(fg)
            fv = np.where(has_f, np.abs(obs.v_s[f]), 0.0)
            f_index = np.where(has_f, obs.vehicle[f], 0)
            f_desired = np.where(has_f & (f_index >= 0), self.v_desired[np.maximum(f_index, 0)], 30.0)
            af_new = np.where(has_f, idm_accel(fv, f_desired, np.where(has_f, fg, np.inf), self.v[c], self.idm), 0.0)
            af_now = np.where(has_f & (f_index >= 0), acc[np.maximum(f_index, 0)], 0.0)
            gain, safe = mobil_gain(a_now[ok], a_new, af_now, af_new, 0.0, 0.0, self.mobil, np.full(len(c), step_dir > 0))
            go = (gain > self.mobil.threshold_m_s2) & safe & (fg > 2.0) & (gap > 4.0)
            changing = c[go]
            self.lane[changing] = new_lane[ok][go]
            self.d_target[changing] = d_new[go]

    def _recycle(self) -> None:
        """Vehicles that leave a road re-enter at its start (out of the ego's sight, behind or far ahead)."""
        out = ~self.parked & ((self.s < 0) | (self.s > self._road_length_m))
        for i in np.flatnonzero(out):  # rare: a handful per minute
            road = self.net.roads[self.road[i]]
            m = (self.road == road.road_id) & ~self.parked
            entry = 0.0 if self.dir[i] > 0 else road.length_m
            same = m & (self.dir == self.dir[i]) & (np.abs(self.d - self.d[i]) < 1.0)
            same[i] = False
            if np.any(np.abs(self.s[same] - entry) < MIN_SPAWN_GAP_M):
                self.s[i] = np.clip(self.s[i], 0.0, road.length_m)  # wait off-stage
                self.v[i] = 0.0
                continue
            self.s[i] = entry
            self.d[i] = self.d_target[i] = float(road.lane_centre_d(self.lane[i], self.dir[i]))


def _paint(kind: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Body colours: common car paints, white/yellow buses, trucks with coloured cabs."""
    palette = np.array([[230, 230, 232], [20, 20, 24], [150, 152, 158], [180, 30, 30], [30, 60, 160],
                        [200, 200, 205], [90, 90, 95], [40, 110, 60], [230, 180, 40], [120, 20, 30]], dtype=np.float64)
    colour = palette[rng.integers(0, len(palette), len(kind))]
    colour[kind == 2] = [235, 200, 40] if rng.random() < 0.5 else [225, 225, 225]
    colour *= rng.uniform(0.9, 1.1, (len(kind), 1))
    return np.clip(colour, 0, 255).astype(np.uint8)
