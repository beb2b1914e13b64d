"""What the camera needs of a graph town, built once per episode: the ground, the static props
(signal poles and mast arms, stop-sign posts and plates, any scenario props) and the cell index
that picks the triangles near the camera (``Camera.render(..., chunks=static.chunks)``).

Instance ids: scenario props are ``prop0 + k``, then one pole per signal head (a left-arrow
head's mast arm shares its pole's id), then one post per stop sign; the stop signs' red plates
are ``stop0 + k`` (their own range, so labels can box the plate alone, as a light head is
boxed without its pole).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..chunks import CellChunks, CellGrid
from ..config import CameraConfig
from ..lights import HOUSING_BOTTOM_M, HOUSING_SIZE_M
from ..meshes import Boxes, Mesh, Palette, boxes_mesh
from ..scenarios import Prop
from .graph import RoadGraph
from .ground import build_graph_ground
from .signals import JunctionSignals

CELL_M = 20.0  # side of a camera cell [m]
POLE_M = 0.16  # signal pole section [m]
SIGN_POST_M, SIGN_POST_HEIGHT_M = 0.08, 2.0  # [m]
SIGN_PLATE_M = 0.75  # across the octagon's flats [m]
SIGN_RED = (190, 24, 30)


@dataclass(frozen=True)
class GraphStatic:
    """The static meshes of a graph town and their cell index."""

    ground: Mesh
    props: Mesh
    chunks: CellChunks
    n_static_props: int  # prop ids used: prop0 .. prop0 + n_static_props - 1


def _octagon_boxes(x: float, y: float, yaw: float, bottom_m: float) -> list[tuple]:
    """Three thin boxes whose union is an octagon-ish plate facing ``yaw``: the full-width middle
    band and narrower top and bottom bands (x, y, z0, yaw, thickness, width, height)."""
    w = SIGN_PLATE_M
    side = w / (1 + np.sqrt(2))  # an octagon's side [m]
    band = (w - side) / 2
    return [(x, y, bottom_m, yaw, 0.03, (w + side) / 2, band),
            (x, y, bottom_m + band, yaw, 0.03, w, side),
            (x, y, bottom_m + band + side, yaw, 0.03, (w + side) / 2, band)]


def static_prop_boxes(graph: RoadGraph, signals: JunctionSignals, palette: Palette, prop0: int, stop0: int,
                      props: Sequence[Prop] = ()) -> Boxes:
    """Every static box of the town as ``boxes_mesh`` arguments (see the module docstring for ids)."""
    rows: list[tuple] = []  # x, y, z0, yaw, length, width, height, r, g, b, instance id
    for k, p in enumerate(props):
        rows.append((p.x_m, p.y_m, p.z0_m, p.yaw_rad, p.length_m, p.width_m, p.height_m, *p.colour, prop0 + k))
    pole_top = HOUSING_BOTTOM_M + HOUSING_SIZE_M[2]
    ids = prop0 + len(props)
    for h in signals.heads:
        if not h.left_arrow:
            rows.append((h.x_m, h.y_m, 0.0, h.yaw_rad, POLE_M, POLE_M, pole_top, *palette.pole, ids))
        else:  # over the leftmost lane: a pole at the right kerb and an arm across to the head
            road = graph.roads[h.street]
            s, _ = road.project(np.array([h.x_m]), np.array([h.y_m]))
            kerb = road.asphalt_d[0] - 0.6 if h.direction > 0 else road.asphalt_d[1] + 0.6
            px, py, _ = road.pose(s, np.array([kerb]))
            px, py = float(px[0]), float(py[0])
            dx, dy = h.x_m - px, h.y_m - py
            rows.append((px, py, 0.0, h.yaw_rad, POLE_M, POLE_M, pole_top + 0.15, *palette.pole, ids))
            rows.append(((px + h.x_m) / 2, (py + h.y_m) / 2, pole_top, float(np.arctan2(dy, dx)), float(np.hypot(dx, dy)),
                         0.12, 0.12, *palette.pole, ids))
        ids += 1
    for sign in signals.stop_signs:
        rows.append((sign.x_m, sign.y_m, 0.0, sign.yaw_rad, SIGN_POST_M, SIGN_POST_M, SIGN_POST_HEIGHT_M,
                     *palette.pole, ids))
        ids += 1
    for k, sign in enumerate(signals.stop_signs):
        # the plate stands just in front of its post, toward the traffic it faces
        fx, fy = sign.x_m + 0.06 * np.cos(sign.yaw_rad), sign.y_m + 0.06 * np.sin(sign.yaw_rad)
        rows += [(*box, *SIGN_RED, stop0 + k) for box in _octagon_boxes(fx, fy, sign.yaw_rad, SIGN_POST_HEIGHT_M)]
    if not rows:
        return np.zeros((0, 3)), np.zeros(0), np.zeros((0, 3)), np.zeros((0, 3), np.uint8), np.zeros(0, np.int32)
    a = np.array(rows, np.float64)
    return a[:, 0:3], a[:, 3], a[:, 4:7], a[:, 7:10].astype(np.uint8), a[:, 10].astype(np.int32)


def graph_static_meshes(graph: RoadGraph, signals: JunctionSignals, palette: Palette, camera: CameraConfig,
                        prop0: int, stop0: int, props: Sequence[Prop] = ()) -> GraphStatic:
    """Ground, props (keyed by cell) and the cell index of a town, for ``Camera.render``."""
    x0, y0, x1, y1 = graph.bounds()
    grid = CellGrid.covering(x0 - 40.0, y0 - 40.0, x1 + 40.0, y1 + 40.0, CELL_M)
    ground = build_graph_ground(graph, palette, grid)
    centre, yaw, size, colour, inst = static_prop_boxes(graph, signals, palette, prop0, stop0, props)
    # an instance's boxes share the cell of its first box, so its triangles stay contiguous after
    # sorting (the rasteriser's coverage count needs that)
    ids, first = np.unique(inst, return_index=True)
    cell = grid.cell_of(centre[first, 0], centre[first, 1])[np.searchsorted(ids, inst)]
    props_mesh = boxes_mesh(centre, yaw, size, colour, inst, cell).sorted()
    chunks = CellChunks(grid, ground.verts, ground.key, props_mesh.verts, props_mesh.key, camera.max_range_m,
                        camera.hfov_deg)
    n_static = len(props) + len(signals.heads) + len(signals.stop_signs)
    return GraphStatic(ground, props_mesh, chunks, n_static)
