"""``GroundTruthPerception``: the simulator's labels as a ``PerceptionFrame``, optionally degraded.

It is how the policy trains fast (no pixels, no networks) and how the perception gap is
measured: the same record the models produce, built from exact labels, with noise whose sizes
mimic the trained models' measured errors (missed detections, box jitter, distance error,
lane error).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.config import ConfigError, check_range
from common.vocab import CAMERA_MOUNT

from .geometry import lead_vehicle
from .types import NOMINAL_SIZE_M, Detections, Frame, LaneEstimate, PerceptionFrame

# Errors of the shipped models (robust std = 1.4826 x median absolute error), from
MEASURED_BY = "drivestack eval perception --seeds 10000-10009 (town + highway, 200 frames), 2026-11-23"
# 1 - recall of vehicles and pedestrians, any road-user class, at score 0.25, by true distance
# (0-20 m: 157 of 160 found, 20-40 m: 265 of 278, 40-80 m: 277 of 397; the GPU-trained detector)
MISS_PROB_BY_RANGE = (0.02, 0.05, 0.30)
MISS_RANGE_EDGES_M = (20.0, 40.0)  # the ranges are [0, 20), [20, 40), [40, inf) [m]
BOX_JITTER_PX = 0.34  # box edges of matched detections
DISTANCE_REL_STD = 0.060  # box-foot ground distance vs true distance
LANE_OFFSET_STD_M = 0.017  # lane offset fitted from the predicted markings
HEADING_STD_RAD = 0.0037


@dataclass(frozen=True)
class PerceptionNoise:
    """Error sizes applied to the labels.

    The defaults are the shipped models' errors measured by ``drivestack eval perception`` on
    held-out seeds (see ``MEASURED_BY`` and the model cards); ``PerceptionNoise.none()`` is exact.
    """

    # chance a visible object is not reported, near / middle / far (MISS_RANGE_EDGES_M); one number for all ranges
    # is accepted too. Misses are drawn independently per frame (real detectors' misses are more correlated)
    miss_prob: tuple[float, float, float] | float = MISS_PROB_BY_RANGE
    box_jitter_px: float = BOX_JITTER_PX  # std of each box edge's displacement [px]
    distance_rel_std: float = DISTANCE_REL_STD  # relative std of reported distances
    lane_offset_std_m: float = LANE_OFFSET_STD_M  # std of the lane offset error [m]
    heading_std_rad: float = HEADING_STD_RAD  # std of the heading error's error [rad]
    min_visible_px: int = 10  # objects with fewer visible pixels are never reported (too small to detect)

    @staticmethod
    def none() -> "PerceptionNoise":
        """Exact labels."""
        return PerceptionNoise(0.0, 0.0, 0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        probs = (self.miss_prob,) * 3 if np.isscalar(self.miss_prob) else tuple(self.miss_prob)
        if len(probs) != 3:
            raise ConfigError(f"noise.miss_prob={self.miss_prob!r} is not allowed; give one probability or three (near, middle, far)")
        for p in probs:
            check_range("noise.miss_prob", p, 0.0, 1.0)
        object.__setattr__(self, "miss_prob", tuple(float(p) for p in probs))
        for name in ("box_jitter_px", "distance_rel_std", "lane_offset_std_m", "heading_std_rad"):
            check_range(f"noise.{name}", getattr(self, name), 0.0, None)


class GroundTruthPerception:
    """Turns ``sim.labels.GroundTruth`` into ``PerceptionFrame``s (seeded noise): a
    ``perception.types.PerceptionProducer`` that reads the labels travelling with each frame, never
    its pixels (so a camera-less env can feed it ``NO_PIXELS``)."""

    kind = "labels"
    needs_camera = False

    def __init__(self, noise: PerceptionNoise | None = None, seed: int = 0, camera_forward_m: float = CAMERA_MOUNT.forward_m,
                 hfov_deg: float = CAMERA_MOUNT.hfov_deg, max_range_m: float = 100.0, light_range_m: float = 80.0):
        self.noise = noise if noise is not None else PerceptionNoise.none()  # exact unless noise is asked for
        self.rng = np.random.default_rng(seed)
        self.camera_forward_m = camera_forward_m  # ego reference -> camera foot [m]
        # without a camera (labels only) the labels list everything around the car; keep what the
        # camera could see, so a policy trained on labels does not rely on objects behind or beside it
        self.hfov_deg = hfov_deg  # [deg]
        self.max_range_m = max_range_m  # [m]
        self.light_range_m = light_range_m  # the light is reported from this far from its stop line [m]

    def reset(self, seed: int | None = None) -> None:
        """Start a new episode (reseeds the noise when a seed is given)."""
        if seed is not None:
            self.rng = np.random.default_rng(seed)

    def _in_view(self, o) -> bool:
        if o.box_xyxy is not None:
            return o.visible_px >= self.noise.min_visible_px
        x = o.x_m - self.camera_forward_m
        if o.distance_m > self.max_range_m or x <= 0.5:
            return False
        # the footprint's nearest edge may be in view when its centre is not: a few degrees of margin
        return abs(np.degrees(np.arctan2(o.y_m, x))) <= self.hfov_deg / 2 + 5.0

    def process(self, frame: Frame, truth=None, prior=None) -> PerceptionFrame:
        """``truth`` (``sim.labels.GroundTruth``, required) as seen by the camera that took ``frame``;
        ``frame`` gives the record's index, time, source and image size. ``prior`` (the map's
        ``SignalPrior``) is not read: the labels already hold the light itself."""
        if truth is None:
            raise ValueError("GroundTruthPerception reads the simulator's labels: pass them as process(frame, truth)")
        gt, n = truth, self.noise
        objs = [o for o in gt.objects if self._in_view(o)]
        if max(n.miss_prob) > 0 and objs:
            dist = np.array([o.distance_m for o in objs])
            p_miss = np.asarray(n.miss_prob)[np.searchsorted(MISS_RANGE_EDGES_M, dist, side="right")]
            keep = self.rng.random(len(objs)) >= p_miss
            objs = [o for o, k in zip(objs, keep) if k]
        dets = self._detections(objs, gt.ego.speed_m_s)
        e = gt.ego
        offset = e.lane_offset_m + (self.rng.normal(0, n.lane_offset_std_m) if n.lane_offset_std_m else 0.0)
        heading = e.heading_error_rad + (self.rng.normal(0, n.heading_std_rad) if n.heading_std_rad else 0.0)
        lane = LaneEstimate(offset, heading, float(e.curvature_ahead_1_m[0]), e.lane_width_m, 1.0)
        lead, ttc = lead_vehicle(dets, lane)
        light, light_dist = e.light_state, float(e.light_stop_distance_m)
        if light_dist > self.light_range_m:
            light, light_dist = "none", float("inf")
        return PerceptionFrame(index=frame.index, timestamp_s=frame.timestamp_s, source=frame.source,
                               image_size=frame.image.shape[:2], detections=dets, lane=lane, light_state=light,
                               light_distance_m=light_dist, lead_index=lead, lead_ttc_s=ttc, drivable=gt.drivable,
                               lane_mask=gt.lanes, depth_m=gt.depth_m, timings_ms={"ground_truth": 0.0})

    def _detections(self, objs, ego_speed: float) -> Detections:
        if not objs:
            return Detections.empty()
        n = self.noise
        m = len(objs)
        boxes = np.array([o.box_xyxy if o.box_xyxy is not None else (np.nan,) * 4 for o in objs], np.float32)
        if n.box_jitter_px:
            boxes = boxes + self.rng.normal(0, n.box_jitter_px, boxes.shape).astype(np.float32)
        # the reported point is where a detector's box foot lands: the middle of the object's face nearest
        # the camera (for a car ahead, its rear bumper), relative to the camera's foot; distance is to the
        # footprint's nearest point
        centre = np.array([(o.x_m - self.camera_forward_m, o.y_m) for o in objs], np.float64)
        size = np.array([NOMINAL_SIZE_M.get(o.class_id, (0.4, 0.4)) for o in objs], np.float64)
        yaw = np.array([o.yaw_rad for o in objs], np.float64)
        half_depth = 0.5 * (size[:, 0] * np.abs(np.cos(yaw)) + size[:, 1] * np.abs(np.sin(yaw)))  # along x [m]
        dist = np.array([o.distance_m for o in objs], np.float64)
        face_x = np.where(centre[:, 0] > half_depth, centre[:, 0] - half_depth, centre[:, 0])
        pos = np.stack([face_x, centre[:, 1]], 1)
        if n.distance_rel_std:  # one range error per object, shared by its distance and its position
            scale = 1.0 + self.rng.normal(0, n.distance_rel_std, m)
            dist, pos = dist * scale, pos * scale[:, None]
        vel = np.array([(o.speed_m_s * np.cos(o.yaw_rad) - ego_speed, o.speed_m_s * np.sin(o.yaw_rad)) for o in objs])
        return Detections(boxes, np.ones(m, np.float32), np.array([o.class_id for o in objs], np.int64),
                          np.array([o.instance_id for o in objs], np.int64), dist.astype(np.float32),
                          pos.astype(np.float32), vel.astype(np.float32))

