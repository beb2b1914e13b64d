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


def resample_many(curves: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``[resample(c) for c in curves]``, bit for bit, with a few numpy calls for all of them (the
    element-wise steps run on the curves joined end to end, the running sums row by row of a
    zero-padded table, only ``np.interp`` curve by curve)."""
    if not curves:
        return []
    pts = [np.asarray(c, np.float64) for c in curves]
    seg_all = np.hypot(*np.diff(np.concatenate(pts), axis=0).T)
    first = np.concatenate([[0], np.cumsum([len(c) for c in pts])])
    segs = [seg_all[a:b - 1] for a, b in zip(first[:-1], first[1:])]
    if any((seg <= 1e-9).any() for seg in segs):  # repeated points: drop them as ``resample`` does
        pts = [c[np.concatenate([[True], seg > 1e-9])] for c, seg in zip(pts, segs)]
        segs = [seg[seg > 1e-9] for seg in segs]
    arc_end = _row_cumsum(segs)
    n = np.maximum(2, np.rint(arc_end / SAMPLE_STEP_M).astype(np.int64) + 1)
    owner = np.repeat(np.arange(len(pts)), n)
    start = np.concatenate([[0], np.cumsum(n)])
    i = np.arange(start[-1]) - start[owner]
    s = i * (arc_end / (n - 1))[owner]  # np.linspace(0, arc_end, n): i * step + 0.0, the last point arc_end
    last = start[1:] - 1
    s[last] = arc_end
    arcs = _row_cumsum(segs, full=True)
    xy = np.empty((start[-1], 2))
    for k, (c, arc) in enumerate(zip(pts, arcs)):
        q = s[start[k]:start[k + 1]]
        xy[start[k]:start[k + 1], 0] = np.interp(q, arc, c[:, 0])
        xy[start[k]:start[k + 1], 1] = np.interp(q, arc, c[:, 1])
    d = _gradient_rows(xy, start)
    heading = _unwrap_rows(np.arctan2(d[:, 1], d[:, 0]), start)
    curvature = _gradient_rows(heading, start) / (arc_end / (n - 1))[owner]
    return [(xy[a:b], heading[a:b], curvature[a:b]) for a, b in zip(start[:-1], start[1:])]


def _row_cumsum(parts: list[np.ndarray], full: bool = False):
    """Running sums of each 1-D array, in order as ``np.cumsum`` adds them: their totals, or with
    ``full`` each array's sums with a leading 0 (as ``resample``'s arc)."""
    width = max(len(p) for p in parts)
    table = np.zeros((len(parts), width))
    for k, p in enumerate(parts):
        table[k, :len(p)] = p
    sums = np.cumsum(table, axis=1)
    if not full:
        return np.array([sums[k, len(p) - 1] if len(p) else 0.0 for k, p in enumerate(parts)])
    return [np.concatenate([[0.0], sums[k, :len(p)]]) for k, p in enumerate(parts)]


def _gradient_rows(f: np.ndarray, start: np.ndarray) -> np.ndarray:
    """``np.gradient(f[a:b], axis=0)`` of every run ``start[k]`` .. ``start[k + 1]`` (each of 2 or more)."""
    out = np.empty_like(f)
    out[1:-1] = (f[2:] - f[:-2]) / 2.0
    a, b = start[:-1], start[1:]
    out[a] = (f[a + 1] - f[a]) / 1.0
    out[b - 1] = (f[b - 1] - f[b - 2]) / 1.0
    return out


def _unwrap_rows(p: np.ndarray, start: np.ndarray) -> np.ndarray:
    """``np.unwrap(p[a:b])`` of every run, with numpy's arithmetic."""
    dd = np.diff(p)
    ddmod = np.mod(dd - -np.pi, 2 * np.pi) + -np.pi
    np.copyto(ddmod, np.pi, where=(ddmod == -np.pi) & (dd > 0))
    ph_correct = ddmod - dd
    np.copyto(ph_correct, 0, where=abs(dd) < np.pi)
    runs = [ph_correct[a:b - 1] for a, b in zip(start[:-1], start[1:])]
    up = p.copy()
    for (a, b), run in zip(zip(start[:-1], start[1:]), _row_cumsum(runs, full=True)):
        up[a + 1:b] = p[a + 1:b] + run[1:]
    return up


def cubic_beziers(p0: np.ndarray, h0: np.ndarray, p1: np.ndarray, h1: np.ndarray, samples: int = 400) -> np.ndarray:
    """``cubic_bezier`` of every row: start points ``p0`` (C, 2) [m], headings ``h0`` (C,) [rad], end
    points and headings ``p1``, ``h1``; (C, samples, 2), bit for bit what one at a time gives."""
    p0, p1 = np.asarray(p0, np.float64), np.asarray(p1, np.float64)
    h0, h1 = np.asarray(h0, np.float64), np.asarray(h1, np.float64)
    chord = np.hypot(*(p1 - p0).T)
    turn = np.abs(np.angle(np.exp(1j * (h1 - h0))))
    with np.errstate(divide="ignore", invalid="ignore"):
        arc = (4.0 / 3.0) * np.tan(turn / 4) * chord / (2 * np.sin(turn / 2))
    handle = np.where(turn < 1e-3, chord / 3.0, arc)[:, None]
    c0 = p0 + handle * np.stack([np.cos(h0), np.sin(h0)], 1)
    c1 = p1 - handle * np.stack([np.cos(h1), np.sin(h1)], 1)
    t = np.linspace(0.0, 1.0, samples)[:, None]
    p0, c0, c1, p1 = (a[:, None, :] for a in (p0, c0, c1, p1))
    return (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * c0 + 3 * (1 - t) * t**2 * c1 + t**3 * p1


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
