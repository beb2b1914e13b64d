"""Route planning over the lane graph (Dijkstra), and routes of a chosen length for episodes.

Nodes are street sections ``(road, direction)`` entered at a known s, one per lane, and
connectors. Costs are metres driven; a lane change costs ``LANE_CHANGE_COST_M`` more and is
only allowed on streets long enough to make it (``MIN_CHANGE_STREET_M``).
"""

from __future__ import annotations

import heapq
import itertools

import numpy as np

from common.config import ConfigError

from ..road import SAMPLE_STEP_M, Road
from .graph import LaneRef, RoadGraph
from .paths import resample
from .route import LANE_CHANGE_M, Maneuver, Route, RouteLeg

LANE_CHANGE_COST_M = 40.0  # a lane change is worth this detour [m]
MIN_CHANGE_STREET_M = 70.0  # no lane changes on shorter streets [m]
END_CLEARANCE_M = 15.0  # starts and goals stay this far from a street's ends [m]


class RouteError(ConfigError):
    """A route that cannot be planned (the start and goal are not connected, or not on streets)."""


def plan_route(graph: RoadGraph, start: LaneRef, start_s: float, goal: LaneRef, goal_s: float) -> Route:
    """The shortest legal route from ``start`` at ``start_s`` to ``goal``'s street and direction at
    ``goal_s`` (any of its lanes) [m]. Raises ``RouteError`` naming the two ends when there is none."""
    for name, lane, s in (("start", start, start_s), ("goal", goal, goal_s)):
        _check_lane(graph, name, lane, s)
    cost, back = _dijkstra(graph, start, start_s)
    best, best_cost = None, np.inf
    for lane, (c, entry_s, _) in cost.items():
        if (lane.road, lane.direction) != (goal.road, goal.direction) or graph.is_connector(lane.road):
            continue
        ahead = (goal_s - entry_s) * lane.direction
        if ahead >= 0 and c + ahead < best_cost:
            best, best_cost = lane, c + ahead
    if best is None:
        raise RouteError(f"no route from {tuple(start)} at s={start_s:.1f} m to {tuple(goal)} at s={goal_s:.1f} m: "
                         f"the goal cannot be reached from the start by legal movements")
    return build_route(graph, _unwind(back, best), start_s, goal_s)


def random_route(graph: RoadGraph, rng: np.random.Generator, length_m: float, tries: int = 40) -> Route:
    """A route of about ``length_m`` (within 10 %, else the closest found) from a random street lane."""
    lanes = graph.all_street_lanes()
    best = None
    for _ in range(tries):
        start = lanes[int(rng.integers(0, len(lanes)))]
        road = graph.roads[start.road]
        if road.length_m < 2 * END_CLEARANCE_M + 5:
            continue
        start_s = float(rng.uniform(END_CLEARANCE_M, road.length_m - END_CLEARANCE_M))
        cost, back = _dijkstra(graph, start, start_s)
        options = []
        for lane, (_, entry_s, driven) in cost.items():
            if graph.is_connector(lane.road) or lane.road == start.road:
                continue
            reach = driven + abs(graph.lane_end_s(lane) - entry_s) - END_CLEARANCE_M
            if driven + END_CLEARANCE_M <= length_m <= reach:
                options.append((lane, entry_s, driven))
        if options:
            lane, entry_s, driven = options[int(rng.integers(0, len(options)))]
            goal_s = entry_s + lane.direction * (length_m - driven)
            return build_route(graph, _unwind(back, lane), start_s, goal_s)
        if best is None:
            best = (start, start_s, cost, back)
    start, start_s, cost, back = best
    lane = max((k for k in cost if not graph.is_connector(k.road)), key=lambda k: cost[k][2])
    return build_route(graph, _unwind(back, lane), start_s, graph.lane_end_s(lane) - lane.direction * END_CLEARANCE_M)


def _check_lane(graph: RoadGraph, name: str, lane: LaneRef, s: float) -> None:
    if not 0 <= lane.road < graph.n_streets:
        raise RouteError(f"route {name} road={lane.road} is not a street; use 0..{graph.n_streets - 1}")
    if lane.direction not in (1, -1) or not 0 <= lane.lane < graph.street_lanes(lane.road, lane.direction):
        raise RouteError(f"route {name} lane {tuple(lane)} does not exist on street {lane.road} "
                         f"({graph.roads[lane.road].lanes_fwd} lanes toward +s, {graph.roads[lane.road].lanes_bwd} toward -s)")
    if not 0.0 <= s <= graph.roads[lane.road].length_m:
        raise RouteError(f"route {name} s={s} m is off street {lane.road}; use 0..{graph.roads[lane.road].length_m:.1f}")


def _dijkstra(graph: RoadGraph, start: LaneRef, start_s: float):
    """Cost [m], entry s [m] and metres driven to the entry of every reachable lane, and each
    lane's predecessor."""
    cost: dict[LaneRef, tuple[float, float, float]] = {start: (0.0, start_s, 0.0)}
    back: dict[LaneRef, LaneRef | None] = {start: None}
    tie = itertools.count()
    heap = [(0.0, next(tie), start)]
    done = set()
    while heap:
        c, _, lane = heapq.heappop(heap)
        if lane in done:
            continue
        done.add(lane)
        _, entry_s, driven = cost[lane]
        for nxt, step, nxt_entry, moved in _successors(graph, lane, entry_s):
            if c + step < cost.get(nxt, (np.inf,))[0]:
                cost[nxt] = (c + step, nxt_entry, driven + moved)
                back[nxt] = lane
                heapq.heappush(heap, (c + step, next(tie), nxt))
    return cost, back


