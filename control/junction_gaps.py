"""Two junction decisions on the route line, from what perception gives (road users) and the map
(the route block: waypoints, the junction's centre and radius):

- **don't block the box** (``exit_blocked``): before the line, the exit lane beyond the junction has no
  room for the car when a standing or slow vehicle on the route has its rear within ``EXIT_ROOM_M`` of
  where the route leaves the junction (or, while the car moves, any vehicle there too far for its speed to be
  told); the car then holds at its line until room opens;
- **gap acceptance** (``gap_refused``): a permitted left (or any crossing of a stream) goes when every
  approaching vehicle reaches the conflict point (where its straight path crosses the route line) later
  than the car can clear it plus what the vehicle's driver needs to be still short of it then
  (``stream_margin_s``: at 20-40 km/h about 3-3.7 s), and no earlier than ``CRITICAL_GAP_S`` from now; a vehicle
  pulling off is taken to speed up, and one standing at the far line when the car's wait on a green begins to pull
  off with it (``STANDING_START_S``).
  HCM (6th ed., Exhibit 20-11 as I know it): a passenger car's base critical headway for a left from the
  major street is 4.1 s; taken here as 4.5 s (a margin for the labels' noise and a slow start).

The route line is the ego at the origin followed by the waypoints (ego frame, x forward from the centre,
y left) [m].
"""

from __future__ import annotations

import math

import numpy as np

from common.vocab import EGO_CLEARANCE_HALF_WIDTH_M, EGO_LENGTH_M, PEDESTRIAN_SIZE_M

from .overtake import Users, time_to_cover
from .route_features import N_WAYPOINTS, WAYPOINT_SCALE_M, RouteGuidance

EXIT_ROOM_M = EGO_LENGTH_M + 2.0  # room the car needs beyond the junction's exit (the event's 6 m, and 0.6 m) [m]
SLOW_M_S = 2.0  # a vehicle slower than this holds its place in the exit lane (the event's 1 m/s, with margin) [m/s]
# A vehicle beyond the frame's sure range (``Users.sure_range_m``: from the models ~35 m, where a standing queue
# read as driving on at the ego's speed, an oncoming car as driving away) is judged by the worse case: in the exit
# lane, while the car moves, as standing (the car slows for its line until it can tell: BlockedJunction from the
# models entered the box 9 times of 9); in the oncoming stream of a permitted left, more than this left of the
# car's lane centre [m], as coming on at ... (UnprotectedLeft from the models turned in front of one, 4 of 9 passed)
ONCOMING_FROM_M = 1.0
UNSURE_ONCOMING_M_S = 50 / 3.6  # ... the town's speed limit, or faster if it reads so [m/s]
# a road user whose nearest point is this close to the route line stands in the car's way: its corridor and the
# drivers' margin (a car parked at the kerb, its near side ~1.9 m from the lane's centre, is not) [m]
IN_PATH_M = EGO_CLEARANCE_HALF_WIDTH_M + 0.3
CRITICAL_GAP_S = 4.5  # no approaching vehicle at the conflict point sooner than this [s] (HCM 4.1 s, rounded up)
# ... nor sooner than the car has cleared it and the time the vehicle's driver needs to still be from it then:
# a standstill gap, a time headway and a comfortable stop (IDM's terms: the town's drivers brake hard for a car
# in their lane within 30 m at 40 km/h; the suite counts a brake over 3 m/s^2 as not having given way)
STREAM_STANDSTILL_M = 4.0  # a standstill gap and the car's half length [m]
STREAM_HEADWAY_S = 1.5  # [s]
STREAM_COMFORT_DECEL_M_S2 = 3.0  # [m/s^2]
TURN_SPEED_M_S = 5.0  # the car crosses at about this speed once it goes (a 12 m turn at 2.5 m/s^2 lateral) [m/s]
START_ACCEL_M_S2 = 1.8  # ... reached at about this acceleration (IDM's 2 m/s^2 from standstill) [m/s^2]
MOVING_M_S = 0.5  # slower than this does not approach [m/s]
# A standing vehicle in the oncoming lanes when the car's wait at a green line begins is about to pull off with it
# (the first of the oncoming queue when the light turns): until the car has waited ``STANDING_START_S`` it counts as
# starting now, heading straight at the car. And an oncoming vehicle pulling off speeds up toward the town's limit,
# at IDM's 2 m/s^2 from standstill and less the faster it goes, none from ``CRUISE_M_S`` (faster, it is taken to keep
# its speed, as before: a car at 36 km/h 9 s off leaves a gap to take). Taken as not approaching, and then at
# its 0.8 m/s as 50 s away, the first car of the queue was turned in front of on the green; the car braked in the box
# in that car's path, which stopped for the car: neither moved again (a town time limit of session 27, 108167).
# After that wait a standing car is one that waits itself (a left-turner, a queue)
STANDING_START_S = 4.0
PULL_OFF_ACCEL_M_S2 = 2.0
CRUISE_M_S = 3.0
STANDING_LATERAL_M = (ONCOMING_FROM_M, 9.0)  # the oncoming lanes, left of the car's lane centre [m]
# ... with its nearest point this close to the junction's circle: at its line, not parked down the street [m]
STANDING_AT_LINE_M = 8.0
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


