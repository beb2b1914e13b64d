"""``Perception``: one frame in, one ``PerceptionFrame`` out, from the trained models.

Stages (each timed into ``PerceptionFrame.timings_ms``):
1. detector: YOLO boxes with track ids (``perception.yolo``);
2. multitask: drivable area, lane markings, depth and a direct lane regression (``perception.hydranet``);
3. geometry: each box's ground distance from its foot pixel on the flat road, cross-checked with
   the depth head where the foot is not visible; velocities from each track's history; the
   ego lane fitted in bird's-eye view from the lane-marking mask (the regression head is the
   fallback when too few marking pixels are seen; a one-frame jump is held back); the lead
   vehicle and its time to collision; the relevant traffic light and the distance to its stop
   line: from the detector's light boxes (``perception.light_selection``, ``perception.lights``)
   and/or the multi-task net's light head, per ``light_source``.

Both networks run in PyTorch or, on the CPU by default, in ONNX Runtime (``perception.onnx_backend``):
the same outputs in about half the time.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from common.device import resolve_device
from common.vocab import CAMERA_MOUNT, CAMERA_TO_BUMPER_M

from .geometry import MIN_LANE_CONFIDENCE, CameraModel, box_ground_points, fit_lane
from .ground_truth import lead_vehicle
from .light_selection import PASSED_LINE_M, relevant_light, zoomed_lights
from .types import NOMINAL_SIZE_M, Detections, Frame, LaneEstimate, PerceptionFrame

log = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).parent / "models"
DEFAULT_DETECTOR = MODELS_DIR / "detector.pt"
DEFAULT_HYDRANET = MODELS_DIR / "hydranet.pt"
# a lane estimate that moves more than this from the last one (the car moves a few cm sideways between
# frames; the fit sometimes locks onto the wrong paint for a frame: 3 m and 0.6 rad off, town seed 900001)
# is held back until it has lasted LANE_JUMP_FRAMES estimates
LANE_JUMP_M = 0.75  # [m]
LANE_JUMP_RAD = 0.15  # [rad]
LANE_JUMP_FRAMES = 3
# the zoomed light pass runs at most this often, and its lights are used until the next is due (4 frames
# at 20 Hz): a light 30-50 m ahead moves a pixel or two in 0.2 s, and control.light_memory bridges a gap [s]
LIGHT_ZOOM_PERIOD_S = 0.2
SIDE_BODY_HEIGHT_M = (0.3, 3.0)  # depth pixels this high above the road belong to a cut box's object body [m]
SIDE_BODY_MIN_PX = 20  # ... and at least this many are needed to place it from them
BACKENDS = ("auto", "torch", "onnxruntime")  # see Perception.from_files
VELOCITY_WINDOW_S = 0.5  # track velocities are fitted over this much history [s]
MAX_RELATIVE_SPEED_M_S = 60.0  # a fitted relative velocity beyond this is a track switch, not motion
# where PerceptionFrame.light_state / light_distance_m come from: "detector" (its light boxes, range from
# the box rows), "multitask" (HydraNet's light head), or "auto": the detector's light when it reports one,
# else the light head (see ``Perception._light``)
LIGHT_SOURCES = ("auto", "detector", "multitask")


@dataclass(frozen=True)
class CameraSetup:
    """How the camera that took the frames is mounted; defaults are the simulator's."""

    hfov_deg: float = CAMERA_MOUNT.hfov_deg  # horizontal field of view [deg]
    height_m: float = CAMERA_MOUNT.height_m  # above the road [m]
    pitch_deg: float = CAMERA_MOUNT.pitch_deg  # negative looks down [deg]
    forward_m: float = CAMERA_MOUNT.forward_m  # ahead of the ego's reference point [m]
    front_ahead_m: float = CAMERA_TO_BUMPER_M  # the vehicle's front bumper ahead of the camera [m]

    def model(self, width: int, height: int) -> CameraModel:
        return CameraModel.from_fov(width, height, self.hfov_deg, self.height_m, self.pitch_deg, self.forward_m)


