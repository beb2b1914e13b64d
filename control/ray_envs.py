"""Training envs hosted in Ray actors: ``RayVecEnv``, a stable-baselines3 ``VecEnv`` for ``drivestack train
policy --ray``.

SB3's ``SubprocVecEnv`` keeps one env per local process; here each env group lives in a Ray actor, which a
cluster may place on any node, while the learner (SB3's PPO/SAC) stays in the driver process. The actors step
in parallel; the driver sends each its actions and waits for all, as ``SubprocVecEnv`` does with its pipes, so
the algorithm sees the same ``VecEnv`` contract: auto-reset on done, ``terminal_observation`` and
``TimeLimit.truncated`` in the info. ``envs_per_actor`` > 1 steps several envs per remote call, which pays when
a cluster's round trip is long next to one env step.

A lost actor (its node gone, its process killed) is restarted by Ray with freshly built envs; the step in
flight is retried there, and each of its envs comes back as a truncated episode (``actor_restarted`` in the
info), so the learner bootstraps it and training goes on. The docs (docs/cluster.md) say why this path was
chosen over RLlib.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

MAX_RESTARTS = 3  # an actor's restarts after losing its process (its node, a kill)


class EnvHost:
    """A few envs in one process (a Ray actor's body). An env not yet reset (just built, or rebuilt after
    its actor was restarted) answers a step with a reset and a truncated end instead of failing."""

    def __init__(self, env_fns: Sequence[Callable[[], Any]]):
        self.envs = [fn() for fn in env_fns]
        self.needs_reset = [True] * len(self.envs)

    def spaces(self):
        return self.envs[0].observation_space, self.envs[0].action_space

    def reset(self, seeds: Sequence[int | None], options: Sequence[dict | None]):
        out = []
        for k, env in enumerate(self.envs):
            obs, info = env.reset(seed=seeds[k], **({"options": options[k]} if options[k] else {}))
            self.needs_reset[k] = False
            out.append((obs, info))
        return out

    def step(self, actions: Sequence[np.ndarray]):
        return [self._step_one(k, a) for k, a in enumerate(actions)]

    def _step_one(self, k: int, action: np.ndarray):
        env = self.envs[k]
        if self.needs_reset[k]:  # rebuilt under a running episode: end that episode as truncated
            obs, reset_info = env.reset()
            self.needs_reset[k] = False
            return obs, 0.0, True, {"terminal_observation": obs, "TimeLimit.truncated": True, "actor_restarted": True}, reset_info
        obs, reward, terminated, truncated, info = env.step(action)
        reset_info: dict = {}
        done = bool(terminated or truncated)
        info["TimeLimit.truncated"] = bool(truncated and not terminated)  # SB3 bootstraps these
        if done:
            info["terminal_observation"] = obs
            obs, reset_info = env.reset()
        return obs, float(reward), done, info, reset_info

    def get_attr(self, name: str, indices: Sequence[int]):
        return [self.envs[k].get_wrapper_attr(name) for k in indices]

    def set_attr(self, name: str, value: Any, indices: Sequence[int]) -> None:
        for k in indices:
            setattr(self.envs[k], name, value)

    def call(self, name: str, indices: Sequence[int], args: tuple, kwargs: dict):
        return [self.envs[k].get_wrapper_attr(name)(*args, **kwargs) for k in indices]

    def is_wrapped(self, wrapper_class: type, indices: Sequence[int]):
        from stable_baselines3.common.env_util import is_wrapped

        return [is_wrapped(self.envs[k], wrapper_class) for k in indices]

    def close(self) -> None:
        for env in self.envs:
            env.close()


class RayVecEnv(VecEnv):
    """``len(env_fns)`` envs in Ray actors of ``envs_per_actor`` envs each (``num_cpus_per_actor`` CPUs
    reserved per actor), each actor a ``host_class``. Ray must be initialised (``drivestack.cluster`` does it for the command line);
    without it the first actor starts a local instance, as Ray always does."""

    def __init__(self, env_fns: Sequence[Callable[[], Any]], envs_per_actor: int = 1, num_cpus_per_actor: float = 1.0,
                 host_class: type = EnvHost):
        import ray

        if envs_per_actor < 1:
            raise ValueError(f"envs_per_actor={envs_per_actor} is not allowed; use 1 or more")
        self.host_class = host_class  # EnvHost, or control.ray_rollouts.RolloutHost (rollouts inside the actors)
        host = ray.remote(host_class).options(num_cpus=num_cpus_per_actor, max_restarts=MAX_RESTARTS,
                                           max_task_retries=MAX_RESTARTS)
        groups = [list(env_fns[i:i + envs_per_actor]) for i in range(0, len(env_fns), envs_per_actor)]
        self._slots = [(a, k) for a, g in enumerate(groups) for k in range(len(g))]  # env index -> (actor, place)
        self._actors = [host.remote(g) for g in groups]
        self._sizes = [len(g) for g in groups]
        observation_space, action_space = ray.get(self._actors[0].spaces.remote())
        super().__init__(len(env_fns), observation_space, action_space)
        self._pending: list | None = None
        self.closed = False

    # --- the stepping contract ---------------------------------------------------------------------------
    def reset(self):
        import ray

        refs, start = [], 0
        for actor, size in zip(self._actors, self._sizes):
            refs.append(actor.reset.remote(self._seeds[start:start + size], self._options[start:start + size]))
            start += size
        results = [r for group in ray.get(refs) for r in group]
        self.reset_infos = [info for _, info in results]
        self._reset_seeds()
        self._reset_options()
        return self._stack([obs for obs, _ in results])

    def step_async(self, actions: np.ndarray) -> None:
        start, self._pending = 0, []
        for actor, size in zip(self._actors, self._sizes):
            self._pending.append(actor.step.remote(list(actions[start:start + size])))
            start += size

    def step_wait(self):
        import ray

        results = [r for group in ray.get(self._pending) for r in group]
        self._pending = None
        obs, rewards, dones, infos, self.reset_infos = zip(*results)
        return self._stack(obs), np.asarray(rewards, np.float32), np.asarray(dones, bool), list(infos)

    def close(self) -> None:
        import ray

        if self.closed:
            return
        try:
            ray.get([a.close.remote() for a in self._actors])
        finally:
            for a in self._actors:
                ray.kill(a)
            self.closed = True

    # --- attribute access, per env (answers in the order of ``indices``) ----------------------------------
    def _per_env(self, method: str, indices, args_before: tuple = (), args_after: tuple = ()) -> list:
        """``EnvHost.<method>(*args_before, places, *args_after)`` on each actor holding some of ``indices``."""
        import ray

        wanted = self._get_indices(indices)
        groups: dict[int, list[int]] = {}
        for i in wanted:
            groups.setdefault(self._slots[i][0], []).append(i)
        refs = {a: getattr(self._actors[a], method).remote(*args_before, [self._slots[i][1] for i in envs], *args_after)
                for a, envs in groups.items()}
        answers = {}
        for a, envs in groups.items():
            answers.update(zip(envs, ray.get(refs[a]) or [None] * len(envs)))
        return [answers[i] for i in wanted]

    def get_attr(self, attr_name: str, indices=None) -> list:
        return self._per_env("get_attr", indices, (attr_name,))

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        self._per_env("set_attr", indices, (attr_name, value))

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list:
        return self._per_env("call", indices, (method_name,), (method_args, method_kwargs))

    def env_is_wrapped(self, wrapper_class: type, indices=None) -> list[bool]:
        return self._per_env("is_wrapped", indices, (wrapper_class,))

    def _stack(self, obs: Sequence[Any]):
        if isinstance(obs[0], dict):
            return {k: np.stack([o[k] for o in obs]) for k in obs[0]}
        return np.stack(obs)
