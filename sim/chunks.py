"""Which static triangles a frame draws: chunks of the main road's s, or cells of a 2D grid.

Static meshes are sorted by a key, ``layer * LAYER_STRIDE + chunk`` for ground decals (drawn in
layer order without a depth test) and ``chunk`` for props. A ``ChunkIndex`` maps a camera pose
to a hashable selection key (a few float operations, every frame) and a key to the rows of both
meshes to draw (numpy, only when the key changes; ``Camera`` caches the gathered triangles per
key). ``RoadChunks`` is the straight-road towns' index (chunks of the main road within range of
the ego's s); ``CellChunks`` serves road graphs, which have no main road: 2D cells whose content
can reach into the camera's field of view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Hashable, Protocol

import numba
import numpy as np

from .meshes import LAYER_PAINT, LAYER_STRIDE

N_LAYERS = LAYER_PAINT + 1  # ground layers, drawn in order
BEHIND_M = 15.0  # main-road chunks this far behind the ego still drawn [m]


class ChunkIndex(Protocol):
    def key(self, ego_s: float, pos: np.ndarray, fwd: np.ndarray) -> Hashable:
        """Selection key for a camera at ``pos`` (3,) [m] looking along ``fwd`` (3,) (world frame)."""

    def rows(self, key: Hashable) -> tuple[np.ndarray, np.ndarray]:
        """Ground rows (layer by layer) and prop rows to draw for ``key``, int64 index arrays."""


def _ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The concatenation of ``arange(lo[k], hi[k])`` over k, in order."""
    n = hi - lo
    total = int(n.sum())
    first = np.repeat(lo - (np.cumsum(n) - n), n)
    return (first + np.arange(total)).astype(np.int64)