def sample_line(line: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points every ``STEP_M`` along the line and their arc length from the ego [m]."""
    seg = np.hypot(*np.diff(line, axis=0).T)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    s = np.arange(0.0, arc[-1] + 1e-9, STEP_M)
    return np.stack([np.interp(s, arc, line[:, 0]), np.interp(s, arc, line[:, 1])], 1), s


_LAST_SAMPLED: dict[bool, tuple] = {}  # extend -> (the last route object sampled, its samples): ``sampled_route``


def sampled_route(route: RouteGuidance, extend: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``sample_line(route_line(route, extend))``, read-only. One step's junction decisions (the box, gap
    acceptance, walkers, the leader) sampled the same route ~4 times, a twentieth of the teacher's step: the
    last route object's samples are kept. A route is a frozen record decoded afresh each step, so the object
    stands for its contents (the kept reference keeps its identity from being reused)."""
    last = _LAST_SAMPLED.get(extend)
    if last is not None and last[0] is route:
        return last[1]
    pts, s = sample_line(route_line(route, extend=extend))
    pts.flags.writeable = s.flags.writeable = False  # shared by every caller this step
    _LAST_SAMPLED[extend] = (route, (pts, s))
    return pts, s


def junction_span_m(route: RouteGuidance) -> tuple[float, float] | None:
    """Arc lengths along the route where it enters and leaves the next junction's circle [m]; None when
    no junction is known or the route does not reach its far side within the waypoints."""
    jx, jy = route.junction_xy_m
    if not (math.isfinite(jx) and math.isfinite(jy)) or route.junction_radius_m <= 0:
        return None
    pts, s = sampled_route(route, extend=True)
    inside = np.hypot(pts[:, 0] - jx, pts[:, 1] - jy) < route.junction_radius_m
    if not inside.any():
        return None
    k_in = int(np.argmax(inside))
    after = ~inside[k_in:]
    if not after.any():
        return None  # the exit lies beyond the waypoints
    return float(s[k_in]), float(s[k_in + int(np.argmax(after))])


def project_onto(line_pts: np.ndarray, s: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Arc length of each point's nearest route sample, and its distance from it [m]."""
    d = np.hypot(x[:, None] - line_pts[None, :, 0], y[:, None] - line_pts[None, :, 1])
    k = np.argmin(d, axis=1)
    return s[k], d[np.arange(len(x)), k]


def exit_blocked(users: Users, route: RouteGuidance, speed_m_s: float = 0.0) -> bool:
    """Whether a slow vehicle in the route's lane has its rear (its nearest point) between the junction's
    entry and ``EXIT_ROOM_M`` past its exit: entering now would leave the car standing in the box. Any vehicle
    there beyond ``users.sure_range_m`` counts by its place alone: the car holds at its line until it can judge it
    or it has left the exit. (It once judged by what it read while standing at the line: from the models
    a standing queue's rear 36-39 m off read 0.2-4 m/s in runs of seconds, its errors correlated in time, and the car
    went into the box in 11 of 12 drawn validation cases of BlockedJunction; ``speed_m_s`` is kept for the callers.)"""
    span = junction_span_m(route)
    if span is None or not len(users.x_m):
        return False
    entry, exit_ = span
    pts, s = sampled_route(route, extend=True)
    speed = np.hypot(users.vx_m_s, users.vy_m_s)
    along, off = project_onto(pts, s, users.x_m, users.y_m)
    unsure = np.hypot(users.x_m, users.y_m) > users.sure_range_m
    hit = users.vehicle & ((speed < SLOW_M_S) | unsure) & (off < IN_PATH_M) & (along > entry) & (along < exit_ + EXIT_ROOM_M)
    return bool(hit.any())


def clear_time_s(distance_m: float, speed_m_s: float) -> float:
    """Time to cover ``distance_m`` from ``speed_m_s``, accelerating at ``START_ACCEL_M_S2`` up to
    ``TURN_SPEED_M_S`` (from a higher speed: at the turn's speed, which the car slows to) [s]."""
    v0 = max(speed_m_s, 0.0)
    if v0 >= TURN_SPEED_M_S:
        return distance_m / TURN_SPEED_M_S  # it slows for the turn: no faster than that through it
    ramp_m = (TURN_SPEED_M_S**2 - v0**2) / (2 * START_ACCEL_M_S2)
    if distance_m <= ramp_m:
        return (math.sqrt(v0**2 + 2 * START_ACCEL_M_S2 * distance_m) - v0) / START_ACCEL_M_S2
    return (TURN_SPEED_M_S - v0) / START_ACCEL_M_S2 + (distance_m - ramp_m) / TURN_SPEED_M_S


def arrival(distance_m: float, speed_m_s: float, accel_m_s2: float, top_m_s: float) -> tuple[float, float]:
    """Time to cover ``distance_m`` [s] from ``speed_m_s``, speeding up at ``accel_m_s2`` to ``top_m_s``
    (``overtake.time_to_cover``), and the speed there [m/s]."""
    d = max(distance_m, 0.0)
    v = min(top_m_s, math.sqrt(max(speed_m_s, 0.0) ** 2 + 2 * accel_m_s2 * d))
    return time_to_cover(d, max(speed_m_s, 0.0), top_m_s, accel_m_s2), v


def stream_margin_s(speed_m_s: float) -> float:
    """How long before an approaching vehicle reaches the conflict point the car must have cleared it: the
    vehicle is then still its standstill gap, a time headway and a comfortable stop away [s]."""
    v = max(speed_m_s, MOVING_M_S)
    return STREAM_STANDSTILL_M / v + STREAM_HEADWAY_S + v / (2 * STREAM_COMFORT_DECEL_M_S2)


def gap_refused(users: Users, route: RouteGuidance, speed_m_s: float, taken: bool = False,
                oncoming_only: bool = True, unsure_m_s: float = UNSURE_ONCOMING_M_S,
                standing_start: bool = False, far_standing: np.ndarray | None = None, gap_scale: float = 1.0) -> bool:
    """Whether some approaching vehicle leaves too short a gap at the conflict point of its path with the
    route line: it gets there sooner than ``CRITICAL_GAP_S``, or sooner than the car has cleared the point
    (its rear past the vehicle's far side) plus ``stream_margin_s``; a vehicle on the conflict point now
    refuses it too. ``taken``: the car is already going into this gap: it refuses it only when a vehicle would
    reach the point before the car has cleared it (no margin, no critical gap), so that it does not stop and
    start at the line as the estimate of its own time wavers. ``oncoming_only``: only vehicles coming toward
    the car (a permitted left); then a vehicle ahead beyond ``users.sure_range_m`` left of the car's lane, whose
    speed cannot be told there, is taken as coming straight on at ``unsure_m_s``, or faster if it reads so.
    ``standing_start`` (with ``oncoming_only``): a standing vehicle in the oncoming lanes ahead, at the junction's
    far line (``STANDING_AT_LINE_M``), counts as pulling off toward the car now (``STANDING_START_S``).
    ``far_standing``: per road user, seen standing over a few seconds beyond the sure range (``far_tracks.FarTracks``):
    no worst case for it, it stands. ``gap_scale``: x the critical gap and the stream margin (``control.knobs``)."""
    critical_s = 0.0 if taken else CRITICAL_GAP_S * gap_scale
    pts, s = sampled_route(route)
    if len(pts) < 2:
        return False
    seg = np.diff(pts, axis=0)
    jx, jy = route.junction_xy_m
    line_reach_m = route.junction_radius_m + STANDING_AT_LINE_M
    for k, (x, y, vx, vy, length, width, veh) in enumerate(zip(users.x_m, users.y_m, users.vx_m_s, users.vy_m_s,
                                                               users.length_m, users.width_m, users.vehicle)):
        if oncoming_only and x > 0.0 and y > ONCOMING_FROM_M and math.hypot(x, y) > users.sure_range_m:
            if far_standing is not None and far_standing[k]:
                vx, vy = 0.0, 0.0  # its places over seconds say it stands, whatever this frame's speed
            else:
                vx, vy = -max(unsure_m_s, -vx), 0.0  # too far to judge: as if coming on at the speed limit
        v = math.hypot(vx, vy)
        starting = (standing_start and oncoming_only and veh and v < MOVING_M_S and x > 0.0
                    and STANDING_LATERAL_M[0] < y < STANDING_LATERAL_M[1]
                    and math.hypot(x - jx, y - jy) < line_reach_m)
        if starting:
            ux, uy = -1.0, 0.0  # its lane runs against the car's
        elif not veh or v < MOVING_M_S or (oncoming_only and vx > -MOVING_M_S):
            continue
        else:
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
        i = int(np.argmax(hit))
        if t[i] <= EGO_CLEARANCE_HALF_WIDTH_M:
            return True  # on the conflict point now
        s_conflict = s[i] + u[i] * STEP_M
        reach_m = t[i] - EGO_CLEARANCE_HALF_WIDTH_M  # its nearest point to the car's side
        if starting:
            v = 0.0
        accel = PULL_OFF_ACCEL_M_S2 * (1.0 - v / CRUISE_M_S) if oncoming_only else 0.0
        if accel > 0.0:  # pulling off: speeding up to the limit
            t_vehicle, v = arrival(reach_m, v, accel, unsure_m_s)
        else:
            t_vehicle = reach_m / v
        t_ego = clear_time_s(s_conflict + EGO_LENGTH_M / 2 + width / 2 + EGO_CLEARANCE_HALF_WIDTH_M, speed_m_s)
        if t_vehicle < max(critical_s, t_ego + (0.0 if taken else gap_scale * stream_margin_s(v))):
            return True
    return False


WALKER_BAND_M = 2.5  # a walker heading into the route's corridor counts from at least this far beside it [m]
WALKER_BAND_MAX_M = 6.0  # ... and from as far as it walks before the car is past it, up to this [m]
WALKER_MARGIN_S = 1.0  # the car is to be past a walker's crossing point this long before the walker is there [s]
WALKER_REACH_M = 25.0  # ... along the route's next this many metres [m]
WALKER_MOVING_M_S = 0.3  # slower than this is standing at the kerb [m/s]


def walker_gap_m(users: Users, route: RouteGuidance, speed_m_s: float = 0.0) -> float:
    """Distance along the route to the nearest walker that is in the car's corridor or walking toward it and
    will be in it before the car, at ``speed_m_s`` now, is past that point (with ``WALKER_MARGIN_S``; counted
    from ``WALKER_BAND_M`` to ``WALKER_BAND_MAX_M`` beside it): a standing obstacle there, from the car's front
    [m] (inf for none). ``control.junction_rules.crossing_gap_m`` looks 1 and 2 s ahead of the car's own speed;
    a walker on a crosswalk the car turns across is yielded to as soon as it heads for the car's path. A fixed
    2.5-m band let the car pull off in front of a walker 5 m beside its path walking at 1.4 m/s toward it, which
    then walked into the car's side out of the camera's view (training route 470212)."""
    walkers = ~users.vehicle & (np.hypot(users.vx_m_s, users.vy_m_s) >= WALKER_MOVING_M_S)
    if not walkers.any():
        return math.inf
    pts, s = sampled_route(route)
    x, y = users.x_m[walkers], users.y_m[walkers]
    along, off = project_onto(pts, s, x, y)
    k = np.minimum((along / STEP_M).astype(int), len(pts) - 1)
    # its speed toward the route line: its velocity against the offset from its nearest route point [m/s]
    dx, dy = x - pts[k, 0], y - pts[k, 1]
    closing_m_s = -(users.vx_m_s[walkers] * dx + users.vy_m_s[walkers] * dy) / np.maximum(np.hypot(dx, dy), 1e-6)
    past_s = np.array([clear_time_s(a + EGO_LENGTH_M / 2 + 1.0, speed_m_s) for a in np.maximum(along, 0.0)])
    band_m = np.clip(closing_m_s * (past_s + WALKER_MARGIN_S), WALKER_BAND_M, WALKER_BAND_MAX_M)
    in_corridor = off < IN_PATH_M + 0.5
    near = (in_corridor | ((closing_m_s > 0.0) & (off < IN_PATH_M + band_m))) & (along > 0.0) & (along < WALKER_REACH_M)
    if not near.any():
        return math.inf
    return float(along[near].min() - EGO_LENGTH_M / 2 - 1.0)


MEMORY_S = 4.0  # a walker that left the camera's view is remembered this long [s]
KERB_BAND_M = 4.5  # ... when it was this close to the route's corridor ahead (at the corner a turn goes round) [m]
PASS_UNSEEN_M_S = 2.0  # the car passes where such a walker may have stepped out no faster than this [m/s]


class WalkerMemory:
    """Walkers seen beside the route ahead, kept after they leave the forward camera's view, each walking on as it
    last walked (dead reckoning, in the ego frame by odometry): in a turn a walker waiting at the corner's kerb drops
    out of the 80-degree view and may step onto the crosswalk unseen, and one crossing toward the car's path walks
    on into it. ``update`` each step; ``speed_cap_m_s``: how fast the car may go now; ``unseen``: where the
    remembered ones are now, for ``walker_gap_m``."""

    def __init__(self, dt_s: float = 0.05):
        self.dt_s = dt_s
        self.reset()

    def reset(self) -> None:
        self._xy = np.zeros((0, 2))  # remembered walkers in the ego frame [m]
        self._v = np.zeros((0, 2))  # their velocities when last seen, over the ground, in the ego frame [m/s]
        self._age_s = np.zeros(0)  # time since each was last seen [s]

    def update(self, users: Users, route: RouteGuidance | None, speed_m_s: float, yaw_rate_rad_s: float) -> None:
        # walk the remembered ones on, then into this step's ego frame (the car moved and turned over one step)
        dpsi, dx = yaw_rate_rad_s * self.dt_s, speed_m_s * self.dt_s
        c, s = math.cos(dpsi), math.sin(dpsi)
        x, y = self._xy[:, 0] + self._v[:, 0] * self.dt_s - dx, self._xy[:, 1] + self._v[:, 1] * self.dt_s
        self._xy = np.stack([c * x + s * y, -s * x + c * y], 1)
        self._v = np.stack([c * self._v[:, 0] + s * self._v[:, 1], -s * self._v[:, 0] + c * self._v[:, 1]], 1)
        self._age_s = self._age_s + self.dt_s
        walkers = ~users.vehicle & (users.length_m < 1.0)  # pedestrians, not cyclists
        seen = np.stack([users.x_m[walkers], users.y_m[walkers]], 1)
        seen_v = np.stack([users.vx_m_s[walkers], users.vy_m_s[walkers]], 1)
        # a remembered walker seen again (within 2 m) is the one seen now
        if len(self._xy) and len(seen):
            d = np.hypot(self._xy[:, None, 0] - seen[None, :, 0], self._xy[:, None, 1] - seen[None, :, 1]).min(1)
            keep = d > 2.0
        else:
            keep = np.ones(len(self._xy), bool)
        keep &= self._age_s < MEMORY_S
        xy, v = np.vstack([self._xy[keep], seen]), np.vstack([self._v[keep], seen_v])
        age = np.concatenate([self._age_s[keep], np.zeros(len(seen))])
        if route is not None and len(xy):
            pts, s_arc = sampled_route(route)
            along, off = project_onto(pts, s_arc, xy[:, 0], xy[:, 1])
            near = (off < IN_PATH_M + KERB_BAND_M) & (along > 0.0) & (along < WALKER_REACH_M)
            xy, v, age = xy[near], v[near], age[near]
        self._xy, self._v, self._age_s = xy, v, age

    def speed_cap_m_s(self) -> float:
        """``PASS_UNSEEN_M_S`` while a walker beside the route ahead is out of view, else inf."""
        return PASS_UNSEEN_M_S if np.any(self._age_s > 0.0) else math.inf

    def unseen(self) -> Users:
        """The remembered walkers out of view now, where they have walked to (ego frame, as ``Users``)."""
        k = self._age_s > 0.0
        n = int(k.sum())
        return Users(self._xy[k, 0], self._xy[k, 1], self._v[k, 0], self._v[k, 1], np.full(n, PEDESTRIAN_SIZE_M),
                     np.full(n, PEDESTRIAN_SIZE_M), np.zeros(n, bool))


LEADER_REACH_M = 30.0  # a vehicle on the route this far ahead leads the car through a junction manoeuvre [m]


def route_leader(users: Users, route: RouteGuidance) -> tuple[float, float]:
    """The nearest vehicle in the car's corridor along the route line ahead: the gap from the front bumper
    to it [m] and its speed along the route there (>= 0) [m/s]; (inf, 0) for none. Through a turn the
    observation's in-path flag follows the lane the car is leaving; this follows the route into the exit
    street, where a slow car just round the corner is the leader."""
    veh = users.vehicle
    if not veh.any():
        return math.inf, 0.0
    pts, s = sampled_route(route)
    if len(pts) < 2:
        return math.inf, 0.0
    x, y = users.x_m[veh], users.y_m[veh]
    along, off = project_onto(pts, s, x, y)
    ahead = (off < IN_PATH_M) & (along > EGO_LENGTH_M / 2) & (along < LEADER_REACH_M)
    if not ahead.any():
        return math.inf, 0.0
    k = int(np.flatnonzero(ahead)[np.argmin(along[ahead])])
    i = min(int(along[k] / STEP_M), len(pts) - 2)
    tx, ty = pts[i + 1] - pts[i]
    n = max(math.hypot(tx, ty), 1e-9)
    v_along = (users.vx_m_s[veh][k] * tx + users.vy_m_s[veh][k] * ty) / n
    return float(along[k] - EGO_LENGTH_M / 2), max(float(v_along), 0.0)
