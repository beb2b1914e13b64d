"""The epoch loop the perception trainers share (``train_hydranet``, ``train_joint``): AdamW with a cosine
schedule, the multi-task loss, gradient clipping, TensorBoard, validation each epoch, ``best.pt`` /
``last.pt`` and resuming from ``last.pt``. A trainer says what differs: how a batch's task losses are
computed, how the val metrics are, and how the net is put in training mode.

``last.pt`` holds the net (its own checkpoint format) plus ``train_state``: the epoch, the best score and
metrics, the history, the loss module's, optimiser's and scheduler's states and torch's RNG, so the same
command run again continues where the last finished epoch left off.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from common.config import ConfigError, to_dict

CLIP_GRAD_NORM = 10.0
LOG_EVERY_STEPS = 10  # train_step/* scalars in TensorBoard


@dataclass
class Fit:
    """One training run's moving parts."""

    net: torch.nn.Module  # has save(path, **extra), read_checkpoint(path) and config
    loss_fn: torch.nn.Module  # hydranet_data.MultiTaskLoss
    opt: torch.optim.Optimizer
    sched: Any
    steps_per_epoch: int
    out: Path
    start_epoch: int = 0
    best_score: float = -math.inf
    best_metrics: dict | None = None
    history: list | None = None
    seconds: float = 0.0  # training wall time of every call so far (the time budget counts it)
    epochs: int = 0  # the planned epoch count, once a time budget has lowered it (0 = the config's)


def autocast(device: torch.device, amp: bool):
    """bfloat16 autocast on CUDA when ``amp``; a no-op context on the CPU."""
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp and device.type == "cuda")


def progress_bar(iterable, enabled: bool, desc: str):
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, leave=False, dynamic_ncols=True)


class Cosine:
    """lr factor from 1 down to ``min_lr_ratio`` by a half cosine over ``total`` steps. An object rather than
    a lambda: ``LambdaLR`` saves its attributes, so a run re-planned to fewer steps (a time budget) resumes
    with the same plan."""

    def __init__(self, total: int, min_lr_ratio: float) -> None:
        self.total, self.min_lr_ratio = max(1, total), min_lr_ratio

    def __call__(self, step: int) -> float:
        return self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(step, self.total) / self.total))


def cosine_schedule(opt: torch.optim.Optimizer, epochs: int, steps_per_epoch: int, min_lr_ratio: float):
    """lr from its peak down to ``min_lr_ratio`` of it by a half cosine over every step of the run."""
    return torch.optim.lr_scheduler.LambdaLR(opt, Cosine(epochs * steps_per_epoch, min_lr_ratio))


