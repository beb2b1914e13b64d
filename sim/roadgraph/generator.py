"""A seeded town: a jittered grid of junctions joined by streets, in the manner of MetaDrive's
procedural maps but built as one road graph (``graph.RoadGraph``).

The grid's rows and columns are streets. Some are arterials (2-3 lanes per direction, traffic
lights at every junction), the rest residential (one lane per direction, or one-way with one
or two lanes; stop signs where two residential streets meet). The outer ring is residential
and two-way, its corners become curved streets, a share of inner residential blocks is left
out (so some junctions are 3-way) and some streets bow sideways (curved streets). The result
is checked for strong connectivity over the lane graph: from any lane, every other lane can be
reached by legal movements.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.config import ConfigError

from ..road import Road
from .graph import (CROSSWALK_M, STOP_LINE_SETBACK_M, Arm, Connector, Junction, LaneRef, Movement, RoadGraph,
                    StreetInfo)
from .paths import convex_hull, cubic_beziers, filleted_polyline, offset, resample, resample_many, trim

SHOULDER_M = 2.2  # asphalt beyond the edge line, the parking strip of town streets [m]
SIDEWALK_M = 2.5  # [m]
CORNER_RADIUS_M = 30.0  # the outer ring's curved corners [m]
BOW_RADIUS_M = 90.0  # fillet radius of a bowed street's bends [m]
JUNCTION_MARGIN_M = 1.5  # streets start this far beyond where their paving would meet [m]
STRAIGHT_WITHIN_RAD = np.deg2rad(45.0)  # a movement turning less than this is "straight"
MIN_GRID, MAX_GRID = 3, 12  # a 2 x 2 grid is one ring of curves: no junction to navigate


@dataclass(frozen=True)
class TownSpec:
    """What the generator draws; ``sim.nav_scenario`` resolves it from a ``ScenarioConfig``."""

    grid: int  # junctions per side of the grid (the corners become curves)
    block_m: tuple[float, float] = (110.0, 170.0)  # spacing of grid lines [m]
    lane_width_m: float = 3.5  # [m]
    arterial_lanes: int = 2  # lanes per direction on arterials
    arterial_speed_m_s: float = 50 / 3.6
    residential_speed_m_s: float = 30 / 3.6
    arterial_share: float = 0.35  # chance that an inner grid line is an arterial
    one_way_share: float = 0.3  # chance that an inner residential grid line is one-way
    removed_share: float = 0.15  # chance that an inner residential block edge is left out
    bowed_share: float = 0.25  # chance that a residential street bows sideways

    def __post_init__(self) -> None:
        if not MIN_GRID <= self.grid <= MAX_GRID:
            raise ConfigError(f"town grid={self.grid} junctions per side is not allowed; use {MIN_GRID}..{MAX_GRID}")
        if not 1 <= self.arterial_lanes <= 3:
            raise ConfigError(f"arterial lanes per direction={self.arterial_lanes} cannot be drawn; use 1, 2 or 3")


@dataclass
class _Edge:
    a: tuple[int, int]  # grid node the street leaves (s = 0)
    b: tuple[int, int]  # grid node it reaches
    kind: str
    lanes: tuple[int, int]  # (toward b, toward a)
    one_way: bool


def generate_graph(spec: TownSpec, rng: np.random.Generator) -> RoadGraph:
    """The town for one seed's ``rng``; the same draws give the same town."""
    n = spec.grid
    lines = [_grid_lines(spec, rng, n) for _ in range(2)]  # x of columns, y of rows [m]
    pos = {(i, j): np.array([lines[0][i], lines[1][j]]) + rng.uniform(-6.0, 6.0, 2) for i in range(n) for j in range(n)}
    kinds = [_line_kinds(spec, rng, n) for _ in range(2)]  # per column (vertical streets), per row
    edges = _edges(spec, rng, n, kinds)
    for attempt in range(2):
        graph = _build(spec, rng, n, pos, edges)
        if _strongly_connected(graph):
            return graph
        for e in edges:  # one-way streets made the town a trap: make them two-way and rebuild
            if e.one_way:
                e.one_way, e.lanes = False, (1, 1)
    raise AssertionError("a two-way grid is always strongly connected")


def _grid_lines(spec: TownSpec, rng, n: int) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(rng.uniform(*spec.block_m, n - 1))])


