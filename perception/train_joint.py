"""Train JointNet (``perception.joint``) on a ``sim.dataset`` export: detection and the dense tasks together.

``drivestack train joint --data DIR --out DIR [--set epochs=30 ...]``. One loss: ultralytics' detection loss
(box, cls, dfl with its default gains) as one more task beside HydraNet's (``hydranet_data.task_losses``),
combined by ``MultiTaskLoss`` with learned uncertainty weights, the weighting the HydraNet trainer measured
best. Warm starts: ``init_detector`` (an ultralytics detection checkpoint with the same yaml and classes,
by default the shipped ``detector.pt``: backbone, neck and Detect copied whole) and ``init_hydranet`` (the
heads' weights where shapes agree); either "" to start from random weights.

Writes into ``out_dir`` what ``train_hydranet`` writes: ``config.yaml``, ``last.pt`` (every epoch, with the
optimiser, scheduler, loss and RNG state: running the same command again resumes from it), ``best.pt``
(best ``val_score``), ``metrics.json`` and ``tb/`` (TensorBoard: every task loss, the task weights, the
learning rate, every val metric). Both ``.pt`` files load with ``JointNet.load``.

Val metrics (the ``val`` split; ``test``, then ``train`` as fallbacks, named in ``val_split``): HydraNet's
(``train_hydranet.HydraMetrics``: drivable IoU, lane F1, depth abs-rel, ego-lane errors, light) and the
detection AP50 / AP50-95 per class (``perception.metrics.DetectionTally``, the definition ``drivestack eval
perception`` reports; boxes at conf 0.001, NMS IoU ``VAL_NMS_IOU``), ``map50`` over the classes present.
``val_score`` = mean(HydraNet's val_score, map50): detection weighs as much as the dense tasks together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from common.config import ConfigError, check_range, save_yaml, to_dict
from common.device import resolve_device
from common.vocab import CLASS_NAMES

from .hydranet import TASKS
from .hydranet_data import MultiTaskLoss, task_losses
from .joint import JointNet, JointNetConfig, detection_rows, warm_start_from_detector, warm_start_from_hydranet
from .joint_data import JointDatasets, collate
from .metrics.detection import DetectionTally
from .model_files import DEFAULT_DETECTOR
from .train_hydranet import HydraMetrics, _param_groups, _val_split, seed_everything
from .train_loop import Fit, autocast, cosine_schedule, progress_bar, result, resume, run_epochs

JOINT_TASKS = ("det", *TASKS)
VAL_CONF = 0.001  # every box counts towards AP (ultralytics' val setting)
VAL_NMS_IOU = 0.6
VAL_MAX_DET = 300


@dataclass(frozen=True)
class JointTrainConfig:
    """One JointNet training run."""

    data_dir: str = "data/drive"  # a sim.dataset export (images/, labels/, masks/, depth/, gt/); several: comma-separated
    out_dir: str = "runs/joint"  # checkpoints, config.yaml, metrics.json, tb/
    epochs: int = 30  # total epochs (a resumed run continues up to this)
    batch: int = 16  # images per step
    lr: float = 1e-3  # peak AdamW learning rate (cosine decay to lr * min_lr_ratio over all steps)
    min_lr_ratio: float = 0.02  # final learning rate / lr
    weight_decay: float = 5e-4  # AdamW weight decay (not on norms, biases and the loss log-variances)
    seed: int = 0  # seeds weights, shuffling and augmentation
    device: str = "auto"  # "auto" (CUDA when available) | "cpu" | "cuda" | "cuda:1" ...
    workers: int = 0  # DataLoader worker processes
    augment: bool = True  # flip (boxes mirrored) + brightness / contrast jitter on train
    augment_camera: bool = False  # with augment: motion blur, exposure, white balance, noise, JPEG (perception.camera_effects)
    augment_texture: bool = False  # with augment: strokes, shadows, texture patches (perception.texture_distractors)
    freeze_trunk: bool = False  # backbone, neck and Detect frozen (weights and BatchNorm statistics): the dense side alone
    amp: bool = True  # bfloat16 autocast on CUDA (ignored on CPU)
    progress: bool = True  # tqdm bars
    max_train_batches: int = 0  # cap on steps per epoch (0 = all); for smoke runs and sizing
    val_frames: int = 0  # validate on an even spread of at most this many val frames (0 = all): the metrics cost
    # 7-15 ms a frame on the CPU, so 1,800 val frames were a large share of each epoch of the GPU job
    time_min: float = 0.0  # wall-clock budget of the whole run [min] (0 = none): epochs lowered to what fits, as ultralytics' time
    init_detector: str = str(DEFAULT_DETECTOR)  # ultralytics detection weights for backbone + neck + Detect; "" = none
    init_hydranet: str = ""  # HydraNet checkpoint for the heads where shapes agree; "" = none
    init_from: str = ""  # a JointNet checkpoint to start from whole (fine-tuning; init_detector / init_hydranet unused)
    model: JointNetConfig = field(default_factory=JointNetConfig)  # architecture

    def __post_init__(self) -> None:
        for name in ("epochs", "batch"):
            check_range(name, getattr(self, name), 1)
        check_range("workers", self.workers, 0)
        check_range("max_train_batches", self.max_train_batches, 0)
        check_range("time_min", self.time_min, 0.0)
        check_range("val_frames", self.val_frames, 0)
        check_range("lr", self.lr, 0.0, lo_open=True)
        check_range("min_lr_ratio", self.min_lr_ratio, 0.0, 1.0)
        check_range("weight_decay", self.weight_decay, 0.0)
        check_range("seed", self.seed, 0)
        if tuple(self.model.class_names) != CLASS_NAMES:  # the export's labels are indices into CLASS_NAMES
            raise ConfigError(f"model.class_names={list(self.model.class_names)} is not allowed for training on an "
                              f"export; its labels use {list(CLASS_NAMES)}")
        for name in ("init_detector", "init_hydranet", "init_from"):
            path = getattr(self, name)
            if path and not Path(path).is_file():
                raise ConfigError(f"{name}={path!r} does not exist; give a weights file or \"\" for random weights")


class JointMetrics:
    """HydraNet's val metrics plus the detection AP, accumulated over batches."""

    def __init__(self, net: JointNet, dataset: JointDatasets) -> None:
        self.net, self.dataset = net, dataset
        self.dense = HydraMetrics(net.config.max_depth_m)
        self.boxes = DetectionTally()

    @torch.no_grad()
    def update(self, out: dict[str, Any], batch: dict[str, torch.Tensor]) -> None:
        self.dense.update(out, batch, self.net)
        hw = tuple(batch["image"].shape[-2:])
        rows = detection_rows(out["det"].float().cpu().numpy(), hw, hw, VAL_CONF, VAL_NMS_IOU, VAL_MAX_DET)
        for r, i in zip(rows, batch["index"].tolist()):
            self.boxes.add(r[:, :4].astype(np.float64), r[:, 4].astype(np.float64), r[:, 5].astype(np.int64),
                           self.dataset.truth(i, hw))

    def compute(self) -> dict[str, float]:
        m = self.dense.compute()
        ap, _ = self.boxes.average_precision()
        for name in CLASS_NAMES:
            if ap["ap50"][name] is not None:
                m[f"ap50_{name}"], m[f"ap50_95_{name}"] = ap["ap50"][name], ap["ap50_95"][name]
        present = [v for v in ap["ap50"].values() if v is not None]
        m["map50"] = float(np.mean(present)) if present else float("nan")
        m["dense_score"] = m["val_score"]
        m["val_score"] = float(np.mean([m["dense_score"], np.nan_to_num(m["map50"])]))
        return m


