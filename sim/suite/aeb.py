"""Planners of the Euro NCAP AEB families: car-to-car rear (CCRs, CCRm, CCRb), pedestrian crossing
and longitudinal (CPNA, CPFA, CPNC, CPLA), cyclist crossing and longitudinal (CBNA, CBLA).

Every plan is timed the protocols' way: if the ego holds its test speed, the target meets the ego's
front bumper at ``impact_time_s`` with its centre at the planned point across the bumper. The
impact point is given as a share of the ego's width counted from the side the target comes from
(Euro NCAP's convention: CPNA-25 meets the near quarter of the bumper); a target moving along the
lane counts from the right (the near side in right-hand traffic).
"""

from __future__ import annotations

import math

import numpy as np

from common.errors import ConfigError
from common.vocab import CHILD_HEIGHT_M, CYCLIST_DIMS_M, EGO_LENGTH_M, EGO_WIDTH_M, PEDESTRIAN_SIZE_M, VEHICLE_DIMS_M

from ..scenarios import START_MARGIN_M
from .actors import ScriptedActor, Trajectory, cruise_then_brake, time_to_cover, wait_then_go
from .track import TrackSpec, build_track
from .types import ScenarioDef, ScenarioPlan

# the planned impact comes this long after the start: a steady approach first (Euro NCAP starts at TTC >= 4 s) [s]
LEAD_TIME_S = 6.0
CCRM_TARGET_KMH = 20.0  # CCRm: the target's steady speed [km/h]
CCRB_BRAKE_AT_S = 3.0  # CCRb: the target starts braking this long after the start [s]
WALKER_ACCEL_M = 1.0  # walkers reach their speed over this distance from standing [m]
CYCLIST_ACCEL_M = 3.0  # cyclists reach their speed over this distance from standing [m]
CYCLIST_RUN_UP_M = 3.0  # a crossing cyclist starts this far behind the sidewalk's outer edge (a path between buildings) [m]
OBSTRUCTION_GAP_M = 1.0  # CPNC: the gap between the two parked cars the child steps out of [m]
CLEAR_HALF_M = 8.0  # crossing scenarios: no buildings this close along the road to the crossing line [m]
CAR_LENGTH_M = VEHICLE_DIMS_M[0][0]


def paint(rng: np.random.Generator, n: int) -> list[tuple[int, int, int]]:
    palette = [(230, 230, 232), (20, 20, 24), (150, 152, 158), (180, 30, 30), (30, 60, 160), (40, 110, 60),
               (230, 180, 40), (120, 20, 30)]
    return [palette[int(k)] for k in rng.integers(0, len(palette), n)]


def front_s(ego_s: float, v_m_s: float, t_s: float) -> float:
    """The ego's front bumper along the road at ``t_s`` if it holds ``v_m_s`` [m]."""
    return ego_s + v_m_s * t_s + EGO_LENGTH_M / 2


def route_m(v_m_s: float, run_s: float) -> float:
    """A route long enough that an ego holding its speed never reaches the goal before the time limit [m]."""
    return max(v_m_s * run_s, 40.0) + 20.0


def _impact_across(ego_d: float, share: float, from_left: bool) -> float:
    """d of the target's centre at impact: ``share`` of the ego's width in from the side it comes from [m]."""
    inward = -EGO_WIDTH_M / 2 + share * EGO_WIDTH_M  # from the right edge
    return ego_d - inward if from_left else ego_d + inward


def build_plan(defn: ScenarioDef, params: dict, seed: int, spec: TrackSpec, ego_lane: int, v: float, make_actors,
               impact_time_s: float, run_s: float | None = None) -> ScenarioPlan:
    """Build the track, then the actors (``make_actors(main, ego_d, rng) -> (vehicles, walkers, target,
    impact_offset_m)``) on it; the ego starts in forward lane ``ego_lane`` at ``v`` [m/s]. The run lasts
    ``run_s`` [s], by default ``defn.time_limit_s`` past the planned impact."""
    scenario = build_track(spec, seed)
    main = scenario.network.main
    ego_d = float(main.lane_centre_d(ego_lane, 1))
    rng = np.random.default_rng([seed, 0xAEB])
    vehicles, walkers, target, offset = make_actors(main, ego_d, rng)
    run_s = impact_time_s + defn.time_limit_s if run_s is None else run_s
    return ScenarioPlan(defn.name, tuple(sorted(params.items())), seed, defn.criterion, run_s, scenario,
                        scenario.start_s, ego_d, v, tuple(vehicles), tuple(walkers), target, impact_time_s, offset)


