"""Right of way at junctions for a driver that reads the feature vector (layout v2).

Where a navigation town's route block says a stop sign or a permitted left is ahead, the
rule-based driver holds at the line as a standing obstacle until the rules let it go:

- **stop sign**: a full stop (below ``STOPPED_M_S`` within ``STOP_WINDOW_M`` of the line), then
  wait while a vehicle is in the junction box or would reach it within ``CLEAR_S``;
- **permitted left**: wait at the line until the oncoming stream leaves a gap the car can take
  (``control.junction_gaps.gap_refused``: time to the conflict point against the time to clear it);
- **don't block the box**: hold at the junction's line while the exit lane beyond has no room for the
  car (``control.junction_gaps.exit_blocked``) in ``BOX_BLOCKED_READINGS`` of the last ``BOX_WINDOW_STEPS``;
- **right on red** (where the route block says the map permits it): the red light's line is a stop
  sign's: a full stop, then go once the junction is clear (``red_light_waived``).

Road users moving across the car's path, at junctions and between them, are ``control.crossers``'.

Vehicles come from the observation's object rows (positions from the camera's foot, velocities
relative to the ego); the junction (centre, radius) and the stop line come from the route block,
i.e. from the map. The same rules as ``sim.route_pilot`` (which drives on labels for dataset
export), on what a policy sees.
"""

from __future__ import annotations

import math

from common.vocab import CAMERA_MOUNT, EGO_LENGTH_M

from .far_tracks import FarTracks
from .junction_gaps import STANDING_START_S, exit_blocked, gap_refused, junction_span_m
from .overtake import Users
from .features import DISTANCE_SCALE_M, LATERAL_SCALE_M, REL_SPEED_SCALE_M_S, Decoded, object_column
from .route_features import RouteGuidance

STOPPED_M_S = 0.1  # a full stop [m/s]
STOP_WINDOW_M = 2.5  # ... counts within this of the line [m]
CLEAR_S = 3.0  # after the stop: nobody may reach the box within this [s]
MOVING_M_S = 0.5  # slower than this is not approaching [m/s]
LINE_BEFORE_ENTRY_M = 4.5  # the stop line lies about this far before the junction entry (crosswalk + setback) [m]
# the exit counts as blocked while this many of the last ``BOX_WINDOW_STEPS`` readings (1 s at 20 Hz) say so. One
# reading is not enough either way: from the models a standing queue's speed read 2.2, -4.6, 2.7 m/s in turn at 30 m,
# and each such reading had let go of the hold; and the measured range noise (6 % of the
# distance, along the ray) puts a car standing in the *other* lane beside the exit, seen obliquely at 25 m, inside
# the car's path in about one reading in seven: a hold that any blocked reading restarted kept the teacher at its
# green line for 164 s on training route 784019, cycle after cycle, while the cross street's queue stood at its red.
# A car in the path reads blocked in most readings (a 6 % range error moves it ~1 m), one beside it in few.
BOX_WINDOW_STEPS = 20
BOX_BLOCKED_READINGS = 8


class FullStop:
    """Whether the car has made its full stop (below ``STOPPED_M_S`` from ``STOP_WINDOW_M`` before the
    line to 0.5 m past it) at the line ahead, remembered past the line; a line farther on than the
    last one seen is a new line."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.stopped = False
        self._last_m = math.inf

    def update(self, line_m: float, speed_m_s: float) -> bool:
        """The line's distance ahead of the front bumper [m] and the speed now; whether stopped there."""
        if line_m > self._last_m + 5.0:
            self.stopped = False
        self._last_m = line_m
        if speed_m_s < STOPPED_M_S and -0.5 <= line_m <= STOP_WINDOW_M:
            self.stopped = True
        return self.stopped


