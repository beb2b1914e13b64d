"""Two junction decisions on the route line, from what perception gives (road users) and the map
(the route block: waypoints, the junction's centre and radius):

- **don't block the box** (``exit_blocked``): before the line, the exit lane beyond the junction has no
  room for the car when a standing or slow vehicle on the route has its rear within ``EXIT_ROOM_M`` of
  where the route leaves the junction; the car then holds at its line until room opens;
- **gap acceptance** (``gap_refused``): a permitted left (or any crossing of a stream) goes when every
  approaching vehicle reaches the conflict point (where its straight path crosses the route line) later
  than the car can clear it plus ``GAP_MARGIN_S``, and no earlier than ``CRITICAL_GAP_S`` from now.
  HCM (6th ed., Exhibit 20-11 as I know it): a passenger car's base critical headway for a left from the
  major street is 4.1 s; taken here as 4.5 s (a margin for the labels' noise and a slow start).

The route line is the ego at the origin followed by the waypoints (ego frame, x forward from the centre,
y left) [m].
"""

from __future__ import annotations

import math

import numpy as np

from common.vocab import EGO_CLEARANCE_HALF_WIDTH_M, EGO_LENGTH_M

from .overtake import Users
from .route_features import N_WAYPOINTS, WAYPOINT_SCALE_M, RouteGuidance

EXIT_ROOM_M = EGO_LENGTH_M + 2.0  # room the car needs beyond the junction's exit (the event's 6 m, and 0.6 m) [m]
SLOW_M_S = 2.0  # a vehicle slower than this holds its place in the exit lane (the event's 1 m/s, with margin) [m/s]
# a road user whose nearest point is this close to the route line stands in the car's way: its corridor and the
# drivers' margin (a car parked at the kerb, its near side ~1.9 m from the lane's centre, is not) [m]
IN_PATH_M = EGO_CLEARANCE_HALF_WIDTH_M + 0.3
CRITICAL_GAP_S = 4.5  # no approaching vehicle at the conflict point sooner than this [s] (HCM 4.1 s, rounded up)
GAP_MARGIN_S = 0.5  # ... nor sooner than the car has cleared it and this [s]
TURN_SPEED_M_S = 5.0  # the car crosses at about this speed once it goes (a 12 m turn at 2.5 m/s^2 lateral) [m/s]
START_ACCEL_M_S2 = 1.8  # ... reached at about this acceleration (IDM's 2 m/s^2 from standstill) [m/s^2]
MOVING_M_S = 0.5  # slower than this does not approach [m/s]
STEP_M = 0.5  # the route line's sampling [m]
EXTEND_M = 30.0  # the route line goes on straight this far past the last waypoint (they reach 40 m only) [m]


def route_line(route: RouteGuidance, extend: bool = False) -> np.ndarray:
    """The route line from the ego's centre through the waypoints, stopped where the block clips them
    (points beyond its range are not where the route goes); ``extend``: on straight past the last point
    by ``EXTEND_M`` (where the junction's exit lies beyond the waypoints) [m]."""
    wp = np.asarray(route.waypoints_m, np.float64).reshape(-1, 2)[:N_WAYPOINTS]
    lim = 2.0 * np.asarray(WAYPOINT_SCALE_M) - 1e-3
    ok = np.all(np.abs(wp) < lim, axis=1)
    k = int(np.argmin(ok)) if not ok.all() else len(wp)
    line = np.vstack([[0.0, 0.0], wp[:k]])
    if extend and len(line) >= 2:
        d = line[-1] - line[-2]
        n = math.hypot(*d)
        if n > 1e-6:
            line = np.vstack([line, line[-1] + d / n * EXTEND_M])
    return line


