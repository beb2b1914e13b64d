"""Triangle meshes of the world for the camera: ground decals, static props, moving objects.

The ground (sidewalks, asphalt, painted lines, crosswalks, stop lines) is flat, built once per
episode and drawn in layer order without a depth test. Props (buildings, trees, poles) are
static boxes built once. Vehicles, pedestrians and light heads are boxes rebuilt every frame
from their poses with one vectorised transform. Static meshes are bucketed by main-road chunks
so a frame picks the triangles near the ego by slicing, not by testing each one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, NamedTuple

import numpy as np

from common.vocab import CYCLIST_CLASS, TRAFFIC_CONE_CLASS

from .kernels import boxes_triangles
from .lights import HOUSING_BOTTOM_M, HOUSING_SIZE_M
from .road import DASH_OFF_M, DASH_ON_M, LINE_WIDTH_M, SAMPLE_STEP_M, LaneLine, PackedRoads, Road
from .scenarios import Scenario

CHUNK_M = 20.0  # static mesh bucket length along the main road [m]

# Ground labels written into the label buffer (uint8).
SKY, OFFROAD, SIDEWALK, ROAD, CROSSWALK, STOP_LINE, OTHER_LINE = 0, 1, 2, 3, 4, 5, 6
LINE_BASE = 16  # main-road lane line at lateral slot k (k = round(d / lane width) + 8) -> 16 + k
LAYER_SIDEWALK, LAYER_ROAD, LAYER_LINES, LAYER_PAINT = 0, 1, 2, 3
LAYER_STRIDE = 1_000_000  # ground sort key = layer * LAYER_STRIDE + chunk

SUN = np.array([0.35, 0.25, 0.9]) / np.linalg.norm([0.35, 0.25, 0.9])


@dataclass
class Palette:
    """Scene colours (RGB uint8); jittered per scene when visual randomisation is on."""

    asphalt: tuple = (72, 72, 78)
    sidewalk: tuple = (150, 148, 140)
    white: tuple = (228, 228, 228)
    yellow: tuple = (226, 186, 48)
    glass: tuple = (38, 48, 62)
    black: tuple = (22, 22, 24)
    cargo: tuple = (205, 205, 200)
    housing: tuple = (30, 30, 32)
    pole: tuple = (80, 82, 88)


@dataclass
class Mesh:
    """Triangles with per-triangle attributes; world frame, z up, metres."""

    verts: np.ndarray  # (T, 3, 3) float32
    colour: np.ndarray  # (T, 3) uint8
    inst: np.ndarray  # (T,) int32
    label: np.ndarray  # (T,) uint8
    key: np.ndarray  # (T,) int64 sort key: layer * 1e6 + chunk (ground) or chunk (props)

    @staticmethod
    def empty() -> "Mesh":
        return Mesh(np.zeros((0, 3, 3), np.float32), np.zeros((0, 3), np.uint8), np.zeros(0, np.int32),
                    np.zeros(0, np.uint8), np.zeros(0, np.int64))

    @staticmethod
    def concat(parts: list["Mesh"]) -> "Mesh":
        parts = [p for p in parts if len(p.inst)] or [Mesh.empty()]
        return Mesh(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("verts", "colour", "inst", "label", "key")))

    def sorted(self) -> "Mesh":
        order = np.argsort(self.key, kind="stable")
        return Mesh(self.verts[order], self.colour[order], self.inst[order], self.label[order], self.key[order])


# --- ground ----------------------------------------------------------------------------------
CHORD_TOLERANCE_M = 0.01  # how far a strip's straight edge may stray from the true curve [m]
MIN_STEP_M, MAX_STEP_M = 1.0, 10.0  # strip quad lengths [m]


def _curve_step(road: Road, s0: float, s1: float) -> float:
    """Quad length that keeps the chord within CHORD_TOLERANCE_M of the arc: sagitta = L^2 kappa / 8.

    Long quads on straight road matter: the rasteriser's cost is per triangle, and most ground
    triangles far ahead cover less than a pixel."""
    i0, i1 = int(s0 / SAMPLE_STEP_M), int(np.ceil(s1 / SAMPLE_STEP_M)) + 1
    kappa = float(np.max(np.abs(road.curvature[max(i0, 0):min(i1, road.n)]), initial=0.0))
    if kappa < 1e-9:
        return MAX_STEP_M
    return float(np.clip(np.sqrt(8 * CHORD_TOLERANCE_M / kappa), MIN_STEP_M, MAX_STEP_M))


def _strip(road: Road, s0: float, s1: float, d0: float, d1: float, step_m: float | None = None) -> np.ndarray:
    """Quads covering s in [s0, s1], d in [d0, d1] of ``road``, as (2K, 3, 3) triangles at z = 0;
    ``step_m`` None picks the quad length from the road's curvature."""
    if s1 - s0 < 1e-3:
        return np.zeros((0, 3, 3), np.float32)
    if step_m is None:
        step_m = _curve_step(road, s0, s1)
    n = max(1, int(np.ceil((s1 - s0) / step_m - 1e-6)))  # tolerance: a 3 m dash at step 3 m is one quad
    s = np.linspace(s0, s1, n + 1)
    xa, ya, _ = road.pose(s, d0)
    xb, yb, _ = road.pose(s, d1)
    a = np.stack([xa, ya, np.zeros_like(xa)], 1)
    b = np.stack([xb, yb, np.zeros_like(xb)], 1)
    t1 = np.stack([a[:-1], a[1:], b[1:]], 1)
    t2 = np.stack([a[:-1], b[1:], b[:-1]], 1)
    return np.concatenate([t1, t2]).astype(np.float32)


