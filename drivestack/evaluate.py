"""``drivestack eval``: measure the perception stack on held-out simulator seeds.

Usage::

    drivestack eval perception --json                      # shipped models, default held-out seeds
    drivestack eval perception --seeds 10000-10019 --out runs/eval --detector runs/detector/weights/best.pt

Prints a JSON report on stdout (per-class AP50 / AP50-95, drivable IoU, lane-marking F1, depth and
distance errors by range, lane offset error) and, with ``--out``, writes it with PR curves and
example overlays.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="evaluate perception on held-out simulator seeds",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", help="perception")
    p.add_argument("--seeds", default="10000-10009", help="held-out seeds: 'A-B' or 'A,B,C' (default 10000-10009)")
    p.add_argument("--kinds", default="town,highway", help="scenario kinds (default town,highway)")
    p.add_argument("--frames-per-seed", type=int, default=10)
    p.add_argument("--randomize", action="store_true", help="score on randomised visuals (default: the evaluation look)")
    p.add_argument("--detector", default=None, help="detector weights (default: shipped)")
    p.add_argument("--hydranet", default=None, help="multi-task weights (default: shipped)")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default=None, help="folder for report.json, PR curves and overlays")
    p.add_argument("--json", action="store_true", help="print only the JSON report on stdout")
    p.set_defaults(func=run)


def parse_seeds(text: str) -> tuple[int, ...]:
    from drivestack.cli import UsageError

    try:
        if "-" in text.strip("-"):
            lo, hi = (int(v) for v in text.split("-", 1))
            seeds = tuple(range(lo, hi + 1))
        else:
            seeds = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise UsageError(f"--seeds {text!r} is not allowed; use 'A-B' or 'A,B,C' with integers") from None
    if not seeds or min(seeds) < 0:
        raise UsageError(f"--seeds {text!r} is not allowed; give at least one seed >= 0")
    return seeds


def run(args) -> int:
    from drivestack.cli import UsageError

    if args.target != "perception":
        raise UsageError(f"eval target {args.target!r} is not allowed; choose perception")
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    if not kinds or any(k not in ("town", "highway") for k in kinds):
        raise UsageError(f"--kinds {args.kinds!r} is not allowed; use town, highway or both")
    if args.frames_per_seed < 1:
        raise UsageError(f"--frames-per-seed {args.frames_per_seed} is not allowed; use 1 or more")
    seeds = parse_seeds(args.seeds)
    from perception.evaluate import EvalConfig, evaluate
    from perception.pipeline import Perception, model_paths
    from perception.yolo import DetectorConfig, YoloDetector

    try:
        det_path, hyd_path = model_paths(args.detector, args.hydranet)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    try:
        perception = Perception.from_files(None, hyd_path, device=args.device, track=False)
        # AP needs the whole score range: a near-zero confidence threshold
        perception.detector = YoloDetector.load(det_path, cfg=DetectorConfig(device=args.device, conf=0.001))
    except (ValueError, FileNotFoundError) as exc:
        raise UsageError(str(exc)) from None
    report = evaluate(perception, EvalConfig(seeds=seeds, kinds=kinds, frames_per_seed=args.frames_per_seed,
                                             randomize=args.randomize), args.out, progress=not args.json)
    report["models"] = {"detector": str(det_path), "hydranet": str(hyd_path)}
    print(json.dumps(report, indent=None if args.json else 2))
    if not args.json and args.out:
        print(f"wrote {args.out}/report.json, pr_curves.png, example_*.png", file=sys.stderr)
    return 0
