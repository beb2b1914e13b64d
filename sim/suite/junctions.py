"""Planners of the junction cases (CARLA leaderboard / Bench2Drive junction scenario classes) in a
TownNav town (``sim.suite.junction_site``): an unprotected left across an oncoming stream, a right
turn across a crosswalk with walkers, a red-light runner from the side, a junction blocked by a queue.

The leaderboard names the situations, not their numbers; the values here are chosen. Timing follows
the straight suite's protocol idea: the conflict is set from the ego's arrival if it held its test
speed from the start (its front ``LEAD_M`` = 30 m before its stop line), the light green for it:

- UnprotectedLeft: a permitted left (the junction's plan has no arrow phase; lefts yield on the
  ball). The oncoming stream is the town's own traffic (``GraphTraffic``, at the street limit, which
  is the test speed, straight through): cars whose centres reach the crossing of their path with the
  ego's at t_ego + k ``gap_s`` (k = -1, 0, 1, ...: one before the ego, one with it, then the rest of
  the stream, as many as fit the approach street, at most ``STREAM_MAX``), in the oncoming lanes in
  turn. The target is the car that arrives with the ego. A route case: pass = the goal without a
  collision, a red light or failing to yield (``sim.suite.junction_world``).
- RightTurnCrosswalk: walkers cross the exit street's crosswalk on the walk signal (their crossing is
  parallel to the ego's green approach), alternately from the near kerb (the corner the ego turns
  round) and the far one, at 5 km/h; walker k reaches the ego's exit lane centre ``lag_s`` +
  k ``WALKER_SPACING_S`` after the ego's front would reach the crosswalk's centre line. A route case.
- RedLightRunner: the ego goes straight from its rightmost lane; a car from the left (the near side)
  goes straight through its red at ``runner_kmh`` from the start, its centre reaching the crossing of
  the two paths when the ego's front would. A no-collision case (4 s past the planned impact).
- BlockedJunction: the ego goes straight; ``QUEUE_CARS`` cars stand bumper to bumper in its exit lane,
  the nearest one's rear ``QUEUE_REAR_M`` into the exit street (no room for the ego beyond the box);
  the head waits until ``release_s``, then the queue drives off. A route case: pass = no
  blocked-junction event (``sim.nav_world``: entering the box with no room to leave it), no collision,
  the goal (past the queue's start) in time.
"""

from __future__ import annotations

import math

import numpy as np

from common.vocab import EGO_LENGTH_M, VEHICLE_DIMS_M

from ..roadgraph.graph import CROSSWALK_M
from .actors import ScriptedActor, Trajectory
from .aeb import paint
from .junction_actors import CrossingWalk, GraphVehicle, PathActor
from .junction_site import EXIT_M, JunctionSite, choose_site, crossing_s, through_path
from .types import JunctionPlan, ScenarioDef

CAR_LENGTH_M = VEHICLE_DIMS_M[0][0]
STREAM_MAX = 6  # oncoming cars at most [-]
STREAM_ENTRY_M = 5.0  # a stream car starts at least this far into its street [m]
AFTER_STREAM_S = 20.0  # a left case runs this long after the last oncoming car passes [s]
WALKER_KMH = 5.0  # [km/h]
WALKER_SPACING_S = 1.2  # walkers reach the ego's lane this far apart [s]
AFTER_WALKERS_S = 12.0  # a crosswalk case runs this long after the last walker is across [s]
RUNNER_APPROACH_M = 250.0  # the runner's path starts this far before its lane's end (at most) [m]
QUEUE_CARS = 3
QUEUE_REAR_M = 2.0  # the nearest queued car's rear this far into the exit street [m]
QUEUE_GAP_M = 2.0  # bumper to bumper in the queue: IDM's standstill gap, so nobody creeps [m]
# a blocked-junction case runs this long after the queue starts moving [s]. 30, not 25: behind a queue that drives
# off at 20 km/h the goal ~95 m on takes ~22 s whatever the driver does, and a driver that waits 1 s for the
# queue to read clear (then ``control.junction_rules``' rule; now most of 1 s) missed 25 by 0.4 s at ego 20 km/h, release 5 s
AFTER_RELEASE_S = 30.0


def _front_arrival_s(route_s: float, v: float) -> float:
    """When the ego's front, holding ``v`` from route s 0 (its centre), reaches ``route_s`` [s]."""
    return (route_s - EGO_LENGTH_M / 2) / v


