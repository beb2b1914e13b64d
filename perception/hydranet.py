"""HydraNet: one shared backbone, one FPN-style neck, five heads (drivable, lanes, depth, ego lane, light).

Heads and what they predict (all dense outputs at the input resolution, bilinear-upsampled
from stride 4):

- ``drivable``: 1 logit per pixel (sigmoid > 0.5 = drivable).
- ``lanes``: 4 logits per pixel, classes ``LANE_CLASSES`` (0 none, 1 ego-left, 2 ego-right, 3 other).
- ``depth``: 1 channel holding **log-depth**, bounded by a sigmoid:
  ``log d = log(min_depth_m) + sigmoid(x) * (log(max_depth_m) - log(min_depth_m))``, so the
  prediction is always in [min_depth_m, max_depth_m] and a fixed log error is the same
  relative error near and far (well conditioned; the loss is L1 on log-depth).
- ``ego``: a small regression head on the coarsest features (pooled to a 2x4 grid so it keeps
  left/right layout) giving ``REG_NAMES`` in scaled units: ``value = raw * scale + bias``
  with ``REG_SCALE``/``REG_BIAS`` (offset 1 m, heading 0.1 rad, curvature 0.01 1/m).
- ``light`` (``config.light_head``): the ego's relevant traffic light, 5 numbers per image: 4
  logits over ``LIGHT_STATES`` (none, red, yellow, green) and the stop-line distance as
  ``log(d + LIGHT_DIST_OFFSET_M)`` [log m]. "none" means no light whose stop line lies within
  ``LIGHT_RANGE_M`` ahead (or was passed by at most ``LIGHT_PASSED_M``); see ``light_target``.
  It pools the neck's stride-4 features by max after two strided convs (a lamp is 1-3 px at
  these ranges, an average would wash it out) into a 2x4 grid (our light stands ahead-right),
  beside the coarse features average-pooled as in the ego head. Checkpoints saved before the
  head existed load with ``light_head=False``; their ``predict`` reports no light.

Input: ``forward`` takes float RGB in [0, 1], (B, 3, H, W), at ``config.input_size``;
normalisation happens inside. ``predict`` takes uint8 RGB images (B, H, W, 3) of any size,
resizes them to the input size and returns numpy arrays at the images' own size.

Usage::

    from perception.hydranet import HydraNet, HydraNetConfig
    net = HydraNet(HydraNetConfig(backbone="mobilenet_v3_small"))
    out = net.predict(images_uint8)            # a MultitaskOutputs: out.lanes, out.depth_m, ...
    net.save("runs/hydra/best.pt")
    net = HydraNet.load("runs/hydra/best.pt", device="cpu")

Latency at 320x160, batch 1: ``python -m perception.hydranet`` measures every backbone on this
machine and prints the device and thread count (timings are never asserted in tests).
"""

from __future__ import annotations

import contextlib
import sys

import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from common.config import ConfigError, check_range, from_dict, to_dict
from common.device import resolve_device
from common.vocab import LANE_CLASSES, LIGHT_STATES  # index = lanes-mask code / class of the light head

from .checkpoint_files import read_checkpoint, save_checkpoint
from .types import MultitaskOutputs

FORMAT = "drivestack-hydranet"
FORMAT_VERSION = 1
REG_NAMES = ("lane_offset_m", "heading_error_rad", "curvature_0_1_m", "curvature_1_1_m", "curvature_2_1_m",
             "lane_width_m")
