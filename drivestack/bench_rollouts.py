"""Policy-training rollouts for ``drivestack bench cluster``: env steps/s of PPO's rollout collection with the
trainer's policy in the loop, through SB3's ``SubprocVecEnv`` (the single-machine path of ``drivestack train
policy``), through ``RayVecEnv`` stepped from the learner (``train policy --ray``: one remote call per vector step)
and with the rollouts collected inside the Ray actors (``--set rollouts_in=actors``: one call per rollout), at
equal env counts, in the same run: N workers each holding one env, and each holding ``BATCHED`` envs (N x BATCHED
subprocesses against N actors of BATCHED envs, ``envs_per_actor``).

The envs are the trainer's own (``control.train``: the ``town`` stage, labels with the measured perception
noise, camera off, ``ROUTE_M`` m routes); the policy is the trainer's default (``[256, 256]`` MLP, one torch
thread in the learner), randomly initialised, the same weights on every path. Each path is warmed up with one
untimed rollout of ``WARM_STEPS`` steps, then ``ROUNDS`` timed rollouts of ``STEPS`` vector steps each, the
paths in turns (a change in the machine's load hits all alike). A timed rollout starts from reset envs.
"""

from __future__ import annotations

import time

import numpy as np

ROUNDS = 2
STEPS = 300  # vector steps per timed rollout (x the env count: env steps)
WARM_STEPS = 50
ROUTE_M = 300.0  # the trainer's default route length [m]
BATCHED = 4  # envs per worker in the second figure
PATHS = ("subproc", "ray", "ray_actors")


def _venvs(n: int, per_worker: int) -> dict:
    """The two vector envs: local subprocesses and Ray actors (the actors serve both Ray paths: stepped from
    the learner, or collecting inside)."""
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    from control.ray_envs import RayVecEnv
    from control.ray_rollouts import RolloutHost
    from control.train import PolicyTrainConfig, _env_fn

    fns = [_env_fn(PolicyTrainConfig(route_length_m=ROUTE_M), "town", k) for k in range(n * per_worker)]
    local = SubprocVecEnv(fns, start_method="spawn") if len(fns) > 1 else DummyVecEnv(fns)
    return {"subproc": local, "ray": RayVecEnv(fns, envs_per_actor=per_worker, host_class=RolloutHost)}


def _models(venvs: dict, seed: int) -> dict:
    """A PPO per path, the trainer's network, the same weights."""
    from stable_baselines3 import PPO

    from control.ray_rollouts import ActorRolloutPPO
    from control.train import PolicyTrainConfig

    arch = list(PolicyTrainConfig().net_arch)
    kwargs = dict(n_steps=STEPS, batch_size=STEPS, seed=seed, device="cpu",
                  policy_kwargs={"net_arch": {"pi": arch, "vf": arch}})
    models = {"subproc": PPO("MlpPolicy", venvs["subproc"], **kwargs), "ray": PPO("MlpPolicy", venvs["ray"], **kwargs),
              "ray_actors": ActorRolloutPPO("MlpPolicy", venvs["ray"], **kwargs)}
    for name in ("ray", "ray_actors"):
        models[name].policy.load_state_dict(models["subproc"].policy.state_dict())
    return models


def _steps_per_s(model, steps: int) -> float:
    """Env steps/s of one rollout of ``steps`` vector steps, from freshly reset envs."""
    from stable_baselines3.common.buffers import RolloutBuffer

    buffer = RolloutBuffer(steps, model.observation_space, model.action_space, device="cpu", n_envs=model.n_envs)
    _, callback = model._setup_learn(steps * model.n_envs, None)  # resets the envs, as learn() does
    t0 = time.perf_counter()
    model.collect_rollouts(model.env, callback, buffer, steps)
    return steps * model.n_envs / (time.perf_counter() - t0)


def bench_rollouts(processes: list[int], seed: int) -> dict:
    """``{"N x K": {"subproc": env steps/s, "ray": ..., "ray_actors": ..., "rounds": {...}, "ray_overhead":
    1 - ray/subproc, "ray_actors_overhead": 1 - ray_actors/subproc}}`` for N workers of K envs (K = 1 and
    ``BATCHED``); Ray must be initialised by the caller (a local instance with at least max(processes) slots)."""
    import torch

    torch.set_num_threads(1)  # as control.train: the learner's matrix threads would fight the envs for the cores
    out = {}
    for n, per_worker in [(n, k) for k in (1, BATCHED) for n in processes]:
        venvs = _venvs(n, per_worker)
        try:
            models = _models(venvs, seed)
            for model in models.values():
                _steps_per_s(model, WARM_STEPS)
            rounds: dict[str, list[float]] = {name: [] for name in PATHS}
            for _ in range(ROUNDS):
                for name in PATHS:
                    rounds[name].append(_steps_per_s(models[name], STEPS))
        finally:
            for venv in venvs.values():
                venv.close()
        mean = {name: float(np.mean(r)) for name, r in rounds.items()}
        out[f"{n} x {per_worker}"] = {**mean, "rounds": {k: [round(v, 1) for v in r] for k, r in rounds.items()},
                                      "ray_overhead": 1 - mean["ray"] / mean["subproc"],
                                      "ray_actors_overhead": 1 - mean["ray_actors"] / mean["subproc"]}
    return out
