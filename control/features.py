"""``PerceptionFrame`` + the ego's own measurements -> one fixed float32 vector for a policy.

The layout (``LAYOUT``, 87 values, ``LAYOUT_ID`` names this version) is the same whether the
frame came from the trained models or from ``GroundTruthPerception``; every value is scaled to
roughly [-1, 1] (distances and speeds clipped) and is always finite: what perception could not
tell (NaN lane, unknown light distance, an untracked object's velocity) is written as a neutral
value with its ``*_known`` flag at 0, so a perception failure is visible to the policy rather
than poisoning it.

==========  ====  =============================================================================
block       size  values (scale)
==========  ====  =============================================================================
ego            5  speed (/20 m/s), yaw rate (/0.5 rad/s), speed limit (/20 m/s), previous steer,
                  previous accel (both already in [-1, 1])
lane           6  offset left of centre (/1.75 m), heading error (/0.3 rad), curvature ahead
                  (x30 m), width (/3.5 m), confidence [0, 1], known flag
light          6  one-hot red / yellow / green / none, stop-line distance (/50 m, clipped to
                  [-0.5, 2], 2 = none or unknown), distance-known flag
lead           4  present, gap (/50 m, 2 when none), closing speed (/10 m/s), 1/TTC (1/s, <= 2)
objects     6x11  the K=6 most relevant road users (vehicles, cyclists, pedestrians), in-path first, then by
                  distance; per object: present, is-vehicle, is-pedestrian, forward (/50 m),
                  left (/10 m), relative velocity forward (/10 m/s) and left (/5 m/s), nominal
                  length (/10 m) and width (/3 m) of its class, 1/TTC (1/s, <= 2), in-path flag
==========  ====  =============================================================================

Positions are the objects' nearest ground points relative to the camera's foot on the road
(x forward, y left, as in ``perception.types``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.vocab import (CLEARANCE_SIZE_M, CYCLIST_CLASS, EGO_CLEARANCE_HALF_WIDTH_M, LIGHT_STATES, OBSTACLE_CLASSES,
                          PEDESTRIAN_CLASS, STATIC_OBSTACLE_CLASSES, VEHICLE_CLASSES, in_classes)
from perception.types import PerceptionFrame

LAYOUT_ID = "drivestack-features-v1"
K_OBJECTS = 6
OBJECT_FIELDS = ("present", "vehicle", "pedestrian", "x", "y", "vx", "vy", "length", "width", "inv_ttc", "in_path")
LAYOUT: dict[str, int] = {"ego": 5, "lane": 6, "light": 6, "lead": 4, "objects": K_OBJECTS * len(OBJECT_FIELDS)}
OBS_SIZE = sum(LAYOUT.values())

# scales (one unit of the feature = this much of the quantity)
SPEED_SCALE_M_S = 20.0
YAW_RATE_SCALE_RAD_S = 0.5
OFFSET_SCALE_M = 1.75
HEADING_SCALE_RAD = 0.3
CURVATURE_GAIN_M = 30.0  # curvature [1/m] x this
WIDTH_SCALE_M = 3.5
DISTANCE_SCALE_M = 50.0
FAR = 2.0  # the value of a distance feature when there is nothing there (100 m and beyond)
MAX_INV_TTC_1_S = 2.0  # 1/TTC saturates here (TTC 0.5 s)
LATERAL_SCALE_M = 10.0
REL_SPEED_SCALE_M_S = (10.0, 5.0)  # forward, left
# the light block's one-hot slots: red, yellow, green, none (the v1 layout's order: a trained policy reads these positions)
LIGHT_SLOTS = (*LIGHT_STATES[1:], LIGHT_STATES[0])
PATH_MARGIN_M = 0.3  # an object counts as in the path when it reaches this close to the ego's corridor [m]
EGO_HALF_WIDTH_M = EGO_CLEARANCE_HALF_WIDTH_M  # [m]


def _slices() -> dict[str, slice]:
    out, start = {}, 0
    for name, size in LAYOUT.items():
        out[name] = slice(start, start + size)
        start += size
    return out


SLICES = _slices()


@dataclass(frozen=True)
class EgoMeasurements:
    """What the car knows about itself (odometry, map and its last command), not from the camera."""

    speed_m_s: float
    yaw_rate_rad_s: float
    speed_limit_m_s: float  # from the map / route
    prev_steer: float  # last command, [-1, 1]
    prev_accel: float  # last command, [-1, 1]


def _finite(v: float, default: float = 0.0) -> float:
    v = float(v)
    return v if np.isfinite(v) else default


def _distance_feature(d_m: float) -> float:
    return float(min(max(d_m / DISTANCE_SCALE_M, -0.5), FAR)) if np.isfinite(d_m) else FAR


def encode(pf: PerceptionFrame, ego: EgoMeasurements) -> np.ndarray:
    """The observation vector (``OBS_SIZE`` float32 values, all finite) for one frame."""
    # scalars are clipped with min/max (np.clip costs ~6 us a scalar and ran ~30 times here per step); the same
    # values, NaN passing through as np.clip lets it
    obs = np.zeros(OBS_SIZE, np.float32)
    obs[SLICES["ego"]] = (_finite(ego.speed_m_s) / SPEED_SCALE_M_S, _finite(ego.yaw_rate_rad_s) / YAW_RATE_SCALE_RAD_S,
                          _finite(ego.speed_limit_m_s, 13.9) / SPEED_SCALE_M_S, min(max(_finite(ego.prev_steer), -1.0), 1.0),
                          min(max(_finite(ego.prev_accel), -1.0), 1.0))
    lane = pf.lane
    known = all(np.isfinite(v) for v in (lane.offset_m, lane.heading_error_rad)) and lane.confidence > 0
    if known:
        obs[SLICES["lane"]] = (min(max(lane.offset_m / OFFSET_SCALE_M, -3.0), 3.0),
                               min(max(lane.heading_error_rad / HEADING_SCALE_RAD, -3.0), 3.0),
                               min(max(_finite(lane.curvature_1_m) * CURVATURE_GAIN_M, -3.0), 3.0),
                               _finite(lane.width_m, WIDTH_SCALE_M) / WIDTH_SCALE_M, min(max(lane.confidence, 0.0), 1.0), 1.0)
    else:
        obs[SLICES["lane"]] = (0.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    state = pf.light_state if pf.light_state in LIGHT_SLOTS else "none"
    light = np.zeros(6, np.float32)
    light[LIGHT_SLOTS.index(state)] = 1.0
    dist_known = state != "none" and np.isfinite(pf.light_distance_m)
    light[4] = _distance_feature(pf.light_distance_m) if dist_known else FAR
    light[5] = float(dist_known)
    obs[SLICES["light"]] = light

    d = pf.detections
    relevant = np.flatnonzero(in_classes(d.class_id, OBSTACLE_CLASSES)
                              & np.all(np.isfinite(d.position_m), axis=1)) if len(d) else np.zeros(0, int)
    if relevant.size:
        pos = d.position_m[relevant].astype(np.float64)
        cls = d.class_id[relevant]
        vel = known_velocity(cls, np.nan_to_num(d.velocity_m_s[relevant].astype(np.float64), nan=0.0, posinf=0.0,
                                                neginf=0.0), _finite(ego.speed_m_s))
        dist = np.where(np.isfinite(d.distance_m[relevant]), d.distance_m[relevant], np.hypot(pos[:, 0], pos[:, 1]))
        half_w = np.array([CLEARANCE_SIZE_M[int(c)][1] / 2 for c in cls])
        path = in_path(pos, half_w, lane)
        closing = np.maximum(-vel[:, 0], 0.0)
        inv_ttc = np.clip(closing / np.maximum(dist, 0.5), 0.0, MAX_INV_TTC_1_S)
        order = np.lexsort((dist, ~path))[:K_OBJECTS]  # in-path first, then nearest
        c = cls[order]
        size = np.array([CLEARANCE_SIZE_M[int(k)] for k in c], np.float64).reshape(-1, 2)
        # a cyclist rides a vehicle (traffic law): the v1 layout flags it so, a trained policy knows the flag; a
        # cone too (the policies were trained while cones borrowed the motorcycle's class)
        vehicle = in_classes(c, VEHICLE_CLASSES | {CYCLIST_CLASS} | STATIC_OBSTACLE_CLASSES)
        rows = np.zeros((K_OBJECTS, len(OBJECT_FIELDS)), np.float32)
        # one column at a time (a per-row loop of scalar clips was a tenth of the teacher's step)
        rows[:len(order)] = np.column_stack([
            np.ones(len(order)), vehicle, c == PEDESTRIAN_CLASS,
            np.clip(pos[order, 0] / DISTANCE_SCALE_M, -0.5, FAR), np.clip(pos[order, 1] / LATERAL_SCALE_M, -2, 2),
            np.clip(vel[order, 0] / REL_SPEED_SCALE_M_S[0], -3, 3), np.clip(vel[order, 1] / REL_SPEED_SCALE_M_S[1], -3, 3),
            size[:, 0] / 10.0, size[:, 1] / 3.0, inv_ttc[order], path[order]])
        obs[SLICES["objects"]] = rows.reshape(-1)
    lead = np.array([0.0, FAR, 0.0, 0.0], np.float32)
    if 0 <= pf.lead_index < len(d) and np.isfinite(d.distance_m[pf.lead_index]):
        k = pf.lead_index
        closing = -_finite(known_velocity(d.class_id[k:k + 1], d.velocity_m_s[k:k + 1].astype(np.float64),
                                          _finite(ego.speed_m_s))[0, 0])
        lead = np.array([1.0, _distance_feature(float(d.distance_m[k])), min(max(closing / 10.0, -3.0), 3.0),
                         min(max(max(closing, 0.0) / max(float(d.distance_m[k]), 0.5), 0.0), MAX_INV_TTC_1_S)], np.float32)
    obs[SLICES["lead"]] = lead
    return obs


def known_velocity(class_id: np.ndarray, rel_velocity_m_s: np.ndarray, speed_m_s: float) -> np.ndarray:
    """``rel_velocity_m_s`` (N, 2) [m/s] with the rows of classes that never move (``STATIC_OBSTACLE_CLASSES``:
    cones) set to standing, (-ego speed, 0) relative: their measured speed is only ranging noise (from the
    models a cone 18 m ahead, 5-8 px tall, read 3 m/s for a second; the ego's rotation is neglected, as by
    every reader of relative velocities here)."""
    static = in_classes(class_id, STATIC_OBSTACLE_CLASSES)
    if not static.any():
        return rel_velocity_m_s
    out = np.array(rel_velocity_m_s, np.float64, copy=True)
    out[static] = (-speed_m_s, 0.0)
    return out


def corridor_centre_y_m(x_m: np.ndarray, lane) -> np.ndarray:
    """The ego's corridor centre line, left of the camera's axis at ``x_m`` ahead of its foot [m]: the lane's
    heading and curvature (``lane``: a ``LaneEstimate`` or a ``Decoded``), centred on the car."""
    heading, kappa = _finite(lane.heading_error_rad), _finite(lane.curvature_1_m)
    x = np.asarray(x_m, np.float64)
    return -np.tan(heading) * x + 0.5 * kappa * x**2


def in_path(position_m: np.ndarray, half_width_m: np.ndarray, lane) -> np.ndarray:
    """Which ground points (N, 2) lie in the ego's swept corridor ahead (ego width + the object's + margin).

    The corridor follows the lane's heading and curvature but is centred on the ego, not on the
    lane centre: what matters for braking is what the car will hit if it keeps going."""
    p = np.asarray(position_m, np.float64).reshape(-1, 2)
    centre_y = corridor_centre_y_m(p[:, 0], lane)
    half = EGO_HALF_WIDTH_M + np.asarray(half_width_m, np.float64) + PATH_MARGIN_M
    return (p[:, 0] > -1.0) & (np.abs(p[:, 1] - centre_y) < half)


@dataclass(frozen=True)
class Decoded:
    """A feature vector's blocks by name, in physical units again (for rule-based code and tests)."""

    speed_m_s: float
    yaw_rate_rad_s: float
    speed_limit_m_s: float
    prev_action: np.ndarray  # (2,)
    lane_known: bool
    lane_offset_m: float
    heading_error_rad: float
    curvature_1_m: float
    lane_width_m: float
    light_state: str
    light_distance_m: float  # inf when none or unknown
    objects: np.ndarray  # (K, len(OBJECT_FIELDS)) raw feature rows


