"""The closed loop of ``drivestack drive``: camera -> perception -> features -> policy (+ supervisor) -> car.

``DriveTap`` is the outermost wrapper around a ``control.envs.make_env`` env: after each reset
and step it draws the drive view (``drivestack.hud``) and hands the step to the episode's
``EpisodeOutput``, the window and the progress bar. ``drive_episode`` runs one episode through
it with ``control.evaluate.run_episode`` and returns the episode's metrics.
"""

from __future__ import annotations

import math
import time

import gymnasium as gym
import numpy as np


class DriveTap(gym.Wrapper):
    """Outermost wrapper: after each reset and step it draws the drive view and hands the step to
    the episode's ``EpisodeOutput``, the window and the progress bar."""

    def __init__(self, env: gym.Env, policy, source: str, show: bool):
        super().__init__(env)
        self.policy, self.source, self.show = policy, source, show
        self.output = None  # EpisodeOutput of the episode being driven
        self.rerun = None  # drivestack.rerun_log.RerunLog of the episode, with --rerun
        self.bar = None
        self.perception_ms: list[float] = []

    def begin(self, output, bar, rerun=None) -> None:
        self.output, self.bar, self.perception_ms, self.rerun = output, bar, [], rerun

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        if self.bar is not None:
            self.bar.reset(total=self.env.unwrapped.max_steps)
        self._emit(info, None)
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._emit(info, action)
        if self.bar is not None:
            self.bar.update(1)
        return obs, reward, terminated, truncated, info

    def _emit(self, info: dict, action) -> None:
        from drivestack.hud import compose

        u = self.env.unwrapped
        pf = info.get("perception")
        if pf is not None and "total" in pf.timings_ms:
            self.perception_ms.append(pf.timings_ms["total"])
        w = u.world
        camera = u.view.last.rgb if u.view is not None and u.view.last is not None else None
        recording = self.output is not None and self.output.recorder is not None
        view = None
        if camera is not None and (recording or self.show):
            view = compose(camera, pf, hud_state(u, self.policy, self.source, info, action))
        if self.output is not None:
            state = np.array([w.ego.speed_m_s, w.ego.yaw_rate_rad_s, *w.prev_action], np.float32)
            self.output.add(pf, info, action, camera_rgb=camera, view_rgb=view, state=state)
        if self.rerun is not None:
            from drivestack.rerun_log import step_signals

            gt = info.get("ground_truth")
            active = bool(self.policy.active) if hasattr(self.policy, "interventions") and action is not None else None
            reason = self.policy.interventions[-1].reason if active else ""
            signals = step_signals(gt, action, info.get("reward_terms"), info.get("events"), active, reason)
            self.rerun.log_step(u.steps, float(w.time_s), camera, pf, gt, signals)
        if self.show and view is not None:
            import cv2

            cv2.imshow("drivestack drive", cv2.cvtColor(view, cv2.COLOR_RGB2BGR))
            cv2.waitKey(1)


def hud_state(env, policy, source: str, info: dict, action):
    """The HUD's ``HudState`` of the step ``env`` (the unwrapped ``DriveEnv``) just took with ``action``
    (None after a reset: the world's previous action) and returned ``info`` for."""
    from drivestack.hud import HudState

    w = env.world
    a = np.asarray(action if action is not None else w.prev_action, np.float64)
    gt = info.get("ground_truth")
    return HudState(speed_m_s=float(w.ego.speed_m_s), speed_limit_m_s=float(gt.ego.speed_limit_m_s) if gt else math.nan,
                    steer=float(a[0]), accel=float(a[1]), supervisor_active=bool(getattr(policy, "active", False)),
                    supervised=hasattr(policy, "interventions"), route_completion=float(info.get("route_completion", 0.0)),
                    time_s=float(w.time_s), policy=policy.name, source=source, route_command=_route_command(gt))


def _route_command(gt) -> str:
    """The navigation's next command for the HUD ("left 35 m"), "" without a route block."""
    if gt is None or gt.ego.route_command is None:
        return ""
    name = gt.ego.route_command.replace("_", " ")
    return f"{name} {gt.ego.route_command_distance_m:.0f} m" if gt.ego.route_command_distance_m > 0 else f"{name} now"


def drive_episode(tap: DriveTap, policy, seed: int, output, bar=None, rerun=None) -> dict:
    """One episode on scene ``seed`` through ``tap``; its metrics (``control.metrics.episode_metrics``
    plus the supervisor's interventions, speed and perception timing). ``rerun``: a
    ``drivestack.rerun_log.RerunLog`` that gets every step too (closed here)."""
    from control.evaluate import run_episode

    tap.begin(output, bar, rerun)
    policy.reset()  # before the reset frame is drawn (run_episode resets it again)
    start = time.perf_counter()
    try:
        m, _ = run_episode(tap, policy, seed)
    except BaseException:
        if output is not None:
            output.abort()
        raise
    finally:
        if rerun is not None:
            rerun.close()  # an interrupted episode's .rrd still holds every step logged so far
    wall = time.perf_counter() - start
    if output is not None:
        output.close()
    m["interventions_list"] = [{"step": i.step, "stage": i.stage, "reason": i.reason}
                               for i in getattr(policy, "interventions", ())]
    m["steps_per_s"] = round(m["steps"] / max(wall, 1e-9), 2)
    m["perception_ms_mean"] = round(float(np.mean(tap.perception_ms)), 2) if tap.perception_ms else None
    return m
