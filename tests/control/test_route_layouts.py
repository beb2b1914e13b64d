"""Policies that read the route (layout v2) in the straight worlds and the suite, which then say "follow the lane"."""

import numpy as np

from control.envs import make_env, make_suite_env
from control.evaluate import run_episode
from control.features import LAYOUT_ID
from control.policies import RuleBasedPolicy
from control.route_features import LAYOUT_V2_ID, OBS_SIZE_V2, decode_route


def test_the_rule_based_driver_drives_the_straight_town_alike_with_the_route_block():
    runs = {}
    for layout in (LAYOUT_ID, LAYOUT_V2_ID):
        env = make_env("town", 250.0, layout=layout)
        runs[layout], _ = run_episode(env, RuleBasedPolicy(), seed=900003)
    a, b = runs[LAYOUT_ID], runs[LAYOUT_V2_ID]
    assert a["end"] == b["end"] == "goal"
    # a follow-the-lane block changes nothing for a driver that follows its lane anyway
    assert abs(a["duration_s"] - b["duration_s"]) <= 0.5 and a["collisions"] == b["collisions"]


def test_a_straight_suite_case_gives_the_route_block_to_a_v2_reader():
    env = make_suite_env(layout=LAYOUT_V2_ID)
    obs, _ = env.reset(seed=1, options={"scenario": "CCRs", "params": {"ego_kmh": 30}})
    assert obs.shape == (OBS_SIZE_V2,)
    route = decode_route(obs)
    assert route.command == "follow_lane" and np.all(np.diff(route.waypoints_m[:, 0]) > 4.0)


def test_the_observation_says_when_the_car_has_stopped_at_the_stop_sign():
    """The rule-based driver stops at a stop sign: the full-stop flag rises there and stays until the next line."""
    from control.route_features import decode_route

    env = make_env("townnav_empty", 1000.0)
    policy = RuleBasedPolicy()
    for seed in range(900000, 900040):  # a route through a stop sign
        obs, info = env.reset(seed=seed)
        policy.reset()
        flags = []
        for _ in range(1500):
            r = decode_route(obs)
            flags.append((r.stop_sign_m, r.full_stop_made, float(info["ground_truth"].ego.speed_m_s)))
            obs, _, term, trunc, info = env.step(policy.act(obs))
            if term or trunc:
                break
        if any(f for _, f, _ in flags):
            break
    else:
        raise AssertionError("no stop sign on 40 routes")
    first = next(k for k, (_, f, _) in enumerate(flags) if f)
    line_m, _, speed = flags[first]
    assert speed < 0.1 and -0.5 <= line_m <= 2.5  # set by a full stop at the line
    assert not any(f for _, f, _ in flags[:first])