def _line_kinds(spec: TownSpec, rng, n: int) -> list[tuple[str, int, bool, int]]:
    """(kind, lanes per direction, one-way, one-way sign) of each grid line; the border is residential."""
    out = []
    for k in range(n):
        inner = 0 < k < n - 1
        if inner and rng.random() < spec.arterial_share:
            out.append(("arterial", spec.arterial_lanes, False, 1))
        elif inner and rng.random() < spec.one_way_share:
            out.append(("residential", int(rng.integers(1, 3)), True, 1 if k % 2 else -1))
        else:
            out.append(("residential", 1, False, 1))
    inner = list(range(1, n - 1))
    if inner and not any(kind == "arterial" for kind, *_ in out):  # at least one arterial each way
        out[int(rng.choice(inner))] = ("arterial", spec.arterial_lanes, False, 1)
    return out


def _edges(spec: TownSpec, rng, n: int, kinds) -> list[_Edge]:
    cols, rows = kinds
    edges = []
    for j in range(n):
        for i in range(n - 1):
            edges.append(_edge((i, j), (i + 1, j), rows[j]))
    for i in range(n):
        for j in range(n - 1):
            edges.append(_edge((i, j), (i, j + 1), cols[i]))
    degree = {}
    for e in edges:
        for v in (e.a, e.b):
            degree[v] = degree.get(v, 0) + 1
    kept = []
    for k, e in enumerate(edges):
        border = _on_border(e.a, n) and _on_border(e.b, n)
        removable = e.kind == "residential" and not border and degree[e.a] > 3 and degree[e.b] > 3
        if removable and rng.random() < spec.removed_share:
            rest = kept + edges[k + 1:]
            if _connected(rest, n):
                degree[e.a] -= 1
                degree[e.b] -= 1
                continue
        kept.append(e)
    return kept


def _edge(a, b, line) -> _Edge:
    kind, lanes, one_way, sign = line
    if one_way and sign < 0:
        a, b = b, a
    return _Edge(a, b, kind, (lanes, 0 if one_way else lanes), one_way)


def _on_border(v, n: int) -> bool:
    return v[0] in (0, n - 1) or v[1] in (0, n - 1)


def _connected(edges: list[_Edge], n: int) -> bool:
    adj: dict = {}
    for e in edges:
        adj.setdefault(e.a, []).append(e.b)
        adj.setdefault(e.b, []).append(e.a)
    seen, todo = {(0, 0)}, [(0, 0)]
    while todo:
        for w in adj.get(todo.pop(), []):
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return len(seen) == n * n


def _chains(edges: list[_Edge], n: int) -> list[list[_Edge]]:
    """Edges joined through the grid's corners (degree-2 nodes) into streets."""
    corners = {(0, 0), (0, n - 1), (n - 1, 0), (n - 1, n - 1)}
    at: dict = {}
    for e in edges:
        at.setdefault(e.a, []).append(e)
        at.setdefault(e.b, []).append(e)
    used, out = set(), []
    for e in edges:
        if id(e) in used or e.a in corners or e.b in corners:
            continue
        used.add(id(e))
        out.append([e])
    for c in corners:  # each corner joins two border edges, both two-way residential
        e1, e2 = at[c]
        first = e1 if e1.b == c else _Edge(e1.b, e1.a, e1.kind, e1.lanes[::-1], e1.one_way)
        second = e2 if e2.a == c else _Edge(e2.b, e2.a, e2.kind, e2.lanes[::-1], e2.one_way)
        out.append([first, second])
    return out


def _build(spec: TownSpec, rng, n: int, pos, edges: list[_Edge]) -> RoadGraph:
    chains = _chains(edges, n)
    w = spec.lane_width_m
    # junction nodes and the raw polyline of every street
    nodes = sorted({v for ch in chains for v in (ch[0].a, ch[-1].b)})
    node_index = {v: k for k, v in enumerate(nodes)}
    raw = []
    for ch in chains:
        pts = [pos[ch[0].a]] + [pos[e.b] for e in ch]
        radius = CORNER_RADIUS_M
        if len(ch) == 1 and ch[0].kind == "residential" and rng.random() < spec.bowed_share:
            a, b = pts
            along = b - a
            side = np.array([-along[1], along[0]]) / np.linalg.norm(along)
            pts = [a, 0.5 * (a + b) + side * rng.uniform(5.0, 11.0) * rng.choice([-1, 1]), b]
            radius = BOW_RADIUS_M
        raw.append(filleted_polyline(np.array(pts), radius))
    half = [max(ch[0].lanes) * w + SHOULDER_M for ch in chains]  # half paved width, from the widest side [m]
    radius_of = _junction_radii(nodes, node_index, chains, raw, half)

    roads, streets = [], []
    for k, (ch, pts) in enumerate(zip(chains, raw)):
        a, b = node_index[ch[0].a], node_index[ch[-1].b]
        xy, heading, curvature = resample(trim(pts, radius_of[a], radius_of[b]))
        fwd, bwd = ch[0].lanes
        speed = spec.arterial_speed_m_s if ch[0].kind == "arterial" else spec.residential_speed_m_s
        roads.append(Road(k, xy, heading, curvature, fwd, bwd, w, SHOULDER_M, SIDEWALK_M, speed, "double_solid"))
        streets.append(StreetInfo(ch[0].kind, ch[0].one_way, (a, b)))

    junctions = []
    for j, v in enumerate(nodes):
        arms = []
        for k, info in enumerate(streets):
            if info.nodes[0] == j:
                arms.append(Arm(k, False, float(roads[k].heading[0])))
            if info.nodes[1] == j:
                arms.append(Arm(k, True, float(roads[k].heading[-1] + np.pi)))
        arms.sort(key=lambda arm: np.mod(arm.heading_out_rad, 2 * np.pi))
        junctions.append(Junction(j, (float(pos[v][0]), float(pos[v][1])), radius_of[j], arms,
                                  convex_hull(np.concatenate([_arm_corners(roads[a.street], a) for a in arms])), "signal"))
    graph = RoadGraph(roads, streets, junctions, [])
    for junction in junctions:
        _control(junction, streets, rng)
        _stop_lines(junction, roads)
    _connect(graph, junctions)
    return graph


