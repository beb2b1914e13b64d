"""The random-correction control of a residual or knob policy (control.random_correction, `drivestack policy`)."""

import numpy as np
import torch

from control import random_correction
from control.envs import make_env
from control.policies import load_policy, save_policy
from control.residual import ResidualPolicy, TeacherResidual, residual_layout
from control.route_features import LAYOUT_V2_ID, OBS_SIZE_V2
from drivestack.cli import main


def _residual_file(path, scale=(0.1, 0.5)):
    from stable_baselines3 import PPO

    model = PPO("MlpPolicy", TeacherResidual(make_env("townnav", 200.0), scale=scale), seed=0, device="cpu", verbose=0)
    with torch.no_grad():  # a correction that is not zero: the trained policy stand-in
        model.policy.action_net.weight.copy_(0.05 * torch.randn(model.policy.action_net.weight.shape,
                                                                generator=torch.Generator().manual_seed(1)))
    save_policy(model, path, residual_layout(LAYOUT_V2_ID), residual_scale=scale)
    return model


def test_the_control_is_a_permuted_head_of_the_same_size(tmp_path):
    model = _residual_file(tmp_path / "r.zip")
    states = random_correction.visited_states(tmp_path / "r.zip", seeds=(12345,), route_length_m=200.0)
    assert states.ndim == 2 and states.shape[1] == OBS_SIZE_V2 + 2 and len(states) > 100
    before = model.policy.action_net.weight.detach().clone()
    size = random_correction.randomise_correction(model, states, seed=3)
    after = model.policy.action_net.weight.detach()
    np.testing.assert_allclose(size.control_mean_abs, size.learnt_mean_abs, rtol=0.05)  # the same size per command
    for i in range(2):  # each row: the same weights in another order, scaled by one positive factor
        k = after[i].abs().sum() / before[i].abs().sum()
        assert k > 0 and not torch.allclose(after[i], before[i])
        torch.testing.assert_close(torch.sort(after[i]).values, k * torch.sort(before[i]).values)
    assert max(abs(c) for c in size.correlation) < 0.9 and size.states == len(states)


def test_policy_random_correction_writes_a_loadable_control_and_refuses_what_it_cannot(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(random_correction, "STATE_SEEDS", (12345,))
    monkeypatch.setattr(random_correction, "STATE_ROUTE_M", 150.0)
    _residual_file(tmp_path / "r.zip")
    assert main(["policy", "random-correction", str(tmp_path / "r.zip"), "--out", str(tmp_path / "c.zip")]) == 0
    out = capsys.readouterr().out
    assert "steer: mean |correction| learnt" in out and "wrote" in out
    control = load_policy(tmp_path / "c.zip")
    assert isinstance(control, ResidualPolicy) and control.layout == LAYOUT_V2_ID
    np.testing.assert_allclose(control.scale, [0.1, 0.5])
    from stable_baselines3 import PPO

    plain = PPO("MlpPolicy", make_env("townnav", 200.0), seed=0, device="cpu", verbose=0)
    save_policy(plain, tmp_path / "plain.zip", LAYOUT_V2_ID)
    bad = [(["random-correction", str(tmp_path / "plain.zip"), "--out", str(tmp_path / "x.zip")], "is not a correction on the rule-based driver"),
           (["random-correction", str(tmp_path / "r.zip"), "--out", str(tmp_path / "x.pt")], "give a .zip path"),
           (["random-correction", str(tmp_path / "r.zip"), "--out", str(tmp_path / "r.zip")], "is the source itself"),
           (["random-correction", str(tmp_path / "none.zip"), "--out", str(tmp_path / "x.zip")], "not found"),
           (["shuffle", str(tmp_path / "r.zip"), "--out", str(tmp_path / "x.zip")], "choose random-correction")]
    for argv, message in bad:
        assert main(["policy", *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (argv, err)
    assert not (tmp_path / "x.zip").exists()


def test_a_knob_policy_gets_random_knobs_of_its_size(tmp_path, capsys, monkeypatch):
    from stable_baselines3 import PPO

    from control.knob_policy import KnobsPolicy, TeacherKnobs, knobs_layout

    monkeypatch.setattr(random_correction, "STATE_SEEDS", (12345,))
    monkeypatch.setattr(random_correction, "STATE_ROUTE_M", 150.0)
    model = PPO("MlpPolicy", TeacherKnobs(make_env("townnav", 200.0)), seed=0, device="cpu", verbose=0)
    with torch.no_grad():
        model.policy.action_net.weight.copy_(0.05 * torch.randn(model.policy.action_net.weight.shape,
                                                                generator=torch.Generator().manual_seed(1)))
    save_policy(model, tmp_path / "k.zip", knobs_layout(LAYOUT_V2_ID))
    assert main(["policy", "random-correction", str(tmp_path / "k.zip"), "--out", str(tmp_path / "c.zip")]) == 0
    out = capsys.readouterr().out
    assert "gap knob: mean |correction| learnt" in out and "speed knob" in out
    control = load_policy(tmp_path / "c.zip")
    assert isinstance(control, KnobsPolicy) and control.layout == LAYOUT_V2_ID
    assert not torch.equal(control.learned.model.policy.action_net.weight, model.policy.action_net.weight)


def test_the_states_are_driven_on_training_range_seeds():
    assert all(s < 800000 for s in random_correction.STATE_SEEDS)  # validation starts at 800000, test at 900000
