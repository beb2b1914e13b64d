"""Pedestrians of a graph town: walk the sidewalks of every street, turn corners at junctions,
cross at the zebra crosswalks at street ends, and now and then jaywalk mid-block, sometimes
stepping out from between parked cars.

Each pedestrian is on one street at a time, in that street's Frenet frame: ``s`` along it,
``d`` across it, ``side`` (+1 or -1) the sidewalk it walks (the sign of ``d`` there) and ``dir``
(+1 or -1) the way it walks along ``s``. Sidewalks run the whole street, ``road.sidewalk_m`` wide
beyond the paving (``road.asphalt_d``); the crosswalk of a street end is the band
``CROSSWALK_M`` deep next to the junction box, as ``sim.roadgraph.ground`` paints it.

- Walking toward a junction, a walker reaches the crosswalk's centre line and decides once:
  cross this street there, or walk on to the street end and round the corner onto the
  neighbouring arm's sidewalk (a straight line across the corner's paving, the convex corner
  ``sim.roadgraph.ground`` draws), then walk away from the junction along that arm.
- Crossing a signalised arm waits until that arm's signal group shows red on its ball and its
  arrow, for at least the time the crossing takes; at a stop sign the walker goes at once
  (vehicles must yield); on an arm without a stop (a two-way stop's through street) the walker
  waits for a gap in the traffic, as a jaywalker does.
- Crossing, a walker stops short of a vehicle in its way (``step``'s ``bodies``: the world passes the
  ego's) and walks on when it has gone, or after ``held_turn_back_s`` turns back to the sidewalk it
  came from: at a stop sign a walker crosses at once, and walked into the side of a car queued across
  the crosswalk there (town seed 900018).
- Mid-block a walker sometimes crosses (``jaywalk_rate_per_s``): it waits on the sidewalk for a
  gap (no vehicle within ``gap_s`` seconds of the crossing), gives up after ``give_up_s``. Next
  to a parked car it may instead step out from beside it (``step_out_rate_per_s``), looking
  only ``step_out_gap_s`` ahead (the Euro NCAP child running out from behind an obstruction).

Per-step motion is vectorised; the rare decisions (crosswalk reached, street end, crossing done,
corner done, a jaywalk) loop over the few pedestrians that need one. The read interface is the
straight town's ``sim.pedestrians.Pedestrians``: ``n``, ``poses``, ``boxes``, ``mode``,
``speed``, ``height``, ``colour``, ``skin``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from common.vocab import PEDESTRIAN_SIZE_M

from ..collision import box_rows, obb_overlap
from ..lights import RED
from .graph import CROSSWALK_M, RoadGraph
from .signals import JunctionSignals

WALK, CROSS, WAIT = 0, 1, 2  # ``mode``, as sim.pedestrians
# what each pedestrian is doing (``phase``): WAIT mode is the two waits, CROSS the crossing
ON_SIDEWALK, ROUNDING, WAIT_SIGNAL, WAIT_GAP, CROSSING = 0, 1, 2, 3, 4
# what ``_move`` reports per pedestrian, for the rare decisions
NO_EVENT, AT_CROSSWALK, AT_END, CROSSED, ROUNDED = 0, 1, 2, 3, 4
_MODE_OF_PHASE = np.array([WALK, WALK, WAIT, WAIT, CROSS], np.int64)
SIZE_M = PEDESTRIAN_SIZE_M  # footprint side [m]
STOP_SHORT_M = 0.3  # a crossing walker keeps this far from the side of a vehicle in its way [m]
CAR_HALF_LENGTH_M = 2.45  # a parked car's half length, the longest ``ParkedTraffic`` draws [m]
SKINS = np.array([[235, 200, 170], [200, 150, 110], [140, 95, 65], [90, 60, 40]], np.uint8)


@dataclass(frozen=True)
class PedestrianConfig:
    cross_at_end_p: float = 0.5  # chance a walker crosses the street at a crosswalk it reaches
    turn_after_crossing_p: float = 0.6  # after crossing: round the corner, else walk back along the street
    jaywalk_rate_per_s: float = 0.004  # chance per second that a walker crosses mid-block
    step_out_rate_per_s: float = 0.02  # chance per second, in a gap beside a parked car, of stepping out there
    parked_near_m: float = 1.0  # a walker this close to the spot just beside a parked car (same side) is there [m]
    gap_s: float = 4.0  # a crossing needs no vehicle within this many seconds of it [s]
    step_out_gap_s: float = 1.5  # a step-out from between parked cars looks this far ahead only [s]
    gap_margin_m: float = 6.0  # plus this distance around the crossing [m]
    ego_clear_m: float = 30.0  # no jaywalk starts closer than this to the ego [m]
    step_out_ego_clear_m: float = 15.0  # nor a step-out closer than this [m]
    give_up_s: float = 20.0  # a jaywalker waiting this long for a gap walks on [s]
    held_turn_back_s: float = 4.0  # a crossing walker stood this long short of a vehicle in its way turns back [s]
    end_clear_m: float = 12.0  # no jaywalking this close to a street end (the crosswalk is there) [m]
    signal_margin_s: float = 1.0  # a signalised crossing starts only with this much red to spare [s]
    child_share: float = 0.15  # share of children (Euro NCAP's child target)
    child_height_m: tuple[float, float] = (1.0, 1.3)
    adult_height_m: tuple[float, float] = (1.55, 1.9)
    speed_m_s: tuple[float, float] = (1.0, 1.6)  # walking speed [m/s]
    lane_spread_m: float = 0.6  # walkers keep their own line within +- this of the sidewalk's centre [m]


class GraphPedestrians:
    """Every pedestrian of a graph town (see the module docstring for the rules)."""

    def __init__(self, graph: RoadGraph, signals: JunctionSignals, per_km: float, rng: np.random.Generator,
                 parked=None, config: PedestrianConfig = PedestrianConfig()):
        self.graph, self.signals, self.rng, self.config = graph, signals, rng, config
        roads = graph.roads[:graph.n_streets]
        self.length_m = np.array([r.length_m for r in roads])
        self.lo_m = np.array([r.asphalt_d[0] for r in roads])  # right paving edge [m]
        self.hi_m = np.array([r.asphalt_d[1] for r in roads])
        self.sidewalk_m = np.array([r.sidewalk_m for r in roads])
        self._corner = self._corner_table()
        self._parked = _parked_by_street(parked, graph.n_streets)

        walkable = np.flatnonzero(self.sidewalk_m > 0)
        total_km = self.length_m[walkable].sum() / 1000.0
        n = int(rng.poisson(per_km * total_km)) if len(walkable) else 0
        self.n = n
        self.street = rng.choice(walkable, n, p=self.length_m[walkable] / self.length_m[walkable].sum()) \
            if n else np.zeros(0, np.int64)
        self.street = self.street.astype(np.int64)
        self.side = rng.choice([-1, 1], n).astype(np.int64)
        self.lane_m = rng.uniform(-config.lane_spread_m, config.lane_spread_m, n)  # own line in the sidewalk [m]
        self.s = rng.uniform(0.0, 1.0, n) * np.maximum(self.length_m[self.street] - 4.0, 0.0) + 2.0
        self.d = self._walk_d(self.street, self.side)
        self.dir = rng.choice([-1, 1], n).astype(np.int64)
        self.speed = rng.uniform(*config.speed_m_s, n)  # [m/s]
        self.child = rng.random(n) < config.child_share
        self.height = np.where(self.child, rng.uniform(*config.child_height_m, n),
                               rng.uniform(*config.adult_height_m, n))  # [m]
        self.colour = rng.integers(20, 230, (n, 2, 3)).astype(np.uint8)  # shirt, trousers
        self.skin = SKINS[rng.integers(0, len(SKINS), n)]
        self.phase = np.full(n, ON_SIDEWALK, np.int64)
        self.mode = np.full(n, WALK, np.int64)
        self.turning = np.zeros(n, bool)  # decided to round the corner at the street end ahead
        self.jaywalking = np.zeros(n, bool)  # waiting for a gap or crossing mid-block
        self.stepping_out = np.zeros(n, bool)  # ... from between parked cars
        self.step_outs = 0  # step-outs from between parked cars so far
        self.turn_backs = 0  # crossings given up, a vehicle staying in the way, so far
        self.target_d = self.d.copy()  # where a crossing ends [m]
        self.wait_junction = np.zeros(n, np.int64)  # WAIT_SIGNAL: junction and signal group awaited
        self.wait_group = np.zeros(n, np.int64)
        self.wait_s = np.zeros(n)  # time waited [s]
        self.held_s = np.zeros(n)  # CROSSING: time stood short of a vehicle in the way [s]
        self.corner_xy = np.zeros((n, 4))  # ROUNDING: from x, y to x, y [m]
        self.corner_m = np.ones(n)  # its length [m]
        self.corner_done_m = np.zeros(n)
        self.corner_to = np.zeros((n, 3), np.int64)  # street, side, walking dir after the corner
        self._version = 0
        self._pose_version = -1
        self._pose_cache = None

    # --- geometry -------------------------------------------------------------------------
    def _walk_d(self, street: np.ndarray, side: np.ndarray, lane_m: np.ndarray | None = None) -> np.ndarray:
        """d of a walker's line on a sidewalk [m]."""
        lane_m = self.lane_m if lane_m is None else lane_m
        edge = np.where(side > 0, self.hi_m[street], self.lo_m[street])
        return edge + side * (self.sidewalk_m[street] / 2 + lane_m)

    def _corner_table(self) -> dict[tuple[int, bool, int], tuple[int, bool, int]]:
        """(street, at_end, side) -> the neighbouring arm's (street, at_end, side) across the corner.

        Arms run counter-clockwise; an arm's left side (looking out of the junction) meets the
        next arm's right side, as ``sim.roadgraph.ground`` draws the corners. Looking out, the
        left side is +d at an s = 0 end and -d at an s = length end."""
        table = {}
        for j in self.graph.junctions:
            m = len(j.arms)
            for k, a in enumerate(j.arms):
                for side in (-1, 1):
                    left = (side > 0) != a.at_end
                    b = j.arms[(k + 1) % m] if left else j.arms[(k - 1) % m]
                    if b is a or self.graph.roads[b.street].sidewalk_m <= 0:
                        continue
                    b_side = (1 if b.at_end else -1) if left else (-1 if b.at_end else 1)
                    table[(a.street, a.at_end, side)] = (b.street, b.at_end, b_side)
        return table

    # --- read interface (as sim.pedestrians.Pedestrians) ------------------------------------
    def poses(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World x, y [m] and yaw [rad] of every pedestrian (read-only; cached per step)."""
        if self._pose_version != self._version:
            x, y, h = self.graph.packed.pose(self.street, self.s, self.d)
            yaw = _walker_yaw(h, self.dir, self.phase, self.target_d, self.d)
            r = self.phase == ROUNDING
            if r.any():
                t = np.clip(self.corner_done_m[r] / self.corner_m[r], 0.0, 1.0)
                c = self.corner_xy[r]
                x[r] = c[:, 0] + (c[:, 2] - c[:, 0]) * t
                y[r] = c[:, 1] + (c[:, 3] - c[:, 1]) * t
                yaw[r] = np.arctan2(c[:, 3] - c[:, 1], c[:, 2] - c[:, 0])
            boxes = box_rows(x, y, yaw, SIZE_M, SIZE_M)
            for a in (x, y, yaw, boxes):
                a.flags.writeable = False
            self._pose_cache = (x, y, yaw, boxes)
            self._pose_version = self._version
        return self._pose_cache[:3]

    def boxes(self) -> np.ndarray:
        """(N, 5) footprints [x, y, yaw, length, width] (read-only)."""
        self.poses()
        return self._pose_cache[3]

    def on_carriageway(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Indices and world x, y [m] of the pedestrians on the paving now (crossing, footprint
        touching the asphalt): what traffic and the ego must yield to."""
        idx = _on_carriageway(self.phase, self.street, self.d, self.lo_m, self.hi_m, SIZE_M / 2)
        x, y, _ = self.poses()
        return idx, x[idx], y[idx]

    # --- stepping ----------------------------------------------------------------------------
    def step(self, dt_s: float, ego_xy: tuple[float, float], vehicle_xy_v: np.ndarray | None = None,
             bodies: np.ndarray | None = None) -> None:
        """Advance everyone by ``dt_s``. ``vehicle_xy_v`` (V, 3): x, y [m] and speed [m/s] of the
        vehicles to look out for when crossing without a signal or a stop sign. ``bodies`` (K, 5): footprints
        (``sim.collision``) of vehicles that crossing walkers do not walk into (they stop short)."""
        if self.n == 0:
            return
        cfg = self.config
        vehicles = np.zeros((0, 3)) if vehicle_xy_v is None else np.asarray(vehicle_xy_v, np.float64).reshape(-1, 3)
        draws = self.rng.random(self.n)
        held = self._held_by(bodies)
        self.held_s = np.where(held, self.held_s + dt_s, 0.0)
        for i in np.flatnonzero(self.held_s > cfg.held_turn_back_s):  # it stays: go back and wait on the sidewalk
            self._turn_back(int(i))
        event = _move(self.phase, self.street, self.s, self.d, self.dir, self.speed, self.turning, self.target_d,
                      self.corner_done_m, self.corner_m, self.wait_s, self.length_m, held, float(dt_s))
        # waiting at a signal: go on red for the crossed street's traffic, with time to spare
        at_signal = np.flatnonzero(self.phase == WAIT_SIGNAL)
        go = at_signal[:0]
        if len(at_signal):
            ball, arrow = self.signals.group_states()
            go = _go_on_red(at_signal, self.wait_junction, self.wait_group, self.target_d, self.d, self.speed, ball,
                            arrow, self.signals.red_left_s(), cfg.signal_margin_s, RED)
        # the rare decisions, one pedestrian at a time, in index order (deterministic draws)
        happened = np.flatnonzero(event)
        if happened.size:
            kinds = event[happened]
            for kind, decide in ((AT_CROSSWALK, self._at_crosswalk), (AT_END, self._round_corner),
                                 (CROSSED, self._crossed), (ROUNDED, self._rounded)):
                for i in happened[kinds == kind]:
                    decide(int(i))
        self.phase[go] = CROSSING
        at_gap = np.flatnonzero(self.phase == WAIT_GAP)
        if len(at_gap):
            self._look_for_gaps(at_gap, vehicles, ego_xy)
        rate = (cfg.jaywalk_rate_per_s + cfg.step_out_rate_per_s) * dt_s  # a step-out only where parked cars are
        for i in np.flatnonzero((self.phase == ON_SIDEWALK) & (draws < rate)):
            self._maybe_jaywalk(int(i), draws[i] < cfg.jaywalk_rate_per_s * dt_s)
        self.mode = _MODE_OF_PHASE[self.phase]
        self._version += 1

    def _held_by(self, bodies: np.ndarray | None) -> np.ndarray:
        """(N,) bool: the crossing walkers whose next stride (their footprint swept ``STOP_SHORT_M`` on toward
        the far side) would touch one of ``bodies``: they wait where they are this step."""
        held = np.zeros(self.n, np.bool_)
        crossing = np.flatnonzero((self.phase == CROSSING) & (self.target_d != self.d))  # at its kerb: done, not held
        if bodies is None or len(bodies) == 0 or crossing.size == 0:
            return held
        x, y, yaw = (a[crossing] for a in self.poses())  # a crossing walker faces the far side
        ahead = 0.5 * STOP_SHORT_M
        swept = box_rows(x + ahead * np.cos(yaw), y + ahead * np.sin(yaw), yaw, SIZE_M + STOP_SHORT_M, SIZE_M)
        for box in np.asarray(bodies, np.float64).reshape(-1, 5):
            held[crossing] |= obb_overlap(box, swept)
        return held

    def _turn_back(self, i: int) -> None:
        """A crossing walker goes back to the sidewalk it came from (``_crossed`` then puts it there)."""
        self.side[i] *= -1  # the side it is now "crossing from", so that _crossed flips it back
        self.target_d[i] = self._other_side_d(i)
        self.held_s[i] = 0.0
        self.turn_backs += 1

    def _other_side_d(self, i: int) -> float:
        street = self.street[i:i + 1]
        return float(self._walk_d(street, -self.side[i:i + 1], self.lane_m[i:i + 1])[0])

    def _at_crosswalk(self, i: int) -> None:
        """Reached the crosswalk ahead: cross the street here, or walk on round the corner."""
        if self.rng.random() >= self.config.cross_at_end_p:
            self.turning[i] = True
            return
        street, at_end = int(self.street[i]), bool(self.dir[i] > 0)
        self.s[i] = self.length_m[street] - CROSSWALK_M / 2 if at_end else CROSSWALK_M / 2
        self.target_d[i] = self._other_side_d(i)
        j = self.graph.junctions[self.graph.streets[street].nodes[1 if at_end else 0]]
        arm = next(k for k, a in enumerate(j.arms) if a.street == street and a.at_end == at_end)
        if j.control == "signal":
            self.phase[i] = WAIT_SIGNAL
            self.wait_junction[i] = j.index
            self.wait_group[i] = self.signals.arm_group(street, 1 if at_end else -1)
        elif j.control == "all_way_stop" or (j.control == "two_way_stop" and arm not in j.priority_arms):
            self.phase[i] = CROSSING  # vehicles stop here anyway and must yield
        else:
            self.phase[i] = WAIT_GAP

    def _round_corner(self, i: int) -> None:
        """At the street end: across the corner onto the neighbouring arm, or turn back."""
        street, at_end, side = int(self.street[i]), bool(self.dir[i] > 0), int(self.side[i])
        self.turning[i] = False
        to = self._corner.get((street, at_end, side))
        if to is None:
            self.dir[i] *= -1
            return
        b, b_at_end, b_side = to
        lane = self.lane_m[i:i + 1]
        x0, y0, _ = self.graph.roads[street].pose(self.s[i], self.d[i])
        b_s = self.length_m[b] if b_at_end else 0.0
        b_d = float(self._walk_d(np.array([b]), np.array([b_side]), lane)[0])
        x1, y1, _ = self.graph.roads[b].pose(b_s, b_d)
        self.corner_xy[i] = (x0, y0, x1, y1)
        self.corner_m[i] = max(float(np.hypot(x1 - x0, y1 - y0)), 1e-3)
        self.corner_done_m[i] = 0.0
        self.corner_to[i] = (b, b_side, -1 if b_at_end else 1)
        self.phase[i] = ROUNDING

    def _rounded(self, i: int) -> None:
        b, b_side, b_dir = (int(v) for v in self.corner_to[i])
        self.street[i], self.side[i], self.dir[i] = b, b_side, b_dir
        self.s[i] = self.length_m[b] if b_dir < 0 else 0.0
        self.d[i] = self.target_d[i] = float(self._walk_d(np.array([b]), np.array([b_side]), self.lane_m[i:i + 1])[0])
        self.phase[i] = ON_SIDEWALK

    def _crossed(self, i: int) -> None:
        """On the far sidewalk: a jaywalker walks on either way; at a crosswalk, round the corner
        there (going on across the junction) or walk back along the street."""
        self.side[i] *= -1
        self.phase[i] = ON_SIDEWALK
        if self.jaywalking[i]:
            self.jaywalking[i] = self.stepping_out[i] = False
            self.dir[i] = 1 if self.rng.random() < 0.5 else -1
        elif self.rng.random() < self.config.turn_after_crossing_p:
            self.turning[i] = True
        else:
            self.dir[i] *= -1

    def _look_for_gaps(self, idx: np.ndarray, vehicles: np.ndarray, ego_xy) -> None:
        """Walkers waiting for a gap (``idx``) cross when no vehicle is within their gap time of
        the crossing (jaywalkers also keep clear of the ego); jaywalkers waiting too long give up."""
        cfg = self.config
        street = self.street[idx]
        lo, hi = self.lo_m[street], self.hi_m[street]
        x, y, _ = self.graph.packed.pose(street, self.s[idx], (lo + hi) / 2)  # the crossing's middle
        _gap_decisions(idx, x, y, lo, hi, self.jaywalking, self.stepping_out, self.wait_s, self.phase,
                       float(ego_xy[0]), float(ego_xy[1]), np.ascontiguousarray(vehicles, np.float64), cfg.ego_clear_m,
                       cfg.step_out_ego_clear_m, cfg.gap_margin_m, cfg.gap_s, cfg.step_out_gap_s, cfg.give_up_s)

    def _clear_of_parked(self, street: int, s: float) -> bool:
        """Whether a walk across ``street`` at ``s`` passes no parked car."""
        cars = self._parked[street]
        return not np.any(np.abs(cars[:, 0] - s) < CAR_HALF_LENGTH_M + SIZE_M / 2 + 0.1)

    def _maybe_jaywalk(self, i: int, plain: bool) -> None:
        """Start a mid-block crossing (``plain``) or a step-out beside a parked car, if there is one."""
        cfg = self.config
        street, s = int(self.street[i]), float(self.s[i])
        if s < cfg.end_clear_m or s > self.length_m[street] - cfg.end_clear_m:
            return
        if not plain:
            cars = self._parked[street]
            cars = cars[np.sign(cars[:, 1]) == self.side[i], 0]
            spots = np.concatenate([cars - CAR_HALF_LENGTH_M - SIZE_M, cars + CAR_HALF_LENGTH_M + SIZE_M])
            near = spots[np.abs(spots - s) < cfg.parked_near_m]  # just beside a car's bumper
            if len(near) == 0:
                return
            s = float(near[np.argmin(np.abs(near - s))])
        if not self._clear_of_parked(street, s):
            return  # the crossing would walk through a parked car (on either side)
        if not plain:
            self.s[i] = s
            self.stepping_out[i] = True
            self.step_outs += 1
        self.jaywalking[i] = True
        self.target_d[i] = self._other_side_d(i)
        self.phase[i] = WAIT_GAP
        self.wait_s[i] = 0.0


def _parked_by_street(parked, n_streets: int) -> list[np.ndarray]:
    """Per street, (K, 2) s, d [m] of its parked cars, from (street, s, d) triples or
    ``sim.nav_scenario.ParkedCar``s."""
    rows = [(p.road, p.s_m, p.d_m) if hasattr(p, "s_m") else tuple(p) for p in (parked or [])]
    arr = np.array(rows, np.float64).reshape(-1, 3)
    return [arr[arr[:, 0] == k, 1:] for k in range(n_streets)]


@numba.njit(cache=True)
def _move(phase, street, s, d, direction, speed, turning, target_d, corner_done_m, corner_m, wait_s, length_m, held,
          dt_s):
    """One step of everyone's motion, in place; returns (N,) int64 events for the decisions
    (``GraphPedestrians.step`` takes them): the crosswalk ahead reached (walkers not already
    turning), the street end reached, a crossing or a corner done. Each pedestrian on its own;
    ``held`` crossing walkers stand this step (a vehicle stands in their way)."""
    n = s.shape[0]
    event = np.zeros(n, np.int64)
    for i in range(n):
        p = phase[i]
        step_m = speed[i] * dt_s
        if p == ON_SIDEWALK:
            length = length_m[street[i]]
            centre = length - CROSSWALK_M / 2 if direction[i] > 0 else CROSSWALK_M / 2  # the crosswalk ahead [m]
            s_new = s[i] + direction[i] * step_m
            if not turning[i] and (s[i] - centre) * direction[i] < 0 <= (s_new - centre) * direction[i]:
                event[i] = AT_CROSSWALK
            elif s_new <= 0.0 or s_new >= length:
                event[i] = AT_END
            s[i] = min(max(s_new, 0.0), length)
        elif p == CROSSING and not held[i]:
            left_m = target_d[i] - d[i]
            if abs(left_m) <= step_m:
                d[i] = target_d[i]
                event[i] = CROSSED
            else:
                d[i] += step_m if left_m > 0 else -step_m
        elif p == ROUNDING:
            corner_done_m[i] += step_m
            if corner_done_m[i] >= corner_m[i]:
                event[i] = ROUNDED
        wait_s[i] = wait_s[i] + dt_s if p == WAIT_SIGNAL or p == WAIT_GAP else 0.0
    return event


@numba.njit(cache=True)
def _walker_yaw(h, direction, phase, target_d, d):
    """Each walker's yaw [rad] from its street's heading ``h`` [rad]: along its walking direction,
    or facing the far side while waiting or crossing (``np.sign``'s -1, 0, 1 of the way left)."""
    n = h.shape[0]
    yaw = np.empty(n)
    for i in range(n):
        if phase[i] >= WAIT_SIGNAL:
            left = target_d[i] - d[i] + 1e-9
            sign = 1.0 if left > 0 else (-1.0 if left < 0 else 0.0)
            yaw[i] = h[i] + sign * np.pi / 2
        else:
            yaw[i] = h[i] + (0.0 if direction[i] > 0 else np.pi)
    return yaw


@numba.njit(cache=True)
def _go_on_red(at_signal, wait_junction, wait_group, target_d, d, speed, ball, arrow, red_left, margin_s, red):
    """The walkers of ``at_signal`` whose crossed street's group shows red (ball and arrow) for at
    least their crossing time plus ``margin_s`` [s] (``red_left`` (junctions, 2) [s]), in order."""
    out = np.empty(at_signal.shape[0], np.int64)
    k = 0
    for i in at_signal:
        j, g = wait_junction[i], wait_group[i]
        need = abs(target_d[i] - d[i]) / speed[i] + margin_s
        if ball[j, g] == red and arrow[j, g] == red and red_left[j, g] >= need:
            out[k] = i
            k += 1
    return out[:k]


@numba.njit(cache=True)
def _on_carriageway(phase, street, d, lo_m, hi_m, half_m):
    """Indices of the pedestrians crossing with the footprint (half size ``half_m`` [m]) on their
    street's paving (``lo_m``, ``hi_m`` per street [m]), in index order."""
    out = np.empty(phase.shape[0], np.int64)
    k = 0
    for i in range(phase.shape[0]):
        if phase[i] == CROSSING and d[i] > lo_m[street[i]] - half_m and d[i] < hi_m[street[i]] + half_m:
            out[k] = i
            k += 1
    return out[:k]


@numba.njit(cache=True)
def _gap_decisions(idx, x, y, lo, hi, jaywalking, stepping_out, wait_s, phase, ego_x, ego_y, vehicles, ego_clear_m,
                   step_out_ego_clear_m, gap_margin_m, gap_s, step_out_gap_s, give_up_s):
    """``_look_for_gaps``'s decisions, in place, for the walkers ``idx`` waiting for a gap at the
    crossings' middles (x, y) [m] of paving (lo, hi) [m]: cross when clear of the ego (jaywalkers)
    and of every vehicle (``vehicles`` (V, 3) x, y [m], speed [m/s], as ``_no_vehicle_near``); a
    jaywalker waiting too long walks on instead."""
    for k in range(idx.shape[0]):
        i = idx[k]
        jay, out = jaywalking[i], stepping_out[i]
        clear = not jay or math.hypot(ego_x - x[k], ego_y - y[k]) >= (step_out_ego_clear_m if out else ego_clear_m)
        half = (hi[k] - lo[k]) / 2 + gap_margin_m
        gap = step_out_gap_s if out else gap_s
        for j in range(vehicles.shape[0]):
            if math.hypot(vehicles[j, 0] - x[k], vehicles[j, 1] - y[k]) < half + vehicles[j, 2] * gap:
                clear = False
                break
        if jay and wait_s[i] > give_up_s:
            jaywalking[i] = stepping_out[i] = False
            phase[i] = ON_SIDEWALK
        elif clear:
            phase[i] = CROSSING


@numba.njit(cache=True)
def _no_vehicle_near(x, y, half_m, gap_s, vx, vy, v):
    """Per crossing (its middle ``x``, ``y`` [m]), whether no vehicle (``vx``, ``vy`` [m], speed
    ``v`` [m/s]) is within half its width ``half_m`` [m] plus ``gap_s`` [s] of its own travel
    (``math.hypot``, as ``np.hypot``)."""
    out = np.ones(x.shape[0], np.bool_)
    for w in range(x.shape[0]):
        for j in range(vx.shape[0]):
            if math.hypot(vx[j] - x[w], vy[j] - y[w]) < half_m[w] + v[j] * gap_s[w]:
                out[w] = False
                break
    return out
