"""Rerun recordings (``.rrd``) of drives and replays: the only module that imports ``rerun``.

``RerunLog`` writes one recording (an ``.rrd`` file, or a stream to a viewer at an address) and
takes one step at a time: the camera image, the ``PerceptionFrame``, the simulator's
``GroundTruth`` where there is one, and the car's ``StepSignals``. Everything is logged on the
``step`` timeline (the env step, or the frame index of a replay) with the ``time`` timeline
(seconds since the start) beside it. Entity paths::

    camera/image                         the forward camera (JPEG)
    camera/perception/detections         2D boxes: class, track id, distance   (class legend)
    camera/perception/drivable|lanes     segmentation masks                     (class legends)
    camera/perception/depth              depth [m]
    camera/truth/...                     the same from the simulator's labels (sim runs)
    bev/ego                              the ego's box; bev is x forward, y left, z up [m], origin at
                                         the camera's foot on the road (perception's ground frame)
    bev/perception/objects|lane          detected objects (nominal sizes) and the perceived ego lane
    bev/truth/objects|lane, bev/route    the labelled objects and lane, the route ahead (sim runs)
    signals/*                            speed and limit [m/s], steer, throttle, brake, lead TTC [s],
                                         supervisor active, perception time [ms]
    reward/*                             the env's reward terms; events: a text line per event

``drivestack view`` (``drivestack.view``) writes the same recording from a finished run's files.
A missing ``rerun-sdk`` is a ``UsageError`` naming the extra.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from common.errors import UsageError
from common.vocab import (CAMERA_MOUNT, CLASS_COLOURS, CLASS_NAMES, CYCLIST_CLASS, CYCLIST_DIMS_M, EGO_LENGTH_M, EGO_WIDTH_M,
                          LANE_CLASSES, NOMINAL_SIZE_M, PEDESTRIAN_CLASS, TRAFFIC_CONE_CLASS, TRAFFIC_CONE_DIMS_M,
                          VEHICLE_DIMS_M)
from perception.geometry import lane_lines_m
from perception.types import LaneEstimate, PerceptionFrame

INSTALL_HINT = 'pip install -e ".[rerun]"'
APPLICATION_ID = "drivestack"
RECORDING_FILE = "recording.rrd"  # what --rerun writes into an episode or replay folder
ADDRESS_PREFIXES = ("rerun://", "rerun+http://", "rerun+https://")
JPEG_QUALITY = 85  # the camera as JPEG: a drive's .rrd stays a few MB per minute instead of ~100 MB raw
LANE_COLOURS = {"none": (0, 0, 0, 0), "ego_left": (255, 220, 0, 255), "ego_right": (0, 220, 255, 255), "other": (220, 220, 220, 255)}
BEV_AHEAD_M = 60.0  # how far ahead lane lines and the route are drawn [m]
OBJECT_HEIGHT_M = {**{c: dims[2] for c, dims in VEHICLE_DIMS_M.items()}, PEDESTRIAN_CLASS: 1.7, CYCLIST_CLASS: CYCLIST_DIMS_M[2],
                  TRAFFIC_CONE_CLASS: TRAFFIC_CONE_DIMS_M[2]}  # box heights in the bird's-eye view [m]
LIGHT_SIZE_M = (0.4, 0.4, 1.0)  # a traffic-light head in the bird's-eye view (length, width, height) [m]


def require_rerun():
    """The ``rerun`` module, or a UsageError naming the extra that installs it."""
    try:
        import rerun
    except ImportError:
        raise UsageError(f"Rerun recordings need the rerun extra: {INSTALL_HINT}") from None
    return rerun


def check_target(value: str | None) -> str | None:
    """``--rerun``'s value checked before anything runs: None (off), "" (write recording.rrd) or a viewer address."""
    if value is None or value == "" or value.startswith(ADDRESS_PREFIXES):
        if value is not None:
            require_rerun()
        return value
    raise UsageError(f"--rerun {value!r} is not allowed; give a viewer address such as "
                     f"rerun+http://127.0.0.1:9876/proxy, or no value to write {RECORDING_FILE} next to the run")


@dataclass(frozen=True)
class StepSignals:
    """What the car did in one step: the scalar series beside the images."""

    speed_m_s: float = math.nan  # [m/s]
    speed_limit_m_s: float = math.nan  # [m/s]
    steer: float = math.nan  # command in [-1, 1], + left; NaN after a reset (no action yet)
    accel: float = math.nan  # command in [-1, 1]: > 0 throttle, < 0 brake
    supervisor_active: bool | None = None  # None: no supervisor in the loop
    supervisor_reason: str = ""  # why it overrode the policy this step
    reward_terms: dict[str, float] = field(default_factory=dict)
    events: dict[str, bool] = field(default_factory=dict)  # the env's step events (collision, red light, ...)


