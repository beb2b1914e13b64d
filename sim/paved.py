"""Where a navigation town is paved: a bitmap of every street's asphalt band and junction box.

Asking "is this point on any paving?" by projecting onto hundreds of roads would cost the
simulator its speed, so the answer is drawn once per town into a bit-packed occupancy bitmap
(``RESOLUTION_M`` per pixel, cv2's polygon fill) and looked up with a few integer operations.
The bitmap's edges are exact to within one pixel diagonal (0.28 m).
"""

from __future__ import annotations

from dataclasses import dataclass

import math

import cv2
import numba
import numpy as np

from .roadgraph.graph import RoadGraph

RESOLUTION_M = 0.2  # bitmap pixel size [m]
BORDER_M = 20.0  # bitmap margin around the centrelines' bounds [m]
EDGE_STEP = 4  # street edges are traced every this many centreline samples (2 m)


@dataclass(frozen=True)
class PavedMap:
    bits: np.ndarray  # (rows, ceil(cols / 8)) uint8, np.packbits of the occupancy along x
    x0_m: float  # world x of column 0's left edge [m]
    y0_m: float  # world y of row 0's lower edge [m]
    cols: int
    rows: int

    @staticmethod
    def build(graph: RoadGraph) -> "PavedMap":
        bx0, by0, bx1, by1 = graph.bounds()
        x0, y0 = bx0 - BORDER_M, by0 - BORDER_M
        cols = int(np.ceil((bx1 + BORDER_M - x0) / RESOLUTION_M))
        rows = int(np.ceil((by1 + BORDER_M - y0) / RESOLUTION_M))
        img = np.zeros((rows, cols), np.uint8)
        polys = []
        for road in graph.roads[:graph.n_streets]:
            s = np.concatenate([np.arange(road.n)[::EDGE_STEP], [road.n - 1]]) * 0.5
            lo, hi = road.asphalt_d
            xr, yr, _ = road.pose(s, np.full_like(s, lo))
            xl, yl, _ = road.pose(s, np.full_like(s, hi))
            polys.append(np.concatenate([np.stack([xr, yr], 1), np.stack([xl, yl], 1)[::-1]]))
        polys += [j.polygon for j in graph.junctions]
        px = [np.round((p - (x0, y0)) / RESOLUTION_M * 4).astype(np.int32) for p in polys]  # 2 fractional bits
        for poly in px:  # one by one: a fill of several overlapping contours would leave their overlap empty
            cv2.fillPoly(img, [poly], 1, lineType=cv2.LINE_8, shift=2)
        return PavedMap(_pack_drawn(img, px), x0, y0, cols, rows)

    def on_paved(self, x_m: np.ndarray, y_m: np.ndarray) -> np.ndarray:
        """True for world points on a street's asphalt (shoulders included) or in a junction box."""
        c = np.floor((np.asarray(x_m, np.float64) - self.x0_m) / RESOLUTION_M).astype(np.int64)
        r = np.floor((np.asarray(y_m, np.float64) - self.y0_m) / RESOLUTION_M).astype(np.int64)
        inside = (c >= 0) & (c < self.cols) & (r >= 0) & (r < self.rows)
        c, r = np.where(inside, c, 0), np.where(inside, r, 0)
        bit = (self.bits[r, c >> 3] >> (7 - (c & 7))) & 1
        return inside & (bit == 1)

    def all_paved(self, x_m: np.ndarray, y_m: np.ndarray) -> bool:
        """``on_paved(x_m, y_m).all()`` for (K,) float64 arrays, in one compiled call."""
        return bool(_all_paved(self.bits, self.x0_m, self.y0_m, self.cols, self.rows, x_m, y_m))

    def box_touches(self, box: tuple[float, float, float, float, float], margin_m: float = 0.0,
                    spacing_m: float = 0.5) -> bool:
        """Whether any part of an oriented box [x, y, yaw, length, width] grown by ``margin_m`` is paved:
        its points every ``spacing_m`` (a grid from ``np.arange`` along and across it) looked up with
        ``on_paved``'s arithmetic, in one compiled call."""
        x, y, yaw, length, width = box
        return bool(_box_touch(self.bits, self.x0_m, self.y0_m, self.cols, self.rows, float(x), float(y),
                               float(np.cos(yaw)), float(np.sin(yaw)), float(length), float(width), float(margin_m),
                               float(spacing_m)))


PACK_BAND = 64  # rows per band of the bitmap packed at once