# --- car-to-car rear ------------------------------------------------------------------------------
def _overlap_offset(overlap_pct: float) -> float:
    """The target's centre left of the ego's centre for a lateral overlap [m]: positive overlaps below
    100 % shift it right, negative ones left."""
    return -math.copysign((1.0 - abs(overlap_pct) / 100.0) * EGO_WIDTH_M, overlap_pct)


def ccr_impact_time(headway_m: float, v_m_s: float, decel_m_s2: float, brake_at_s: float) -> float:
    """CCRb: when an ego holding ``v_m_s`` meets a leader ``headway_m`` ahead at the same speed that
    brakes to a stop at ``decel_m_s2`` from ``brake_at_s`` [s]."""
    stop_m = v_m_s**2 / (2 * decel_m_s2)
    if headway_m <= stop_m:  # while the leader still moves: the gap closes by a t^2 / 2
        return brake_at_s + math.sqrt(2 * headway_m / decel_m_s2)
    return brake_at_s + (headway_m + stop_m) / v_m_s


def plan_ccr(defn: ScenarioDef, params: dict, seed: int) -> ScenarioPlan:
    v = params["ego_kmh"] / 3.6
    kind = defn.name  # CCRs | CCRm | CCRb
    if kind == "CCRb":
        v_target = v
        impact = ccr_impact_time(params["headway_m"], v, params["decel_m_s2"], CCRB_BRAKE_AT_S)
    else:
        v_target = 0.0 if kind == "CCRs" else CCRM_TARGET_KMH / 3.6
        impact = LEAD_TIME_S
    spec = TrackSpec("highway", 2, v, route_m(v, impact + defn.time_limit_s))

    def actors(main, ego_d, rng):
        offset = _overlap_offset(params["overlap_pct"])
        if kind == "CCRb":
            s0 = front_s(START_MARGIN_M, v, 0.0) + params["headway_m"] + CAR_LENGTH_M / 2
            knots = cruise_then_brake(v, CCRB_BRAKE_AT_S, params["decel_m_s2"])
        else:  # the target's rear meets the ego's front at the planned time
            s0 = front_s(START_MARGIN_M, v, impact) + CAR_LENGTH_M / 2 - v_target * impact
            knots = ((0.0,), (v_target,))
        target = ScriptedActor("car", Trajectory(s0, ego_d + offset, 0.0, *knots), colour=paint(rng, 1)[0])
        return [target], [], ("vehicle", 0), offset

    return build_plan(defn, params, seed, spec, 1, v, actors, impact)


# --- vulnerable road users crossing -----------------------------------------------------------
CROSSING = {  # name -> (who, speed [km/h], from the left (far side), impact share, obstructed)
    "CPNA-25": ("adult", 5.0, False, 0.25, False),
    "CPNA-75": ("adult", 5.0, False, 0.75, False),
    "CPFA-50": ("adult", 8.0, True, 0.50, False),
    "CPNC-50": ("child", 5.0, False, 0.50, True),
    "CBNA-50": ("cyclist", 15.0, False, 0.50, False),
}


