"""The training reward as the driving score counts (control.reward)."""

import pytest

from common.errors import ConfigError
from control.envs import make_env
from control.policies import RuleBasedPolicy
from control.reward import DrivingRewardConfig, infraction_cost
from control.train import PolicyTrainConfig


def test_infractions_cost_what_carla_s_factors_take_from_the_score():
    assert infraction_cost({"collision": "pedestrian"}) == pytest.approx(0.5)
    assert infraction_cost({"collision": "vehicle"}) == pytest.approx(0.4)
    assert infraction_cost({"red_light": True, "stop_sign": True}) == pytest.approx(0.3 + 0.2)
    assert infraction_cost({"off_route": True}) == pytest.approx(0.35)
    assert infraction_cost({"progress_m": 3.0, "solid_line": False}) == 0.0


def test_a_route_driven_earns_its_progress_in_named_terms():
    env = make_env("townnav_empty", 150.0, reward="driving")
    policy = RuleBasedPolicy()
    obs, info = env.reset(seed=800001)
    policy.reset()
    sums, total = {}, 0.0
    while True:
        obs, r, term, trunc, info = env.step(policy.act(obs))
        terms = info["reward_terms"]
        assert r == pytest.approx(sum(terms.values()))
        assert set(info["sim_reward_terms"]) >= {"progress", "goal"}  # the simulator's, kept beside
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + v
        total += r
        if term or trunc:
            break
    assert info["events"]["goal"]
    assert sums["progress"] == pytest.approx(DrivingRewardConfig().route_reward * info["route_completion"], rel=0.05)
    assert sums["infraction"] == 0.0 and sums["time"] < 0 and sums["comfort"] <= 0


def test_unknown_rewards_are_refused():
    with pytest.raises(ValueError, match="reward 'fun' is not one of"):
        make_env("town", 100.0, reward="fun")
    with pytest.raises(ConfigError, match="reward='fun' is not allowed"):
        PolicyTrainConfig(reward="fun")
