"""The rule-based driver's route half: follow the route block of the labels through junctions.

Used by ``sim.autopilot.Autopilot`` when the labels carry a route (navigation towns). Inside a
junction there is no paint, so the car steers by pure pursuit on the route waypoints (map-
derived), slows for the route line's curvature ahead, follows whatever is in its corridor
along that line, stops for a red (its movement's head) or for a yellow it can stop for, makes a
full stop at a stop sign and then goes once the junction box is clear and nothing approaches it
within ``CLEAR_S`` (where the labels say right on red is permitted, a right at a red light is
treated the same: a full stop, then go when clear), and on a permitted left waits at the line
while oncoming traffic would reach the junction within ``ONCOMING_S``. It reads only ``GroundTruth``.
"""

from __future__ import annotations

import math

import numpy as np

from common.vocab import EGO_LENGTH_M

from .idm import IDMParams, idm_accel
from .labels import EgoTruth, GroundTruth, ObjectLabel

WAYPOINT_SPACING_M = 5.0  # the labels' route waypoints are this far apart along the route [m]
COMFORT_DECEL_M_S2 = 2.0  # slowing for curves ahead at most this hard [m/s^2]
STOPPED_M_S = 0.1  # slower than this counts as the full stop at a stop sign [m/s]
STOP_WINDOW_M = 2.5  # ... when the front bumper is within this of the line [m]
CLEAR_S = 3.0  # after a stop: wait while a vehicle would reach the junction box within this [s]
ONCOMING_S = 4.5  # permitted left: wait while an oncoming vehicle would reach the junction within this [s]
MOVING_M_S = 0.5  # vehicles slower than this are not approaching [m/s]
CRAWL_M_S = 3.0  # slower than this, a yellow is always stopped for [m/s]
CROSSING_TIMES_S = (0.0, 1.0, 2.0)  # objects are checked where they are and where they will be then [s]
CROSSING_MARGIN_M = 8.0  # a predicted crossing counts up to this far beyond where the car will be [m]
OPPOSITE_RAD = math.pi / 2  # a vehicle heading more than this away from the ego's way is coming toward it
# (oncoming, or turning across from the other side, part-way round its own turn) [rad]


def _route_polyline(e: EgoTruth) -> tuple[np.ndarray, np.ndarray]:
    """The route ahead in the ego frame: points (K, 2) [m] and their distance along the route [m],
    starting with the ego's own projection on the route (extrapolated back from the first two)."""
    wp = np.asarray(e.route_waypoints_m, np.float64)
    p0 = 2 * wp[0] - wp[1]
    pts = np.vstack([p0[None], wp])
    return pts, WAYPOINT_SPACING_M * np.arange(len(pts))


