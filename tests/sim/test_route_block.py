"""The straight worlds' follow-the-lane route block (sim.route_block), for policies that read the route."""

import gymnasium as gym
import numpy as np

import sim  # noqa: F401  (registers the ids)
from sim.route_block import WAYPOINTS


def _drive(kind: str, seed: int, route_block: bool, steps: int = 60, steer: float = 0.05):
    env = gym.make(f"drivestack/{kind}-v0", config={"render_camera": False,
                                                     "scenario": {"route_block": route_block, "route_length_m": 300.0}})
    env.reset(seed=seed)
    for _ in range(steps):
        _, _, term, trunc, info = env.step([steer, 0.4])
        if term or trunc:
            break
    return env.unwrapped.world, info["ground_truth"].ego


def test_off_by_default_the_labels_have_no_route_block():
    _, ego = _drive("Town", 4, False)
    assert ego.route_command is None and ego.route_waypoints_m == ()


def test_the_waypoints_lie_on_the_ego_lane_centre_ahead():
    for kind, seed in (("Town", 4), ("Town", 11), ("Highway", 2)):
        world, ego = _drive(kind, seed, True)
        assert ego.route_command == "follow_lane" and ego.route_command_distance_m == 0.0
        wp = np.asarray(ego.route_waypoints_m)
        spacing, count = WAYPOINTS
        assert wp.shape == (count, 2)
        e, main = world.ego, world.net.main
        c, s = np.cos(e.yaw_rad), np.sin(e.yaw_rad)
        x, y = e.x_m + wp[:, 0] * c - wp[:, 1] * s, e.y_m + wp[:, 0] * s + wp[:, 1] * c  # back to the world frame
        along, d = main.project(x, y, hint_s=world.ego_s)
        lane_d = world._lane_centres_d[world.frenet.lane]
        assert np.allclose(d, lane_d, atol=0.05), (kind, seed)
        assert np.allclose(np.diff(np.concatenate([[world.ego_s], along])), spacing, atol=0.1)
        # the car drifted off the centre and turned: the first point says so, as the lane offset and heading do
        he = ego.heading_error_rad
        assert abs(wp[0, 1] - (-ego.lane_offset_m * np.cos(he) - spacing * np.sin(he))) < 0.3
