"""Keeping PPO near its warm start while RL improves it, and what the reward is made of.

A cloned policy is a good start and a fragile one. The first PPO updates are driven by a value
head fitted to the expert's returns and by advantages that are mostly noise; they move the actor
away from what it cloned faster than they find anything better (the shipped policy's run: in
440,000 PPO steps validation never rose above the warm start). The fine-tuning literature's
remedies, each a field of ``control.train.PolicyTrainConfig`` (0 = off) and each a stable-baselines3
callback here, so SB3's PPO itself stays as it is:

- **value warm-up** (``value_warmup_steps``): the actor is frozen while the critic learns the
  returns of the policy as it is, so the first advantages the actor sees are not noise.
- **KL penalty to the warm start** (``kl_coef``, times ``kl_decay`` per update): each step's reward
  is lowered by ``coef * KL(pi(.|s) || pi_0(.|s))`` (both diagonal Gaussians, so the KL is exact)
  and the returns and advantages are recomputed, as in KL-regularised fine-tuning of a pretrained
  policy (Jaques et al. 2019; Ziegler et al. 2019, for language models).
- **behaviour-cloning steps** (``bc_coef``, times ``bc_decay`` per update): after each PPO update,
  ``bc_steps`` minibatch steps pull the actor's mean toward the expert's command on the warm start's
  expert-labelled states, weighted by the decaying coefficient: DAPG's decaying imitation term
  (Rajeswaran et al. 2018), taken between updates instead of inside PPO's loss.

Every coefficient is a function of the step count alone (``coef * decay ** updates``), so a
resumed run continues the same schedule. ``RewardTerms`` logs each named reward term's mean per
step and its share of the reward's magnitude to TensorBoard (``reward/``, ``reward_share/``).
"""

from __future__ import annotations

import copy

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback


def decayed(coef: float, decay: float, steps: int, steps_per_update: int) -> float:
    """``coef`` after the PPO updates that ``steps`` env steps made (``steps_per_update`` each)."""
    return float(coef) * float(decay) ** (steps // max(1, steps_per_update))


def _actor_parameters(policy) -> list:
    """The parameters only the action distribution uses (SB3's ``ActorCriticPolicy``, separate nets)."""
    import torch

    params = [*policy.mlp_extractor.policy_net.parameters(), *policy.action_net.parameters()]
    if isinstance(getattr(policy, "log_std", None), torch.nn.Parameter):
        params.append(policy.log_std)
    return params


class ValueWarmup(BaseCallback):
    """The actor frozen until ``steps`` env steps, the critic learning meanwhile."""

    def __init__(self, steps: int):
        super().__init__()
        self.steps = int(steps)

    def _set(self, frozen: bool) -> None:
        for p in _actor_parameters(self.model.policy):
            p.requires_grad_(not frozen)  # Adam skips a parameter whose gradient is None
        self.logger.record("finetune/actor_frozen", float(frozen))

    def _on_training_start(self) -> None:
        self._set(self.model.num_timesteps < self.steps)

    def _on_rollout_start(self) -> None:  # after each update: thaw once the warm-up is over
        self._set(self.model.num_timesteps < self.steps)

    def _on_training_end(self) -> None:
        self._set(False)

    def _on_step(self) -> bool:
        return True


class KLToWarmStart(BaseCallback):
    """Each rollout's rewards lowered by ``coef * KL(pi || pi_0)`` per step, the advantages recomputed."""

    def __init__(self, reference_policy, coef: float, decay: float, steps_per_update: int):
        super().__init__()
        self.reference = copy.deepcopy(reference_policy).eval()
        for p in self.reference.parameters():
            p.requires_grad_(False)
        self.coef, self.decay, self.steps_per_update = coef, decay, steps_per_update

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        import torch

        coef = decayed(self.coef, self.decay, self.model.num_timesteps, self.steps_per_update)
        buf = self.locals["rollout_buffer"]
        obs = torch.as_tensor(buf.observations.reshape(-1, *buf.obs_shape), device=self.model.device)
        with torch.no_grad():
            now = self.model.policy.get_distribution(obs).distribution
            ref = self.reference.get_distribution(obs).distribution
            kl = torch.distributions.kl_divergence(now, ref).sum(-1).cpu().numpy().reshape(buf.rewards.shape)
        buf.rewards -= (coef * kl).astype(buf.rewards.dtype)
        buf.compute_returns_and_advantage(last_values=self.locals["values"], dones=self.locals["dones"])
        self.logger.record("finetune/kl_to_warm_start", float(kl.mean()))
        self.logger.record("finetune/kl_coef", coef)


class CloneSteps(BaseCallback):
    """After each PPO update, ``steps`` minibatch steps of ``coef * MSE(actor mean, expert command)``."""

    def __init__(self, data: dict, coef: float, decay: float, steps: int, steps_per_update: int, lr: float,
                 batch: int = 256, seed: int = 0):
        super().__init__()
        self.data, self.coef, self.decay, self.steps = data, coef, decay, int(steps)
        self.steps_per_update, self.lr, self.batch = steps_per_update, lr, batch
        self.rng = np.random.default_rng(seed)
        self.optimizer = None
        self._updates_seen = None

    def _on_step(self) -> bool:
        return True

    def _on_training_start(self) -> None:
        import torch

        self.optimizer = torch.optim.Adam(_actor_parameters(self.model.policy), lr=self.lr)
        self._updates_seen = self.model._n_updates

    def _on_rollout_start(self) -> None:  # called before each rollout: after an update, except the first time
        import torch
        import torch.nn.functional as F

        if self.model._n_updates == self._updates_seen:
            return
        self._updates_seen = self.model._n_updates
        coef = decayed(self.coef, self.decay, self.model.num_timesteps, self.steps_per_update)
        if coef <= 0:
            return
        policy, dev = self.model.policy, self.model.device
        n = len(self.data["actions"])
        total = 0.0
        policy.set_training_mode(True)
        for _ in range(self.steps):
            idx = self.rng.integers(0, n, min(self.batch, n))
            obs = torch.as_tensor(self.data["obs"][idx], device=dev)
            target = torch.as_tensor(self.data["actions"][idx], device=dev)
            latent_pi = policy.mlp_extractor.forward_actor(policy.extract_features(obs, policy.pi_features_extractor))
            loss = coef * F.mse_loss(policy.action_net(latent_pi), target)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            total += float(loss.detach())
        policy.set_training_mode(False)
        self.logger.record("finetune/clone_loss", total / max(1, self.steps))
        self.logger.record("finetune/clone_coef", coef)


class RewardTerms(BaseCallback):
    """Per rollout: each named reward term's mean per step (``reward/<term>``) and its share of the
    reward's total magnitude (``reward_share/<term>``), from ``info["reward_terms"]``."""

    def __init__(self):
        super().__init__()
        self.sums: dict[str, float] = {}
        self.steps = 0

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", ()):
            terms = info.get("reward_terms")
            if not terms:
                continue
            self.steps += 1
            for k, v in terms.items():
                self.sums[k] = self.sums.get(k, 0.0) + float(v)
        return True

    def _on_rollout_end(self) -> None:
        if not self.steps:
            return
        magnitude = sum(abs(v) for v in self.sums.values()) or 1.0
        for k, v in sorted(self.sums.items()):
            self.logger.record(f"reward/{k}", v / self.steps)
            self.logger.record(f"reward_share/{k}", abs(v) / magnitude)
        self.sums, self.steps = {}, 0


class CurriculumLog(BaseCallback):
    """The suite curriculum's belief (``control.curriculum``): each scenario's recent failure rate
    (``curriculum/<scenario>``), as last reported by an env that finished an episode."""

    def __init__(self):
        super().__init__()
        self.rates: dict[str, float] = {}

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", ()):
            self.rates.update(info.get("curriculum_failure_rates") or {})
        return True

    def _on_rollout_end(self) -> None:
        for name, rate in sorted(self.rates.items()):
            self.logger.record(f"curriculum/{name}", rate)


class CorrectionSize(BaseCallback):
    """A residual run's (``control.residual``) mean |executed - teacher| per rollout: ``residual/steer``,
    ``residual/accel`` (what the correction, clipping included, changed of the rule-based driver's command)."""

    def __init__(self):
        super().__init__()
        self.sum, self.steps = np.zeros(2), 0

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", ()):
            if "teacher_action" in info:
                self.sum += np.abs(info["executed_action"] - info["teacher_action"])
                self.steps += 1
        return True

    def _on_rollout_end(self) -> None:
        if self.steps:
            self.logger.record("residual/steer", self.sum[0] / self.steps)
            self.logger.record("residual/accel", self.sum[1] / self.steps)
        self.sum, self.steps = np.zeros(2), 0


class KnobsLog(BaseCallback):
    """A knob run's (``control.knob_policy``) mean knobs per rollout, ``knobs/gap_scale`` and ``knobs/speed_scale``,
    and the share of steps that left the driver's own (``knobs/moved``: either knob off 1 by more than 2 %)."""

    def __init__(self):
        super().__init__()
        self.sum, self.moved, self.steps = np.zeros(2), 0, 0

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", ()):
            if "knobs" in info:
                k = np.asarray(info["knobs"], np.float64)
                self.sum += k
                self.moved += int(np.any(np.abs(k - 1.0) > 0.02))
                self.steps += 1
        return True

    def _on_rollout_end(self) -> None:
        if self.steps:
            self.logger.record("knobs/gap_scale", self.sum[0] / self.steps)
            self.logger.record("knobs/speed_scale", self.sum[1] / self.steps)
            self.logger.record("knobs/moved", self.moved / self.steps)
        self.sum, self.moved, self.steps = np.zeros(2), 0, 0