def step_signals(truth, action, reward_terms: dict | None, events: dict | None, supervisor_active: bool | None,
                 supervisor_reason: str = "") -> StepSignals:
    """A step's signals from what the env reports (live, or read back from steps.jsonl): ``truth`` a
    ``GroundTruth`` or None, ``action`` (steer, accel) or None after a reset."""
    steer, accel = (float(action[0]), float(action[1])) if action is not None else (math.nan, math.nan)
    ego = truth.ego if truth is not None else None
    return StepSignals(speed_m_s=ego.speed_m_s if ego else math.nan, speed_limit_m_s=ego.speed_limit_m_s if ego else math.nan,
                       steer=steer, accel=accel, supervisor_active=supervisor_active, supervisor_reason=supervisor_reason,
                       reward_terms=dict(reward_terms or {}), events=dict(events or {}))


TTC_SHOWN_MAX_S = 20.0  # a lead this far off in time is no threat; its TTC (up to 10^4 s) would flatten every other signal


# the bird's-eye view's starting eye: above and behind the ego, looking down the road (x forward, z up [m])
BEV_EYE = dict(position=(-18.0, 0.0, 24.0), look_target=(28.0, 0.0, 0.0), eye_up=(0.0, 0.0, 1.0))


def default_layout():
    """The viewer layout each recording carries: perception and ground truth over the camera, the
    bird's-eye scene, the time series. Depth starts hidden (its colour map would cover the camera);
    its eye icon in the view's entity list shows it."""
    import rerun.blueprint as rrb

    def camera(name: str, who: str):
        return rrb.Spatial2DView(name=name, origin="camera", contents=["$origin/image", f"$origin/{who}/**"],
                                 overrides={f"camera/{who}/depth": rrb.EntityBehavior(visible=False)})

    return rrb.Horizontal(
        rrb.Vertical(camera("perception", "perception"), camera("ground truth", "truth")),
        rrb.Spatial3DView(name="bird's-eye", origin="bev", eye_controls=rrb.EyeControls3D(**BEV_EYE)),
        rrb.Vertical(rrb.TimeSeriesView(name="signals", origin="signals"), rrb.TimeSeriesView(name="reward terms", origin="reward"),
                     rrb.TextLogView(name="events", origin="events")),
        column_shares=[2, 2, 1])


