"""``JointPerceptionNet``: a JointNet checkpoint behind both of the pipeline's network seams, one pass per frame.

``perception.pipeline.Perception`` holds a detector (``detect`` / ``track`` / ``reset_tracker``) and a
multi-task network (``predict``, ``config.input_size``). Given one ``JointPerceptionNet`` for both, it calls
``infer`` once per frame and gets the boxes and the dense outputs of the same forward pass; each seam still
works alone (the light selector's zoomed pass calls ``detect`` on a crop; a dense-only evaluation calls
``predict``).

Runs in PyTorch or, on the CPU by default, in ONNX Runtime (one graph, exported once into the ONNX cache as
the pair's networks are, ``perception.onnx_backend``). ``detect`` / ``track`` alone (the zoomed light crop)
run a detection-only pass (backbone, neck, Detect: a second cached graph, exported on first use); the dense
outputs go through the ONNX HydraNet's NumPy post-processing (``numpy_multitask_outputs``). Boxes: the decoded head output through ``perception.nms``
at the detector settings (``DetectorConfig``: conf, iou, max_det), stretched back to the image, then the class
map and ByteTrack exactly as the YOLO detectors (``perception.yolo.BoxRows``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch

from .hydranet import REG_BIAS, REG_SCALE
from .joint import JointNet, JointNetConfig, detection_rows, export_onnx
from .model_files import ONNX_BACKENDS
from .onnx_backend import numpy_multitask_outputs
from .types import Detections, MultitaskOutputs
from .yolo import BoxRows, DetectorConfig, map_class_names


class JointPerceptionNet:
    """One JointNet serving as the pipeline's detector and its multi-task network."""

    def __init__(self, forward: Callable[[np.ndarray], dict[str, np.ndarray]], config: JointNetConfig,
                 cfg: DetectorConfig, backend: str, source: str,
                 boxes_forward: Callable[[], Callable[[np.ndarray], dict[str, np.ndarray]]] | None = None):
        self._forward = forward  # (1, 3, H, W) float32 in [0, 1] -> the raw outputs by ONNX_OUTPUTS name
        # a detection-only pass for what needs no dense outputs (the zoomed light crop): made on first use
        self._make_boxes_forward, self._boxes_forward = boxes_forward, None
        self.config = config  # JointNetConfig: input_size is what the pipeline resizes to
        self.cfg = cfg
        self.backend = backend
        self.source = source
        self._names = dict(enumerate(config.class_names))
        self.class_lut, _ = map_class_names(self._names)
        self.rows = BoxRows(cfg, self.class_lut)
        self._reg_scale, self._reg_bias = np.asarray(REG_SCALE, np.float32), np.asarray(REG_BIAS, np.float32)

    @classmethod
    def load(cls, weights: str | os.PathLike, device: str = "auto", backend: str = "auto",
             cache: str | os.PathLike | None = None, cfg: DetectorConfig | None = None) -> "JointPerceptionNet":
        """From a JointNet checkpoint; ``backend`` and ``cache`` as ``perception.model_files.load_networks``."""
        from .model_files import resolve_backend

        chosen = resolve_backend(backend, device)
        onnx = chosen in ONNX_BACKENDS
        net = JointNet.load(weights, device="cpu" if onnx else device)
        cfg = cfg or DetectorConfig(device=device)
        if onnx:
            from .onnx_backend import cached_export, cpu_session

            h, w = net.config.input_size

            def graph(tag: str, boxes_only: bool) -> Path:  # exported into the cache once (and its INT8 copy made)
                path = cached_export(weights, f"{tag}-{h}x{w}-torch{torch.__version__.split('+')[0]}",
                                     lambda p: export_onnx(net, p, boxes_only=boxes_only), cache)
                if chosen == "onnxruntime-int8":
                    from .int8 import cached_int8

                    path = cached_int8(path, (h, w))
                return path

            path = graph("joint", False)
            session = cpu_session(path)
            names = [o.name for o in session.get_outputs()]

            def boxes_session():
                boxes = cpu_session(graph("joint-boxes", True))
                return lambda x: {"det": boxes.run(None, {"images": x})[0]}
            return cls(lambda x: dict(zip(names, session.run(None, {"images": x}))), net.config, cfg, chosen,
                       str(path), boxes_session)

        def forward(x: np.ndarray) -> dict[str, np.ndarray]:
            with torch.no_grad():
                return {k: v.float().cpu().numpy() for k, v in net(torch.from_numpy(x).to(net.device)).items()}

        def boxes_forward(x: np.ndarray) -> dict[str, np.ndarray]:
            with torch.no_grad():
                return {"det": net.boxes(torch.from_numpy(x).to(net.device)).float().cpu().numpy()}
        return cls(forward, net.config, cfg, "torch", str(weights), lambda: boxes_forward)

    @property
    def names(self) -> dict[int, str]:
        """The detection head's class names (its index space, before mapping onto ours)."""
        return dict(self._names)

    def _outputs(self, image_rgb: np.ndarray, boxes_only: bool = False) -> dict[str, np.ndarray]:
        h, w = self.config.input_size
        small = image_rgb if image_rgb.shape[:2] == (h, w) else cv2.resize(image_rgb, (w, h), interpolation=cv2.INTER_LINEAR)
        x = np.ascontiguousarray(small.transpose(2, 0, 1)[None], np.float32) * np.float32(1 / 255)
        if boxes_only and self._make_boxes_forward is not None:
            if self._boxes_forward is None:
                self._boxes_forward = self._make_boxes_forward()
            return self._boxes_forward(x)
        return self._forward(x)

    def _rows(self, out: dict[str, np.ndarray], image_hw: tuple[int, int], conf: float) -> np.ndarray:
        return detection_rows(out["det"], image_hw, self.config.input_size, conf, self.cfg.iou, self.cfg.max_det)[0]

    def _dense(self, out: dict[str, np.ndarray], image_hw: tuple[int, int]) -> MultitaskOutputs:
        ego = out["ego"][0] * self._reg_scale + self._reg_bias
        return numpy_multitask_outputs(out["drivable"][0], out["lanes"][0], out["log_depth"][0], ego,
                                       out["light"][0] if "light" in out else None, image_hw).image(0)

    # --- both seams at once ----------------------------------------------------------------------------
    def infer(self, image_rgb: np.ndarray, track: bool = True) -> tuple[Detections, MultitaskOutputs]:
        """One forward pass: the frame's detections (tracked with ``track``, in the frame's pixels) and its
        ``MultitaskOutputs`` at the network's input size, as the pipeline gets them from the pair's multi-task
        network: at 1280x720, upsampling the six dense maps to the frame cost more than the network (720p replay
        perception 30.5 ms, overlay 17.6 ms, against 25-27 and 4.5 for the pair; 2026-12-07)."""
        hw = image_rgb.shape[:2]
        out = self._outputs(image_rgb)
        if track:
            boxes = self.rows.track(self._rows(out, hw, self.rows.track_conf), hw)
        else:
            boxes = self.rows.detections(self._rows(out, hw, self.cfg.conf))
        return boxes, self._dense(out, tuple(self.config.input_size))

    # --- the detector's seam ---------------------------------------------------------------------------
    def detect(self, image_rgb: np.ndarray) -> Detections:
        """Boxes alone (the detection-only pass: the zoomed light crop needs no dense outputs)."""
        return self.rows.detections(self._rows(self._outputs(image_rgb, boxes_only=True), image_rgb.shape[:2], self.cfg.conf))

    def detect_batch(self, images_rgb) -> list[Detections]:
        return [self.detect(im) for im in images_rgb]

    def track(self, image_rgb: np.ndarray) -> Detections:
        hw = image_rgb.shape[:2]
        return self.rows.track(self._rows(self._outputs(image_rgb, boxes_only=True), hw, self.rows.track_conf), hw)

    def reset_tracker(self) -> None:
        self.rows.reset()

    # --- the multi-task network's seam -----------------------------------------------------------------
    def predict(self, images_rgb: np.ndarray) -> MultitaskOutputs:
        """As ``HydraNet.predict`` for one image (H, W, 3): the dense heads' ``MultitaskOutputs``."""
        if np.asarray(images_rgb).ndim != 3:
            raise ValueError("JointPerceptionNet.predict takes one image (H, W, 3)")
        return self._dense(self._outputs(images_rgb), images_rgb.shape[:2])


def load_joint(weights: str | Path, device: str = "auto", backend: str = "auto", cache: str | Path | None = None,
               conf: float | None = None) -> JointPerceptionNet:
    """The joint network from its checkpoint, for ``Perception.from_files(joint=...)``; ``conf``: the box
    confidence threshold (``DetectorConfig.conf`` by default)."""
    if not Path(weights).is_file():
        raise FileNotFoundError(f"joint network weights {str(weights)!r} do not exist; train one (`drivestack train joint`)")
    cfg = DetectorConfig(device="cpu" if backend in ONNX_BACKENDS else device)
    if conf is not None:
        from dataclasses import replace

        cfg = replace(cfg, conf=conf)
    return JointPerceptionNet.load(weights, device, backend, cache, cfg)
