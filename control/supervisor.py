"""``SafetySupervisor``: emergency braking around any policy, with a record of each intervention.

It reads the same feature vector the policy does. When something in the ego's path (a vehicle
or pedestrian inside the swept corridor, ``control.features.in_path``) is closing with a
time-to-collision under ``ttc_brake_s``, or is nearer than ``min_gap_m`` while the car moves,
it overrides the policy's accel with a full brake (steering is left to the policy). It also keeps
the car from crossing a red light's stop line: when the light is red, the car can still stop with
its front less than ``red_overrun_m`` over the line, a comfortable stop would no longer end
before it, and the policy's own braking would not stop the car by the line, the accel becomes a
full brake (a car standing at the line is held there), unless the route block (layout v2) says
the next manoeuvre is a right that may turn on red and the car has made its full stop at the
line (whether the junction is clear is the policy's to judge, as at a stop sign). A
non-finite observation or action is answered with a safe stop. Each step it intervenes is
recorded in ``interventions`` (step, reason).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.config import check_range
from common.vocab import MAX_BRAKE_M_S2

from .features import DISTANCE_SCALE_M, OBS_SIZE, Decoded, decode, object_column
from .junction_rules import FullStop
from .policies import SAFE_STOP, Policy, observation_finite
from .route_features import OBS_SIZE_V2, decode_route


@dataclass(frozen=True)
class SupervisorConfig:
    ttc_brake_s: float = 1.2  # brake when the time to collision with something in the path falls under this [s]
    min_gap_m: float = 1.5  # ... or when it is this close to the front bumper while moving [m]
    camera_to_bumper_m: float = 1.5  # [m]
    moving_m_s: float = 0.5  # below this speed the car counts as stopped [m/s]
    max_oncoming_m_s: float = 5.0  # closing speeds are capped at the ego's speed plus this [m/s]
    # red lights: hold the car when it can still stop with its front less than this over the line (the
    # simulator counts a red run once the car's centre, 2.3 m behind the front, crosses; the models' line
    # distance reads ~0.5 m short at the line) ...
    red_overrun_m: float = 2.0  # [m]
    red_stop_margin_m: float = 0.5  # ... once a comfortable stop would end less than this before the line [m]
    comfortable_brake_m_s2: float = 3.0  # [m/s^2]
    max_brake_m_s2: float = MAX_BRAKE_M_S2  # the car's (common.vocab) [m/s^2]

    def __post_init__(self) -> None:
        check_range("supervisor.ttc_brake_s", self.ttc_brake_s, 0.0, 10.0)
        check_range("supervisor.min_gap_m", self.min_gap_m, 0.0, 20.0)


@dataclass(frozen=True)
class Intervention:
    step: int
    reason: str


class SafetySupervisor(Policy):
    def __init__(self, policy: Policy, config: SupervisorConfig = SupervisorConfig()):
        self.policy = policy
        self.cfg = config
        self.name = f"{policy.name} + supervisor"
        self.observation = policy.observation
        self.interventions: list[Intervention] = []
        self.active = False  # whether the last action was overridden
        self._step = 0
        self._red_stop = FullStop()  # the full stop at a red line where a right may turn on red

    def reset(self) -> None:
        self.policy.reset()
        self.interventions = []
        self.active = False
        self._step = 0
        self._red_stop.reset()

    def act(self, obs: np.ndarray) -> np.ndarray:
        step = self._step
        self._step += 1
        if not observation_finite(obs):
            return self._override(step, "non-finite observation (perception failure): safe stop", SAFE_STOP.copy())
        action = self.policy.act(obs)
        if self.observation != "features":
            self.active = False
            return action
        flat = np.asarray(obs).reshape(-1)
        f = decode(flat[:OBS_SIZE])  # once, for both checks (v2 appends the route block)
        on_red = flat.size == OBS_SIZE_V2 and self._stopped_for_right_on_red(f, decode_route(flat).right_on_red)
        reason = self._danger(f) or (None if on_red else self._red_light(f, float(action[1])))
        if reason:
            return self._override(step, reason, np.array([action[0], -1.0], np.float32))
        self.active = False
        return action

    def _act(self, obs):  # unused: ``act`` is overridden
        raise NotImplementedError

    def _danger(self, f: Decoded) -> str | None:
        col = object_column
        rows = f.objects[(f.objects[:, col("present")] > 0.5) & (f.objects[:, col("in_path")] > 0.5)]
        if rows.size == 0 or f.speed_m_s < self.cfg.moving_m_s:
            return None
        dist = np.maximum(rows[:, col("x")] * DISTANCE_SCALE_M, 0.5)  # from the camera's foot [m]
        gap = dist - self.cfg.camera_to_bumper_m  # from the front bumper [m]
        closing = rows[:, col("inv_ttc")] * dist  # [m/s] (the feature is closing speed / distance)
        # something in our path rarely comes toward us: a closing speed far above our own is a tracking
        # glitch (a jumped track, a jittery box foot), not a threat to brake for
        closing = np.minimum(closing, f.speed_m_s + self.cfg.max_oncoming_m_s)
        ttc = np.where(closing > 1e-3, np.maximum(gap, 0.0) / np.maximum(closing, 1e-3), np.inf)  # bumper to contact [s]
        k = int(np.argmin(ttc))
        if ttc[k] < self.cfg.ttc_brake_s:
            what = "pedestrian" if rows[k, col("pedestrian")] > 0.5 else "vehicle"
            return f"TTC {ttc[k]:.2f} s to a {what} {gap[k]:.1f} m ahead"
        j = int(np.argmin(gap))
        if gap[j] < self.cfg.min_gap_m:
            what = "pedestrian" if rows[j, col("pedestrian")] > 0.5 else "vehicle"
            return f"a {what} {gap[j]:.1f} m ahead"
        return None

    def _stopped_for_right_on_red(self, f: Decoded, permitted: bool) -> bool:
        """Whether the map permits a right on red at the light ahead and the car has made its full
        stop at its line (remembered once past it, until the next light)."""
        d = f.light_distance_m
        if not permitted or not np.isfinite(d):
            self._red_stop.reset()
            return False
        return self._red_stop.update(d, f.speed_m_s)

    def _red_light(self, f: Decoded, accel: float) -> str | None:
        if f.light_state != "red" or not np.isfinite(f.light_distance_m):
            return None
        c, v, d = self.cfg, max(f.speed_m_s, 0.0), f.light_distance_m
        if d - v * v / (2 * c.max_brake_m_s2) <= -c.red_overrun_m:
            return None  # too late to stop short of running it: braking would leave the car in the crossing
        if d - v * v / (2 * c.comfortable_brake_m_s2) >= c.red_stop_margin_m:
            return None  # the policy still has room to stop by itself
        if accel < 0.0 and (v < c.moving_m_s or d - v * v / (2 * -accel * c.max_brake_m_s2) >= 0.0):
            return None  # the policy is braking hard enough to stop before the line (or standing still)
        return f"red light, stop line {d:.1f} m ahead"

    def _override(self, step: int, reason: str, action: np.ndarray) -> np.ndarray:
        self.active = True
        self.interventions.append(Intervention(step, reason))
        return action