REG_SCALE = (1.0, 0.1, 0.01, 0.01, 0.01, 0.5)  # raw head output * scale + bias = value in the unit of the name
REG_BIAS = (0.0, 0.0, 0.0, 0.0, 0.0, 3.5)
REG_MIRROR = (-1.0, -1.0, -1.0, -1.0, -1.0, 1.0)  # sign of each value in a horizontally flipped image
# A light counts (is not "none") while its stop line is at most LIGHT_RANGE_M ahead of the front bumper:
# the head then stands about 16 m farther (``perception.lights``), ~66 m from the camera, where its
# 1 m housing is ~3 px tall at 320x160 and the lit lamp 1-2 px; farther, the colour is not resolvable.
# 50 m is also more than a car at 50 km/h needs to stop at 3 m/s^2 (32 m).
LIGHT_RANGE_M = 50.0  # [m]
LIGHT_PASSED_M = 3.0  # a stop line passed by more than this no longer governs the ego ("none") [m]
LIGHT_DIST_OFFSET_M = 5.0  # the head regresses log(d + this): d >= -LIGHT_PASSED_M stays positive [m]
TASKS = ("drivable", "lanes", "depth", "ego", "light", "light_dist")
BACKBONES = ("resnet18", "mobilenet_v3_small", "tiny")
_MEAN = (0.485, 0.456, 0.406)  # input normalisation (ImageNet statistics; any fixed pair works from scratch)
_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class HydraNetConfig:
    """Architecture of a HydraNet (saved inside every checkpoint)."""

    backbone: Literal["resnet18", "mobilenet_v3_small", "tiny"] = "tiny"  # shared feature extractor, random init
    width: float = 1.0  # channel multiplier of "tiny" and "mobilenet_v3_small" (resnet18 ignores it)
    neck_channels: int = 32  # channels of the FPN neck and of the dense heads
    input_size: tuple[int, int] = (160, 320)  # network input (height, width) [px]
    min_depth_m: float = 0.5  # smallest depth the head can output [m]
    max_depth_m: float = 80.0  # largest depth the head can output; farther targets are clipped [m]
    loss_weighting: Literal["fixed", "uncertainty"] = "uncertainty"  # how the task losses are combined
    light_head: bool = True  # traffic-light state + stop-line distance head (False: checkpoints from before it)

    def __post_init__(self) -> None:
        check_range("width", self.width, 0.0, 4.0, lo_open=True)
        check_range("neck_channels", self.neck_channels, 8, 512)
        h, w = self.input_size
        if h % 32 or w % 32 or h <= 0 or w <= 0:
            raise ConfigError(f"input_size={self.input_size!r} is not allowed; use positive multiples of 32")
        check_range("min_depth_m", self.min_depth_m, 0.0, lo_open=True)
        if self.max_depth_m <= self.min_depth_m:
            raise ConfigError(f"max_depth_m={self.max_depth_m} must exceed min_depth_m={self.min_depth_m}")


