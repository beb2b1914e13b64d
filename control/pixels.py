"""End-to-end observation for the pixels baseline: the camera image and the car's own measurements.

    env = make_pixel_env("town", 300.0)
    obs["image"]  # (PIXEL_HEIGHT, PIXEL_WIDTH, 3) uint8, the forward camera downscaled
    obs["state"]  # (5,) float32: speed, yaw rate, speed limit, previous steer and accel (features' ego block)

No detector, no lane fit: the policy (SB3 ``MultiInputPolicy``, NatureCNN on the image) must learn
what matters from pixels. ``info["features"]`` still carries the label-built feature vector, for the
rule-based expert that warm-starts it and for nothing else.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .features import SLICES

PIXEL_LAYOUT_ID = "drivestack-pixels-v1"
DEFAULT_PIXEL_POLICY = Path(__file__).parent / "models" / "pixels_policy.zip"
PIXEL_HEIGHT, PIXEL_WIDTH = 64, 128  # [px]: NatureCNN's strides need >= 36; a quarter of the 320x160 camera's area / 6


class PixelObservation(gym.Wrapper):
    """Wraps a ``PerceptionObservation`` env (labels, camera on) and observes the image instead."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        if "image" not in env.unwrapped.observation_space.spaces:
            raise ValueError("the pixels observation needs the camera: make the env with render_camera=True")
        self.observation_space = spaces.Dict({
            "image": spaces.Box(0, 255, (PIXEL_HEIGHT, PIXEL_WIDTH, 3), np.uint8),
            "state": spaces.Box(-5.0, 5.0, (SLICES["ego"].stop - SLICES["ego"].start,), np.float32),
        })

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        features, info = self.env.reset(seed=seed, options=options)
        return self._observe(features, info), info

    def step(self, action):
        features, reward, terminated, truncated, info = self.env.step(action)
        return self._observe(features, info), reward, terminated, truncated, info

    def _observe(self, features: np.ndarray, info: dict) -> dict:
        info["features"] = features
        rgb = self.env.unwrapped.view.last.rgb
        small = cv2.resize(rgb, (PIXEL_WIDTH, PIXEL_HEIGHT), interpolation=cv2.INTER_AREA)
        return {"image": small, "state": features[SLICES["ego"]].astype(np.float32)}


def make_pixel_env(stage: str = "town", route_length_m: float = 500.0, training_seed: int | None = None,
                   monitor: bool = False, overrides: tuple[str, ...] = ()) -> gym.Env:
    from common.config import apply_overrides

    from .envs import env_config, make_env

    cfg = env_config(stage, route_length_m, render_camera=True)
    cfg["dense_labels"] = False
    cfg = apply_overrides(cfg, list(overrides))  # ``key.sub_key=value`` env config fields (eval policy --set)
    env = PixelObservation(make_env(stage, route_length_m, training_seed=training_seed, config=cfg))
    if monitor:
        from stable_baselines3.common.monitor import Monitor

        env = Monitor(env, info_keywords=("route_completion",))
    return env
