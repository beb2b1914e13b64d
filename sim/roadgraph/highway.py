"""A seeded highway as a road graph: two carriageways with interchanges, entrances, exits and
lane drops, built as real ones are and as MetaDrive's ramp blocks and OpenDRIVE's lane sections
describe them.

Each carriageway is a chain of one-way ``Road`` sections, cut wherever its lane count changes
(OpenDRIVE's lane sections); between two sections is a short ``Junction`` (control "merge")
whose connectors run lane k to lane k, with the taper or the gore as its paved polygon. Two
one-way roads side by side rather than one two-way road: the two directions change lane counts
at different places, and a two-way road would have to be cut for both at every change.

At every interchange, in the direction of travel (as MetaDrive's ``OutRampOnStraight`` and
``InRampOnStraight`` blocks, one after the other):

    gain taper   a deceleration lane opens on the right (no connector into it: drivers change
                 lanes into it)
    decel        N + 1 lanes
    diverge      the gore: lanes 0..N-1 go on, the extra lane's only connector is the exit
                 ramp's (movement "right", as CARLA calls an exit)
    ramp         one lane that leaves at a shallow angle, swings out and comes back to run
                 parallel to the right edge for its last metres
    merge        the entrance's gore: the ramp becomes the extra rightmost lane ("straight")
    accel        N + 1 lanes: the acceleration lane
    drop taper   the extra lane ends (no connector onward), the paved edge narrowing

The map is flat (no bridges), so a ramp cannot cross the other carriageway: each interchange's
exit ramp comes back onto its own carriageway (a service road beside it), and both ends of the
highway are turning loops (a keyhole of ``loop_radius_m``) that carry every lane of one
carriageway into the other. Every lane reaches every other (checked).

Interchanges sit on straight stretches; the gentle bends (radius >= 250 m) lie between them.
Painted lines: each merge junction lists the lines to paint through it (``Junction.painted``):
the left edge and the dashed lines of the lanes that continue, the right edge (dashed beside a
taper, solid along a gore) and both edges of a ramp's connector.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from common.config import ConfigError

from ..road import LaneLine, Road
from .generator import _arm_corners, _connector_roads, _strongly_connected
from .graph import Arm, Connector, Junction, JunctionLine, LaneRef, Movement, RoadGraph, StreetInfo
from .paths import convex_hull, filleted_polyline, offset, resample, resample_many

MEDIAN_M = 8.0  # between the two carriageways' left edge lines [m]
SHOULDER_M = 2.5  # paved shoulder beyond each edge line of a carriageway [m]
RAMP_SHOULDER_M = 1.5  # [m]
GORE_M = 50.0  # length of the junction where a ramp leaves or joins the carriageway [m]
SEAM_M = 10.0  # the junction where a carriageway runs into its end loop [m]
RAMP_GAP_M = 300.0  # carriageway between an exit's gore and the entrance's gore [m]
RAMP_SIDE_GAP_M = 4.0  # the ramp's lane centre is this far right of the extra lane's at a gore [m]
RAMP_ANGLE_RAD = np.deg2rad(8.0)  # an exit ramp leaves the carriageway at this angle [rad]
RAMP_OFFSET_M = 30.0  # how far beyond the gore the ramp swings out from the carriageway [m]
RAMP_BEND_RADIUS_M = 150.0  # fillet radius of the ramp's bends (shrunk where a leg is short) [m]
END_STRETCH_M = (200.0, 300.0)  # carriageway before the first and after the last interchange [m]
BETWEEN_M = (200.0, 300.0)  # carriageway between interchanges, where the bends are [m]
BEND_DEG = (3.0, 10.0)  # heading change of a bend between interchanges [deg]
KMH = 1 / 3.6


@dataclass(frozen=True)
class HighwaySpec:
    """What the highway generator draws."""

    interchanges: int = 4  # along the highway, each an exit followed by an entrance per direction
    lanes: int = 3  # through lanes per direction
    lane_width_m: float = 3.75  # [m]
    speed_m_s: float = 110 * KMH  # carriageway speed limit [m/s]
    ramp_speed_m_s: float = 60 * KMH  # [m/s]
    loop_speed_m_s: float = 40 * KMH  # the turning loops at both ends [m/s]
    loop_radius_m: float = 70.0  # radius of the turning loops' arcs [m]
    bend_radius_m: tuple[float, float] = (400.0, 900.0)  # radius of the bends between interchanges [m]
    accel_lane_m: float = 220.0  # acceleration lane after an entrance's gore, before its taper [m]
    decel_lane_m: float = 150.0  # deceleration lane after its taper, before an exit's gore [m]
    taper_m: float = 70.0  # a lane gain's or drop's taper [m]

    def __post_init__(self) -> None:
        _check("interchanges", self.interchanges, 3, 5)
        _check("lanes", self.lanes, 2, 3, "lanes per direction")
        _check("lane_width_m", self.lane_width_m, 3.5, 3.75)
        _check("speed_m_s", self.speed_m_s * 3.6, 80.0, 120.0, "km/h")
        _check("ramp_speed_m_s", self.ramp_speed_m_s * 3.6, 40.0, 80.0, "km/h")
        _check("loop_speed_m_s", self.loop_speed_m_s * 3.6, 20.0, 60.0, "km/h")
        _check("loop_radius_m", self.loop_radius_m, 50.0, 80.0)
        lo, hi = self.bend_radius_m
        if not 250.0 <= lo <= hi <= 5000.0:
            raise ConfigError(f"highway bend_radius_m={self.bend_radius_m} is not allowed; "
                              "use 250 <= low <= high <= 5000")
        _check("accel_lane_m", self.accel_lane_m, 200.0, 300.0)
        _check("decel_lane_m", self.decel_lane_m, 100.0, 250.0)
        _check("taper_m", self.taper_m, 60.0, 80.0)

    @property
    def interchange_m(self) -> float:
        """Carriageway one interchange takes, gain taper to drop taper [m]."""
        return 2 * self.taper_m + self.decel_lane_m + 2 * GORE_M + RAMP_GAP_M + self.accel_lane_m


def _check(name: str, value: float, lo: float, hi: float, unit: str = "") -> None:
    if not lo - 1e-9 <= value <= hi + 1e-9:  # km/h made from m/s is not exact: 120 / 3.6 * 3.6 > 120
        shown = f"{value:g}" + (f" {unit}" if unit else "")
        raise ConfigError(f"highway {name}={shown} is not allowed; use {lo:g}..{hi:g}" + (f" {unit}" if unit else ""))


@dataclass
class _Street:
    """A street before it becomes a ``Road``: its reference line (the left edge line) densely."""

    xy: np.ndarray  # (K, 2) [m]
    lanes: int
    speed_m_s: float
    kind: str  # "highway" | "ramp"
    shoulder_m: float


@dataclass
class _Node:
    """A junction before it becomes a ``Junction``: streets ending and starting at it, and its links."""

    kind: str  # "seam" | "gain" | "drop" | "diverge" | "merge"
    ins: list[int]
    outs: list[int]
    links: list[tuple[LaneRef, LaneRef, Movement, bool]] = field(default_factory=list)  # (src, dst, movement, through)


def generate_highway(spec: HighwaySpec, rng: np.random.Generator) -> RoadGraph:
    """The highway for one seed's ``rng``; the same draws give the same highway."""
    centre, zones = _centre_line(spec, rng)
    xy, heading, _ = resample(centre)
    half = MEDIAN_M / 2
    east = offset(xy, heading, -half)  # carriageways' reference lines are their left edge lines
    west = offset(xy, heading, half)[::-1]
    pieces = [east, _end_loop(east, half, spec.loop_radius_m), west, _end_loop(west, half, spec.loop_radius_m)]
    ends = np.cumsum([_length(p) for p in pieces])  # ring station where each piece ends [m]
    ring = np.concatenate([pieces[0]] + [p[1:] for p in pieces[1:]])
    arc = _arc(ring)
    # each interchange starts where its zone starts on the centre line (east) or ends (west)
    east_arc, west_arc = _arc(east), _arc(west)
    starts = []
    for a, b in zones:
        starts.append(float(east_arc[_nearest(xy, a)]))
        starts.append(float(ends[1] + west_arc[len(xy) - 1 - _nearest(xy, b)]))
    cuts = [(float(u) - SEAM_M / 2, float(u) + SEAM_M / 2, "seam") for u in ends[:3]]
    t, g = spec.taper_m, GORE_M
    for u in starts:
        u_div = u + t + spec.decel_lane_m
        u_mrg = u_div + g + RAMP_GAP_M
        u_drop = u_mrg + g + spec.accel_lane_m
        cuts += [(u, u + t, "gain"), (u_div, u_div + g, "diverge"), (u_mrg, u_mrg + g, "merge"),
                 (u_drop, u_drop + t, "drop")]
    cuts.sort()
    streets, nodes = _carriageways(spec, ring, arc, cuts, ends)
    _ramps(spec, streets, nodes)
    return _build(spec, streets, nodes)


