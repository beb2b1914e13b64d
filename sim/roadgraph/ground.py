"""The ground of a graph town for the camera: streets, junction boxes, sidewalk corners and paint,
with the layers, colours and labels of ``sim.meshes``, and lane-line label codes per street.

Streets are drawn with ``sim.meshes.plan_road_pieces`` like the straight towns' roads: asphalt,
sidewalks along the whole street, lane lines ending at the stop lines. Each junction adds its
convex paved polygon as ROAD (no paint inside: connectors are not painted), a SIDEWALK corner
between each pair of neighbouring arms (under the road layer, so asphalt always wins), a zebra
CROSSWALK band at every street end (``CROSSWALK_M`` deep, between the box and the stop line) and
a STOP_LINE across the approach lanes at ``junction.stop_s``. Triangles are keyed by
``layer * LAYER_STRIDE + cell`` of a ``sim.chunks.CellGrid`` (the cell of their centroid).

Lane-line codes. The straight towns label the main road's line at lateral slot k as
``LINE_BASE + k + 8``; a town has many streets, so a line's code here is
``GRAPH_LINE_BASE + group * LINE_SLOTS + slot``: ``slot = round(d / lane width) + 4`` (0..8,
four lanes a side at most: a highway section with its auxiliary lane) and ``group`` one of ``N_LINE_GROUPS`` colours of a street colouring
in which streets that share a junction never share a group and each street takes the group whose
nearest other member is farthest away. ``ego_line_codes`` gives the codes of a lane's own left
and right lines. A far street in the ego street's group has its lines at the same slots coded
alike, so ``sim.labels.dense_labels`` would call them the ego's lines; the colouring keeps such
streets ``min_group_separation_m`` apart (about 300 m in the generated towns: 305-330 m for
grids 7 and 12; tests/sim/test_nav_ground.py asserts > range + 100 m), beyond the camera's 140 m
range and the cells it gathers (range plus a cell's reach, about 170 m), so they are never drawn
in the same frame. Were one drawn, its matching lines would be labelled as the ego's. All codes are >= ``LINE_BASE``, so they count as paint
(drivable) wherever ``dense_labels`` looks.
"""

from __future__ import annotations

import math
import weakref

import numba
import numpy as np

from ..chunks import CellGrid
from ..meshes import (CROSSWALK, LAYER_PAINT, LAYER_ROAD, LAYER_SIDEWALK, LAYER_STRIDE, LINE_BASE, ROAD, SIDEWALK,
                      STOP_LINE, STRIP_ROW_COLS, GroundPiece, Mesh, Palette, crosswalk_rows, plan_road_pieces,
                      stop_line_rows, strip_rows_tris)
from ..road import PackedRoads, Road
from .paths import convex_hull
from .graph import CROSSWALK_M, STOP_LINE_SETBACK_M, Arm, Junction, LaneRef, RoadGraph

GRAPH_LINE_BASE = 32  # first graph lane-line code (above the main road's LINE_BASE + 0..16)
LINE_SLOTS = 9  # lateral slots per street: d / lane width in -4..4
N_LINE_GROUPS = 24  # street groups: codes 32 .. 247
NO_LINE_CODE = 255  # drawn nowhere: the "ego line" codes of a connector lane
SPACING_M = 10.0  # centreline points this far apart measure how far streets are from each other [m]
assert GRAPH_LINE_BASE >= LINE_BASE and GRAPH_LINE_BASE + N_LINE_GROUPS * LINE_SLOTS <= NO_LINE_CODE


def line_code(group: int, d_m: float, lane_width_m: float) -> int:
    """Label code of a line at lateral offset ``d_m`` on a street of ``group``."""
    return GRAPH_LINE_BASE + group * LINE_SLOTS + int(round(d_m / lane_width_m)) + LINE_SLOTS // 2


