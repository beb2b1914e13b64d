"""Checks every road-graph generator's connectors must pass (town and highway tests share them)."""

from __future__ import annotations

import numpy as np

from sim.roadgraph.graph import LaneRef

MAX_JOIN_M = 0.05  # a connector's ends lie this close to its lanes' end and start [m]
MAX_JOIN_RAD = np.deg2rad(3)  # ... heading the same way to within this [rad]


def lane_point(g, lane: LaneRef, s: float) -> tuple[np.ndarray, float]:
    """World (x, y) [m] of a lane's centre at road s, and its direction of travel [rad]."""
    road = g.roads[lane.road]
    x, y, h = road.pose(s, road.lane_centre_d(lane.lane, lane.direction))
    return np.array([float(x), float(y)]), float(h) + (0.0 if lane.direction > 0 else np.pi)


def inside_convex(poly: np.ndarray, x: float, y: float, margin: float = 0.0) -> bool:
    """Point inside a convex counter-clockwise polygon (``margin`` < 0 allows that much outside) [m]."""
    a, b = poly, np.roll(poly, -1, axis=0)
    edge = b - a
    cross = edge[:, 0] * (y - a[:, 1]) - edge[:, 1] * (x - a[:, 0])
    return bool(np.all(cross / np.hypot(edge[:, 0], edge[:, 1]) >= margin))


def assert_connector_joins_its_lanes(g, c) -> float:
    """The connector starts on its approach lane's end and ends on its exit lane's start, tangent to
    both, without kinks a car cannot steer, its lane centre on the junction's paving. Returns the
    heading change through it [rad]."""
    road = g.roads[c.road]
    p0, h0 = lane_point(g, c.lane, 0.0)
    p1, h1 = lane_point(g, c.lane, road.length_m)
    q0, k0 = lane_point(g, c.src, g.lane_end_s(c.src))
    q1, k1 = lane_point(g, c.dst, g.lane_start_s(c.dst))
    assert np.linalg.norm(p0 - q0) < MAX_JOIN_M and np.linalg.norm(p1 - q1) < MAX_JOIN_M
    assert abs(np.angle(np.exp(1j * (h0 - k0)))) < MAX_JOIN_RAD
    assert abs(np.angle(np.exp(1j * (h1 - k1)))) < MAX_JOIN_RAD
    assert np.abs(road.curvature).max() < 1 / 5.0
    s = np.linspace(0.5, road.length_m - 0.5, 20)
    x, y, _ = road.pose(s, np.full_like(s, road.lane_centre_d(0, 1)))
    poly = g.junctions[c.junction].polygon
    assert all(inside_convex(poly, px, py, margin=-0.6) for px, py in zip(x, y))
    return float(np.angle(np.exp(1j * (k1 - k0))))
