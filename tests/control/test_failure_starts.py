"""Failure-state replay (control.failure_starts): where a failed route's training episodes start, a replay that
reproduces the teacher's state exactly in another worker's env, and a run's harvest feeding its envs."""

import dataclasses

import gymnasium as gym
import numpy as np
import pytest

import control.failure_starts as fs
from common.errors import ConfigError
from control.evaluate import run_episode
from control.metrics import EpisodeLog
from control.train import FAILURES_FILE, PolicyTrainConfig, _env_fn, harvest_failures, harvested_stages


def _log(end: str, speeds: list[float]) -> EpisodeLog:
    log = EpisodeLog(dt_s=0.05, speed_m_s=list(speeds))
    log.end = end
    return log


def test_a_failed_route_starts_its_lead_before_the_failure():
    speeds = [5.0] * 400 + [0.0] * 600  # drove 20 s, then stood 30 s
    assert fs.start_step(_log("collision (vehicle)", speeds), lead_s=8.0) == 1000 - 160  # before the contact
    assert fs.start_step(_log("time limit", speeds), lead_s=8.0) == 400 - 160  # before the stand began
    two = [5.0] * 400 + [0.0] * 600 + [5.0] * 100 + [0.0] * 300  # the longer stand first, a shorter one at the end
    assert fs.start_step(_log("time limit", two), lead_s=8.0) == 400 - 160
    crawl = [0.5, 0.0] * 500  # never stood 10 s on end: no one moment to start from
    assert fs.start_step(_log("time limit", crawl), lead_s=8.0) is None
    assert fs.start_step(_log("time limit", [5.0] * 1000), lead_s=8.0) is None
    assert fs.start_step(_log("collision (vehicle)", speeds[:50]), lead_s=8.0) == 0
    assert fs.start_step(_log("goal", speeds), lead_s=8.0) is None


def _cfg(tmp_path, residual=True, **kw):
    return PolicyTrainConfig(out_dir=str(tmp_path), residual=residual, warm_start_steps=0, stages=("townnav",),
                             stage_fractions=(1.0,), route_length_m=150.0, reward="driving", **kw)


@pytest.mark.parametrize("residual", [True, False])
def test_a_replayed_start_is_the_teachers_state_in_another_workers_env(tmp_path, residual):
    cfg = _cfg(tmp_path, residual)
    a, b = _env_fn(cfg, "townnav", 0, replay=False)(), _env_fn(cfg, "townnav", 1, replay=False)()
    seed = 4321
    _, log = run_episode(a, fs.TeacherPrefix(residual), seed)
    k = len(log.speed_m_s) // 2
    obs, info = a.reset(seed=seed)
    prefix = fs.TeacherPrefix(residual)
    prefix.reset()
    for _ in range(k):
        obs, *_, info = a.step(prefix.act(obs, info.get("perception")))
    wrapped = fs.FailureStarts(b, [fs.FailureStart("townnav", seed, k, "collision (vehicle)", 2 * k)], 1.0,
                               horizon_steps=20, residual=residual)
    obs_b, info_b = wrapped.reset()
    ego_a, ego_b = a.unwrapped.world.ego, b.unwrapped.world.ego
    assert (ego_a.x_m, ego_a.y_m, ego_a.yaw_rad, ego_a.speed_m_s) == (ego_b.x_m, ego_b.y_m, ego_b.yaw_rad, ego_b.speed_m_s)
    np.testing.assert_array_equal(obs, obs_b)
    assert info_b["failure_start"]["step"] == k
    for step in range(1, 21):  # the policy's steps from there, cut at the horizon
        *_, terminated, truncated, _ = wrapped.step(np.zeros(2, np.float32))
        if terminated:
            break
        assert truncated == (step == 20)