def _centre_line(spec: HighwaySpec, rng) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Dense points of the median's centre line [m], and each interchange's start and end on it.
    Interchanges lie on straight legs; each bend between two is a fillet that stays in the gap."""
    n, zone = spec.interchanges, spec.interchange_m
    end_m = rng.uniform(*END_STRETCH_M, 2)
    gaps = rng.uniform(*BETWEEN_M, n - 1)
    radius = float(rng.uniform(*spec.bend_radius_m))
    heading = float(rng.uniform(-0.3, 0.3))
    point = np.zeros(2)
    nodes, zones = [point], []
    for k in range(n):
        along = np.array([np.cos(heading), np.sin(heading)])
        before = end_m[0] if k == 0 else gaps[k - 1] / 2
        after = end_m[1] if k == n - 1 else gaps[k] / 2
        a = point + before * along
        zones.append((a, a + zone * along))
        point = a + (zone + after) * along
        nodes.append(point)
        if k < n - 1:  # the bend's tangents must stay 20 m clear of both interchanges
            most = min(np.deg2rad(BEND_DEG[1]), 2 * np.arctan((gaps[k] / 2 - 20.0) / radius))
            heading += float(rng.uniform(np.deg2rad(BEND_DEG[0]), most)) * float(rng.choice([-1.0, 1.0]))
    return filleted_polyline(np.array(nodes), radius), zones


def _end_loop(line: np.ndarray, half_m: float, radius_m: float) -> np.ndarray:
    """A keyhole turning loop from the end of one carriageway's reference line to the start of the
    other's, ``2 half_m`` to its left: right by alpha, left by pi + 2 alpha, right by alpha, with
    alpha such that the loop's middle lies on the median's centre line."""
    alpha = float(np.arccos((half_m + radius_m) / (2 * radius_m)))
    p = line[-1]
    h = float(np.arctan2(*(line[-1] - line[-2])[::-1]))
    out = [p[None]]
    for sign, angle in ((-1.0, alpha), (1.0, np.pi + 2 * alpha), (-1.0, alpha)):
        centre = p + sign * radius_m * np.array([-np.sin(h), np.cos(h)])
        phi = h + sign * np.linspace(0.0, angle, max(2, int(radius_m * angle / 0.1)))
        arc = centre + sign * radius_m * np.stack([np.sin(phi), -np.cos(phi)], 1)
        out.append(arc[1:])
        p, h = arc[-1], float(phi[-1])
    return np.concatenate(out)


def _carriageways(spec: HighwaySpec, ring: np.ndarray, arc: np.ndarray, cuts, ends):
    """Sections between the cuts along the ring (east carriageway, east loop, west carriageway,
    west loop), and a node for every cut plus the seam that closes the ring."""
    n = spec.lanes
    bounds = [SEAM_M / 2] + [u for c in cuts for u in c[:2]] + [float(ends[-1]) - SEAM_M / 2]
    streets = []
    for k in range(len(cuts) + 1):
        u0, u1 = bounds[2 * k], bounds[2 * k + 1]
        extra = k > 0 and cuts[k - 1][2] in ("gain", "merge")  # a deceleration or an acceleration lane
        in_loop = ends[0] < u0 < ends[1] or ends[2] < u0
        streets.append(_Street(_cut(ring, arc, u0, u1), n + extra, spec.loop_speed_m_s if in_loop else spec.speed_m_s,
                               "highway", SHOULDER_M))
    nodes = [_Node(kind, [k], [k + 1]) for k, (_, _, kind) in enumerate(cuts)] + [_Node("seam", [len(cuts)], [0])]
    for node in nodes:
        a, b = node.ins[0], node.outs[0]
        node.links = [(LaneRef(a, 1, k), LaneRef(b, 1, k), "straight", True) for k in range(n)]
    return streets, nodes


def _ramps(spec: HighwaySpec, streets: list[_Street], nodes: list[_Node]) -> None:
    """An exit ramp from every diverge gore that comes back as the entrance of the next merge gore."""
    n, w = spec.lanes, spec.lane_width_m
    lane_y = -(n + 0.5) * w  # the extra lane's centre, left of the reference line [m]
    y0 = lane_y - RAMP_SIDE_GAP_M  # the ramp's lane centre at both gores [m]
    for node in nodes:
        if node.kind != "diverge":
            continue
        between = node.outs[0]
        merge = next(m for m in nodes if m.kind == "merge" and m.ins[0] == between)
        line = streets[between].xy
        gap = _length(line)
        local = np.array([[0.0, y0], [60 * np.cos(RAMP_ANGLE_RAD), y0 - 60 * np.sin(RAMP_ANGLE_RAD)],
                          [gap / 2, lane_y - RAMP_OFFSET_M], [gap - 80.0, y0], [gap, y0]])
        lane = _to_world(filleted_polyline(local, RAMP_BEND_RADIUS_M), line[0], line[min(20, len(line) - 1)])
        xy, h, _ = resample(lane)
        streets.append(_Street(offset(xy, h, w / 2), 1, spec.ramp_speed_m_s, "ramp", RAMP_SHOULDER_M))
        ramp = len(streets) - 1
        node.outs.append(ramp)
        node.links.append((LaneRef(node.ins[0], 1, n), LaneRef(ramp, 1, 0), "right", False))
        merge.ins.append(ramp)
        merge.links.append((LaneRef(ramp, 1, 0), LaneRef(merge.outs[0], 1, n), "straight", False))


def _build(spec: HighwaySpec, streets: list[_Street], nodes: list[_Node]) -> RoadGraph:
    roads = []
    for k, (st, (xy, heading, curvature)) in enumerate(zip(streets, resample_many([st.xy for st in streets]))):
        roads.append(Road(k, xy, heading, curvature, st.lanes, 0, spec.lane_width_m, st.shoulder_m, 0.0,
                          st.speed_m_s, "double_solid"))
    info = []
    for k, st in enumerate(streets):
        start = next(j for j, node in enumerate(nodes) if k in node.outs)
        end = next(j for j, node in enumerate(nodes) if k in node.ins)
        info.append(StreetInfo(st.kind, True, (start, end)))
    graph = RoadGraph(roads, info, [], [])
    # every junction's connectors in one call (each depends only on the streets it joins), numbered in junction order
    connectors = iter(_connector_roads(graph, [(src, dst) for node in nodes for src, dst, _, _ in node.links]))
    for j, node in enumerate(nodes):
        graph.junctions.append(_junction(graph, j, node, spec.lane_width_m, [next(connectors) for _ in node.links]))
    if not _strongly_connected(graph):
        raise AssertionError("a highway ring with end loops is always strongly connected")
    return graph


def _junction(graph: RoadGraph, index: int, node: _Node, lane_width_m: float, connectors: list[Road]) -> Junction:
    """The junction of ``node``; ``connectors``: the roads of its links (``_connector_roads``)."""
    roads = graph.roads
    arms = [Arm(r, True, float(roads[r].heading[-1] + np.pi)) for r in node.ins]
    arms += [Arm(r, False, float(roads[r].heading[0])) for r in node.outs]
    arms.sort(key=lambda arm: np.mod(arm.heading_out_rad, 2 * np.pi))
    polygon = convex_hull(np.concatenate([_arm_corners(roads[a.street], a) for a in arms]))
    centre = polygon.mean(axis=0)
    ends = np.array([roads[a.street].xy[-1 if a.at_end else 0] for a in arms])
    radius = float(np.hypot(*(ends - centre).T).max())
    junction = Junction(index, (float(centre[0]), float(centre[1])), radius, arms, polygon, "merge")
    through, ramp = [], []
    for road, (src, dst, movement, is_through) in zip(connectors, node.links):
        graph.roads.append(road)
        graph.connectors.append(Connector(road.road_id, index, movement, src, dst))
        junction.connectors.append(len(graph.connectors) - 1)
        (through if is_through else ramp).append(road.road_id)
    junction.painted = _painted(node.kind, through, ramp, lane_width_m)
    return junction


def _painted(kind: str, through: list[int], ramp: list[int], w: float) -> tuple[JunctionLine, ...]:
    """Lines through a junction: each through connector's left line (the left edge, then the
    dashed lane lines), the rightmost one's right line (dashed beside a taper, where the extra
    lane is still paved; solid along a gore and at a seam) and a ramp connector's two edges."""
    lines = [JunctionLine(road, LaneLine(0.0, "solid" if k == 0 else "dashed", "white"))
             for k, road in enumerate(through)]
    lines.append(JunctionLine(through[-1], LaneLine(-w, "dashed" if kind in ("gain", "drop") else "solid", "white")))
    for road in ramp:
        lines += [JunctionLine(road, LaneLine(d, "solid", "white")) for d in (0.0, -w)]
    return tuple(lines)


def _to_world(local: np.ndarray, origin: np.ndarray, ahead: np.ndarray) -> np.ndarray:
    """Points given as (along, left) of the straight line from ``origin`` toward ``ahead`` [m]."""
    e = (ahead - origin) / np.linalg.norm(ahead - origin)
    n = np.array([-e[1], e[0]])
    return origin + local[:, :1] * e + local[:, 1:] * n


def _arc(points: np.ndarray) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(points, axis=0).T))])


def _length(points: np.ndarray) -> float:
    return float(_arc(points)[-1])


def _nearest(points: np.ndarray, p: np.ndarray) -> int:
    return int(np.argmin(np.hypot(*(points - p).T)))


def _cut(points: np.ndarray, arc: np.ndarray, u0: float, u1: float) -> np.ndarray:
    """The stretch of a dense polyline from arc length ``u0`` to ``u1`` [m]."""
    inside = (arc > u0) & (arc < u1)
    ends = [np.array([np.interp(u, arc, points[:, 0]), np.interp(u, arc, points[:, 1])]) for u in (u0, u1)]
    return np.concatenate([ends[0][None], points[inside], ends[1][None]])