def ego_line_codes(graph: RoadGraph, lane: LaneRef) -> tuple[int, int]:
    """(left, right) line codes of a street lane, as the driver sees them. A connector through a
    town junction has no paint, so it gets ``NO_LINE_CODE`` twice (matching no pixel); one through
    a highway taper or gore carries its approach lane's lines on (``_merge_lines``), so it gets
    that lane's codes."""
    if graph.is_connector(lane.road):
        c = graph.connector_of(lane.road)
        if graph.junctions[c.junction].control == "merge":
            return ego_line_codes(graph, c.src)
        return NO_LINE_CODE, NO_LINE_CODE
    road = graph.roads[lane.road]
    group = int(street_line_groups(graph)[lane.road])
    w = road.lane_width_m
    # lane k of direction +1 lies between d = -k w (left) and -(k + 1) w (right); direction -1 mirrors it
    left_d = -lane.direction * lane.lane * w
    right_d = -lane.direction * (lane.lane + 1) * w
    return line_code(group, left_d, w), line_code(group, right_d, w)


_GROUPS: dict[int, np.ndarray] = {}  # id(graph) -> its street groups, dropped when the graph is


def street_line_groups(graph: RoadGraph) -> np.ndarray:
    """(n_streets,) int64 line group of every street (computed once per graph)."""
    groups = _GROUPS.get(id(graph))
    if groups is None:
        groups = _colour_streets(graph)
        _GROUPS[id(graph)] = groups
        weakref.finalize(graph, _GROUPS.pop, id(graph), None)
    return groups


def street_distances(graph: RoadGraph) -> np.ndarray:
    """(n, n) smallest distance between the centrelines of every two streets [m], from points
    ``SPACING_M`` apart (so within SPACING_M / 2 of the true distance)."""
    pts, owner = [], []
    for k, road in enumerate(graph.roads[:graph.n_streets]):
        s = np.linspace(0.0, road.length_m, max(2, int(np.ceil(road.length_m / SPACING_M)) + 1))
        x, y, _ = road.pose(s, np.zeros_like(s))
        pts.append(np.stack([x, y], 1))
        owner.append(np.full(len(s), k))
    p, owner = np.concatenate(pts), np.concatenate(owner)
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    return _street_distances(np.ascontiguousarray(p[:, 0]), np.ascontiguousarray(p[:, 1]),
                             np.append(starts, len(p)).astype(np.int64))


@numba.njit(cache=True)
def _street_distances(x, y, starts):
    """The smallest point-to-point distance between every two runs ``starts[k]:starts[k + 1]`` of points:
    the square root of the smallest sum of squares (the root is monotonic and correctly rounded, so this
    is the smallest of the roots), each pair of streets once (the distance is symmetric bit for bit)."""
    n = starts.shape[0] - 1
    out = np.zeros((n, n))
    for a in range(n):
        for b in range(a + 1, n):
            best = np.inf
            for i in range(starts[a], starts[a + 1]):
                for j in range(starts[b], starts[b + 1]):
                    dx = x[i] - x[j]
                    dy = y[i] - y[j]
                    d2 = dx * dx + dy * dy
                    if d2 < best:
                        best = d2
            out[a, b] = out[b, a] = math.sqrt(best)
    return out


def _colour_streets(graph: RoadGraph) -> np.ndarray:
    dist = street_distances(graph)
    n = graph.n_streets
    groups = np.full(n, -1, np.int64)
    for k in range(n):
        nearest = np.full(N_LINE_GROUPS, np.inf)  # distance from street k to each group's nearest member [m]
        done = np.flatnonzero(groups >= 0)
        np.minimum.at(nearest, groups[done], dist[k, done])
        for node in graph.streets[k].nodes:  # streets meeting at a junction never share a group
            for arm in graph.junctions[node].arms:
                if groups[arm.street] >= 0:
                    nearest[groups[arm.street]] = -1.0
        groups[k] = int(np.argmax(nearest))
    return groups


def min_group_separation_m(graph: RoadGraph) -> float:
    """Smallest distance between two streets of the same line group [m] (inf if none share)."""
    groups = street_line_groups(graph)
    dist = street_distances(graph)
    same = (groups[:, None] == groups[None]) & ~np.eye(len(groups), dtype=bool)
    return float(dist[same].min()) if same.any() else float("inf")


