"""``RayVecEnv``: training envs in Ray actors keep SB3's ``VecEnv`` contract, survive a lost actor, and PPO
learns through them; ``drivestack train policy --ray`` end to end. Needs the cluster extra (skips without it)."""

from __future__ import annotations

import importlib.util
import json
import sys
import time

import numpy as np
import pytest
import yaml

from drivestack.cli import main
from drivestack.cluster import EXTRA

pytestmark = pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason=f"the cluster extra is not installed ({EXTRA})")


@pytest.fixture(scope="module")
def ray_here():
    from drivestack.cluster import RaySpec, ray_session

    with ray_session(RaySpec(cpus=2)) as ray:
        yield ray


def identity_env(ep_length: int = 5):
    from stable_baselines3.common.envs import IdentityEnv

    return IdentityEnv(dim=4, ep_length=ep_length)


def test_the_vec_env_contract(ray_here):
    from control.ray_envs import RayVecEnv

    venv = RayVecEnv([lambda: identity_env(5), lambda: identity_env(5), lambda: identity_env(3)], envs_per_actor=2)
    try:
        assert venv.num_envs == 3 and len(venv._actors) == 2
        obs = venv.reset()
        assert obs.shape == (3,)
        for t in range(1, 6):
            obs, rewards, dones, infos = venv.step(np.array(obs))  # the identity: the right answer every step
            assert rewards.tolist() == [1.0, 1.0, 1.0]
            assert dones.tolist() == [t == 5, t == 5, t == 3]
        assert "terminal_observation" in infos[0] and "terminal_observation" not in infos[2]
        assert venv.get_attr("ep_length", [2, 0]) == [3, 5]  # in the order asked, across actors
        venv.set_attr("ep_length", 7, [1])
        assert venv.get_attr("ep_length") == [5, 7, 3]
        assert venv.env_is_wrapped(type(identity_env())) == [False, False, False]
    finally:
        venv.close()


def test_a_lost_actor_comes_back_as_a_truncated_episode(ray_here):
    from control.ray_envs import RayVecEnv

    venv = RayVecEnv([lambda: identity_env(50), lambda: identity_env(50)])
    try:
        venv.reset()
        venv.step(np.zeros(2, int))
        actor, pid = venv._actors[0], lambda self: __import__("os").getpid()
        before = ray_here.get(actor.__ray_call__.remote(pid))
        ray_here.kill(actor, no_restart=False)  # as a lost node: Ray restarts the actor, envs rebuilt
        while ray_here.get(actor.__ray_call__.remote(pid)) == before:  # the kill lands asynchronously
            time.sleep(0.1)
        obs, rewards, dones, infos = venv.step(np.zeros(2, int))
        assert dones.tolist() == [True, False]
        assert infos[0]["TimeLimit.truncated"] and infos[0]["actor_restarted"]
        obs, rewards, dones, infos = venv.step(np.array(obs))
        assert rewards.tolist() == [1.0, 1.0] and not dones.any()  # both drive on
    finally:
        venv.close()


@pytest.mark.slow  # 3,000 PPO steps through Ray actors: about 20 s on 2 idle cores
def test_ppo_learns_the_identity_through_ray_actors(ray_here):
    from stable_baselines3 import PPO
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.monitor import Monitor

    from control.ray_envs import RayVecEnv

    venv = RayVecEnv([lambda: identity_env(20), lambda: identity_env(20)])
    try:
        model = PPO("MlpPolicy", venv, n_steps=128, batch_size=64, seed=0, device="cpu")
        before, _ = evaluate_policy(model, Monitor(identity_env(20)), n_eval_episodes=10)
        model.learn(3000)
        after, _ = evaluate_policy(model, Monitor(identity_env(20)), n_eval_episodes=10)
    finally:
        venv.close()
    assert before < 12 and after >= 19  # 20 = every step right; chance is 5


def box_identity(ep_length: int = 5, eps: float = 0.5):
    from stable_baselines3.common.envs import IdentityEnvBox

    return IdentityEnvBox(eps=eps, ep_length=ep_length)  # reward 1 when the action is within eps of the observation


