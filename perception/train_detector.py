"""Train the YOLO detector on a dataset from ``sim.dataset.export_dataset``, offline.

Trains from a model yaml (random init, nothing downloaded) with ultralytics, through the
offline import of :mod:`perception.yolo`; AMP is off (its check downloads a model on a GPU),
plots are off, no hub/Platform upload. TensorBoard event files go into the run dir (the
ultralytics callback, enabled in its settings; ultralytics itself disables it under pytest).

The run dir holds ultralytics' outputs (``weights/best.pt``, ``weights/last.pt``,
``results.csv``, ``args.yaml``) plus ``drivestack_config.yaml`` (the resolved
:class:`DetectorTrainConfig`) and ``metrics.json`` (what :func:`train_detector` returns).

Usage::

    from sim.dataset import export_dataset
    from perception.train_detector import DetectorTrainConfig, train_detector

    export_dataset("data/drive", scenes=200, frames_per_scene=40, seed=0)
    result = train_detector(DetectorTrainConfig(data="data/drive/data.yaml", epochs=50))
    print(result["metrics"]["mAP50"], result["best"])

    python -m perception.train_detector data/drive/data.yaml [epochs] [out_dir]
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from common.config import ConfigError, check_range, save_yaml
from common.device import resolve_device
from perception.types import CLASS_NAMES
from perception.yolo import ultralytics_offline

__all__ = ["DetectorTrainConfig", "train_detector", "main"]


@dataclass(frozen=True)
class DetectorTrainConfig:
    """One detector training run."""

    data: str = "data/drive/data.yaml"  # data.yaml written by sim.dataset.export_dataset
    model: str = "yolov8n.yaml"  # ultralytics model yaml (random init), scale in the name: yolov8s.yaml, yolo11n.yaml
    epochs: int = 50  # passes over the train split
    imgsz: int = 320  # training size, longest side [px], multiple of 32
    batch: int = 16  # images per step
    workers: int = 2  # dataloader worker processes (0 = in the main process)
    seed: int = 0  # seeds torch / numpy / random; ultralytics' deterministic mode is on
    device: str = "auto"  # "auto" (cuda:0 if available, else cpu), "cpu", "cuda:0", "0", "0,1"
    out_dir: str = "runs/detector"  # the run dir itself (weights/, results.csv, configs)
    exist_ok: bool = False  # reuse an out_dir that already holds a run (its files are overwritten)
    patience: int = 20  # stop after this many epochs without a better fitness
    optimizer: str = "auto"  # ultralytics optimizer name: "auto", "SGD", "AdamW", ...
    lr0: float = 0.01  # initial learning rate (ignored by optimizer="auto", which picks its own)
    close_mosaic: int = 10  # turn mosaic augmentation off for the last N epochs
    cache: bool = False  # keep decoded training images in RAM
    fraction: float = 1.0  # share of the train split used, (0, 1]
    verbose: bool = True  # ultralytics' per-epoch log lines
    warmup_epochs: float = 3.0  # learning-rate warm-up [epochs]; shorten it when fine-tuning a trained model
    time_h: float | None = None  # wall-clock budget [h]; overrides epochs (ultralytics re-plans the schedule to fit)

    def __post_init__(self) -> None:
        check_range("epochs", self.epochs, 1)
        check_range("imgsz", self.imgsz, 32)
        if self.imgsz % 32:
            raise ConfigError(f"imgsz must be a multiple of 32, got {self.imgsz}")
        check_range("batch", self.batch, 1)
        check_range("workers", self.workers, 0)
        check_range("patience", self.patience, 1)
        check_range("warmup_epochs", self.warmup_epochs, 0.0)
        if self.time_h is not None:
            check_range("time_h", self.time_h, 0.0, 1000.0, lo_open=True)
        check_range("lr0", self.lr0, 0.0, lo_open=True)
        check_range("close_mosaic", self.close_mosaic, 0)
        check_range("fraction", self.fraction, 0.0, 1.0, lo_open=True)


def _ultralytics_device(device: str) -> str:
    d = resolve_device(device)
    return d.removeprefix("cuda:") if d.startswith("cuda:") else d


def _widened(model: str, data: Path, run_dir: Path) -> str:
    """``model``, or where it is a checkpoint whose classes the data extends (a class appended since it was
    trained), that checkpoint with its class rows carried over (``perception.detector_classes``): written
    into the run dir, so that ultralytics keeps the old classes' heads instead of starting them afresh."""
    if not model.endswith(".pt"):
        return model
    import yaml

    from .detector_classes import checkpoint_names, extends, name_list, widen_classes

    names = name_list(yaml.safe_load(data.read_text())["names"])
    if not extends(names, checkpoint_names(model)):
        return model  # the same classes, or others altogether: ultralytics' own handling
    return str(widen_classes(model, names, run_dir / "widened_start.pt"))


