"""Road geometry: sampled centrelines with Frenet coordinates, lanes and markings.

World frame: x east, y north, z up, metres; yaw counter-clockwise from +x [rad].
A ``Road`` is a two-way road along a centreline sampled every ``SAMPLE_STEP_M``. Frenet
coordinates (s, d): s is arc length along the centreline [m], d the signed lateral offset,
positive to the LEFT of the +s direction [m]. Traffic keeps right: the ``lanes_fwd`` lanes that
run toward +s lie at d < 0, the ``lanes_bwd`` lanes that run toward -s at d > 0. Lane 0 of each
direction is the one next to the centre line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .kernels import (packed_centre_pose, packed_curvature, points_ahead_ego, project_point_to_centreline,
                      project_to_centreline)

SAMPLE_STEP_M = 0.5  # centreline sample spacing [m]
LINE_WIDTH_M = 0.15  # painted line width [m]
DASH_ON_M, DASH_OFF_M = 3.0, 6.0  # dashed lane line: paint, gap [m]


@dataclass(frozen=True)
class LaneLine:
    """One painted line running along a road at a fixed lateral offset."""

    d_m: float  # lateral offset of the line's centre [m]
    style: str  # "solid" | "dashed" | "double_solid"
    colour: str  # "white" | "yellow"

    @property
    def solid(self) -> bool:
        return self.style != "dashed"


@dataclass
class Road:
    """A two-way road along a sampled centreline (see the module docstring for conventions)."""

    road_id: int
    xy: np.ndarray  # (N, 2) float64 centreline samples [m]
    heading: np.ndarray  # (N,) yaw of the +s direction [rad]
    curvature: np.ndarray  # (N,) signed curvature, positive turning left [1/m]
    lanes_fwd: int  # lanes toward +s (right side)
    lanes_bwd: int  # lanes toward -s (left side)
    lane_width_m: float
    shoulder_m: float  # asphalt beyond each edge line [m]
    sidewalk_m: float  # sidewalk width beyond the shoulder, 0 for none [m]
    speed_limit_m_s: float
    centre_style: str = "double_solid"  # painted centre line: "double_solid" or "dashed"
    gaps: list[tuple[float, float]] = field(default_factory=list)  # s-ranges without lane lines (intersections) [m]

    @property
    def n(self) -> int:
        return len(self.heading)

    @property
    def length_m(self) -> float:
        return (self.n - 1) * SAMPLE_STEP_M

    @property
    def right_edge_d(self) -> float:
        """Lateral offset of the right edge line [m] (negative)."""
        return -self.lanes_fwd * self.lane_width_m

    @property
    def left_edge_d(self) -> float:
        """Lateral offset of the left edge line [m] (positive)."""
        return self.lanes_bwd * self.lane_width_m

    @property
    def asphalt_d(self) -> tuple[float, float]:
        """Lateral extent of the paved surface, edge lines plus shoulders [m]."""
        return self.right_edge_d - self.shoulder_m, self.left_edge_d + self.shoulder_m

    def lanes_toward(self, direction: int) -> int:
        """Lanes whose traffic runs in ``direction`` (+1 toward +s, -1 toward -s)."""
        return self.lanes_fwd if direction > 0 else self.lanes_bwd

    def lane_centre_d(self, lane: int | np.ndarray, direction: int | np.ndarray) -> np.ndarray:
        """Lateral offset of lane ``lane`` of ``direction`` (+1 toward +s, -1 toward -s) [m]."""
        return -np.asarray(direction) * (np.asarray(lane) + 0.5) * self.lane_width_m

    def lane_lines(self) -> list[LaneLine]:
        """Painted lines from right to left."""
        w = self.lane_width_m
        lines = [LaneLine(self.right_edge_d, "solid", "white")]
        lines += [LaneLine(-k * w, "dashed", "white") for k in range(self.lanes_fwd - 1, 0, -1)]
        if self.lanes_bwd == 0:  # one-way: the left edge line is the last line
            return lines + [LaneLine(0.0, "solid", "white")]
        if self.centre_style == "double_solid":
            lines.append(LaneLine(0.0, "double_solid", "yellow"))
        else:
            lines.append(LaneLine(0.0, "dashed", "white"))
        lines += [LaneLine(k * w, "dashed", "white") for k in range(1, self.lanes_bwd)]
        lines.append(LaneLine(self.left_edge_d, "solid", "white"))
        return lines

    def in_gap(self, s: np.ndarray) -> np.ndarray:
        """True where ``s`` lies in an intersection gap of the markings."""
        s = np.asarray(s, dtype=np.float64)
        out = np.zeros(s.shape, dtype=bool)
        for lo, hi in self.gaps:
            out |= (s >= lo) & (s <= hi)
        return out

    # --- Frenet <-> world -------------------------------------------------------------
    def _interp(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        f = np.minimum(np.maximum(np.asarray(s, dtype=np.float64) / SAMPLE_STEP_M, 0.0), self.n - 1.000001)  # np.clip, less overhead
        i = f.astype(np.int64)
        t = f - i
        xy = self.xy[i] * (1 - t)[..., None] + self.xy[i + 1] * t[..., None]
        return xy, self.heading[i] + t * self._dheading[i], i

    def pose(self, s: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World x, y [m] and the +s heading [rad] at Frenet (s, d); s is clamped to the road."""
        xy, heading, _ = self._interp(s)
        d = np.asarray(d, dtype=np.float64)
        x = xy[..., 0] - d * np.sin(heading)
        y = xy[..., 1] + d * np.cos(heading)
        return x, y, heading

    def centre_ahead_in_frame(self, s_m: float, spacing_m: float, count: int, x_m: float, y_m: float,
                              yaw_rad: float) -> np.ndarray:
        """(count, 2) centreline points ``spacing_m``, 2 ``spacing_m``, ... ahead of ``s_m`` (at most
        the road's end) in the frame of a car at (x_m, y_m) heading ``yaw_rad`` (x forward, y left)
        [m]: ``pose(s, 0)`` turned into that frame, the same arithmetic in one compiled pass."""
        return points_ahead_ego(float(s_m), float(spacing_m), int(count), float(self.length_m), self.xy, self.heading,
                                self._dheading, SAMPLE_STEP_M, float(x_m), float(y_m), float(np.cos(yaw_rad)),
                                float(np.sin(yaw_rad)))

    def heading_at(self, s_m: float) -> float:
        """``pose(s_m, 0)[2]`` for one point, in plain floats (the same operations, without
        numpy's per-call overhead) [rad]."""
        heading, dheading = self._heading_lists
        f = min(max(s_m / SAMPLE_STEP_M, 0.0), self.n - 1.000001)
        i = int(f)
        return heading[i] + (f - i) * dheading[i]

    @cached_property
    def _dheading(self) -> np.ndarray:
        """(N,) wrapped heading change from each sample to the next [rad], 0 at the end."""
        step = np.angle(np.exp(1j * (self.heading[1:] - self.heading[:-1])))
        return np.concatenate([step, [0.0]])

    @cached_property
    def _curvature_list(self) -> list[float]:
        """``curvature`` as a list of floats, for scalar lookups."""
        return self.curvature.tolist()

    @cached_property
    def _heading_lists(self) -> tuple[list[float], list[float]]:
        """``heading`` and ``_dheading`` as lists of floats, for scalar lookups."""
        return self.heading.tolist(), self._dheading.tolist()

    def curvature_near(self, s_m: float) -> float:
        """``curvature_at(s_m)`` for one point, in plain Python (the same rounding, half to even) [1/m]."""
        curvature = self._curvature_list
        return curvature[round(min(max(s_m / SAMPLE_STEP_M, 0), len(curvature) - 1))]

    def curvature_at(self, s: np.ndarray) -> np.ndarray:
        f = np.minimum(np.maximum(np.asarray(s, dtype=np.float64) / SAMPLE_STEP_M, 0), self.n - 1)
        return self.curvature[np.round(f).astype(np.int64)]

    def project(self, x: np.ndarray, y: np.ndarray, hint_s: float | None = None, window_m: float = 30.0):
        """Frenet (s, d) of world points: nearest centreline sample, refined along its tangent.

        With ``hint_s`` only samples within ``window_m`` of it are searched (O(window), for
        tracking a vehicle from step to step); otherwise all samples are.
        """
        px = np.ascontiguousarray(x, np.float64).reshape(-1)
        py = np.ascontiguousarray(y, np.float64).reshape(-1)
        lo, hi = self._search_rows(hint_s, window_m)
        cos_h, sin_h = self._heading_cos_sin
        s, d = project_to_centreline(px, py, self.xy, cos_h, sin_h, lo, hi, SAMPLE_STEP_M, float(self.length_m))
        shape = np.shape(x)
        return s.reshape(shape), d.reshape(shape)

    def project_point(self, x_m: float, y_m: float, hint_s: float | None = None,
                      window_m: float = 30.0) -> tuple[float, float]:
        """``project`` of one point as plain floats (s, d) [m], without the arrays (every step tracks the ego)."""
        lo, hi = self._search_rows(hint_s, window_m)
        cos_h, sin_h = self._heading_cos_sin
        return project_point_to_centreline(float(x_m), float(y_m), self.xy, cos_h, sin_h, lo, hi, SAMPLE_STEP_M,
                                           float(self.length_m))

    def _search_rows(self, hint_s: float | None, window_m: float) -> tuple[int, int]:
        """Sample rows [lo, hi) a projection searches: all, or those within ``window_m`` of ``hint_s``."""
        if hint_s is None:
            return 0, self.n
        c = int(round(hint_s / SAMPLE_STEP_M))
        k = int(window_m / SAMPLE_STEP_M)
        return max(0, c - k), min(self.n, c + k + 1)

    @cached_property
    def _heading_cos_sin(self) -> tuple[np.ndarray, np.ndarray]:
        """cos and sin of every sample's heading (numpy's, so projections match the array formulas exactly)."""
        return np.cos(self.heading), np.sin(self.heading)


