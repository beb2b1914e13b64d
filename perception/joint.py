"""JointNet: one backbone, one neck, a YOLO detection head and the dense heads, one forward pass (issue 16).

The idea of YOLOP / HybridNets / Tesla's HydraNet: the cost of seeing is paid once and the tasks share
features. Here the backbone and neck are an ultralytics YOLO model built from its yaml (``yolov8n.yaml``
by default) and its ``Detect`` head stays as it is, so the boxes, the loss (``v8DetectionLoss``), NMS
and the tracker are the ecosystem's. The dense side reads the same features:

- an FPN over the backbone's stride-4 layer and the three maps the ``Detect`` head reads (P3, P4, P5 of
  the YOLO neck), to one stride-4 map of ``dense_channels``;
- on it HydraNet's heads (``perception.hydranet``): drivable (1 logit), lane markings (4 logits:
  none, ego-left, ego-right, other), log-depth (sigmoid-bounded), and the light head (4 state logits
  plus the stop-line distance), whose coarse path reads P5; the ego-lane regression reads P5 too.

Output spaces are HydraNet's, so ``hydranet_data.task_losses``, the metrics and ``MultitaskOutputs``
apply unchanged; ``det`` is the ``Detect`` head's output (the raw per-level maps when training; the
decoded (B, 4 + nc, anchors) tensor in eval mode, which ``perception.nms`` turns into boxes).

Input: float RGB in [0, 1], (B, 3, H, W) at ``config.input_size`` (ultralytics' convention, no mean/std).
``predict`` takes uint8 RGB images of any size, stretches them to the input size (as HydraNet does),
and returns box rows and ``MultitaskOutputs`` in the images' own pixels.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from common.config import ConfigError, check_range, from_dict, to_dict
from common.device import resolve_device
from common.vocab import CLASS_NAMES, LANE_CLASSES

from .hydranet import (REG_BIAS, REG_NAMES, REG_SCALE, EgoHead, FPNNeck, LightHead, _dense_head, image_batch,
                       multitask_outputs)
from .checkpoint_files import read_checkpoint, save_checkpoint
from .types import MultitaskOutputs

FORMAT = "drivestack-joint"
FORMAT_VERSION = 1
DETECT_LOSS_GAINS = {"box": 7.5, "cls": 0.5, "dfl": 1.5}  # ultralytics' default gains of v8DetectionLoss
ONNX_OUTPUTS = ("det", "drivable", "lanes", "log_depth", "ego", "light")


@dataclass(frozen=True)
class JointNetConfig:
    """Architecture of a JointNet (saved inside every checkpoint)."""

    model: str = "yolov8n.yaml"  # ultralytics yaml of backbone + neck + Detect (bundled name; scale in the name)
    width: float = 0.0  # channel multiple of backbone + neck (0 = the yaml scale's: 0.25 for yolov8n; 0.125 halves it)
    class_names: tuple[str, ...] = CLASS_NAMES  # the detection head's classes, in its index order
    input_size: tuple[int, int] = (160, 320)  # network input (height, width) [px]
    dense_channels: int = 32  # channels of the dense FPN and its heads (HydraNet's neck_channels)
    min_depth_m: float = 0.5  # smallest depth the head can output [m]
    max_depth_m: float = 80.0  # largest depth the head can output; farther targets are clipped [m]
    light_head: bool = True  # traffic-light state + stop-line distance head

    def __post_init__(self) -> None:
        check_range("dense_channels", self.dense_channels, 8, 512)
        check_range("width", self.width, 0.0, 2.0)
        h, w = self.input_size
        if h % 32 or w % 32 or h <= 0 or w <= 0:
            raise ConfigError(f"input_size={self.input_size!r} is not allowed; use positive multiples of 32")
        if not self.class_names:
            raise ConfigError("class_names=() is not allowed; give the detection head's classes")
        check_range("min_depth_m", self.min_depth_m, 0.0, lo_open=True)
        if self.max_depth_m <= self.min_depth_m:
            raise ConfigError(f"max_depth_m={self.max_depth_m} must exceed min_depth_m={self.min_depth_m}")


def _detection_model(cfg: JointNetConfig):
    """The ultralytics ``DetectionModel`` of ``cfg.model`` with ``cfg.class_names``, loss gains set."""
    from types import SimpleNamespace

    from .yolo import ultralytics_offline

    ultralytics_offline()
    from ultralytics.nn.tasks import DetectionModel, yaml_model_load

    try:
        spec = yaml_model_load(cfg.model)
    except FileNotFoundError:
        raise ConfigError(f"model={cfg.model!r} is not an ultralytics model yaml (e.g. yolov8n.yaml, yolo11n.yaml)") from None
    if cfg.width:  # the yaml's scale with another channel multiple (ultralytics' parse_model reads scales[scale])
        scale = spec.get("scale") or next(iter(spec.get("scales") or {"n": None}))
        depth, _, max_channels = (spec.get("scales") or {}).get(scale, (spec.get("depth_multiple", 1.0), None, 1024))
        spec["scales"], spec["scale"] = {**(spec.get("scales") or {}), scale: [depth, cfg.width, max_channels]}, scale
    from ultralytics.utils import LOGGER

    level = LOGGER.level  # its "Overriding model.yaml nc=80" notice goes to stdout, into a --json report
    LOGGER.setLevel(logging.WARNING)
    try:
        det = DetectionModel(spec, nc=len(cfg.class_names), verbose=False)
    finally:
        LOGGER.setLevel(level)
    det.names = dict(enumerate(cfg.class_names))
    det.args = SimpleNamespace(**DETECT_LOSS_GAINS)  # what v8DetectionLoss reads
    return det


class JointNet(nn.Module):
    """One backbone and neck (a YOLO model's), the YOLO ``Detect`` head and the dense heads."""

    def __init__(self, config: JointNetConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or JointNetConfig()
        self.det = _detection_model(cfg)
        layers = self.det.model
        self.detect = layers[-1]
        self.taps = list(self.detect.f)  # the layers whose outputs the Detect head reads: P3, P4, P5
        with torch.no_grad():  # strides and channels from a dry run: no per-yaml bookkeeping to get wrong
            was = self.det.training
            self.det.eval()
            outs = self._trunk(torch.zeros(1, 3, 64, 64), keep=set(range(len(layers) - 1)))
            self.det.train(was)
        stride4 = [i for i, y in enumerate(outs) if isinstance(y, torch.Tensor) and y.shape[-1] == 16 and i < self.taps[0]]
        if not stride4:
            raise ConfigError(f"model={cfg.model!r} has no stride-4 layer before its P3 for the dense heads")
        self.tap4 = stride4[-1]  # the last stride-4 layer of the backbone: the finest features
        self._keep = set(self.det.save) | {self.tap4}
        chans = [outs[self.tap4].shape[1], *(outs[t].shape[1] for t in self.taps)]
        self.dense_neck = FPNNeck(chans, cfg.dense_channels)
        self.drivable_head = _dense_head(cfg.dense_channels, 1)
        self.lanes_head = _dense_head(cfg.dense_channels, len(LANE_CLASSES))
        self.depth_head = _dense_head(cfg.dense_channels, 1)
        self.ego_head = EgoHead(chans[-1], len(REG_NAMES))
        self.light_head = LightHead(cfg.dense_channels, chans[-1]) if cfg.light_head else None
        self.register_buffer("reg_scale", torch.tensor(REG_SCALE), persistent=False)
        self.register_buffer("reg_bias", torch.tensor(REG_BIAS), persistent=False)
        self.log_min_depth = float(np.log(cfg.min_depth_m))
        self.log_depth_span = float(np.log(cfg.max_depth_m)) - self.log_min_depth

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def names(self) -> dict[int, str]:
        return dict(self.det.names)

    def _trunk(self, x: torch.Tensor, keep: set[int]) -> list:
        """The YOLO model's layers up to (not including) Detect, as ultralytics runs them; the outputs
        of the layers in ``keep`` (None for the others)."""
        y: list = []
        for m in self.det.model[:-1]:
            if m.f != -1:  # from earlier layers
                x = y[m.f] if isinstance(m.f, int) else [x if j == -1 else y[j] for j in m.f]
            x = m(x)
            y.append(x if m.i in keep else None)
        return y

    def forward(self, images: torch.Tensor) -> dict[str, Any]:
        """``images``: (B, 3, H, W) float RGB in [0, 1]. Returns ``det`` (the Detect head's output: its raw
        maps when training, the decoded (B, 4 + nc, anchors) in eval mode) and HydraNet's raw dense
        outputs at (H, W): ``drivable``, ``lanes``, ``log_depth``, ``ego`` and (with the head) ``light``."""
        size = images.shape[-2:]
        y = self._trunk(images, self._keep)
        feats = [y[t] for t in self.taps]
        det = self._detect(feats)
        neck = self.dense_neck([y[self.tap4], *feats])
        up = lambda t: F.interpolate(t, size=size, mode="bilinear", align_corners=False)  # noqa: E731
        log_depth = self.log_min_depth + torch.sigmoid(self.depth_head(neck)) * self.log_depth_span
        out = {"det": det, "drivable": up(self.drivable_head(neck)), "lanes": up(self.lanes_head(neck)),
               "log_depth": up(log_depth), "ego": self.ego_head(feats[-1])}
        if self.light_head is not None:
            out["light"] = self.light_head(neck, feats[-1])
        return out

    def boxes(self, images: torch.Tensor) -> torch.Tensor:
        """The Detect head's output alone (the decoded (B, 4 + nc, anchors) in eval mode): the backbone, neck and
        Detect without the dense side, for a detection-only pass (the pipeline's zoomed light crop)."""
        y = self._trunk(images, set(self.det.save))
        return self._detect([y[t] for t in self.taps])

    def _detect(self, feats: list) -> Any:
        det = self.detect(list(feats))
        return det[0] if isinstance(det, tuple) else det  # eval mode outside export: (decoded, raw maps); the decoded

    def ego_values(self, ego: torch.Tensor) -> torch.Tensor:
        """Scaled head output (B, 6) → values in the units of ``REG_NAMES``."""
        return ego * self.reg_scale + self.reg_bias

    def detection_loss(self, det_out, boxes: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """ultralytics' detection loss of the training-mode ``det`` output: (mean over the batch of box +
        cls + dfl, each gain-scaled; the three parts, detached). ``boxes``: ``batch_idx`` (N,), ``cls`` (N,),
        ``bboxes`` (N, 4) normalised centre x, centre y, width, height, as ultralytics' loaders give them."""
        total, parts = self.det.loss(boxes, det_out)
        batch = det_out["boxes"].shape[0] if isinstance(det_out, dict) and "boxes" in det_out else len(boxes["batch_idx"])
        return total.sum() / max(1, batch), parts

    @torch.no_grad()
    def predict(self, images_rgb: np.ndarray, conf: float = 0.25, iou: float = 0.5,
                max_det: int = 100) -> tuple[list[np.ndarray], MultitaskOutputs]:
        """uint8 RGB images (B, H, W, 3) (or one (H, W, 3)) → per image the box rows ``x0, y0, x1, y1, score,
        class`` (float32, the images' pixels, ``perception.nms``) and the ``MultitaskOutputs`` at (H, W)
        (no batch axis for one image)."""
        arr, single = image_batch(images_rgb)
        was_training = self.training
        self.eval()
        try:
            x = torch.from_numpy(arr).to(self.device).permute(0, 3, 1, 2).float().div_(255.0)
            h, w = arr.shape[1:3]
            resized = (h, w) != tuple(self.config.input_size)
            if resized:
                x = F.interpolate(x, size=self.config.input_size, mode="bilinear", align_corners=False)
            out = self(x)
            rows = detection_rows(out["det"].float().cpu().numpy(), (h, w), self.config.input_size, conf, iou, max_det)
            outputs = dense_outputs(out, (h, w))
        finally:
            self.train(was_training)
        return (rows[0], outputs.image(0)) if single else (rows, outputs)

    # --- files -------------------------------------------------------------------------------------------
    def checkpoint(self, **extra: Any) -> dict[str, Any]:
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "config": to_dict(self.config),
                "state_dict": {k: v.detach().cpu() for k, v in self.state_dict().items()},
                "meta": {"reg_names": list(REG_NAMES), "lane_classes": list(LANE_CLASSES),
                         "input": "RGB float in [0, 1], (B, 3, H, W) at config.input_size"}, **extra}

    def save(self, path: str | Path, **extra: Any) -> None:
        """One .pt with weights, config and metadata (plus ``extra``), written atomically."""
        save_checkpoint(self.checkpoint(**extra), path)

    @staticmethod
    def read_checkpoint(path: str | Path) -> dict[str, Any]:
        """The checkpoint dict of a JointNet file; ValueError naming the file for anything else."""
        return read_checkpoint(path, FORMAT, FORMAT_VERSION, "JointNet")

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> "JointNet":
        """Rebuild a saved JointNet in eval mode on ``device`` ("auto" = CUDA when available)."""
        ckpt = cls.read_checkpoint(path)
        try:
            config = from_dict(JointNetConfig, ckpt["config"], "config")
            net = cls(config)
            net.load_state_dict(ckpt["state_dict"])
        except (ConfigError, RuntimeError, KeyError) as exc:
            raise ValueError(f"{str(path)!r} is a JointNet checkpoint that does not fit this code: {exc}") from exc
        return net.to(torch.device(resolve_device(str(device)))).eval()


def detection_rows(det: np.ndarray, image_hw: tuple[int, int], input_hw: Sequence[int], conf: float, iou: float,
                   max_det: int) -> list[np.ndarray]:
    """The decoded head output (B, 4 + nc, anchors) at the input size → per image (N, 6) float32 rows
    ``x0, y0, x1, y1, score, class`` in the image's pixels (the input was a stretch of the image)."""
    from .nms import non_max_suppression

    sy, sx = image_hw[0] / input_hw[0], image_hw[1] / input_hw[1]
    rows = []
    for pred in det:
        r = non_max_suppression(pred, conf, iou, None, max_det)
        r[:, [0, 2]] = (r[:, [0, 2]] * sx).clip(0, image_hw[1])
        r[:, [1, 3]] = (r[:, [1, 3]] * sy).clip(0, image_hw[0])
        rows.append(r)
    return rows


def dense_outputs(out: dict[str, torch.Tensor], image_hw: tuple[int, int]) -> MultitaskOutputs:
    """The dense and ego heads' raw outputs (a batch, at the input size; PyTorch's or ONNX Runtime's as
    tensors) → ``MultitaskOutputs`` at ``image_hw``."""
    drivable, lanes, log_depth = out["drivable"], out["lanes"], out["log_depth"]
    ego = out["ego"].float().cpu() * torch.tensor(REG_SCALE) + torch.tensor(REG_BIAS)
    if tuple(drivable.shape[-2:]) != tuple(image_hw):  # one resize for all dense maps
        dense = F.interpolate(torch.cat([drivable, lanes, log_depth], 1), size=image_hw, mode="bilinear", align_corners=False)
        drivable, lanes, log_depth = dense[:, :1], dense[:, 1:5], dense[:, 5:]
    return multitask_outputs((drivable[:, 0] > 0).cpu().numpy(), lanes.argmax(1).to(torch.uint8).cpu().numpy(),
                             log_depth[:, 0].float().exp().cpu().numpy(), ego.cpu().numpy(),
                             out["light"].float().cpu().numpy() if "light" in out else None)


def warm_start_from_detector(net: JointNet, weights: str | Path) -> list[str]:
    """Copy an ultralytics detection checkpoint's weights (e.g. the shipped ``detector.pt``, same yaml and
    classes, or the first of them: appended classes start fresh, ``perception.detector_classes``) into the
    backbone, neck and Detect head; returns the parameter names it could not fill."""
    import tempfile

    from .detector_classes import checkpoint_names, extends, widen_classes
    from .yolo import YoloDetector

    ours = list(net.config.class_names)
    with tempfile.TemporaryDirectory() as tmp:
        if extends(ours, checkpoint_names(weights)):
            weights = widen_classes(weights, ours, Path(tmp) / "widened.pt")
        source = YoloDetector.load(weights, cfg=_cpu_detector_config()).model.model.state_dict()
    return _copy_matching(net.det, source)


def warm_start_from_hydranet(net: JointNet, weights: str | Path) -> list[str]:
    """Copy a HydraNet checkpoint's head weights where the shapes agree (the dense heads at the same
    channel count, the light head's fine path); returns the head parameter names left as initialised."""
    from .hydranet import HydraNet

    source = HydraNet.read_checkpoint(weights)["state_dict"]
    missed = []
    for name in ("drivable_head", "lanes_head", "depth_head", "ego_head", "light_head"):
        module = getattr(net, name)
        if module is None:
            continue
        prefix = name + "."
        missed += [prefix + k for k in _copy_matching(module, {k[len(prefix):]: v for k, v in source.items()
                                                                if k.startswith(prefix)})]
    return missed


def _copy_matching(module: nn.Module, source: dict[str, torch.Tensor]) -> list[str]:
    own = module.state_dict()
    fitting = {k: v for k, v in source.items() if k in own and own[k].shape == v.shape}
    module.load_state_dict(fitting, strict=False)
    return [k for k in own if k not in fitting]


def _cpu_detector_config():
    from .yolo import DetectorConfig

    return DetectorConfig(device="cpu")


class _FlatOutputs(nn.Module):
    """ONNX graphs return tuples: ``ONNX_OUTPUTS`` in order (``light`` only with the head)."""

    def __init__(self, net: JointNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor):
        out = self.net(images)
        return tuple(out[k] for k in ONNX_OUTPUTS if k in out)


class _BoxesOnly(nn.Module):
    def __init__(self, net: JointNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor):
        return self.net.boxes(images)


def export_onnx(net: JointNet, path: str | Path, boxes_only: bool = False) -> Path:
    """Write ``net`` as one ONNX graph: input ``images`` (1, 3, H, W) float RGB in [0, 1]; outputs named as
    ``ONNX_OUTPUTS`` (``det`` decoded, as the eval-mode forward). ``boxes_only``: the detection part alone
    (output ``det``), for crops that need no dense outputs. Needs ``onnx`` and ``onnxscript``."""
    try:
        import onnxscript  # noqa: F401
    except ImportError as exc:
        raise ImportError("ONNX export needs `pip install onnx onnxscript onnxruntime`") from exc
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    net = net.cpu().eval()
    net.detect.export, net.detect.format = True, "onnx"  # the decoded tensor alone, as ultralytics exports it
    try:
        dummy = torch.rand(1, 3, *net.config.input_size)
        with torch.no_grad():  # Detect caches its anchors for this input size: the graph then holds them as constants
            net(dummy)
        names = ["det"] if boxes_only else [k for k in ONNX_OUTPUTS if k != "light" or net.config.light_head]
        graph = _BoxesOnly(net) if boxes_only else _FlatOutputs(net)
        with contextlib.redirect_stdout(sys.stderr):  # the exporter prints progress; stdout may carry a JSON report
            torch.onnx.export(graph.eval(), (dummy,), str(path), input_names=["images"], output_names=names,
                              dynamo=True, verbose=False, external_data=False)
    finally:
        net.detect.export = False
    return path
