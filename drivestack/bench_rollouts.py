"""Policy-training rollouts for ``drivestack bench cluster``: env steps/s of the training envs through SB3's
``SubprocVecEnv`` (the single-machine path of ``drivestack train policy``) and through ``RayVecEnv`` (envs in
Ray actors, ``train policy --ray``) at equal env counts, in the same run: N workers each holding one env
(N subprocesses, N actors), and each holding ``BATCHED`` envs (N x BATCHED subprocesses against N actors
stepping BATCHED envs per remote call, ``envs_per_actor``), where a Ray call's round trip is spread over
several env steps.

The envs are the trainer's own (``control.train``: the ``town`` stage, labels with the measured perception
noise, camera off, ``ROUTE_M`` m routes); the actions are random, so the figure is the envs and the transport,
not a network. Each vector env is built and stepped ``WARM_STEPS`` times untimed, then ``ROUNDS`` timed runs of
``STEPS`` vector steps, the two transports in turns (a change in the machine's load hits both alike).
"""

from __future__ import annotations

import time

import numpy as np

ROUNDS = 2
STEPS = 300  # vector steps per timed run (x the env count: env steps)
WARM_STEPS = 50
ROUTE_M = 300.0  # the trainer's default route length [m]
BATCHED = 4  # envs per worker in the second figure


def _venvs(n: int, per_worker: int):
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    from control.ray_envs import RayVecEnv
    from control.train import PolicyTrainConfig, _env_fn

    fns = [_env_fn(PolicyTrainConfig(route_length_m=ROUTE_M), "town", k) for k in range(n * per_worker)]
    local = SubprocVecEnv(fns, start_method="spawn") if len(fns) > 1 else DummyVecEnv(fns)
    return {"subproc": local, "ray": RayVecEnv(fns, envs_per_actor=per_worker)}


def _steps_per_s(venv, steps: int, rng: np.random.Generator) -> float:
    venv.reset()
    t0 = time.perf_counter()
    for _ in range(steps):
        venv.step(rng.uniform(-1, 1, (venv.num_envs, 2)).astype(np.float32))
    return steps * venv.num_envs / (time.perf_counter() - t0)


def bench_rollouts(processes: list[int], seed: int) -> dict:
    """``{"N x K": {"subproc": env steps/s, "ray": env steps/s, "rounds": {...}, "ray_overhead": 1 - ray/subproc}}``
    for N workers of K envs (K = 1 and ``BATCHED``); Ray must be initialised by the caller (a local instance
    with at least max(processes) slots)."""
    out = {}
    rng = np.random.default_rng(seed)
    for n, per_worker in [(n, k) for k in (1, BATCHED) for n in processes]:
        venvs = _venvs(n, per_worker)
        try:
            for venv in venvs.values():
                _steps_per_s(venv, WARM_STEPS, rng)
            rounds: dict[str, list[float]] = {name: [] for name in venvs}
            for _ in range(ROUNDS):
                for name, venv in venvs.items():
                    rounds[name].append(_steps_per_s(venv, STEPS, rng))
        finally:
            for venv in venvs.values():
                venv.close()
        mean = {name: float(np.mean(r)) for name, r in rounds.items()}
        out[f"{n} x {per_worker}"] = {**mean, "rounds": {k: [round(v, 1) for v in r] for k, r in rounds.items()},
                       "ray_overhead": 1 - mean["ray"] / mean["subproc"]}
    return out