class JunctionRules:
    """Remembers whether the car has made its full stop at the current stop sign, and at the
    current red light where it may turn right on red."""

    def __init__(self, dt_s: float = 0.05) -> None:
        self.dt_s = dt_s  # the control step [s]
        self._sign, self._red = FullStop(), FullStop()
        self._gap_taken = False  # going into a gap of the oncoming stream (a permitted left)
        self._box_readings = 0  # the last ``BOX_WINDOW_STEPS`` exit readings, a bit each (1: blocked), newest lowest
        self._green_wait_steps = 0  # steps standing at a permitted left's line on a green (or no light)
        self._far = FarTracks(dt_s)  # far road users' places: which stand (the permitted left's worst case)
        self.gap_scale = 1.0  # x the gaps a permitted left demands (``control.knobs``; the driver sets it)

    def reset(self) -> None:
        self._far.reset()
        self._gap_taken = False
        self._green_wait_steps = 0
        self._box_readings = 0
        self._sign.reset()
        self._red.reset()

    def hold_m(self, f: Decoded, route: RouteGuidance, users: Users) -> float | None:
        """Distance to a line the car must stay behind now [m], or None. ``users``: every road user seen (each
        step: the far ones' places are kept)."""
        self._far.update(users, f.speed_m_s)
        holds = [d for d in (self._stop_sign(f, route), self._right_on_red(f, route),
                             self._permitted_left(f, route, users), self._box(f, route, users))
                 if d is not None]
        return min(holds) if holds else None

    def _stop_sign(self, f: Decoded, route: RouteGuidance) -> float | None:
        d = route.stop_sign_m
        if not math.isfinite(d) or d < -0.5:
            self._sign.reset()
            return None
        if not self._sign.update(d, f.speed_m_s) or not self._junction_clear(f, route):
            return d
        return None

    def _right_on_red(self, f: Decoded, route: RouteGuidance) -> float | None:
        """Where the map permits a right on red: hold at the red light's line until the car has made
        its full stop there, then until the junction is clear (the stop sign's rule)."""
        d = f.light_distance_m
        if not route.right_on_red or not math.isfinite(d):
            self._red.reset()
            return None
        stopped = self._red.update(d, f.speed_m_s)  # remembered whatever the light shows now
        if not _red_is_a_stop_sign(f, route) or d < -0.5 or (stopped and self._junction_clear(f, route)):
            return None  # not red, or past the line (committed), or stopped and clear: go
        return d

    def red_light_waived(self, f: Decoded, route: RouteGuidance) -> bool:
        """Whether the plain red-light stop does not apply to the red ahead: the map permits the right
        on red, and the car is before the line (these rules hold it there, as at a stop sign) or past
        it after its full stop (taking the turn: braking now would leave it in the crossing)."""
        return _red_is_a_stop_sign(f, route) and (f.light_distance_m >= -0.5 or self._red.stopped)

    def _permitted_left(self, f: Decoded, route: RouteGuidance, users: Users) -> float | None:
        """Hold at the line until the oncoming stream leaves a gap the car can take (``gap_refused``);
        past the line the car is committed and crosses."""
        if route.command != "left" or not route.left_must_yield or route.distance_m <= 0.0:
            self._gap_taken = False
            self._green_wait_steps = 0
            return None  # no permitted left ahead, or already in the junction: committed
        # committed past the map's line, not the seen light's: from the models the light's line read behind the
        # car 2 m early, the gap was no longer checked, and it turned in front of a car that came into view then
        line = route.distance_m - LINE_BEFORE_ENTRY_M
        if line < -0.5:
            return None
        # the wait counts on this green (or unsignalled approach) while the car stands; creeping up to the line
        # does not start it again (it did: the car stood 60 s behind a standing oncoming queue in 4-s turns)
        if f.light_state in ("red", "yellow"):
            self._green_wait_steps = 0
        elif f.speed_m_s < MOVING_M_S:
            self._green_wait_steps += 1
        self._gap_taken = not gap_refused(users, route, f.speed_m_s, taken=self._gap_taken,
                                          standing_start=(f.speed_m_s < MOVING_M_S
                                                          and self._green_wait_steps * self.dt_s < STANDING_START_S),
                                          far_standing=self._far.standing(users), gap_scale=self.gap_scale)
        if self._gap_taken:
            return None
        return min(line, f.light_distance_m) if math.isfinite(f.light_distance_m) else line

    def _box(self, f: Decoded, route: RouteGuidance, users: Users) -> float | None:
        """Don't block the box: before the junction's line (the light's, the stop sign's, or
        ``LINE_BEFORE_ENTRY_M`` before its entry) hold there while the exit lane has no room (``exit_blocked``)."""
        span = junction_span_m(route)
        if span is None:
            self._box_readings = 0  # the next junction's exit is judged afresh
            return None
        if math.isfinite(f.light_distance_m):
            line = f.light_distance_m
        elif math.isfinite(route.stop_sign_m):
            line = route.stop_sign_m
        else:
            line = span[0] - EGO_LENGTH_M / 2 - LINE_BEFORE_ENTRY_M
        if line < -0.5 or span[0] <= 0.0:
            self._box_readings = 0  # so that blocked readings here do not hold the car at the next
            return None  # past the line, or in the junction already: committed
        blocked = exit_blocked(users, route, f.speed_m_s)
        self._box_readings = ((self._box_readings << 1) | int(blocked)) & ((1 << BOX_WINDOW_STEPS) - 1)
        return line if self._box_readings.bit_count() >= BOX_BLOCKED_READINGS else None

    def _junction_clear(self, f: Decoded, route: RouteGuidance) -> bool:
        jx, jy = route.junction_xy_m
        if not (math.isfinite(jx) and math.isfinite(jy)):
            return True
        for x, y, vx, vy in _vehicles(f):
            if math.hypot(jx - x, jy - y) < route.junction_radius_m:
                return False
            if x < 0 and abs(vy) < 0.5 * max(abs(vx), 1e-6):
                continue  # behind us in our direction: queued behind the car
            if _time_to_box(x, y, vx, vy, route) < CLEAR_S:
                return False
        return True


