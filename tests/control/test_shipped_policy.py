"""The shipped policy: it loads, matches the feature layout, and drives a fixed short route on labels."""

from control.envs import make_env
from control.evaluate import run_episode
from control.policies import DEFAULT_POLICY, load_policy
from control.supervisor import SafetySupervisor


def test_shipped_policy_drives_a_town_route_on_labels():
    policy = load_policy(DEFAULT_POLICY, device="cpu")
    assert policy.observation == "features"
    env = make_env("town", route_length_m=200.0, layout=policy.layout)  # a v2 policy: its follow-the-lane route block
    for seed in (900000, 900001):
        m, _ = run_episode(env, policy, seed)  # no supervisor: the policy alone
        assert m["end"] == "goal", (seed, m)
        assert sum(m["collisions"].values()) == 0 and m["off_road"] == 0 and m["red_lights_run"] == 0
        assert m["mean_speed_kmh"] > 15.0


def test_shipped_policy_with_the_supervisor_on_highway_labels():
    policy = load_policy(DEFAULT_POLICY, device="cpu")
    env = make_env("highway", route_length_m=300.0, layout=policy.layout)
    m, _ = run_episode(env, SafetySupervisor(policy), 900002)
    assert m["route_completion"] > 0.95 and sum(m["collisions"].values()) == 0
