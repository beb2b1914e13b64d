"""``DriveEnv``: the gymnasium env around the world and its camera.

Observation: ``{"image": (H, W, 3) uint8, "state": [speed m/s, yaw rate rad/s, previous steer,
previous accel]}`` (``"image"`` only with ``render_camera``). Action: ``[steer, accel]``; each
component is clipped to [-1, 1] (documented, not an error), NaN or inf raises ``ValueError``.
Positive steer turns left; positive accel is throttle, negative is brake.
``info`` carries ``events``, the named ``reward_terms`` and ``ground_truth`` (``sim.labels``).
``terminated`` on collision, leaving the road, leaving the route (navigation towns) or reaching the
goal; ``truncated`` on the time limit.

Kind ``townnav`` (``drivestack/TownNav-v0``) drives a planned route through a road-graph town
(``sim.nav_world.NavWorld``); its labels carry the route block and its reward the terms of the
navigation events (stop sign, wrong lane, off route).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import cv2
import gymnasium as gym
import numpy as np
from gymnasium import spaces

from common.config import from_dict, merge

from .config import EnvConfig
from .labels import GroundTruth, ground_truth
from .nav_world import NavWorld
from .view import WorldView
from .world import StepEvents, World

WORLDS = {"town": World, "highway": World, "townnav": NavWorld, "highwaynav": NavWorld}  # scenario kind -> world class

STATE_LOW = np.array([0.0, -5.0, -1.0, -1.0], np.float32)
STATE_HIGH = np.array([60.0, 5.0, 1.0, 1.0], np.float32)


class DriveEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(self, config: EnvConfig | dict | None = None, render_mode: str | None = None,
                 scenario_kind: str | None = None, **overrides: Any):
        # ``scenario_kind`` is the registered id's family; an explicit config or override wins over it
        base = {"scenario": {"kind": scenario_kind}} if scenario_kind else {}
        given = asdict(config) if isinstance(config, EnvConfig) else dict(config or {})
        self.config = from_dict(EnvConfig, merge(merge(base, given), overrides))
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode={render_mode!r} is not supported; use one of {self.metadata['render_modes']} or None")
        self.render_mode = render_mode
        cam = self.config.camera
        obs = {"state": spaces.Box(STATE_LOW, STATE_HIGH, dtype=np.float32)}
        if self.config.render_camera:
            obs["image"] = spaces.Box(0, 255, (cam.height_px, cam.width_px, 3), dtype=np.uint8)
        self.observation_space = spaces.Dict(obs)
        self.action_space = spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
        self.dt_s = 1.0 / self.config.control_hz
        self.world: World | None = None
        self.view: WorldView | None = None
        self.seed_used: int | None = None
        self.steps = 0
        self.last_ground_truth: GroundTruth | None = None

    # --- gymnasium API ----------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        scene_seed = int(seed) if seed is not None else int(self.np_random.integers(0, 2**31 - 1))
        self.seed_used = scene_seed
        self.world = self._new_world(scene_seed, options)
        self.view = None
        if self.config.render_camera:
            self.view = make_view(self.world, self.config, scene_seed)
        self.steps = 0
        limit = self.config.max_episode_s
        if limit is None:
            limit = self._default_time_limit_s()
        self.max_steps = int(np.ceil(limit / self.dt_s))
        obs, gt = self._observe()
        return obs, {"ground_truth": gt, "scene_seed": scene_seed}

    def step(self, action):
        if self.world is None:
            raise RuntimeError("call reset() before step()")
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (2,):
            raise ValueError(f"action must hold 2 values [steer, accel], got shape {np.shape(action)}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"action {a.tolist()} is not finite; expected [steer, accel] in [-1, 1]")
        a = np.clip(a, -1.0, 1.0)
        prev = self.world.prev_action.astype(np.float64)
        ev = self.world.step(float(a[0]), float(a[1]))
        self.steps += 1
        obs, gt = self._observe()
        terms = self._reward_terms(ev, a, prev, gt)
        terminated = bool(ev.collision or ev.off_road or ev.off_route or ev.goal)
        truncated = bool(not terminated and self.steps >= self.max_steps)
        info = {"events": ev.as_dict(), "reward_terms": terms, "ground_truth": gt,
                "route_completion": float(min(max(gt.ego.route_progress_m / gt.ego.route_length_m, 0.0), 1.0))}
        return obs, float(sum(terms.values())), terminated, truncated, info

    def render(self):
        if self.world is None:
            return None
        if isinstance(self.world, NavWorld) and not self.config.render_camera:
            return self.world.top_down()  # until navigation towns have a camera: the map around the car
        if self.view is None:  # camera off for speed: build a view only when a picture is asked for
            self.view = make_view(self.world, self.config, self.seed_used)
        frame = self.view.last if (self.view.last is not None and self.config.render_camera) else self.view.render()
        return draw_hud(frame.rgb, self.world, self.config.hud_scale)

    # --- internals --------------------------------------------------------------------------
    def _new_world(self, seed: int, options: dict | None) -> World | NavWorld:
        """The world of a new episode (``options`` unused here; the safety suite's env reads them)."""
        world_class = WORLDS[self.config.scenario.kind]
        return world_class(self.config.scenario, seed, self.dt_s, self.config.physics_substeps)

    def _default_time_limit_s(self) -> float:
        """The episode's time limit when ``max_episode_s`` is None [s]."""
        return self.world.params.route_length_m / (0.25 * self.world.params.speed_limit_m_s) + 30.0

    def _observe(self) -> tuple[dict, GroundTruth]:
        w = self.world
        state = np.array([w.ego.speed_m_s, w.ego.yaw_rate_rad_s, *w.prev_action], np.float32)
        obs = {"state": np.clip(state, STATE_LOW, STATE_HIGH)}
        frame = None
        if self.view is not None and self.config.render_camera:
            frame = self.view.render()
            obs["image"] = frame.rgb
        gt = ground_truth(w, frame, dense=self.config.dense_labels)
        self.last_ground_truth = gt
        return obs, gt

    def _reward_terms(self, ev: StepEvents, a: np.ndarray, prev: np.ndarray, gt: GroundTruth) -> dict[str, float]:
        r = self.config.reward
        limit = gt.ego.speed_limit_m_s
        speed = self.world.ego.speed_m_s
        terms = {
            "progress": r.progress_per_m * ev.progress_m,
            "speed": r.speed * float(max(0.0, 1.0 - abs(speed - limit) / limit)),
            "lane_centre": r.lane_centre * float(max(0.0, 1.0 - abs(gt.ego.lane_offset_m) / (gt.ego.lane_width_m / 2))),
            "collision": r.collision if ev.collision else 0.0,
            "off_road": r.off_road if ev.off_road else 0.0,
            "solid_line": r.solid_line if ev.solid_line else 0.0,
            "red_light": r.red_light if ev.red_light else 0.0,
            "goal": r.goal if ev.goal else 0.0,
            "comfort": r.comfort * float(np.sum((a - prev) ** 2)),
        }
        if gt.ego.route_command is not None:  # navigation towns: the route's own events
            terms.update({"stop_sign": r.stop_sign if ev.stop_sign else 0.0,
                          "wrong_lane": r.wrong_lane if ev.wrong_lane else 0.0,
                          "off_route": r.off_route if ev.off_route else 0.0})
        return terms


def make_view(world, config: EnvConfig, seed: int) -> WorldView:
    """The camera's view of a world (straight roads or a road graph: ``WorldView`` draws both)."""
    return WorldView(world, config.camera, config.randomization, seed)


def draw_hud(rgb: np.ndarray, world: World, scale: int) -> np.ndarray:
    """The camera image upscaled with a small heads-up display (speed, controls, light, progress)."""
    img = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    state, dist, _ = world.relevant_light()
    prog = (world.ego_s - world.start_s) / max(world.goal_s - world.start_s, 1e-6)
    lines = [f"{world.ego.speed_m_s * 3.6:5.1f} km/h  limit {world.params.speed_limit_m_s * 3.6:.0f}",
             f"steer {world.prev_action[0]:+.2f}  accel {world.prev_action[1]:+.2f}",
             f"light {state}" + (f" {dist:.0f} m" if np.isfinite(dist) else ""),
             f"route {100 * prog:5.1f} %  t {world.time_s:5.1f} s"]
    pad = 4 * scale
    h = (len(lines) * 9 + 6) * scale // 2 + pad
    overlay = img[:h + pad, : 118 * scale].copy()
    img[:h + pad, : 118 * scale] = (overlay * 0.45).astype(np.uint8)
    for k, text in enumerate(lines):
        cv2.putText(img, text, (pad, pad + (k + 1) * 9 * scale // 2 + k * scale), cv2.FONT_HERSHEY_SIMPLEX,
                    0.17 * scale, (255, 255, 255), 1, cv2.LINE_AA)
    return img