def centreline_from_curvature(start_xy, start_heading: float, curvature: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integrate a curvature profile sampled every SAMPLE_STEP_M into points and headings.

    Midpoint heading per step keeps arcs exact to second order.
    """
    ds = SAMPLE_STEP_M
    heading = start_heading + np.concatenate([[0.0], np.cumsum(curvature[:-1] * ds)])
    mid = heading[:-1] + 0.5 * curvature[:-1] * ds
    steps = np.stack([np.cos(mid), np.sin(mid)], axis=1) * ds
    xy = np.concatenate([np.asarray(start_xy, np.float64)[None], np.asarray(start_xy) + np.cumsum(steps, axis=0)])
    return xy, heading


def straight_road_xy(centre_xy, heading: float, half_length_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Samples of a straight centreline through ``centre_xy`` along ``heading``."""
    n = int(round(2 * half_length_m / SAMPLE_STEP_M)) + 1
    s = np.arange(n) * SAMPLE_STEP_M - half_length_m
    direction = np.array([np.cos(heading), np.sin(heading)])
    xy = np.asarray(centre_xy, np.float64)[None] + s[:, None] * direction[None]
    return xy, np.full(n, heading)


@dataclass
class Intersection:
    """A four-way crossing of the main road by a straight side road, with lights and crosswalks."""

    index: int
    main_s: float  # centre along the main road [m]
    side_road: int  # index of the side road in ``RoadNetwork.roads``
    side_s: float  # centre along the side road [m]
    half_main_m: float  # half extent of the paved box along the main road [m]
    half_side_m: float  # half extent of the paved box along the side road [m]
    crosswalk_m: float  # crosswalk band width [m]
    stop_s: dict[tuple[int, int], float] = field(default_factory=dict)  # (road, direction) -> stop line s [m]
    light_ids: dict[tuple[int, int], int] = field(default_factory=dict)  # (road, direction) -> traffic light index


@dataclass
class RoadNetwork:
    """The main road the route follows (roads[0]) and the side roads crossing it."""

    roads: list[Road]
    intersections: list[Intersection]

    @property
    def main(self) -> Road:
        return self.roads[0]

    @cached_property
    def packed(self) -> "PackedRoads":
        """All centrelines in flat arrays, for Frenet -> world of objects on many roads in one pass."""
        return PackedRoads.build(self.roads)

    def on_asphalt(self, x: np.ndarray, y: np.ndarray, hint_s: float | None = None,
                   main_sd: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """True for world points on any paved surface (roads, shoulders, intersection boxes).

        ``main_sd``: the points' ``main.project(x, y, hint_s)`` when the caller already has it."""
        x = np.asarray(x, np.float64)
        y = np.asarray(y, np.float64)
        s, d = main_sd if main_sd is not None else self.main.project(x, y, hint_s)
        lo, hi = self.main.asphalt_d
        out = (d >= lo) & (d <= hi) & (s > 0) & (s < self.main.length_m)
        if len(self.roads) > 1:
            # side roads are straight: a cheap bounding test for all of them first
            centre, reach_sq = self._side_bounds
            dist_sq = (x.reshape(1, -1) - centre[:, 0, None]) ** 2 + (y.reshape(1, -1) - centre[:, 1, None]) ** 2
            for k in np.flatnonzero(~(dist_sq.min(axis=1) > reach_sq)) + 1:
                road = self.roads[k]
                s, d = road.project(x, y)
                lo, hi = road.asphalt_d
                out |= (d >= lo) & (d <= hi) & (s > 0) & (s < road.length_m)
        return out

    @cached_property
    def _side_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Side roads' middle samples (R-1, 2) [m] and squared radii around them that hold the road [m^2]."""
        side = self.roads[1:]
        return (np.array([r.xy[r.n // 2] for r in side]).reshape(-1, 2),
                np.array([(r.length_m / 2 + 10) ** 2 for r in side]))


@dataclass(frozen=True)
class PackedRoads:
    """Every road's samples concatenated; road ``r`` starts at row ``offset[r]``.

    ``pose`` and ``curvature_at`` give bit-identical results to ``Road.pose`` / ``Road.curvature_at``
    (the same element-wise arithmetic), but for points on different roads in one call.
    """

    xy: np.ndarray  # (sum N, 2) centreline samples [m]
    heading: np.ndarray  # (sum N,) [rad]
    dheading: np.ndarray  # (sum N,) wrapped heading change to the next sample [rad], 0 at a road's end
    curvature: np.ndarray  # (sum N,) [1/m]
    offset: np.ndarray  # (R,) int64 first row of each road
    n: np.ndarray  # (R,) int64 samples per road

    @staticmethod
    def build(roads: list[Road]) -> "PackedRoads":
        dh = []
        for r in roads:
            step = np.angle(np.exp(1j * (r.heading[1:] - r.heading[:-1])))  # as Road._interp wraps it
            dh.append(np.concatenate([step, [0.0]]))
        n = np.array([r.n for r in roads], np.int64)
        return PackedRoads(np.concatenate([r.xy for r in roads]), np.concatenate([r.heading for r in roads]),
                           np.concatenate(dh), np.concatenate([r.curvature for r in roads]),
                           np.concatenate([[0], np.cumsum(n)[:-1]]).astype(np.int64), n)

    def pose(self, road: np.ndarray, s: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World x, y [m] and +s heading [rad] at Frenet (s, d) on road ``road`` (all (K,) arrays)."""
        if _flat_pair(road, s):  # the interpolation compiled (the sines stay numpy's)
            x, y, heading = packed_centre_pose(road, s, self.offset, self.n, self.xy, self.heading, self.dheading,
                                               SAMPLE_STEP_M)
            return x - d * np.sin(heading), y + d * np.cos(heading), heading
        f = np.minimum(np.maximum(s / SAMPLE_STEP_M, 0.0), self.n[road] - 1.000001)  # np.clip, less overhead
        i = f.astype(np.int64)
        t = f - i
        g = self.offset[road] + i
        xy = self.xy[g] * (1 - t)[..., None] + self.xy[g + 1] * t[..., None]
        heading = self.heading[g] + t * self.dheading[g]
        x = xy[..., 0] - d * np.sin(heading)
        y = xy[..., 1] + d * np.cos(heading)
        return x, y, heading

    def curvature_at(self, road: np.ndarray, s: np.ndarray) -> np.ndarray:
        if _flat_pair(road, s):
            return packed_curvature(road, s, self.offset, self.n, self.curvature, SAMPLE_STEP_M)
        f = np.minimum(np.maximum(s / SAMPLE_STEP_M, 0), self.n[road] - 1)
        return self.curvature[self.offset[road] + np.round(f).astype(np.int64)]


def _flat_pair(road, s) -> bool:
    """Whether ``road`` (ints) and ``s`` (float64) are 1-D arrays of one length (what the compiled
    ``PackedRoads.pose`` takes; anything else goes the numpy way)."""
    return (isinstance(road, np.ndarray) and isinstance(s, np.ndarray) and road.ndim == 1 and s.shape == road.shape
            and road.dtype.kind in "iu" and s.dtype == np.float64)
