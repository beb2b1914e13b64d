"""Plane curves for the road graph: polylines sampled every ``SAMPLE_STEP_M`` like a ``Road``.

Streets are polylines through grid nodes with circular fillets at bends; junction connectors
are cubic Bezier curves between a lane's end and the next lane's start, tangent to both, which
is what makes a turn's curvature ease in and out (the clothoid-like shape road designers use,
to within a few per cent of curvature). Every curve is resampled by arc length, so it becomes
an ordinary ``Road`` with exact Frenet coordinates.
"""

from __future__ import annotations

import numpy as np

from ..road import SAMPLE_STEP_M


def resample(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points every SAMPLE_STEP_M of arc length along a dense polyline (K, 2) [m], with the
    heading [rad] and signed curvature [1/m] (positive turning left) at each."""
    seg = np.hypot(*np.diff(points, axis=0).T)
    keep = np.concatenate([[True], seg > 1e-9])
    points, seg = points[keep], seg[seg > 1e-9]
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(2, int(round(arc[-1] / SAMPLE_STEP_M)) + 1)
    s = np.linspace(0.0, arc[-1], n)
    xy = np.stack([np.interp(s, arc, points[:, 0]), np.interp(s, arc, points[:, 1])], 1)
    d = np.gradient(xy, axis=0)
    heading = np.unwrap(np.arctan2(d[:, 1], d[:, 0]))
    step = arc[-1] / (n - 1)
    curvature = np.gradient(heading) / step
    return xy, heading, curvature


def cubic_bezier(p0, h0: float, p1, h1: float, samples: int = 400) -> np.ndarray:
    """Dense points of the cubic Bezier from ``p0`` leaving at heading ``h0`` to ``p1`` arriving at
    heading ``h1`` [rad]. The handles are a third of the chord for straight-through paths and
    grow toward the quarter-circle value (0.552 of the radius) for right-angle turns."""
    p0, p1 = np.asarray(p0, np.float64), np.asarray(p1, np.float64)
    chord = float(np.hypot(*(p1 - p0)))
    turn = abs(float(np.angle(np.exp(1j * (h1 - h0)))))
    # a circular arc of angle t has handle length (4/3) tan(t/4) * R, R = chord / (2 sin(t/2))
    handle = chord / 3.0 if turn < 1e-3 else (4.0 / 3.0) * np.tan(turn / 4) * chord / (2 * np.sin(turn / 2))
    c0 = p0 + handle * np.array([np.cos(h0), np.sin(h0)])
    c1 = p1 - handle * np.array([np.cos(h1), np.sin(h1)])
    t = np.linspace(0.0, 1.0, samples)[:, None]
    return (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * c0 + 3 * (1 - t) * t**2 * c1 + t**3 * p1


def filleted_polyline(nodes: np.ndarray, radius_m: float, spacing_m: float = 0.1) -> np.ndarray:
    """Dense points along a polyline through ``nodes`` (K, 2) [m] whose corners are replaced by
    circular arcs of ``radius_m`` (shrunk where a leg is too short to hold the tangent)."""
    nodes = np.asarray(nodes, np.float64)
    out = [nodes[:1]]
    start = nodes[0]
    for k in range(1, len(nodes) - 1):
        a, b, c = nodes[k - 1], nodes[k], nodes[k + 1]
        u, v = (b - a) / np.linalg.norm(b - a), (c - b) / np.linalg.norm(c - b)
        turn = float(np.arctan2(u[0] * v[1] - u[1] * v[0], u @ v))
        if abs(turn) < 1e-4:
            continue
        tangent = radius_m * np.tan(abs(turn) / 2)
        tangent = min(tangent, 0.45 * np.linalg.norm(b - a), 0.45 * np.linalg.norm(c - b))
        r = tangent / np.tan(abs(turn) / 2)
        t0, t1 = b - u * tangent, b + v * tangent
        out.append(_line(start, t0, spacing_m))
        normal = np.array([-u[1], u[0]]) * np.sign(turn)  # toward the arc's centre
        centre = t0 + normal * r
        a0 = np.arctan2(*(t0 - centre)[::-1])
        ang = a0 + np.sign(turn) * np.linspace(0, abs(turn), max(2, int(r * abs(turn) / spacing_m)))
        out.append(centre + r * np.stack([np.cos(ang), np.sin(ang)], 1))
        start = t1
    out.append(_line(start, nodes[-1], spacing_m))
    return np.concatenate(out)


def _line(a: np.ndarray, b: np.ndarray, spacing_m: float) -> np.ndarray:
    n = max(2, int(np.linalg.norm(b - a) / spacing_m) + 1)
    return a + np.linspace(0, 1, n)[:, None] * (b - a)


def offset(xy: np.ndarray, heading: np.ndarray, left_m: float) -> np.ndarray:
    """The curve moved ``left_m`` to the left of its direction of travel [m]."""
    return xy + left_m * np.stack([-np.sin(heading), np.cos(heading)], 1)


def trim(points: np.ndarray, start_m: float, end_m: float) -> np.ndarray:
    """The part of a dense polyline from ``start_m`` after its first point to ``end_m`` before its
    last, measured along it [m]."""
    seg = np.hypot(*np.diff(points, axis=0).T)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    lo, hi = start_m, arc[-1] - end_m
    inside = (arc > lo) & (arc < hi)
    first = np.array([np.interp(lo, arc, points[:, 0]), np.interp(lo, arc, points[:, 1])])
    last = np.array([np.interp(hi, arc, points[:, 0]), np.interp(hi, arc, points[:, 1])])
    return np.concatenate([first[None], points[inside], last[None]])


def convex_hull(points: np.ndarray) -> np.ndarray:
    """Convex hull, counter-clockwise (Andrew's monotone chain)."""
    pts = sorted(map(tuple, points))

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1])
