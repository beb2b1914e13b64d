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
"""

from __future__ import annotations

from pathlib import Path

from .evaluate import evaluate, run_episode, run_tasks
from .metrics import summarize

# per worker process (a pool lives for one validation): the env and the policy it loaded, built on its first episode
_WORKER: dict = {}


def validation_env(cfg):
    """The env the run's validation episodes drive (``cfg``: a ``control.train.PolicyTrainConfig``): the
    full straight or navigation town (the pixels baseline's camera world for it), labels degraded by the
    training's perception noise when it trains with noise, supervisor off."""
    from perception.ground_truth import PerceptionNoise

    from .envs import make_env
    from .train import _eval_stage, _layout

    if cfg.observation == "pixels":
        from .pixels import make_pixel_env

        return make_pixel_env("town", cfg.route_length_m)
    noise = PerceptionNoise() if cfg.noise else PerceptionNoise.none()
    return make_env(_eval_stage(cfg), cfg.route_length_m, noise=noise, noise_seed=cfg.seed + 99, layout=_layout(cfg))


def _episode(task: tuple) -> dict:
    """One validation episode in a worker: ``(config, policy file, seed)``."""
    from .policies import load_policy

    cfg, policy_file, seed = task
    if not _WORKER:
        _WORKER.update(env=validation_env(cfg), policy=load_policy(policy_file, device="cpu"))
    m, _ = run_episode(_WORKER["env"], _WORKER["policy"], int(seed))
    return m


def validate(cfg, driver, env, save_policy, out_dir: Path) -> dict:
    """``{"summary": ..., "episodes": [...]}`` of ``driver`` (the policy being trained, as a
    ``control.policies.Policy``) on ``cfg.eval_seeds``: in ``env`` here, or with ``cfg.eval_workers`` > 1 in
    worker processes (spawned for this validation), which load the file ``save_policy(path)`` writes."""
    if cfg.eval_workers <= 1:
        return evaluate(env, driver, cfg.eval_seeds)
    path = Path(out_dir) / "validation" / "policy.zip"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_policy(path)
    tasks = [(cfg, str(path), int(seed)) for seed in cfg.eval_seeds]
    episodes = run_tasks(_episode, tasks, cfg.eval_workers, progress=False)
    return {"summary": summarize(episodes), "episodes": episodes}
