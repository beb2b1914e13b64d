"""The route block of the labels: what a car's navigation and its map say (never what was seen).

A navigation world (``sim.nav_world``) fills it from its planned route through the road graph. The
straight-road worlds (Town-v0, Highway-v0) have one road and no turns; with
``ScenarioConfig.route_block`` on they say what a navigation says there: follow the lane, with the
next points along the ego lane's centre, so that a policy that reads the route (observation layout
v2) drives them too. Off by default: their labels stay as they were.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

WAYPOINTS = (5.0, 8)  # route waypoints in the labels: spacing [m], count


@dataclass(frozen=True)
class RouteTruth:
    """The map-derived route block of the labels (what navigation and a map give, not perceived)."""

    command: str  # one of ``sim.roadgraph.route.COMMANDS``
    command_distance_m: float  # to where the command applies, 0 while in it [m]
    waypoints_m: tuple[tuple[float, float], ...]  # next route points in the ego frame (x forward, y left) [m]
    stop_sign_distance_m: float  # front bumper to the next stop-sign line on the route [m]; inf when none
    junction_x_m: float  # next junction's centre in the ego frame [m]; nan when none is left
    junction_y_m: float
    junction_radius_m: float  # its box reaches this far from the centre [m]; 0 when none
    left_must_yield: bool  # the next movement is a permitted left (the junction has no arrow phase): yield to oncoming
    # the next signal on the route, as an HD map gives it (where it stands, where to stop; never its state):
    signal_head_xyz_m: tuple[float, float, float]  # governing head's housing centre, ego frame (x fwd, y left, z up) [m]; nan: none
    signal_stop_line_m: float  # front bumper to that approach's stop line [m], negative past it; inf when none
    right_on_red: bool = False  # the next movement is a right at a light that may go on red after a full stop (a sign)
    # whether a map placed the signal fields: a straight world's follow-the-lane block has none, so "no signal
    # ahead" there means "not known", and perception must find the light without a prior
    signal_mapped: bool = True


def follow_lane_truth(road, ego_s: float, lane_centre_d: float, goal_s: float, x_m: float, y_m: float,
                      yaw_rad: float) -> RouteTruth:
    """A straight world's route block: follow the lane, the next ``WAYPOINTS`` points along the
    ego lane's centre (``road``: the main road, ``sim.road``), in the ego frame, up to the goal."""
    spacing, count = WAYPOINTS
    s = np.minimum(ego_s + spacing * np.arange(1, count + 1), max(goal_s, ego_s))
    x, y, _ = road.pose(s, lane_centre_d)
    dx, dy = x - x_m, y - y_m
    c, sn = math.cos(yaw_rad), math.sin(yaw_rad)
    wp = np.stack([dx * c + dy * sn, -dx * sn + dy * c], axis=1)
    nan = math.nan
    return RouteTruth("follow_lane", 0.0, tuple(map(tuple, wp.tolist())), math.inf, nan, nan, 0.0, False,
                      (nan, nan, nan), math.inf, False, signal_mapped=False)