def _plan(defn: ScenarioDef, params: dict, seed: int, site: JunctionSite, v: float, run_s: float, *,
          vehicles=(), path_vehicles=(), walkers=(), target=("vehicle", 0), impact=math.nan,
          conflict=(math.nan, math.nan)) -> JunctionPlan:
    return JunctionPlan(defn.name, tuple(sorted(params.items())), seed, defn.criterion, run_s, site, v,
                        tuple(vehicles), tuple(path_vehicles), tuple(walkers), target, impact, math.nan,
                        tuple(map(float, conflict)))


def _oncoming(graph, junction, me) -> list:
    """The oncoming through lanes of movement ``me``: the junction's straights that leave onto its
    approach street (each of its lanes), from a street long enough for a car or two."""
    return sorted((graph.connectors[k] for k in junction.connectors
                   if graph.connectors[k].movement == "straight" and graph.connectors[k].dst.road == me.src.road
                   and graph.roads[graph.connectors[k].src.road].length_m > 60.0),
                  key=lambda c: c.src.lane)


def _runner_from_left(graph, junction, me, ego_heading_rad: float):
    """The straight from the approach on the ego's left (heading to its right), its rightmost lane: the
    near side of the cross street; None where no such approach comes in."""
    runner = None
    for k in junction.connectors:
        c = graph.connectors[k]
        if c.movement != "straight" or c.src.road in (me.src.road, me.dst.road):
            continue
        h = graph.roads[c.road].heading_at(0.0)
        if math.sin(h - ego_heading_rad) < -0.5 and (runner is None or c.src.lane > runner.src.lane):
            runner = c
    return runner


def _approach_heading(graph, c) -> float:
    """The heading of the ego's approach lane where it meets the junction [rad]."""
    road = graph.roads[c.src.road]
    return road.heading_at(graph.lane_end_s(c.src)) + (0.0 if c.src.direction > 0 else math.pi)


def plan_unprotected_left(defn: ScenarioDef, params: dict, seed: int) -> JunctionPlan:
    v = params["ego_kmh"] / 3.6
    gap = params["gap_s"]
    site = choose_site(seed, v, "left", protected_left=False, fits=lambda g, j, c: bool(_oncoming(g, j, c)))
    graph, me = site.graph, site.movement
    route = site.stage.route
    oncoming = _oncoming(graph, site.box, me)
    vehicles, arrivals, conflict = [], [], None
    for k in range(-1, STREAM_MAX + 5):
        if len(vehicles) == STREAM_MAX:
            break
        c = oncoming[(k + 1) % len(oncoming)]
        src = graph.roads[c.src.road]
        path, approach = through_path(graph, c, src.length_m - 1.0, 20.0)
        s_ego, s_car = crossing_s(route.path, path)
        t_ego = _front_arrival_s(s_ego, v)
        t_k = t_ego + k * gap
        p0 = s_car - v * t_k  # the car's path s at t = 0; its path starts at its street's far end
        if t_k < 1.0:
            continue
        if p0 < STREAM_ENTRY_M:
            break
        s_road = graph.lane_end_s(c.src) - c.src.direction * (approach - p0)
        vehicles.append(GraphVehicle(tuple(c.src), float(s_road), v, graph.connectors.index(c),
                                     "target" if k == 0 else "traffic"))
        arrivals.append(t_k)
        if k == 0:
            x, y, _ = path.pose(np.array([s_car]), np.zeros(1))
            conflict, impact = (float(x[0]), float(y[0])), t_k
    target = next(i for i, g in enumerate(vehicles) if g.role == "target")
    return _plan(defn, params, seed, site, v, max(arrivals) + AFTER_STREAM_S, vehicles=vehicles,
                 target=("vehicle", target), impact=impact, conflict=conflict)