def model_paths(detector: str | Path | None = None, hydranet: str | Path | None = None) -> tuple[Path, Path]:
    """The detector and multi-task weights to use (the shipped ones by default); a missing file is a
    ``FileNotFoundError`` that says how to get one."""
    paths = (Path(detector) if detector else DEFAULT_DETECTOR, Path(hydranet) if hydranet else DEFAULT_HYDRANET)
    for what, path in zip(("detector", "multi-task network"), paths):
        if not path.is_file():
            raise FileNotFoundError(f"{what} weights {str(path)!r} do not exist; train one (`drivestack train`) or pass its path")
    return paths


class _TrackHistory:
    """Per track id: its recent ground positions, and a velocity fitted through them.

    Box-foot distances jitter by a few per cent frame to frame; a finite difference over one
    frame (50 ms) turns a 1 m jitter at 30 m into 20 m/s. A least-squares slope over the last
    ``VELOCITY_WINDOW_S`` averages that out; implausible results (a track that jumped to another
    object) are reported as unknown."""

    def __init__(self):
        self.state: dict[int, list[tuple[float, np.ndarray]]] = {}

    def update(self, t_s: float, track_id: np.ndarray, position_m: np.ndarray) -> np.ndarray:
        vel = np.full((len(track_id), 2), np.nan, np.float32)
        seen = {}
        for k, tid in enumerate(track_id.tolist()):
            if tid < 0 or not np.all(np.isfinite(position_m[k])):
                continue
            p_now = position_m[k].astype(np.float64)
            hist = [h for h in self.state.get(tid, []) if t_s - h[0] <= VELOCITY_WINDOW_S and h[0] < t_s]
            if hist and np.hypot(*(p_now - hist[-1][1])) > MAX_RELATIVE_SPEED_M_S * (t_s - hist[-1][0]) + 2.0:
                hist = []  # the track jumped to another object: start its history again
            hist.append((t_s, p_now))
            if len(hist) >= 3:
                t = np.array([h[0] for h in hist])
                p = np.array([h[1] for h in hist])
                tc = t - t.mean()
                v = (tc[:, None] * (p - p.mean(axis=0))).sum(axis=0) / max(float((tc**2).sum()), 1e-9)
                if np.all(np.abs(v) < MAX_RELATIVE_SPEED_M_S):
                    vel[k] = v
            seen[tid] = hist
        self.state = seen  # tracks not seen this frame are dropped
        return vel