# --- backbones: each returns features at strides (4, 8, 16, 32) ----------------------------------------
def _conv_bn(cin: int, cout: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, groups=groups, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


def _sep_block(cin: int, cout: int, stride: int) -> nn.Sequential:
    """Depthwise 3x3 (strided) + pointwise 1x1, both with BN + ReLU."""
    return nn.Sequential(_conv_bn(cin, cin, stride, groups=cin),
                         nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class TinyBackbone(nn.Module):
    """Our own small net: plain conv stem to stride 4, then depthwise-separable stages."""

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        c = [max(8, int(round(v * width / 8)) * 8) for v in (16, 32, 64, 96, 128)]
        self.stage4 = nn.Sequential(_conv_bn(3, c[0], 2), _conv_bn(c[0], c[1], 2))
        self.stage8 = nn.Sequential(_sep_block(c[1], c[2], 2), _sep_block(c[2], c[2], 1))
        self.stage16 = nn.Sequential(_sep_block(c[2], c[3], 2), _sep_block(c[3], c[3], 1))
        self.stage32 = nn.Sequential(_sep_block(c[3], c[4], 2), _sep_block(c[4], c[4], 1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        f4 = self.stage4(x)
        f8 = self.stage8(f4)
        f16 = self.stage16(f8)
        return [f4, f8, f16, self.stage32(f16)]


class _StagedBackbone(nn.Module):
    """A torchvision network cut into four sequential stages ending at strides 4, 8, 16, 32."""

    def __init__(self, stages: list[nn.Module]) -> None:
        super().__init__()
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats


def _resnet18(width: float) -> nn.Module:
    from torchvision.models import resnet18

    m = resnet18(weights=None)
    return _StagedBackbone([nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool, m.layer1), m.layer2, m.layer3,
                            m.layer4])


def _mobilenet_v3_small(width: float) -> nn.Module:
    from torchvision.models import mobilenet_v3_small

    f = mobilenet_v3_small(weights=None, width_mult=width).features
    return _StagedBackbone([f[:2], f[2:4], f[4:9], f[9:12]])  # f[12] (1x1 to 576 ch) is dropped


_BACKBONE_BUILDERS = {"resnet18": _resnet18, "mobilenet_v3_small": _mobilenet_v3_small, "tiny": TinyBackbone}


# --- neck and heads ------------------------------------------------------------------------------------
class FPNNeck(nn.Module):
    """Lateral 1x1 convs, top-down nearest upsampling and sums, one 3x3 smoothing conv: stride-4 output."""

    def __init__(self, in_channels: list[int], channels: int) -> None:
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(c, channels, 1) for c in in_channels)
        self.smooth = _conv_bn(channels, channels)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        x = self.lateral[-1](feats[-1])
        for lat, f in zip(reversed(self.lateral[:-1]), reversed(feats[:-1])):
            x = lat(f) + F.interpolate(x, size=f.shape[-2:], mode="nearest")
        return self.smooth(x)


def _dense_head(channels: int, out: int) -> nn.Sequential:
    return nn.Sequential(_conv_bn(channels, channels), nn.Conv2d(channels, out, 1))


class EgoHead(nn.Module):
    """Pool the stride-32 features to a 2x4 grid (keeps left/right layout), then a 2-layer MLP."""

    def __init__(self, cin: int, out: int, hidden: int = 128) -> None:
        super().__init__()
        self.reduce = nn.Sequential(nn.Conv2d(cin, 32, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(inplace=True))
        self.pool = nn.AdaptiveAvgPool2d((2, 4))
        self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(32 * 8, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.pool(self.reduce(x)))


class LightHead(nn.Module):
    """Relevant traffic light: (B, 5) = 4 state logits + log(stop-line distance + offset).

    Fine path: two strided 3x3 convs on the stride-4 neck, max-pooled to 2x4 (a lamp is a few
    pixels; max keeps it). Coarse path: the stride-32 features average-pooled to 2x4 (context:
    is there an intersection ahead, how far). Both feed a 2-layer MLP."""

    def __init__(self, neck_channels: int, coarse_channels: int, hidden: int = 128) -> None:
        super().__init__()
        self.fine = nn.Sequential(_conv_bn(neck_channels, 32, 2), _conv_bn(32, 32, 2), nn.AdaptiveMaxPool2d((2, 4)))
        self.coarse = nn.Sequential(nn.Conv2d(coarse_channels, 32, 1, bias=False), nn.BatchNorm2d(32),
                                    nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d((2, 4)))
        self.mlp = nn.Sequential(nn.Linear(2 * 32 * 8, hidden), nn.ReLU(inplace=True),
                                 nn.Linear(hidden, len(LIGHT_STATES) + 1))

    def forward(self, neck: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        return self.mlp(torch.cat([self.fine(neck).flatten(1), self.coarse(coarse).flatten(1)], 1))


def light_target(light_state: str, stop_distance_m: float | None) -> tuple[int, float]:
    """Ground truth (``EgoTruth.light_state``, ``light_stop_distance_m``) → (class in ``LIGHT_STATES``,
    distance [m]); (0, nan) when the stop line is beyond ``LIGHT_RANGE_M`` or passed by more than
    ``LIGHT_PASSED_M``. A distance of None (how the exporter's JSON writes inf) means no light."""
    d = float("inf") if stop_distance_m is None else float(stop_distance_m)
    if light_state not in LIGHT_STATES[1:] or not math.isfinite(d) or not -LIGHT_PASSED_M <= d <= LIGHT_RANGE_M:
        return 0, float("nan")
    return LIGHT_STATES.index(light_state), d


def light_outputs(raw: np.ndarray) -> dict[str, np.ndarray]:
    """Raw light-head output (B, 5) → ``light_state`` (B,) str, ``light_probs`` (B, 4) float32 and
    ``light_distance_m`` (B,) float32 [m] (inf where the state is "none"): ``MultitaskOutputs``'s light fields."""
    raw = np.asarray(raw, np.float32)
    logits = raw[:, :len(LIGHT_STATES)]
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = (z / z.sum(axis=1, keepdims=True)).astype(np.float32)
    cls = probs.argmax(axis=1)
    dist = (np.exp(raw[:, len(LIGHT_STATES)]) - LIGHT_DIST_OFFSET_M).astype(np.float32)
    return {"light_state": np.array(LIGHT_STATES)[cls], "light_probs": probs,
            "light_distance_m": np.where(cls == 0, np.float32(np.inf), dist).astype(np.float32)}


def no_light_outputs(batch: int) -> dict[str, np.ndarray]:
    """What ``predict`` reports for a net without the light head: no light in any image."""
    probs = np.zeros((batch, len(LIGHT_STATES)), np.float32)
    probs[:, 0] = 1.0
    return {"light_state": np.array([LIGHT_STATES[0]] * batch), "light_probs": probs,
            "light_distance_m": np.full(batch, np.inf, np.float32)}


def multitask_outputs(drivable: np.ndarray, lanes: np.ndarray, depth_m: np.ndarray, ego: np.ndarray,
                      light_raw: np.ndarray | None) -> MultitaskOutputs:
    """A batch's ``MultitaskOutputs`` from the heads' numpy outputs: ``drivable`` (B, H, W) bool, ``lanes``
    (B, H, W) uint8, ``depth_m`` (B, H, W) float32 [m], ``ego`` (B, 6) values in ``REG_NAMES`` order and
    ``light_raw`` (B, 5), the light head's raw output (None for a net without it). Shared by the
    PyTorch and ONNX Runtime paths so they cannot drift apart."""
    light = light_outputs(light_raw) if light_raw is not None else no_light_outputs(len(ego))
    return MultitaskOutputs(drivable, lanes, depth_m, lane_offset_m=ego[:, 0], heading_error_rad=ego[:, 1],
                            curvature_1_m=ego[:, 2], curvature_ahead_1_m=ego[:, 2:5], lane_width_m=ego[:, 5], **light)


def image_batch(images_rgb: np.ndarray) -> tuple[np.ndarray, bool]:
    """``predict``'s input as a (B, H, W, 3) uint8 batch, and whether one image (H, W, 3) was given."""
    arr = np.asarray(images_rgb)
    single = arr.ndim == 3
    if single:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8:
        raise ValueError(f"predict expects uint8 RGB images (B, H, W, 3), got {arr.dtype} {arr.shape}")
    return arr, single


class HydraNet(nn.Module):
    """Multi-task CNN; see the module docstring for the heads and their output spaces."""

    def __init__(self, config: HydraNetConfig | None = None) -> None:
        super().__init__()
        self.config = config or HydraNetConfig()
        cfg = self.config
        self.backbone = _BACKBONE_BUILDERS[cfg.backbone](cfg.width)
        with torch.no_grad():  # channel counts from a dry run: no per-backbone bookkeeping to get wrong
            was = self.backbone.training
            self.backbone.eval()
            chans = [f.shape[1] for f in self.backbone(torch.zeros(1, 3, 64, 64))]
            self.backbone.train(was)
        self.neck = FPNNeck(chans, cfg.neck_channels)
        self.drivable_head = _dense_head(cfg.neck_channels, 1)
        self.lanes_head = _dense_head(cfg.neck_channels, len(LANE_CLASSES))
        self.depth_head = _dense_head(cfg.neck_channels, 1)
        self.ego_head = EgoHead(chans[-1], len(REG_NAMES))
        self.light_head = LightHead(cfg.neck_channels, chans[-1]) if cfg.light_head else None
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("reg_scale", torch.tensor(REG_SCALE), persistent=False)
        self.register_buffer("reg_bias", torch.tensor(REG_BIAS), persistent=False)
        self.log_min_depth = math.log(cfg.min_depth_m)
        self.log_depth_span = math.log(cfg.max_depth_m) - self.log_min_depth

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """``images``: (B, 3, H, W) float RGB in [0, 1]. Returns raw head outputs at (H, W):

        ``drivable`` (B, 1, H, W) logits, ``lanes`` (B, 4, H, W) logits, ``log_depth`` (B, 1, H, W)
        [log m], ``ego`` (B, 6) scaled regression (see ``REG_NAMES`` / ``REG_SCALE``), and with the
        light head ``light`` (B, 5): 4 logits over ``LIGHT_STATES``, log(distance + ``LIGHT_DIST_OFFSET_M``).
        """
        size = images.shape[-2:]
        feats = self.backbone((images - self.mean) / self.std)
        neck = self.neck(feats)
        up = lambda t: F.interpolate(t, size=size, mode="bilinear", align_corners=False)  # noqa: E731
        log_depth = self.log_min_depth + torch.sigmoid(self.depth_head(neck)) * self.log_depth_span
        out = {"drivable": up(self.drivable_head(neck)), "lanes": up(self.lanes_head(neck)),
               "log_depth": up(log_depth), "ego": self.ego_head(feats[-1])}
        if self.light_head is not None:
            out["light"] = self.light_head(neck, feats[-1])
        return out

    def ego_values(self, ego: torch.Tensor) -> torch.Tensor:
        """Scaled head output (B, 6) → values in the units of ``REG_NAMES``."""
        return ego * self.reg_scale + self.reg_bias

    @torch.no_grad()
    def predict(self, images_rgb: np.ndarray) -> MultitaskOutputs:
        """Run on uint8 RGB images (B, H, W, 3) (or one (H, W, 3)); outputs at the images' (H, W).

        Returns a ``perception.types.MultitaskOutputs`` with a leading batch axis (none for one
        image): the dense maps, the regressed ego lane and the light head's state and stop-line
        distance (always "none" for a net without the light head).
        """
        arr, single = image_batch(images_rgb)
        was_training = self.training
        self.eval()
        try:
            h, w = arr.shape[1:3]
            x = torch.from_numpy(arr).to(self.device).permute(0, 3, 1, 2).float().div_(255.0)
            if (h, w) != tuple(self.config.input_size):
                x = F.interpolate(x, size=self.config.input_size, mode="bilinear", align_corners=False)
            out = self(x)
            drivable, lanes, log_depth = out["drivable"][:, 0], out["lanes"], out["log_depth"][:, 0]
            if (h, w) != tuple(self.config.input_size):  # one resize for all dense maps
                dense = F.interpolate(torch.cat([out["drivable"], lanes, out["log_depth"]], 1), size=(h, w),
                                      mode="bilinear", align_corners=False)
                drivable, lanes, log_depth = dense[:, 0], dense[:, 1:5], dense[:, 5]
            result = multitask_outputs((drivable > 0).cpu().numpy(), lanes.argmax(1).to(torch.uint8).cpu().numpy(),
                                       log_depth.float().exp().cpu().numpy(), self.ego_values(out["ego"]).float().cpu().numpy(),
                                       out["light"].float().cpu().numpy() if "light" in out else None)
        finally:
            self.train(was_training)
        return result.image(0) if single else result

    # --- files ---------------------------------------------------------------------------------------
    def checkpoint(self, **extra: Any) -> dict[str, Any]:
        """What ``save`` writes: weights, config and task metadata, plus any ``extra`` entries."""
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "config": to_dict(self.config),
                "state_dict": {k: v.detach().cpu() for k, v in self.state_dict().items()},
                "meta": {"tasks": list(TASKS), "lane_classes": list(LANE_CLASSES), "reg_names": list(REG_NAMES),
                         "light_states": list(LIGHT_STATES), "light_range_m": LIGHT_RANGE_M,
                         "light_passed_m": LIGHT_PASSED_M, "light_dist_offset_m": LIGHT_DIST_OFFSET_M,
                         "reg_scale": list(REG_SCALE), "reg_bias": list(REG_BIAS),
                         "depth_space": "log-depth [log m], sigmoid-bounded to [min_depth_m, max_depth_m]",
                         "input": "RGB float in [0, 1], (B, 3, H, W) at config.input_size"},
                **extra}

    def save(self, path: str | Path, **extra: Any) -> None:
        """One .pt with weights, config and metadata (plus ``extra``), written atomically."""
        save_checkpoint(self.checkpoint(**extra), path)

    @staticmethod
    def read_checkpoint(path: str | Path) -> dict[str, Any]:
        """The checkpoint dict of a HydraNet file; ValueError naming the file for anything else."""
        return read_checkpoint(path, FORMAT, FORMAT_VERSION, "HydraNet")

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> "HydraNet":
        """Rebuild a saved HydraNet in eval mode on ``device`` ("auto" = CUDA when available)."""
        ckpt = cls.read_checkpoint(path)
        try:
            config = from_dict(HydraNetConfig, upgrade_config(ckpt["config"]), "config")
            net = cls(config)
            net.load_state_dict(ckpt["state_dict"])
        except (ConfigError, RuntimeError, KeyError) as exc:
            raise ValueError(f"{str(path)!r} is a HydraNet checkpoint that does not fit this code: {exc}") from exc
        return net.to(torch.device(resolve_device(str(device)))).eval()


def upgrade_config(config: dict) -> dict:
    """A saved config dict in today's fields: checkpoints from before the light head had none."""
    config = dict(config)
    config.setdefault("light_head", False)
    return config


def measure_latency(net: HydraNet, repeats: int = 30, batch: int = 1) -> float:
    """Median forward time [ms] of a (batch, 3, H, W) input on the net's device (eval, no_grad)."""
    net.eval()
    x = torch.rand(batch, 3, *net.config.input_size, device=net.device)
    times = []
    with torch.no_grad():
        for i in range(repeats + 5):
            if net.device.type == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            net(x)
            if net.device.type == "cuda":
                torch.cuda.synchronize()
            if i >= 5:
                times.append((time.perf_counter() - t) * 1000)
    return float(np.median(times))


def main(argv: list[str] | None = None) -> None:
    """Print parameter count and batch-1 latency of each backbone.

    Usage: ``python -m perception.hydranet [--device auto] [--width 1.0]``
    """
    import argparse

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--device", default="cpu")
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--repeats", type=int, default=30)
    a = p.parse_args(argv)
    dev = torch.device(resolve_device(a.device))
    print(f"device={dev} torch_threads={torch.get_num_threads()} input=320x160 batch=1")
    for name in BACKBONES:
        net = HydraNet(replace(HydraNetConfig(), backbone=name, width=a.width)).to(dev)
        n = sum(p.numel() for p in net.parameters())
        print(f"{name:20s} params={n / 1e6:6.2f}M  median={measure_latency(net, a.repeats):7.2f} ms")


if __name__ == "__main__":
    main()


ONNX_OUTPUTS = ("drivable", "lanes", "log_depth", "ego", "light")  # "light" only when the net has the head


class _FlatOutputs(nn.Module):
    """ONNX graphs return tuples: (drivable, lanes, log_depth, ego[, light]) instead of the dict."""

    def __init__(self, net: HydraNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor):
        out = self.net(images)
        return tuple(out[k] for k in ONNX_OUTPUTS if k in out)


def export_onnx(net: HydraNet, path: str | Path) -> Path:
    """Write ``net`` as ONNX (input ``images``: float RGB in [0, 1], (1, 3, H, W); outputs named as
    ``ONNX_OUTPUTS``, ``light`` only when ``net.config.light_head``).

    Uses torch's dynamo exporter (the TorchScript one cannot express the ego head's 2x4 pooling
    of a 5x10 map); it needs the ``onnx`` and ``onnxscript`` packages.
    """
    try:
        import onnxscript  # noqa: F401
    except ImportError as exc:
        raise ImportError("ONNX export needs `pip install onnx onnxscript onnxruntime`") from exc
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flat = _FlatOutputs(net.cpu()).eval()
    dummy = torch.rand(1, 3, *net.config.input_size)
    with contextlib.redirect_stdout(sys.stderr):  # the exporter prints progress; stdout may carry a JSON report
        torch.onnx.export(flat, (dummy,), str(path), input_names=["images"],
                          output_names=[k for k in ONNX_OUTPUTS if k != "light" or net.config.light_head], dynamo=True, verbose=False,
                          external_data=False)  # one self-contained file (the weights are a few MB)
    return path
