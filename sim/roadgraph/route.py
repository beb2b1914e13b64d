"""A planned route: the chain of lanes and connectors, its reference line and its commands.

The route is what a car's navigation gives: a line to follow (``path``, a ``Road`` whose s is
the distance along the route and whose d = 0 is the centre of the lane the route uses, lane
changes blended in), and CARLA-style high-level commands (``RoadOption``: follow lane, left,
right, straight, change lane left / right) at the places they apply. Both are map-derived,
not perceived.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..road import Road
from .graph import LaneRef

# CARLA's RoadOption names, in the order of the policy's one-hot command block
COMMANDS = ("follow_lane", "left", "right", "straight", "change_lane_left", "change_lane_right")
LANE_CHANGE_M = 30.0  # length of a lane change's lateral blend on the route line [m]


@dataclass(frozen=True)
class RouteLeg:
    """Travel along one lane from ``s_from`` to ``s_to`` (on ``lane.road``; s_to < s_from when
    the lane runs toward -s), from ``route_s0`` to ``route_s1`` metres into the route.

    The road s are on the road's reference line (a street's centre line, a connector's lane's left
    edge); the route s are along the route line, the lane centre driven. The two differ in length
    wherever the road bends (by the lane's offset times the angle turned: metres in a turn)."""

    lane: LaneRef
    s_from: float  # [m]
    s_to: float  # [m]
    route_s0: float  # [m]
    route_s1: float  # [m]
    connector: bool  # a path through a junction
    junction: int  # the connector's junction, -1 on a street

    @property
    def length_m(self) -> float:
        """Length driven along the route line [m]."""
        return self.route_s1 - self.route_s0


@dataclass(frozen=True)
class Maneuver:
    """A command and the stretch of route it applies to [m from the route start]."""

    command: str  # one of COMMANDS (never "follow_lane")
    start_m: float
    end_m: float
    junction: int  # -1 for a lane change


@dataclass(frozen=True)
class RouteCommand:
    """What the navigation says now: the next manoeuvre and how far ahead it starts [m]
    (0 while in it); "follow_lane" with the distance to the goal once none is left."""

    command: str
    distance_m: float

    @property
    def index(self) -> int:
        return COMMANDS.index(self.command)


@dataclass
class Route:
    legs: list[RouteLeg]
    maneuvers: list[Maneuver]
    path: Road  # the route line: s = distance along the route [m], d = 0 on the followed lane's centre
    speed_limit_m_s: np.ndarray  # (legs,) per leg [m/s]
    # per leg, the stations of its road stretch (shared by the legs of one road): direction * road s [m]
    # (increasing) and the route s of the lane centre there [m], for exact conversions between the two
    stations: list[tuple[np.ndarray, np.ndarray]]

    @property
    def length_m(self) -> float:
        return self.path.length_m

    def leg_index(self, route_s: float) -> int:
        """The leg that ``route_s`` lies on [m]: the last one starting at or before it (the first
        before the start)."""
        k = bisect.bisect_right(self._starts, route_s) - 1  # np.searchsorted(..., side="right") - 1
        return min(max(k, 0), len(self.legs) - 1)

    @cached_property
    def _starts(self) -> list[float]:
        return [leg.route_s0 for leg in self.legs]

    def route_s_on_leg(self, leg_index: int, road_s: float) -> float:
        """Where ``road_s`` on leg ``leg_index``'s road lies along the route line [m] (clamped to the
        route's stretch of that road)."""
        along, route_s = self.stations[leg_index]
        return float(np.interp(self.legs[leg_index].lane.direction * road_s, along, route_s))

    def road_s_on_leg(self, leg_index: int, route_s: float) -> float:
        """The inverse of ``route_s_on_leg``: leg ``leg_index``'s road s at ``route_s`` [m]."""
        along, stations_route_s = self.stations[leg_index]
        return float(self.legs[leg_index].lane.direction * np.interp(route_s, stations_route_s, along))

    def command(self, route_s: float) -> RouteCommand:
        for m in self.maneuvers:
            if route_s < m.end_m:
                return RouteCommand(m.command, max(0.0, m.start_m - route_s))
        return RouteCommand("follow_lane", max(0.0, self.length_m - route_s))

    def waypoints_ego(self, route_s: float, x_m: float, y_m: float, yaw_rad: float,
                      spacing_m: float = 5.0, count: int = 8) -> np.ndarray:
        """(count, 2) points of the route line ``spacing_m``, 2 ``spacing_m``, ... ahead of
        ``route_s``, in the ego frame (x forward, y left) [m]. Past the goal they stay on it."""
        return self.path.centre_ahead_in_frame(route_s, spacing_m, count, x_m, y_m, yaw_rad)
