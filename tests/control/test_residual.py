"""Residual RL (control.residual): a correction on the rule-based driver that starts as the driver and that RL moves."""

import json

import numpy as np
import pytest

from common.errors import ConfigError
from control.envs import make_env
from control.policies import PolicyError, RuleBasedPolicy, SB3Policy, load_policy, save_policy
from control.residual import ResidualPolicy, TeacherResidual, base_layout, compose, residual_layout, zero_correction
from control.route_features import LAYOUT_V2_ID, OBS_SIZE_V2
from control.train import PolicyTrainConfig

from .on_teacher import assert_drives, zeroed_ppo



def test_compose_adds_the_scaled_correction_within_the_actuators_range():
    teacher = np.array([0.2, 0.9], np.float32)
    np.testing.assert_allclose(compose(teacher, [0.0, 0.0], 0.5), teacher)
    np.testing.assert_allclose(compose(teacher, [-0.4, 0.6], 0.5), [0.0, 1.0])  # 0.9 + 0.3 clipped to full throttle
    np.testing.assert_allclose(compose(teacher, [5.0, -5.0], 0.5), [0.7, 0.4])  # the correction itself is within [-1, 1]
    np.testing.assert_allclose(compose(teacher, [-0.4, -0.6], (0.1, 0.5)), [0.16, 0.6])  # a scale per command
    assert residual_layout(LAYOUT_V2_ID) == LAYOUT_V2_ID + "+teacher"
    assert base_layout(residual_layout(LAYOUT_V2_ID)) == LAYOUT_V2_ID and base_layout(LAYOUT_V2_ID) is None


def test_a_zero_correction_drives_exactly_as_the_teacher(tmp_path):
    """Same world, same seed: the wrapped env stepped with a zero correction and the rule-based driver alone take
    the same commands step for step, and a saved, reloaded zero-correction policy drives the same episode."""
    env = TeacherResidual(make_env("townnav", 200.0), scale=0.5)
    assert env.observation_space.shape == (OBS_SIZE_V2 + 2,)
    obs, info = env.reset(seed=800001)
    executed = []
    for _ in range(150):
        obs, _, term, trunc, info = env.step(np.zeros(2, np.float32))
        executed.append(info["executed_action"])
        np.testing.assert_array_equal(info["executed_action"], info["teacher_action"])
        if term or trunc:
            break
    assert_drives(RuleBasedPolicy(), executed)

    model = zeroed_ppo(env)
    save_policy(model, tmp_path / "r.zip", residual_layout(LAYOUT_V2_ID), residual_scale=0.5)
    policy = load_policy(tmp_path / "r.zip")
    assert isinstance(policy, ResidualPolicy) and policy.layout == LAYOUT_V2_ID
    np.testing.assert_array_equal(policy.scale, [0.5, 0.5])
    assert_drives(policy, executed)
    assert policy.act(np.full(OBS_SIZE_V2, np.nan, np.float32))[1] == -1.0  # a perception failure: the safe stop
    save_policy(model, tmp_path / "pair.zip", residual_layout(LAYOUT_V2_ID), residual_scale=(0.1, 0.5))
    np.testing.assert_allclose(load_policy(tmp_path / "pair.zip").scale, [0.1, 0.5])  # steer, accel: as trained
    del model.drivestack_residual_scale  # a correction file without its scale is refused, not driven at scale 0
    save_policy(model, tmp_path / "noscale.zip", residual_layout(LAYOUT_V2_ID))
    with pytest.raises(PolicyError, match="records no correction scale"):
        load_policy(tmp_path / "noscale.zip")


def test_residual_configs_that_cannot_work_are_refused_in_one_line():
    with pytest.raises(ConfigError, match="set warm_start_steps=0"):
        PolicyTrainConfig(residual=True)
    with pytest.raises(ConfigError, match="residual=true is for PPO on features"):
        PolicyTrainConfig(residual=True, warm_start_steps=0, algo="sac")
    with pytest.raises(ConfigError, match="residual_scale"):
        PolicyTrainConfig(residual=True, warm_start_steps=0, residual_scale=0.0)
    with pytest.raises(ConfigError, match="residual_scale"):
        PolicyTrainConfig(residual=True, warm_start_steps=0, residual_scale=(0.0, 0.5))
    assert PolicyTrainConfig(residual=True, warm_start_steps=0, residual_scale=(0.1, 0.5)).residual_scale == (0.1, 0.5)
    with pytest.raises(ConfigError, match="it needs residual=true"):
        PolicyTrainConfig(correction_cost=1.0)
    with pytest.raises(ConfigError, match="correction_cost"):
        PolicyTrainConfig(residual=True, warm_start_steps=0, correction_cost=-1.0)


def test_the_correction_costs_its_mean_square_as_a_reward_term():
    """The same world and commands with and without the cost: the rewards differ by exactly cost x the mean square
    of the executed correction, reported as the term ``correction``; a zero correction costs nothing."""
    free = TeacherResidual(make_env("townnav", 200.0, reward="driving"), scale=0.5)
    priced = TeacherResidual(make_env("townnav", 200.0, reward="driving"), scale=0.5, correction_cost=2.0)
    free.reset(seed=800001)
    priced.reset(seed=800001)
    for k in range(40):
        correction = np.array([0.0, 0.0] if k < 10 else [0.2, -0.4], np.float32)
        _, r_free, *_ = free.step(correction)
        _, r_priced, *_, info = priced.step(correction)
        expected = -2.0 * float(np.mean(np.square(0.5 * correction)))
        assert r_priced - r_free == pytest.approx(expected, abs=1e-6)
        assert info["reward_terms"]["correction"] == pytest.approx(expected)


