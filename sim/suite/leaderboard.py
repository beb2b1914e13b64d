"""Planners of the non-junction CARLA leaderboard / Bench2Drive cases: a cut-in on the highway, a
leader braking hard in dense traffic, a parked obstacle to pass, a lane closed by cones, merging from
an ending lane into slow dense traffic.

The leaderboard names the situations, not their numbers; the values here are chosen:

- CutIn: two lanes each way; the cutter drives in the left lane, changes lanes in 2.5 s (a brisk
  lane change) and is in the ego's lane, ``gap_m`` ahead of its front, 6 s after the start (if the
  ego held its speed). Slower than the ego (``rel_kmh`` < 0), it is hit ``gap_m / |rel|`` later.
- DenseBrake: three lanes each way, the ego in the middle; its leader ``gap_s`` ahead (bumper to
  bumper at the test speed), a car ahead of the leader, and two cars in each side lane (one beside
  the ego, one beside the leader), all at the test speed; 3 s after the start they all brake at
  ``decel_m_s2`` to a stop together, so the gaps between them hold and only the ego can close one.
- ParkedObstacle: one lane each way with a dashed centre line; a broken-down car stands in the
  ego's lane (0.3 m right of its centre), the ego would reach it 6 s after the start; an oncoming
  car passes it at that very moment, so the ego must wait, then pass. Judged as a route: the goal
  is 30 m past the obstacle.
- LaneClosure: the same street; cones close the ego's lane over ``closure_m``: a taper of 7 cones
  across the lane over 12 m, then one every 5 m along its left edge. The first cone in the ego's
  path is the target, met 6 s after the start if the ego holds its speed; an oncoming car at the
  speed limit passes the closure's start then. The goal is 30 m past the closure.
- MergeSlowTraffic: two lanes one way; the ego's right lane ends (closed by cones, the same taper,
  12 s ahead at its test speed, to past the goal); the left lane carries a dense stream at
  ``stream_kmh``, ``gap_s`` apart bumper to bumper, whose last car starts 10 m ahead of the ego (in
  the camera's view: the camera sees nothing behind the car). The ego catches up with it and must
  merge: judged as a route, and it may stand at most 3 s in one go. The goal is 80 m past the lane's end.
- A cone has its own class (``common.vocab.TRAFFIC_CONE_CLASS``): the labels report it as a standing
  obstacle, and the drivers take its speed as zero whatever the models' ranging says. From the models a
  closure is seen only as far as the detector boxes its cones.
"""

from __future__ import annotations

import dataclasses
import math

from common.vocab import VEHICLE_DIMS_M

from ..scenarios import START_MARGIN_M
from .actors import CONE_COLOUR, CONE_DIMS_M, ScriptedActor, Trajectory, cruise_then_brake
from .aeb import LEAD_TIME_S, build_plan, ccr_impact_time, front_s, paint, route_m
from .track import TrackSpec
from .types import ScenarioDef, ScenarioPlan

CAR_LENGTH_M = VEHICLE_DIMS_M[0][0]
CUT_IN_S = 2.5  # the cutter's lane change [s]
DENSE_BRAKE_AT_S = 3.0  # the traffic brakes this long after the start [s]
OBSTACLE_SHIFT_M = -0.3  # the broken-down car's centre right of the ego's lane centre [m]
PAST_OBSTACLE_M = 30.0  # the goal lies this far past the obstacle [m]
TAPER_M = 12.0  # a lane closure's cones run diagonally across the lane over this, right edge to left [m]
TAPER_CONES = 7  # ... this many of them
CONE_SPACING_M = 5.0  # then one every this along the lane's left edge [m]
CONE_INSET_M = 0.35  # cones stand this far inside the closed lane's edges (centre) [m]
MERGE_LEAD_S = 12.0  # MergeSlowTraffic: the ego at its test speed would reach the lane's end this long after the start [s]
STREAM_AHEAD_M = 10.0  # ... the stream's last car starts this far ahead of the ego's front (in view) [m]
MERGE_MAX_STOP_S = 3.0  # ... the ego may stand at most this long in one go [s]
PAST_MERGE_M = 80.0  # ... the goal lies this far past the lane's end [m]


