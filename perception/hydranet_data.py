"""HydraNet training data and losses: a torch ``Dataset`` over one split of a ``sim.dataset`` export.

Each item is a dict of tensors::

    image     (3, H, W) float32 RGB in [0, 1]
    drivable  (H, W) float32, 1 = drivable
    lanes     (H, W) int64, 0 none, 1 ego-left, 2 ego-right, 3 other marking
    depth_m   (H, W) float32 [m], 0 = no depth (sky): ignored by the loss and the metrics
    ego       (6,) float32, ``REG_NAMES`` in their own units (offset m, heading rad, curvature 1/m x3, width m)
    light     () int64, the relevant light's class in ``LIGHT_STATES`` (``light_target``: 0 = none)
    light_dist_m  () float32, its stop-line distance [m]; NaN when none (ignored by the loss)

Augmentation (``augment=True``), drawn from a generator seeded by (seed, epoch, index) so a
run is reproducible with any number of workers: a horizontal flip (p = 0.5) that swaps the
ego-left / ego-right lane classes and negates offset, heading and curvatures (``REG_MIRROR``)
(the light's state and distance do not change), and a brightness / contrast jitter of the image only.

Losses (``task_losses``): drivable BCE; lanes class-weighted cross-entropy
(``LANE_CLASS_WEIGHTS``, markings are ~1 % of pixels); depth L1 on log-depth over pixels with
depth (targets clipped to the head's range); ego smooth-L1 on the scaled targets; light
class-weighted cross-entropy (``LIGHT_CLASS_WEIGHTS``: "none" is half the frames and yellow a few
per cent); light_dist smooth-L1 on log(d + ``LIGHT_DIST_OFFSET_M``) over frames with a light.
A net without the light head (``out`` has no ``light``) gets no light losses.
``MultiTaskLoss`` combines them with fixed weights or learned homoscedastic uncertainty
(Kendall, Gal & Cipolla 2018).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from .hydranet import (LIGHT_DIST_OFFSET_M, REG_BIAS, REG_MIRROR, REG_NAMES, REG_SCALE, TASKS, HydraNetConfig,
                       light_target)

DEPTH_SCALE = 256.0  # the exporter's uint16 depth PNG: metres * 256
LANE_FLIP = np.array([0, 2, 1, 3], np.uint8)  # lane class after a horizontal flip
LANE_CLASS_WEIGHTS = (1.0, 10.0, 10.0, 10.0)  # cross-entropy weight of none / ego-left / ego-right / other
BRIGHTNESS = (0.7, 1.3)  # multiplicative brightness jitter range
CONTRAST = (0.8, 1.2)  # contrast jitter range (about the image mean)
# Kendall et al.: a regression loss gets 1/(2 sigma^2), a classification loss 1/sigma^2
UNCERTAINTY_FACTOR = {"drivable": 1.0, "lanes": 1.0, "depth": 0.5, "ego": 0.5, "light": 1.0, "light_dist": 0.5,
                      "det": 1.0}  # det: the joint model's detection loss (mostly classification and IoU terms)
# cross-entropy weight of none / red / yellow / green: 1/sqrt(frequency) on data/sim-v4's train
# split (none 0.60, red 0.22, yellow 0.04, green 0.15), normalised to none = 1
LIGHT_CLASS_WEIGHTS = (1.0, 1.65, 3.9, 2.0)


def ego_vector(ego: dict) -> np.ndarray:
    """The ``ego`` record of a ground-truth line → (6,) float32 in the order of ``REG_NAMES``."""
    curv = list(ego["curvature_ahead_1_m"])[:3]
    curv += [curv[-1] if curv else 0.0] * (3 - len(curv))
    return np.array([ego["lane_offset_m"], ego["heading_error_rad"], *curv, ego["lane_width_m"]], np.float32)


class HydraDataset(Dataset):
    """One split (``train`` | ``val`` | ``test``) of an exported dataset folder."""

    def __init__(self, root: str | Path, split: str, augment: bool = False, seed: int = 0,
                 input_size: tuple[int, int] | None = None) -> None:
        self.root = Path(root)
        self.split = split
        self.augment = augment
        self.seed = seed
        self.epoch = 0
        self.input_size = input_size  # (H, W) to resize to; None keeps the exported size
        gt_dir = self.root / "gt" / split
        if not gt_dir.is_dir():
            raise FileNotFoundError(f"{str(gt_dir)!r} does not exist; is {str(self.root)!r} a sim.dataset export?")
        self.stems: list[str] = []
        self.ego: list[np.ndarray] = []
        self.light: list[tuple[int, float]] = []  # (class in LIGHT_STATES, stop-line distance [m] or NaN)
        for path in sorted(gt_dir.glob("*.jsonl")):
            for line in path.read_text().splitlines():
                if line.strip():
                    rec = json.loads(line)
                    self.stems.append(rec["stem"])
                    ego = rec["ground_truth"]["ego"]
                    self.ego.append(ego_vector(ego))
                    self.light.append(light_target(ego.get("light_state", "none"),
                                                   ego.get("light_stop_distance_m", float("inf"))))

    def __len__(self) -> int:
        return len(self.stems)

    def set_epoch(self, epoch: int) -> None:
        """Pick the augmentation draws of ``epoch`` (call before building that epoch's loader)."""
        self.epoch = epoch

    def read(self, i: int) -> dict[str, np.ndarray]:
        """The raw arrays of item ``i``, before augmentation."""
        stem, s = self.stems[i], self.split
        image = cv2.imread(str(self.root / "images" / s / f"{stem}.jpg"), cv2.IMREAD_COLOR)
        drivable = cv2.imread(str(self.root / "masks" / s / f"{stem}_drivable.png"), cv2.IMREAD_UNCHANGED)
        lanes = cv2.imread(str(self.root / "masks" / s / f"{stem}_lanes.png"), cv2.IMREAD_UNCHANGED)
        depth = cv2.imread(str(self.root / "depth" / s / f"{stem}.png"), cv2.IMREAD_UNCHANGED)
        for name, arr in (("image", image), ("drivable", drivable), ("lanes", lanes), ("depth", depth)):
            if arr is None:
                raise FileNotFoundError(f"{stem}: the {name} file of split {s!r} under {str(self.root)!r} is missing")
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        depth_m = depth.astype(np.float32) / DEPTH_SCALE
        if self.input_size is not None and image.shape[:2] != tuple(self.input_size):
            h, w = self.input_size
            image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
            drivable = cv2.resize(drivable, (w, h), interpolation=cv2.INTER_NEAREST)
            lanes = cv2.resize(lanes, (w, h), interpolation=cv2.INTER_NEAREST)
            depth_m = cv2.resize(depth_m, (w, h), interpolation=cv2.INTER_NEAREST)
        return {"image": image, "drivable": drivable > 127, "lanes": lanes, "depth_m": depth_m,
                "ego": self.ego[i].copy(), "light": np.int64(self.light[i][0]),
                "light_dist_m": np.float32(self.light[i][1])}

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        item = self.read(i)
        if self.augment:
            rng = np.random.default_rng([self.seed, self.epoch, i])
            item = augment(item, rng)
        return to_tensors(item)


def hflip(item: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Mirror left-right: swap ego-left / ego-right lane classes, negate offset, heading, curvatures;
    boxes (a joint model's item: rows class, centre x, centre y, width, height, normalised) mirror their x."""
    flipped = {**item, "image": item["image"][:, ::-1], "drivable": item["drivable"][:, ::-1],
               "lanes": LANE_FLIP[item["lanes"][:, ::-1]], "depth_m": item["depth_m"][:, ::-1],
               "ego": item["ego"] * np.asarray(REG_MIRROR, np.float32)}
    if "boxes" in item:
        boxes = item["boxes"].copy()
        boxes[:, 1] = 1.0 - boxes[:, 1]
        flipped["boxes"] = boxes
    return flipped


def augment(item: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Random flip (p = 0.5) and brightness / contrast jitter."""
    if rng.random() < 0.5:
        item = hflip(item)
    img = item["image"].astype(np.float32)
    mean = img.mean()
    img = (img - mean) * rng.uniform(*CONTRAST) + mean * rng.uniform(*BRIGHTNESS)
    return {**item, "image": np.clip(img, 0, 255).astype(np.uint8)}


def to_tensors(item: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    extra = {"light": torch.tensor(int(item["light"]), dtype=torch.long),
             "light_dist_m": torch.tensor(float(item["light_dist_m"]), dtype=torch.float32)} if "light" in item else {}
    return {**extra, "image": torch.from_numpy(np.ascontiguousarray(item["image"])).permute(2, 0, 1).float().div_(255.0),
            "drivable": torch.from_numpy(np.ascontiguousarray(item["drivable"])).float(),
            "lanes": torch.from_numpy(np.ascontiguousarray(item["lanes"])).long(),
            "depth_m": torch.from_numpy(np.ascontiguousarray(item["depth_m"])),
            "ego": torch.from_numpy(np.ascontiguousarray(item["ego"]))}


# --- losses ----------------------------------------------------------------------------------------------
def scaled_ego(ego: torch.Tensor) -> torch.Tensor:
    """Ego targets in their units (B, 6) → the head's scaled space."""
    scale = torch.tensor(REG_SCALE, device=ego.device, dtype=ego.dtype)
    bias = torch.tensor(REG_BIAS, device=ego.device, dtype=ego.dtype)
    return (ego - bias) / scale


def task_losses(out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor],
                config: HydraNetConfig) -> dict[str, torch.Tensor]:
    """One scalar loss per task in ``TASKS`` (float32, whatever the autocast dtype of ``out``)."""
    drivable = F.binary_cross_entropy_with_logits(out["drivable"][:, 0].float(), batch["drivable"])
    weights = torch.tensor(LANE_CLASS_WEIGHTS, device=out["lanes"].device)
    lanes = F.cross_entropy(out["lanes"].float(), batch["lanes"], weight=weights)
    depth = batch["depth_m"]
    valid = depth > 0
    if valid.any():
        target = depth[valid].clamp(config.min_depth_m, config.max_depth_m).log()
        depth_loss = F.l1_loss(out["log_depth"][:, 0].float()[valid], target)
    else:  # keep the graph (and DDP/grad bookkeeping) intact on an all-sky batch
        depth_loss = out["log_depth"].float().sum() * 0.0
    ego = F.smooth_l1_loss(out["ego"].float(), scaled_ego(batch["ego"]))
    losses = {"drivable": drivable, "lanes": lanes, "depth": depth_loss, "ego": ego}
    if "light" in out and "light" in batch:
        losses.update(light_losses(out["light"].float(), batch["light"], batch["light_dist_m"]))
    return losses


def light_losses(raw: torch.Tensor, state: torch.Tensor, dist_m: torch.Tensor) -> dict[str, torch.Tensor]:
    """``light``: weighted cross-entropy of the 4 state logits; ``light_dist``: smooth-L1 on
    log(d + offset) over items with a light (0, graph kept, when the batch has none)."""
    n = raw.shape[1] - 1
    weights = torch.tensor(LIGHT_CLASS_WEIGHTS, device=raw.device)
    ce = F.cross_entropy(raw[:, :n], state, weight=weights)
    present = (state > 0) & torch.isfinite(dist_m)
    if present.any():
        target = (dist_m[present] + LIGHT_DIST_OFFSET_M).clamp(min=0.5).log()
        dist = F.smooth_l1_loss(raw[present, n], target)
    else:
        dist = raw[:, n].sum() * 0.0
    return {"light": ce, "light_dist": dist}


class MultiTaskLoss(nn.Module):
    """Combine the task losses.

    ``fixed``: sum of ``weights[t] * L_t``. ``uncertainty``: per task a learned
    ``s_t = log sigma_t^2``, total ``sum c_t * exp(-s_t) * L_t + 0.5 * s_t`` with ``c_t`` = 1 for the
    classification tasks and 1/2 for the regression ones (Kendall et al. 2018). Optimise this
    module's parameters together with the network's (no weight decay on them).
    """

    def __init__(self, weighting: str = "uncertainty", weights: tuple[float, ...] | None = None,
                 tasks: tuple[str, ...] = TASKS) -> None:
        super().__init__()
        if weighting not in ("fixed", "uncertainty"):
            raise ValueError(f"loss weighting {weighting!r} is not allowed; choose 'fixed' or 'uncertainty'")
        weights = (1.0,) * len(tasks) if weights is None else tuple(weights)
        if len(weights) != len(tasks):
            raise ValueError(f"expected {len(tasks)} task weights ({', '.join(tasks)}), got {len(weights)}")
        self.weighting, self.tasks = weighting, tuple(tasks)
        self.register_buffer("weights", torch.tensor(weights, dtype=torch.float32))
        self.log_vars = nn.Parameter(torch.zeros(len(tasks)), requires_grad=weighting == "uncertainty")
        self.register_buffer("factors", torch.tensor([UNCERTAINTY_FACTOR[t] for t in tasks]))

    def forward(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        """Sum over the tasks in ``losses`` (a net without the light head has no light terms)."""
        idx = [i for i, t in enumerate(self.tasks) if t in losses]
        stacked = torch.stack([losses[self.tasks[i]] for i in idx])
        if self.weighting == "fixed":
            return (self.weights[idx] * stacked).sum()
        s = self.log_vars[idx]
        return (self.factors[idx] * torch.exp(-s) * stacked + 0.5 * s).sum()

    def effective_weights(self) -> dict[str, float]:
        """The weight each task loss gets now (for logging)."""
        if self.weighting == "fixed":
            w = self.weights
        else:
            w = self.factors * torch.exp(-self.log_vars.detach())
        return {t: float(v) for t, v in zip(self.tasks, w)}


__all__ = ["HydraDataset", "MultiTaskLoss", "task_losses", "light_losses", "hflip", "augment", "ego_vector", "scaled_ego",
           "REG_NAMES", "LANE_FLIP", "LANE_CLASS_WEIGHTS",
           "LIGHT_CLASS_WEIGHTS"]