def _quads(road: Road, s0: np.ndarray, s1: np.ndarray, d0, d1) -> np.ndarray:
    """One quad per element: s in [s0, s1], d in [d0, d1] (arrays or scalars), as (2K, 3, 3) triangles,
    each quad's two in a row (a dash or a zebra bar is one quad). ``_strip`` and ``_quads`` are the
    one-call-at-a-time definitions that ``strip_rows_tris`` equals bit for bit (the tests compare them)."""
    s0, s1 = np.asarray(s0, np.float64), np.asarray(s1, np.float64)
    if len(s0) == 0:
        return np.zeros((0, 3, 3), np.float32)
    d0, d1 = np.broadcast_to(np.asarray(d0, np.float64), s0.shape), np.broadcast_to(np.asarray(d1, np.float64), s0.shape)
    s = np.stack([s0, s1], 1)
    xa, ya, _ = road.pose(s, np.stack([d0, d0], 1))
    xb, yb, _ = road.pose(s, np.stack([d1, d1], 1))
    a = np.stack([xa, ya, np.zeros_like(xa)], 2)  # (K, 2, 3)
    b = np.stack([xb, yb, np.zeros_like(xb)], 2)
    t1 = np.stack([a[:, 0], a[:, 1], b[:, 1]], 1)
    t2 = np.stack([a[:, 0], b[:, 1], b[:, 0]], 1)
    return np.stack([t1, t2], 1).reshape(-1, 3, 3).astype(np.float32)


def _ranges_without(s0: float, s1: float, gaps: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """[s0, s1] minus the gaps, as a list of intervals."""
    out = [(s0, s1)]
    for lo, hi in gaps:
        nxt = []
        for a, b in out:
            if hi <= a or lo >= b:
                nxt.append((a, b))
                continue
            if lo > a:
                nxt.append((a, lo))
            if hi < b:
                nxt.append((hi, b))
        out = nxt
    return out


class GroundPiece(NamedTuple):
    """Triangles of one part of a road's surface or paint, before they get a label and a bucket."""

    tris: np.ndarray  # (T, 3, 3) float32
    colour: tuple
    layer: int
    label: int | None  # ROAD / SIDEWALK; None for a painted line (the caller labels ``line``)
    line: LaneLine | None
    centre_s: np.ndarray | float  # s of the piece's middle (per triangle for dashes) [m]


#: A strip row: s0, s1, d0, d1 [m], the quad length [m] (nan: ``_curve_step``'s), one quad (1.0: a single
#: quad whatever its length, as ``_quads`` draws a dash or a zebra bar; 0.0: a strip).
STRIP_ROW_COLS = 6
CURVE_STEP = np.nan


def strip_row(s0: float, s1: float, d0: float, d1: float, step_m: float = CURVE_STEP, quad: bool = False) -> tuple:
    return (s0, s1, d0, d1, step_m, 1.0 if quad else 0.0)


def quad_rows(s0: np.ndarray, s1: np.ndarray, d0, d1) -> np.ndarray:
    """Rows of one quad each (``_quads``'s arguments), (K, STRIP_ROW_COLS)."""
    s0 = np.asarray(s0, np.float64)
    rows = np.empty((len(s0), STRIP_ROW_COLS))
    rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3] = s0, s1, d0, d1
    rows[:, 4], rows[:, 5] = CURVE_STEP, 1.0
    return rows


