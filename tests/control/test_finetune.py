"""The regularisers that keep PPO near its warm start, and the reward-term log (control.finetune)."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.envs import IdentityEnvBox
from stable_baselines3.common.logger import configure

from control import finetune


class _Terms(gym.Wrapper):
    """IdentityEnvBox with its reward split into two named terms, as the driving env reports them."""

    def step(self, action):
        obs, r, term, trunc, info = self.env.step(action)
        info["reward_terms"] = {"match": float(r), "time": -0.25}
        return obs, r - 0.25, term, trunc, info


def _model(n_steps=64, **kw):
    model = PPO("MlpPolicy", _Terms(IdentityEnvBox(ep_length=20)), n_steps=n_steps, batch_size=32, n_epochs=2,
                seed=0, device="cpu", policy_kwargs={"net_arch": [16]}, **kw)
    model.set_logger(configure(None, []))
    return model


def _actor(model):
    return {k: v.clone() for k, v in model.policy.state_dict().items() if "value" not in k}


def test_decay_depends_on_the_step_count_alone():
    assert finetune.decayed(1.0, 0.5, 0, 100) == 1.0
    assert finetune.decayed(1.0, 0.5, 250, 100) == 0.25  # two updates done
    assert finetune.decayed(2.0, 1.0, 10**6, 100) == 2.0


def test_value_warmup_freezes_the_actor_and_trains_the_critic():
    model = _model()
    actor, value = _actor(model), model.policy.value_net.weight.clone()
    model.learn(128, callback=finetune.ValueWarmup(steps=10_000))
    after = _actor(model)
    assert all(torch.equal(actor[k], after[k]) for k in actor)
    assert not torch.equal(value, model.policy.value_net.weight)
    assert all(p.requires_grad for p in model.policy.parameters())  # thawed when training ends
    model.learn(128, callback=finetune.ValueWarmup(steps=0), reset_num_timesteps=False)
    assert not all(torch.equal(actor[k], v) for k, v in _actor(model).items())


def test_kl_penalty_lowers_each_reward_by_the_exact_gaussian_kl():
    model = _model()
    cb = finetune.KLToWarmStart(model.policy, coef=0.5, decay=1.0, steps_per_update=64)
    shift = 0.3
    with torch.no_grad():
        model.policy.action_net.bias += shift  # the policy moved by `shift` from its reference everywhere
    sigma2 = float(torch.exp(model.policy.log_std.detach()) ** 2)  # the rollout's std (the update moves it)
    seen = {}

    class Spy(finetune.BaseCallback):
        def _on_step(self):
            return True

        def _on_rollout_end(self):
            seen["rewards"] = self.locals["rollout_buffer"].rewards.copy()

    model.learn(64, callback=[Spy(), cb])  # Spy sees the env's rewards, then the penalty is applied
    kl = 1 * shift ** 2 / (2 * sigma2)  # one action dimension
    penalised = model.rollout_buffer.rewards
    assert np.allclose(seen["rewards"] - penalised, 0.5 * kl, rtol=1e-4)


def test_clone_steps_pull_the_actor_toward_the_expert():
    obs = np.random.default_rng(0).uniform(-1, 1, (512, 1)).astype(np.float32)
    data = {"obs": obs, "actions": np.full((512, 1), 0.8, np.float32)}  # an "expert" that always says 0.8

    def mean_action(model):
        with torch.no_grad():
            return float(model.policy.get_distribution(torch.as_tensor(obs)).distribution.mean.mean())

    plain, cloned = _model(learning_rate=1e-4), _model(learning_rate=1e-4)
    plain.learn(256)
    cloned.learn(256, callback=finetune.CloneSteps(data, coef=1.0, decay=1.0, steps=50, steps_per_update=64, lr=1e-2))
    assert abs(mean_action(cloned) - 0.8) < 0.1 < abs(mean_action(plain) - 0.8)


def test_reward_terms_are_logged_with_their_shares(tmp_path):
    model = _model()
    model.set_logger(configure(str(tmp_path), ["csv"]))
    model.learn(128, callback=finetune.RewardTerms())
    import csv

    rows = list(csv.DictReader(open(tmp_path / "progress.csv")))
    last = rows[-1]
    assert float(last["reward/time"]) == pytest.approx(-0.25)
    shares = float(last["reward_share/match"]) + float(last["reward_share/time"])
    assert shares == pytest.approx(1.0)
