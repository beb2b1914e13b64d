"""Decision-level RL (control.knobs, control.knob_policy): PPO sets the rule-based driver's gap and speed knobs, starts
as the driver (identity knobs), and the knobs move the driver's decisions."""

import json

import numpy as np
import pytest

from common.errors import ConfigError
from control.envs import make_env
from control.junction_gaps import gap_refused
from control.knob_policy import KnobsPolicy, TeacherKnobs, knobs_base_layout, knobs_layout
from control.knobs import IDENTITY, Knobs, knobs_from_action
from control.policies import RuleBasedPolicy, SB3Policy, load_policy, save_policy
from control.route_features import LAYOUT_V2_ID, OBS_SIZE_V2
from control.train import PolicyTrainConfig

from .on_teacher import assert_drives, zeroed_ppo
from .test_junction_gaps import _left, _oncoming, _users



def test_an_action_of_zeros_is_the_driver_itself_and_the_range_is_as_stated():
    assert knobs_from_action([0.0, 0.0]) == IDENTITY == Knobs(1.0, 1.0)
    assert knobs_from_action([-1.0, -1.0]) == Knobs(pytest.approx(0.5), 0.5)
    assert knobs_from_action([1.0, 1.0]) == Knobs(pytest.approx(2.0), 1.0)  # never faster than the driver's cruise
    assert knobs_from_action([5.0, -5.0]) == knobs_from_action([1.0, -1.0])  # clipped to the action space
    assert knobs_from_action([0.5, -0.5]).gap_scale == pytest.approx(2 ** 0.5)
    assert knobs_layout(LAYOUT_V2_ID) == LAYOUT_V2_ID + "+knobs"
    assert knobs_base_layout(knobs_layout(LAYOUT_V2_ID)) == LAYOUT_V2_ID and knobs_base_layout(LAYOUT_V2_ID) is None


@pytest.mark.parametrize("gap_s, refused_by_scale", [(7.0, {0.5: False, 1.0: True, 2.0: True}),
                                                     (9.0, {0.5: False, 1.0: False, 2.0: True})])
def test_the_gap_knob_moves_the_permitted_left_decision(gap_s, refused_by_scale):
    """An oncoming car 7 s from the conflict point: refused by the driver (it clears in ~4 s and demands a ~3.6-s
    margin at 36 km/h), taken at half the gaps; 9 s: taken, refused at twice them."""
    users = _users(*[[c] for c in _oncoming(gap_s)])
    for scale, refused in refused_by_scale.items():
        assert gap_refused(users, _left(), 0.0, gap_scale=scale) is refused, scale


def test_the_speed_knob_lowers_the_cruise_and_the_driver_reads_its_knobs_each_step():
    """On an empty road the driver cruises near 0.95 of the limit; at speed_scale 0.5 at half that (steps 100-160:
    settled, and before the slower car meets the light the faster one passed on green)."""
    def mean_speed(knobs):
        env, driver = make_env("empty", 200.0), RuleBasedPolicy()
        obs, info = env.reset(seed=800000)
        driver.reset()
        speeds = []
        for _ in range(160):
            driver.set_knobs(knobs)
            obs, _, term, trunc, info = env.step(driver.act(obs, info["perception"]))
            speeds.append(env.unwrapped.world.ego.speed_m_s)
            if term or trunc:
                break
        return float(np.mean(speeds[100:])), env.unwrapped.world.params.speed_limit_m_s

    full, limit = mean_speed(IDENTITY)
    half, _ = mean_speed(Knobs(1.0, 0.5))
    assert full == pytest.approx(0.95 * limit, rel=0.08)
    assert half == pytest.approx(0.5 * 0.95 * limit, rel=0.03)
    driver = RuleBasedPolicy()
    driver.set_knobs(Knobs(0.7, 0.8))
    assert driver.junctions.gap_scale == driver.overtake.gap_scale == 0.7
    driver.reset()  # a new episode starts as the driver itself
    assert driver.knobs == IDENTITY and driver.junctions.gap_scale == 1.0


def test_identity_knobs_drive_exactly_as_the_teacher_and_a_saved_policy_loads_as_knobs(tmp_path):
    """Same world, same seed: the wrapped env stepped with zeros and the driver alone take the same commands step
    for step; a saved, reloaded knob policy with a zeroed head drives the same episode."""
    from gymnasium.utils.env_checker import check_env

    env = TeacherKnobs(make_env("townnav", 200.0))
    check_env(env, skip_render_check=True, skip_close_check=True)
    assert env.observation_space.shape == (OBS_SIZE_V2,) and env.action_space.shape == (2,)
    obs, info = env.reset(seed=800001)
    executed = []
    for _ in range(150):
        obs, _, term, trunc, info = env.step(np.zeros(2, np.float32))
        executed.append(info["teacher_action"])
        assert info["knobs"] == (1.0, 1.0)
        if term or trunc:
            break
    assert_drives(RuleBasedPolicy(), executed)

    model = zeroed_ppo(env)
    save_policy(model, tmp_path / "k.zip", knobs_layout(LAYOUT_V2_ID))
    policy = load_policy(tmp_path / "k.zip")
    assert isinstance(policy, KnobsPolicy) and policy.layout == LAYOUT_V2_ID and "knobs" in policy.name
    assert_drives(policy, executed)
    assert policy.knobs == IDENTITY
    assert policy.act(np.full(OBS_SIZE_V2, np.nan, np.float32))[1] == -1.0  # a perception failure: the safe stop


