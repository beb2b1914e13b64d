"""Helpers for the tests of policies that act through the rule-based driver (residual, knobs)."""

import numpy as np

from control.envs import make_env
from control.residual import zero_correction


def zeroed_ppo(env, seed=0, **kw):
    """A PPO model on ``env`` whose action head is zeroed: it starts as its teacher."""
    from stable_baselines3 import PPO

    model = PPO("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **kw)
    zero_correction(model)
    return model


def assert_drives(policy, commands, seed: int = 800001, route_m: float = 200.0) -> None:
    """``policy`` (``act(obs, frame)``), driving navigation-town route ``seed`` afresh, takes ``commands`` step for step."""
    env = make_env("townnav", route_m)
    obs, info = env.reset(seed=seed)
    if hasattr(policy, "reset"):
        policy.reset()
    for expected in commands:
        a = policy.act(obs, info["perception"])
        np.testing.assert_array_equal(a, expected)
        obs, *_, info = env.step(a)