class Perception:
    """The trained perception stack. Either model may be None (that part is then not reported)."""

    def __init__(self, detector=None, hydranet=None, camera: CameraSetup = CameraSetup(), track: bool = True,
                 light_source: str = "auto", interleave: bool = False, light_zoom: bool = True):
        if light_source not in LIGHT_SOURCES:
            raise ValueError(f"light_source {light_source!r} is not one of {LIGHT_SOURCES}")
        self.detector = detector
        self.hydranet = hydranet
        self.camera_setup = camera
        self.track = track
        self.light_source = light_source
        # interleave: the two networks take turns, each on every other frame, so a frame costs one
        # network instead of two; in between, the last detections are moved by their tracks' fitted
        # relative velocities and the last dense outputs (lanes, drivable area, depth) are reused
        self.interleave = interleave
        # light_zoom: when the full frame shows no light ahead, the detector also looks at the upper middle
        # of the image (light_selection.LIGHT_ZOOM_REGION) at twice the scale, for traffic lights only: the ego's own head is
        # 5 px tall at 40 m, below what the detector finds at 320 px. At most every LIGHT_ZOOM_PERIOD_S;
        # its lights are used until the next zoom is due
        self.light_zoom = light_zoom
        self._zoom_lights = Detections.empty()
        self._zoom_t = -np.inf  # frame time of the last zoomed pass [s]
        self._zoom_ms = 0.0  # this frame's zoomed pass [ms], counted in the detector's time
        self._history = _TrackHistory()
        self._last_dets: Detections | None = None  # interleave: the last detector frame's objects ...
        self._last_dets_t = 0.0  # ... and its time [s]
        self._last_heads: dict | None = None  # ... and the last multi-task outputs
        self._turn = 0
        self._shape: tuple[int, ...] | None = None  # image shape the carried outputs belong to
        self._lane_of: dict | None = None  # the multi-task outputs ``_lane_fit`` was fitted to
        self._lane_fit = LaneEstimate.unknown()
        self._lane_last: LaneEstimate | None = None  # the last lane estimate that passed the jump gate ...
        self._lane_jumps = 0  # ... and how many estimates in a row have jumped away from it

    @property
    def backend(self) -> str:
        """Which runtime runs the networks: "torch", "onnxruntime", "none" or a mix ("onnxruntime+torch")."""
        used = sorted({getattr(m, "backend", "torch") for m in (self.detector, self.hydranet) if m is not None})
        return "+".join(used) or "none"

    @classmethod
    def from_files(cls, detector: str | Path | None = DEFAULT_DETECTOR, hydranet: str | Path | None = DEFAULT_HYDRANET,
                   device: str = "auto", camera: CameraSetup = CameraSetup(), track: bool = True,
                   backend: str = "auto", onnx_cache: str | Path | None = None,
                   light_source: str = "auto", interleave: bool = False, light_zoom: bool = True) -> "Perception":
        """Load models (the shipped ones by default); a missing default model is an error naming the file.

        ``backend``: "torch", "onnxruntime" (CPU only; both networks exported once into
        ``onnx_cache``, see ``perception.onnx_backend``) or "auto": ONNX Runtime when it is
        installed and the device is the CPU, else PyTorch; under "auto" a failed export falls
        back to PyTorch with a warning. ``self.backend`` says which one runs. ``light_source``: see
        ``LIGHT_SOURCES``; ``interleave``, ``light_zoom``: see ``__init__``.
        """
        stack = cls._from_files(detector, hydranet, device, camera, track, backend, onnx_cache, light_source)
        stack.interleave, stack.light_zoom = interleave, light_zoom
        return stack

    @classmethod
    def _from_files(cls, detector, hydranet, device, camera, track, backend, onnx_cache, light_source) -> "Perception":
        if light_source not in LIGHT_SOURCES:
            raise ValueError(f"light_source {light_source!r} is not one of {LIGHT_SOURCES}")
        if resolve_backend(backend, device) == "onnxruntime":
            try:
                return cls._load(detector, hydranet, device, camera, track, "onnxruntime", onnx_cache, light_source)
            except (FileNotFoundError, ValueError):
                raise  # the weights themselves are wrong: the same under PyTorch
            except Exception as exc:  # noqa: BLE001 - any exporter or runtime gap: "auto" still gets a working stack
                if backend != "auto":
                    raise
                log.warning("ONNX Runtime backend unavailable (%s: %s); using PyTorch", type(exc).__name__, exc)
        return cls._load(detector, hydranet, device, camera, track, "torch", None, light_source)

    @classmethod
    def _load(cls, detector, hydranet, device, camera, track, backend: str, onnx_cache,
              light_source: str = "auto") -> "Perception":
        det = hyd = None
        if detector is not None:
            from .yolo import DetectorConfig, YoloDetector

            if backend == "onnxruntime":
                det = YoloDetector.load_onnxruntime(detector, cfg=DetectorConfig(device="cpu"), cache=onnx_cache)
            else:
                det = YoloDetector.load(detector, cfg=DetectorConfig(device=device))
        if hydranet is not None:
            if backend == "onnxruntime":
                from .onnx_backend import OnnxHydraNet

                hyd = OnnxHydraNet.load(hydranet, cache=onnx_cache)
            else:
                from .hydranet import HydraNet

                hyd = HydraNet.load(hydranet, device=resolve_device(device))
        return cls(det, hyd, camera, track, light_source)

    def reset(self) -> None:
        """Forget tracks (call between unrelated videos or episodes)."""
        self._history = _TrackHistory()
        self._last_dets, self._last_heads, self._turn = None, None, 0
        self._lane_of, self._lane_last, self._lane_jumps = None, None, 0
        self._zoom_lights, self._zoom_t = Detections.empty(), -np.inf
        if self.detector is not None and self.track:
            self.detector.reset_tracker()

    def process(self, frame: Frame) -> PerceptionFrame:
        img = frame.image
        h, w = img.shape[:2]
        cam = self.camera_setup.model(w, h)
        timings: dict[str, float] = {}
        run_det, run_hyd = self._schedule(img.shape)
        t0 = time.perf_counter()
        dets = Detections.empty()
        if run_det:
            dets = self.detector.track(img) if self.track else self.detector.detect(img)
        self._zoom_ms = 0.0
        t1 = time.perf_counter()
        timings["detector"] = (t1 - t0) * 1e3
        heads = self._last_heads if not run_hyd else None
        if run_hyd:
            # run at the network's own size: upsampling dense outputs to 1280x720 would cost more than the network
            net_h, net_w = self.hydranet.config.input_size
            small = img if (h, w) == (net_h, net_w) else cv2.resize(img, (net_w, net_h), interpolation=cv2.INTER_AREA)
            heads = self.hydranet.predict(small)
        t2 = time.perf_counter()
        timings["multitask"] = (t2 - t1) * 1e3
        if run_det or self.detector is None:
            dets = self._place(dets, cam, heads, frame.timestamp_s)
        else:
            dets = self._carried_detections(frame.timestamp_s)
        if self.interleave:
            self._last_heads = heads
            if run_det:
                self._last_dets, self._last_dets_t = dets, frame.timestamp_s
        if heads is None or heads is not self._lane_of:  # interleave reuses the heads: the fit would be the same
            lane = self._lane(cam.scaled(*heads["lanes"].shape[::-1]) if heads is not None else cam, heads)
            self._lane_fit = self._lane_gate(lane)
            self._lane_of = heads
        lane = self._lane_fit
        lead, ttc = lead_vehicle(dets, lane)
        light, light_dist = self._light(dets, cam, lane, heads, img, frame.timestamp_s)
        t3 = time.perf_counter()
        timings["detector"] += self._zoom_ms
        timings["geometry"] = (t3 - t2) * 1e3 - self._zoom_ms
        timings["total"] = (t3 - t0) * 1e3
        return PerceptionFrame(frame.index, frame.timestamp_s, frame.source, (h, w), dets, lane, light, light_dist, lead, ttc,
                               None if heads is None else heads["drivable"], None if heads is None else heads["lanes"],
                               None if heads is None else heads["depth_m"], timings)

    def _schedule(self, shape: tuple[int, ...]) -> tuple[bool, bool]:
        """Whether the detector and the multi-task network run on this frame."""
        has_det, has_hyd = self.detector is not None, self.hydranet is not None
        if not self.interleave or not (has_det and has_hyd):
            return has_det, has_hyd
        if self._last_dets is None or self._last_heads is None or self._shape != shape:
            self._shape, self._turn = shape, 1
            return True, True  # the first frame (or a new size): both, so the next can reuse either
        self._turn ^= 1
        return self._turn == 0, self._turn == 1

    def _carried_detections(self, t_s: float) -> Detections:
        """The last detected objects, moved by their tracks' relative velocities to time ``t_s``.
        Boxes stay where they were seen; positions and distances are predicted."""
        dets = self._last_dets
        if len(dets) == 0:
            return dets
        dt = max(t_s - self._last_dets_t, 0.0)
        step = np.where(np.isfinite(dets.velocity_m_s), dets.velocity_m_s, 0.0) * dt
        pos = dets.position_m + step.astype(np.float32)
        dist = np.where(np.isfinite(dets.distance_m), np.hypot(pos[:, 0], pos[:, 1]), dets.distance_m)
        return Detections(dets.xyxy, dets.score, dets.class_id, dets.track_id, dist.astype(np.float32), pos, dets.velocity_m_s)

    def _place(self, dets: Detections, cam: CameraModel, heads, t_s: float) -> Detections:
        """Ground position and distance of every box; velocity from its track."""
        if len(dets) == 0:
            return dets
        pos, dist = box_ground_points(cam, dets.xyxy)
        cut = dets.xyxy[:, 3] >= cam.height - 1  # foot below the frame: the flat-road distance is unreliable
        bad = ~np.isfinite(dist) | cut
        if heads is not None and bad.any():
            depth = heads["depth_m"]  # at the network's resolution: scale the boxes down to it
            sx, sy = depth.shape[1] / cam.width, depth.shape[0] / cam.height
            for k in np.flatnonzero(bad):
                box = dets.xyxy[k] * np.array([sx, sy, sx, sy])
                x0, y0, x1, y1 = np.clip(box, 0, [depth.shape[1] - 1, depth.shape[0] - 1] * 2).astype(int)
                patch = depth[y0:y1 + 1, x0:x1 + 1]
                if patch.size:
                    z = float(np.median(patch))
                    u = (x0 + x1) / 2
                    lateral = -(u - cam.cx) / cam.fx * z
                    pos[k] = (z, lateral)
                    dist[k] = float(np.hypot(z, lateral))
        pos = _side_cut_lateral(dets, cam, pos, None if heads is None else heads["depth_m"])
        vel = self._history.update(t_s, dets.track_id, pos) if self.track else np.full((len(dets), 2), np.nan, np.float32)
        return Detections(dets.xyxy, dets.score, dets.class_id, dets.track_id, dist.astype(np.float32),
                          pos.astype(np.float32), vel.astype(np.float32))

    def _light(self, dets: Detections, cam: CameraModel, lane: LaneEstimate, heads, image: np.ndarray,
               t_s: float) -> tuple[str, float]:
        """The relevant light's state and stop-line distance [m] from the sources ``light_source`` allows."""
        if self.light_source != "multitask":
            seen = relevant_light(dets, cam, lane, self.camera_setup.front_ahead_m, image)
            if seen[0] == "none" or seen[1] < PASSED_LINE_M:  # none ahead in the full frame: a far one, zoomed?
                self._zoom(image, t_s)
                zoomed = relevant_light(self._zoom_lights, cam, lane, self.camera_setup.front_ahead_m, image)
                seen = zoomed if zoomed[0] != "none" and zoomed[1] >= PASSED_LINE_M else seen
            if seen[0] != "none" or self.light_source == "detector":
                return seen
        if heads is None or "light_state" not in heads:
            return "none", float("inf")
        return str(heads["light_state"]), float(heads["light_distance_m"])

    def _zoom(self, image: np.ndarray, t_s: float) -> None:
        """The zoomed light pass on the frame at ``t_s`` [s], when due (else its last lights, younger than
        LIGHT_ZOOM_PERIOD_S, stand). Time, not frame count: sparse frames (an evaluation, a slow video)
        each get their own pass."""
        if not self.light_zoom or self.detector is None:
            return
        age = t_s - self._zoom_t
        if not 0.0 <= age < LIGHT_ZOOM_PERIOD_S - 1e-6:  # due (or time went backwards: a new video)
            t = time.perf_counter()
            self._zoom_lights, self._zoom_t = zoomed_lights(self.detector, image), t_s
            self._zoom_ms = (time.perf_counter() - t) * 1e3

    def _lane_gate(self, lane: LaneEstimate) -> LaneEstimate:
        """``lane``, unless it jumped from the last estimate by more than the car can move between two
        frames (LANE_JUMP_M, LANE_JUMP_RAD): then the last estimate stands, until the new reading has
        held for LANE_JUMP_FRAMES estimates (a real change: the car crossed into the next lane)."""
        last = self._lane_last
        known = np.isfinite(lane.offset_m) and np.isfinite(lane.heading_error_rad)
        if last is None or not known:
            self._lane_last, self._lane_jumps = (lane if known else last), 0
            return lane
        if (abs(lane.offset_m - last.offset_m) > LANE_JUMP_M or abs(lane.heading_error_rad - last.heading_error_rad)
                > LANE_JUMP_RAD) and self._lane_jumps + 1 < LANE_JUMP_FRAMES:
            self._lane_jumps += 1
            return last
        self._lane_last, self._lane_jumps = lane, 0
        return lane

    def _lane(self, cam: CameraModel, heads) -> LaneEstimate:
        if heads is None:
            return LaneEstimate.unknown()
        fitted = fit_lane(cam, heads["lanes"])
        if fitted.confidence >= MIN_LANE_CONFIDENCE:
            return fitted
        return LaneEstimate(float(heads["lane_offset_m"]), float(heads["heading_error_rad"]), float(heads["curvature_1_m"]),
                            float(heads["lane_width_m"]), MIN_LANE_CONFIDENCE / 2)