def test_rollouts_in_actors_fill_the_buffer_the_learner_reads(ray_here):
    """One rollout collected in 2 actors (3 envs): the callbacks see every step in order, the buffer holds
    what the learner's own policy gives for its observations and actions, episodes start where the
    5-step episodes end, and only the truncated steps carry a bootstrapped value."""
    import torch
    from stable_baselines3.common.callbacks import BaseCallback

    from control.ray_envs import RayVecEnv
    from control.ray_rollouts import ActorRolloutPPO, RolloutHost

    seen = []

    class Seen(BaseCallback):
        def _on_step(self) -> bool:
            seen.append((self.num_timesteps, len(self.locals["infos"]), self.locals["dones"].tolist()))
            return True

    venv = RayVecEnv([box_identity] * 3, envs_per_actor=2, host_class=RolloutHost)
    try:
        model = ActorRolloutPPO("MlpPolicy", venv, n_steps=8, batch_size=8, seed=0, device="cpu")
        _, callback = model._setup_learn(24, Seen())
        callback.on_training_start(locals(), globals())
        assert model.collect_rollouts(venv, callback, model.rollout_buffer, 8)
    finally:
        venv.close()
    buf = model.rollout_buffer
    assert [(t, n) for t, n, _ in seen] == [(3 * (k + 1), 3) for k in range(8)]
    assert [d for _, _, d in seen] == [[k == 4] * 3 for k in range(8)]  # every env's episode ends at its 5th step
    assert buf.episode_starts[:, 0].tolist() == [1, 0, 0, 0, 0, 1, 0, 0] and (buf.episode_starts[:, 1:].T == buf.episode_starts[:, 0]).all()
    with torch.no_grad():
        values, log_probs, _ = model.policy.evaluate_actions(torch.as_tensor(buf.observations.reshape(24, 1)),
                                                             torch.as_tensor(buf.actions.reshape(24, 1)))
    np.testing.assert_allclose(values.numpy().ravel(), buf.values.ravel(), atol=1e-5)
    np.testing.assert_allclose(log_probs.numpy(), buf.log_probs.ravel(), atol=1e-5)
    hit = (np.abs(np.clip(buf.actions, -1, 1) - buf.observations) <= 0.5).squeeze(-1).astype(np.float32)
    steady = np.arange(8) != 4
    np.testing.assert_array_equal(buf.rewards[steady], hit[steady])  # the identity's reward, as the env gave it
    assert not np.isin(buf.rewards[4], [0.0, 1.0]).any()  # the time limit bootstrapped with gamma * V(last obs)
    assert np.isfinite(buf.advantages).all() and buf.advantages.any()


@pytest.mark.slow  # 3,000 PPO steps, rollouts inside 2 actors: about 20 s on 2 busy cores
def test_ppo_learns_with_rollouts_in_actors(ray_here):
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.monitor import Monitor

    from control.ray_envs import RayVecEnv
    from control.ray_rollouts import ActorRolloutPPO, RolloutHost

    venv = RayVecEnv([lambda: box_identity(20)] * 2, host_class=RolloutHost)
    try:
        model = ActorRolloutPPO("MlpPolicy", venv, n_steps=128, batch_size=64, seed=0, device="cpu")
        before, _ = evaluate_policy(model, Monitor(box_identity(20)), n_eval_episodes=10)
        model.learn(3000)
        after, _ = evaluate_policy(model, Monitor(box_identity(20)), n_eval_episodes=10)
    finally:
        venv.close()
    assert before < 14 and after >= 17  # 20 = every step within 0.5; chance is about 10


@pytest.mark.slow  # the trainer's envs built in a subprocess and two actors: about 30 s on 2 busy cores
def test_rollout_bench_measures_both_transports(ray_here, monkeypatch):
    from drivestack import bench_rollouts

    monkeypatch.setattr(bench_rollouts, "STEPS", 5)
    monkeypatch.setattr(bench_rollouts, "WARM_STEPS", 2)
    monkeypatch.setattr(bench_rollouts, "BATCHED", 2)
    figures = bench_rollouts.bench_rollouts([1], seed=0)
    assert list(figures) == ["1 x 1", "1 x 2"]
    assert all(f[path] > 0 and len(f["rounds"][path]) == bench_rollouts.ROUNDS
               for f in figures.values() for path in bench_rollouts.PATHS)


@pytest.mark.slow  # a tiny training run with its own local Ray instance: about 40 s on 2 busy cores, each
@pytest.mark.parametrize("rollouts_in", ["learner", "actors"])
def test_train_policy_with_ray_envs_runs_and_records_it(tmp_path, ray_here, rollouts_in):
    ray_here.shutdown()  # the command starts its own instance (one per process at a time)
    out = tmp_path / "run"
    argv = ["train", "policy", "--out", str(out), "--quiet", "--ray", "--ray-cpus", "2",
            *[f"--set={k}={v}" for k, v in dict(total_steps=256, n_envs=2, n_steps=64, batch_size=64, n_epochs=1,
                                                route_length_m=60.0, warm_start_steps=0, eval_every_steps=10**9,
                                                checkpoint_every_steps=10**9, eval_seeds="[1]", rollouts_in=rollouts_in,
                                                stages="[empty]", stage_fractions="[1.0]").items()]]
    assert main(argv) == 0
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert (config["envs_on"], config["rollouts_in"]) == ("ray", rollouts_in)
    assert (out / "final.zip").is_file()
    assert json.loads((out / "state.json").read_text())["num_timesteps"] == 256


def test_ray_on_other_trainings_and_bad_values_are_one_line(tmp_path, capsys, monkeypatch):
    assert main(["train", "detector", "--data", str(tmp_path), "--ray"]) == 2
    assert "--ray is not allowed for train detector" in capsys.readouterr().err
    assert main(["train", "policy", "--out", str(tmp_path / "r"), "--set", "envs_on=cloud"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "envs_on='cloud'" in err[0]
    assert main(["train", "policy", "--out", str(tmp_path / "r"), "--set", "rollouts_in=actors"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "rollouts_in=actors is for PPO on features with envs in Ray actors" in err[0]
    from control.train import PolicyTrainConfig

    # auto (the default): inside the actors where that applies (PPO on features on Ray), else from the learner
    assert [PolicyTrainConfig(envs_on=e, algo=a).collects_in_actors()
            for e, a in (("ray", "ppo"), ("ray", "sac"), ("local", "ppo"))] == [True, False, False]
    monkeypatch.setitem(sys.modules, "ray", None)  # as without the extra
    assert main(["train", "policy", "--out", str(tmp_path / "r2"), "--ray"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and EXTRA in err[0] and not (tmp_path / "r2").exists()
