"""Training with the safety supervisor in the loop, each of its interventions a cost: ``--set supervised=true``.

At drive time the ``SafetySupervisor`` brakes where a policy would not (``control.supervisor``). Trained
without it, a policy learns to avoid a collision only from the collisions it has, which are rare (the
rule-based driver meets about one per 15 km of the navigation town with labels); with it in the loop and
nothing else, the policy never learns to do without it. Here the supervisor filters every executed command
as it would when driving, so exploration does not crash where the supervisor would have stopped it, and
each step it overrides costs ``intervention_cost``: a dense signal at every near miss, the place where the
policy should have braked earlier itself (Saunders et al. 2018, "Trial without Error: Towards Safe
Reinforcement Learning via Human Intervention": the blocker that prevents a catastrophe also penalises the
action it blocked). Validation drives without the supervisor (``control.validation``), so the run keeps
the weights that drive best on their own.

The cost is the reward term ``intervention`` (``info["reward_terms"]``, so TensorBoard shows its share beside
the driving reward's terms).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from .policies import Policy
from .supervisor import SafetySupervisor


class _Pending(Policy):
    """The command the agent chose this step, handed to the supervisor as its "policy"'s."""

    name = "agent"

    def __init__(self, driver: Policy | None):
        self.action = np.zeros(2, np.float32)
        self._driver = driver

    @property
    def aim_heading_rad(self) -> float | None:  # where an overtake steers: the supervisor's path reads it
        return getattr(self._driver, "aim_heading_rad", None)

    def _act(self, obs: np.ndarray) -> np.ndarray:
        return self.action


class SupervisedTraining(gym.Wrapper):
    """The supervisor between the agent's command and the env; ``intervention_cost`` per overridden step.

    ``driver``: the policy whose ``aim_heading_rad`` says where its steering aims while it moves across lanes
    (the rule-based teacher under a residual policy), or None."""

    def __init__(self, env: gym.Env, intervention_cost: float, driver: Policy | None = None):
        super().__init__(env)
        self.cost = float(intervention_cost)
        self._pending = _Pending(driver)
        self.supervisor = SafetySupervisor(self._pending)
        self._obs = None
        self._frame = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        self.supervisor.reset()
        obs, info = self.env.reset(seed=seed, options=options)
        self._obs, self._frame = obs, info.get("perception")
        return obs, info

    def step(self, action):
        self._pending.action = np.asarray(action, np.float32).reshape(-1)
        executed = self.supervisor.act(self._obs, self._frame)  # what it would let the car do at drive time
        obs, reward, terminated, truncated, info = self.env.step(executed)
        self._obs, self._frame = obs, info.get("perception")
        cost = -self.cost if self.supervisor.active else 0.0
        terms = info.get("reward_terms")
        if isinstance(terms, dict):
            terms["intervention"] = cost
        info["supervisor_override"] = bool(self.supervisor.active)
        return obs, float(reward) + cost, terminated, truncated, info
