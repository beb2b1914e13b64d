"""A training run's held-out validation (``drivestack train policy``, ``control.train``): the policy being
trained drives ``eval_seeds`` in the run's validation world, in this process or spread over
``eval_workers`` spawned processes.

Training stands still while it validates, so its cores are free: 30 TownNav routes of 500 m took ~8 min in
one process on a 2-core machine (session 15), a third of a 400k-step residual run's wall time. With
workers, the policy is saved once per validation (``validation/policy.zip`` in the run folder, the file
``drivestack eval policy`` would load) and each worker loads it and builds its env once per validation.
The episodes are the same either way: every episode reseeds its world and its perception noise from
its scene seed (``control.observation``), so they do not depend on which process drives them or in what
order; a test compares the two.

With ``suite_eval_cases`` the validation also drives held-out safety-suite cases
(``control.suite_validation``), in the same processes.
"""

from __future__ import annotations

from pathlib import Path

from .evaluate import evaluate, run_episode, run_tasks
from .metrics import summarize

# per worker process (a pool lives for one validation): the env and the policy it loaded, built on its first episode
_WORKER: dict = {}


def _noise(cfg):
    """The training's perception noise when it trains with noise (seeded apart from training's), else none."""
    from perception.ground_truth import PerceptionNoise

    return PerceptionNoise.named(cfg.noise), cfg.seed + 99


def validation_env(cfg):
    """The env the run's validation episodes drive (``cfg``: a ``control.train.PolicyTrainConfig``): the
    full straight or navigation town (the pixels baseline's camera world for it), labels degraded by the
    training's perception noise when it trains with noise, supervisor off."""
    from .envs import make_env
    from .train import _eval_stage, _layout

    if cfg.observation == "pixels":
        from .pixels import make_pixel_env

        return make_pixel_env("town", cfg.route_length_m)
    noise, noise_seed = _noise(cfg)
    return make_env(_eval_stage(cfg), cfg.route_length_m, noise=noise, noise_seed=noise_seed, layout=_layout(cfg))


def suite_validation_env(cfg):
    """The suite env the held-out suite cases (``control.suite_validation``) play in: the training suite env's
    observation (layout v2), the same noise as ``validation_env``, supervisor off."""
    from .envs import make_suite_env
    from .route_features import LAYOUT_V2_ID

    noise, noise_seed = _noise(cfg)
    return make_suite_env(layout=LAYOUT_V2_ID, noise=noise, noise_seed=noise_seed)


def _episode(task: tuple) -> dict:
    """One validation episode in a worker: ``(config, policy file, "town", seed)`` or ``(..., "suite", case)``."""
    from .policies import load_policy
    from .suite_eval import run_case

    cfg, policy_file, kind, item = task
    if _WORKER.get("file") != policy_file:
        _WORKER.update(file=policy_file, policy=load_policy(policy_file, device="cpu"))
    if kind not in _WORKER:
        _WORKER[kind] = validation_env(cfg) if kind == "town" else suite_validation_env(cfg)
    env, policy = _WORKER[kind], _WORKER["policy"]
    return run_episode(env, policy, int(item))[0] if kind == "town" else run_case(env, policy, item)


def validate(cfg, driver, env, save_policy, out_dir: Path, suite_env=None) -> dict:
    """``{"summary": ..., "episodes": [...]}`` of ``driver`` (the policy being trained, as a
    ``control.policies.Policy``) on ``cfg.eval_seeds``, and with ``cfg.suite_eval_cases`` also ``"suite"`` (pass
    rate, ``control.suite_validation.suite_summary``) and ``"cases"`` (their records): in ``env`` / ``suite_env``
    here (built when None), or with ``cfg.eval_workers`` > 1 in worker processes (spawned for this validation),
    which load the file ``save_policy(path)`` writes."""
    from .suite_eval import run_case
    from .suite_validation import suite_summary, validation_cases

    cases = validation_cases(cfg.suite_eval_cases)
    if cfg.eval_workers <= 1:
        report = evaluate(env, driver, cfg.eval_seeds)
        suite_env = suite_env or (suite_validation_env(cfg) if cases else None)
        records = [run_case(suite_env, driver, c) for c in cases]
    else:
        path = Path(out_dir) / "validation" / "policy.zip"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_policy(path)
        tasks = [(cfg, str(path), "town", int(seed)) for seed in cfg.eval_seeds]
        tasks += [(cfg, str(path), "suite", case) for case in cases]
        results = run_tasks(_episode, tasks, cfg.eval_workers, progress=False)
        episodes, records = results[:len(cfg.eval_seeds)], results[len(cfg.eval_seeds):]
        report = {"summary": summarize(episodes), "episodes": episodes}
    if cases:
        report.update(suite=suite_summary(records), cases=records)
    return report