def decode(obs: np.ndarray) -> Decoded:
    o = np.asarray(obs, np.float64).reshape(-1)
    if o.shape != (OBS_SIZE,):
        raise ValueError(f"observation has {o.size} values; the {LAYOUT_ID} layout has {OBS_SIZE}")
    ego, lane, light = o[SLICES["ego"]], o[SLICES["lane"]], o[SLICES["light"]]
    state = LIGHT_SLOTS[int(np.argmax(light[:4]))] if light[:4].max() > 0.5 else "none"
    dist = light[4] * DISTANCE_SCALE_M if light[5] > 0.5 else float("inf")
    return Decoded(ego[0] * SPEED_SCALE_M_S, ego[1] * YAW_RATE_SCALE_RAD_S, ego[2] * SPEED_SCALE_M_S, ego[3:5].copy(),
                   bool(lane[5] > 0.5), lane[0] * OFFSET_SCALE_M, lane[1] * HEADING_SCALE_RAD, lane[2] / CURVATURE_GAIN_M,
                   lane[3] * WIDTH_SCALE_M, state, dist, o[SLICES["objects"]].reshape(K_OBJECTS, len(OBJECT_FIELDS)))


def object_column(name: str) -> int:
    """Index of a per-object field in ``Decoded.objects``' columns."""
    return OBJECT_FIELDS.index(name)