def _side_cut_lateral(dets: Detections, cam: CameraModel, pos: np.ndarray, depth_m: np.ndarray | None) -> np.ndarray:
    """Lateral position of boxes cut by the image's left or right edge.

    The middle of a cut box is not the middle of the object: a car passing beside the ego fills
    a corner of the image and its box centre sits well inside the frame, which would put it in
    the ego's path. With the depth head, every pixel of the box is lifted into 3D; those standing
    above the road (SIDE_BODY_HEIGHT_M) are the object's body, and the one nearest our path among
    them (a low percentile, against stray pixels) is its near side: the centre lies half a nominal
    width beyond. The box's inner edge alone misleads here: detector boxes of cut objects run past
    the body onto the road. Without depth, the inner edge, ranged by the box, is the estimate."""
    x0, x1 = dets.xyxy[:, 0], dets.xyxy[:, 2]
    left_cut, right_cut = x0 <= 1.0, x1 >= cam.width - 1.0
    one_side = left_cut ^ right_cut
    if not one_side.any():
        return pos
    pos = pos.copy()
    for k in np.flatnonzero(one_side & np.isfinite(pos[:, 0])):
        half_w = NOMINAL_SIZE_M.get(int(dets.class_id[k]), (1.0, 1.0))[1] / 2
        near_y = _near_side_from_depth(cam, dets.xyxy[k], depth_m, bool(left_cut[k])) if depth_m is not None else None
        if near_y is None:
            inner_u = float(x1[k] if left_cut[k] else x0[k])
            near_y = -(inner_u - cam.cx) / cam.fx * float(pos[k, 0])  # [m], left positive
        centre_y = near_y + half_w if left_cut[k] else near_y - half_w
        # only ever move the point outward: a cut box never lies nearer the middle than its body says
        pos[k, 1] = max(pos[k, 1], centre_y) if left_cut[k] else min(pos[k, 1], centre_y)
    return pos


