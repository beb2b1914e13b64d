"""Vehicles standing or crawling at an angle in the car's corridor: the gap the speed control stops short of.

The feature vector's in-path flag (``control.features.in_path``) and the route leader
(``control.junction_gaps.route_leader``) test a road user's nearest point widened by half its class's
width, as if its body lay along our lane. A car that turned across the junction and stopped in the
box, or a bus creeping out of a side street, lies at 60-150 degrees to it: its nearest point can be
2-5 m beside the corridor while its body crosses it. The five vehicle collisions of the rule-based
driver on 50 held-out town routes (session 19) were all such bodies. Here each vehicle's footprint is
the tracker's (``control.road_users``: its centre, and the direction its body had when it last clearly
moved, kept once it slows), sampled on a grid and tested against the corridor line: the lane's ahead,
or the route's through a junction manoeuvre. A body counts when it is turned away from the corridor, lies in
it now and will still lie in it when the car gets there (moved on at its velocity): a car stopped in the
box, a bus crawling across at 2 m/s (12 m of it take 6 s to clear); a car driving across at 7 m/s is gone
before the car arrives (the supervisor's prediction judges such timings). Only where the tracker saw the
direction (the body moved along it): a car never seen moving is taken to lie along the lane, which through a
turn is across the route, and a car parked in the street the car turns into would read as standing across its
way. One along the lane is the in-path flag's.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from common.vocab import CAMERA_MOUNT, EGO_CLEARANCE_HALF_WIDTH_M, EGO_LENGTH_M

from .features import PATH_MARGIN_M, Decoded, corridor_centre_y_m
from .junction_gaps import project_onto, sample_line
from .road_users import SeenUsers

ANGLED_RAD = math.radians(20.0)  # a body turned more than this from the corridor's direction there is angled [rad]
# a body crossing the corridor counts when it will still be in it when the car gets there, at the car's speed or
# this, whichever is more (a car moving off takes longer; a standing car would never arrive) [m/s] ...
ARRIVAL_SPEED_MIN_M_S = 1.0
ARRIVAL_MAX_S = 8.0  # ... looking this far ahead at most [s]
SAMPLE_M = 0.5  # the footprint's grid spacing [m]
REACH_M = 30.0  # bodies this far along the corridor from the car's front at most [m]
IN_CORRIDOR_M = EGO_CLEARANCE_HALF_WIDTH_M + PATH_MARGIN_M  # a footprint point this near the line is in the way [m]


@functools.lru_cache(maxsize=64)
def _body_grid(half_length_m: float, half_width_m: float) -> tuple[np.ndarray, np.ndarray]:
    """A rectangle's grid in its own frame (along, across), read-only: kept per size (the class sizes, a few),
    since an angled body is checked on most steps of a town drive."""
    u = np.linspace(-half_length_m, half_length_m, max(2, int(math.ceil(2 * half_length_m / SAMPLE_M)) + 1))
    v = np.linspace(-half_width_m, half_width_m, max(2, int(math.ceil(2 * half_width_m / SAMPLE_M)) + 1))
    uu, vv = (a.reshape(-1) for a in np.meshgrid(u, v))
    uu.flags.writeable = vv.flags.writeable = False
    return uu, vv


def footprint_points(centre_m: np.ndarray, heading_rad: float, half_length_m: float, half_width_m: float) -> np.ndarray:
    """A rectangle's points every ``SAMPLE_M`` or closer, its corners and edges included (M, 2) [m]."""
    uu, vv = _body_grid(half_length_m, half_width_m)
    c, s = math.cos(heading_rad), math.sin(heading_rad)
    return np.stack([centre_m[0] + c * uu - s * vv, centre_m[1] + s * uu + c * vv], 1)


def lane_line(f: Decoded, reach_m: float = REACH_M + EGO_LENGTH_M) -> np.ndarray:
    """The lane corridor's centre line from the ego's centre, as ``control.features.in_path`` bends it (the
    lane's heading and curvature, centred on the car) (N, 2) [m, ego frame, x from the ego's centre]."""
    x = np.arange(0.0, reach_m + 1e-9, SAMPLE_M)
    xc = x - CAMERA_MOUNT.forward_m  # the corridor is defined from the camera's foot
    return np.stack([x, np.where(xc > 0.0, corridor_centre_y_m(xc, f), 0.0)], 1)


def _in_corridor(pts: np.ndarray, s: np.ndarray, body: np.ndarray) -> np.ndarray:
    """Arc length along the corridor of each body point in it (within reach ahead of the front bumper) [m]."""
    along, off = project_onto(pts, s, body[:, 0], body[:, 1])
    return along[(off < IN_CORRIDOR_M) & (along > EGO_LENGTH_M / 2) & (along < EGO_LENGTH_M / 2 + REACH_M)]


def angled_body_gap_m(seen: SeenUsers, line: np.ndarray, speed_m_s: float) -> float:
    """From the car's front bumper along ``line`` (a corridor centre line from the ego's centre, ego frame) to
    the nearest footprint point of an angled vehicle that lies within ``IN_CORRIDOR_M`` of it and will still when
    the car, at ``speed_m_s``, gets there [m]; inf for none."""
    u = seen.users
    if len(seen.kind) == 0 or len(line) < 2:
        return math.inf
    vehicles = np.flatnonzero((np.asarray(seen.kind) == "vehicle") & seen.heading_known())
    if not vehicles.size:
        return math.inf
    pts, s = sample_line(line)
    tangent = np.gradient(pts, axis=0)
    # every vehicle's centre projected at once (one projection per vehicle was most of this check's time)
    centres = u.centre_m[vehicles] + (CAMERA_MOUNT.forward_m, 0.0)  # the tracker's frame is the camera foot's
    along_c, _ = project_onto(pts, s, centres[:, 0], centres[:, 1])
    nearest = np.minimum(np.searchsorted(s, along_c), len(pts) - 1)  # the corridor's sample nearest each centre
    best = math.inf
    for k, centre, i in zip(vehicles, centres, nearest.tolist()):
        rel = (u.heading_rad[k] - math.atan2(tangent[i, 1], tangent[i, 0]) + math.pi / 2) % math.pi - math.pi / 2
        if abs(rel) < ANGLED_RAD:
            continue  # along the corridor: the in-path flag's to judge
        body = footprint_points(centre, float(u.heading_rad[k]), float(u.half_length_m[k]), float(u.half_width_m[k]))
        now = _in_corridor(pts, s, body)
        if not now.size:
            continue
        gap = float(now.min()) - EGO_LENGTH_M / 2
        arrival_s = min(gap / max(speed_m_s, ARRIVAL_SPEED_MIN_M_S), ARRIVAL_MAX_S)
        if _in_corridor(pts, s, body + u.velocity_m_s[k] * arrival_s).size:
            best = min(best, gap)
    return best
