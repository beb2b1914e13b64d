"""``drivestack train``: train the perception models on a simulator dataset.

Usage::

    drivestack dataset --out data/sim --scenes 300 --frames-per-scene 12 --seed 1
    drivestack train detector --data data/sim --out runs/detector [--set epochs=50 --set imgsz=320]
    drivestack train hydranet --data data/sim --out runs/hydranet [--set epochs=30 --set loss_weighting=fixed]

Every field of ``perception.train_detector.DetectorTrainConfig`` / ``perception.train_hydranet.
HydraTrainConfig`` can be set from a YAML preset (``--config``) or ``--set key=value``. Runs use
the GPU when there is one, log to TensorBoard, keep checkpoints and save their resolved config.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train the detector or the multi-task network",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="detector or hydranet")
    p.add_argument("--data", required=True, help="dataset folder written by `drivestack dataset` (or its data.yaml)")
    p.add_argument("--out", default=None, help="run folder (default: runs/<model>)")
    p.add_argument("--config", default=None, help="YAML preset of the training config's fields")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one field")
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:1 ...")
    p.set_defaults(func=run)


def run(args) -> int:
    from drivestack.cli import UsageError
    from drivestack.config import apply_overrides, from_dict, load_yaml, merge

    if args.model not in ("detector", "hydranet"):
        raise UsageError(f"train target {args.model!r} is not allowed; choose detector or hydranet")
    data = Path(args.data)
    folder = data.parent if data.suffix in (".yaml", ".yml") else data
    if not (folder / "dataset.json").is_file():
        raise UsageError(f"--data {args.data!r} is not a dataset written by `drivestack dataset` (no dataset.json there)")
    manifest = json.loads((folder / "dataset.json").read_text())
    if not manifest.get("complete"):
        raise UsageError(f"dataset {str(folder)!r} is incomplete; finish it by re-running its `drivestack dataset` command")
    values = load_yaml(args.config) if args.config else {}
    values = apply_overrides(values, args.set)
    out = args.out or f"runs/{args.model}"
    if args.model == "detector":
        from perception.train_detector import DetectorTrainConfig, train_detector

        base = {"data": str((folder / "data.yaml").resolve()), "out_dir": out}
        if args.device:
            base["device"] = args.device
        result = train_detector(from_dict(DetectorTrainConfig, merge(base, values)))
    else:
        from perception.train_hydranet import HydraTrainConfig, train_hydranet

        base = {"data_dir": str(folder.resolve()), "out_dir": out}
        if args.device:
            base["device"] = args.device
        result = train_hydranet(from_dict(HydraTrainConfig, merge(base, values)))
    print(json.dumps(result, indent=2, default=str))
    return 0
