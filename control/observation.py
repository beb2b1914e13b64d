"""``PerceptionObservation``: a driving env whose observation is what perception reports.

    env = PerceptionObservation(gym.make("drivestack/Town-v0", render_camera=False))      # labels
    env = PerceptionObservation(gym.make("drivestack/Town-v0"), Perception.from_files())  # models

Each step the wrapped env's frame (``NO_PIXELS`` when the camera is off) and its labels go to the
perception producer (``perception.types.PerceptionProducer``: the models read the pixels,
``GroundTruthPerception`` the labels); the ``PerceptionFrame`` and the ego's own measurements become the
``control.features`` vector, an ordinary ``Box`` observation, so stable-baselines3 needs
nothing special. ``info["perception"]`` carries the ``PerceptionFrame`` of the step.

The light goes through a ``LightMemory`` first: a light hidden for a moment (a bus crossing in
front of the car waiting at red) is still reported, from memory; ``info["light_remembered"]``
says when, and the ``PerceptionFrame`` in ``info`` carries the light the driver was given.
"""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from perception.ground_truth import GroundTruthPerception
from perception.types import NO_PIXELS, Frame, Odometry, PerceptionFrame, PerceptionProducer, SignalPrior

from .features import LAYOUT_ID, OBS_SIZE, EgoMeasurements, encode
from .junction_rules import FullStop
from .light_memory import LightMemory
from .route_features import LAYOUT_V2_ID, OBS_SIZE_V2, RouteGuidance, encode_route

LAYOUTS = {LAYOUT_ID: OBS_SIZE, LAYOUT_V2_ID: OBS_SIZE_V2}  # observation layouts the wrapper produces

OBS_BOUND = 5.0  # every feature is clipped well inside this


class PerceptionObservation(gym.Wrapper):
    def __init__(self, env: gym.Env, perception: PerceptionProducer | None = None, layout: str = LAYOUT_ID):
        super().__init__(env)
        if layout not in LAYOUTS:
            raise ValueError(f"observation layout {layout!r} is not one of {sorted(LAYOUTS)}")
        # v2 appends the route block (control.route_features), which only navigation worlds have
        self.layout = layout
        self.perception = perception if perception is not None else GroundTruthPerception()
        if self.perception.needs_camera and "image" not in env.observation_space.spaces:
            raise ValueError(f"perception from the {self.perception.kind} needs the camera: make the env with render_camera=True")
        self.observation_space = spaces.Box(-OBS_BOUND, OBS_BOUND, (LAYOUTS[layout],), np.float32)
        self.frame: PerceptionFrame | None = None
        self.light_memory = LightMemory()
        self.full_stop = FullStop()  # whether the car has stopped at the next stop-sign line (route block, v2)
        self._index = 0

    @property
    def source(self) -> str:
        """"labels" or "models": where the observation comes from."""
        return self.perception.kind

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.perception.reset(info.get("scene_seed"))
        self._index = 0
        self.light_memory.reset()
        self.full_stop.reset()
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
        # a navigation world's map says where the next signal stands (None without a map: the straight town)
        odometry = Odometry(float(state[0]), float(state[1]))  # speed, yaw rate: the track velocities need them in a turn
        pf = self.perception.process(Frame(obs.get("image", NO_PIXELS), t_s, self._index, source, odometry), gt,
                                     prior=SignalPrior.from_labels(gt.ego))
        # speed over the last step for the memory's odometry: this step's (the simulator's control period is short)
        light = self.light_memory.update(pf.light_state, pf.light_distance_m, float(state[0]), self.env.unwrapped.dt_s)
        if self.light_memory.remembered:
            pf = dataclasses.replace(pf, light_state=light[0], light_distance_m=light[1])
        info["light_remembered"] = self.light_memory.remembered
        self.frame = pf
        info["perception"] = pf
        ego = EgoMeasurements(float(state[0]), float(state[1]), gt.ego.speed_limit_m_s, float(state[2]), float(state[3]))
        obs = encode(pf, ego)
        if self.layout == LAYOUT_V2_ID:
            stopped = self.full_stop.update(float(gt.ego.stop_sign_distance_m), float(state[0]))  # the car's own odometry
            obs = np.concatenate([obs, encode_route(RouteGuidance.from_labels(gt.ego, full_stop_made=stopped))])
        return np.clip(obs, -OBS_BOUND, OBS_BOUND)
