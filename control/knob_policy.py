"""A decision-level policy: PPO sets the rule-based driver's knobs (``control.knobs``) each step, the driver drives.

Training side ``TeacherKnobs`` (a gymnasium wrapper: the agent's action is the knobs' action, the env is stepped
with the driver's command under those knobs); driving side ``KnobsPolicy`` (what ``control.policies.load_policy``
returns for such a file, so every loop that drives a policy drives it unchanged). The observation is the env's
feature vector as it is: unlike a residual (``control.residual``) the policy acts *before* the driver, so the
driver's command of the step cannot be part of it (the driver keeps state, and acting twice a step would advance
it twice). A file's layout id is the env's with ``+knobs``.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from perception.types import PerceptionFrame

from .knobs import KNOB_COUNT, knobs_from_action
from .policies import OnTeacherPolicy, RuleBasedPolicy

KNOBS_SUFFIX = "+knobs"  # a knob policy's layout id: the env's layout id and this


def knobs_layout(base: str) -> str:
    return base + KNOBS_SUFFIX


def knobs_base_layout(layout: str) -> str | None:
    """The env's layout a knob policy's layout id extends, or None for a layout that is not a knob policy's."""
    return layout[: -len(KNOBS_SUFFIX)] if layout.endswith(KNOBS_SUFFIX) else None


class TeacherKnobs(gym.Wrapper):
    """The agent's action sets the driver's knobs (``knobs_from_action``); the env is stepped with the driver's command.

    ``info["knobs"]`` holds the step's (gap_scale, speed_scale), ``info["teacher_action"]`` the executed command.
    ``knob_cost``: the reward loses this x the mean square of the action each step (reward term ``knobs``), the
    analogue of the residual's correction cost: a departure from the driver must pay for itself."""

    def __init__(self, env: gym.Env, teacher: RuleBasedPolicy | None = None, knob_cost: float = 0.0):
        super().__init__(env)
        self.action_space = spaces.Box(-1.0, 1.0, (KNOB_COUNT,), np.float32)
        self.teacher = teacher or RuleBasedPolicy()
        self.knob_cost = float(knob_cost)
        self._obs: np.ndarray | None = None
        self._frame: PerceptionFrame | None = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        self.teacher.reset()
        obs, info = self.env.reset(seed=seed, options=options)
        self._obs, self._frame = obs, info.get("perception")
        return obs, info

    def step(self, action):
        a = np.clip(np.asarray(action, np.float32).reshape(-1), -1.0, 1.0)
        knobs = knobs_from_action(a)
        self.teacher.set_knobs(knobs)
        command = self.teacher.act(self._obs, self._frame)
        obs, reward, terminated, truncated, info = self.env.step(command)
        self._obs, self._frame = obs, info.get("perception")
        info["knobs"], info["teacher_action"] = (knobs.gap_scale, knobs.speed_scale), command
        if self.knob_cost:
            cost = -self.knob_cost * float(np.mean(np.square(a)))
            if isinstance(info.get("reward_terms"), dict):
                info["reward_terms"]["knobs"] = cost
            reward = float(reward) + cost
        return obs, reward, terminated, truncated, info


class KnobsPolicy(OnTeacherPolicy):
    """Driving side: the learned knobs (``SB3Policy`` on the env's vector) and the rule-based driver under them.
    The file's layout is ``knobs_layout`` of ``layout``."""

    kind = "knobs"

    @property
    def knobs(self):
        return self.teacher.knobs

    def _act_through(self, obs: np.ndarray, frame: PerceptionFrame | None) -> np.ndarray:
        self.teacher.set_knobs(knobs_from_action(self.learned.act(obs)))
        return self.teacher.act(obs, frame)
