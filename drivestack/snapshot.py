"""``drivestack snapshot``: save one simulated camera frame with its labels drawn.

Usage::

    drivestack snapshot --scenario town --seed 3 --steps 60 --out docs/town.png
    drivestack snapshot --scenario highway --seed 1 --randomize --set randomization.fog_prob=1 --out fog.png

The PNG shows the camera image, the same image with boxes, drivable area and lane markings
drawn, and the depth map, stacked vertically. The autopilot drives for ``--steps`` first.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common.config import apply_overrides, from_dict
from common.errors import UsageError


def add_parser(sub) -> None:
    p = sub.add_parser("snapshot", help="save a simulated frame with its ground truth drawn",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", default="town", help="town, highway or townnav")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=40, help="autopilot steps before the snapshot (default 40)")
    p.add_argument("--randomize", action="store_true", help="turn visual randomisation on")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one EnvConfig field")
    p.add_argument("--out", required=True, help="PNG file to write")
    p.set_defaults(func=run)


def run(args) -> int:
    from sim import SCENARIO_KINDS

    if args.scenario not in SCENARIO_KINDS:
        raise UsageError(f"--scenario {args.scenario!r} is not allowed; choose one of {', '.join(SCENARIO_KINDS)}")
    if args.seed < 0:
        raise UsageError(f"--seed {args.seed} is not allowed; use an integer >= 0")
    if args.steps < 0:
        raise UsageError(f"--steps {args.steps} is not allowed; use 0 or more")
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise UsageError(f"--out {args.out!r} must end in .png")
    import cv2
    import gymnasium as gym
    import numpy as np

    import sim  # noqa: F401
    from sim.autopilot import Autopilot
    from sim.config import EnvConfig
    from sim.label_overlay import depth_colour, draw_labels

    data = {"scenario": {"kind": args.scenario}, "randomization": {"enabled": bool(args.randomize)}}
    data = apply_overrides(data, args.set)
    config = from_dict(EnvConfig, data)
    env = gym.make("drivestack/Town-v0", config=config)
    obs, info = env.reset(seed=args.seed)
    pilot = Autopilot()
    for _ in range(args.steps):
        obs, _, term, trunc, info = env.step(pilot.act(info["ground_truth"], float(obs["state"][0])))
        if term or trunc:
            break
    gt = info["ground_truth"]
    scale = 2
    plain = cv2.resize(obs["image"], None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    panel = np.concatenate([plain, draw_labels(obs["image"], gt, scale), depth_colour(gt.depth_m, scale=scale)], 0)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the folder of --out {args.out!r}: {exc.strerror}") from None
    if not cv2.imwrite(str(out), panel[:, :, ::-1]):
        raise UsageError(f"could not write {str(out)!r}")
    print(f"wrote {out} ({len(gt.objects)} labelled objects)")
    return 0