def plan_cut_in(defn: ScenarioDef, params: dict, seed: int) -> ScenarioPlan:
    v = params["ego_kmh"] / 3.6
    v_c = v + params["rel_kmh"] / 3.6
    closing = v - v_c
    impact = LEAD_TIME_S + params["gap_m"] / closing if closing > 0 else math.nan
    run_s = (impact if closing > 0 else LEAD_TIME_S) + defn.time_limit_s
    spec = TrackSpec("highway", 2, v, route_m(v, run_s))

    def actors(main, ego_d, rng):
        d_left = float(main.lane_centre_d(0, 1))
        s_in = front_s(START_MARGIN_M, v, LEAD_TIME_S) + params["gap_m"] + CAR_LENGTH_M / 2
        trajectory = Trajectory(s_in - v_c * LEAD_TIME_S, d_left, 0.0, (0.0,), (v_c,), shift_m=ego_d - d_left,
                                shift_start_s=LEAD_TIME_S - CUT_IN_S, shift_duration_s=CUT_IN_S)
        return [ScriptedActor("car", trajectory, colour=paint(rng, 1)[0])], [], ("vehicle", 0), 0.0

    return build_plan(defn, params, seed, spec, 1, v, actors, impact, run_s)


def plan_dense_brake(defn: ScenarioDef, params: dict, seed: int) -> ScenarioPlan:
    v = params["ego_kmh"] / 3.6
    gap = params["gap_s"] * v
    decel = params["decel_m_s2"]
    impact = ccr_impact_time(gap, v, decel, DENSE_BRAKE_AT_S)
    spec = TrackSpec("highway", 3, v, route_m(v, impact + defn.time_limit_s))

    def actors(main, ego_d, rng):
        knots = cruise_then_brake(v, DENSE_BRAKE_AT_S, decel)
        lead_s = front_s(START_MARGIN_M, v, 0.0) + gap + CAR_LENGTH_M / 2
        ahead_s = lead_s + CAR_LENGTH_M + gap
        spots = [(lead_s, ego_d), (ahead_s, ego_d)]  # the leader first: the target
        for lane in (0, 2):
            d = float(main.lane_centre_d(lane, 1))
            spots += [(START_MARGIN_M + 1.0, d), (lead_s - 1.0, d)]
        colours = paint(rng, len(spots))
        cars = [ScriptedActor("car", Trajectory(s, d, 0.0, *knots), role="target" if k == 0 else "traffic",
                              colour=colours[k]) for k, (s, d) in enumerate(spots)]
        return cars, [], ("vehicle", 0), 0.0

    return build_plan(defn, params, seed, spec, 1, v, actors, impact)


def plan_parked_obstacle(defn: ScenarioDef, params: dict, seed: int) -> ScenarioPlan:
    v = params["ego_kmh"] / 3.6
    v_o = params["oncoming_kmh"] / 3.6
    obstacle_s = front_s(START_MARGIN_M, v, LEAD_TIME_S) + CAR_LENGTH_M / 2
    spec = TrackSpec("town", 1, v, obstacle_s - START_MARGIN_M + PAST_OBSTACLE_M, centre_style="dashed")

    def actors(main, ego_d, rng):
        colours = paint(rng, 2)
        obstacle = ScriptedActor("car", Trajectory(obstacle_s, ego_d + OBSTACLE_SHIFT_M, 0.0), colour=colours[0])
        d_oncoming = float(main.lane_centre_d(0, -1))
        oncoming = ScriptedActor("car", Trajectory(obstacle_s + v_o * LEAD_TIME_S, d_oncoming, math.pi, (0.0,), (v_o,)),
                                 role="traffic", colour=colours[1])
        return [obstacle, oncoming], [], ("vehicle", 0), OBSTACLE_SHIFT_M

    return build_plan(defn, params, seed, spec, 0, v, actors, LEAD_TIME_S, defn.time_limit_s)