def test_a_run_harvests_its_teachers_failures_and_starts_episodes_there(tmp_path, monkeypatch):
    # every route counts as failed half-way (the teacher rarely fails on two short routes)
    monkeypatch.setattr(fs, "start_step", lambda log, lead_s: len(log.speed_m_s) // 2)
    cfg = _cfg(tmp_path, failure_routes=2, failure_share=1.0, failure_horizon_s=1.0, eval_workers=1)
    counts = harvest_failures(cfg, tmp_path / FAILURES_FILE, progress=False)
    starts, routes = fs.load_starts(tmp_path / FAILURES_FILE)
    assert counts == {"townnav": 2} and routes == {"townnav": 2} and len(starts) == 2
    assert all(0 < s.step < s.end_step and s.seed < 800_000 for s in starts)  # training seeds only
    env = _env_fn(cfg, "townnav", 0)()
    assert isinstance(env, fs.FailureStarts)
    _, info = env.reset()
    assert info["failure_start"]["seed"] in {s.seed for s in starts}
    env.reset(seed=800_000)  # an evaluation's reset (a seed given) is never replaced
    assert env._left is None


def test_a_cut_harvest_resumes_driving_only_the_routes_it_had_not(tmp_path, monkeypatch):
    """A harvest stopped part-way keeps each route it drove (the run folder's journal); run again, it drives only
    the rest and writes the same file as one uninterrupted harvest; the journal goes once the file is written."""
    from control.train import HARVEST_JOURNAL

    monkeypatch.setattr(fs, "start_step", lambda log, lead_s: len(log.speed_m_s) // 2)  # every route "fails"
    cfg = _cfg(tmp_path, failure_routes=3, failure_share=1.0, eval_workers=1)
    whole = tmp_path / "whole" / FAILURES_FILE
    harvest_failures(cfg, whole, progress=False)
    assert not (whole.parent / HARVEST_JOURNAL).exists()

    real, driven = fs.route_failure, []

    def stop_after_one(env, prefix, stage, seed, lead_s):
        if driven:
            raise KeyboardInterrupt
        driven.append(seed)
        return real(env, prefix, stage, seed, lead_s)

    def the_rest(env, prefix, stage, seed, lead_s):
        assert seed not in driven, "a journaled route was driven again"
        return real(env, prefix, stage, seed, lead_s)

    cut = tmp_path / "cut" / FAILURES_FILE
    monkeypatch.setattr(fs, "route_failure", stop_after_one)
    with pytest.raises(KeyboardInterrupt):
        harvest_failures(cfg, cut, progress=False)
    assert not cut.exists() and len(list((cut.parent / HARVEST_JOURNAL).iterdir())) == 1
    monkeypatch.setattr(fs, "route_failure", the_rest)
    harvest_failures(dataclasses.replace(cfg, out_dir=str(tmp_path / "moved")), cut, progress=False)  # folder moved
    assert fs.load_starts(cut) == fs.load_starts(whole) and len(fs.load_starts(cut)[0]) == 3
    assert not (cut.parent / HARVEST_JOURNAL).exists()


def test_failure_replay_needs_the_feature_observation():
    with pytest.raises(ConfigError, match="failure_routes"):
        PolicyTrainConfig(observation="pixels", failure_routes=10, stages=("town",), stage_fractions=(1.0,))
    with pytest.raises(ConfigError, match="failure_share"):
        PolicyTrainConfig(failure_share=1.5)


def test_a_run_reuses_an_earlier_harvest_of_the_same_world_and_refuses_another(tmp_path):
    first = [fs.FailureStart("townnav", 123, 40, "time limit", 400), fs.FailureStart("suite", 5, 1, "x", 9)]
    path = tmp_path / "theirs.json"
    fs.save_starts(path, first, {"townnav": 50, "suite": 3}, {"route_length_m": 150.0, "noise": True})
    cfg = _cfg(tmp_path / "run", failure_starts_from=(str(path),), eval_workers=1)
    assert harvested_stages(cfg) == ("townnav",)  # no harvest of its own (failure_routes=0), replay all the same
    counts = harvest_failures(cfg, tmp_path / FAILURES_FILE, progress=False)
    starts, routes = fs.load_starts(tmp_path / FAILURES_FILE)
    assert counts == {"townnav": 1} and routes == {"townnav": 50} and starts == first[:1]
    with pytest.raises(ConfigError, match="route_length_m"):  # refused with the config, before a run folder exists
        dataclasses.replace(cfg, route_length_m=500.0)
    with pytest.raises(ConfigError, match="no harvest file"):
        _cfg(tmp_path / "new", failure_starts_from=(str(tmp_path / "missing.json"),))
    # a resumed run reads its own merged copy (here tmp_path's): a source moved since does not block it
    assert _cfg(tmp_path, failure_starts_from=(str(tmp_path / "missing.json"),)).failure_starts_from


class _TwoRoutes(gym.Env):
    """Route seed 1 ends in a collision on the first step after its start, route 2 drives 1 m a step, 3 stands."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)

    def reset(self, *, seed=None, options=None):
        self.route, self.t = seed, 0
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self.t += 1
        hit = self.route == 1 and self.t > 3  # after the 3-step prefix
        return np.zeros(2, np.float32), 0.0, hit, False, {"events": {"collision": "vehicle" if hit else None,
                                                                     "progress_m": 0.0 if self.route == 3 else 1.0}}


@pytest.mark.parametrize("prioritised", [False, True])
def test_prioritised_replay_draws_the_starts_the_policy_still_fails(prioritised):
    starts = [fs.FailureStart("townnav", 1, 3, "collision (vehicle)", 9), fs.FailureStart("townnav", 2, 3, "time limit", 9),
              fs.FailureStart("townnav", 3, 3, "time limit", 9)]
    env = fs.FailureStarts(_TwoRoutes(), starts, share=1.0, horizon_steps=10, residual=True, prioritised=prioritised)
    drawn, rates = [], None
    for _ in range(200):
        _, info = env.reset()
        drawn.append(info["failure_start"]["seed"])
        terminated = truncated = False
        while not (terminated or truncated):
            *_, terminated, truncated, info = env.step(np.zeros(2, np.float32))
        rates = info["curriculum_failure_rates"]
    # route 2: 10 m driven, no event: passed; route 3 never broke its stand: failed
    assert rates == {"replay collision (vehicle)": 1.0, "replay time limit": 0.5}
    share_failing = (drawn.count(1) + drawn.count(3)) / len(drawn)
    if prioritised:  # weights 1.15 : 0.15 : 1.15 once all were played
        assert share_failing > 0.85
    else:
        assert 0.55 < share_failing < 0.78
