"""The route's own lane changes (``change_lane_left`` / ``change_lane_right``): look before moving over.

The route line blends into the target lane over ``sim.roadgraph.route.LANE_CHANGE_M`` (30 m), and the
rule-based driver's steering follows it from ``RuleBasedConfig.route_handover_m`` before the blend. Before
this module it moved over without looking at the target lane (validation route 800023: into a car level
with it). Now, at the handover, the driver checks the target lane against what it saw or remembers there
(the overtake's road-frame memory, ``control.overtake``: a car passed or gone out of the camera's view
beside the car is dead-reckoned, its place no better than its speed's error allows):

- clear: it moves over (the route line steers, as before) and is committed until the move is done;
- not clear: it keeps its lane (the seen lane steers) and lets the car in the way go by: below that car's
  speed while it is beside or just ahead, or catching up from behind (``speed_cap_m_s``); a standing one it
  drives past. The route line meanwhile moves over without the car, so the change is finished late, when
  the lane clears, by steering back onto the route line over ``late_change_s`` of road
  (``late_lookahead_m``), not dropped;
- a change left pending until the route line lies ``max_hold_offset_m`` off (a second change pending, or
  the route near losing the car: ``sim.nav_world.OFF_ROUTE_M`` 4.5 m) is made at once, as before.

A car that never came into the forward camera's view stays invisible to the check; it catches what was
seen: the car it overtook in that lane, one that went out of view beside it, one ahead it would cut in on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from common.vocab import EGO_LENGTH_M

from .overtake import same_way_gap
from .route_features import RouteGuidance

CHANGE_COMMANDS = {"change_lane_left": 1, "change_lane_right": -1}  # the route's lane changes: + left
JUNCTION_TURNS = ("left", "right", "straight")


@dataclass(frozen=True)
class RouteChangeConfig:
    gap_m: float = 2.0  # a car in the target lane, ahead (behind): at least this gap ... [m]
    closing_gap_s: float = 2.0  # ... plus this long at our (its) closing speed [s]
    follower_headway_s: float = 0.5  # ... and one behind this long at its own speed (it has to brake for us) [s]
    # a remembered road user counts for this long after it was last seen [s]: long enough for a car level with the
    # car to be let ahead into the camera's view again at ``yield_margin_m_s``; longer, the memory's odometer frame
    # (which a junction's turn bends) holds more ghosts
    recent_s: float = 10.0
    yield_margin_m_s: float = 2.0  # holding, the car keeps this far below the speed of a car in the way [m/s]
    done_offset_m: float = 0.5  # a late change is done once the route line is this close to the car [m]
    max_hold_offset_m: float = 3.0  # with the route line this far off the car changes anyway [m]
    late_change_s: float = 3.0  # a late change steers onto the route line over this long at the car's speed ...
    late_lookahead_m: float = 12.0  # ... and at least this far ahead [m]


def route_offset_m(route: RouteGuidance) -> float:
    """Where the route line passes the car, left of it [m]: the line through the first two waypoints, carried
    back to the car's axle line (x = 0)."""
    (x0, y0), (x1, y1) = route.waypoints_m[0], route.waypoints_m[1]
    dx = x1 - x0
    return float(y0 - x0 * (y1 - y0) / dx) if abs(dx) > 0.5 else float(y0)


def alongside(route: RouteGuidance, bend_m: float = 1.0) -> bool:
    """Whether the route line runs alongside the car over its first two waypoints (their lateral places within
    ``bend_m``): a lane beside it, not a turn's arc, which curves away."""
    return abs(float(route.waypoints_m[1, 1] - route.waypoints_m[0, 1])) < bend_m


