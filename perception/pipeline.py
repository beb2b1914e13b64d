"""``Perception``: one frame in, one ``PerceptionFrame`` out, from the trained models.

``Perception.process`` runs the stages as the data flows, each stage an object that owns its state:

1. ``Interleave``: which networks run on this frame (both, or in turns, carrying the other's results);
2. detector: YOLO boxes with track ids (``perception.yolo``), each tracked obstacle's class voted over its
   track (``TrackClasses``, ``perception.track_classes``);
3. multi-task network: drivable area, lane markings, depth, a direct lane regression and the light
   head (``perception.hydranet``), as ``MultitaskOutputs``;
4. ``ObjectPlacement``: each box on the ground and its velocity from its track (``perception.placement``);
5. ``EgoLaneTracker``: the ego lane, fitted from the markings, gated against jumps (``perception.ego_lane``);
6. the lead vehicle in that lane and its time to collision (``perception.geometry``);
7. ``LightSelector``: the relevant traffic light and its stop line, from the detector's light boxes
   (with a zoomed pass for far ones) and/or the light head (``perception.light_selection``), or, given
   the map's ``SignalPrior``, the box where the map puts the head (``perception.light_prior``);
8. the ``PerceptionFrame``, with each stage's time in ``timings_ms``.

Both networks run in PyTorch or, on the CPU by default, in ONNX Runtime (``perception.model_files``,
``perception.onnx_backend``): the same outputs in about half the time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from common.vocab import CAMERA_MOUNT, CAMERA_TO_BUMPER_M

from .ego_lane import EgoLaneTracker
from .geometry import CameraModel, lead_vehicle
from .interleave import Interleave
from .light_selection import LIGHT_SOURCES, LightSelector
from .model_files import BACKENDS, DEFAULT_DETECTOR, DEFAULT_HYDRANET, load_networks, model_paths, resolve_backend
from .placement import ObjectPlacement, sure_range_m
from .track_classes import TrackClasses
from .types import Detections, Frame, MultitaskOutputs, PerceptionFrame, SignalPrior

__all__ = ["BACKENDS", "DEFAULT_DETECTOR", "DEFAULT_HYDRANET", "CameraSetup", "Perception", "model_paths", "resolve_backend"]


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


class Perception:
    """The trained perception stack, a ``perception.types.PerceptionProducer`` that reads pixels.
    Either model may be None (that part is then not reported). One network may serve both (a
    ``perception.joint_runner.JointPerceptionNet`` as ``detector`` and ``hydranet``): it then runs once
    per frame for the boxes and the dense outputs together.

    ``track``: track ids and velocities (``ObjectPlacement``); ``light_source``, ``light_zoom``: see
    ``LightSelector``; ``interleave``: the networks take turns (``Interleave``)."""

    kind = "models"
    needs_camera = True

    def __init__(self, detector=None, hydranet=None, camera: CameraSetup = CameraSetup(), track: bool = True,
                 light_source: str = "auto", interleave: bool = False, light_zoom: bool = True):
        if interleave and detector is not None and detector is hydranet:
            raise ValueError("interleave needs two networks; a joint network runs once per frame for both")
        self.detector = detector
        self.hydranet = hydranet
        self.camera_setup = camera
        self.track = track
        self.interleave = Interleave(interleave)
        self.placement = ObjectPlacement(track)
        self.track_classes = TrackClasses()
        self.ego_lane = EgoLaneTracker()
        self.light = LightSelector(light_source, light_zoom, camera.front_ahead_m)

    @property
    def backend(self) -> str:
        """Which runtime runs the networks: "torch", "onnxruntime", "none" or a mix ("onnxruntime+torch")."""
        used = sorted({getattr(m, "backend", "torch") for m in (self.detector, self.hydranet) if m is not None})
        return "+".join(used) or "none"

    @classmethod
    def from_files(cls, detector: str | Path | None = DEFAULT_DETECTOR, hydranet: str | Path | None = DEFAULT_HYDRANET,
                   device: str = "auto", camera: CameraSetup = CameraSetup(), track: bool = True,
                   backend: str = "auto", onnx_cache: str | Path | None = None,
                   light_source: str = "auto", interleave: bool = False, light_zoom: bool = True,
                   joint: str | Path | None = None, far_field: bool = True) -> "Perception":
        """Load models (the shipped ones by default); a missing default model is an error naming the file.

        ``joint``: one JointNet checkpoint (``drivestack train joint``) serving as both networks, in place of
        ``detector`` and ``hydranet``. ``backend``, ``onnx_cache``: see ``perception.model_files.load_networks``;
        ``self.backend`` says which runtime runs. ``far_field``: the detector's second pass over the band round
        the horizon, enlarged (``perception.far_field``; the joint network has none). The other arguments: see
        the class.
        """
        if light_source not in LIGHT_SOURCES:  # before the (slow) loading
            raise ValueError(f"light_source {light_source!r} is not one of {LIGHT_SOURCES}")
        if joint is not None:
            from .joint_runner import load_joint

            net = load_joint(joint, device, backend, onnx_cache)
            return cls(net, net, camera, track, light_source, interleave, light_zoom)
        det, hyd = load_networks(detector, hydranet, device, backend, onnx_cache)
        if not far_field and det is not None:
            det.far_field = None
        return cls(det, hyd, camera, track, light_source, interleave, light_zoom)

    def reset(self, seed: int | None = None) -> None:
        """Forget tracks and carried results (call between unrelated videos or episodes); the models draw
        no random numbers, so ``seed`` is not used."""
        self.interleave.reset()
        self.placement.reset()
        self.track_classes.reset()
        self.ego_lane.reset()
        self.light.reset()
        if self.detector is not None and self.track:
            self.detector.reset_tracker()

    def process(self, frame: Frame, truth=None, prior: SignalPrior | None = None) -> PerceptionFrame:
        """What the models see in ``frame``'s pixels; ``truth`` (the simulator's labels) is not read.
        ``prior``: what the map says of the next signal on the route, where the light is looked for
        (``LightSelector``); None (no map) ranks every light in view."""
        img, t_s = frame.image, frame.timestamp_s
        h, w = img.shape[:2]
        cam = self.camera_setup.model(w, h)
        run_det, run_hyd = self.interleave.schedule(img.shape, self.detector is not None, self.hydranet is not None)
        t0 = time.perf_counter()
        if self.detector is not None and self.detector is self.hydranet:  # one network, one pass: its time is the detector's
            found, outputs = self.detector.infer(img, self.track)
            t1 = t2 = time.perf_counter()
        else:
            found = self._detect(img) if run_det else Detections.empty()
            t1 = time.perf_counter()
            outputs = self._multitask(img) if run_hyd else self.interleave.outputs
            t2 = time.perf_counter()
        if run_det or self.detector is None:
            found = self.track_classes(found, t_s) if self.track else found
            dets = self.placement(found, cam, None if outputs is None else outputs.depth_m, t_s, frame.odometry)
        else:
            dets = self.interleave.carried_detections(t_s)
        self.interleave.keep(dets if run_det else None, outputs, t_s)
        lane = self.ego_lane(cam, outputs)
        lead, ttc = lead_vehicle(dets, lane)
        light, light_dist = self.light(dets, cam, lane, outputs, img, t_s, self.detector, prior)
        t3 = time.perf_counter()
        zoom_ms = self.light.zoom_ms  # the zoomed pass is the detector's work
        timings = {"detector": (t1 - t0) * 1e3 + zoom_ms, "multitask": (t2 - t1) * 1e3,
                   "geometry": (t3 - t2) * 1e3 - zoom_ms, "total": (t3 - t0) * 1e3}
        return PerceptionFrame(index=frame.index, timestamp_s=t_s, source=frame.source, image_size=(h, w), detections=dets,
                               lane=lane, light_state=light, light_distance_m=light_dist, lead_index=lead, lead_ttc_s=ttc,
                               sure_range_m=sure_range_m(cam),
                               drivable=None if outputs is None else outputs.drivable,
                               lane_mask=None if outputs is None else outputs.lanes,
                               depth_m=None if outputs is None else outputs.depth_m, timings_ms=timings)

    def _detect(self, image: np.ndarray) -> Detections:
        return self.detector.track(image) if self.track else self.detector.detect(image)

    def _multitask(self, image: np.ndarray) -> MultitaskOutputs:
        # run at the network's own size: upsampling dense outputs to 1280x720 would cost more than the network
        net_h, net_w = self.hydranet.config.input_size
        small = image if image.shape[:2] == (net_h, net_w) else cv2.resize(image, (net_w, net_h), interpolation=cv2.INTER_AREA)
        return self.hydranet.predict(small)
