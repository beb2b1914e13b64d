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

from .geometry import CameraModel, lead_vehicle
from .model_errors import LightConfusion, ObjectErrors
from .placement import TrackHistory, sure_range_m
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

# The "models" profile's correlated errors (perception.model_errors), fitted so that the teacher's drive through
# this noise shows about the models' error statistics (session 34) of session 32's measurement, validation
# perception seeds 30000-30019 (navigation town, autopilot drives):
MODELS_CAMERA = CameraModel.from_fov(320, 160, CAMERA_MOUNT.hfov_deg, CAMERA_MOUNT.height_m, CAMERA_MOUNT.pitch_deg)
FOOT_ROWS_M = MODELS_CAMERA.height_m * MODELS_CAMERA.fy  # K: a ground point x metres ahead lies K / x rows below the horizon [m px]
MISS_RUN_FRAMES = (2.0, 4.6, 5.9)  # mean frames of a miss run near / middle / far (measured 1.2-15.7, 4.6, 5.9)
# range error from the foot row: robust std 1.4 / 2.1 / 3.2 / 4.7 % of the range at 0-10 / 10-20 / 20-40 / 40-60 m
# (the models: 10 / 3.3 / 3.0 / 8.9 %, the near range's from boxes cut by the image bottom); the speeds fitted
# through it: 0.5 / 0.7 / 1.7 / 4.9 m/s along, 0.5 / 0.9 / 0.9 / 1.3 m/s across (the models: 0.45 / 0.61 / 2.5 / 2.9
# and 1.35 / 0.41 / 0.77 / 0.41), validation perception seeds 30000-30019 x 150 steps
FOOT_ROW_STD_PX = 0.3  # box foot row error [px]
MODELS_DISTANCE_REL_STD = 0.01  # the range error drawn afresh each frame on top (the models' box jitter)
LATERAL_STD_M = 0.2  # lateral placement error [m]
ERROR_CORR_S = 2.0  # correlation time of both [s] (a queue's range stuck at 45 m while the car closed from 63 m)
LIGHT_RUN_FRAMES = 5.0  # mean frames a wrong light reading lasts
NOISE_PROFILES = ("none", "measured", "models")


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
    # ---- errors correlated in time (perception.model_errors); the defaults leave them off
    miss_run_frames: tuple[float, float, float] | float = 1.0  # mean frames of a miss run by range (1: independent)
    foot_row_std_px: float = 0.0  # AR(1) error of the box foot's image row, turned into range by the camera [px]
    lateral_std_m: float = 0.0  # AR(1) error of the lateral placement [m]
    error_corr_s: float = ERROR_CORR_S  # correlation time of both [s]
    track_velocity: bool = False  # velocities fitted through the reported places as the models' tracks do (else exact)
    sure_range_m: float = float("inf")  # the frame's sure range (PerceptionFrame.sure_range_m), as the models' camera [m]
    light_confusion: float = 0.0  # scale of the models' light-state confusion (model_errors.LIGHT_READ_P; 0: none)
    light_run_frames: float = LIGHT_RUN_FRAMES  # mean frames a light reading lasts before it is drawn again

    @staticmethod
    def named(profile: "str | bool") -> "PerceptionNoise":
        """A profile by name: ``none`` (exact), ``measured`` (each frame's errors drawn afresh at the sizes
        measured, the default of training and the noisy-labels rows) or ``models`` (the measured sizes with the
        models' errors correlated in time, their speeds from tracks and their sure range and light confusion);
        True / False are ``measured`` / ``none`` (the training config's older boolean)."""
        if profile is True or profile == "measured":
            return PerceptionNoise()
        if profile is False or profile == "none":
            return PerceptionNoise.none()
        if profile == "models":
            return PerceptionNoise(distance_rel_std=MODELS_DISTANCE_REL_STD, miss_run_frames=MISS_RUN_FRAMES,
                                   foot_row_std_px=FOOT_ROW_STD_PX, lateral_std_m=LATERAL_STD_M, track_velocity=True,
                                   sure_range_m=float(sure_range_m(MODELS_CAMERA)), light_confusion=1.0)
        raise ConfigError(f"noise={profile!r} is not allowed; use one of {', '.join(NOISE_PROFILES)}")

    @property
    def correlated(self) -> bool:
        """Whether any error is carried from frame to frame (``GroundTruthPerception`` keeps per-object state)."""
        return (max(self.miss_run_frames) > 1.0 or self.foot_row_std_px > 0 or self.lateral_std_m > 0
                or self.track_velocity)

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
        runs = (self.miss_run_frames,) * 3 if np.isscalar(self.miss_run_frames) else tuple(self.miss_run_frames)
        if len(runs) != 3:
            raise ConfigError(f"noise.miss_run_frames={self.miss_run_frames!r} is not allowed; give one or three (near, middle, far)")
        for r in runs:
            check_range("noise.miss_run_frames", r, 1.0, None)
        object.__setattr__(self, "miss_run_frames", tuple(float(r) for r in runs))
        for name in ("foot_row_std_px", "lateral_std_m", "light_confusion"):
            check_range(f"noise.{name}", getattr(self, name), 0.0, None)
        check_range("noise.error_corr_s", self.error_corr_s, 0.0, None)
        check_range("noise.light_run_frames", self.light_run_frames, 1.0, None)


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
        self.correlated = self.noise.correlated  # per-object errors carried from frame to frame ...
        self.errors = ObjectErrors()  # ... kept here
        self.tracks = TrackHistory()  # velocities through the reported places (noise.track_velocity)
        self.lights = LightConfusion(self.noise.light_confusion, self.noise.light_run_frames)

    def reset(self, seed: int | None = None) -> None:
        """Start a new episode (reseeds the noise when a seed is given)."""
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.errors.reset()
        self.tracks = TrackHistory()
        self.lights.reset()

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
        rows = lats = None
        if self.correlated:
            rng_bin = np.searchsorted(MISS_RANGE_EDGES_M, [o.distance_m for o in objs], side="right").astype(int)
            rows, lats, missed = self.errors.step(frame.timestamp_s, [o.instance_id for o in objs],
                                                  np.asarray(n.miss_prob)[rng_bin], np.asarray(n.miss_run_frames)[rng_bin],
                                                  n.foot_row_std_px, n.lateral_std_m, n.error_corr_s, self.rng)
            objs, rows, lats = [o for o, m in zip(objs, missed) if not m], rows[~missed], lats[~missed]
        elif max(n.miss_prob) > 0 and objs:
            dist = np.array([o.distance_m for o in objs])
            p_miss = np.asarray(n.miss_prob)[np.searchsorted(MISS_RANGE_EDGES_M, dist, side="right")]
            keep = self.rng.random(len(objs)) >= p_miss
            objs = [o for o, k in zip(objs, keep) if k]
        dets = self._detections(objs, gt.ego.speed_m_s, frame.timestamp_s, rows, lats, frame.odometry)
        e = gt.ego
        offset = e.lane_offset_m + (self.rng.normal(0, n.lane_offset_std_m) if n.lane_offset_std_m else 0.0)
        heading = e.heading_error_rad + (self.rng.normal(0, n.heading_std_rad) if n.heading_std_rad else 0.0)
        lane = LaneEstimate(offset, heading, float(e.curvature_ahead_1_m[0]), e.lane_width_m, 1.0)
        lead, ttc = lead_vehicle(dets, lane)
        light, light_dist = e.light_state, float(e.light_stop_distance_m)
        if light_dist > self.light_range_m:
            light, light_dist = "none", float("inf")
        light = self.lights.read(light, self.rng)
        if light == "none":  # as the models' frames: no light read, no line
            light_dist = float("inf")
        return PerceptionFrame(index=frame.index, timestamp_s=frame.timestamp_s, source=frame.source,
                               image_size=frame.image.shape[:2], detections=dets, lane=lane, light_state=light,
                               light_distance_m=light_dist, lead_index=lead, lead_ttc_s=ttc, drivable=gt.drivable,
                               lane_mask=gt.lanes, depth_m=gt.depth_m, sure_range_m=n.sure_range_m,
                               timings_ms={"ground_truth": 0.0})

    def _detections(self, objs, ego_speed: float, t_s: float, rows=None, lats=None, odometry=None) -> Detections:
        """``rows`` / ``lats``: each object's foot-row [px] and lateral [m] error (``ObjectErrors``), or None;
        ``odometry``: the car's (``Frame.odometry``) for the fitted velocities."""
        if not objs:
            if self.noise.track_velocity:
                self.tracks.update(t_s, np.zeros(0, np.int64), np.zeros((0, 2)), odometry)
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
        if rows is not None and n.foot_row_std_px:
            # a row error moves the foot along its ray, by (x / K) of the range per row (FOOT_ROWS_M): a few
            # centimetres near, metres beyond 35 m (x' = K / (K / x + row), so x' / x = 1 / (1 + row x / K); a row
            # error past the horizon is capped at 2x)
            scale = np.where(pos[:, 0] > 0.5, 1.0 / np.maximum(1.0 + rows * pos[:, 0] / FOOT_ROWS_M, 0.5), 1.0)
            dist, pos = dist * scale, pos * scale[:, None]
        if lats is not None:
            pos = pos + np.stack([np.zeros(m), lats], 1)
        ids = np.array([o.instance_id for o in objs], np.int64)
        if n.track_velocity:
            vel = self.tracks.update(t_s, ids, pos, odometry)
        else:
            vel = np.array([(o.speed_m_s * np.cos(o.yaw_rad) - ego_speed, o.speed_m_s * np.sin(o.yaw_rad)) for o in objs])
        return Detections(boxes, np.ones(m, np.float32), np.array([o.class_id for o in objs], np.int64),
                          ids, dist.astype(np.float32), pos.astype(np.float32), vel.astype(np.float32))