class RerunLog:
    """One recording, step by step; ``target`` is an ``.rrd`` path or a viewer address (``rerun+http://...``)."""

    def __init__(self, target: str | Path, name: str):
        rr = require_rerun()
        import rerun.blueprint as rrb

        self.rr = rr
        self.rec = rr.RecordingStream(APPLICATION_ID, recording_id=uuid.uuid4())
        self.rec.set_log_time_enabled(False)  # the step / time timelines only: the same run gives the same recording
        blueprint = rrb.Blueprint(default_layout())
        target = str(target)
        if target.startswith(ADDRESS_PREFIXES):
            self.rec.connect_grpc(target, default_blueprint=blueprint)
        else:
            self.rec.save(target, default_blueprint=blueprint)
        self.rec.send_recording_name(name)
        self._static()
        self.steps = 0

    def _static(self) -> None:
        rr, log = self.rr, self.rec.log
        classes = rr.AnnotationContext([rr.AnnotationInfo(id=k, label=n, color=CLASS_COLOURS[n]) for k, n in enumerate(CLASS_NAMES)])
        lanes = rr.AnnotationContext([rr.AnnotationInfo(id=k, label=n, color=LANE_COLOURS[n]) for k, n in enumerate(LANE_CLASSES)])
        drivable = rr.AnnotationContext([rr.AnnotationInfo(id=0, label="not drivable", color=(0, 0, 0, 0)),
                                         rr.AnnotationInfo(id=1, label="drivable", color=(0, 200, 80, 255))])
        for who in ("perception", "truth"):
            log(f"camera/{who}/detections", classes, static=True)
            log(f"camera/{who}/lanes", lanes, static=True)
            log(f"camera/{who}/drivable", drivable, static=True)
            log(f"bev/{who}/objects", classes, static=True)
        log("bev", rr.ViewCoordinates.RIGHT_HAND_Z_UP, static=True)
        ego_centre_x = -CAMERA_MOUNT.forward_m  # the ego's reference point is this far behind the camera [m]
        log("bev/ego", rr.Boxes3D(centers=[(ego_centre_x, 0.0, 0.75)], sizes=[(EGO_LENGTH_M, EGO_WIDTH_M, 1.5)],
                                  colors=[(255, 255, 255)], labels=["ego"]), static=True)

    # --- one step --------------------------------------------------------------------------

    def log_step(self, step: int, time_s: float, camera: np.ndarray | None = None, pf: PerceptionFrame | None = None,
                 truth=None, signals: StepSignals | None = None) -> None:
        """Everything known of one step; ``truth`` is a ``sim.labels.GroundTruth`` (dense masks optional)."""
        self.rec.set_time("step", sequence=int(step))
        self.rec.set_time("time", duration=float(time_s))
        size = None
        if camera is not None and camera.size:
            self.rec.log("camera/image", self.rr.Image(camera, color_model="RGB").compress(jpeg_quality=JPEG_QUALITY))
            size = camera.shape[:2]
        if pf is not None:
            self._perception(pf, size or tuple(pf.image_size))
        if truth is not None:
            self._truth(truth, size)
        if signals is not None:
            self._signals(signals, pf)
        self.steps += 1

    def _dense(self, who: str, size, drivable, lanes, depth_m) -> None:
        """Masks and depth, scaled (nearest) to the camera image so they lie over it in the 2D view."""
        rr = self.rr
        if drivable is not None:
            self.rec.log(f"camera/{who}/drivable", rr.SegmentationImage(_fit(drivable.astype(np.uint8), size), opacity=0.35))
        if lanes is not None:
            self.rec.log(f"camera/{who}/lanes", rr.SegmentationImage(_fit(lanes, size), opacity=0.8))
        if depth_m is not None:
            mm = np.clip(np.nan_to_num(_fit(depth_m, size), nan=0.0, posinf=0.0) * 1000.0, 0, 65535).astype(np.uint16)
            self.rec.log(f"camera/{who}/depth", rr.DepthImage(mm, meter=1000.0))  # millimetres: half the bytes of float32

    def _perception(self, pf: PerceptionFrame, size) -> None:
        rr, d = self.rr, pf.detections
        labels = [_label(CLASS_NAMES[c], t, r) for c, t, r in zip(d.class_id.tolist(), d.track_id.tolist(), d.distance_m.tolist())]
        self.rec.log("camera/perception/detections", rr.Boxes2D(array=d.xyxy, array_format=rr.Box2DFormat.XYXY,
                                                                 class_ids=d.class_id, labels=labels))
        self._dense("perception", size, pf.drivable, pf.lane_mask, pf.depth_m)
        # bird's-eye: a box of the class's nominal size with its near face at the reported ground point
        known = np.all(np.isfinite(d.position_m), axis=1)
        cls = d.class_id[known].tolist()
        sizes = np.array([_size_m(c) for c in cls], np.float32).reshape(-1, 3)
        pos = d.position_m[known]
        centres = np.column_stack([pos[:, 0] + np.sign(pos[:, 0]) * sizes[:, 0] / 2, pos[:, 1], sizes[:, 2] / 2])
        self.rec.log("bev/perception/objects", rr.Boxes3D(centers=centres, sizes=sizes, class_ids=cls,
                                                          labels=[labels[k] for k in np.flatnonzero(known)]))
        self._lane("perception", pf.lane, (255, 160, 0))

    def _truth(self, gt, size) -> None:
        rr = self.rr
        objs = gt.objects
        boxed = [o for o in objs if o.box_xyxy is not None]
        self.rec.log("camera/truth/detections", rr.Boxes2D(
            array=np.array([o.box_xyxy for o in boxed], np.float32).reshape(-1, 4), array_format=rr.Box2DFormat.XYXY,
            class_ids=[o.class_id for o in boxed], labels=[_label(o.class_name, o.instance_id, o.distance_m) for o in boxed]))
        self._dense("truth", size, gt.drivable, gt.lanes, gt.depth_m)
        # labels are centred on the ego's reference point; the bird's-eye origin is the camera's foot
        sizes = np.array([_size_m(o.class_id) for o in objs], np.float32).reshape(-1, 3)
        centres = np.array([(o.x_m - CAMERA_MOUNT.forward_m, o.y_m, 0.0) for o in objs], np.float32).reshape(-1, 3)
        centres[:, 2] = sizes[:, 2] / 2
        self.rec.log("bev/truth/objects", rr.Boxes3D(
            centers=centres, sizes=sizes, class_ids=[o.class_id for o in objs],
            rotation_axis_angles=[rr.RotationAxisAngle(axis=(0, 0, 1), radians=o.yaw_rad) for o in objs],
            labels=[_label(o.class_name, o.instance_id, o.distance_m) for o in objs], fill_mode="majorwireframe"))
        e = gt.ego
        self._lane("truth", LaneEstimate(e.lane_offset_m, e.heading_error_rad, e.curvature_ahead_1_m[0], e.lane_width_m, 1.0),
                   (255, 255, 255))
        remaining = e.route_length_m - e.route_progress_m
        route = route_ahead_m(e.lane_offset_m, e.heading_error_rad, e.curvature_ahead_1_m, min(BEV_AHEAD_M, max(remaining, 0.0)))
        self.rec.log("bev/route", rr.LineStrips3D([np.column_stack([route, np.full(len(route), 0.05)])],
                                                  colors=[(80, 160, 255)], radii=[0.25], labels=["route"]))

    def _lane(self, who: str, lane: LaneEstimate, colour) -> None:
        lines = lane_lines_m(lane, BEV_AHEAD_M)
        if not lines:  # unknown lane: clear the last one rather than leave it standing
            self.rec.log(f"bev/{who}/lane", self.rr.Clear(recursive=False))
            return
        self.rec.log(f"bev/{who}/lane", self.rr.LineStrips3D([np.column_stack([xy, np.full(len(xy), 0.02)]) for xy in lines],
                                                             colors=[colour], radii=[0.08]))

    def _signals(self, s: StepSignals, pf: PerceptionFrame | None) -> None:
        rr, log = self.rr, self.rec.log
        values = {"speed/ego_m_s": s.speed_m_s, "speed/limit_m_s": s.speed_limit_m_s, "steer": s.steer,
                  "throttle": max(s.accel, 0.0) if math.isfinite(s.accel) else math.nan,
                  "brake": max(-s.accel, 0.0) if math.isfinite(s.accel) else math.nan}
        if s.supervisor_active is not None:
            values["supervisor_active"] = float(s.supervisor_active)
        if pf is not None:
            if pf.lead_ttc_s <= TTC_SHOWN_MAX_S:
                values["lead_ttc_s"] = pf.lead_ttc_s
            if "total" in pf.timings_ms:
                values["perception_ms"] = pf.timings_ms["total"]
        for name, v in values.items():
            if math.isfinite(v):  # an unknown value (no lead, no action yet) leaves a gap, not a spike
                log(f"signals/{name}", rr.Scalars(v))
        for name, v in s.reward_terms.items():
            if v is not None and math.isfinite(v):
                log(f"reward/{name}", rr.Scalars(float(v)))
        # events are flags (True when it happened) or a name (the collision's kind); numbers are measurements
        happened = [name if v is True else f"{name}: {v}" for name, v in s.events.items() if v is True or (isinstance(v, str) and v)]
        if s.supervisor_reason:
            happened.append(f"supervisor: {s.supervisor_reason}")
        if happened:
            log("events", rr.TextLog(", ".join(happened), level="WARN"))

    def close(self) -> None:
        """Flush and finish the recording (the .rrd is complete and readable from here on)."""
        self.rec.flush()
        self.rec.disconnect()


