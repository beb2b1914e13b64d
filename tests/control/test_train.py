"""A few-hundred-step PPO run through the real entry point, and resuming an interrupted run."""

import json

import pytest

import control.train as train_mod
from control.policies import load_policy
from control.train import PolicyTrainConfig, train_policy
from drivestack.cli import main

pytestmark = pytest.mark.slow  # each test here trains a policy (seconds of PPO and DAgger at toy size)

TINY = dict(total_steps=512, n_envs=1, n_steps=128, batch_size=64, n_epochs=1, route_length_m=80.0,
            warm_start_steps=200, warm_start_epochs=2, dagger_rounds=1, eval_every_steps=256, checkpoint_every_steps=128,
            eval_seeds=(800000,), stages=("empty", "town"), stage_fractions=(0.5, 0.5))


def test_train_policy_cli_smoke(tmp_path, capsys):
    out = tmp_path / "run"
    sets = [f"--set={k}={json.dumps(list(v)) if isinstance(v, tuple) else v}" for k, v in TINY.items()]
    assert main(["train", "policy", "--out", str(out), "--quiet", *sets]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["steps"] >= 512
    for name in ("config.yaml", "best.zip", "final.zip", "warm_start.zip", "state.json", "evaluations.jsonl", "result.json"):
        assert (out / name).is_file(), name
    assert any((out / "tb").rglob("events.out.tfevents*"))
    evaluated = [json.loads(line)["steps"] for line in (out / "evaluations.jsonl").read_text().splitlines()]
    assert evaluated[-1] == result["steps"] and len(set(evaluated)) == len(evaluated), evaluated  # last rollout: once
    policy = load_policy(out / "best.zip")
    assert policy.act(__import__("numpy").zeros(87, "float32")).shape == (2,)
    # the folder is never reused silently
    assert main(["train", "policy", "--out", str(out), "--quiet"]) == 2


def test_resume_after_an_interruption(tmp_path, monkeypatch):
    cfg = PolicyTrainConfig(out_dir=str(tmp_path / "run"), **TINY)
    real = train_mod._vec_env

    def interrupted(c, stage):
        if stage == "town":
            raise KeyboardInterrupt  # killed at the stage boundary, after the first stage's checkpoints
        return real(c, stage)

    monkeypatch.setattr(train_mod, "_vec_env", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_policy(cfg, progress=False)
    saved = json.loads((tmp_path / "run" / "state.json").read_text())
    assert saved["num_timesteps"] >= 256 - 128  # at most one checkpoint interval lost
    monkeypatch.setattr(train_mod, "_vec_env", real)
    result = train_policy(cfg, resume=True, progress=False)
    assert result["steps"] >= 512
    assert json.loads((tmp_path / "run" / "state.json").read_text())["num_timesteps"] >= 512


def test_pixels_baseline_trains_and_loads(tmp_path):
    cfg = PolicyTrainConfig(out_dir=str(tmp_path / "pix"), observation="pixels", **{**TINY, "total_steps": 256,
                            "stages": ("empty",), "stage_fractions": (1.0,), "eval_every_steps": 10_000})
    result = train_policy(cfg, progress=False)
    assert result["steps"] >= 256
    policy = load_policy(tmp_path / "pix" / "final.zip")
    assert policy.observation == "pixels"
    from control.evaluate import run_episode
    from control.pixels import make_pixel_env

    # the run's last logged evaluation scored the final model: reloaded, it drives the same episode
    logged = json.loads((tmp_path / "pix" / "evaluations.jsonl").read_text().splitlines()[-1])
    assert logged["steps"] == result["steps"]
    [seed] = cfg.eval_seeds
    m, _ = run_episode(make_pixel_env("town", cfg.route_length_m), policy, seed=seed)
    assert m["route_completion"] == logged["route_completion"]


def _params(path):
    from stable_baselines3 import PPO

    return {k: v.clone() for k, v in PPO.load(path, device="cpu").policy.state_dict().items()}


def test_resume_during_the_warm_start_gives_the_uninterrupted_weights(tmp_path, monkeypatch):
    cfg = dict(TINY, total_steps=128, stages=("empty",), stage_fractions=(1.0,), eval_every_steps=10_000)
    whole = train_policy(PolicyTrainConfig(out_dir=str(tmp_path / "whole"), **cfg), progress=False)
    real = train_mod.collect_expert

    def killed_in_dagger(c, steps, progress=True, driver=None, round_seed=0):
        if round_seed == 1:
            raise KeyboardInterrupt  # stopped in the DAgger round, after behaviour cloning's round was saved
        return real(c, steps, progress, driver, round_seed)

    run = PolicyTrainConfig(out_dir=str(tmp_path / "cut"), **cfg)
    monkeypatch.setattr(train_mod, "collect_expert", killed_in_dagger)
    with pytest.raises(KeyboardInterrupt):
        train_policy(run, progress=False)
    assert json.loads((tmp_path / "cut" / "state.json").read_text())["phase"] == "start"
    assert len(json.loads((tmp_path / "cut" / "warm_start" / "rounds.json").read_text())["rounds"]) == 1
    monkeypatch.setattr(train_mod, "collect_expert", real)
    resumed = train_policy(run, resume=True, progress=False)
    assert resumed["warm_start"] == whole["warm_start"]  # the cloning round was not redone, the DAgger round was
    a, b = _params(tmp_path / "whole" / "warm_start.zip"), _params(tmp_path / "cut" / "warm_start.zip")
    assert a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)


def test_a_run_stopped_after_its_last_step_can_be_finished(tmp_path, monkeypatch, capsys):
    import control.policies as policies_mod

    cfg = PolicyTrainConfig(out_dir=str(tmp_path / "run"), **dict(TINY, warm_start_steps=0, total_steps=256,
                            stages=("empty",), stage_fractions=(1.0,), eval_every_steps=10_000))
    real = policies_mod.save_policy

    def killed_before_final(model, path, *args, **kwargs):
        if str(path).endswith("final.zip"):
            raise KeyboardInterrupt
        return real(model, path, *args, **kwargs)

    monkeypatch.setattr(policies_mod, "save_policy", killed_before_final)
    with pytest.raises(KeyboardInterrupt):
        train_policy(cfg, progress=False)
    monkeypatch.setattr(policies_mod, "save_policy", real)
    assert not (tmp_path / "run" / "result.json").exists()
    # through the command line: finished without another step, then a second resume says it is done
    assert main(["train", "policy", "--resume", str(tmp_path / "run"), "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["steps"] == 256 and (tmp_path / "run" / "final.zip").is_file()
    assert main(["train", "policy", "--resume", str(tmp_path / "run"), "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["note"] == "this run had already finished"


def test_a_route_reading_policy_trains_in_the_navigation_town(tmp_path, capsys):
    from control.route_features import LAYOUT_V2_ID, OBS_SIZE_V2

    cfg = PolicyTrainConfig(out_dir=str(tmp_path / "nav"), **dict(TINY, total_steps=128, warm_start_steps=150,
                            stages=("townnav_empty",), stage_fractions=(1.0,), route_length_m=150.0, eval_every_steps=10_000))
    train_policy(cfg, progress=False)
    policy = load_policy(tmp_path / "nav" / "final.zip")
    assert policy.layout == LAYOUT_V2_ID and policy.model.observation_space.shape == (OBS_SIZE_V2,)
    # it drives a navigation world from the command line, and a straight one (which then says "follow the lane")
    for scenario in ("townnav", "town"):
        assert main(["eval", "policy", "--scenario", scenario, "--rows", "ppo/labels", "--policy",
                     str(tmp_path / "nav" / "final.zip"), "--seeds", "900000", "--route-length", "150", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)
    # and the suite's junction cases as well as its straight ones
    assert main(["eval", "suite", "--rows", "ppo/labels", "--policy", str(tmp_path / "nav" / "final.zip"),
                 "--scenarios", "CCRs,UnprotectedLeft", "--sweep", "defaults", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {c["scenario"] for c in report["cases"]} == {"CCRs", "UnprotectedLeft"}


def test_a_navigation_stage_makes_the_policy_read_the_route_everywhere():
    from common.errors import ConfigError
    from control.route_features import LAYOUT_V2_ID

    assert train_mod._layout(PolicyTrainConfig(stages=("empty", "townnav"), stage_fractions=(0.5, 0.5))) == LAYOUT_V2_ID
    assert train_mod._layout(PolicyTrainConfig()) == "drivestack-features-v1"
    with pytest.raises(ConfigError, match="observation=pixels reads no route"):
        PolicyTrainConfig(observation="pixels", stages=("townnav",), stage_fractions=(1.0,))


def test_suite_envs_play_the_suite_beside_the_stage_in_a_route_reading_layout(tmp_path):
    from common.errors import ConfigError
    from control.curriculum import SuiteCurriculum
    from control.route_features import LAYOUT_V2_ID

    cfg = PolicyTrainConfig(out_dir=str(tmp_path), n_envs=3, suite_envs=1, reward="driving")
    assert train_mod.env_stages(cfg, "town") == ["town", "town", "suite"]
    assert train_mod._layout(cfg) == LAYOUT_V2_ID  # the suite's junction cases turn: the policy reads the route
    town, suite = (train_mod._env_fn(cfg, s, k)() for k, s in ((0, "town"), (2, "suite")))
    assert town.observation_space == suite.observation_space
    assert isinstance(suite, SuiteCurriculum) and not isinstance(town, SuiteCurriculum)
    _, info = suite.reset()
    assert info["suite"]["scenario"]
    with pytest.raises(ConfigError, match="suite_envs"):
        PolicyTrainConfig(n_envs=2, suite_envs=2)


def test_regularised_fine_tuning_runs_and_resumes_with_its_schedule(tmp_path, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = PolicyTrainConfig(out_dir=str(tmp_path / "reg"), **dict(TINY, value_warmup_steps=128, kl_coef=0.1,
                            kl_decay=0.9, bc_coef=0.5, bc_decay=0.9, bc_steps=3))
    real = train_mod._vec_env

    def interrupted(c, stage):
        if stage == "town":
            raise KeyboardInterrupt
        return real(c, stage)

    monkeypatch.setattr(train_mod, "_vec_env", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_policy(cfg, progress=False)
    monkeypatch.setattr(train_mod, "_vec_env", real)
    assert train_policy(cfg, resume=True, progress=False)["steps"] >= 512  # the KL reference comes from warm_start.zip
    tags = set()
    for events in (tmp_path / "reg" / "tb").rglob("events.out.tfevents*"):
        tags |= set(EventAccumulator(str(events)).Reload().Tags()["scalars"])
    assert {"reward/progress", "reward_share/collision", "finetune/kl_to_warm_start", "finetune/clone_coef",
            "finetune/actor_frozen"} <= tags


def test_validation_in_worker_processes_drives_the_same_episodes(tmp_path):
    """``eval_workers`` spreads the validation over spawned processes that load the saved policy: the same
    episodes, metric for metric, as in the training process."""
    from stable_baselines3 import PPO

    from control.validation import validate, validation_env

    one = PolicyTrainConfig(out_dir=str(tmp_path), **{**TINY, "eval_seeds": (800000, 800001)})
    two = PolicyTrainConfig(out_dir=str(tmp_path), eval_workers=2, **{**TINY, "eval_seeds": (800000, 800001)})
    env = validation_env(one)
    model = PPO("MlpPolicy", env, seed=0, device="cpu")
    here = validate(one, train_mod._driver(one, model), env, None, tmp_path)
    there = validate(two, train_mod._driver(two, model), None, lambda p: train_mod._save(two, model, p), tmp_path)
    assert (tmp_path / "validation" / "policy.zip").is_file()
    assert len(there["episodes"]) == 2
    for a, b in zip(here["episodes"], there["episodes"]):
        assert a["steps"] == b["steps"] and a["end"] == b["end"]
        assert a["route_completion"] == pytest.approx(b["route_completion"], abs=1e-6)
    assert here["summary"]["driving_score"] == pytest.approx(there["summary"]["driving_score"], abs=1e-6)
