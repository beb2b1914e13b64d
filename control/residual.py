"""Residual RL: a learned correction on top of the rule-based driver.

The executed command is the rule-based driver's plus ``scale`` x the policy's output, clipped to the
actuators' range (Silver et al. 2018, "Residual Policy Learning"; Johannink et al. 2019, "Residual
Reinforcement Learning for Robot Control"). Why here: a memoryless MLP cloned from the rule-based
driver reaches 0.81 driving score against the teacher's 0.93 on navigation routes (session 10, the
issue-13 note): the teacher keeps state (the overtake, stop-sign and walker memories) and reads every road
user of the frame, the vector holds six. A residual policy starts *as* the teacher (its action head
is zeroed, so the correction is 0 until RL moves it) and RL only has to learn where the teacher is
wrong: braking earlier for a walker about to cross, not standing behind a queue that will not move.

The policy's observation is the env's feature vector with the teacher's command appended (2 values):
the correction depends on what the teacher is about to do. Its layout id is the base layout's with
``+teacher`` (``residual_layout``); ``control.policies.load_policy`` returns a ``ResidualPolicy``
for such a file, which runs its own teacher, so every loop that drives a policy (``eval policy``,
``eval suite``, ``drive``) drives it unchanged. The teacher needs the ``PerceptionFrame`` of each step
(``info["perception"]``), as the rule-based driver does everywhere.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from perception.types import PerceptionFrame

from .observation import OBS_BOUND
from .policies import SAFE_STOP, OnTeacherPolicy, RuleBasedPolicy, SB3Policy

TEACHER_SUFFIX = "+teacher"  # a residual policy's layout id: the env's layout id and this
TEACHER_SIZE = 2  # the teacher's [steer, accel], appended to the observation


def residual_layout(base: str) -> str:
    return base + TEACHER_SUFFIX


def base_layout(layout: str) -> str | None:
    """The env's layout a residual policy's layout id extends, or None for a layout that is not residual."""
    return layout[: -len(TEACHER_SUFFIX)] if layout.endswith(TEACHER_SUFFIX) else None


def command_scales(scale: float | tuple[float, float] | list[float]) -> np.ndarray:
    """The correction's scale per command, [steer, accel], from one number for both or a pair."""
    return np.broadcast_to(np.asarray(scale, np.float32), (2,)).astype(np.float32)


def compose(teacher: np.ndarray, residual: np.ndarray, scale: float | tuple[float, float]) -> np.ndarray:
    """The executed [steer, accel]: the teacher's plus the correction scaled per command, within the actuators'
    [-1, 1]."""
    return np.clip(np.asarray(teacher, np.float32)
                   + command_scales(scale) * np.clip(np.asarray(residual, np.float32), -1.0, 1.0),
                   -1.0, 1.0).astype(np.float32)


def with_teacher(obs: np.ndarray, teacher: np.ndarray) -> np.ndarray:
    return np.concatenate([np.asarray(obs, np.float32).reshape(-1), np.asarray(teacher, np.float32)])


class TeacherResidual(gym.Wrapper):
    """Training side: the agent's action is the correction; the env is stepped with ``compose``'s command.

    ``info["teacher_action"]`` and ``info["executed_action"]`` record both sides of each step.
    ``scale``: one number for both commands or [steer, accel] (a smaller steering scale keeps a correction that
    learns to brake from wobbling the wheel: session 22's run crossed 5x the teacher's solid lines).
    ``correction_cost``: the reward loses this x the mean square of the correction as executed (``scale`` x the
    output, in command units) each step, as the reward term ``correction``: a correction must pay for itself, so
    that where training shows no gain from one (states like those of a world it rarely saw) the policy keeps it
    near 0 and the teacher's command stands (the residual's analogue of a KL cost to the warm start; session 19's
    run B, trained in the town, steered cars on the highway into the next lane)."""

    def __init__(self, env: gym.Env, scale: float | tuple[float, float], teacher: RuleBasedPolicy | None = None,
                 correction_cost: float = 0.0):
        super().__init__(env)
        n = env.observation_space.shape[0]
        self.observation_space = spaces.Box(-OBS_BOUND, OBS_BOUND, (n + TEACHER_SIZE,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.scale = command_scales(scale)
        self.teacher = teacher or RuleBasedPolicy()
        self.correction_cost = float(correction_cost)
        self._teacher_action = SAFE_STOP.copy()

    def _observe(self, obs: np.ndarray, info: dict) -> np.ndarray:
        self._teacher_action = self.teacher.act(obs, info.get("perception"))
        return with_teacher(obs, self._teacher_action)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        self.teacher.reset()
        obs, info = self.env.reset(seed=seed, options=options)
        return self._observe(obs, info), info

    def step(self, action):
        teacher = self._teacher_action
        executed = compose(teacher, action, self.scale)
        obs, reward, terminated, truncated, info = self.env.step(executed)
        info["teacher_action"], info["executed_action"] = teacher, executed
        if self.correction_cost:
            correction = self.scale * np.clip(np.asarray(action, np.float32).reshape(-1), -1.0, 1.0)
            cost = -self.correction_cost * float(np.mean(np.square(correction)))
            if isinstance(info.get("reward_terms"), dict):
                info["reward_terms"]["correction"] = cost
            reward = float(reward) + cost
        return self._observe(obs, info), reward, terminated, truncated, info


class ResidualPolicy(OnTeacherPolicy):
    """Driving side: the rule-based driver and a learned correction (``SB3Policy`` on the extended vector).

    The file's layout is ``residual_layout`` of ``layout``. ``scale``: one number for both commands or [steer, accel],
    as trained."""

    kind = "residual"

    def __init__(self, learned: SB3Policy, layout: str, scale: float | tuple[float, float],
                 teacher: RuleBasedPolicy | None = None):
        super().__init__(learned, layout, teacher)
        self.scale = command_scales(scale)

    def _act_through(self, obs: np.ndarray, frame: PerceptionFrame | None) -> np.ndarray:
        teacher = self.teacher.act(obs, frame)
        return compose(teacher, self.learned.act(with_teacher(obs, teacher)), self.scale)


def zero_correction(model) -> None:
    """Zero a PPO policy's action head, so that its mean correction is 0 everywhere: the run starts as the
    teacher, and exploration (the policy's std) is the only difference until RL moves it."""
    import torch

    with torch.no_grad():
        model.policy.action_net.weight.zero_()
        model.policy.action_net.bias.zero_()
