"""PPO rollouts collected inside the Ray actors: ``--set rollouts_in=actors`` of ``drivestack train policy --ray``.

With ``RayVecEnv`` alone, every vector step is a remote call: the learner computes the actions, sends them,
waits for the observations. On a cluster that is a network round trip per step. Here each actor instead
holds a CPU copy of the policy; once per PPO iteration the learner sends the weights (one object, shared by
all actors), each actor runs its envs for ``n_steps`` and sends back the whole batch (observations,
actions, rewards with truncated episodes bootstrapped, values, log-probabilities, episode starts, infos),
as RLlib's env runners do. The learner stays stable-baselines3's PPO, so the run's files, the warm start,
the curriculum, the callbacks and ``policy.zip`` are unchanged: the callbacks see every step (its infos
and dones) when the batch arrives, in step order, before the update.

What differs from collecting in the learner: the actions are sampled by each actor's own torch generator
(seeded per actor), and a callback that changes the envs mid-rollout acts from the next rollout on.
A restarted actor (a lost node) answers the retried call with freshly reset envs: its batch starts new
episodes, and nothing else changes.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
from stable_baselines3 import PPO

from .ray_envs import EnvHost, RayVecEnv

ACTOR_SEED_STRIDE = 7919  # actor k samples its actions from seed + k * stride


class RolloutHost(EnvHost):
    """``EnvHost`` that also keeps each env's current observation and can run a rollout with a policy copy."""

    def __init__(self, env_fns: Sequence[Callable[[], Any]]):
        super().__init__(env_fns)
        self.obs: list[Any] = [None] * len(self.envs)
        self.policy = None
        self._policy_key = None

    def reset(self, seeds, options):
        out = super().reset(seeds, options)
        self.obs = [obs for obs, _ in out]
        return out

    def step(self, actions):
        out = super().step(actions)
        self.obs = [r[0] for r in out]
        return out

    def collect(self, spec: dict, state: dict, n_steps: int, gamma: float) -> dict:
        """``n_steps`` steps of every env with the policy ``spec`` builds and ``state`` loads; the batch
        in the rollout buffer's layout (step, env, ...)."""
        import torch

        policy = self._policy(spec)
        policy.load_state_dict(state)
        starts = np.zeros(len(self.envs), bool)
        for k, obs in enumerate(self.obs):
            if obs is None or self.needs_reset[k]:  # a restarted actor: its envs start new episodes
                self.obs[k], _ = self.envs[k].reset()
                self.needs_reset[k] = False
                starts[k] = True
        starts |= np.asarray(spec["episode_starts"], bool) if spec.get("episode_starts") is not None else False
        low, high = spec["action_low"], spec["action_high"]
        batch: dict[str, list] = {k: [] for k in ("obs", "actions", "rewards", "raw_rewards", "episode_starts",
                                                  "values", "log_probs", "dones", "infos")}
        for _ in range(n_steps):
            obs = np.stack(self.obs)
            with torch.no_grad():
                actions, values, log_probs = policy(torch.as_tensor(obs))
            actions = actions.numpy()
            results = self.step(list(np.clip(actions, low, high)))  # the Gaussian is unbounded: clip for the env
            _, raw, dones, infos, _ = zip(*results)
            rewards = np.asarray(raw, np.float32)
            for k, info in enumerate(infos):
                terminal = info.pop("terminal_observation", None)  # the learner needs only its value
                if dones[k] and terminal is not None and info.get("TimeLimit.truncated", False):
                    with torch.no_grad():  # a time limit is not an end: bootstrap it with the value
                        rewards[k] += gamma * float(policy.predict_values(torch.as_tensor(terminal[None]))[0, 0])
            for key, value in (("obs", obs), ("actions", actions), ("rewards", rewards),
                               ("raw_rewards", np.asarray(raw, np.float32)), ("episode_starts", starts.copy()),
                               ("values", values.numpy().ravel()), ("log_probs", log_probs.numpy()),
                               ("dones", np.asarray(dones, bool)), ("infos", list(infos))):
                batch[key].append(value)
            starts = np.asarray(dones, bool)
        with torch.no_grad():
            last_values = policy.predict_values(torch.as_tensor(np.stack(self.obs))).numpy().ravel()
        out = {k: np.stack(v) for k, v in batch.items() if k != "infos"}
        out["infos"], out["last_values"] = batch["infos"], last_values
        return out

    def _policy(self, spec: dict):
        """The policy copy, built once per policy class and spaces (the weights come with every call)."""
        import torch

        key = (spec["policy_class"], repr(spec["observation_space"]), repr(spec["action_space"]), repr(spec["kwargs"]))
        if self._policy_key != key:
            torch.set_num_threads(1)  # one slot per actor: its envs and its policy share one core
            torch.manual_seed(spec["seed"])
            self.policy = spec["policy_class"](spec["observation_space"], spec["action_space"], lambda _: 0.0,
                                               **spec["kwargs"]).eval()
            self._policy_key = key
        return self.policy