def plan_crossing(defn: ScenarioDef, params: dict, seed: int) -> ScenarioPlan:
    who, speed_kmh, from_left, share, obstructed = CROSSING[defn.name]
    v = params["ego_kmh"] / 3.6
    v_t = speed_kmh / 3.6
    # the crossing line: where the target's near face meets the ego's front bumper at the planned time
    half_along = CYCLIST_DIMS_M[1] / 2 if who == "cyclist" else PEDESTRIAN_SIZE_M / 2
    s_cross = front_s(START_MARGIN_M, v, LEAD_TIME_S) + half_along
    clear = () if obstructed else ((s_cross - CLEAR_HALF_M, s_cross + CLEAR_HALF_M),)
    spec = TrackSpec("town", 1, v, route_m(v, LEAD_TIME_S + defn.time_limit_s), clear_s=clear)

    def actors(main, ego_d, rng):
        lo, hi = main.asphalt_d
        d_hit = _impact_across(ego_d, share, from_left)
        if who == "cyclist":
            d_start = lo - main.sidewalk_m - CYCLIST_RUN_UP_M
        elif obstructed:  # in the gap between the parked cars, on their kerb side: hidden from the road
            d_start = _parked_d(main) - 0.3
        else:  # on the middle of the sidewalk
            d_start = hi + main.sidewalk_m / 2 if from_left else lo - main.sidewalk_m / 2
        accel = CYCLIST_ACCEL_M if who == "cyclist" else WALKER_ACCEL_M
        t_go = LEAD_TIME_S - time_to_cover(abs(d_hit - d_start), v_t, accel)
        heading = -math.pi / 2 if from_left else math.pi / 2
        colours = paint(rng, 3)
        trajectory = Trajectory(s_cross, d_start, heading, *wait_then_go(t_go, v_t, accel))
        height = CHILD_HEIGHT_M if who == "child" else float(rng.uniform(1.7, 1.85))
        target = ScriptedActor(who, trajectory, colour=colours[0], height_m=height)
        parked = []
        if obstructed:  # Euro NCAP's obstruction: two parked cars, the child steps out of the gap between them
            reach = OBSTRUCTION_GAP_M / 2 + CAR_LENGTH_M / 2
            parked = [ScriptedActor("car", Trajectory(s_cross + side * reach, _parked_d(main), 0.0), role="obstruction",
                                    colour=colours[1 + k]) for k, side in enumerate((-1, 1))]
        if who == "cyclist":
            return [target], [], ("vehicle", 0), d_hit - ego_d
        return parked, [target], ("walker", 0), d_hit - ego_d

    return build_plan(defn, params, seed, spec, 0, v, actors, LEAD_TIME_S)


def _parked_d(main) -> float:
    """A parked car's centre on the right shoulder [m]."""
    return main.right_edge_d - main.shoulder_m / 2


# --- vulnerable road users along the lane ------------------------------------------------------
ALONG = {  # name -> (who, speed [km/h], impact share from the right)
    "CPLA-25": ("adult", 5.0, 0.25),
    "CPLA-50": ("adult", 5.0, 0.50),
    "CBLA-50": ("cyclist", 15.0, 0.50),
}


def plan_along(defn: ScenarioDef, params: dict, seed: int) -> ScenarioPlan:
    who, speed_kmh, share = ALONG[defn.name]
    v = params["ego_kmh"] / 3.6
    v_t = speed_kmh / 3.6
    if v <= v_t:
        raise ConfigError(f"{defn.name}: ego_kmh={params['ego_kmh']:g} must exceed the target's {speed_kmh:g} km/h")
    spec = TrackSpec("town", 1, v, route_m(v, LEAD_TIME_S + defn.time_limit_s))
    half_len = CYCLIST_DIMS_M[0] / 2 if who == "cyclist" else PEDESTRIAN_SIZE_M / 2

    def actors(main, ego_d, rng):
        d = _impact_across(ego_d, share, from_left=False)
        s0 = front_s(START_MARGIN_M, v, LEAD_TIME_S) + half_len - v_t * LEAD_TIME_S
        target = ScriptedActor(who, Trajectory(s0, d, 0.0, (0.0,), (v_t,)), colour=paint(rng, 1)[0],
                               height_m=float(rng.uniform(1.7, 1.85)))
        if who == "cyclist":
            return [target], [], ("vehicle", 0), d - ego_d
        return [], [target], ("walker", 0), d - ego_d

    return build_plan(defn, params, seed, spec, 0, v, actors, LEAD_TIME_S)
