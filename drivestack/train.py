"""``drivestack train``: train the perception models on a simulator dataset, or the driving policy.

Usage::

    drivestack dataset --out data/sim --scenes 300 --frames-per-scene 12 --seed 1
    drivestack train detector --data data/sim --out runs/detector [--set epochs=50 --set imgsz=320]
    drivestack train detector --data data/a,data/b --out runs/detector   # several exports, one detector
    drivestack train hydranet --data data/sim --out runs/hydranet [--set epochs=30 --set loss_weighting=fixed]
    drivestack train joint --data data/sim --out runs/joint [--set epochs=30]   # one network: boxes + dense heads
    drivestack train policy --out runs/policy [--set total_steps=300000 --set algo=sac]
    drivestack train policy --resume runs/policy            # continue an interrupted run
    drivestack train policy --ray auto --set n_envs=64     # rollout envs in Ray actors on a cluster (docs/cluster.md)

Every field of ``perception.train_detector.DetectorTrainConfig`` / ``perception.train_hydranet.
HydraTrainConfig`` / ``perception.train_joint.JointTrainConfig`` / ``control.train.PolicyTrainConfig`` can be set from a YAML preset (``--config``) or ``--set key=value``. Runs use
the GPU when there is one, log to TensorBoard, keep checkpoints and save their resolved config.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common.config import apply_overrides, from_dict, load_yaml, merge
from common.errors import UsageError

from .cluster import EXTRA, LOCAL


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train the detector, the multi-task network or the driving policy",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="detector, hydranet, joint (one network: detection and the dense heads) or policy")
    p.add_argument("--data", default=None, help="dataset folder written by `drivestack dataset` (or its data.yaml); detector, hydranet and joint. "
                   "The detector and the joint network take several, comma-separated")
    p.add_argument("--resume", default=None, metavar="RUN", help="policy: continue the interrupted run in this folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--out", default=None, help="run folder (default: runs/<model>)")
    p.add_argument("--config", default=None, help="YAML preset of the training config's fields")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one field")
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:1 ...")
    p.add_argument("--ray", nargs="?", const=LOCAL, default=None, metavar="ADDRESS",
                   help="policy: the rollout envs in Ray actors (envs_on=ray; the learner stays here): no ADDRESS "
                        f"starts a local instance, 'auto' or HOST:PORT joins a cluster (needs {EXTRA}; docs/cluster.md)")
    p.add_argument("--ray-cpus", type=int, default=None, metavar="N",
                   help="with --ray and no address: worker slots of the local instance (default: every core)")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.model not in ("detector", "hydranet", "joint", "policy"):
        raise UsageError(f"train target {args.model!r} is not allowed; choose detector, hydranet, joint or policy")
    if args.model == "policy":
        return _train_policy(args)
    if args.ray is not None:
        raise UsageError(f"--ray is not allowed for train {args.model}; it runs the policy's rollout envs (train policy)")
    if args.data is None:
        raise UsageError(f"train {args.model} needs --data (a dataset folder written by `drivestack dataset`)")
    folders = [_dataset_folder(d) for d in str(args.data).split(",") if d.strip()]
    if not folders:
        raise UsageError(f"--data {args.data!r} names no dataset folder")
    if len(folders) > 1 and args.model == "hydranet":
        raise UsageError(f"train {args.model} takes one dataset folder, got {len(folders)} in --data {args.data!r}")
    folder = folders[0]
    values = load_yaml(args.config) if args.config else {}
    values = apply_overrides(values, args.set)
    # the command line's --out wins over a preset's out_dir (a finished run's config as the preset of the next)
    out = args.out or values.get("out_dir") or f"runs/{args.model}"
    if args.model == "detector":
        from perception.train_detector import DetectorTrainConfig, train_detector

        if len(folders) > 1 and (Path(out) / "weights").exists() and not values.get("exist_ok"):
            raise UsageError(f"{out!r} already holds a training run; pick another --out or --set exist_ok=true")
        data_yaml = folder / "data.yaml" if len(folders) == 1 else _combined_data_yaml(folders, Path(out))
        base = {"data": str(data_yaml.resolve()), "out_dir": out}
        if args.device:
            base["device"] = args.device
        result = train_detector(from_dict(DetectorTrainConfig, merge(values, base)))
    else:
        from perception.train_hydranet import HydraTrainConfig, train_hydranet
        from perception.train_joint import JointTrainConfig, train_joint

        base = {"data_dir": ",".join(str(f.resolve()) for f in folders), "out_dir": out}
        if args.device:
            base["device"] = args.device
        if args.quiet:
            base["progress"] = False
        config, trainer = (JointTrainConfig, train_joint) if args.model == "joint" else (HydraTrainConfig, train_hydranet)
        result = trainer(from_dict(config, merge(values, base)))
    print(json.dumps(result, indent=2, default=str))
    return 0


def _dataset_folder(data: str) -> Path:
    """The folder of one complete `drivestack dataset` export, from its path or its data.yaml."""

    path = Path(data.strip())
    folder = path.parent if path.suffix in (".yaml", ".yml") else path
    if not (folder / "dataset.json").is_file():
        raise UsageError(f"--data {data!r} is not a dataset written by `drivestack dataset` (no dataset.json there)")
    manifest = json.loads((folder / "dataset.json").read_text())
    if not manifest.get("complete"):
        raise UsageError(f"dataset {str(folder)!r} is incomplete; finish it by re-running its `drivestack dataset` command")
    return folder


def _combined_data_yaml(folders: list[Path], out_dir: Path) -> Path:
    """One ultralytics data.yaml over several exports (their train and val splits listed), in the run dir.

    Several exports made in parallel (one process each, different seeds) train one detector.
    Written beside the run's outputs so the run stays reproducible from its folder.
    """
    import yaml

    from perception.detector_classes import extends, name_list

    # exports made before a class was appended (``common.vocab.CLASS_NAMES`` only ever grows at its end) hold
    # the same indices for the classes they know: they combine with newer ones under the longer list of names
    names: list[str] = []
    for f in folders:
        these = name_list(yaml.safe_load((f / "data.yaml").read_text())["names"])
        shorter, longer = sorted((names, these), key=len)
        if longer != shorter and not extends(longer, shorter):
            raise UsageError(f"dataset {str(f)!r} has classes {these}, the others {names}: one list must begin "
                             "with the other")
        names = longer
    root = [f.resolve() for f in folders]
    combined = {"path": "/", "train": [str(f / "images" / "train") for f in root],
                "val": [str(f / "images" / "val") for f in root if any((f / "images" / "val").glob("*.jpg"))],
                "nc": len(names), "names": dict(enumerate(names))}
    if not combined["val"]:
        raise UsageError("none of the --data datasets has a val split; export more scenes")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "data.yaml"
    path.write_text(yaml.safe_dump(combined, sort_keys=False))
    return path


def _train_policy(args) -> int:
    import contextlib
    from dataclasses import replace

    from control.train import PolicyTrainConfig, train_policy

    from .cluster import ray_session, spec_from_args

    if args.resume:
        run_dir = Path(args.resume)
        if not (run_dir / "config.yaml").is_file():
            raise UsageError(f"--resume {args.resume!r} is not a policy run folder (no config.yaml there)")
        if args.config or args.set or args.out:
            raise UsageError("--resume takes the run's own config.yaml; drop --config/--set/--out")
        cfg = from_dict(PolicyTrainConfig, load_yaml(run_dir / "config.yaml"))
        if Path(cfg.out_dir).resolve() != run_dir.resolve():
            cfg = from_dict(PolicyTrainConfig, merge(load_yaml(run_dir / "config.yaml"), {"out_dir": str(run_dir)}))
    else:
        values = load_yaml(args.config) if args.config else {}
        values = apply_overrides(values, args.set)
        base = {"out_dir": args.out or "runs/policy"}
        if args.device:
            base["device"] = args.device
        if args.ray is not None:  # before the config checks: settings that need Ray actors (rollouts_in) see it
            base["envs_on"] = "ray"
        cfg = from_dict(PolicyTrainConfig, merge(base, values))
    spec = spec_from_args(args)
    if spec is None and cfg.envs_on == "ray":  # a preset (or the resumed run) asks for Ray: a local instance
        spec = spec_from_args(argparse.Namespace(ray=LOCAL, ray_cpus=args.ray_cpus))
    if spec is not None:
        cfg = replace(cfg, envs_on="ray")
    with ray_session(spec) if spec is not None else contextlib.nullcontext():
        try:
            result = train_policy(cfg, resume=bool(args.resume), progress=not args.quiet)
        except FileNotFoundError as exc:
            raise UsageError(str(exc)) from None
    print(json.dumps(result, indent=2, default=str))
    return 0