def evaluate(net: JointNet, loader: DataLoader, device: torch.device, amp: bool = False,
             progress: bool = False) -> dict[str, float]:
    """Val metrics of ``net`` over ``loader`` (a ``JointDatasets``'; eval mode, no_grad)."""
    net.eval()
    metrics = JointMetrics(net, loader.dataset)
    with torch.no_grad():
        for batch in progress_bar(loader, progress, "val"):
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            with autocast(device, amp):
                out = net(batch["image"])
            metrics.update(out, batch)
    return metrics.compute()


def _loader(ds: JointDatasets, cfg: JointTrainConfig, shuffle: bool, epoch: int, device: torch.device) -> DataLoader:
    gen = torch.Generator().manual_seed(cfg.seed * 1000003 + epoch)  # the epoch's order, the same after a resume
    return DataLoader(ds, batch_size=cfg.batch, shuffle=shuffle, num_workers=cfg.workers, generator=gen,
                      drop_last=shuffle and len(ds) > cfg.batch, pin_memory=device.type == "cuda", collate_fn=collate)


def _losses(net: JointNet, out: dict[str, Any], batch: dict[str, torch.Tensor], boxes_too: bool = True) -> dict[str, torch.Tensor]:
    losses = task_losses(out, batch, net.config)
    if not boxes_too:  # a frozen Detect head: its loss would move nothing
        return losses
    boxes = {k: batch[k] for k in ("batch_idx", "cls", "bboxes")}
    losses["det"], _ = net.detection_loss(out["det"], boxes)
    return losses