def _sampled(line: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points every ``STEP_M`` along the line and their arc length from the ego [m]."""
    seg = np.hypot(*np.diff(line, axis=0).T)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    s = np.arange(0.0, arc[-1] + 1e-9, STEP_M)
    return np.stack([np.interp(s, arc, line[:, 0]), np.interp(s, arc, line[:, 1])], 1), s


def junction_span_m(route: RouteGuidance) -> tuple[float, float] | None:
    """Arc lengths along the route where it enters and leaves the next junction's circle [m]; None when
    no junction is known or the route does not reach its far side within the waypoints."""
    jx, jy = route.junction_xy_m
    if not (math.isfinite(jx) and math.isfinite(jy)) or route.junction_radius_m <= 0:
        return None
    pts, s = _sampled(route_line(route, extend=True))
    inside = np.hypot(pts[:, 0] - jx, pts[:, 1] - jy) < route.junction_radius_m
    if not inside.any():
        return None
    k_in = int(np.argmax(inside))
    after = ~inside[k_in:]
    if not after.any():
        return None  # the exit lies beyond the waypoints
    return float(s[k_in]), float(s[k_in + int(np.argmax(after))])


def _project(line_pts: np.ndarray, s: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Arc length of each point's nearest route sample, and its distance from it [m]."""
    d = np.hypot(x[:, None] - line_pts[None, :, 0], y[:, None] - line_pts[None, :, 1])
    k = np.argmin(d, axis=1)
    return s[k], d[np.arange(len(x)), k]


def exit_blocked(users: Users, route: RouteGuidance) -> bool:
    """Whether a slow vehicle in the route's lane has its rear (its nearest point) between the junction's
    entry and ``EXIT_ROOM_M`` past its exit: entering now would leave the car standing in the box."""
    span = junction_span_m(route)
    if span is None or not len(users.x_m):
        return False
    entry, exit_ = span
    pts, s = _sampled(route_line(route, extend=True))
    speed = np.hypot(users.vx_m_s, users.vy_m_s)
    along, off = _project(pts, s, users.x_m, users.y_m)
    hit = users.vehicle & (speed < SLOW_M_S) & (off < IN_PATH_M) & (along > entry) & (along < exit_ + EXIT_ROOM_M)
    return bool(hit.any())


def clear_time_s(distance_m: float, speed_m_s: float) -> float:
    """Time to cover ``distance_m`` from ``speed_m_s``, accelerating at ``START_ACCEL_M_S2`` up to
    ``TURN_SPEED_M_S`` (or holding a higher speed) [s]."""
    v0 = max(speed_m_s, 0.0)
    if v0 >= TURN_SPEED_M_S:
        return distance_m / v0
    ramp_m = (TURN_SPEED_M_S**2 - v0**2) / (2 * START_ACCEL_M_S2)
    if distance_m <= ramp_m:
        return (math.sqrt(v0**2 + 2 * START_ACCEL_M_S2 * distance_m) - v0) / START_ACCEL_M_S2
    return (TURN_SPEED_M_S - v0) / START_ACCEL_M_S2 + (distance_m - ramp_m) / TURN_SPEED_M_S


def gap_refused(users: Users, route: RouteGuidance, speed_m_s: float, taken: bool = False,
                oncoming_only: bool = True) -> bool:
    """Whether some approaching vehicle leaves too short a gap at the conflict point of its path with the
    route line: it gets there sooner than ``CRITICAL_GAP_S``, or sooner than the car has cleared the point
    (its rear past the vehicle's far side) plus ``GAP_MARGIN_S``; a vehicle on the conflict point now
    refuses it too. ``taken``: the car is already going into this gap: it refuses it only when a vehicle would
    reach the point before the car has cleared it (no margin, no critical gap), so that it does not stop and
    start at the line as the estimate of its own time wavers. ``oncoming_only``: only vehicles coming toward
    the car (a permitted left)."""
    critical_s, margin_s = (0.0, 0.0) if taken else (CRITICAL_GAP_S, GAP_MARGIN_S)
    line = route_line(route)
    pts, s = _sampled(line)
    if len(pts) < 2:
        return False
    seg = np.diff(pts, axis=0)
    for x, y, vx, vy, length, width, veh in zip(users.x_m, users.y_m, users.vx_m_s, users.vy_m_s,
                                                users.length_m, users.width_m, users.vehicle):
        v = math.hypot(vx, vy)
        if not veh or v < MOVING_M_S or (oncoming_only and vx > -MOVING_M_S):
            continue
        ux, uy = vx / v, vy / v
        # where its straight path crosses each route segment: t along its path [m], u along the segment
        den = seg[:, 0] * uy - seg[:, 1] * ux
        ok = np.abs(den) > 1e-9
        rx, ry = pts[:-1, 0] - x, pts[:-1, 1] - y
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (rx * seg[:, 1] - ry * seg[:, 0]) / -den
            u = (rx * uy - ry * ux) / den
        hit = ok & (u >= 0) & (u <= 1) & (t > -(length + EGO_CLEARANCE_HALF_WIDTH_M))
        if not hit.any():
            continue  # its path does not cross the route ahead, or it is past the crossing
        k = int(np.argmax(hit))
        if t[k] <= EGO_CLEARANCE_HALF_WIDTH_M:
            return True  # on the conflict point now
        s_conflict = s[k] + u[k] * STEP_M
        t_vehicle = (t[k] - EGO_CLEARANCE_HALF_WIDTH_M) / v  # its nearest point to the car's side
        t_ego = clear_time_s(s_conflict + EGO_LENGTH_M / 2 + width / 2 + EGO_CLEARANCE_HALF_WIDTH_M, speed_m_s)
        if t_vehicle < max(critical_s, t_ego + margin_s):
            return True
    return False