class RoadChunks:
    """Main-road chunks [c0, c1] from ``BEHIND_M`` behind the ego's s to ``max_range_m`` ahead."""

    def __init__(self, ground_key: np.ndarray, props_key: np.ndarray, chunk_m: float, max_range_m: float):
        self.ground_key, self.props_key = ground_key, props_key
        self.chunk_m, self.max_range_m = chunk_m, max_range_m

    def key(self, ego_s: float, pos: np.ndarray, fwd: np.ndarray) -> tuple[int, int]:
        return (int(np.floor((ego_s - BEHIND_M) / self.chunk_m)),
                int(np.floor((ego_s + self.max_range_m) / self.chunk_m)))

    def rows(self, key: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        c0, c1 = key
        layers = np.arange(N_LAYERS) * LAYER_STRIDE
        lo = np.searchsorted(self.ground_key, layers + c0)
        hi = np.searchsorted(self.ground_key, layers + c1 + 1)
        plo, phi = np.searchsorted(self.props_key, [c0, c1 + 1])
        return _ranges(lo, hi), np.arange(plo, phi, dtype=np.int64)


@dataclass(frozen=True)
class CellGrid:
    """Square cells over a rectangle of the world; cell id = ix * ny + iy."""

    x0_m: float
    y0_m: float
    cell_m: float
    nx: int
    ny: int

    @staticmethod
    def covering(x0: float, y0: float, x1: float, y1: float, cell_m: float = 20.0) -> "CellGrid":
        """Cells over [x0, x1] x [y0, y1] [m]; points outside fall into the border cells."""
        return CellGrid(x0, y0, cell_m, max(1, int(np.ceil((x1 - x0) / cell_m))), max(1, int(np.ceil((y1 - y0) / cell_m))))

    @property
    def n(self) -> int:
        return self.nx * self.ny

    def cell_of(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        ix = np.clip(np.floor((np.asarray(x) - self.x0_m) / self.cell_m), 0, self.nx - 1).astype(np.int64)
        iy = np.clip(np.floor((np.asarray(y) - self.y0_m) / self.cell_m), 0, self.ny - 1).astype(np.int64)
        return ix * self.ny + iy

    def centres(self) -> np.ndarray:
        """(n, 2) cell centres [m], in id order."""
        ix, iy = np.divmod(np.arange(self.n), self.ny)
        return np.stack([self.x0_m + (ix + 0.5) * self.cell_m, self.y0_m + (iy + 0.5) * self.cell_m], 1)

    def triangle_cells(self, verts: np.ndarray) -> np.ndarray:
        """Cell of each triangle's centroid, for (T, 3, 3) vertices."""
        c = verts[:, :, :2].astype(np.float64).mean(axis=1)
        return self.cell_of(c[:, 0], c[:, 1])


@numba.njit(cache=True)
def _reach_into(radius_m, occupied, verts, cells, centres):
    """Grow each cell's ``radius_m`` to the farthest vertex (x, y) of its triangles ``verts`` (T, 3, 3)
    float32 from its centre, and mark it ``occupied``: ``np.linalg.norm`` of the float64 offsets
    (sqrt(dx * dx + dy * dy)), the largest per triangle, then per cell (``np.maximum.at``)."""
    for t in range(verts.shape[0]):
        c = cells[t]
        reach = 0.0
        for v in range(3):
            dx = np.float64(verts[t, v, 0]) - centres[c, 0]
            dy = np.float64(verts[t, v, 1]) - centres[c, 1]
            reach = max(reach, math.sqrt(dx * dx + dy * dy))
        radius_m[c] = max(radius_m[c], reach)
        occupied[c] = True


ANCHOR_M = 8.0  # the camera position is snapped to this grid for the selection key [m]
YAW_BINS = 36  # and its heading to this many bins
# The camera's rays spread a little wider on the ground than hfov / 2 (pitch, roll, the image's
# corners, frame jitter): this much more half-angle keeps every visible cell [rad]
FOV_MARGIN_RAD = np.deg2rad(8.0)


class CellChunks:
    """Cells of a ``CellGrid`` whose triangles can appear in the camera's field of view.

    Each cell has a bounding radius: the farthest vertex of any of its triangles from its centre
    (ground and props), so a cell is selected when that disk meets the camera's viewing wedge
    (half-angle hfov / 2 + margin, range ``max_range_m``). The wedge is taken from the snapped
    pose of the key, widened by the snapping slack, so one key's selection serves every pose
    that maps to it.
    """

    def __init__(self, grid: CellGrid, ground_verts: np.ndarray, ground_key: np.ndarray, props_verts: np.ndarray,
                 props_key: np.ndarray, max_range_m: float, hfov_deg: float):
        self.grid = grid
        self.max_range_m = max_range_m
        self.half_angle_rad = np.deg2rad(hfov_deg) / 2 + FOV_MARGIN_RAD + np.pi / YAW_BINS
        self.centres = grid.centres()
        self.radius_m = np.zeros(grid.n)
        self.occupied = np.zeros(grid.n, bool)
        for verts, cells in ((ground_verts, ground_key % LAYER_STRIDE), (props_verts, props_key)):
            _reach_into(self.radius_m, self.occupied, np.ascontiguousarray(verts), cells.astype(np.int64), self.centres)
        ids = np.arange(grid.n + 1)
        self._ground_bounds = np.stack([np.searchsorted(ground_key, layer * LAYER_STRIDE + ids)
                                        for layer in range(N_LAYERS)])  # (layers, cells + 1)
        self._props_bounds = np.searchsorted(props_key, ids)

    def key(self, ego_s: float, pos: np.ndarray, fwd: np.ndarray) -> tuple[int, int, int]:
        yaw = math.atan2(float(fwd[1]), float(fwd[0]))
        return (int(math.floor(float(pos[0]) / ANCHOR_M)), int(math.floor(float(pos[1]) / ANCHOR_M)),
                int(round(yaw / (2 * math.pi / YAW_BINS))) % YAW_BINS)

    def select_cells(self, x_m: float, y_m: float, yaw_rad: float, half_angle_rad: float,
                     slack_m: float = 0.0) -> np.ndarray:
        """Sorted ids of occupied cells whose bounding disk, grown by ``slack_m``, meets the wedge
        at (x, y) looking along ``yaw_rad`` with ``half_angle_rad`` and this index's range."""
        rel = self.centres - np.array([x_m, y_m])
        r = self.radius_m + slack_m
        fwd = rel[:, 0] * math.cos(yaw_rad) + rel[:, 1] * math.sin(yaw_rad)
        side = np.abs(-rel[:, 0] * math.sin(yaw_rad) + rel[:, 1] * math.cos(yaw_rad))
        dist = np.hypot(fwd, side)
        inside = np.arctan2(side, fwd) <= half_angle_rad
        # distance from the centre to the wedge's edge ray (its nearer side), where the foot lies ahead
        ca, sa = math.cos(half_angle_rad), math.sin(half_angle_rad)
        along = fwd * ca + side * sa
        to_edge = np.where(along > 0, np.abs(side * ca - fwd * sa), dist)
        hit = (inside | (to_edge <= r)) & (dist <= self.max_range_m + r) & self.occupied
        return np.flatnonzero(hit)

    def rows(self, key: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
        ax, ay, yaw_bin = key
        slack = ANCHOR_M * math.sqrt(0.5)  # the camera lies within this of its anchor cell's centre
        cells = self.select_cells((ax + 0.5) * ANCHOR_M, (ay + 0.5) * ANCHOR_M, yaw_bin * 2 * math.pi / YAW_BINS,
                                  self.half_angle_rad, slack)
        lo = self._ground_bounds[:, cells].reshape(-1)
        hi = self._ground_bounds[:, cells + 1].reshape(-1)
        return _ranges(lo, hi), _ranges(self._props_bounds[cells], self._props_bounds[cells + 1])
