"""Planners of the non-junction CARLA leaderboard / Bench2Drive cases: a cut-in on the highway, a
leader braking hard in dense traffic, a parked obstacle to pass.

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
"""

from __future__ import annotations

import math

from common.vocab import VEHICLE_DIMS_M

from ..scenarios import START_MARGIN_M
from .actors import ScriptedActor, Trajectory, cruise_then_brake
from .aeb import LEAD_TIME_S, build_plan, ccr_impact_time, front_s, paint, route_m
from .track import TrackSpec
from .types import ScenarioDef, ScenarioPlan

CAR_LENGTH_M = VEHICLE_DIMS_M[0][0]
CUT_IN_S = 2.5  # the cutter's lane change [s]
DENSE_BRAKE_AT_S = 3.0  # the traffic brakes this long after the start [s]
OBSTACLE_SHIFT_M = -0.3  # the broken-down car's centre right of the ego's lane centre [m]
PAST_OBSTACLE_M = 30.0  # the goal lies this far past the obstacle [m]


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
