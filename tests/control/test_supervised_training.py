"""Training with the supervisor in the loop (control.supervised_training): it stops what it would stop when
driving, and every step it overrides costs the configured amount as the reward term ``intervention``."""

import numpy as np
import pytest

from common.errors import ConfigError
from control.envs import make_env
from control.supervised_training import SupervisedTraining
from control.train import PolicyTrainConfig


def _full_throttle(env, seed: int, steps: int = 600):
    obs, info = env.reset(seed=seed)
    overrides, cost, events = 0, 0.0, []
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(np.array([0.0, 1.0], np.float32))
        overrides += info.get("supervisor_override", False)
        cost += info["reward_terms"].get("intervention", 0.0)
        e = info["events"]
        events += [k for k in ("collision", "red_light") if e.get(k)]
        if terminated or truncated:
            break
    return overrides, cost, events


def test_the_supervisor_stops_a_full_throttle_agent_and_charges_each_override():
    # alone, full throttle runs the red light and hits the car ahead (measured: steps 213 and 217)
    _, _, alone = _full_throttle(make_env("town", 300.0, reward="driving"), 800000)
    assert "red_light" in alone and "collision" in alone
    overrides, cost, events = _full_throttle(SupervisedTraining(make_env("town", 300.0, reward="driving"), 0.05), 800000)
    assert events == [] and overrides > 20
    assert cost == pytest.approx(-0.05 * overrides)


def test_supervised_training_config():
    assert PolicyTrainConfig(supervised=True).intervention_cost == 0.05
    with pytest.raises(ConfigError, match="intervention_cost"):
        PolicyTrainConfig(supervised=True, intervention_cost=-1.0)
    with pytest.raises(ConfigError, match="supervised=true is for observation=features"):
        PolicyTrainConfig(supervised=True, observation="pixels")


def test_a_residual_run_trains_with_the_supervisor_between_its_command_and_the_world(tmp_path):
    """The training env of ``supervised=true, residual=true``: agent -> teacher + correction -> supervisor -> world,
    and a tiny run trains, validates (without the supervisor) and saves through it."""
    from control.residual import TeacherResidual
    from control.train import _env_fn, train_policy

    cfg = PolicyTrainConfig(out_dir=str(tmp_path / "run"), residual=True, warm_start_steps=0, supervised=True,
                            stages=("townnav",), stage_fractions=(1.0,), route_length_m=80.0, total_steps=256,
                            n_envs=1, n_steps=128, batch_size=64, n_epochs=1, eval_every_steps=10_000,
                            eval_seeds=(800000,), reward="driving")
    env = _env_fn(cfg, "townnav", 0)()
    assert isinstance(env, TeacherResidual) and isinstance(env.env, SupervisedTraining)
    env.reset(seed=3)
    *_, info = env.step(np.zeros(2, np.float32))
    assert "intervention" in info["reward_terms"]
    result = train_policy(cfg, progress=False)
    assert result["steps"] >= 256 and (tmp_path / "run" / "final.zip").is_file()
