"""``LightMemory``: the last traffic light seen, carried through the frames where it is hidden.

A bus crossing in front or pedestrians on the crosswalk can hide the ego's light head for
seconds while the car waits at the stop line. Perception then reports no light, and a driver
that reads "no light" as "go" runs the red (town seed 900004 did, from the models). A human
remembers the light; so does this. When perception reports no light, the last one seen is
reported again, its stop-line distance shortened by the distance driven since (odometry from the
ego's own speed), until the car is well past that line or the light has been hidden longer than
a red phase lasts. Whatever perception does report passes through unchanged, except a light whose
line is already well behind the car while the remembered line is still ahead, and, once the car has
driven over a line, a light whose line lies less than ``SAME_JUNCTION_M`` beyond it (a head of the
same junction, seen from inside it): neither is the next light to obey.

With exact labels the light is never lost before the intersection, so this changes nothing there:
the observation means the same from the labels and from the models.
"""

from __future__ import annotations

import math

# a remembered stop line this far behind the front bumper has been driven over: forget it [m].
# The models' distance errs by ~0.5 m at the line; the simulator counts a red run once the car's
# centre (2.3 m behind its front) crosses
PAST_LINE_M = -3.0
# two stop lines closer than this belong to one junction [m]: from inside the box (the ego's line passed) a
# crossing road's head, seen side-on, ranges its line a few metres ahead; the next junction's line lies
# farther (straight towns: junctions 120-220 m apart; navigation towns: streets of 60 m and more)
SAME_JUNCTION_M = 25.0
# longest a light is remembered unseen [s]: longer than any red phase (the simulator's towns: side-road
# green 7-12 s + two yellows and all-reds, at most 18 s), after which the remembered state is stale
MAX_HIDDEN_S = 20.0


class LightMemory:
    def __init__(self, past_line_m: float = PAST_LINE_M, max_hidden_s: float = MAX_HIDDEN_S,
                 same_junction_m: float = SAME_JUNCTION_M):
        self.past_line_m = past_line_m
        self.max_hidden_s = max_hidden_s
        self.same_junction_m = same_junction_m
        self.reset()

    def reset(self) -> None:
        self.state = "none"
        self.distance_m = math.inf  # remembered stop-line distance, odometry applied [m]
        self.hidden_s = 0.0  # time since it was last seen [s]
        self.remembered = False  # whether the last ``update`` answered from memory
        self.passed_line_m = math.inf  # the last line driven over, odometry applied (negative: behind) [m]
        self.ignored = False  # whether the last ``update`` ignored a light of the junction just entered

    def update(self, state: str, distance_m: float, speed_m_s: float, dt_s: float) -> tuple[str, float]:
        """This step's light: ``(state, distance_m)`` as perceived, or the remembered one when perception
        reports none. ``speed_m_s`` is the ego's speed over the ``dt_s`` since the previous call."""
        self.remembered = self.ignored = False
        driven_m = max(float(speed_m_s), 0.0) * dt_s
        self.passed_line_m -= driven_m
        if self.passed_line_m < -self.same_junction_m:
            self.passed_line_m = math.inf  # beyond the junction: the next light may come
        if state != "none" and math.isfinite(distance_m) and math.isfinite(self.passed_line_m) \
                and distance_m >= self.past_line_m and distance_m - self.passed_line_m < self.same_junction_m:
            # a line just beyond the one the car has driven over: the same junction's crossing road's head
            state, distance_m, self.ignored = "none", math.inf, True
        if state != "none" and distance_m < self.past_line_m and self.state != "none" \
                and self.distance_m - driven_m >= self.past_line_m:
            # a light whose line is already well behind us cannot be the next one to obey while the
            # remembered line is still ahead by odometry: a crossing road's near-corner head, cut by the
            # image top, computes so. The remembered light stands
            state, distance_m = "none", math.inf
        if state != "none" and math.isfinite(distance_m):
            self.state, self.distance_m, self.hidden_s = state, float(distance_m), 0.0
            if distance_m < self.past_line_m:
                self.passed_line_m = float(distance_m)  # seen behind: driven over
            return state, distance_m
        if state != "none":  # a light without a distance: report it, remember nothing new
            return state, distance_m
        if self.state == "none":
            return state, distance_m
        self.distance_m -= driven_m
        self.hidden_s += dt_s
        if self.distance_m < self.past_line_m:
            self.passed_line_m = self.distance_m  # driven over by odometry
        if self.distance_m < self.past_line_m or self.hidden_s > self.max_hidden_s:
            self.state, self.distance_m = "none", math.inf
            return state, distance_m
        self.remembered = True
        return self.state, self.distance_m
