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

import json
import math
import time
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
from .joint_data import JointDataset, collate
from .metrics.detection import DetectionTally
from .model_files import DEFAULT_DETECTOR
from .train_hydranet import HydraMetrics, _autocast, _bar, _param_groups, _val_split, seed_everything

JOINT_TASKS = ("det", *TASKS)
VAL_CONF = 0.001  # every box counts towards AP (ultralytics' val setting)
VAL_NMS_IOU = 0.6
VAL_MAX_DET = 300


@dataclass(frozen=True)
class JointTrainConfig:
    """One JointNet training run."""

    data_dir: str = "data/drive"  # a sim.dataset export (images/, labels/, masks/, depth/, gt/)
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
    amp: bool = True  # bfloat16 autocast on CUDA (ignored on CPU)
    progress: bool = True  # tqdm bars
    max_train_batches: int = 0  # cap on steps per epoch (0 = all); for smoke runs and sizing
    init_detector: str = str(DEFAULT_DETECTOR)  # ultralytics detection weights for backbone + neck + Detect; "" = none
    init_hydranet: str = ""  # HydraNet checkpoint for the heads where shapes agree; "" = none
    model: JointNetConfig = field(default_factory=JointNetConfig)  # architecture

    def __post_init__(self) -> None:
        for name in ("epochs", "batch"):
            check_range(name, getattr(self, name), 1)
        check_range("workers", self.workers, 0)
        check_range("max_train_batches", self.max_train_batches, 0)
        check_range("lr", self.lr, 0.0, lo_open=True)
        check_range("min_lr_ratio", self.min_lr_ratio, 0.0, 1.0)
        check_range("weight_decay", self.weight_decay, 0.0)
        check_range("seed", self.seed, 0)
        if tuple(self.model.class_names) != CLASS_NAMES:  # the export's labels are indices into CLASS_NAMES
            raise ConfigError(f"model.class_names={list(self.model.class_names)} is not allowed for training on an "
                              f"export; its labels use {list(CLASS_NAMES)}")
        for name in ("init_detector", "init_hydranet"):
            path = getattr(self, name)
            if path and not Path(path).is_file():
                raise ConfigError(f"{name}={path!r} does not exist; give a weights file or \"\" for random weights")


class JointMetrics:
    """HydraNet's val metrics plus the detection AP, accumulated over batches."""

    def __init__(self, net: JointNet, dataset: JointDataset) -> None:
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
    """Val metrics of ``net`` over ``loader`` (a ``JointDataset``'s; eval mode, no_grad)."""
    net.eval()
    metrics = JointMetrics(net, loader.dataset)
    with torch.no_grad():
        for batch in _bar(loader, progress, "val"):
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            with _autocast(device, amp):
                out = net(batch["image"])
            metrics.update(out, batch)
    return metrics.compute()


def _loader(ds: JointDataset, cfg: JointTrainConfig, shuffle: bool, epoch: int, device: torch.device) -> DataLoader:
    gen = torch.Generator().manual_seed(cfg.seed * 1000003 + epoch)  # the epoch's order, the same after a resume
    return DataLoader(ds, batch_size=cfg.batch, shuffle=shuffle, num_workers=cfg.workers, generator=gen,
                      drop_last=shuffle and len(ds) > cfg.batch, pin_memory=device.type == "cuda", collate_fn=collate)


