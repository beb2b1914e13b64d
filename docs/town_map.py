"""Regenerate docs/img/townnav_map.png: a navigation town from above with its route, beside camera
frames of that drive (a left turn, a right turn, a stop-sign line) with their labels.

Usage: python docs/town_map.py [--seed 3] [--route-length 1500] [--out docs/img/townnav_map.png]

The frames come from ``drivestack/TownNav-v0`` itself: the rule-based driver (``sim.autopilot``,
on the labels) drives the route, and the frame is kept at the middle of the first left turn, the
middle of the first right turn and 10 m before the first stop-sign line; each tile shows the
camera and ``sim.label_overlay.draw_labels`` (drivable area, the ego lane's own lines, boxes).
The map (``sim.roadgraph.topdown.draw_map``) marks where each frame was taken.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing it

import gymnasium as gym  # noqa: E402

import sim  # noqa: E402,F401  (registers the ids)
from sim.autopilot import Autopilot  # noqa: E402
from sim.label_overlay import draw_labels  # noqa: E402
from sim.roadgraph.topdown import draw_map  # noqa: E402

OUT = Path(__file__).parent / "img" / "townnav_map.png"
SCALE = 2  # the label overlay's magnification of the 320x160 camera image
STOP_SIGN_AHEAD_M = 10.0  # the stop-sign frame: this far before the line [m]


def capture(seed: int, route_m: float) -> tuple[object, list[tuple[str, np.ndarray, tuple[float, float]]]]:
    """Drive the route; return the world and (title, labelled tile, ego x/y) for each wanted moment."""
    env = gym.make("drivestack/TownNav-v0", config={"scenario": {"route_length_m": route_m}}).unwrapped
    obs, info = env.reset(seed=seed)
    world, pilot = env.world, Autopilot()
    wanted = {"left turn": None, "right turn": None, "stop sign ahead": None}
    maneuvers = world.route.maneuvers
    while True:
        e = info["ground_truth"].ego
        s = world.ego_s
        for m in maneuvers:
            name = f"{m.command} turn"
            if name in wanted and wanted[name] is None and abs(s - 0.5 * (m.start_m + m.end_m)) < 1.0:
                wanted[name] = _tile(obs, info, name, world)
        if wanted["stop sign ahead"] is None and abs(e.stop_sign_distance_m - STOP_SIGN_AHEAD_M) < 0.6:
            wanted["stop sign ahead"] = _tile(obs, info, "stop sign ahead", world)
        obs, _, terminated, truncated, info = env.step(pilot.act(info["ground_truth"], float(obs["state"][0])))
        if terminated or truncated or all(v is not None for v in wanted.values()):
            break
    return world, [v for v in wanted.values() if v is not None]


def _tile(obs, info, title: str, world):
    img = draw_labels(obs["image"], info["ground_truth"], scale=SCALE)
    both = np.hstack([cv2.resize(obs["image"], None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_AREA), img])
    return title, both, (world.ego.x_m, world.ego.y_m)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--route-length", type=float, default=1500.0)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args()
    world, tiles = capture(args.seed, args.route_length)
    if not tiles:
        raise SystemExit(f"seed {args.seed}: the drive passed no turn and no stop sign; try another --seed")
    px_per_m = 1.0
    town = draw_map(world.graph, px_per_m, world.route.path.xy)
    x0, _, _, y1 = world.graph.bounds()
    for k, (_, _, (x, y)) in enumerate(tiles):  # numbered markers where the frames were taken
        u, v = int((x - x0 + 20.0) * px_per_m), int((y1 + 20.0 - y) * px_per_m)
        cv2.circle(town, (u, v), 11, (255, 255, 255), -1, cv2.LINE_AA)
        cv2.putText(town, str(k + 1), (u - 5, v + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    column = []
    for k, (title, tile, _) in enumerate(tiles):
        tile = tile.copy()
        cv2.putText(tile, f"{k + 1}  {title}", (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)
        column += [tile, np.full((6, tile.shape[1], 3), 255, np.uint8)]
    right = np.vstack(column[:-1])
    h = max(town.shape[0], right.shape[0])
    pad = lambda a: np.vstack([a, np.full((h - a.shape[0], a.shape[1], 3), 255, np.uint8)])  # noqa: E731
    picture = np.hstack([pad(town), np.full((h, 8, 3), 255, np.uint8), pad(right)])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {args.out} ({picture.shape[1]}x{picture.shape[0]}, {len(tiles)} frames)")


if __name__ == "__main__":
    main()
