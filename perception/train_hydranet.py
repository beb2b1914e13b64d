"""Train HydraNet on a ``sim.dataset`` export.

Writes into ``out_dir``: ``config.yaml`` (the resolved config), ``last.pt`` (every epoch; model
plus optimiser, scheduler, loss and RNG state, so a run resumes from it), ``best.pt`` (best
``val_score``), ``metrics.json`` (the returned dict) and ``tb/`` (TensorBoard: each task loss,
the total, the learning rate, the task weights and every val metric). Both ``.pt`` files load
with ``HydraNet.load``. Running the same command again resumes from ``last.pt``.

Val metrics (the ``val`` split; ``test`` when there is no val split; ``train`` as a last resort,
flagged in ``val_split``):

- ``drivable_iou``: intersection over union summed over all val pixels.
- ``lane_f1_{ego_left,ego_right,other}`` and ``lane_f1_mean``: pixel F1 with a 1-px tolerance on both
  sides, ``perception.metrics.LaneF1`` (the definition ``drivestack eval perception`` reports).
- ``depth_absrel_mean`` / ``depth_absrel_median``: |d - d*| / d* over pixels with depth
  0 < d* <= max_depth_m (the median from a 0.001-wide histogram on [0, 10]).
- ``offset_abs_err_median_m``, ``heading_abs_err_median_rad``, ``curvature_abs_err_median_1_m``.
- with the light head: ``light_acc`` (all frames), ``light_recall_{none,red,yellow,green}`` and
  ``light_precision_{...}`` (NaN for a state with no frames / no predictions),
  ``light_balanced_acc`` (mean recall over the states present), and the stop-line distance error
  ``light_dist_abs_err_median_m`` with ``light_dist_abs_err_median_m_{lo}-{hi}m`` per
  ``perception.metrics.STOP_LINE_RANGES_M`` on frames where both the truth and the head say a light
  (``perception.metrics.LightTally``, as ``drivestack eval perception``).
- ``val_score`` = mean(drivable_iou, lane_f1_mean, max(0, 1 - depth_absrel_mean),
  max(0, 1 - offset_abs_err_median_m / 0.5 m)[, light_balanced_acc]): higher is better; picks
  ``best.pt``. The light term is there only for a net with the light head.

Warm start: ``init_from`` names a HydraNet checkpoint (e.g. the shipped one) whose weights start
the run; heads it lacks (the light head of an older file) start from random init.

Usage::

    python -m perception.train_hydranet --data data/drive --out runs/hydra --epochs 30 --set batch=16
    from perception.train_hydranet import HydraTrainConfig, train_hydranet
    metrics = train_hydranet(HydraTrainConfig(data_dir="data/drive", out_dir="runs/hydra", epochs=30))
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import DataLoader

from common.config import ConfigError, check_range, from_dict, load_yaml, merge, parse_override, save_yaml, to_dict
from common.device import resolve_device

from .hydranet import LIGHT_STATES, HydraNet, HydraNetConfig, upgrade_config
from .hydranet_data import HydraDataset, MultiTaskLoss, task_losses
from .metrics import LaneF1, LightTally, MaskIoU
from .train_loop import Fit, autocast as _autocast, cosine_schedule, progress_bar as _bar, result, resume, run_epochs

ABSREL_BINS = 10000  # depth abs-rel histogram on [0, ABSREL_MAX]: median resolution 0.001
ABSREL_MAX = 10.0
OFFSET_SCORE_M = 0.5  # offset error at which the offset term of val_score reaches 0 [m]


@dataclass(frozen=True)
class HydraTrainConfig:
    """One HydraNet training run."""

    data_dir: str = "data/drive"  # a sim.dataset export (images/, masks/, depth/, gt/)
    out_dir: str = "runs/hydranet"  # checkpoints, config.yaml, metrics.json, tb/
    epochs: int = 30  # total epochs (a resumed run continues up to this)
    batch: int = 16  # images per step
    lr: float = 2e-3  # peak AdamW learning rate (cosine decay to lr * min_lr_ratio over all steps)
    min_lr_ratio: float = 0.02  # final learning rate / lr
    weight_decay: float = 1e-4  # AdamW weight decay (not applied to norms, biases and loss log-variances)
    seed: int = 0  # seeds weights, shuffling and augmentation
    device: str = "auto"  # "auto" (CUDA when available) | "cpu" | "cuda" | "cuda:1" ...
    workers: int = 0  # DataLoader worker processes
    loss_weighting: Literal["fixed", "uncertainty"] = "uncertainty"  # task-loss combination (overrides model's)
    fixed_weights: tuple[float, float, float, float, float, float] = (1.0,) * 6  # drivable, lanes, depth, ego, light, light_dist
    augment: bool = True  # flip + brightness / contrast jitter on train
    amp: bool = True  # bfloat16 autocast on CUDA (ignored on CPU)
    progress: bool = True  # tqdm bars
    max_train_batches: int = 0  # cap on steps per epoch (0 = all); for smoke runs and sizing
    time_min: float = 0.0  # wall-clock budget of the whole run [min] (0 = none): epochs lowered to what fits, as ultralytics' time
    init_from: str = ""  # HydraNet checkpoint to start from (warm start; heads it lacks start random); "" = none
    train_only: str = ""  # e.g. "light_head": train only that module, the rest frozen (weights and BatchNorm stats); "" = all
    model: HydraNetConfig = field(default_factory=HydraNetConfig)  # architecture

    def __post_init__(self) -> None:
        for name in ("epochs", "batch"):
            check_range(name, getattr(self, name), 1)
        check_range("workers", self.workers, 0)
        check_range("max_train_batches", self.max_train_batches, 0)
        check_range("time_min", self.time_min, 0.0)
        check_range("lr", self.lr, 0.0, lo_open=True)
        check_range("min_lr_ratio", self.min_lr_ratio, 0.0, 1.0)
        check_range("weight_decay", self.weight_decay, 0.0)
        check_range("seed", self.seed, 0)
        # one source of truth: the train config's weighting is written into the model config
        object.__setattr__(self, "model", replace(self.model, loss_weighting=self.loss_weighting))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# --- metrics -------------------------------------------------------------------------------------------
class HydraMetrics:
    """Accumulates the val metrics over batches (see the module docstring for definitions)."""

    def __init__(self, max_depth_m: float) -> None:
        self.max_depth_m = max_depth_m
        self.drivable = MaskIoU()
        self.lanes = LaneF1()
        self.absrel_sum = 0.0
        self.absrel_n = 0
        self.absrel_hist = torch.zeros(ABSREL_BINS, dtype=torch.float64)
        self.ego_err: list[np.ndarray] = []
        self.light = LightTally()

    @torch.no_grad()
    def update(self, out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], net: HydraNet) -> None:
        self.drivable.add(out["drivable"][:, 0] > 0, batch["drivable"] > 0.5)
        self.lanes.add(out["lanes"].argmax(1).cpu().numpy(), batch["lanes"].cpu().numpy())

        gt = batch["depth_m"]
        valid = (gt > 0) & (gt <= self.max_depth_m)
        if valid.any():
            rel = ((out["log_depth"][:, 0].float().exp() - gt).abs() / gt)[valid]
            self.absrel_sum += float(rel.sum())
            self.absrel_n += int(rel.numel())
            self.absrel_hist += torch.histc(rel.clamp(max=ABSREL_MAX).double().cpu(), ABSREL_BINS, 0.0, ABSREL_MAX)

        pred_e = net.ego_values(out["ego"].float())
        self.ego_err.append((pred_e - batch["ego"]).abs().cpu().numpy())

        if "light" in out and "light" in batch:
            from .hydranet import LIGHT_DIST_OFFSET_M

            raw = out["light"].float()
            n = len(LIGHT_STATES)
            d_pred = (raw[:, n].exp() - LIGHT_DIST_OFFSET_M).cpu().numpy()
            self.light.add(batch["light"].cpu().numpy(), batch["light_dist_m"].cpu().numpy(),
                           raw[:, :n].argmax(1).cpu().numpy(), d_pred)

    def compute(self) -> dict[str, float]:
        iou = self.drivable.value()
        m: dict[str, float] = {"drivable_iou": float("nan") if iou is None else iou}
        f1 = self.lanes.f1()
        m.update({f"lane_f1_{name}": float(v) for name, v in f1.items()})
        m["lane_f1_mean"] = float(np.mean(list(f1.values())))
        if self.absrel_n:
            m["depth_absrel_mean"] = self.absrel_sum / self.absrel_n
            cdf = torch.cumsum(self.absrel_hist, 0) / self.absrel_hist.sum()
            k = int(torch.searchsorted(cdf, torch.tensor([0.5], dtype=torch.float64))[0])
            m["depth_absrel_median"] = (k + 0.5) * ABSREL_MAX / ABSREL_BINS
        else:
            m["depth_absrel_mean"] = m["depth_absrel_median"] = float("nan")
        err = np.concatenate(self.ego_err) if self.ego_err else np.full((1, 6), np.nan)
        m["offset_abs_err_median_m"] = float(np.median(err[:, 0]))
        m["heading_abs_err_median_rad"] = float(np.median(err[:, 1]))
        m["curvature_abs_err_median_1_m"] = float(np.median(err[:, 2]))
        m["lane_width_abs_err_median_m"] = float(np.median(err[:, 5]))
        absrel = m["depth_absrel_mean"] if math.isfinite(m["depth_absrel_mean"]) else 1.0
        terms = [np.nan_to_num(m["drivable_iou"]), m["lane_f1_mean"], max(0.0, 1 - absrel),
                 max(0.0, 1 - m["offset_abs_err_median_m"] / OFFSET_SCORE_M)]
        if self.light.confusion.matrix.sum():
            m.update(self._light_metrics())
            terms.append(np.nan_to_num(m["light_balanced_acc"]))
        m["val_score"] = float(np.mean(terms))
        return m

    def _light_metrics(self) -> dict[str, float]:
        nan = lambda v: float("nan") if v is None else v  # noqa: E731
        c = self.light.confusion
        m = {"light_acc": nan(c.accuracy())}
        for s, name in enumerate(LIGHT_STATES):
            m[f"light_recall_{name}"] = nan(c.recall(s))
            m[f"light_precision_{name}"] = nan(c.precision(s))
        m["light_balanced_acc"] = nan(c.balanced_accuracy())
        _, err = self.light.distance_error.values()
        m["light_dist_abs_err_median_m"] = float(np.median(np.abs(err))) if err.size else float("nan")
        for key, v in self.light.distance_error.median_abs(None).items():
            m[f"light_dist_abs_err_median_m_{key}"] = nan(v)
        return m


def evaluate(net: HydraNet, loader: DataLoader, device: torch.device, amp: bool = False,
             progress: bool = False) -> dict[str, float]:
    """Val metrics of ``net`` over ``loader`` (eval mode, no_grad)."""
    net.eval()
    metrics = HydraMetrics(net.config.max_depth_m)
    with torch.no_grad():
        for batch in _bar(loader, progress, "val"):
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            with _autocast(device, amp):
                out = net(batch["image"])
            metrics.update(out, batch, net)
    return metrics.compute()


# --- training ------------------------------------------------------------------------------------------
def _val_split(root: Path) -> str:
    for split in ("val", "test", "train"):
        if any((root / "gt" / split).glob("*.jsonl")):
            return split
    raise ConfigError(f"data_dir {str(root)!r} holds no frames (no gt/*/*.jsonl); export a dataset first")


def warm_start(net: HydraNet, path: str | Path) -> list[str]:
    """Copy a checkpoint's weights into ``net``; returns the parameter names it lacked (a head added
    since, left at random init). ``ValueError`` when the architectures differ otherwise."""
    ckpt = HydraNet.read_checkpoint(path)
    theirs = upgrade_config(ckpt["config"])
    ours = to_dict(net.config)
    differ = {k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k)} - {"light_head", "loss_weighting"}
    if differ:
        raise ValueError(f"init_from {str(path)!r} has another architecture ({', '.join(sorted(differ))} differ)")
    result = net.load_state_dict(ckpt["state_dict"], strict=False)
    if result.unexpected_keys or any(not k.startswith("light_head.") for k in result.missing_keys):
        raise ValueError(f"init_from {str(path)!r} does not fit: missing {result.missing_keys}, "
                         f"unexpected {result.unexpected_keys}")
    return list(result.missing_keys)


def _param_groups(net: HydraNet, loss_fn: MultiTaskLoss, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for name, p in net.named_parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if loss_fn.weighting == "uncertainty":
        groups.append({"params": [loss_fn.log_vars], "weight_decay": 0.0})
    return groups


def _loader(ds: HydraDataset, cfg: HydraTrainConfig, shuffle: bool, epoch: int, device: torch.device) -> DataLoader:
    gen = torch.Generator().manual_seed(cfg.seed * 1000003 + epoch)  # the epoch's order, same after a resume
    return DataLoader(ds, batch_size=cfg.batch, shuffle=shuffle, num_workers=cfg.workers, generator=gen,
                      drop_last=shuffle and len(ds) > cfg.batch, pin_memory=device.type == "cuda",
                      persistent_workers=False)


def train_hydranet(cfg: HydraTrainConfig) -> dict[str, Any]:
    """Train (or resume) and return the best epoch's val metrics plus run facts."""
    root = Path(cfg.data_dir)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device(resolve_device(cfg.device))
    seed_everything(cfg.seed)

    train_ds = HydraDataset(root, "train", augment=cfg.augment, seed=cfg.seed, input_size=cfg.model.input_size)
    if not len(train_ds):
        raise ConfigError(f"data_dir {str(root)!r} has no train frames; export more scenes")
    val_split = _val_split(root)
    val_ds = HydraDataset(root, val_split, augment=False, input_size=cfg.model.input_size)
    val_loader = _loader(val_ds, cfg, False, 0, device)

    net = HydraNet(cfg.model).to(device)
    if cfg.init_from:
        warm_start(net, cfg.init_from)
    if cfg.train_only:
        if getattr(net, cfg.train_only, None) is None:
            raise ConfigError(f"train_only={cfg.train_only!r} is not a module of this HydraNet")
        for name, p in net.named_parameters():
            # a head added on top of frozen, already-good features leaves the other tasks exactly as they were
            p.requires_grad_(name.startswith(cfg.train_only + "."))
    loss_fn = MultiTaskLoss(cfg.loss_weighting, cfg.fixed_weights).to(device)
    opt = torch.optim.AdamW(_param_groups(net, loss_fn, cfg.weight_decay), lr=cfg.lr)
    steps_per_epoch = len(_loader(train_ds, cfg, True, 0, device))
    if cfg.max_train_batches:
        steps_per_epoch = min(steps_per_epoch, cfg.max_train_batches)
    fit = Fit(net, loss_fn, opt, cosine_schedule(opt, cfg.epochs, steps_per_epoch, cfg.min_lr_ratio), steps_per_epoch, out)
    resume(fit)
    save_yaml(cfg, out / "config.yaml")

    def train_mode() -> None:
        net.train()
        if cfg.train_only:  # frozen parts keep their BatchNorm statistics
            net.eval()
            getattr(net, cfg.train_only).train()

    def batches_of(epoch: int):
        train_ds.set_epoch(epoch)
        return _loader(train_ds, cfg, True, epoch, device)

    seconds = run_epochs(fit, cfg.epochs, batches_of, lambda batch: task_losses(net(batch["image"]), batch, cfg.model),
                         lambda: evaluate(net, val_loader, device, cfg.amp, cfg.progress), train_mode, device, cfg.amp,
                         cfg.max_train_batches, cfg.progress, cfg.time_min * 60)
    return result(fit, seconds, val_split=val_split, train_frames=len(train_ds), val_frames=len(val_ds),
                  device=str(device))


def main(argv: list[str] | None = None) -> None:
    """Train HydraNet.

    Usage: ``python -m perception.train_hydranet --data DIR --out DIR [--config preset.yaml] [--set key=value ...]``
    """
    import argparse

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--data")
    p.add_argument("--out")
    p.add_argument("--epochs", type=int)
    p.add_argument("--config", help="YAML preset of HydraTrainConfig fields")
    p.add_argument("--set", action="append", default=[], help="field override, e.g. model.backbone=resnet18")
    a = p.parse_args(argv)
    data = load_yaml(a.config) if a.config else {}
    for text in a.set:
        data = merge(data, parse_override(text))
    for key, value in (("data_dir", a.data), ("out_dir", a.out), ("epochs", a.epochs)):
        if value is not None:
            data[key] = value
    cfg = from_dict(HydraTrainConfig, data)
    print(json.dumps(to_dict(cfg), indent=2))
    print(json.dumps(train_hydranet(cfg), indent=2))


if __name__ == "__main__":
    main()