def _junction_radii(nodes, node_index, chains, raw, half) -> list[float]:
    """How far from each junction's centre its streets start: far enough that neighbouring arms'
    paving does not overlap there, whatever the angle between them [m]."""
    arms: dict[int, list[tuple[float, float]]] = {k: [] for k in range(len(nodes))}
    for ch, pts, h in zip(chains, raw, half):
        for node, p, q in ((ch[0].a, pts[0], pts[min(20, len(pts) - 1)]), (ch[-1].b, pts[-1], pts[max(-21, -len(pts))])):
            arms[node_index[node]].append((float(np.arctan2(q[1] - p[1], q[0] - p[0])), h))
    out = []
    for k in range(len(nodes)):
        a = sorted(arms[k])
        r = 0.0
        for i in range(len(a)):
            (h1, w1), (h2, w2) = a[i], a[(i + 1) % len(a)]
            gap = np.mod(h2 - h1, 2 * np.pi) or 2 * np.pi
            r = max(r, max(w1, w2) / np.tan(min(gap, np.pi * 0.999) / 2))
        out.append(float(r + JUNCTION_MARGIN_M + CROSSWALK_M))
    return out


def _arm_corners(road: Road, arm: Arm) -> np.ndarray:
    s = road.length_m if arm.at_end else 0.0
    lo, hi = road.asphalt_d
    x, y, _ = road.pose(np.array([s, s]), np.array([lo, hi]))
    return np.stack([x, y], 1)


def movement_of(turn_rad: float) -> Movement:
    """Left, straight or right for a change of heading through a junction [rad], + left."""
    if turn_rad > STRAIGHT_WITHIN_RAD:
        return "left"
    if turn_rad < -STRAIGHT_WITHIN_RAD:
        return "right"
    return "straight"


def _turn(a_in: Arm, a_out: Arm) -> float:
    return float(np.angle(np.exp(1j * (a_out.heading_out_rad - (a_in.heading_out_rad + np.pi)))))


def _control(junction: Junction, streets: list[StreetInfo], rng) -> None:
    """Lights where an arterial meets anything; stop signs where residential streets meet."""
    arms = junction.arms
    if any(streets[a.street].kind == "arterial" for a in arms):
        junction.control, junction.protected_left = "signal", bool(rng.random() < 0.5)
        return
    through = [(i, k) for i in range(len(arms)) for k in range(i + 1, len(arms))
               if movement_of(_turn(arms[i], arms[k])) == "straight"]
    if len(arms) == 4 and rng.random() < 0.6 or not through:
        junction.control = "all_way_stop"
        return
    junction.control = "two_way_stop"
    junction.priority_arms = tuple(through[int(rng.integers(0, len(through)))])


def _stop_lines(junction: Junction, roads: list[Road]) -> None:
    for arm in junction.arms:
        road = roads[arm.street]
        lanes = road.lanes_toward(arm.in_direction)
        if lanes == 0:
            continue
        back = CROSSWALK_M + STOP_LINE_SETBACK_M
        junction.stop_s[(arm.street, arm.in_direction)] = road.length_m - back if arm.at_end else back