def _losses(net: JointNet, out: dict[str, Any], batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    losses = task_losses(out, batch, net.config)
    boxes = {k: batch[k] for k in ("batch_idx", "cls", "bboxes")}
    losses["det"], _ = net.detection_loss(out["det"], boxes)
    return losses


def _start(cfg: JointTrainConfig, net: JointNet) -> None:
    if cfg.init_detector:
        missed = warm_start_from_detector(net, cfg.init_detector)
        if missed:
            raise ConfigError(f"init_detector={cfg.init_detector!r} does not fit model={cfg.model.model!r} with "
                              f"{len(cfg.model.class_names)} classes ({len(missed)} tensors differ)")
    if cfg.init_hydranet:
        warm_start_from_hydranet(net, cfg.init_hydranet)


def train_joint(cfg: JointTrainConfig) -> dict[str, Any]:
    """Train (or resume) and return the best epoch's val metrics plus run facts."""
    root, out = Path(cfg.data_dir), Path(cfg.out_dir)
    device = torch.device(resolve_device(cfg.device))
    seed_everything(cfg.seed)
    train_ds = JointDataset(root, "train", augment=cfg.augment, seed=cfg.seed, input_size=cfg.model.input_size)
    if not len(train_ds):
        raise ConfigError(f"data_dir {str(root)!r} has no train frames; export more scenes")
    val_split = _val_split(root)
    val_ds = JointDataset(root, val_split, augment=False, input_size=cfg.model.input_size)
    val_loader = _loader(val_ds, cfg, False, 0, device)
    out.mkdir(parents=True, exist_ok=True)

    net = JointNet(cfg.model)
    loss_fn = MultiTaskLoss("uncertainty", tasks=JOINT_TASKS)
    last = out / "last.pt"
    state = JointNet.read_checkpoint(last).get("train_state") if last.is_file() else None
    if last.is_file() and state is None:
        raise ValueError(f"{str(last)!r} holds no training state; move it away to start a new run")
    if state is None:
        _start(cfg, net)
    net.to(device)
    loss_fn.to(device)
    opt = torch.optim.AdamW(_param_groups(net, loss_fn, cfg.weight_decay), lr=cfg.lr)
    steps_per_epoch = len(_loader(train_ds, cfg, True, 0, device))
    if cfg.max_train_batches:
        steps_per_epoch = min(steps_per_epoch, cfg.max_train_batches)
    total = max(1, cfg.epochs * steps_per_epoch)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    start_epoch, best_score, best_metrics, history = 0, -math.inf, {}, []
    if state is not None:
        ckpt = JointNet.read_checkpoint(last)
        if ckpt["config"] != to_dict(cfg.model):
            raise ConfigError(f"{str(last)!r} was trained with model config {ckpt['config']}, this run asks "
                              f"{to_dict(cfg.model)}; use another out_dir")
        net.load_state_dict(ckpt["state_dict"])
        loss_fn.load_state_dict(state["loss"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        start_epoch, best_score = state["epoch"] + 1, state["best_score"]
        best_metrics, history = state["best_metrics"], state["history"]
        torch.set_rng_state(state["torch_rng"])
    save_yaml(cfg, out / "config.yaml")

    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(out / "tb"))
    step = start_epoch * steps_per_epoch
    t0 = time.perf_counter()
    try:
        for epoch in range(start_epoch, cfg.epochs):
            net.train()
            train_ds.set_epoch(epoch)
            sums = {t: 0.0 for t in (*JOINT_TASKS, "total")}
            n = 0
            batches = _bar(_loader(train_ds, cfg, True, epoch, device), cfg.progress, f"epoch {epoch + 1}/{cfg.epochs}")
            for i, batch in enumerate(batches):
                if cfg.max_train_batches and i >= cfg.max_train_batches:
                    break
                batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
                with _autocast(device, cfg.amp):
                    outputs = net(batch["image"])
                losses = _losses(net, outputs, batch)
                total_loss = loss_fn(losses)
                if not torch.isfinite(total_loss):
                    raise FloatingPointError(f"epoch {epoch}, step {step}: loss is {float(total_loss)} "
                                             f"({ {k: float(v) for k, v in losses.items()} }); lower lr")
                opt.zero_grad(set_to_none=True)
                total_loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
                opt.step()
                sched.step()
                step, n = step + 1, n + 1
                for k, v in losses.items():
                    sums[k] += float(v.detach())
                sums["total"] += float(total_loss.detach())
                if hasattr(batches, "set_postfix"):
                    batches.set_postfix(loss=f"{float(total_loss):.3f}", det=f"{float(losses['det']):.2f}")
                if step % 10 == 0:
                    for k, v in losses.items():
                        writer.add_scalar(f"train_step/{k}", float(v.detach()), step)
            for k, v in sums.items():
                writer.add_scalar(f"train/{k}_loss", v / max(n, 1), epoch)
            writer.add_scalar("train/lr", opt.param_groups[0]["lr"], epoch)
            for k, v in loss_fn.effective_weights().items():
                writer.add_scalar(f"task_weight/{k}", v, epoch)
            metrics = evaluate(net, val_loader, device, cfg.amp, cfg.progress)
            for k, v in metrics.items():
                writer.add_scalar(f"val/{k}", v, epoch)
            writer.flush()
            record = {"epoch": epoch, **{f"train_{k}_loss": v / max(n, 1) for k, v in sums.items()}, **metrics}
            history.append(record)
            if metrics["val_score"] > best_score:
                best_score, best_metrics = metrics["val_score"], {"epoch": epoch, **metrics}
                net.save(out / "best.pt", metrics=best_metrics, task_weights=loss_fn.effective_weights())
            net.save(last, metrics=record, train_state={
                "epoch": epoch, "best_score": best_score, "best_metrics": best_metrics, "history": history,
                "loss": loss_fn.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                "torch_rng": torch.get_rng_state()})
    finally:
        writer.close()
    result = {**best_metrics, "best_epoch": best_metrics.get("epoch", -1), "epochs_done": len(history),
              "val_split": val_split, "train_frames": len(train_ds), "val_frames": len(val_ds), "device": str(device),
              "train_seconds_this_call": time.perf_counter() - t0, "task_weights": loss_fn.effective_weights(),
              "last": history[-1] if history else {}}
    result.pop("epoch", None)
    (out / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    return result
