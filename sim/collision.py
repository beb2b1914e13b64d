"""Oriented-box geometry for collision checks, vectorised over boxes.

A box is an array [..., 5] = [x_m, y_m, yaw_rad, length_m, width_m]: centre
position [m], heading of the length axis [rad] (0 = +x, counter-clockwise),
full length and width [m] (assumed >= 0).
"""

from __future__ import annotations

import numpy as np

# Corner signs (along length, along width) in counter-clockwise order starting
# front-left: front-left, rear-left, rear-right, front-right.
_CORNER_SIGNS = np.array([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])


def box_rows(x, y, yaw, length, width) -> np.ndarray:
    """(N, 5) boxes from their columns ((N,) arrays or scalars): ``np.stack(..., axis=1)`` without
    its overhead (poses are assembled several times a step)."""
    out = np.empty((len(x), 5))
    out[:, 0], out[:, 1], out[:, 2], out[:, 3], out[:, 4] = x, y, yaw, length, width
    return out


def _unpack(boxes):
    b = np.asarray(boxes, dtype=float)
    if b.shape[-1:] != (5,):
        raise ValueError(f"boxes must have shape (..., 5), got {b.shape}")
    x, y, yaw, length, width = np.moveaxis(b, -1, 0)
    return x, y, np.cos(yaw), np.sin(yaw), 0.5 * length, 0.5 * width


def box_corners(boxes) -> np.ndarray:
    """Corners (..., 4, 2) [m], counter-clockwise: front-left, rear-left, rear-right, front-right."""
    x, y, c, s, hl, hw = _unpack(boxes)
    along = _CORNER_SIGNS[:, 0] * hl[..., None]  # (..., 4) offset along length [m]
    across = _CORNER_SIGNS[:, 1] * hw[..., None]  # (..., 4) offset along width [m]
    cx = x[..., None] + along * c[..., None] - across * s[..., None]
    cy = y[..., None] + along * s[..., None] + across * c[..., None]
    return np.stack([cx, cy], axis=-1)


def obb_overlap(box, others) -> np.ndarray:
    """Separating-axis overlap test; True where the boxes intersect (touching counts).

    box (5,) against others (N, 5) gives (N,) bool; any shapes (..., 5) that
    broadcast work, e.g. box[:, None] vs others[None] for all pairs.
    """
    ax, ay, ac, as_, ahl, ahw = _unpack(box)
    bx, by, bc, bs, bhl, bhw = _unpack(others)
    dx, dy = bx - ax, by - ay  # centre offset [m]

    # Unit axes of both boxes: length axis (c, s), width axis (-s, c).
    # Only these four directions can separate two rectangles.
    separated = np.zeros(np.broadcast(dx, ahl, bhl).shape, dtype=bool)
    for ux, uy in ((ac, as_), (-as_, ac), (bc, bs), (-bs, bc)):
        ra = ahl * np.abs(ux * ac + uy * as_) + ahw * np.abs(-ux * as_ + uy * ac)
        rb = bhl * np.abs(ux * bc + uy * bs) + bhw * np.abs(-ux * bs + uy * bc)
        separated |= np.abs(dx * ux + dy * uy) > ra + rb
    return ~separated


def points_in_box(points, box) -> np.ndarray:
    """True where points (..., 2) [m] lie inside or on the box (5,)."""
    pts = np.asarray(points, dtype=float)
    x, y, c, s, hl, hw = _unpack(box)
    dx, dy = pts[..., 0] - x, pts[..., 1] - y
    along = dx * c + dy * s  # coordinate along the length axis [m]
    across = -dx * s + dy * c  # coordinate along the width axis [m]
    return (np.abs(along) <= hl) & (np.abs(across) <= hw)


def box_gap_m(a, b) -> float:
    """Distance between two boxes (5,) [m], 0 where they overlap. Between two disjoint convex
    polygons the nearest pair always includes a corner of one of them, so corners to boxes suffice."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if obb_overlap(a, b[None])[0]:
        return 0.0
    return float(min(_point_box_distance(box_corners(a), b).min(), _point_box_distance(box_corners(b), a).min()))


def _point_box_distance(points, box) -> np.ndarray:
    """Distance from points (..., 2) to the box (5,) [m], 0 inside."""
    x, y, c, s, hl, hw = _unpack(box)
    dx, dy = points[..., 0] - x, points[..., 1] - y
    return np.hypot(np.maximum(np.abs(dx * c + dy * s) - hl, 0.0), np.maximum(np.abs(-dx * s + dy * c) - hw, 0.0))
