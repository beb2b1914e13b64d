"""``PerceptionObservation``: a driving env whose observation is what perception reports.

    env = PerceptionObservation(gym.make("drivestack/Town-v0", render_camera=False))      # labels
    env = PerceptionObservation(gym.make("drivestack/Town-v0"), Perception.from_files())  # models

Each step the wrapped env's frame (or, for ``GroundTruthPerception``, its labels) goes through
the perception object; the ``PerceptionFrame`` and the ego's own measurements become the
``control.features`` vector, an ordinary ``Box`` observation, so stable-baselines3 needs
nothing special. ``info["perception"]`` carries the ``PerceptionFrame`` of the step.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from perception.ground_truth import GroundTruthPerception
from perception.types import Frame, PerceptionFrame

from .features import OBS_SIZE, EgoMeasurements, encode

OBS_BOUND = 5.0  # every feature is clipped well inside this


class PerceptionObservation(gym.Wrapper):
    def __init__(self, env: gym.Env, perception=None):
        super().__init__(env)
        self.perception = perception if perception is not None else GroundTruthPerception()
        self.from_labels = isinstance(self.perception, GroundTruthPerception)
        if not self.from_labels and "image" not in env.observation_space.spaces:
            raise ValueError("perception from the models needs the camera: make the env with render_camera=True")
        self.observation_space = spaces.Box(-OBS_BOUND, OBS_BOUND, (OBS_SIZE,), np.float32)
        self.frame: PerceptionFrame | None = None
        self._index = 0

    @property
    def source(self) -> str:
        """"labels" or "models": where the observation comes from."""
        return "labels" if self.from_labels else "models"

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        if self.from_labels:
            self.perception.reset(info.get("scene_seed"))
        elif hasattr(self.perception, "reset"):
            self.perception.reset()
        self._index = 0
        return self._observe(obs, info), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._index += 1
        return self._observe(obs, info), reward, terminated, truncated, info

    def _observe(self, obs: dict, info: dict) -> np.ndarray:
        gt = info["ground_truth"]
        state = obs["state"]
        t_s = self._index * self.env.unwrapped.dt_s
        source = f"sim:{self.env.unwrapped.config.scenario.kind}:{self.env.unwrapped.seed_used}"
        if self.from_labels:
            size = obs["image"].shape[:2] if "image" in obs else (0, 0)
            pf = self.perception.process(gt, float(state[0]), self._index, t_s, size, source)
        else:
            pf = self.perception.process(Frame(obs["image"], t_s, self._index, source))
        self.frame = pf
        info["perception"] = pf
        ego = EgoMeasurements(float(state[0]), float(state[1]), gt.ego.speed_limit_m_s, float(state[2]), float(state[3]))
        return np.clip(encode(pf, ego), -OBS_BOUND, OBS_BOUND)