class Coasting(RuleBasedPolicy):
    """A deliberately weakened teacher: it brakes and steers as the rule-based driver but never presses the
    accelerator, so the car coasts down from its start speed."""

    def _act(self, obs):
        a = super()._act(obs)
        a[1] = min(a[1], 0.0)
        return a


@pytest.mark.slow
def test_rl_improves_a_deliberately_weakened_teacher():
    """The "learns the trivial task" check: on an empty road a short PPO run on the correction (the simulator's
    reward pays progress) learns the throttle its coasting teacher never gives (measured: 20.0 -> 24.7 km/h mean
    over the first 200 steps of two validation worlds, 8,192 steps)."""
    env = TeacherResidual(make_env("empty", 120.0, training_seed=5), scale=0.5, teacher=Coasting())
    model = zeroed_ppo(env, n_steps=1024, batch_size=128, n_epochs=10, policy_kwargs={"log_std_init": -0.5})

    def speed_kmh(m):
        policy = ResidualPolicy(SB3Policy(m, "ppo", layout=residual_layout("drivestack-features-v1")),
                                "drivestack-features-v1", 0.5, teacher=Coasting())
        test = make_env("empty", 120.0)
        speeds = []
        for seed in (800000, 800001):
            obs, info = test.reset(seed=seed)
            policy.reset()
            for _ in range(200):
                obs, _, term, trunc, info = test.step(policy.act(obs, info["perception"]))
                speeds.append(test.unwrapped.world.ego.speed_m_s * 3.6)
                if term or trunc:
                    break
        return float(np.mean(speeds))

    before = speed_kmh(model)
    model.learn(8192)
    after = speed_kmh(model)
    assert after > before + 2.5, (before, after)


@pytest.mark.slow
def test_a_residual_run_trains_saves_and_drives_from_the_command_line(tmp_path, capsys):
    """Through the navigation town and the suite curriculum (control.curriculum), then every loop drives it."""
    from drivestack.cli import main

    sets = {"residual": "true", "warm_start_steps": 0, "total_steps": 256, "n_envs": 1, "n_steps": 128,
            "batch_size": 64, "n_epochs": 1, "route_length_m": 120.0, "eval_every_steps": 10_000,
            "checkpoint_every_steps": 128, "eval_seeds": "[800000]", "stages": "[townnav_empty,suite]",
            "stage_fractions": "[0.5,0.5]", "value_warmup_steps": 128, "suite_eval_cases": 2}
    out = tmp_path / "res"
    assert main(["train", "policy", "--out", str(out), "--quiet", *[f"--set={k}={v}" for k, v in sets.items()]]) == 0
    result = json.loads(capsys.readouterr().out)
    # the first evaluation (before RL) is the teacher's own score: the run starts as the rule-based driver
    first, last = (json.loads(line) for line in (out / "evaluations.jsonl").read_text().splitlines())
    assert first["steps"] == 0 and last["steps"] >= 256
    # best.zip is picked on the town and the held-out suite cases together (control.suite_validation)
    assert result["best_validation"]["selection_score"] == max(first["selection_score"], last["selection_score"])
    assert first["selection_score"] == pytest.approx((first["driving_score"] + first["suite_pass_rate"]) / 2, abs=1e-6)
    policy = load_policy(out / "final.zip")
    assert isinstance(policy, ResidualPolicy) and policy.learned.model.observation_space.shape == (OBS_SIZE_V2 + 2,)
    assert main(["eval", "policy", "--scenario", "townnav", "--rows", "ppo/labels", "--policy", str(out / "final.zip"),
                 "--seeds", "900000", "--route-length", "150", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)
    assert main(["eval", "suite", "--rows", "ppo/labels", "--policy", str(out / "final.zip"),
                 "--scenarios", "CPNA-25,UnprotectedLeft", "--sweep", "defaults", "--json"]) == 0
    assert {c["scenario"] for c in json.loads(capsys.readouterr().out)["cases"]} == {"CPNA-25", "UnprotectedLeft"}


def test_gsde_exploration_is_smooth_and_of_the_stated_size(tmp_path):
    """``use_sde``: the correction's exploration noise is a function of the state held for ``sde_sample_freq``
    steps (so from one 50-ms step to the next it barely changes, where per-step Gaussian noise jumps), its std
    is about exp(log_std_init) x the latent's norm, and the deterministic correction of a zeroed head is 0."""
    import torch

    from control.train import _new_model

    env = TeacherResidual(make_env("townnav", 200.0, training_seed=3), scale=0.5)
    cfg = PolicyTrainConfig(residual=True, warm_start_steps=0, use_sde=True, sde_sample_freq=8, log_std_init=-3.6)
    model = _new_model(cfg, env, tmp_path)
    zero_correction(model)
    obs, _ = env.reset(seed=800002)
    states = []
    for _ in range(40):
        states.append(obs)
        obs, *_ = env.step(np.zeros(2, np.float32))
    x = torch.as_tensor(np.array(states))
    policy = model.policy
    policy.reset_noise(1)
    with torch.no_grad():
        sampled = policy.get_distribution(x).sample().numpy()  # one noise draw for all 40 states
        mean = policy.get_distribution(x).mode().numpy()
    np.testing.assert_allclose(mean, 0.0, atol=1e-6)
    step_change = np.abs(np.diff(sampled, axis=0)).mean()
    assert 0.08 < np.abs(sampled).mean() < 0.5  # exp(-3.6) x a latent norm of ~7: ~0.2
    assert step_change < 0.5 * np.abs(sampled).mean(), (step_change, np.abs(sampled).mean())
    with pytest.raises(ConfigError, match="use_sde=true needs the rollouts in the learner"):
        PolicyTrainConfig(use_sde=True, envs_on="ray", rollouts_in="actors")
