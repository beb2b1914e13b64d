"""Who may enter each junction: signal phases with protected or permitted lefts, and stop signs.

A signalised junction splits its arms into two groups, the arms of one through street and the
rest, and cycles per group: [left arrow green, arrow yellow], ball green, ball yellow, all red,
then the other group. Two left-turn plans, as traffic engineers use them:

- **permitted** (no arrow phase): lefts go on the ball's green and yield to oncoming traffic;
- **protected** (``Junction.protected_left``): lefts go only on their own green arrow, while the
  opposing through traffic has red; the arrow is red for the rest of the cycle ("protected-only").

Where the scenario allows it (``right_on_red``, off by default), a right turn may go on its red
ball after a full stop at the line, yielding as at a stop sign (US rule; the arrow of a protected
left is a different head, and a red arrow is never turned on).

Each approach has a ball head at the far-right corner showing its through/right state, and at
protected-left junctions an arrow head above the leftmost lane for the lefts. Stop-controlled approaches have
a stop sign instead (all approaches at an all-way stop, the minor street's at a two-way stop).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cached_property

import numba
import numpy as np

from ..lights import ALL_RED_S, GREEN, RED, YELLOW, YELLOW_S
from .generator import movement_of
from .graph import Junction, RoadGraph

ARROW_S = 6.0  # protected-left green arrow [s]
HEAD_SETBACK_M = 0.8  # heads stand this far beyond the street's end and paving [m]


@dataclass(frozen=True)
class SignalHead:
    """One light head: where it stands and which movements of which approach it governs."""

    junction: int
    street: int  # approach street
    direction: int  # approach direction of travel on it
    left_arrow: bool  # True: governs the approach's lefts (protected phase); False: its ball
    x_m: float
    y_m: float
    yaw_rad: float  # the way its lamps face [rad]
    stop_s: float  # the approach's stop line [m]


@dataclass(frozen=True)
class StopSign:
    """A stop sign on one approach: at the right edge beside the stop line."""

    junction: int
    street: int
    direction: int
    x_m: float
    y_m: float
    yaw_rad: float  # the way its face looks [rad]
    stop_s: float


def _groups(j: Junction) -> list[list[int]]:
    """Arm indices of the two signal groups: a straight pair first, the rest second."""
    arms = j.arms
    pairs = [(a, b) for a in range(len(arms)) for b in range(a + 1, len(arms))
             if movement_of(float(np.angle(np.exp(1j * (arms[b].heading_out_rad - arms[a].heading_out_rad - np.pi)))))
             == "straight"]
    first = list(pairs[0]) if pairs else [0]
    return [first, [k for k in range(len(arms)) if k not in first]]


class JunctionSignals:
    """Light heads, stop signs and signal timing of every junction of a graph."""

    def __init__(self, graph: RoadGraph, rng: np.random.Generator, right_on_red: bool = False):
        self.graph = graph
        self.right_on_red = right_on_red  # rights may go on a red ball after a full stop, yielding
        self.heads: list[SignalHead] = []
        self.stop_signs: list[StopSign] = []
        self.time_s = 0.0
        n = len(graph.junctions)
        self.green_s = rng.uniform(9.0, 16.0, (n, 2))
        self.arrow_s = np.array([ARROW_S if j.protected_left else 0.0 for j in graph.junctions])
        arrow_yellow = np.where(self.arrow_s > 0, YELLOW_S, 0.0)
        phase = (self.arrow_s + arrow_yellow)[:, None] + self.green_s + YELLOW_S + ALL_RED_S  # per junction, group [s]
        self.cycle_s = phase.sum(axis=1)
        self.offset_s = rng.uniform(0.0, 1.0, n) * self.cycle_s
        self._group_of: dict[tuple[int, int], int] = {}  # (street, in direction) -> signal group
        for j in graph.junctions:
            groups = _groups(j)
            for g, members in enumerate(groups):
                for k in members:
                    arm = j.arms[k]
                    self._group_of[(arm.street, arm.in_direction)] = g
            for k, arm in enumerate(j.arms):
                if (arm.street, arm.in_direction) not in j.stop_s:
                    continue  # a one-way street leaving the junction
                if j.control == "signal":
                    self._add_heads(j, arm)
                elif j.control == "all_way_stop" or k not in j.priority_arms:
                    self._add_stop_sign(j, arm)
        self._head_junction = np.array([h.junction for h in self.heads], np.int64)
        self._head_group = np.array([self._group_of[(h.street, h.direction)] for h in self.heads], np.int64)
        self._head_arrow = np.array([h.left_arrow for h in self.heads], bool)
        self.head_x_m, self.head_y_m, self.head_yaw_rad = (
            np.array([getattr(h, a) for h in self.heads], np.float64) for a in ("x_m", "y_m", "yaw_rad"))
        # signs never move: their poses as arrays, for the labels (read every step)
        self.sign_xyyaw = tuple(np.array([getattr(s, a) for s in self.stop_signs], np.float64)
                                for a in ("x_m", "y_m", "yaw_rad"))
        self._states_time_s = None
        self._states = None
        self._groups_time_s = None
        self._groups = None

    def _approach_pose(self, arm, d_extra: float):
        road = self.graph.roads[arm.street]
        s = road.length_m if arm.at_end else 0.0
        s += HEAD_SETBACK_M if arm.at_end else -HEAD_SETBACK_M
        lo, hi = road.asphalt_d
        d = (lo - d_extra) if arm.in_direction > 0 else (hi + d_extra)
        x, y, h = road.pose(s, d)
        facing = float(h) + (np.pi if arm.in_direction > 0 else 0.0)  # toward the approaching traffic
        return float(x), float(y), facing

    def _add_heads(self, j: Junction, arm) -> None:
        stop = j.stop_s[(arm.street, arm.in_direction)]
        # the ball head on the far-right corner, beyond the junction, like ``sim.lights``
        road = self.graph.roads[arm.street]
        x, y, yaw = self._far_corner(j, arm)
        self.heads.append(SignalHead(j.index, arm.street, arm.in_direction, False, x, y, yaw, stop))
        if j.protected_left:
            # the arrow head above the leftmost approach lane, on a mast arm at the near side
            s = road.length_m - 0.5 if arm.at_end else 0.5
            d = float(road.lane_centre_d(0, arm.in_direction))
            hx, hy, h = road.pose(s, d)
            yaw = float(h) + (np.pi if arm.in_direction > 0 else 0.0)
            self.heads.append(SignalHead(j.index, arm.street, arm.in_direction, True, float(hx), float(hy), yaw, stop))

    def _far_corner(self, j: Junction, arm):
        """Beyond the junction on the right, facing the approach: on the far side of the exit
        straight ahead, just past its end and off its paving (measured on that street, which may
        not lie exactly on the approach's line). A stem of a T has no exit ahead: its head stands
        across the through street, beyond the widest arm's paving."""
        travel = arm.heading_out_rad + np.pi
        turns = [(abs(float(np.angle(np.exp(1j * (a.heading_out_rad - travel))))), a) for a in j.arms if a is not arm]
        turn, ahead = min(turns, key=lambda t: t[0])
        if movement_of(turn) == "straight":
            road = self.graph.roads[ahead.street]
            out_dir = -1 if ahead.at_end else 1  # travel on the exit street, away from the junction
            s = road.length_m - HEAD_SETBACK_M if ahead.at_end else HEAD_SETBACK_M
            lo, hi = road.asphalt_d
            d = lo - HEAD_SETBACK_M if out_dir > 0 else hi + HEAD_SETBACK_M  # the right side of travel
            x, y, _ = road.pose(s, d)
            return float(x), float(y), float(travel + np.pi)
        widest = max(max(-self.graph.roads[a.street].asphalt_d[0], self.graph.roads[a.street].asphalt_d[1])
                     for a in j.arms)
        cx, cy = j.centre_xy
        reach = widest + 1.5
        return float(cx + reach * np.cos(travel)), float(cy + reach * np.sin(travel)), float(travel + np.pi)

    def _add_stop_sign(self, j: Junction, arm) -> None:
        x, y, facing = self._approach_pose(arm, 0.6)
        road = self.graph.roads[arm.street]
        stop = j.stop_s[(arm.street, arm.in_direction)]
        sx, sy, _ = road.pose(stop, road.asphalt_d[0] - 0.6 if arm.in_direction > 0 else road.asphalt_d[1] + 0.6)
        self.stop_signs.append(StopSign(j.index, arm.street, arm.in_direction, float(sx), float(sy), facing, stop))

    # --- timing ---------------------------------------------------------------------------
    def step(self, dt_s: float) -> None:
        self.time_s += dt_s

    def restarted(self) -> "JunctionSignals":
        """A copy with its clock at 0 and the same heads, signs and timing, for a world of its own (the
        clock and its caches are the only state that stepping changes)."""
        other = copy.copy(self)
        other.time_s = 0.0
        other._states_time_s = other._states = other._groups_time_s = other._groups = None
        return other

    def group_states(self) -> tuple[np.ndarray, np.ndarray]:
        """(junctions, 2) states of each group's ball and of its lefts (GREEN/YELLOW/RED): the
        arrow at protected junctions, the ball itself where lefts are permitted. Read-only; traffic,
        pedestrians, the heads and the ego's checks all ask each step, so cached per time."""
        if self._groups_time_s != self.time_s:
            self._groups = self._compute_group_states()
            for a in self._groups:
                a.flags.writeable = False
            self._groups_time_s = self.time_s
        return self._groups

    def _compute_group_states(self) -> tuple[np.ndarray, np.ndarray]:
        t = np.mod(self.time_s + self.offset_s, self.cycle_s)
        return _group_states(t, self.arrow_s, self.green_s, YELLOW_S, ALL_RED_S, GREEN, YELLOW, RED)

    def head_states(self) -> np.ndarray:
        """State of every head (H,) int64, read-only, cached per time."""
        if self._states_time_s != self.time_s:
            ball, arrow = self.group_states()
            states = np.where(self._head_arrow, arrow[self._head_junction, self._head_group],
                              ball[self._head_junction, self._head_group]) if self.heads else np.zeros(0, np.int64)
            states.flags.writeable = False
            self._states, self._states_time_s = states, self.time_s
        return self._states

    def arm_group(self, street: int, in_direction: int) -> int:
        """Signal group (0 or 1) of the approach entering a junction along ``street`` in
        ``in_direction`` (every arm has one, also a one-way street that only leaves it)."""
        return self._group_of[(street, in_direction)]

    def red_left_s(self) -> np.ndarray:
        """(junctions, 2) time until each group's next green, arrow or ball [s]: how long a group
        that shows red keeps it (what a pedestrian crossing its street needs to know)."""
        t = np.mod(self.time_s + self.offset_s, self.cycle_s)
        start, cycle = self._group_starts
        return np.mod(start - t[:, None], cycle)

    @cached_property
    def _group_starts(self) -> tuple[np.ndarray, np.ndarray]:
        """(junctions, 2) where each group's phase begins in the cycle (as ``group_states``) [s], and
        (junctions, 1) the cycles [s]: fixed per town (the timings never change)."""
        second = self.arrow_s + np.where(self.arrow_s > 0, YELLOW_S, 0.0) + self.green_s[:, 0] + YELLOW_S + ALL_RED_S
        return np.stack([np.zeros_like(self.offset_s), second], 1), self.cycle_s[:, None]

    def movement_state(self, junction: int, street: int, direction: int, movement: str) -> int:
        """GREEN/YELLOW/RED for a movement from an approach of a signalised junction."""
        ball, arrow = self.group_states()
        g = self._group_of[(street, direction)]
        return int((arrow if movement == "left" else ball)[junction, g])

    def left_is_protected(self, junction: int, street: int, direction: int) -> bool:
        """Whether lefts from this approach go on their own arrow (they never meet oncoming traffic
        then) rather than on the ball, yielding. A property of the junction's plan, not of the time."""
        return bool(self.graph.junctions[junction].protected_left)

    def turns_on_red(self, junction: int, movement: str) -> bool:
        """Whether ``movement`` at ``junction`` may go on its red light after a full stop at the line,
        yielding to pedestrians on its crosswalks and to traffic with the green: a right at a
        signalised junction where the scenario allows right on red. Rights always show the ball
        (arrows govern lefts only), so this is never a turn on a red arrow."""
        return self.right_on_red and movement == "right" and self.graph.junctions[junction].control == "signal"

    def has_stop_sign(self, street: int, direction: int) -> bool:
        return any(s.street == street and s.direction == direction for s in self.stop_signs)


@numba.njit(cache=True)
def _group_states(t, arrow_s, green_s, yellow_s, all_red_s, green, yellow, red):
    """Ball and arrow state of both groups of every junction at cycle time ``t`` (J,) [s]: group 0's
    arrow (protected junctions), its yellow, its ball green and yellow, the all-red, then group 1's;
    where lefts are permitted the arrow shows the ball. The sums run in the order of the numpy
    expressions they replace, so the phase edges are the same numbers."""
    n = t.shape[0]
    ball = np.full((n, 2), red, np.int64)
    arrow = np.full((n, 2), red, np.int64)
    for j in range(n):
        protected = arrow_s[j] > 0
        start = 0.0
        for g in range(2):
            a_end = start + arrow_s[j]
            ay_end = a_end + (yellow_s if protected else 0.0)
            g_end = ay_end + green_s[j, g]
            y_end = g_end + yellow_s
            tj = t[j]
            if start <= tj < a_end:
                arrow[j, g] = green
            elif a_end <= tj < ay_end:
                arrow[j, g] = yellow
            if ay_end <= tj < g_end:
                ball[j, g] = green
            elif g_end <= tj < y_end:
                ball[j, g] = yellow
            if not protected:
                arrow[j, g] = ball[j, g]
            start = y_end + all_red_s
    return ball, arrow
