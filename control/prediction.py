"""Where the ego and each road user will be over the next seconds, and when their footprints first overlap.

Everything is in the ego frame of this instant (x forward, y left [m], origin at the camera's foot on
the road, as in ``perception.types``), with velocities over the ground. The ego drives an arc at
constant speed (``EgoPath``); each road user keeps its velocity, turning at its yaw rate where the
track gives one (constant velocity / constant turn rate, ``RoadUsers``). Footprints are rectangles:
the ego's body plus a margin, the road user's nominal size turned to its heading. The conflict test
samples both paths every ``PredictionConfig.step_s`` up to the horizon and reports, per road user,
the first time the two rectangles (in the ego's own axes at that time) overlap: a pedestrian walking
toward the lane is a conflict before it reaches the lane; one standing at the kerb, a parked car or a
car in the next lane going our way never overlaps the swept ego and is not.

    users = RoadUsers(position_m, velocity_m_s, yaw_rate_rad_s, half_length_m, half_width_m)
    conflicts = predict_conflicts(users, EgoPath(speed_m_s=11.1, curvature_1_m=0.0))
    conflicts.time_s        # (N,) first overlap [s], inf when none within the horizon
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.vocab import CAMERA_MOUNT, EGO_CLEARANCE_HALF_WIDTH_M, EGO_LENGTH_M

EGO_HALF_LENGTH_M = EGO_LENGTH_M / 2  # [m]
EGO_CENTRE_X_M = -CAMERA_MOUNT.forward_m  # the ego's centre behind the camera's foot [m]
MOVING_M_S = 0.5  # a road user slower than this over the ground has no heading of its own [m/s]
MAX_CURVATURE_1_M = 0.2  # tighter than the ego can turn (about a 5 m radius): a yaw-rate glitch [1/m]


@dataclass(frozen=True)
class PredictionConfig:
    horizon_s: float = 3.0  # how far ahead paths are predicted: past it, constant velocity says little [s]
    step_s: float = 0.05  # sampling of the paths: one control step, so a fast crossing is not stepped over [s]
    # the ego's footprint grows by these: sideways, the same corridor margin the drivers use
    # (control.features.PATH_MARGIN_M); lengthways, the distance AEB aims to stop short of what it brakes for
    lateral_margin_m: float = 0.3  # [m]
    longitudinal_margin_m: float = 1.0  # [m]


@dataclass(frozen=True)
class EgoPath:
    """The ego's motion over the horizon: an arc at constant speed from its centre."""

    speed_m_s: float  # [m/s]
    curvature_1_m: float  # positive turning left [1/m]
    # the path's initial direction relative to the ego's x axis (following the lane: minus the heading error) [rad]
    heading_rad: float = 0.0


@dataclass(frozen=True)
class RoadUsers:
    """N road users as the prediction needs them (ego frame, over-the-ground velocities)."""

    centre_m: np.ndarray  # (N, 2) footprint centre [m]
    velocity_m_s: np.ndarray  # (N, 2) over the ground [m/s]
    yaw_rate_rad_s: np.ndarray  # (N,) 0 where the track gives none [rad/s]
    half_length_m: np.ndarray  # (N,) along its heading [m]
    half_width_m: np.ndarray  # (N,) [m]
    heading_rad: np.ndarray  # (N,) body direction (its footprint's long axis) [rad]; it moves along its velocity
    decel_m_s2: np.ndarray | None = None  # (N,) braking along its heading, >= 0 (it stops, never reverses); None: 0 [m/s^2]

    def __len__(self) -> int:
        return len(self.half_width_m)


@dataclass(frozen=True)
class Conflicts:
    """Per road user: when the footprints first overlap, and what the ego closes on."""

    time_s: np.ndarray  # (N,) first overlap [s], inf when none within the horizon
    gap_m: np.ndarray  # (N,) the ego's travel to the overlap minus the road user's along the ego's heading [m]
    ego_speed_m_s: float  # [m/s]
    along_speed_m_s: np.ndarray  # (N,) the road user's speed along the ego's heading now [m/s]
    along_decel_m_s2: np.ndarray  # (N,) ... and its braking, >= 0 [m/s^2]

    def required_decel_m_s2(self, latency_s: float) -> np.ndarray:
        """(N,) the constant deceleration, braking ``latency_s`` from now, that still avoids each conflict
        [m/s^2] (Kiefer et al. 2005's required deceleration): for something standing or crossing, stopping
        short of the conflict point; for a road user ahead going our way, never closing the gap, whether it
        keeps its speed or brakes to a stop first. 0 where there is no conflict, inf when it is too late."""
        v, vl, al = self.ego_speed_m_s, np.maximum(self.along_speed_m_s, 0.0), self.along_decel_m_s2
        gap = self.gap_m - np.maximum(v - vl, 0.0) * latency_s  # what is left once the brake acts [m]
        with np.errstate(divide="ignore", invalid="ignore"):
            follow = al + np.maximum(v - vl, 0.0) ** 2 / (2.0 * gap)  # matching its speed before the gap closes
            stop_first = v * v / (2.0 * (gap + vl * vl / (2.0 * np.maximum(al, 1e-9))))  # it stops, then we do
            match_s = 2.0 * gap / np.maximum(v - vl, 1e-9)  # when speeds match, braking at ``follow``
            a = np.where((al > 1e-3) & (match_s > vl / np.maximum(al, 1e-9)), stop_first, follow)
        a = np.where(gap > 0.0, a, np.inf)
        return np.where(np.isfinite(self.time_s), a, 0.0)