def _successors(graph: RoadGraph, lane: LaneRef, entry_s: float):
    if graph.is_connector(lane.road):
        c = graph.connector_of(lane.road)
        length = graph.roads[lane.road].length_m
        yield c.dst, length, graph.lane_start_s(c.dst), length
        return
    rest = abs(graph.lane_end_s(lane) - entry_s)
    for c in graph.exits.get(lane, []):
        yield c.lane, rest, 0.0, rest
    if rest >= MIN_CHANGE_STREET_M:
        for k in (lane.lane - 1, lane.lane + 1):
            if 0 <= k < graph.street_lanes(lane.road, lane.direction):
                yield LaneRef(lane.road, lane.direction, k), LANE_CHANGE_COST_M, entry_s, 0.0


def _unwind(back, lane):
    chain = []
    while lane is not None:
        chain.append(lane)
        lane = back[lane]
    return chain[::-1]


def build_route(graph: RoadGraph, chain: list[LaneRef], start_s: float, goal_s: float) -> Route:
    """Legs, commands and the route line for a chain of lanes from the planner."""
    sections = _sections(graph, chain, start_s, goal_s)
    points, legs, maneuvers, limits, route_s = [], [], [], [], 0.0
    for lanes, s0, s1, changes in sections:
        road = graph.roads[lanes[0].road]
        direction = lanes[0].direction
        if graph.is_connector(road.road_id):
            s = np.arange(0.0, road.length_m, SAMPLE_STEP_M)
            x, y, _ = road.pose(s, np.full_like(s, road.lane_centre_d(0, 1)))
            c = graph.connector_of(road.road_id)
            legs.append(RouteLeg(lanes[0], 0.0, road.length_m, route_s, True, c.junction))
            if not _lane_continues(graph, c):
                maneuvers.append(Maneuver(c.movement, route_s, route_s + road.length_m, c.junction))
            limits.append(road.speed_limit_m_s)
            points.append(np.stack([x, y], 1))
            route_s += road.length_m
            continue
        s = s0 + direction * np.arange(0.0, abs(s1 - s0), SAMPLE_STEP_M)
        d = np.full_like(s, float(road.lane_centre_d(lanes[0].lane, direction)))
        for (k_from, k_to), at in zip(zip(lanes, lanes[1:]), changes):
            # cosine blend from one lane centre to the next, centred ``at`` metres into the section
            t = np.clip((np.abs(s - s0) - (at - LANE_CHANGE_M / 2)) / LANE_CHANGE_M, 0.0, 1.0)
            d_from = float(road.lane_centre_d(k_from.lane, direction))
            d_to = float(road.lane_centre_d(k_to.lane, direction))
            d = d + (d_to - d_from) * 0.5 * (1 - np.cos(np.pi * t))
            command = "change_lane_left" if k_to.lane < k_from.lane else "change_lane_right"
            maneuvers.append(Maneuver(command, route_s + at - LANE_CHANGE_M / 2, route_s + at + LANE_CHANGE_M / 2, -1))
        bounds = [0.0] + list(changes) + [abs(s1 - s0)]
        for k, lane in enumerate(lanes):
            a, b = bounds[k], bounds[k + 1]
            legs.append(RouteLeg(lane, s0 + direction * a, s0 + direction * b, route_s + a, False, -1))
            limits.append(road.speed_limit_m_s)
        x, y, _ = road.pose(s, d)
        points.append(np.stack([x, y], 1))
        route_s += abs(s1 - s0)
    last_leg = legs[-1]
    x, y, _ = graph.roads[last_leg.lane.road].pose(last_leg.s_to, graph.roads[last_leg.lane.road].lane_centre_d(
        last_leg.lane.lane, last_leg.lane.direction))
    points.append(np.array([[float(x), float(y)]]))
    xy, heading, curvature = resample(np.concatenate(points))
    w = graph.roads[chain[0].road].lane_width_m
    path = Road(-1, xy, heading, curvature, 1, 0, w, 0.0, 0.0, float(min(limits)), "none")
    return Route(legs, maneuvers, path, np.array(limits))


def _lane_continues(graph: RoadGraph, c) -> bool:
    """A highway lane running on through a taper or gore: no manoeuvre, nothing for the driver to do
    (merging off a ramp and exiting onto one change the lane index, and keep their commands)."""
    return graph.junctions[c.junction].control == "merge" and c.src.lane == c.dst.lane


def _sections(graph: RoadGraph, chain: list[LaneRef], start_s: float, goal_s: float):
    """The chain grouped by road: (lanes on it in order, s in, s out, lane-change points [m into it])."""
    groups: list[list[LaneRef]] = []
    for lane in chain:
        if groups and (groups[-1][-1].road, groups[-1][-1].direction) == (lane.road, lane.direction):
            groups[-1].append(lane)
        else:
            groups.append([lane])
    out = []
    for k, lanes in enumerate(groups):
        first = lanes[0]
        s0 = start_s if k == 0 else (0.0 if graph.is_connector(first.road) else graph.lane_start_s(first))
        s1 = goal_s if k == len(groups) - 1 else graph.lane_end_s(first)
        if graph.is_connector(first.road):
            s0, s1 = 0.0, graph.roads[first.road].length_m
        n = len(lanes) - 1
        span = abs(s1 - s0)
        # changes early in the street, spread so the last one ends well before the far end
        first_at = min(25.0, span / (n + 1)) if n else 0.0
        step = min(LANE_CHANGE_M + 5.0, (span - first_at - 20.0) / max(n, 1)) if n else 0.0
        changes = [first_at + i * max(step, 1.0) for i in range(n)]
        out.append((lanes, s0, s1, changes))
    return out