def plan_right_turn_crosswalk(defn: ScenarioDef, params: dict, seed: int) -> JunctionPlan:
    v = params["ego_kmh"] / 3.6
    n, lag = int(params["walkers"]), params["lag_s"]
    site = choose_site(seed, v, "right")
    graph, me = site.graph, site.movement
    road = graph.roads[me.dst.road]
    direction = me.dst.direction
    s_cw = graph.lane_start_s(me.dst) + direction * CROSSWALK_M / 2  # the crosswalk's centre line
    d_ego = float(road.lane_centre_d(me.dst.lane, direction))
    lo, hi = road.asphalt_d
    kerbs = (lo - road.sidewalk_m / 2, hi + road.sidewalk_m / 2)
    near = kerbs[0] if direction > 0 else kerbs[1]  # right of the exit direction: the corner the ego turns round
    far = kerbs[1] if direction > 0 else kerbs[0]
    cx, cy, _ = road.pose(np.array([s_cw]), np.array([d_ego]))
    t_ego = _front_arrival_s(float(site.stage.route.path.project(cx, cy)[0][0]), v)
    w = WALKER_KMH / 3.6
    rng = np.random.default_rng([seed, 0xC055])
    walks, ends = [], []
    for k in range(n):
        d0, d1 = (near, far) if k % 2 == 0 else (far, near)
        s_k = s_cw + direction * ((k % 3) - 1) * 0.8  # spread along the 3 m band
        x, y, h = road.pose(np.array([s_k]), np.array([d0]))
        heading = float(h[0]) + (math.pi / 2 if d1 > d0 else -math.pi / 2)
        t_k = t_ego + lag + k * WALKER_SPACING_S
        go = t_k - abs(d_ego - d0) / w
        walks.append(CrossingWalk((float(x[0]), float(y[0])), heading, abs(d1 - d0), w, go,
                                  float(rng.uniform(1.6, 1.9)), tuple(int(c) for c in rng.integers(30, 220, 3)),
                                  "target" if k == 0 else "traffic"))
        ends.append(go + abs(d1 - d0) / w)
    return _plan(defn, params, seed, site, v, max(ends) + AFTER_WALKERS_S, walkers=walks, target=("walker", 0),
                 impact=t_ego + lag, conflict=(cx[0], cy[0]))


def plan_red_light_runner(defn: ScenarioDef, params: dict, seed: int) -> JunctionPlan:
    v = params["ego_kmh"] / 3.6
    v_r = params["runner_kmh"] / 3.6
    site = choose_site(seed, v, "straight",
                       fits=lambda g, j, c: _runner_from_left(g, j, c, _approach_heading(g, c)) is not None)
    graph, me = site.graph, site.movement
    route = site.stage.route
    runner = _runner_from_left(graph, site.box, me, _approach_heading(graph, me))
    path, _ = through_path(graph, runner, RUNNER_APPROACH_M, 40.0)
    s_ego, s_r = crossing_s(route.path, path)
    impact = _front_arrival_s(s_ego, v)
    s0 = s_r - v_r * impact
    colour = paint(np.random.default_rng([seed, 0x8ED]), 1)[0]
    actor = ScriptedActor("car", Trajectory(s0, 0.0, 0.0, (0.0,), (v_r,)), colour=colour)
    x, y, _ = path.pose(np.array([s_r]), np.zeros(1))
    return _plan(defn, params, seed, site, v, impact + defn.time_limit_s, path_vehicles=[PathActor(actor, path)],
                 target=("vehicle", 0), impact=impact, conflict=(x[0], y[0]))


def plan_blocked_junction(defn: ScenarioDef, params: dict, seed: int) -> JunctionPlan:
    v = params["ego_kmh"] / 3.6
    release = params["release_s"]
    queue_m = QUEUE_REAR_M + QUEUE_CARS * (CAR_LENGTH_M + QUEUE_GAP_M)
    site = choose_site(seed, v, "straight", exit_m=queue_m + EXIT_M)
    graph, me = site.graph, site.movement
    lane = me.dst
    t = graph.lane_start_s(lane)
    exits = [k for k, c in enumerate(graph.connectors) if c.src == lane]  # the queue's next movement
    vehicles = []
    for k in range(QUEUE_CARS):  # nearest the junction first: the target
        s = t + lane.direction * (QUEUE_REAR_M + CAR_LENGTH_M / 2 + k * (CAR_LENGTH_M + QUEUE_GAP_M))
        vehicles.append(GraphVehicle(tuple(lane), float(s), 0.0, exits[0], "target" if k == 0 else "traffic",
                                     release if k == QUEUE_CARS - 1 else 0.0))
    road = graph.roads[lane.road]
    x, y, _ = road.pose(np.array([t + lane.direction * QUEUE_REAR_M]), np.array([road.lane_centre_d(lane.lane, lane.direction)]))
    return _plan(defn, params, seed, site, v, release + AFTER_RELEASE_S, vehicles=vehicles, target=("vehicle", 0),
                 conflict=(x[0], y[0]))