def strip_rows_tris(packed: PackedRoads, road: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The triangles of every strip row (K, STRIP_ROW_COLS) on road ``road[k]`` of ``packed``, in one pass:
    (T, 3, 3) float32, row k's at ``[first[k]:first[k + 1]]`` (a strip's t1s then its t2s, as ``_strip``;
    a quad's two in a row, as ``_quads``), and ``first`` (K + 1,). The same quad lengths, the same
    ``np.linspace`` points (i * step + s0, the last one s1), the same poses (``PackedRoads.pose`` is
    ``Road.pose``'s arithmetic), so the same triangles bit for bit as ``_strip`` / ``_quads`` one call at
    a time; rows on many roads share one call."""
    rows = np.asarray(rows, np.float64).reshape(-1, STRIP_ROW_COLS)
    road = np.asarray(road, np.int64)
    if len(rows) == 0:
        return np.zeros((0, 3, 3), np.float32), np.zeros(1, np.int64)
    s0, s1, d0, d1, fixed_step, quad = rows.T
    # _curve_step's largest |curvature| over samples [i0, i1), by one reduceat (a trailing 0 keeps every index valid)
    n_samples = packed.n[road]
    i0 = np.maximum((s0 / SAMPLE_STEP_M).astype(np.int64), 0)
    i1 = np.minimum(np.ceil(s1 / SAMPLE_STEP_M).astype(np.int64) + 1, n_samples)
    i0 = np.minimum(i0, n_samples)
    curv = np.append(np.abs(packed.curvature), 0.0)
    at = packed.offset[road]
    kappa = np.where(i0 < i1, np.maximum.reduceat(curv, np.stack([at + i0, at + np.maximum(i1, i0)], 1).ravel())[::2], 0.0)
    with np.errstate(divide="ignore"):
        step = np.where(kappa < 1e-9, MAX_STEP_M, np.clip(np.sqrt(8 * CHORD_TOLERANCE_M / kappa), MIN_STEP_M, MAX_STEP_M))
    step = np.where(np.isnan(fixed_step), step, fixed_step)
    with np.errstate(divide="ignore", invalid="ignore"):  # a quad row's own step is never used
        n = np.maximum(1, np.ceil((s1 - s0) / step - 1e-6).astype(np.int64))
    n = np.where(s1 - s0 < 1e-3, 0, n)  # an empty strip
    n = np.where(quad > 0, 1, n)  # a quad, whatever its length
    pts = np.where(n > 0, n + 1, 0)
    first = np.concatenate([[0], np.cumsum(pts)])
    k = np.repeat(np.arange(len(rows)), pts)
    i = np.arange(first[-1]) - first[k]
    s = i.astype(np.float64) * ((s1 - s0) / np.maximum(n, 1))[k] + s0[k]  # np.linspace's arithmetic
    s = np.where(i == pts[k] - 1, s1[k], s)
    xa, ya, _ = packed.pose(road[k], s, d0[k])
    xb, yb, _ = packed.pose(road[k], s, d1[k])
    a = np.stack([xa, ya, np.zeros_like(xa)], 1)
    b = np.stack([xb, yb, np.zeros_like(xb)], 1)
    # quad q of row r starts at point g = first[r] + its index
    quads = np.concatenate([[0], np.cumsum(n)])
    g = np.arange(quads[-1]) + np.repeat(first[:-1] - quads[:-1], n)
    t1 = np.stack([a[g], a[g + 1], b[g + 1]], 1)
    t2 = np.stack([a[g], b[g + 1], b[g]], 1)
    # row r's triangles: its t1s, then its t2s
    r = np.repeat(np.arange(len(rows)), 2 * n)
    p = np.arange(2 * quads[-1]) - 2 * quads[:-1][r]
    src = np.where(p < n[r], quads[:-1][r] + p, quads[-1] + quads[:-1][r] + p - n[r])
    return np.concatenate([t1, t2]).astype(np.float32)[src], 2 * quads


def road_rows_tris(road: Road, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``strip_rows_tris`` of rows on one road."""
    return strip_rows_tris(PackedRoads.build([road]), np.zeros(len(rows), np.int64), rows)


def _strips(road: Road, spans: np.ndarray) -> list[np.ndarray]:
    """``_strip(road, s0, s1, d0, d1)`` of every row of ``spans`` (K, 4), in one pass."""
    spans = np.asarray(spans, np.float64).reshape(-1, 4)
    rows = np.concatenate([spans, np.full((len(spans), 1), CURVE_STEP), np.zeros((len(spans), 1))], 1)
    tris, first = road_rows_tris(road, rows)
    return [tris[first[k]:first[k + 1]] for k in range(len(spans))]


def plan_road_pieces(road: Road, palette: Palette, walk_ranges: list[tuple[float, float]],
                     line_ranges: list[tuple[float, float]],
                     lines: list[LaneLine] | None = None) -> tuple[list[GroundPiece], np.ndarray]:
    """``road_pieces``'s pieces before their triangles: each piece's ``tris`` is the range (first, stop)
    of its rows in the strip rows returned with them ((K, STRIP_ROW_COLS), for ``strip_rows_tris``)."""
    lo, hi = road.asphalt_d
    rows: list[tuple] = []
    pieces: list[GroundPiece] = []

    def add(piece_rows: list[tuple], colour, layer, label, line, centre_s) -> None:
        pieces.append(GroundPiece((len(rows), len(rows) + len(piece_rows)), colour, layer, label, line, centre_s))
        rows.extend(piece_rows)

    def strip(s0, s1, d0, d1, colour, layer, label, line, centre_s) -> None:
        add([strip_row(s0, s1, d0, d1)], colour, layer, label, line, centre_s)

    if lines is None:
        for seg0, seg1 in _segments(0.0, road.length_m, CHUNK_M):
            strip(seg0, seg1, lo, hi, palette.asphalt, LAYER_ROAD, ROAD, None, 0.5 * (seg0 + seg1))
    for a, b in walk_ranges:
        for seg0, seg1 in _segments(a, b, CHUNK_M):
            cs = 0.5 * (seg0 + seg1)
            strip(seg0, seg1, lo - road.sidewalk_m, lo, palette.sidewalk, LAYER_SIDEWALK, SIDEWALK, None, cs)
            strip(seg0, seg1, hi, hi + road.sidewalk_m, palette.sidewalk, LAYER_SIDEWALK, SIDEWALK, None, cs)
    for line in road.lane_lines() if lines is None else lines:
        colour = palette.yellow if line.colour == "yellow" else palette.white
        offsets = (-0.12, 0.12) if line.style == "double_solid" else (0.0,)
        half = (0.06 if line.style == "double_solid" else LINE_WIDTH_M / 2)
        for a, b in line_ranges:
            if line.style == "dashed":
                starts = np.arange(a, b - DASH_ON_M, DASH_ON_M + DASH_OFF_M)
                if len(starts) == 0:
                    continue
                d0, d1 = line.d_m - half, line.d_m + half  # one quad (2 triangles) per dash
                add([strip_row(a0, a0 + DASH_ON_M, d0, d1, quad=True) for a0 in starts.tolist()], colour, LAYER_LINES,
                    None, line, np.repeat(starts + DASH_ON_M / 2, 2))
            else:
                for off in offsets:
                    for seg0, seg1 in _segments(a, b, CHUNK_M):
                        strip(seg0, seg1, line.d_m + off - half, line.d_m + off + half, colour, LAYER_LINES, None, line,
                              0.5 * (seg0 + seg1))
    return pieces, np.array(rows, np.float64).reshape(-1, STRIP_ROW_COLS)


def road_pieces(road: Road, palette: Palette, walk_ranges: list[tuple[float, float]],
                line_ranges: list[tuple[float, float]], lines: list[LaneLine] | None = None) -> Iterator[GroundPiece]:
    """Asphalt over the whole road, sidewalks on both sides over ``walk_ranges`` and every lane line
    over ``line_ranges`` (s intervals [m]), in drawing order, cut into CHUNK_M segments. With
    ``lines`` given, only those lines and nothing else (paint through a highway junction). The
    strips and dashes are computed together (``strip_rows_tris``)."""
    pieces, rows = plan_road_pieces(road, palette, walk_ranges, line_ranges, lines)
    tris, first = road_rows_tris(road, rows)
    for piece in pieces:
        a, b = piece.tris
        yield piece._replace(tris=tris[first[a]:first[b]])


STOP_LINE_DEPTH_M = 0.45  # [m]


def stop_line_rows(road: Road, stop_s: float, direction: int) -> np.ndarray:
    """A stop line across the lanes that run in ``direction``, ending at ``stop_s`` [m]: one strip row
    with 1 m quads."""
    s0, s1 = (stop_s - STOP_LINE_DEPTH_M, stop_s) if direction > 0 else (stop_s, stop_s + STOP_LINE_DEPTH_M)
    d0, d1 = (road.right_edge_d, -0.05) if direction > 0 else (0.05, road.left_edge_d)
    return np.array([strip_row(s0, s1, d0, d1, 1.0)])


def stop_line_tris(road: Road, stop_s: float, direction: int) -> np.ndarray:
    return road_rows_tris(road, stop_line_rows(road, stop_s, direction))[0]


def crosswalk_rows(road: Road, s0: float, s1: float) -> np.ndarray:
    """Zebra bars over s in [s0, s1] across the whole paved width: they run along the road, 0.5 m
    wide every 1.1 m across it (one quad row each)."""
    lo, hi = road.asphalt_d
    bars = np.arange(lo + 0.3, hi - 0.5, 1.1)
    return quad_rows(np.full(len(bars), s0), np.full(len(bars), s1), bars, bars + 0.5)


def crosswalk_tris(road: Road, s0: float, s1: float) -> np.ndarray:
    return road_rows_tris(road, crosswalk_rows(road, s0, s1))[0]


class _GroundBuilder:
    def __init__(self, scenario: Scenario, palette: Palette):
        self.sc = scenario
        self.pal = palette
        self.parts: list[Mesh] = []
        self.main = scenario.network.main

    def add(self, tris: np.ndarray, colour, label: int, layer: int, chunk_s: np.ndarray | float) -> None:
        """Queue ground triangles; ``chunk_s`` (per triangle or one value) is the main-road s that buckets them."""
        if len(tris) == 0:
            return
        chunk = np.floor(np.broadcast_to(np.asarray(chunk_s, np.float64), (len(tris),)) / CHUNK_M).astype(np.int64)
        self.parts.append(Mesh(tris, np.tile(np.asarray(colour, np.uint8), (len(tris), 1)),
                               np.zeros(len(tris), np.int32), np.full(len(tris), label, np.uint8),
                               layer * LAYER_STRIDE + chunk))

    def road(self, road: Road, chunk_s: float | None) -> None:
        """Asphalt, sidewalks and lane lines of one road; ``chunk_s`` pins a side road to its intersection."""
        main = road.road_id == 0
        walk = _ranges_without(0.0, road.length_m, self._sidewalk_gaps(road)) if road.sidewalk_m > 0 else []
        w = road.lane_width_m
        # main-road pieces are bucketed by their own s; a side road's by its intersection's
        for piece in road_pieces(road, self.pal, walk, _ranges_without(0.0, road.length_m, road.gaps)):
            label = piece.label
            if piece.line is not None:
                label = (LINE_BASE + int(round(piece.line.d_m / w)) + 8) if main else OTHER_LINE
            self.add(piece.tris, piece.colour, label, piece.layer, piece.centre_s if main else chunk_s)

    def _sidewalk_gaps(self, road: Road) -> list[tuple[float, float]]:
        net = self.sc.network
        gaps = []
        for inter in net.intersections:
            if road.road_id == 0:
                gaps.append((inter.main_s - inter.half_main_m, inter.main_s + inter.half_main_m))
            elif road.road_id == inter.side_road:
                reach = inter.half_side_m + self.main.sidewalk_m
                gaps.append((inter.side_s - reach, inter.side_s + reach))
        return gaps

    def paint(self) -> None:
        """Stop lines and zebra crosswalks on every approach of every intersection."""
        net = self.sc.network
        pal = self.pal
        for inter in net.intersections:
            side = net.roads[inter.side_road]
            for road, centre, half_along in ((self.main, inter.main_s, inter.half_main_m), (side, inter.side_s, inter.half_side_m)):
                for direction in (1, -1):
                    stop = inter.stop_s[(road.road_id, direction)]
                    self.add(stop_line_tris(road, stop, direction), pal.white, STOP_LINE, LAYER_PAINT, inter.main_s)
                    near = centre - direction * half_along
                    far = near - direction * inter.crosswalk_m
                    self.add(crosswalk_tris(road, min(near, far), max(near, far)), pal.white, CROSSWALK, LAYER_PAINT,
                             inter.main_s)


def _segments(a: float, b: float, length: float) -> list[tuple[float, float]]:
    edges = list(np.arange(a, b, length)) + [b]
    return [(edges[i], edges[i + 1]) for i in range(len(edges) - 1) if edges[i + 1] - edges[i] > 1e-3]


def build_ground(scenario: Scenario, palette: Palette) -> Mesh:
    """All flat decals, sorted by (layer, chunk) so a frame slices each layer's visible chunks."""
    gb = _GroundBuilder(scenario, palette)
    net = scenario.network
    gb.road(net.main, None)
    for inter in net.intersections:
        gb.road(net.roads[inter.side_road], inter.main_s)
    gb.paint()
    return Mesh.concat(gb.parts).sorted()


# --- boxes -----------------------------------------------------------------------------------
def _unit_box() -> tuple[np.ndarray, np.ndarray]:
    """12 outward-wound triangles of the box [-.5,.5]x[-.5,.5]x[0,1] and their normals."""
    c = np.array([[x, y, z] for z in (0, 1) for y in (-0.5, 0.5) for x in (-0.5, 0.5)], np.float64)
    faces = [(0, 1, 3, 2), (4, 5, 7, 6), (0, 1, 5, 4), (2, 3, 7, 6), (0, 2, 6, 4), (1, 3, 7, 5)]
    tris, normals = [], []
    centre = np.array([0, 0, 0.5])
    for f in faces:
        q = c[list(f)]
        for tri in (q[[0, 1, 2]], q[[0, 2, 3]]):
            n = np.cross(tri[1] - tri[0], tri[2] - tri[0])
            if np.dot(n, tri.mean(0) - centre) < 0:
                tri = tri[[0, 2, 1]]
                n = -n
            tris.append(tri)
            normals.append(n / np.linalg.norm(n))
    return np.array(tris), np.array(normals)


UNIT_BOX, UNIT_NORMALS = _unit_box()
SHADE_AMBIENT = 0.55


def boxes_mesh(centre: np.ndarray, yaw: np.ndarray, size: np.ndarray, colour: np.ndarray, inst: np.ndarray,
               key: np.ndarray | None = None) -> Mesh:
    """Mesh of B boxes: ``centre`` (B, 3) bottom-centre [m], ``yaw`` (B,), ``size`` (B, 3) length,
    width, height [m], ``colour`` (B, 3) uint8, ``inst`` (B,) int32. Faces are Lambert-shaded by a
    fixed sun so bodies read as 3D."""
    b = len(yaw)
    if b == 0:
        return Mesh.empty()
    verts, col = boxes_triangles(UNIT_BOX, UNIT_NORMALS, SUN, SHADE_AMBIENT, np.ascontiguousarray(centre, np.float64),
                                 np.cos(yaw), np.sin(yaw), np.ascontiguousarray(size, np.float64),
                                 np.ascontiguousarray(colour, np.uint8))
    keys = np.zeros(b * 12, np.int64) if key is None else np.repeat(key, 12)
    return Mesh(verts, col, np.repeat(inst, 12).astype(np.int32), np.zeros(b * 12, np.uint8), keys)


# Parts per vehicle kind, as fractions of (length, width, height): x offset, bottom, length, width,
# height, colour role (0 body paint, 1 glass, 2 black, 3 cargo grey).
VEHICLE_PARTS = {
    0: [(0.0, 0.0, 0.92, 0.9, 0.22, 2), (0.0, 0.13, 1.0, 1.0, 0.42, 0), (-0.06, 0.55, 0.55, 0.86, 0.38, 1),
        (-0.06, 0.93, 0.5, 0.84, 0.07, 0)],
    1: [(0.0, 0.0, 0.96, 0.9, 0.12, 2), (0.39, 0.1, 0.2, 1.0, 0.5, 0), (0.39, 0.6, 0.19, 0.95, 0.25, 1),
        (0.39, 0.85, 0.2, 1.0, 0.1, 0), (-0.11, 0.1, 0.76, 1.0, 0.9, 3)],
    2: [(0.0, 0.0, 0.92, 0.9, 0.1, 2), (0.0, 0.08, 1.0, 1.0, 0.4, 0), (0.0, 0.48, 1.0, 1.0, 0.32, 1),
        (0.0, 0.8, 1.0, 1.0, 0.2, 0)],
    3: [(0.0, 0.0, 1.0, 0.35, 0.42, 2), (0.05, 0.3, 0.55, 0.6, 0.25, 0), (-0.12, 0.5, 0.28, 0.75, 0.5, 2),
        (-0.1, 0.92, 0.15, 0.3, 0.14, 0)],
    # a bicycle (two wheels, the frame) and its rider (legs, torso in the paint colour, helmet)
    CYCLIST_CLASS: [(0.3, 0.0, 0.38, 0.08, 0.38, 2), (-0.3, 0.0, 0.38, 0.08, 0.38, 2), (0.0, 0.22, 0.62, 0.1, 0.12, 0),
                    (-0.05, 0.3, 0.18, 0.45, 0.28, 2), (-0.02, 0.55, 0.3, 0.55, 0.32, 0),
                    (0.05, 0.86, 0.14, 0.3, 0.12, 2)],
}
# a traffic cone is drawn as it was while it borrowed the motorcycle's class: those parts at a cone's size (the
# detectors trained before it had a class of its own saw it so)
VEHICLE_PARTS[TRAFFIC_CONE_CLASS] = VEHICLE_PARTS[3]


def _part_table() -> tuple[np.ndarray, np.ndarray]:
    """VEHICLE_PARTS as one (kinds, max parts, 6) array and the part count per kind."""
    kinds = max(VEHICLE_PARTS) + 1
    most = max(len(v) for v in VEHICLE_PARTS.values())
    table = np.zeros((kinds, most, 6))
    count = np.zeros(kinds, np.int64)
    for k, spec in VEHICLE_PARTS.items():
        table[k, :len(spec)] = spec
        count[k] = len(spec)
    return table, count


PART_TABLE, PART_COUNT = _part_table()


def _instance_order(inst: np.ndarray) -> np.ndarray:
    """Objects in instance-id order, so each instance's triangles come out contiguous (coverage counting needs it)."""
    return np.argsort(inst, kind="stable")


Boxes = tuple  # (centre (B, 3), yaw (B,), size (B, 3), colour (B, 3) uint8, inst (B,)): ``boxes_mesh`` arguments


def boxes_mesh_of(groups: list[Boxes]) -> Mesh:
    """One mesh of several box groups, in group order, built with a single ``boxes_mesh`` call."""
    groups = [g for g in groups if len(g[1])]
    if not groups:
        return Mesh.empty()
    return boxes_mesh(*(np.concatenate([g[k] for g in groups]) for k in range(5)))


def vehicles_mesh(x, y, yaw, kind, dims, colour, inst, palette: Palette) -> Mesh:
    """Boxes of the given vehicles (world poses, (N,) arrays; dims (N, 3) length, width, height)."""
    return boxes_mesh_of([vehicle_boxes(x, y, yaw, kind, dims, colour, inst, palette)])


def vehicle_boxes(x, y, yaw, kind, dims, colour, inst, palette: Palette) -> Boxes:
    """The part boxes of the given vehicles, ordered by instance then part (see ``vehicles_mesh``)."""
    order = _instance_order(inst)
    n_parts = PART_COUNT[kind[order]]
    v = np.repeat(order, n_parts)  # vehicle of each part box
    part = np.arange(len(v)) - np.repeat(np.cumsum(n_parts) - n_parts, n_parts)
    dx, z0, fl, fw, fh, role = PART_TABLE[kind[v], part].T
    L, W, H = dims[v, 0], dims[v, 1], dims[v, 2]
    cx = x[v] + np.cos(yaw[v]) * dx * L
    cy = y[v] + np.sin(yaw[v]) * dx * L
    centre = np.stack([cx, cy, z0 * H], 1)
    size = np.stack([fl * L, fw * W, fh * H], 1)
    roles = np.array([palette.glass, palette.black, palette.cargo], np.uint8)
    role = role.astype(np.int64)
    col = np.where((role == 0)[:, None], colour[v], roles[np.maximum(role - 1, 0)])
    return centre, yaw[v], size, col.astype(np.uint8), inst[v]


PED_PARTS = ((0.0, 0.48, 0.28, 0.36), (0.48, 0.36, 0.3, 0.5), (0.85, 0.15, 0.22, 0.22))  # bottom, height, length, width (fractions / m)


def pedestrians_mesh(x, y, yaw, height, clothes, skin, inst) -> Mesh:
    return boxes_mesh_of([pedestrian_boxes(x, y, yaw, height, clothes, skin, inst)])


def pedestrian_boxes(x, y, yaw, height, clothes, skin, inst) -> Boxes:
    """Legs (trousers), torso (shirt) and head (skin) of each pedestrian, ordered by instance then part."""
    order = _instance_order(inst)
    p = np.repeat(order, 3)
    part = np.tile(np.arange(3), len(order))
    z0, fh, fl, fw = np.array(PED_PARTS).T[:, part]
    centre = np.stack([x[p], y[p], z0 * height[p]], 1)
    size = np.stack([fl, fw, fh * height[p]], 1)
    col = np.stack([clothes[:, 1], clothes[:, 0], skin], 1)[p, part]
    return centre, yaw[p], size, col, inst[p]


# lamp colours indexed by light state (sim.lights: 0 green, 1 yellow, 2 red), like ``states`` and ``LAMPS``
LAMP_LIT = np.array([[40, 255, 120], [255, 190, 20], [255, 40, 30]], np.uint8)
LAMP_DARK = np.array([[18, 60, 32], [70, 55, 15], [70, 22, 20]], np.uint8)
LAMPS = ((2, 0.70), (1, 0.38), (0, 0.06))  # lamp state, bottom as a fraction of the housing height: red on top


def light_heads_mesh(x, y, yaw, states, inst, palette: Palette) -> Mesh:
    return boxes_mesh_of([light_head_boxes(x, y, yaw, states, inst, palette)])


def light_head_boxes(x, y, yaw, states, inst, palette: Palette) -> Boxes:
    """Housing plus red/yellow/green lamps; the lamp of ``states`` (0 green, 1 yellow, 2 red) is lit."""
    n = len(x)
    depth, width, height = HOUSING_SIZE_M
    order = _instance_order(inst)
    h = np.repeat(order, 4)  # housing, then the three lamps
    part = np.tile(np.arange(4), n)
    is_lamp = part > 0
    lamp = np.array([0] + [state for state, _ in LAMPS])[part]
    z = np.array([0.0] + [z for _, z in LAMPS])[part]
    # lamps protrude from the face that looks along ``yaw``
    fx, fy = np.cos(yaw) * (depth / 2 + 0.03), np.sin(yaw) * (depth / 2 + 0.03)
    centre = np.stack([np.where(is_lamp, x[h] + fx[h], x[h]), np.where(is_lamp, y[h] + fy[h], y[h]),
                       np.where(is_lamp, HOUSING_BOTTOM_M + z * height, HOUSING_BOTTOM_M)], 1)
    size = np.where(is_lamp[:, None], np.array([0.06, 0.26, 0.26]), np.array([depth, width, height]))
    lit = np.where((states[h] == lamp)[:, None], LAMP_LIT[lamp], LAMP_DARK[lamp])
    col = np.where(is_lamp[:, None], lit, np.asarray(palette.housing, np.uint8)).astype(np.uint8)
    return centre, yaw[h], size, col, inst[h]


def build_props(scenario: Scenario, heads, prop0: int, palette: Palette) -> Mesh:
    """Static boxes (buildings, trees, poles, light poles) with their instance ids, sorted by chunk."""
    props = scenario.props
    main = scenario.network.main
    rows = [(p.x_m, p.y_m, p.z0_m, p.yaw_rad, p.length_m, p.width_m, p.height_m, *p.colour) for p in props]
    rows += [(h.x_m, h.y_m, 0.0, h.yaw_rad, 0.16, 0.16, 4.2, *palette.pole) for h in heads]
    if not rows:
        return Mesh.empty()
    a = np.array(rows, np.float64)
    inst = (prop0 + np.arange(len(a))).astype(np.int32)
    s, _ = main.project(a[:, 0], a[:, 1])
    chunk = np.floor(s / CHUNK_M).astype(np.int64)
    mesh = boxes_mesh(a[:, 0:3], a[:, 3], a[:, 4:7], a[:, 7:10].astype(np.uint8), inst, chunk)
    return mesh.sorted()