def _start(cfg: JointTrainConfig, net: JointNet) -> None:
    if cfg.init_from:
        ckpt = JointNet.read_checkpoint(cfg.init_from)
        if ckpt["config"] != to_dict(net.config):
            raise ConfigError(f"init_from={cfg.init_from!r} is a model with {ckpt['config']}, this run's model is "
                              f"{to_dict(net.config)}; set model.* to match")
        net.load_state_dict(ckpt["state_dict"])
        return
    if cfg.init_detector:
        missed = warm_start_from_detector(net, cfg.init_detector)
        if missed:
            raise ConfigError(f"init_detector={cfg.init_detector!r} does not fit model={cfg.model.model!r} with "
                              f"{len(cfg.model.class_names)} classes ({len(missed)} tensors differ)")
    if cfg.init_hydranet:
        warm_start_from_hydranet(net, cfg.init_hydranet)


def train_joint(cfg: JointTrainConfig) -> dict[str, Any]:
    """Train (or resume) and return the best epoch's val metrics plus run facts."""
    roots, out = [Path(d.strip()) for d in cfg.data_dir.split(",") if d.strip()], Path(cfg.out_dir)
    device = torch.device(resolve_device(cfg.device))
    seed_everything(cfg.seed)
    train_ds = JointDatasets(roots, "train", augment=cfg.augment, seed=cfg.seed, input_size=cfg.model.input_size,
                             camera=cfg.augment_camera, texture=cfg.augment_texture)
    if not len(train_ds):
        raise ConfigError(f"data_dir {cfg.data_dir!r} has no train frames; export more scenes")
    val_split = _val_split(roots[0])  # the same split of every export (val, else test, else train)
    val_ds = JointDatasets(roots, val_split, augment=False, input_size=cfg.model.input_size, at_most=cfg.val_frames)
    val_loader = _loader(val_ds, cfg, False, 0, device)
    out.mkdir(parents=True, exist_ok=True)

    net = JointNet(cfg.model).to(device)  # before the optimiser: a resumed optimiser state lands on the params' device
    loss_fn = MultiTaskLoss("uncertainty", tasks=JOINT_TASKS).to(device)
    opt = torch.optim.AdamW(_param_groups(net, loss_fn, cfg.weight_decay), lr=cfg.lr)
    steps_per_epoch = len(_loader(train_ds, cfg, True, 0, device))
    if cfg.max_train_batches:
        steps_per_epoch = min(steps_per_epoch, cfg.max_train_batches)
    fit = Fit(net, loss_fn, opt, cosine_schedule(opt, cfg.epochs, steps_per_epoch, cfg.min_lr_ratio), steps_per_epoch, out)
    if not resume(fit):
        _start(cfg, net)
    save_yaml(cfg, out / "config.yaml")

    def batches_of(epoch: int):
        train_ds.set_epoch(epoch)
        return _loader(train_ds, cfg, True, epoch, device)

    if cfg.freeze_trunk:
        for p in net.det.parameters():
            p.requires_grad_(False)

    def train_mode() -> None:
        net.train()
        if cfg.freeze_trunk:  # the frozen trunk keeps its BatchNorm statistics
            net.det.eval()

    seconds = run_epochs(fit, cfg.epochs, batches_of, lambda batch: _losses(net, net(batch["image"]), batch, not cfg.freeze_trunk),
                         lambda: evaluate(net, val_loader, device, cfg.amp, cfg.progress), train_mode, device, cfg.amp,
                         cfg.max_train_batches, cfg.progress, cfg.time_min * 60)
    return result(fit, seconds, val_split=val_split, train_frames=len(train_ds), val_frames=len(val_ds),
                  device=str(device))