def train_detector(cfg: DetectorTrainConfig) -> dict[str, Any]:
    """Train; return metrics of best.pt on the val split, paths and throughput.

    Returns ``{"run_dir", "best", "last", "device", "epochs_run", "train_images",
    "train_s", "train_images_per_s", "metrics": {"mAP50", "mAP50-95", "per_class_AP50"}}``;
    ``per_class_AP50`` maps each of our class names to its AP50, or None when the val split
    has no instance of it. Raises ``ConfigError`` for a missing data yaml or an occupied run dir.
    """
    data = Path(cfg.data).expanduser().resolve()
    if not data.is_file():
        raise ConfigError(f"data yaml {str(data)!r} does not exist; export one with sim.dataset.export_dataset")
    run_dir = Path(cfg.out_dir).expanduser().resolve()
    if (run_dir / "weights").exists() and not cfg.exist_ok:
        raise ConfigError(f"{str(run_dir)!r} already holds a training run; pick another out_dir or set exist_ok")
    run_dir.mkdir(parents=True, exist_ok=True)
    resolved = replace(cfg, data=str(data), out_dir=str(run_dir), device=resolve_device(cfg.device))
    save_yaml(resolved, run_dir / "drivestack_config.yaml")

    ultralytics_offline()
    from ultralytics import YOLO
    from ultralytics.utils import SETTINGS

    if SETTINGS.get("tensorboard") is not True:
        SETTINGS.update({"tensorboard": True})

    model = YOLO(_widened(cfg.model, data, run_dir), task="detect")
    clock: dict[str, float] = {"train_s": 0.0, "images": 0}

    def epoch_start(trainer) -> None:
        clock["t0"] = time.perf_counter()

    def epoch_end(trainer) -> None:  # training pass only; validation runs after this
        clock["train_s"] += time.perf_counter() - clock.pop("t0")
        clock["images"] += len(trainer.train_loader.dataset)

    model.add_callback("on_train_epoch_start", epoch_start)
    model.add_callback("on_train_epoch_end", epoch_end)
    model.train(
        data=str(data), epochs=cfg.epochs, imgsz=cfg.imgsz, batch=cfg.batch, workers=cfg.workers, seed=cfg.seed,
        deterministic=True, device=_ultralytics_device(cfg.device), project=str(run_dir.parent),
        name=run_dir.name, exist_ok=True, patience=cfg.patience, optimizer=cfg.optimizer, lr0=cfg.lr0,
        close_mosaic=cfg.close_mosaic, cache=cfg.cache, fraction=cfg.fraction, verbose=cfg.verbose,
        amp=False, plots=False, val=True, save=True,
        pretrained=model.ckpt_path if cfg.model.endswith(".pt") else False,  # a .pt fine-tunes from its weights
        warmup_epochs=cfg.warmup_epochs, **({"time": cfg.time_h} if cfg.time_h else {}),
    )
    trainer = model.trainer
    box = trainer.validator.metrics.box
    per_class: dict[str, float | None] = {n: None for n in CLASS_NAMES}
    for k, c in enumerate(box.ap_class_index):
        if int(c) < len(CLASS_NAMES):
            per_class[CLASS_NAMES[int(c)]] = float(box.ap50[k])
    result = {
        "run_dir": str(Path(trainer.save_dir)),
        "best": str(trainer.best) if Path(trainer.best).is_file() else None,
        "last": str(trainer.last) if Path(trainer.last).is_file() else None,
        "device": str(trainer.device),
        "epochs_run": int(trainer.epoch) + 1,
        "train_images": int(clock["images"]),
        "train_s": round(clock["train_s"], 3),
        "train_images_per_s": round(clock["images"] / clock["train_s"], 3) if clock["train_s"] > 0 else math.nan,
        "metrics": {"mAP50": float(box.map50), "mAP50-95": float(box.map), "per_class_AP50": per_class},
    }
    (run_dir / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m perception.train_detector DATA_YAML [EPOCHS] [OUT_DIR]``"""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in {"-h", "--help"}:
        print(main.__doc__)
        return 0 if argv else 2
    kw: dict[str, Any] = {"data": argv[0]}
    if len(argv) > 1:
        kw["epochs"] = int(argv[1])
    if len(argv) > 2:
        kw["out_dir"] = argv[2]
    result = train_detector(DetectorTrainConfig(**kw))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