def _near_side_from_depth(cam: CameraModel, xyxy: np.ndarray, depth_m: np.ndarray, left: bool) -> float | None:
    """Lateral [m] of the side nearest our path of the body inside box ``xyxy`` (see ``_side_cut_lateral``);
    None when too few of its pixels stand above the road."""
    h, w = depth_m.shape
    sx, sy = w / cam.width, h / cam.height
    c0, r0, c1, r1 = np.clip(np.round(xyxy * np.array([sx, sy, sx, sy])), 0, [w, h, w, h]).astype(int)
    z = depth_m[r0:r1, c0:c1]
    if z.size == 0:
        return None
    small = cam.scaled(w, h)
    u = (np.arange(c0, c1) + 0.5 - small.cx) / small.fx
    v = (np.arange(r0, r1) + 0.5 - small.cy) / small.fy
    rot = small._rot  # ground-frame rows: (x fwd, y left, z up) = camera (right, down, fwd) @ rot
    lateral = z * (u[None, :] * rot[0, 1] + v[:, None] * rot[1, 1] + rot[2, 1])
    height = small.height_m + z * (u[None, :] * rot[0, 2] + v[:, None] * rot[1, 2] + rot[2, 2])
    body = (z > 0) & (height > SIDE_BODY_HEIGHT_M[0]) & (height < SIDE_BODY_HEIGHT_M[1])
    if body.sum() < SIDE_BODY_MIN_PX:
        return None
    lat = lateral[body]
    return float(np.percentile(lat, 10) if left else np.percentile(lat, 90))


def resolve_backend(backend: str, device: str = "auto") -> str:
    """"torch" or "onnxruntime" for a requested ``backend`` (see ``Perception.from_files``).

    ``ValueError`` for an unknown name or ONNX Runtime on a non-CPU device; ``ImportError`` naming
    the packages when "onnxruntime" is asked for and not installed."""
    from .onnx_backend import onnxruntime_available, require_onnxruntime

    if backend not in BACKENDS:
        raise ValueError(f"backend {backend!r} is not one of {BACKENDS}")
    if backend == "auto":
        return "onnxruntime" if onnxruntime_available() and resolve_device(device) == "cpu" else "torch"
    if backend == "onnxruntime":
        if str(device).lower() not in ("auto", "cpu") or resolve_device(device) != "cpu":
            raise ValueError(f"backend 'onnxruntime' runs on the CPU; device {device!r} needs backend 'torch'")
        require_onnxruntime()
    return backend