def cone_row(closure_s: float, length_m: float, ego_d: float, width_m: float) -> list[tuple[float, float]]:
    """(s, d) of the cones that close the lane centred at ``ego_d`` from ``closure_s`` over ``length_m``:
    a taper from its right edge to its left over ``TAPER_M``, then a cone every ``CONE_SPACING_M`` along
    its left edge (the side the traffic passes on)."""
    right, left = ego_d - width_m / 2 + CONE_INSET_M, ego_d + width_m / 2 - CONE_INSET_M
    taper = [(closure_s + TAPER_M * k / (TAPER_CONES - 1), right + (left - right) * k / (TAPER_CONES - 1))
             for k in range(TAPER_CONES)]
    n_along = int(max(length_m - TAPER_M, 0.0) // CONE_SPACING_M)
    return taper + [(closure_s + TAPER_M + CONE_SPACING_M * (k + 1), left) for k in range(n_along)]


def _first_in_path(cones: list[tuple[float, float]], ego_d: float) -> int:
    """The first cone whose footprint reaches into the ego's path (the ego holding its lane centre)."""
    from common.vocab import EGO_WIDTH_M

    return next(k for k, (_, d) in enumerate(cones) if abs(d - ego_d) < EGO_WIDTH_M / 2 + CONE_DIMS_M[1] / 2)


def _cones(main, closure_s: float, length_m: float, ego_d: float) -> tuple[list[ScriptedActor], int]:
    """The cone actors (the first in the ego's path the target) placed so that that cone's near side is
    at ``closure_s`` plus its offset in the row; returns (cones, index of the target)."""
    row = cone_row(closure_s, length_m, ego_d, main.lane_width_m)
    k = _first_in_path(row, ego_d)
    shift = row[k][0] - row[0][0]  # the target, not the taper's start, meets the ego at the planned time
    cones = [ScriptedActor("cone", Trajectory(s - shift + CONE_DIMS_M[0] / 2, d, 0.0),
                           role="target" if j == k else "obstruction", colour=CONE_COLOUR)
             for j, (s, d) in enumerate(row)]
    return cones, k


def plan_lane_closure(defn: ScenarioDef, params: dict, seed: int) -> ScenarioPlan:
    """Cones close the ego's lane over ``closure_m``; pass in the oncoming lane (a dashed centre line)
    once the oncoming car (at the speed limit, meeting the closure's start when the ego would) has gone."""
    v = params["ego_kmh"] / 3.6
    impact_s = front_s(START_MARGIN_M, v, LEAD_TIME_S)  # the first cone in the ego's path [m]
    route = impact_s - START_MARGIN_M + params["closure_m"] + PAST_OBSTACLE_M
    spec = TrackSpec("town", 1, v, route, centre_style="dashed")

    def actors(main, ego_d, rng):
        cones, k = _cones(main, impact_s, params["closure_m"], ego_d)
        d_oncoming = float(main.lane_centre_d(0, -1))
        oncoming = ScriptedActor("car", Trajectory(impact_s + CAR_LENGTH_M / 2 + v * LEAD_TIME_S, d_oncoming, math.pi,
                                                   (0.0,), (v,)), role="traffic", colour=paint(rng, 1)[0])
        return [*cones, oncoming], [], ("vehicle", k), cones[k].trajectory.d0_m - ego_d

    return build_plan(defn, params, seed, spec, 0, v, actors, LEAD_TIME_S, defn.time_limit_s)


def stream_spacing_m(stream_m_s: float, gap_s: float) -> float:
    """Front to front in the stream: the time gap at its speed, bumper to bumper, plus a car [m]."""
    return stream_m_s * gap_s + CAR_LENGTH_M


def plan_merge_slow_traffic(defn: ScenarioDef, params: dict, seed: int) -> ScenarioPlan:
    """Two lanes one way; the ego's (right) lane ends, closed by cones ``MERGE_LEAD_S`` ahead at its test
    speed; the left lane carries a dense stream at ``stream_kmh``, ``gap_s`` apart, that the ego (faster)
    catches up with. It must merge into the stream without standing more than ``MERGE_MAX_STOP_S``."""
    v = params["ego_kmh"] / 3.6
    v_s = params["stream_kmh"] / 3.6
    end_s = front_s(START_MARGIN_M, v, MERGE_LEAD_S)
    spec = TrackSpec("highway", 2, v, end_s - START_MARGIN_M + PAST_MERGE_M)

    def actors(main, ego_d, rng):
        cones, k = _cones(main, end_s, PAST_MERGE_M + 40.0, ego_d)  # closed past the goal: the lane ends
        d_left = float(main.lane_centre_d(0, 1))
        spacing = stream_spacing_m(v_s, params["gap_s"])
        tail = front_s(START_MARGIN_M, v, 0.0) + STREAM_AHEAD_M + CAR_LENGTH_M / 2
        # enough cars to pass the lane's end until the time limit
        head = end_s + PAST_MERGE_M + v_s * 10.0
        n = int(math.ceil((head - tail) / spacing)) + 1
        colours = paint(rng, n)
        stream = [ScriptedActor("car", Trajectory(tail + j * spacing, d_left, 0.0, (0.0,), (v_s,)), role="traffic",
                                colour=colours[j]) for j in range(n)]
        return [*cones, *stream], [], ("vehicle", k), cones[k].trajectory.d0_m - ego_d

    # the time limit: to the lane's end at the test speed, to the goal at the stream's, and ``time_limit_s`` more
    run_s = MERGE_LEAD_S + PAST_MERGE_M / v_s + defn.time_limit_s
    plan = build_plan(defn, params, seed, spec, 1, v, actors, MERGE_LEAD_S, run_s)
    return dataclasses.replace(plan, max_stop_s=MERGE_MAX_STOP_S)
