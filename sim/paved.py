"""Where a navigation town is paved: a bitmap of every street's asphalt band and junction box.

Asking "is this point on any paving?" by projecting onto hundreds of roads would cost the
simulator its speed, so the answer is drawn once per town into a bit-packed occupancy bitmap
(``RESOLUTION_M`` per pixel, cv2's polygon fill) and looked up with a few integer operations.
The bitmap's edges are exact to within one pixel diagonal (0.28 m).

The packed bitmap is kept in tiles of ``TILE_ROWS`` rows by ``TILE_BYTES`` bytes (one 4 KiB memory
page each): a highway's bitmap spans kilometres (up to 17 MB packed) while its paving touches a
few percent of it, and row by row every paved row would touch a page of its own.
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


TILE_ROWS, TILE_BYTES = 64, 64  # a tile of the packed bitmap: rows x bytes (8 columns a byte)


@dataclass(frozen=True)
class PavedMap:
    tiles: np.ndarray  # (tile rows, tile columns, TILE_ROWS, TILE_BYTES) uint8: ``bits`` in tiles
    x0_m: float  # world x of column 0's left edge [m]
    y0_m: float  # world y of row 0's lower edge [m]
    cols: int
    rows: int

    @property
    def bits(self) -> np.ndarray:
        """(rows, ceil(cols / 8)) uint8, np.packbits of the occupancy along x (a copy, out of the tiles)."""
        ty, tx = self.tiles.shape[:2]
        flat = self.tiles.transpose(0, 2, 1, 3).reshape(ty * TILE_ROWS, tx * TILE_BYTES)
        return np.ascontiguousarray(flat[:self.rows, :(self.cols + 7) // 8])

    @staticmethod
    def build(graph: RoadGraph) -> "PavedMap":
        bx0, by0, bx1, by1 = graph.bounds()
        x0, y0 = bx0 - BORDER_M, by0 - BORDER_M
        cols = int(np.ceil((bx1 + BORDER_M - x0) / RESOLUTION_M))
        rows = int(np.ceil((by1 + BORDER_M - y0) / RESOLUTION_M))
        polys = []
        for road in graph.roads[:graph.n_streets]:
            s = np.concatenate([np.arange(road.n)[::EDGE_STEP], [road.n - 1]]) * 0.5
            lo, hi = road.asphalt_d
            xr, yr, _ = road.pose(s, np.full_like(s, lo))
            xl, yl, _ = road.pose(s, np.full_like(s, hi))
            polys.append(np.concatenate([np.stack([xr, yr], 1), np.stack([xl, yl], 1)[::-1]]))
        polys += [j.polygon for j in graph.junctions]
        px = [np.round((p - (x0, y0)) / RESOLUTION_M * 4).astype(np.int32) for p in polys]  # 2 fractional bits
        tiles = empty_tiles(cols, rows)
        for poly in px:  # one by one: a fill of several overlapping contours would leave their overlap empty
            _fill_packed(tiles, poly, cols, rows)
        return PavedMap(tiles, x0, y0, cols, rows)

    def on_paved(self, x_m: np.ndarray, y_m: np.ndarray) -> np.ndarray:
        """True for world points on a street's asphalt (shoulders included) or in a junction box."""
        c = np.floor((np.asarray(x_m, np.float64) - self.x0_m) / RESOLUTION_M).astype(np.int64)
        r = np.floor((np.asarray(y_m, np.float64) - self.y0_m) / RESOLUTION_M).astype(np.int64)
        inside = (c >= 0) & (c < self.cols) & (r >= 0) & (r < self.rows)
        c, r = np.where(inside, c, 0), np.where(inside, r, 0)
        b = c >> 3
        bit = (self.tiles[r // TILE_ROWS, b // TILE_BYTES, r % TILE_ROWS, b % TILE_BYTES] >> (7 - (c & 7))) & 1
        return inside & (bit == 1)

    def all_paved(self, x_m: np.ndarray, y_m: np.ndarray) -> bool:
        """``on_paved(x_m, y_m).all()`` for (K,) float64 arrays, in one compiled call."""
        return bool(_all_paved(self.tiles, self.x0_m, self.y0_m, self.cols, self.rows, x_m, y_m))

    def box_touches(self, box: tuple[float, float, float, float, float], margin_m: float = 0.0,
                    spacing_m: float = 0.5) -> bool:
        """Whether any part of an oriented box [x, y, yaw, length, width] grown by ``margin_m`` is paved:
        its points every ``spacing_m`` (a grid from ``np.arange`` along and across it) looked up with
        ``on_paved``'s arithmetic, in one compiled call."""
        x, y, yaw, length, width = box
        return bool(_box_touch(self.tiles, self.x0_m, self.y0_m, self.cols, self.rows, float(x), float(y),
                               float(np.cos(yaw)), float(np.sin(yaw)), float(length), float(width), float(margin_m),
                               float(spacing_m)))


def empty_tiles(cols: int, rows: int) -> np.ndarray:
    """Zeroed tiles for a (rows, cols) bitmap."""
    return np.zeros((-(-rows // TILE_ROWS), -(-((cols + 7) // 8) // TILE_BYTES), TILE_ROWS, TILE_BYTES), np.uint8)


@numba.njit(cache=True)
def _bit(tiles, row, col):
    b = col >> 3
    return (tiles[row // TILE_ROWS, b // TILE_BYTES, row % TILE_ROWS, b % TILE_BYTES] >> (7 - (col & 7))) & 1


@numba.njit(cache=True)
def _or_into_tiles(tiles, block, row0, byte0):
    """``bits[row0:, byte0:][:h, :w] |= block`` of the tiled bitmap."""
    for i in range(block.shape[0]):
        r = row0 + i
        for j in range(block.shape[1]):
            if block[i, j]:
                b = byte0 + j
                tiles[r // TILE_ROWS, b // TILE_BYTES, r % TILE_ROWS, b % TILE_BYTES] |= block[i, j]


FILL_MARGIN_PX = 2  # the fill sets pixels up to this far beyond its vertices' bounds (rounding, outline) [px]
FILL_BAND_ROWS = 128  # a polygon with a large bounding box is filled this many bitmap rows at a time
FILL_BAND_MIN_PX = 1 << 20  # ... when its bounding box holds more pixels than this


def _fill_packed(tiles: np.ndarray, poly: np.ndarray, cols: int, rows: int) -> None:
    """OR ``cv2.fillPoly`` of one polygon (pixel coordinates with 2 fractional bits) into the tiled packed
    bitmap ``tiles`` of a (rows, cols) image, drawn in small images of their own instead of the whole
    bitmap: the same pixels, because the fill's fixed-point arithmetic moves by whole pixels exactly,
    its scanlines do not depend on where the image is cut, and each small image holds whole every
    outline edge that touches the rows it keeps (so no edge it keeps is clipped differently).

    A small polygon is drawn in one image of its bounds; a large one (a highway carriageway curving
    over kilometres, whose bounds hold most of the map) band by band, each band in an image that
    reaches the tallest edge's height above and below it and spans the columns of the edges there."""
    lo, hi = poly.min(0) >> 2, poly.max(0) >> 2  # pixel bounds (floor of the quarter-pixel coordinates)
    r0 = max(int(lo[1]) - FILL_MARGIN_PX, 0)
    r1 = min(int(hi[1]) + FILL_MARGIN_PX + 1, rows)
    if (int(hi[0]) - int(lo[0]) + 1) * (int(hi[1]) - int(lo[1]) + 1) <= FILL_BAND_MIN_PX:
        _fill_rows(tiles, poly, cols, rows, r0, r1, r0, r1, int(lo[0]) - FILL_MARGIN_PX, int(hi[0]) + FILL_MARGIN_PX)
        return
    nxt = np.roll(poly, -1, axis=0)  # edge k runs from vertex k to vertex k + 1 (the last closes the ring)
    ey0 = (np.minimum(poly[:, 1], nxt[:, 1]) >> 2) - FILL_MARGIN_PX
    ey1 = (np.maximum(poly[:, 1], nxt[:, 1]) >> 2) + FILL_MARGIN_PX
    ex0 = (np.minimum(poly[:, 0], nxt[:, 0]) >> 2) - FILL_MARGIN_PX
    ex1 = (np.maximum(poly[:, 0], nxt[:, 0]) >> 2) + FILL_MARGIN_PX
    reach = int((ey1 - ey0).max()) + 1  # an edge touching a band lies within this many rows of it
    for b0 in range(r0, r1, FILL_BAND_ROWS):
        b1 = min(b0 + FILL_BAND_ROWS, r1)
        l0, l1 = max(b0 - reach, 0), min(b1 + reach, rows)
        near = (ey1 >= l0) & (ey0 < l1)  # every edge with a pixel in the image's rows, whole
        _fill_rows(tiles, poly, cols, rows, b0, b1, l0, l1, int(ex0[near].min()), int(ex1[near].max()))


def _fill_rows(tiles: np.ndarray, poly: np.ndarray, cols: int, rows: int, keep0: int, keep1: int, img0: int,
               img1: int, c_lo: int, c_hi: int) -> None:
    """Fill ``poly`` into an image of bitmap rows [img0, img1) and columns [c_lo, c_hi] (its first column
    moved down to a byte boundary, both cut at the bitmap's edges); OR its rows [keep0, keep1) into ``tiles``."""
    c0, c1 = max(c_lo, 0) // 8 * 8, min(c_hi + 1, cols)
    if c1 <= c0 or img1 <= img0:
        return  # wholly outside the bitmap: a fill of the whole bitmap would clip it away too
    img = np.zeros((img1 - img0, c1 - c0), np.uint8)
    cv2.fillPoly(img, [poly - np.array([c0 * 4, img0 * 4], np.int32)], 1, lineType=cv2.LINE_8, shift=2)
    _or_into_tiles(tiles, np.packbits(img[keep0 - img0:keep1 - img0], axis=1), keep0, c0 // 8)


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
def _all_paved(tiles, x0, y0, cols, rows, xs, ys):
    for k in range(xs.shape[0]):
        col = math.floor((xs[k] - x0) / RESOLUTION_M)
        row = math.floor((ys[k] - y0) / RESOLUTION_M)
        if not (0 <= col < cols and 0 <= row < rows and _bit(tiles, row, col)):
            return False
    return True


@numba.njit(cache=True)
def _box_touch(tiles, x0, y0, cols, rows, x, y, c, s, length, width, margin, spacing):
    u0, u1 = -length / 2 - margin, length / 2 + margin + 1e-9
    v0, v1 = -width / 2 - margin, width / 2 + margin + 1e-9
    nu, nv = max(int(math.ceil((u1 - u0) / spacing)), 0), max(int(math.ceil((v1 - v0) / spacing)), 0)
    for i in range(nv):
        vv = _arange_at(v0, spacing, i)
        for k in range(nu):
            uu = _arange_at(u0, spacing, k)
            col = math.floor(((x + uu * c - vv * s) - x0) / RESOLUTION_M)
            row = math.floor(((y + uu * s + vv * c) - y0) / RESOLUTION_M)
            if 0 <= col < cols and 0 <= row < rows and _bit(tiles, row, col):
                return True
    return False