def _red_is_a_stop_sign(f: Decoded, route: RouteGuidance) -> bool:
    """Whether the light ahead shows red and the map permits a right on red for the next manoeuvre:
    its line is then a stop sign's line."""
    return route.right_on_red and f.light_state == "red" and math.isfinite(f.light_distance_m)


def _vehicles(f: Decoded) -> list[tuple[float, float, float, float]]:
    """Present vehicle rows as (x, y) in the ego's centre frame [m] and absolute (vx, vy) [m/s]."""
    col = object_column
    rows = f.objects[(f.objects[:, col("present")] > 0.5) & (f.objects[:, col("vehicle")] > 0.5)]
    out = []
    for r in rows:
        x = r[col("x")] * DISTANCE_SCALE_M + CAMERA_MOUNT.forward_m
        y = r[col("y")] * LATERAL_SCALE_M
        vx = r[col("vx")] * REL_SPEED_SCALE_M_S[0] + f.speed_m_s
        vy = r[col("vy")] * REL_SPEED_SCALE_M_S[1]
        out.append((float(x), float(y), float(vx), float(vy)))
    return out


def _time_to_box(x: float, y: float, vx: float, vy: float, route: RouteGuidance) -> float:
    """Seconds until a vehicle at (x, y) moving (vx, vy) reaches the junction box; inf if it is not
    heading for it (or barely moving); 0 inside it."""
    jx, jy = route.junction_xy_m
    if not (math.isfinite(jx) and math.isfinite(jy)):
        return math.inf
    rx, ry = jx - x, jy - y
    dist = math.hypot(rx, ry)
    if dist < route.junction_radius_m:
        return 0.0
    closing = (vx * rx + vy * ry) / max(dist, 1e-6)
    speed = math.hypot(vx, vy)
    if speed < MOVING_M_S or closing < 0.5 * speed:
        return math.inf
    return (dist - route.junction_radius_m) / closing