def street_line_ranges(road: Road, merge_ends: tuple[bool, bool] = (False, False)) -> list[tuple[float, float]]:
    """Where a street's lane lines run: between its stop lines, as the straight towns' lines end
    at theirs; to the very end where the street meets a highway taper or gore (``merge_ends`` at
    s = 0 and at s = length), whose lines carry them on [m]."""
    back = CROSSWALK_M + STOP_LINE_SETBACK_M
    a = 0.0 if merge_ends[0] else back
    b = road.length_m - (0.0 if merge_ends[1] else back)
    return [(a, b)] if b - a > 1e-3 else []


def _merge_ends(graph: RoadGraph, street: int) -> tuple[bool, bool]:
    return tuple(graph.junctions[j].control == "merge" for j in graph.streets[street].nodes)


class _Builder:
    """Collects ground triangles, and strip rows (``sim.meshes.strip_rows_tris``) on the graph's roads
    whose triangles are computed for the whole town in one pass; ``mesh`` joins both in the order they
    came, with their colours, labels and (layer, cell) keys."""

    def __init__(self, grid: CellGrid, packed: PackedRoads):
        self.grid, self.packed = grid, packed
        self.parts: list[np.ndarray | tuple[int, int]] = []  # triangles, or a (first, stop) range of strip rows
        self.attrs: list[tuple[tuple, int, int]] = []  # (colour, label, layer) of each entry of ``parts``
        self.rows: list[np.ndarray] = []
        self.row_roads: list[np.ndarray] = []
        self.n_rows = 0

    def add(self, tris: np.ndarray, colour, label: int, layer: int) -> None:
        if len(tris):
            self.parts.append(tris)
            self.attrs.append((tuple(colour), label, layer))

    def add_rows(self, road: int, rows: np.ndarray, colour, label: int, layer: int) -> None:
        """Strip rows on graph road ``road``; their triangles come in ``mesh``."""
        if len(rows):
            self.parts.append((self.n_rows, self.n_rows + len(rows)))
            self.attrs.append((tuple(colour), label, layer))
            self.rows.append(rows)
            self.row_roads.append(np.full(len(rows), road, np.int64))
            self.n_rows += len(rows)

    def add_pieces(self, road: int, pieces: list[GroundPiece], rows: np.ndarray, label_of) -> None:
        """``sim.meshes.plan_road_pieces``'s pieces of graph road ``road``, labelled by ``label_of(piece)``."""
        if not len(rows):
            return
        for piece in pieces:
            a, b = piece.tris
            if b > a:
                self.parts.append((self.n_rows + a, self.n_rows + b))
                self.attrs.append((tuple(piece.colour), label_of(piece), piece.layer))
        self.rows.append(rows)
        self.row_roads.append(np.full(len(rows), road, np.int64))
        self.n_rows += len(rows)

    def mesh(self) -> Mesh:
        if not self.parts:
            return Mesh.empty()
        rows = np.concatenate(self.rows) if self.rows else np.zeros((0, STRIP_ROW_COLS))
        roads = np.concatenate(self.row_roads) if self.row_roads else np.zeros(0, np.int64)
        strips, first = strip_rows_tris(self.packed, roads, rows)
        tris = [p if isinstance(p, np.ndarray) else strips[first[p[0]]:first[p[1]]] for p in self.parts]
        counts = [len(t) for t in tris]
        colour, label, layer = zip(*self.attrs)
        verts = np.concatenate(tris).astype(np.float32)
        key = np.repeat(np.array(layer, np.int64), counts) * LAYER_STRIDE + self.grid.triangle_cells(verts)
        return Mesh(verts, np.repeat(np.array(colour, np.uint8), counts, axis=0), np.zeros(len(verts), np.int32),
                    np.repeat(np.array(label, np.uint8), counts), key).sorted()


def _fan(polygon: np.ndarray) -> np.ndarray:
    """Triangles (P - 2, 3, 3) at z = 0 of a convex polygon (P, 2)."""
    p = np.concatenate([polygon, np.zeros((len(polygon), 1))], 1)
    k = np.arange(1, len(p) - 1)
    return np.stack([np.broadcast_to(p[0], (len(k), 3)), p[k], p[k + 1]], 1).astype(np.float32)