def _along(pts: np.ndarray, arc: np.ndarray, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For points (M, 2): distance to the polyline [m], route distance of the nearest point [m], and
    the polyline's heading there [rad]."""
    a, b = pts[:-1], pts[1:]
    ab = b - a
    seg = np.maximum((ab**2).sum(1), 1e-9)
    t = np.clip(((xy[:, None, :] - a[None]) * ab[None]).sum(-1) / seg[None], 0.0, 1.0)  # (M, S)
    near = a[None] + t[..., None] * ab[None]
    dist = np.hypot(*(xy[:, None, :] - near).transpose(2, 0, 1))
    k = np.argmin(dist, axis=1)
    rows = np.arange(len(xy))
    return dist[rows, k], arc[k] + t[rows, k] * np.sqrt(seg[k]), np.arctan2(ab[k, 1], ab[k, 0])


def _curvatures(pts: np.ndarray) -> np.ndarray:
    """Unsigned curvature of the circle through each three consecutive points (K-2,) [1/m]."""
    a, b, c = pts[:-2], pts[1:-1], pts[2:]
    cross = np.abs((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))
    la, lb, lc = (np.hypot(*(q - p).T) for p, q in ((a, b), (b, c), (a, c)))
    return 2 * cross / np.maximum(la * lb * lc, 1e-9)


def _vehicles(objects: list[ObjectLabel], half_length: dict) -> list[ObjectLabel]:
    return [o for o in objects if o.class_name in half_length and o.class_name != "pedestrian"]


class RoutePilot:
    """Steering and speed along the route; remembers the line it has made its full stop at (a stop
    sign's, or a red light's where a right may turn on red)."""

    def __init__(self, cfg, vehicle, idm: IDMParams, half_length: dict, half_width: dict, ego_half_width_m: float):
        self.cfg, self.vehicle, self.idm = cfg, vehicle, idm
        self.half_length, self.half_width, self.ego_half_width_m = half_length, half_width, ego_half_width_m
        self._stopped_at_m = -math.inf  # route position of the stop-sign line where the car made its full stop
        self._last_progress_m = math.inf

    def steer(self, gt: GroundTruth, v: float, lateral_target_m: float = 0.0) -> float:
        """Pure pursuit on the route line (shifted ``lateral_target_m`` to the left)."""
        pts, arc = _route_polyline(gt.ego)
        look = max(self.cfg.min_lookahead_m, self.cfg.lookahead_s * v)
        x = float(np.interp(look, arc, pts[:, 0]))
        y = float(np.interp(look, arc, pts[:, 1])) + lateral_target_m
        curvature = 2.0 * y / max(x * x + y * y, 1e-6)
        delta = math.atan(curvature * self.vehicle.wheelbase_m)
        return float(np.clip(delta / self.vehicle.max_steer_rad, -1.0, 1.0))

    def accel(self, gt: GroundTruth, v: float) -> float:
        e = gt.ego
        if e.route_progress_m < self._last_progress_m - 5.0:  # a new drive: forget the last stop
            self._stopped_at_m = -math.inf
        self._last_progress_m = e.route_progress_m
        pts, arc = _route_polyline(e)
        cruise = self._cruise(e, pts, arc)
        gap, v_lead = self._leader(gt.objects, pts, arc, v)
        for d in (self._light_stop(gt, v), self._stop_sign_stop(gt, v), self._left_turn_stop(gt)):
            if d is not None:
                # a stop line is a standing obstacle whose IDM standstill gap s0 ends at the margin
                g = max(d - self.cfg.stop_margin_m, 0.0) + self.idm.s0_m
                if g < gap:
                    gap, v_lead = g, 0.0
        a = float(idm_accel(v, cruise, gap, v_lead, self.idm))
        return float(np.clip(a / (self.vehicle.max_accel_m_s2 if a > 0 else self.vehicle.max_brake_m_s2), -1.0, 1.0))

    def _cruise(self, e: EgoTruth, pts: np.ndarray, arc: np.ndarray) -> float:
        """The speed limit's share, capped so every curve ahead is reached slowly enough [m/s]."""
        cruise = self.cfg.speed_factor * e.speed_limit_m_s
        kappa = _curvatures(pts)
        allowed = np.sqrt(self.cfg.max_lateral_accel_m_s2 / np.maximum(kappa, 1e-4))
        ahead = np.maximum(arc[1:-1] - 2.0, 0.0)
        return float(min(cruise, np.min(np.sqrt(allowed**2 + 2 * COMFORT_DECEL_M_S2 * ahead))))

    def _leader(self, objects: list[ObjectLabel], pts: np.ndarray, arc: np.ndarray, v: float = 0.0) -> tuple[float, float]:
        """Gap [m] to and speed along the route [m/s] of the nearest object in the corridor ahead,
        now or, moving as it moves now, within ``CROSSING_HORIZON_S`` (a car or a walker about to
        cross the route in front: a standing obstacle where it will cross)."""
        obs = [o for o in objects if o.class_name in self.half_length and o.x_m > -EGO_LENGTH_M]
        if not obs:
            return math.inf, 0.0
        gap, v_lead = math.inf, 0.0
        for t in CROSSING_TIMES_S:
            xy = np.array([(o.x_m + t * o.speed_m_s * math.cos(o.yaw_rad), o.y_m + t * o.speed_m_s * math.sin(o.yaw_rad))
                           for o in obs])
            dist, along, heading = _along(pts, arc, xy)
            for o, d, s, h in zip(obs, dist.tolist(), along.tolist(), heading.tolist()):
                if d > self.ego_half_width_m + self.half_width.get(o.class_name, 1.0) + self.cfg.clearance_m:
                    continue
                if t > 0 and (s > v * t + CROSSING_MARGIN_M or abs(math.sin(o.yaw_rad - h)) < 0.5):
                    continue  # it crosses beyond where the car will be then, or it runs along the route (followed now)
                g = s - self.half_length.get(o.class_name, 2.3) - EGO_LENGTH_M / 2
                if g < gap and s > 0:
                    gap, v_lead = g, (max(0.0, o.speed_m_s * math.cos(o.yaw_rad - h)) if t == 0 else 0.0)
        return gap, v_lead

    def _light_stop(self, gt: GroundTruth, v: float) -> float | None:
        """Distance to the stop line when the movement's light says stop [m]; None to go. A right
        on red, where permitted, stops as at a stop sign and then goes when the junction is clear."""
        e = gt.ego
        d = e.light_stop_distance_m
        if e.light_state not in ("red", "yellow") or not d > -0.5:
            return None
        if e.light_state == "red" and e.right_on_red:
            return self._stop_then_go(gt, v, d)
        # a car crawling up to the line can always stop: the comfort test is for one at speed
        comfortable = d - self.cfg.stop_margin_m > v * v / (2 * 3.0) or v < CRAWL_M_S
        return d if e.light_state == "red" or comfortable else None

    def _stop_sign_stop(self, gt: GroundTruth, v: float) -> float | None:
        """Stop at a stop-sign line until stopped there, then until the junction is clear."""
        d = gt.ego.stop_sign_distance_m
        if not math.isfinite(d) or d < -0.5:
            return None
        return self._stop_then_go(gt, v, d)

    def _stop_then_go(self, gt: GroundTruth, v: float, d: float) -> float | None:
        """Hold at the line ``d`` ahead [m] until the car has stopped there, then until the junction
        is clear; None to go. One line at a time is within the stop window, so one memory serves."""
        e = gt.ego
        line_at = e.route_progress_m + d
        if abs(line_at - self._stopped_at_m) > 2.0 and v < STOPPED_M_S and d <= STOP_WINDOW_M:
            self._stopped_at_m = line_at
        if abs(line_at - self._stopped_at_m) > 2.0:
            return d  # no full stop yet
        return None if self._junction_clear(gt) else d

    def _junction_clear(self, gt: GroundTruth) -> bool:
        """No vehicle in the junction box, none approaching to reach it within CLEAR_S."""
        e = gt.ego
        if not math.isfinite(e.junction_x_m):
            return True
        for o in _vehicles(gt.objects, self.half_length):
            rx, ry = e.junction_x_m - o.x_m, e.junction_y_m - o.y_m
            dist = math.hypot(rx, ry)
            if dist < e.junction_radius_m:
                return False
            if o.x_m < 0 and abs(o.yaw_rad) < 0.5:
                continue  # behind the ego, going its way: queued behind it
            closing = o.speed_m_s * (math.cos(o.yaw_rad) * rx + math.sin(o.yaw_rad) * ry) / max(dist, 1e-6)
            if o.speed_m_s > MOVING_M_S and closing > 0.5 * o.speed_m_s and (dist - e.junction_radius_m) / closing < CLEAR_S:
                return False
        return True

    def _left_turn_stop(self, gt: GroundTruth) -> float | None:
        """Permitted left: wait at the line while oncoming traffic is in the box or would reach it."""
        e = gt.ego
        if e.route_command != "left" or not e.left_must_yield or not math.isfinite(e.junction_x_m):
            return None
        d = e.light_stop_distance_m
        if not d > -0.5:
            return None  # past the line: committed
        for o in _vehicles(gt.objects, self.half_length):
            if abs(o.yaw_rad) < OPPOSITE_RAD or o.x_m < 0:
                continue
            dist = math.hypot(e.junction_x_m - o.x_m, e.junction_y_m - o.y_m)
            if dist < e.junction_radius_m and o.speed_m_s > MOVING_M_S:
                return d
            if o.speed_m_s > MOVING_M_S and (dist - e.junction_radius_m) / o.speed_m_s < ONCOMING_S:
                return d
        return None