# --- helpers ----------------------------------------------------------------------------------


def route_ahead_m(offset_m: float, heading_rad: float, curvature_ahead_1_m, ahead_m: float, step_m: float = 2.0) -> np.ndarray:
    """The ego lane's centre over the next ``ahead_m`` of the route, (N, 2) (forward, left) [m]:
    integrated from the labels' curvature 10/20/30 m ahead (held beyond 30 m)."""
    s = np.arange(0.0, ahead_m + step_m, step_m) if ahead_m > 0 else np.zeros(1)
    s = np.minimum(s, ahead_m)
    k = np.interp(s, (0.0, 10.0, 20.0, 30.0), (curvature_ahead_1_m[0], *curvature_ahead_1_m))
    heading = -heading_rad + np.concatenate([[0.0], np.cumsum(0.5 * (k[1:] + k[:-1]) * np.diff(s))])
    ds = np.diff(s)
    x = np.concatenate([[0.0], np.cumsum(ds * np.cos(heading[:-1] + 0.5 * np.diff(heading)))])
    y = -offset_m + np.concatenate([[0.0], np.cumsum(ds * np.sin(heading[:-1] + 0.5 * np.diff(heading)))])
    return np.column_stack([x, y])


def _size_m(class_id: int) -> tuple[float, float, float]:
    """(length, width, height) [m] of a class in the bird's-eye view."""
    if class_id in NOMINAL_SIZE_M:
        return (*NOMINAL_SIZE_M[class_id], OBJECT_HEIGHT_M[class_id])
    return LIGHT_SIZE_M


def _label(name: str, track_id: int, distance_m: float) -> str:
    text = name if track_id < 0 else f"{name} #{track_id}"
    return f"{text} {distance_m:.0f} m" if math.isfinite(distance_m) else text


def _fit(image: np.ndarray, size) -> np.ndarray:
    """``image`` at ``size`` (height, width), nearest-neighbour (class ids stay class ids)."""
    if size is None or image.shape[:2] == tuple(size):
        return image
    import cv2

    return cv2.resize(image, (int(size[1]), int(size[0])), interpolation=cv2.INTER_NEAREST)