def _arm_side(road: Road, arm: Arm, left: bool) -> tuple[np.ndarray, np.ndarray]:
    """The paving's corner and the sidewalk's outer corner at an arm's street end, on the arm's
    left (looking out of the junction) or right side [m]."""
    s = road.length_m if arm.at_end else 0.0
    lo, hi = road.asphalt_d
    plus_d = left != arm.at_end  # heading out along +s, the left side is +d
    edge, walk = (hi, hi + road.sidewalk_m) if plus_d else (lo, lo - road.sidewalk_m)
    x, y, _ = road.pose(np.array([s, s]), np.array([edge, walk]))
    return np.array([x[0], y[0]]), np.array([x[1], y[1]])


def _merge_lines(b: _Builder, graph: RoadGraph, j: Junction, palette: Palette, groups: np.ndarray) -> None:
    """A highway taper or gore: the lines ``Junction.painted`` lists, along their connectors, with
    the codes of the approach street's lines they continue (so the ego's lines stay its own)."""
    for jl in j.painted:
        road = graph.roads[jl.road]
        src = graph.connector_of(jl.road).src
        # the line in the approach street's frame: its lane's left edge is at d = -lane w (direction +1)
        d_src = src.direction * (-src.lane * road.lane_width_m + jl.line.d_m)
        code = line_code(int(groups[src.road]), d_src, road.lane_width_m)
        pieces, rows = plan_road_pieces(road, palette, [], [(0.0, road.length_m)], lines=[jl.line])
        b.add_pieces(jl.road, pieces, rows, lambda piece: code)


def _junction(b: _Builder, graph: RoadGraph, j: Junction, palette: Palette, groups: np.ndarray) -> None:
    b.add(_fan(j.polygon), palette.asphalt, ROAD, LAYER_ROAD)
    if j.control == "merge":  # a highway taper or gore: lines carried through, no crossings to paint
        _merge_lines(b, graph, j, palette, groups)
        return
    for k, a in enumerate(j.arms):  # arms run counter-clockwise: a's left side faces the next arm's right
        nxt = j.arms[(k + 1) % len(j.arms)]
        ra, rb = graph.roads[a.street], graph.roads[nxt.street]
        if ra.sidewalk_m <= 0 or rb.sidewalk_m <= 0:
            continue
        corner = convex_hull(np.stack([*_arm_side(ra, a, True), *_arm_side(rb, nxt, False)]))
        b.add(_fan(corner), palette.sidewalk, SIDEWALK, LAYER_SIDEWALK)
    for arm in j.arms:
        road = graph.roads[arm.street]
        s0 = road.length_m - CROSSWALK_M if arm.at_end else 0.0
        b.add_rows(arm.street, crosswalk_rows(road, s0, s0 + CROSSWALK_M), palette.white, CROSSWALK, LAYER_PAINT)
        stop = j.stop_s.get((arm.street, arm.in_direction))
        if stop is not None:
            b.add_rows(arm.street, stop_line_rows(road, stop, arm.in_direction), palette.white, STOP_LINE, LAYER_PAINT)


def build_graph_ground(graph: RoadGraph, palette: Palette, grid: CellGrid) -> Mesh:
    """Every flat decal of the town, sorted by (layer, cell) for ``sim.chunks.CellChunks``."""
    b = _Builder(grid, graph.packed)
    groups = street_line_groups(graph)
    for k, road in enumerate(graph.roads[:graph.n_streets]):
        w = road.lane_width_m
        walk = [(0.0, road.length_m)] if road.sidewalk_m > 0 else []
        pieces, rows = plan_road_pieces(road, palette, walk, street_line_ranges(road, _merge_ends(graph, k)))
        b.add_pieces(k, pieces, rows, lambda piece: (piece.label if piece.line is None
                                                     else line_code(int(groups[k]), piece.line.d_m, w)))
    for j in graph.junctions:
        _junction(b, graph, j, palette, groups)
    return b.mesh()