def test_knob_configs_that_cannot_work_are_refused_in_one_line():
    with pytest.raises(ConfigError, match="set warm_start_steps=0"):
        PolicyTrainConfig(knobs=True)
    with pytest.raises(ConfigError, match="knobs=true is for PPO on features"):
        PolicyTrainConfig(knobs=True, warm_start_steps=0, algo="sac")
    with pytest.raises(ConfigError, match="pick one"):
        PolicyTrainConfig(knobs=True, residual=True, warm_start_steps=0)
    assert PolicyTrainConfig(knobs=True, warm_start_steps=0, correction_cost=0.01).on_teacher


def test_the_knobs_departure_costs_its_mean_square_as_a_reward_term():
    free = TeacherKnobs(make_env("townnav", 200.0, reward="driving"))
    priced = TeacherKnobs(make_env("townnav", 200.0, reward="driving"), knob_cost=0.5)
    free.reset(seed=800001)
    priced.reset(seed=800001)
    for k in range(40):
        action = np.array([0.0, 0.0] if k < 10 else [0.4, -0.2], np.float32)
        _, r_free, *_ = free.step(action)
        _, r_priced, *_, info = priced.step(action)
        expected = -0.5 * float(np.mean(np.square(action)))
        assert r_priced - r_free == pytest.approx(expected, abs=1e-6)
        assert info["reward_terms"]["knobs"] == pytest.approx(expected)


@pytest.mark.slow
def test_rl_moves_a_deliberately_slowed_start_back_to_speed():
    """The "learns the trivial task" check for knobs: on an empty road, a policy whose head starts at speed knob
    0.6 (a deliberately weakened start) learns from the progress reward to give the driver its cruise back (measured:
    speed knob 0.60 -> 0.75 over the first 100 steps of two validation worlds after 8,192 steps; white per-step noise
    moved it by 0.003: a cruise speed's effect shows over seconds, so the exploration is gSDE's, held 16 steps)."""
    import torch

    env = TeacherKnobs(make_env("empty", 120.0, training_seed=5))
    model = zeroed_ppo(env, n_steps=1024, batch_size=128, n_epochs=10, use_sde=True, sde_sample_freq=16,
                 policy_kwargs={"log_std_init": -1.5})
    with torch.no_grad():
        model.policy.action_net.bias[1] = -0.8  # speed x 0.6

    def speed_knob(m):
        policy = KnobsPolicy(SB3Policy(m, "ppo", layout=knobs_layout("drivestack-features-v1")), "drivestack-features-v1")
        test = make_env("empty", 120.0)
        knobs = []
        for seed in (800000, 800001):
            obs, info = test.reset(seed=seed)
            policy.reset()
            for _ in range(100):
                obs, _, term, trunc, info = test.step(policy.act(obs, info["perception"]))
                knobs.append(policy.knobs.speed_scale)
                if term or trunc:
                    break
        return float(np.mean(knobs))

    before = speed_knob(model)
    model.learn(8192)
    after = speed_knob(model)
    assert before == pytest.approx(0.6, abs=0.02) and after > before + 0.08, (before, after)


@pytest.mark.slow
def test_a_knob_run_trains_saves_and_drives_from_the_command_line(tmp_path, capsys):
    from drivestack.cli import main

    sets = {"knobs": "true", "warm_start_steps": 0, "total_steps": 256, "n_envs": 1, "n_steps": 128,
            "batch_size": 64, "n_epochs": 1, "route_length_m": 120.0, "eval_every_steps": 10_000,
            "checkpoint_every_steps": 128, "eval_seeds": "[800000]", "stages": "[townnav_empty,suite]",
            "stage_fractions": "[0.5,0.5]", "value_warmup_steps": 128, "suite_eval_cases": 2, "correction_cost": 0.01}
    out = tmp_path / "knobs"
    assert main(["train", "policy", "--out", str(out), "--quiet", *[f"--set={k}={v}" for k, v in sets.items()]]) == 0
    json.loads(capsys.readouterr().out)
    first = json.loads((out / "evaluations.jsonl").read_text().splitlines()[0])
    assert first["steps"] == 0  # the driver's own score, before RL
    policy = load_policy(out / "final.zip")
    assert isinstance(policy, KnobsPolicy) and policy.learned.model.observation_space.shape == (OBS_SIZE_V2,)
    assert main(["eval", "policy", "--scenario", "townnav", "--rows", "ppo/labels", "--policy", str(out / "final.zip"),
                 "--seeds", "900000", "--route-length", "150", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)
