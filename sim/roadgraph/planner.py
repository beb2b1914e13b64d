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
    """Legs, commands and the route line for a chain of lanes from the planner.

    The route line runs along the lane centres driven (lane changes blended in). Every route
    position (where a leg starts and ends, a manoeuvre's stretch) is the arc length along that line
    itself, not along the roads' reference lines: a connector's is its lane's left edge and a street's
    its centre line, and in a bend their lengths differ from the lane centre's by the offset times the
    angle turned (about 2.7 m in a right-angle turn), which would add up turn after turn."""
    sections = _sections(graph, chain, start_s, goal_s)
    points, road_s = [], []
    for lanes, s0, s1, changes in sections:
        road, direction = graph.roads[lanes[0].road], lanes[0].direction
        s = s0 + direction * np.arange(0.0, abs(s1 - s0), SAMPLE_STEP_M)
        x, y, _ = road.pose(s, _lane_offsets(road, lanes, changes, s, s0))
        points.append(np.stack([x, y], 1))
        road_s.append(s)
    last_lanes, s0, s1, _ = sections[-1]
    last_lane, last_road = last_lanes[-1], graph.roads[last_lanes[-1].road]
    goal = s0 + last_lane.direction * abs(s1 - s0)  # the last leg's s_to
    x, y, _ = last_road.pose(goal, last_road.lane_centre_d(last_lane.lane, last_lane.direction))
    points.append(np.array([[float(x), float(y)]]))
    line = np.concatenate(points)
    xy, heading, curvature = resample(line)
    w = graph.roads[chain[0].road].lane_width_m
    limits = [graph.roads[lane.road].speed_limit_m_s for lanes, *_ in sections for lane in lanes]
    path = Road(-1, xy, heading, curvature, 1, 0, w, 0.0, 0.0, float(min(limits)), "none")
    # the route s of every point of ``line``: its arc length, on the scale of the path's own s
    # (``resample`` spaces the path's samples arc / (n - 1) apart, the path counts SAMPLE_STEP_M each)
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(line, axis=0).T))])
    arc *= path.length_m / arc[-1]
    first = np.concatenate([[0], np.cumsum([len(s) for s in road_s])])
    legs, maneuvers, stations = [], [], []
    for k, ((lanes, s0, s1, changes), s) in enumerate(zip(sections, road_s)):
        direction = lanes[0].direction
        # this road's stretch: its samples, closed by the next stretch's first point (or the goal)
        along = np.append(direction * s, direction * s1)
        station = (along, arc[first[k]:first[k + 1] + 1])

        def route_at(m: float) -> float:
            """``m`` metres of road s into the stretch -> route s [m] (beyond its ends, metre for metre:
            a lane change's blend may begin before a short street does)."""
            inside = min(max(m, 0.0), abs(s1 - s0))
            return float(np.interp(direction * s0 + inside, *station)) + (m - inside)

        connector = graph.is_connector(lanes[0].road)
        bounds = [0.0] + list(changes) + [abs(s1 - s0)]
        for j, lane in enumerate(lanes):
            a, b = bounds[j], bounds[j + 1]
            junction = graph.connector_of(lane.road).junction if connector else -1
            legs.append(RouteLeg(lane, s0 + direction * a, s0 + direction * b, route_at(a), route_at(b), connector, junction))
            stations.append(station)
        if connector and not _lane_continues(graph, graph.connector_of(lanes[0].road)):
            c = graph.connector_of(lanes[0].road)
            maneuvers.append(Maneuver(c.movement, legs[-1].route_s0, legs[-1].route_s1, c.junction))
        for (k_from, k_to), at in zip(zip(lanes, lanes[1:]), changes):
            command = "change_lane_left" if k_to.lane < k_from.lane else "change_lane_right"
            maneuvers.append(Maneuver(command, route_at(at - LANE_CHANGE_M / 2), route_at(at + LANE_CHANGE_M / 2), -1))
    return Route(legs, maneuvers, path, np.array(limits), stations)


def _lane_offsets(road: Road, lanes: list[LaneRef], changes: list[float], s: np.ndarray, s0: float) -> np.ndarray:
    """The route's d on ``road`` at road s ``s`` [m]: the first lane's centre, blended to the next lane's
    centre at each lane change (a cosine blend over LANE_CHANGE_M, centred ``changes`` metres in)."""
    direction = lanes[0].direction
    d = np.full_like(s, float(road.lane_centre_d(lanes[0].lane, direction)))
    for (k_from, k_to), at in zip(zip(lanes, lanes[1:]), changes):
        t = np.clip((np.abs(s - s0) - (at - LANE_CHANGE_M / 2)) / LANE_CHANGE_M, 0.0, 1.0)
        d_from = float(road.lane_centre_d(k_from.lane, direction))
        d_to = float(road.lane_centre_d(k_to.lane, direction))
        d = d + (d_to - d_from) * 0.5 * (1 - np.cos(np.pi * t))
    return d


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
