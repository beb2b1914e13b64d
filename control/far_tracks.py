"""Road users beyond the frame's sure range judged by where they have been, not by one frame's speed.

From the models a vehicle beyond ``PerceptionFrame.sure_range_m`` (35 m at the simulator's camera) has no speed
to trust: its range jumps by metres from frame to frame (a car parked 67 m ahead read 58-92 m over 10 s, its
speed anywhere from -10 to +30 m/s). ``junction_gaps.gap_refused`` therefore takes such a vehicle in the oncoming
lanes as coming on at the speed limit, and a car parked down the street beyond a permitted left held the car at its
line through every green (validation route 800005: 7 minutes, a time limit). Its *track* says more than its speed:
a least-squares line through the track's places over a few seconds averages the jumps out (that car: 0.7 m/s; the
oncoming car behind it, 6.1 m/s against 5.5-6.4 true). ``FarTracks`` keeps those places, in a frame fixed to the
ground along the car's heading (the car's own travel added from its speed), and says which far road users have been
seen standing long enough to be taken as standing.

The ego's turning is not accounted for: the places matter while the car waits at or nears a junction's line, on
its approach street, where it does not turn.
"""

from __future__ import annotations

import numpy as np

from .overtake import Users

WINDOW_S = 2.0  # a far track's closing speed counts once its places span this long [s] ...
MIN_SEEN_SHARE = 0.5  # ... and it was seen in this share of the frames over it
HISTORY_S = 4.0  # places kept per track; a track not seen this long is forgotten [s]
# closing slower than this over the window is standing (parked, queued): the fit's spread through the models'
# jumps was ~1 m/s over 2-4 s; an oncoming car at 20 km/h or more is faster [m/s]
STANDING_CLOSING_M_S = 2.0


class FarTracks:
    """Places of the tracked road users beyond the sure range; ``update`` each control step with every road
    user seen (``Users`` with track ids) and the car's speed, then ``standing(users)``."""

    def __init__(self, dt_s: float = 0.05):
        self.dt_s = dt_s
        self.reset()

    def reset(self) -> None:
        self._t_s = 0.0
        self._odometer_m = 0.0  # the car's travel since reset, along its heading [m]
        self._places: dict[int, list[tuple[float, float]]] = {}  # track id -> [(time [s], x over the ground [m])]

    def update(self, users: Users, speed_m_s: float) -> None:
        self._t_s += self.dt_s
        self._odometer_m += max(speed_m_s, 0.0) * self.dt_s
        ids = users.track_id
        if ids is not None and np.isfinite(users.sure_range_m):
            far = (np.hypot(users.x_m, users.y_m) > users.sure_range_m) & (ids >= 0)
            for tid, x in zip(ids[far], users.x_m[far]):
                self._places.setdefault(int(tid), []).append((self._t_s, float(x) + self._odometer_m))
        since = self._t_s - HISTORY_S
        for tid in list(self._places):
            kept = [p for p in self._places[tid] if p[0] > since]
            if kept:
                self._places[tid] = kept
            else:
                del self._places[tid]

    def closing_m_s(self, track_id: int) -> float | None:
        """How fast the track has come toward the car over the ground, from a line through its kept places
        [m/s] (negative: moving away); None while they span less than ``WINDOW_S`` or are too sparse."""
        places = self._places.get(int(track_id))
        if not places:
            return None
        t, x = np.array(places).T
        span_s = t[-1] - t[0]
        if span_s < WINDOW_S - 1e-9 or len(t) < MIN_SEEN_SHARE * span_s / self.dt_s:
            return None
        return -float(np.polyfit(t, x, 1)[0])

    def standing(self, users: Users) -> np.ndarray:
        """Per road user: a far track seen long enough closing slower than ``STANDING_CLOSING_M_S``."""
        out = np.zeros(len(users.x_m), bool)
        if users.track_id is None:
            return out
        for k, tid in enumerate(users.track_id):
            closing = self.closing_m_s(int(tid)) if tid >= 0 else None
            out[k] = closing is not None and closing < STANDING_CLOSING_M_S
        return out
