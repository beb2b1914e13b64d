"""Stop-line distance of the ego's traffic light from its labelled box, against the simulator's truth.

Drives Town episodes with the autopilot and, every other step with a light ahead, estimates the
distance from the front bumper to the stop line from the labelled box of the ego's own light head
(``perception.lights``; labelled boxes, so detector quality does not enter), with the typical
lane width and with the episode's true one (the stack uses its measured lane width when it has
one). Prints a markdown table of errors by true distance.

Usage: python docs/light_distance_eval.py [--seeds 1-10] [--steps 900]
"""

import argparse

import gymnasium as gym
import numpy as np

import sim  # noqa: F401
from perception.lights import stop_line_distance_m
from perception.pipeline import CameraSetup
from sim.autopilot import Autopilot

BINS_M = ((-15, 0), (0, 10), (10, 20), (20, 30), (30, 40), (40, 60), (60, 100))


def collect(seed: int, steps: int) -> list[tuple[float, float, float, float]]:
    """(true [m], estimate with the typical lane width [m], estimate with the true one [m], visible fraction)."""
    env = gym.make("drivestack/Town-v0")
    obs, info = env.reset(seed=seed)
    pilot, setup, rows = Autopilot(), CameraSetup(), []
    for t in range(steps):
        gt = info["ground_truth"]
        if gt.ego.light_state != "none" and t % 2 == 0:
            world = env.unwrapped.world
            inst = world.ids.light0 + world.relevant_light()[2]
            h, w = obs["image"].shape[:2]
            cam = setup.model(w, h)
            for o in gt.objects:
                if o.instance_id == inst and o.box_xyxy is not None:
                    box = np.array(o.box_xyxy, float)
                    rows.append((gt.ego.light_stop_distance_m, stop_line_distance_m(cam, box, setup.front_ahead_m),
                                 stop_line_distance_m(cam, box, setup.front_ahead_m, gt.ego.lane_width_m),
                                 o.visible_fraction))
        obs, _, term, trunc, info = env.step(pilot.act(gt, float(obs["state"][0])))
        if term or trunc:
            break
    env.close()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="1-10", help="first-last seed (inclusive)")
    ap.add_argument("--steps", type=int, default=900, help="steps per episode (0.05 s each)")
    args = ap.parse_args()
    first, last = (int(v) for v in args.seeds.split("-"))
    rows = np.array([r for s in range(first, last + 1) for r in collect(s, args.steps)], float).reshape(-1, 4)
    true, typical, measured = rows[:, 0], rows[:, 1], rows[:, 2]
    print(f"{len(rows)} frames, seeds {args.seeds}, {args.steps} steps each\n")
    print("| true distance to the stop line | frames | median abs error, typical width | median rel. error | "
          "median abs error, lane width known | median rel. error | 90th pct abs error (typical) |")
    print("|---|---|---|---|---|---|---|")
    for lo, hi in BINS_M:
        m = (true >= lo) & (true < hi) & np.isfinite(typical)
        if not m.any():
            continue
        e1, e2 = np.abs(typical[m] - true[m]), np.abs(measured[m] - true[m])
        d = np.maximum(np.abs(true[m]), 1.0)  # relative to the distance (at least 1 m: the line itself is near 0)
        print(f"| {lo} to {hi} m | {m.sum()} | {np.median(e1):.2f} m | {np.median(e1 / d):.1%} | {np.median(e2):.2f} m | "
              f"{np.median(e2 / d):.1%} | {np.percentile(e1, 90):.2f} m |")


if __name__ == "__main__":
    main()
