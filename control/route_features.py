"""The route block: what a car's navigation tells the driver, appended to the v1 features.

A navigation world (``drivestack/TownNav-v0``) gives, from the map and the planned route (not
from the camera): the next high-level command (CARLA's ``RoadOption``: follow lane, left,
right, straight, change lane left / right), the distance to where it starts, and the next route
points in the ego frame. Layout ``drivestack-features-v2`` is the v1 vector (``control.features``,
unchanged, so its slices keep their meaning) followed by this block:

=========  ====  ==============================================================================
block      size  values (scale)
=========  ====  ==============================================================================
command       6  one-hot over ``COMMANDS`` (follow_lane, left, right, straight, change_lane_left,
                 change_lane_right)
distance      1  to the command's start (/50 m, clipped to [0, 2]; 0 while in it)
waypoints    16  the next 8 route points every 5 m, x forward (/40 m) and y left (/10 m) each,
                 clipped to [-2, 2]
stop sign     2  the next stop-sign line on the route: front bumper to it (/50 m, [-0.5, 2], 2 =
                 none), known flag
junction      4  the next junction on the route: centre x, y in the ego frame (/50 m, [-2, 2]),
                 radius (/20 m), known flag
yield         1  the next manoeuvre is a permitted left (the junction has no arrow phase): yield
                 to oncoming traffic
on red        1  the next manoeuvre is a right at a light where turning on red after a full stop
                 is permitted (the scenario's ``right_on_red``; a sign at the junction)
full stop     1  the car has made its full stop at the next stop-sign line (its own odometry,
                 ``control.junction_rules.FullStop``; a policy without memory cannot know it)
=========  ====  ==============================================================================

All of it is what a map and a route give (where the stop signs and junctions are, which
junctions have left-turn arrows, where right on red is allowed) or the car's own odometry, never
what the camera saw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .features import DISTANCE_SCALE_M, FAR, OBS_SIZE

LAYOUT_V2_ID = "drivestack-features-v2"
COMMANDS = ("follow_lane", "left", "right", "straight", "change_lane_left", "change_lane_right")  # sim.roadgraph.route
N_WAYPOINTS = 8
WAYPOINT_SCALE_M = (40.0, 10.0)  # forward, left
JUNCTION_RADIUS_SCALE_M = 20.0
ROUTE_SIZE = len(COMMANDS) + 1 + 2 * N_WAYPOINTS + 2 + 4 + 1 + 1 + 1
OBS_SIZE_V2 = OBS_SIZE + ROUTE_SIZE


@dataclass(frozen=True)
class RouteGuidance:
    """The navigation's advice for one step (map-derived)."""

    command: str  # one of COMMANDS
    distance_m: float  # to where the command starts, 0 while in it [m]
    waypoints_m: np.ndarray  # (N_WAYPOINTS, 2) next route points, ego frame x forward, y left [m]
    stop_sign_m: float = np.inf  # front bumper to the next stop-sign line on the route [m]; inf: none
    junction_xy_m: tuple[float, float] = (np.nan, np.nan)  # next junction's centre, ego frame [m]; nan: none
    junction_radius_m: float = 0.0  # its streets start this far from the centre [m]
    left_must_yield: bool = False  # the next manoeuvre is a permitted left
    right_on_red: bool = False  # the next manoeuvre is a right that may go on red after a full stop, yielding
    full_stop_made: bool = False  # the car has stopped fully at the next stop-sign line (odometry, not the map)

    @staticmethod
    def from_labels(ego, full_stop_made: bool = False) -> "RouteGuidance":
        """From ``sim.labels.EgoTruth``'s route fields (a navigation world's map and route) and, from the
        car's odometry, whether it has stopped at the next stop-sign line."""
        return RouteGuidance(ego.route_command, float(ego.route_command_distance_m),
                             np.asarray(ego.route_waypoints_m, np.float64).reshape(-1, 2),
                             float(ego.stop_sign_distance_m), (float(ego.junction_x_m), float(ego.junction_y_m)),
                             float(ego.junction_radius_m), bool(ego.left_must_yield), bool(ego.right_on_red),
                             bool(full_stop_made))