class ActorRolloutPPO(PPO):
    """stable-baselines3's PPO whose rollouts, on a ``RayVecEnv`` of ``RolloutHost`` actors, are collected
    inside the actors; on any other ``VecEnv`` (the held-out evaluation, a local run) it is plain PPO."""

    def collect_rollouts(self, env, callback, rollout_buffer, n_rollout_steps: int) -> bool:
        if not (isinstance(env, RayVecEnv) and env.host_class is RolloutHost):
            return super().collect_rollouts(env, callback, rollout_buffer, n_rollout_steps)
        return self._collect_in_actors(env, callback, rollout_buffer, n_rollout_steps)

    def _collect_in_actors(self, env: RayVecEnv, callback, rollout_buffer, n_rollout_steps: int) -> bool:
        import ray
        import torch
        from gymnasium import spaces

        if not isinstance(self.observation_space, spaces.Box) or not isinstance(self.action_space, spaces.Box):
            raise ValueError("rollouts_in=actors needs Box observations and actions (observation=features)")
        self.policy.set_training_mode(False)
        rollout_buffer.reset()
        callback.on_rollout_start()  # before the weights go out: a callback may change the policy here
        state = ray.put({k: v.detach().cpu() for k, v in self.policy.state_dict().items()})
        refs, start = [], 0
        for index, (actor, size) in enumerate(zip(env._actors, env._sizes)):
            starts = self._last_episode_starts[start:start + size] if self._last_episode_starts is not None else None
            spec = {"policy_class": self.policy_class, "observation_space": self.observation_space,
                    "action_space": self.action_space, "kwargs": self.policy_kwargs,
                    "seed": (self.seed or 0) + index * ACTOR_SEED_STRIDE,
                    "action_low": self.action_space.low, "action_high": self.action_space.high,
                    "episode_starts": None if starts is None else list(starts)}
            refs.append(actor.collect.remote(spec, state, n_rollout_steps, self.gamma))
            start += size
        parts = ray.get(refs)
        batch = {k: np.concatenate([p[k] for p in parts], axis=1) for k in parts[0] if k not in ("infos", "last_values")}
        infos = [[info for p in parts for info in p["infos"][t]] for t in range(n_rollout_steps)]
        for t in range(n_rollout_steps):  # the callbacks see the steps in order, as they would live
            self.num_timesteps += env.num_envs
            callback.update_locals({"infos": infos[t], "dones": batch["dones"][t], "rewards": batch["raw_rewards"][t]})
            if not callback.on_step():
                return False
            self._update_info_buffer(infos[t], batch["dones"][t])
        buf = rollout_buffer
        buf.observations[:] = batch["obs"].reshape(buf.observations.shape)
        buf.actions[:] = batch["actions"].reshape(buf.actions.shape)
        buf.rewards[:] = batch["rewards"]
        buf.episode_starts[:] = batch["episode_starts"]
        buf.values[:] = batch["values"]
        buf.log_probs[:] = batch["log_probs"]
        buf.pos, buf.full = buf.buffer_size, True
        self._last_obs = batch["obs"][-1]  # not the next observation (the actors hold it); only its presence is read
        dones = batch["dones"][-1]
        self._last_episode_starts = dones
        values = torch.as_tensor(np.concatenate([p["last_values"] for p in parts]), device=self.device)
        buf.compute_returns_and_advantage(last_values=values, dones=dones)
        callback.update_locals({"values": values, "dones": dones, "rollout_buffer": buf})
        callback.on_rollout_end()
        return True
