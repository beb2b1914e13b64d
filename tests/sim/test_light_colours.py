"""The lit lamp is drawn in its state's colour (red on top for red, green at the bottom for green)."""

import gymnasium as gym
import numpy as np

import sim  # noqa: F401
from sim.autopilot import Autopilot


def test_lit_lamp_colour_matches_the_label():
    env = gym.make("drivestack/Town-v0", config={"scenario": {"route_length_m": 400}})
    obs, info = env.reset(seed=10000)
    pilot = Autopilot()
    seen = {}
    for _ in range(1500):
        gt = info["ground_truth"]
        for o in gt.objects:
            if o.light_state in ("red", "green") and o.box_xyxy is not None and o.distance_m < 40:
                x0, y0, x1, y1 = o.box_xyxy
                patch = obs["image"][y0:y1, x0:x1].reshape(-1, 3).astype(int)
                lamp = patch[patch.max(axis=1) > 100]
                lamp = lamp[np.abs(lamp[:, 0] - lamp[:, 1]) > 60]  # saturated red or green, not sky or housing
                if len(lamp):
                    red_dominant = float(np.mean(lamp[:, 0] > lamp[:, 1]))
                    seen.setdefault(o.light_state, []).append(red_dominant)
        if len(seen.get("red", [])) >= 3 and len(seen.get("green", [])) >= 3:
            break
        obs, _, term, trunc, info = env.step(pilot.act(gt, float(obs["state"][0])))
        if term or trunc:
            break
    assert len(seen.get("red", [])) >= 3 and len(seen.get("green", [])) >= 3, seen
    assert np.mean(seen["red"]) > 0.9 and np.mean(seen["green"]) < 0.1