def _pack_drawn(img: np.ndarray, polys: list[np.ndarray]) -> np.ndarray:
    """``np.packbits(img, axis=1)`` of a bitmap that is zero outside the polygons ``polys`` (pixel
    coordinates with 2 fractional bits) drawn into it: only the columns each band of rows can hold
    paving are packed (a highway's paving covers a few percent of its bounds; the rest stays zero,
    untouched memory that need not be read). Where the spans cover most of the bitmap (towns), all of it."""
    rows, cols = img.shape
    lo, hi = _band_spans(np.concatenate([p.reshape(-1, 2) for p in polys]).astype(np.int64),
                         np.cumsum([0] + [len(p.reshape(-1, 2)) for p in polys]).astype(np.int64), rows, PACK_BAND)
    if np.maximum(np.minimum(hi, cols - 1) - np.maximum(lo, 0) + 1, 0).sum() * PACK_BAND > cols * rows / 2:
        return np.packbits(img, axis=1)  # a town: paved nearly everywhere across, one pass is cheaper
    bits = np.zeros((rows, (cols + 7) // 8), np.uint8)
    for b in np.flatnonzero(lo <= hi):
        r0, c0 = b * PACK_BAND, max(int(lo[b]), 0) // 8 * 8
        c1 = min(int(hi[b]) + 1, cols)
        if c1 > c0:
            bits[r0:r0 + PACK_BAND, c0 // 8:(c1 + 7) // 8] = np.packbits(img[r0:r0 + PACK_BAND, c0:c1], axis=1)
    return bits


@numba.njit(cache=True)
def _band_spans(vertices, starts, rows, band):
    """Per band of ``band`` rows, the columns [lo, hi] that hold every pixel the polygons (closed
    rings of ``vertices`` (V, 2) x, y with 2 fractional bits, polygon k from ``starts[k]``) can set:
    a row's paving lies between edges crossing that row, so each edge's x range counts for the bands
    its y range touches, widened by 2 pixels for the rounding of the fill and its outline."""
    n_bands = (rows + band - 1) // band
    lo = np.full(n_bands, 1 << 40, np.int64)
    hi = np.full(n_bands, -(1 << 40), np.int64)
    for k in range(starts.shape[0] - 1):
        a, b = starts[k], starts[k + 1]
        for i in range(a, b):
            j = i + 1 if i + 1 < b else a
            x0, x1 = min(vertices[i, 0], vertices[j, 0]) // 4 - 2, max(vertices[i, 0], vertices[j, 0]) // 4 + 2
            y0, y1 = min(vertices[i, 1], vertices[j, 1]) // 4 - 2, max(vertices[i, 1], vertices[j, 1]) // 4 + 2
            for bb in range(max(y0, 0) // band, min(y1, rows - 1) // band + 1):
                lo[bb] = min(lo[bb], x0)
                hi[bb] = max(hi[bb], x1)
    return lo, hi


@numba.njit(cache=True)
def _arange_at(start: float, step: float, k: int) -> float:
    """Element ``k`` of ``np.arange(start, ..., step)`` as numpy fills it: the second element is
    start + step, the rest start + k * (second - start)."""
    if k == 0:
        return start
    if k == 1:
        return start + step
    return start + k * ((start + step) - start)


@numba.njit(cache=True)
def _all_paved(bits, x0, y0, cols, rows, xs, ys):
    for k in range(xs.shape[0]):
        col = math.floor((xs[k] - x0) / RESOLUTION_M)
        row = math.floor((ys[k] - y0) / RESOLUTION_M)
        if not (0 <= col < cols and 0 <= row < rows and (bits[row, col >> 3] >> (7 - (col & 7))) & 1):
            return False
    return True


@numba.njit(cache=True)
def _box_touch(bits, x0, y0, cols, rows, x, y, c, s, length, width, margin, spacing):
    u0, u1 = -length / 2 - margin, length / 2 + margin + 1e-9
    v0, v1 = -width / 2 - margin, width / 2 + margin + 1e-9
    nu, nv = max(int(math.ceil((u1 - u0) / spacing)), 0), max(int(math.ceil((v1 - v0) / spacing)), 0)
    for i in range(nv):
        vv = _arange_at(v0, spacing, i)
        for k in range(nu):
            uu = _arange_at(u0, spacing, k)
            col = math.floor(((x + uu * c - vv * s) - x0) / RESOLUTION_M)
            row = math.floor(((y + uu * s + vv * c) - y0) / RESOLUTION_M)
            if 0 <= col < cols and 0 <= row < rows and (bits[row, col >> 3] >> (7 - (col & 7))) & 1:
                return True
    return False
