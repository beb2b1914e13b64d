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