def _connect(graph: RoadGraph, junctions: list[Junction]) -> None:
    """A connector for every legal movement of every junction (``_movements``), numbered junction by
    junction; their roads built in one ``_connector_roads`` call (a connector depends only on the
    streets it joins, so this is what one call per junction gives)."""
    links = [(junction, link) for junction in junctions for link in _movements(graph, junction)]
    roads = _connector_roads(graph, [(src, dst) for _, (src, dst, _) in links])
    for road, (junction, (src, dst, movement)) in zip(roads, links):
        graph.roads.append(road)
        graph.connectors.append(Connector(road.road_id, junction.index, movement, src, dst))
        junction.connectors.append(len(graph.connectors) - 1)


def _movements(graph: RoadGraph, junction: Junction) -> list[tuple[LaneRef, LaneRef, str]]:
    """(src lane, dst lane, movement) of every legal movement: left from the leftmost lane into the
    leftmost lane, right from the rightmost into the rightmost, straight lane by lane; no U-turns."""
    links = []
    for a_in in junction.arms:
        src_road = graph.roads[a_in.street]
        n_in = src_road.lanes_toward(a_in.in_direction)
        for a_out in junction.arms:
            if a_out is a_in or n_in == 0:
                continue
            out_dir = 1 if not a_out.at_end else -1
            dst_road = graph.roads[a_out.street]
            n_out = dst_road.lanes_toward(out_dir)
            if n_out == 0:
                continue
            movement = movement_of(_turn(a_in, a_out))
            if movement == "left":
                pairs = [(0, 0)]
            elif movement == "right":
                pairs = [(n_in - 1, n_out - 1)]
            else:
                pairs = [(k, k) for k in range(min(n_in, n_out))]
            for k_in, k_out in pairs:
                links.append((LaneRef(a_in.street, a_in.in_direction, k_in), LaneRef(a_out.street, out_dir, k_out), movement))
    return links


def _connector_roads(graph: RoadGraph, links: list[tuple[LaneRef, LaneRef]]) -> list[Road]:
    """One-lane, one-way roads whose lane centres run from each ``src`` lane's end to its ``dst``
    lane's start (cubic Beziers, ``paths.cubic_beziers``), numbered from ``len(graph.roads)`` on;
    built together (``paths.resample_many``), bit for bit as one at a time."""
    if not links:
        return []
    ends = []
    for src, dst in links:
        a, b = graph.roads[src.road], graph.roads[dst.road]
        s0 = a.length_m if src.direction > 0 else 0.0
        s1 = 0.0 if dst.direction > 0 else b.length_m
        x0, y0, h0 = a.pose(s0, a.lane_centre_d(src.lane, src.direction))
        x1, y1, h1 = b.pose(s1, b.lane_centre_d(dst.lane, dst.direction))
        ends.append((float(x0), float(y0), float(h0) + (0.0 if src.direction > 0 else np.pi),
                     float(x1), float(y1), float(h1) + (0.0 if dst.direction > 0 else np.pi)))
    e = np.array(ends)
    paths = resample_many(list(cubic_beziers(e[:, 0:2], e[:, 2], e[:, 3:5], e[:, 5])))
    widths = [graph.roads[src.road].lane_width_m for src, _ in links]
    # the road's reference line runs half a lane left of the lane centre, so lane 0 (+1) is the path
    lines = resample_many([offset(xy, h, w / 2) for (xy, h, _), w in zip(paths, widths)])
    out = []
    for k, ((src, dst), (xy, heading, curvature), w) in enumerate(zip(links, lines, widths)):
        limit = min(graph.roads[src.road].speed_limit_m_s, graph.roads[dst.road].speed_limit_m_s)
        out.append(Road(len(graph.roads) + k, xy, heading, curvature, 1, 0, w, 0.0, 0.0, limit, "none"))
    return out


def _strongly_connected(graph: RoadGraph) -> bool:
    """Every street lane reaches every other and is reached from it (lane changes allowed)."""
    lanes = graph.all_street_lanes()
    succ: dict[LaneRef, list[LaneRef]] = {lane: [] for lane in lanes}
    for c in graph.connectors:
        succ[c.src].append(c.dst)
    for lane in lanes:
        for k in (lane.lane - 1, lane.lane + 1):
            if 0 <= k < graph.street_lanes(lane.road, lane.direction):
                succ[lane].append(LaneRef(lane.road, lane.direction, k))
    pred: dict[LaneRef, list[LaneRef]] = {lane: [] for lane in lanes}
    for u, vs in succ.items():
        for v in vs:
            pred[v].append(u)
    return all(len(_reach(lanes[0], adj)) == len(lanes) for adj in (succ, pred))


def _reach(start, adj) -> set:
    seen, todo = {start}, [start]
    while todo:
        for v in adj[todo.pop()]:
            if v not in seen:
                seen.add(v)
                todo.append(v)
    return seen