class RouteLaneChange:
    """The state of the route's next lane change: none, held (the target lane is taken) or under way."""

    def __init__(self, config: RouteChangeConfig = RouteChangeConfig(), handover_m: float = 8.0):
        self.cfg = config
        self.handover_m = handover_m  # the driver's route steering starts this far before a command [m]
        self.gap_scale = 1.0  # x the gaps asked of the target lane (``control.knobs``; the driver sets it)
        self.reset()

    def reset(self) -> None:
        self.holding = False  # a change is due and the target lane is not clear: keep the lane
        self.moving = False  # a change is under way: the route line steers until the car is on it
        self.late = False  # ... and it is a late one (the route line moved over without the car)
        self._cap_m_s = math.inf

    def update(self, f, route: RouteGuidance | None, memory) -> None:
        """One step: ``f`` the decoded features, ``memory`` the overtake (``control.overtake.Overtake``, updated
        this step), whose road-frame tracks and lane width the check reads."""
        self._cap_m_s = math.inf
        if route is None:
            self.reset()
            return
        offset = route_offset_m(route)
        due = route.command in CHANGE_COMMANDS and route.distance_m < self.handover_m
        if self.moving:
            if due or abs(offset) > self.cfg.done_offset_m:
                return
            self.moving = self.late = False
        side = CHANGE_COMMANDS[route.command] if due else 0
        turning = route.command in JUNCTION_TURNS and route.distance_m < self.handover_m
        if not due and not turning and f.lane_known and abs(offset) > memory.width_m / 2 and alongside(route):
            side = 1 if offset > 0 else -1  # a change held past its blend: the route line runs in the next lane
        if side == 0 or memory.active:  # nothing due, or the overtake has the wheel
            self.holding = False
            return
        if abs(offset) > self.cfg.max_hold_offset_m:
            clear = True  # waiting longer loses the route
        else:
            clear, self._cap_m_s = self._target_clear(memory, side, max(f.speed_m_s, 0.0))
        self.holding = not clear
        if clear:
            self.moving, self.late = True, not due

    @property
    def steers_route(self) -> bool:
        """A late change under way: the route line steers (the driver's own rule steers the blend itself)."""
        return self.moving and self.late

    @property
    def keeps_lane(self) -> bool:
        """Holding: the seen lane steers, not the route line that moves over."""
        return self.holding

    def lookahead_m(self, v_m_s: float) -> float:
        """The pursuit distance of a late change: a lane's width over a few seconds, not the lookahead's ~9 m [m]."""
        return max(self.cfg.late_lookahead_m, self.cfg.late_change_s * max(v_m_s, 0.0))

    def speed_cap_m_s(self) -> float:
        """Holding: below the speed of the car in the way (beside, just ahead, or catching up), so that it goes
        by; inf otherwise [m/s]."""
        return self._cap_m_s if self.holding else math.inf

    def _target_clear(self, memory, side: int, v_m_s: float) -> tuple[bool, float]:
        """(whether the lane ``side`` of the home lane is clear along the change, the speed cap that lets what
        is in the way go by). The lane is our way (a route changes between lanes of one direction): what is in it
        moves along, ahead or behind, or stands."""
        cfg = self.cfg
        k = self.gap_scale
        w = memory.width_m
        front, rear = memory.s_m + EGO_LENGTH_M / 2, memory.s_m - EGO_LENGTH_M / 2
        clear, cap = True, math.inf
        for t in memory.tracks:
            if memory.t_s - t.seen_s > cfg.recent_s or abs(t.lat_m - side * w) >= w / 2 + t.width_m / 2:
                continue  # long unseen (its place is a guess), or not in the target lane
            unsure_m = memory.speed_error * abs(t.v_m_s) * max(memory.t_s - t.seen_s, 0.0)
            v_t = max(t.v_m_s, 0.0)
            standing = v_t < memory.cfg.stationary_m_s
            where, ok = same_way_gap(t, front, rear, v_m_s, v_t, unsure_m, k * cfg.gap_m, k * cfg.closing_gap_s,
                                     k * cfg.follower_headway_s)
            if ok:
                continue
            clear = False
            if not standing and (where != "behind" or v_t >= v_m_s):  # let it go by; a standing one it drives past
                cap = min(cap, max(v_t - cfg.yield_margin_m_s, 0.0))
        return clear, cap
