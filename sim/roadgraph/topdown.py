"""A top-down picture of a road graph (and optionally a route): for docs, reports and debugging.

Paving, sidewalks and painted lines come from the same ``Road`` geometry the camera draws;
connectors are drawn as thin guide curves, junctions are coloured by how they are controlled.
"""

from __future__ import annotations

import cv2
import numpy as np

from .graph import RoadGraph

CONTROL_COLOUR = {"signal": (40, 160, 255), "all_way_stop": (220, 40, 40), "two_way_stop": (240, 150, 40),
                  "merge": (150, 150, 160)}  # RGB


def draw_map(graph: RoadGraph, px_per_m: float = 1.0, route_xy: np.ndarray | None = None,
             margin_m: float = 20.0) -> np.ndarray:
    """(H, W, 3) uint8 RGB map, north up. ``route_xy`` (K, 2) [m] is drawn as a thick blue line."""
    x0, y0, x1, y1 = graph.bounds()
    x0, y0, x1, y1 = x0 - margin_m, y0 - margin_m, x1 + margin_m, y1 + margin_m
    width, height = int((x1 - x0) * px_per_m) + 1, int((y1 - y0) * px_per_m) + 1
    img = np.full((height, width, 3), (96, 140, 80), np.uint8)

    def px(xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, np.float64).reshape(-1, 2)
        return np.stack([(xy[:, 0] - x0) * px_per_m, (y1 - xy[:, 1]) * px_per_m], 1).round().astype(np.int32)

    def ribbon(road, d0: float, d1: float) -> np.ndarray:
        s = np.linspace(0, road.length_m, max(2, int(road.length_m / 2) + 1))
        xa, ya, _ = road.pose(s, np.full_like(s, d0))
        xb, yb, _ = road.pose(s, np.full_like(s, d1))
        return px(np.concatenate([np.stack([xa, ya], 1), np.stack([xb, yb], 1)[::-1]]))

    streets = graph.roads[:graph.n_streets]
    for road in streets:
        lo, hi = road.asphalt_d
        cv2.fillPoly(img, [ribbon(road, lo - road.sidewalk_m, hi + road.sidewalk_m)], (150, 148, 140))
    for road in streets:
        cv2.fillPoly(img, [ribbon(road, *road.asphalt_d)], (72, 72, 78))
    for j in graph.junctions:
        cv2.fillPoly(img, [px(j.polygon)], (72, 72, 78))
    thick = max(1, int(round(0.3 * px_per_m)))
    painted = [(road, line) for road in streets for line in road.lane_lines()]
    painted += [(graph.roads[p.road], p.line) for j in graph.junctions for p in j.painted]  # through highway merges
    for road, line in painted:
        s = np.linspace(0, road.length_m, max(2, int(road.length_m) + 1))
        x, y, _ = road.pose(s, np.full_like(s, line.d_m))
        colour = (226, 186, 48) if line.colour == "yellow" else (228, 228, 228)
        cv2.polylines(img, [px(np.stack([x, y], 1))], False, colour, thick, cv2.LINE_AA)
    for c in graph.connectors:
        road = graph.roads[c.road]
        s = np.linspace(0, road.length_m, max(2, int(road.length_m) + 1))
        x, y, _ = road.pose(s, np.full_like(s, road.lane_centre_d(0, 1)))
        cv2.polylines(img, [px(np.stack([x, y], 1))], False, (110, 110, 118), 1, cv2.LINE_AA)
    for j in graph.junctions:
        cv2.circle(img, tuple(px(j.centre_xy)[0]), max(2, int(2.5 * px_per_m)), CONTROL_COLOUR[j.control], -1, cv2.LINE_AA)
    if route_xy is not None and len(route_xy) > 1:
        pts = px(route_xy)
        cv2.polylines(img, [pts], False, (30, 90, 255), max(2, int(round(1.6 * px_per_m))), cv2.LINE_AA)
        cv2.circle(img, tuple(pts[0]), max(4, int(5 * px_per_m)), (40, 200, 60), -1, cv2.LINE_AA)
        cv2.circle(img, tuple(pts[-1]), max(4, int(5 * px_per_m)), (230, 40, 40), -1, cv2.LINE_AA)
    return img