def _arc(speed: float, kappa: float, heading: float, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, heading) at times ``t`` of a point starting at the origin on an arc (kappa: path curvature)."""
    s = speed * t
    psi = heading + kappa * s
    if abs(kappa) < 1e-6:
        return s * np.cos(heading), s * np.sin(heading), psi
    return (np.sin(psi) - np.sin(heading)) / kappa, (np.cos(heading) - np.cos(psi)) / kappa, psi


def predict_conflicts(users: RoadUsers, ego: EgoPath, config: PredictionConfig = PredictionConfig()) -> Conflicts:
    """The first overlap of each road user's swept footprint with the ego's, within the horizon.

    Only conflicts the ego drives into count: at the first overlap the road user's centre must be
    ahead of the ego's centre (a car closing from behind is its driver's to avoid, not ours to brake for)."""
    n = len(users)
    if n == 0:
        return Conflicts(np.zeros(0), np.zeros(0), max(ego.speed_m_s, 0.0), np.zeros(0), np.zeros(0))
    t = np.arange(0.0, config.horizon_s + 1e-9, config.step_s)  # (T,)
    kappa = float(min(max(ego.curvature_1_m, -MAX_CURVATURE_1_M), MAX_CURVATURE_1_M))
    ex, ey, epsi = _arc(max(ego.speed_m_s, 0.0), kappa, ego.heading_rad, t)
    ex = ex + EGO_CENTRE_X_M
    # road users: along a heading that turns at the yaw rate, at a speed that falls at the braking (to a stop)
    vel = np.asarray(users.velocity_m_s, np.float64)
    speed = np.hypot(vel[:, 0], vel[:, 1])
    moving = speed >= MOVING_M_S
    decel = np.zeros(n) if users.decel_m_s2 is None else np.maximum(np.asarray(users.decel_m_s2, np.float64), 0.0)
    heading0 = np.where(moving, np.arctan2(vel[:, 1], vel[:, 0]), users.heading_rad)
    omega = np.where(moving, users.yaw_rate_rad_s, 0.0)[:, None]  # (N, 1)
    psi = heading0[:, None] + omega * t[None, :]  # (N, T)
    sp = np.maximum(speed[:, None] - decel[:, None] * t[None, :], 0.0)  # (N, T) [m/s]
    # positions by the trapezoid rule over the samples (exact for straight constant-speed motion)
    vx, vy = sp * np.cos(psi), sp * np.sin(psi)
    half = 0.5 * config.step_s
    ox = users.centre_m[:, :1] + np.concatenate([np.zeros((n, 1)), np.cumsum(half * (vx[:, 1:] + vx[:, :-1]), 1)], 1)
    oy = users.centre_m[:, 1:2] + np.concatenate([np.zeros((n, 1)), np.cumsum(half * (vy[:, 1:] + vy[:, :-1]), 1)], 1)
    # the road user in the ego's axes at each time
    c, s = np.cos(epsi)[None, :], np.sin(epsi)[None, :]
    dx, dy = ox - ex[None, :], oy - ey[None, :]
    along, across = c * dx + s * dy, -s * dx + c * dy
    body = users.heading_rad[:, None] + omega * t[None, :]  # its body turns with its path
    rel = body - epsi[None, :]  # the road user's body direction relative to the ego's
    hl, hw = users.half_length_m[:, None], users.half_width_m[:, None]
    reach_along = hl * np.abs(np.cos(rel)) + hw * np.abs(np.sin(rel))  # its bounding box in the ego's axes [m]
    reach_across = hl * np.abs(np.sin(rel)) + hw * np.abs(np.cos(rel))
    overlap = ((np.abs(along) < EGO_HALF_LENGTH_M + config.longitudinal_margin_m + reach_along)
               & (np.abs(across) < EGO_CLEARANCE_HALF_WIDTH_M + config.lateral_margin_m + reach_across))
    first = np.argmax(overlap, axis=1)
    hit = overlap.any(axis=1) & (along[np.arange(n), first] > 0.0)  # it is ahead of our centre when they first touch
    time_s = np.where(hit, t[first], np.inf)
    c0, s0 = np.cos(ego.heading_rad), np.sin(ego.heading_rad)
    along_speed = vel[:, 0] * c0 + vel[:, 1] * s0
    along_decel = np.where(along_speed > MOVING_M_S, decel, 0.0)  # braking of what goes our way
    travelled = (ox[np.arange(n), first] - ox[:, 0]) * c0 + (oy[np.arange(n), first] - oy[:, 0]) * s0
    gap = np.where(hit, max(ego.speed_m_s, 0.0) * t[first] - np.where(along_speed > 0, travelled, 0.0), np.inf)
    return Conflicts(time_s, gap, max(ego.speed_m_s, 0.0), along_speed, along_decel)