def encode_route(g: RouteGuidance) -> np.ndarray:
    """The ``ROUTE_SIZE`` values of the route block (all finite)."""
    if g.command not in COMMANDS:
        raise ValueError(f"route command {g.command!r} is not one of {COMMANDS}")
    out = np.zeros(ROUTE_SIZE, np.float32)
    out[COMMANDS.index(g.command)] = 1.0
    d = float(g.distance_m)
    out[len(COMMANDS)] = float(min(max(d / DISTANCE_SCALE_M, 0.0), FAR)) if np.isfinite(d) else FAR
    wp = np.zeros((N_WAYPOINTS, 2))
    k = min(N_WAYPOINTS, len(g.waypoints_m))
    wp[:k] = np.nan_to_num(g.waypoints_m[:k], nan=0.0, posinf=0.0, neginf=0.0)
    wp[k:] = wp[k - 1] if k else 0.0  # fewer points (the goal is near): repeat the last
    k0 = len(COMMANDS) + 1
    out[k0:k0 + 2 * N_WAYPOINTS] = np.clip(wp / np.array(WAYPOINT_SCALE_M), -2.0, 2.0).reshape(-1)
    k0 += 2 * N_WAYPOINTS
    stop_known = np.isfinite(g.stop_sign_m)
    out[k0:k0 + 2] = (min(max(g.stop_sign_m / DISTANCE_SCALE_M, -0.5), FAR) if stop_known else FAR, float(stop_known))
    jx, jy = g.junction_xy_m
    j_known = bool(np.isfinite(jx) and np.isfinite(jy))
    # scalars clipped with min/max: np.clip costs ~6 us a scalar
    out[k0 + 2:k0 + 6] = ((min(max(jx / DISTANCE_SCALE_M, -2.0), 2.0), min(max(jy / DISTANCE_SCALE_M, -2.0), 2.0),
                           min(max(g.junction_radius_m / JUNCTION_RADIUS_SCALE_M, 0.0), 3.0), 1.0) if j_known
                          else (0.0, 0.0, 0.0, 0.0))
    out[k0 + 6] = float(g.left_must_yield)
    out[k0 + 7] = float(g.right_on_red)
    out[k0 + 8] = float(g.full_stop_made)
    return out


def decode_route(obs: np.ndarray) -> RouteGuidance:
    """The route block of a v2 observation, in physical units again (distance clipped at 100 m)."""
    o = np.asarray(obs, np.float64).reshape(-1)
    if o.shape != (OBS_SIZE_V2,):
        raise ValueError(f"observation has {o.size} values; the {LAYOUT_V2_ID} layout has {OBS_SIZE_V2}")
    r = o[OBS_SIZE:]
    command = COMMANDS[int(np.argmax(r[:len(COMMANDS)]))]
    k0 = len(COMMANDS) + 1
    wp = r[k0:k0 + 2 * N_WAYPOINTS].reshape(N_WAYPOINTS, 2) * np.array(WAYPOINT_SCALE_M)
    k0 += 2 * N_WAYPOINTS
    stop = r[k0] * DISTANCE_SCALE_M if r[k0 + 1] > 0.5 else np.inf
    known = r[k0 + 5] > 0.5
    junction = (r[k0 + 2] * DISTANCE_SCALE_M, r[k0 + 3] * DISTANCE_SCALE_M) if known else (np.nan, np.nan)
    return RouteGuidance(command, float(r[len(COMMANDS)] * DISTANCE_SCALE_M), wp, float(stop),
                         (float(junction[0]), float(junction[1])), float(r[k0 + 4] * JUNCTION_RADIUS_SCALE_M) if known else 0.0,
                         bool(r[k0 + 6] > 0.5), bool(r[k0 + 7] > 0.5), bool(r[k0 + 8] > 0.5))


def pursuit_curvature(route: RouteGuidance, look_m: float) -> float:
    """The curvature of the arc from the ego, tangent to its heading, through the route point ``look_m``
    metres along the waypoints (the first lies 5 m ahead): pure pursuit's [1/m], positive to the left."""
    wp = route.waypoints_m
    arc = 5.0 + np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(wp, axis=0).T))])
    x, y = np.interp(look_m, arc, wp[:, 0]), np.interp(look_m, arc, wp[:, 1])
    return float(2.0 * y / max(x * x + y * y, 1.0))