def epochs_in_budget(epochs: int, done: int, seconds: float, budget_s: float) -> int:
    """The epoch count that fits ``budget_s`` at the mean epoch time so far (``seconds`` over ``done`` epochs),
    at most ``epochs`` and at least ``done`` (as ultralytics' ``time`` argument re-plans after each epoch)."""
    if budget_s <= 0 or done <= 0:
        return epochs
    return max(done, min(epochs, int(budget_s // (seconds / done))))


def resume(fit: Fit) -> bool:
    """Load ``fit.out / last.pt`` into the run when it exists; False when there is none (a new run).
    ValueError / ConfigError naming the file when it cannot continue this run."""
    last = fit.out / "last.pt"
    fit.best_metrics, fit.history = {}, []
    if not last.is_file():
        return False
    ckpt = fit.net.read_checkpoint(last)
    state = ckpt.get("train_state")
    if state is None:
        raise ValueError(f"{str(last)!r} holds no training state; move it away to start a new run")
    if ckpt["config"] != to_dict(fit.net.config):
        raise ConfigError(f"{str(last)!r} was trained with model config {ckpt['config']}, this run asks "
                          f"{to_dict(fit.net.config)}; use another out_dir")
    fit.net.load_state_dict(ckpt["state_dict"])
    fit.loss_fn.load_state_dict(state["loss"])
    fit.opt.load_state_dict(state["optimizer"])
    fit.sched.load_state_dict(state["scheduler"])
    fit.start_epoch, fit.best_score = state["epoch"] + 1, state["best_score"]
    fit.best_metrics, fit.history = state["best_metrics"], state["history"]
    fit.seconds, fit.epochs = state.get("seconds", 0.0), state.get("epochs", 0)
    torch.set_rng_state(state["torch_rng"])
    return True


def run_epochs(fit: Fit, epochs: int, batches_of: Callable[[int], Any], losses_of: Callable[[dict], dict],
               evaluate: Callable[[], dict], train_mode: Callable[[], None], device: torch.device, amp: bool,
               max_train_batches: int, progress: bool, time_budget_s: float = 0.0) -> float:
    """Epochs ``fit.start_epoch`` .. ``epochs - 1``: ``batches_of(epoch)`` yields the batches, ``losses_of(batch)``
    gives the task losses (the forward pass inside), ``evaluate()`` the val metrics (with ``val_score``),
    ``train_mode()`` puts the net in training mode. Writes TensorBoard, ``best.pt`` and ``last.pt`` each epoch;
    returns the seconds it took. With ``time_budget_s`` the run (all calls together, validation included) ends
    within about one epoch of the budget: after each epoch the epoch count is lowered to what fits and the
    cosine schedule re-planned over it, so the learning rate still decays to its floor."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(fit.out / "tb"))
    step = fit.start_epoch * fit.steps_per_epoch
    t0 = time.perf_counter()
    seconds_before = fit.seconds
    if fit.epochs:
        epochs = min(epochs, fit.epochs)
    try:
        epoch = fit.start_epoch
        while epoch < epochs:
            train_mode()
            sums: dict[str, float] = {}
            n = 0
            batches = progress_bar(batches_of(epoch), progress, f"epoch {epoch + 1}/{epochs}")
            for i, batch in enumerate(batches):
                if max_train_batches and i >= max_train_batches:
                    break
                batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
                with autocast(device, amp):
                    losses = losses_of(batch)
                total_loss = fit.loss_fn(losses)
                if not torch.isfinite(total_loss):
                    raise FloatingPointError(f"epoch {epoch}, step {step}: loss is {float(total_loss)} "
                                             f"({ {k: float(v) for k, v in losses.items()} }); lower lr")
                fit.opt.zero_grad(set_to_none=True)
                total_loss.backward()
                torch.nn.utils.clip_grad_norm_(fit.net.parameters(), CLIP_GRAD_NORM)
                fit.opt.step()
                fit.sched.step()
                step, n = step + 1, n + 1
                for k, v in {**losses, "total": total_loss}.items():
                    sums[k] = sums.get(k, 0.0) + float(v.detach())
                if hasattr(batches, "set_postfix"):
                    batches.set_postfix(loss=f"{float(total_loss.detach()):.3f}")
                if step % LOG_EVERY_STEPS == 0:
                    for k, v in {**losses, "total": total_loss}.items():
                        writer.add_scalar(f"train_step/{k}", float(v.detach()), step)
            for k, v in sums.items():
                writer.add_scalar(f"train/{k}_loss", v / max(n, 1), epoch)
            writer.add_scalar("train/lr", fit.opt.param_groups[0]["lr"], epoch)
            for k, v in fit.loss_fn.effective_weights().items():
                writer.add_scalar(f"task_weight/{k}", v, epoch)
            metrics = evaluate()
            for k, v in metrics.items():
                writer.add_scalar(f"val/{k}", v, epoch)
            writer.flush()
            record = {"epoch": epoch, **{f"train_{k}_loss": v / max(n, 1) for k, v in sums.items()}, **metrics}
            fit.history.append(record)
            if metrics["val_score"] > fit.best_score:
                fit.best_score, fit.best_metrics = metrics["val_score"], {"epoch": epoch, **metrics}
                fit.net.save(fit.out / "best.pt", metrics=fit.best_metrics, task_weights=fit.loss_fn.effective_weights())
            fit.seconds = seconds_before + time.perf_counter() - t0
            planned = epochs_in_budget(epochs, epoch + 1, fit.seconds, time_budget_s)
            if planned < epochs:
                epochs = fit.epochs = planned
                for plan, group, base in zip(fit.sched.lr_lambdas, fit.opt.param_groups, fit.sched.base_lrs):
                    plan.total = max(1, epochs * fit.steps_per_epoch)
                    group["lr"] = base * plan(fit.sched.last_epoch)  # where the new plan stands now
                writer.add_scalar("train/epochs_planned", epochs, epoch)
            fit.net.save(fit.out / "last.pt", metrics=record, train_state={
                "epoch": epoch, "best_score": fit.best_score, "best_metrics": fit.best_metrics, "history": fit.history,
                "loss": fit.loss_fn.state_dict(), "optimizer": fit.opt.state_dict(), "scheduler": fit.sched.state_dict(),
                "torch_rng": torch.get_rng_state(), "seconds": fit.seconds, "epochs": fit.epochs})
            epoch += 1
    finally:
        writer.close()
    return time.perf_counter() - t0


def result(fit: Fit, seconds: float, **facts: Any) -> dict[str, Any]:
    """The run's summary (the best epoch's metrics, run facts, the last epoch), also written to metrics.json."""
    import json

    out = {**fit.best_metrics, "best_epoch": fit.best_metrics.get("epoch", -1), "epochs_done": len(fit.history),
           "train_seconds": round(fit.seconds, 1), **facts, "train_seconds_this_call": seconds, "task_weights": fit.loss_fn.effective_weights(),
           "last": fit.history[-1] if fit.history else {}}
    out.pop("epoch", None)
    (fit.out / "metrics.json").write_text(json.dumps(out, indent=2) + "\n")
    return out
