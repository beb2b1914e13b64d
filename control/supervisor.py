"""``SafetySupervisor``: automatic emergency braking and a red-light hold around any policy, with a
record of each intervention.

Each step it reads the ``PerceptionFrame`` behind the observation when the driving loop passes it
(``act(obs, frame)``: every detection, track ids, the depth map), else the policy's own feature
vector. It predicts every road user's path and the ego's over the next seconds and finds the first
overlap of their footprints (``control.prediction``), then brakes in stages as production AEB does
(``control.aeb``: warning, partial, full, each needing more evidence that the road user is real,
released with hysteresis); the brake is the stricter of the stage's and the policy's own (steering is
left to the policy). Where the policy moves the car across lanes (the rule-based driver's overtake,
``RuleBasedPolicy.aim_heading_rad``), the ego's path heads where the policy's steering aims instead of
along the lane. It also keeps the car from crossing a red light's stop line: when the light is
red, the car can still stop with its front less than ``red_overrun_m`` over the line, a comfortable
stop would no longer end before it, and the policy's own braking would not stop the car by the line,
the accel becomes a full brake (a car standing at the line is held there), unless the route block
(layout v2) says the next manoeuvre is a right that may turn on red and the car has made its full stop
at the line (whether the junction is clear is the policy's to judge, as at a stop sign). A non-finite
observation is answered with a safe stop.

Every step it acts is recorded in ``interventions`` (step, stage, reason): each override, and each
warning (which leaves the action alone); a brake stage whose brake the policy's own outdoes changes
nothing and is not recorded. ``activations`` counts how often each AEB stage was entered, whatever the
policy did (entering a stage from a lower one counts every stage passed on the way: a full brake from
nothing is also a warning and a partial brake); ``control.metrics`` turns them into warnings and full
brakes per km.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.config import check_range
from common.vocab import MAX_BRAKE_M_S2

from perception.types import PerceptionFrame

from .aeb import STAGES, AebConfig, StagedBraking
from .features import OBS_SIZE, Decoded, decode
from .junction_rules import FullStop
from .policies import SAFE_STOP, Policy, observation_finite
from .prediction import EgoPath, PredictionConfig, predict_conflicts
from .road_users import RoadUserTracker
from .route_features import OBS_SIZE_V2, RouteGuidance, decode_route, pursuit_curvature


@dataclass(frozen=True)
class SupervisorConfig:
    aeb: AebConfig = AebConfig()  # the braking stages (control.aeb)
    prediction: PredictionConfig = PredictionConfig()  # paths and footprints (control.prediction)
    dt_s: float = 0.05  # the control period (the simulator's 20 Hz) [s]
    # with a route (navigation worlds), the ego's path is the arc through the route point this far ahead:
    # about where the car will be in the middle of the prediction horizon
    route_lookahead_s: float = 1.5  # [s]
    route_lookahead_m: float = 8.0  # at least [m]
    # red lights: hold the car when it can still stop with its front less than this over the line (the
    # simulator counts a red run once the car's centre, 2.3 m behind the front, crosses; the models' line
    # distance reads ~0.5 m short at the line) ...
    red_overrun_m: float = 2.0  # [m]
    red_stop_margin_m: float = 0.5  # ... once a comfortable stop would end less than this before the line [m]
    comfortable_brake_m_s2: float = 3.0  # [m/s^2]
    max_brake_m_s2: float = MAX_BRAKE_M_S2  # the car's (common.vocab) [m/s^2]
    moving_m_s: float = 0.5  # below this speed the car counts as stopped [m/s]

    def __post_init__(self) -> None:
        check_range("supervisor.dt_s", self.dt_s, 1e-3, 1.0)


@dataclass(frozen=True)
class Intervention:
    step: int
    stage: str  # an AEB stage (control.aeb.STAGES: "warning", "partial", "full"), "red_light" or "safe_stop"
    reason: str


class SafetySupervisor(Policy):
    def __init__(self, policy: Policy, config: SupervisorConfig = SupervisorConfig()):
        self.policy = policy
        self.cfg = config
        self.name = f"{policy.name} + supervisor"
        self.observation = policy.observation
        self.tracker = RoadUserTracker()
        self.braking = StagedBraking(config.aeb, config.dt_s)
        self.reset_record()

    def reset_record(self) -> None:
        self.interventions: list[Intervention] = []
        self.activations = {stage: 0 for stage in STAGES[1:]}
        self.active = False  # whether the last action was overridden
        self._step = 0
        self._red_stop = FullStop()  # the full stop at a red line where a right may turn on red

    def reset(self) -> None:
        self.policy.reset()
        self.tracker.reset()
        self.braking.reset()
        self.reset_record()

    def act(self, obs: np.ndarray, frame: PerceptionFrame | None = None) -> np.ndarray:
        step = self._step
        self._step += 1
        self.active = False
        if not observation_finite(obs):
            return self._record(step, "safe_stop", "non-finite observation (perception failure): safe stop", SAFE_STOP.copy())
        action = self.policy.act(obs, frame)
        if self.observation != "features":
            return action
        vector = np.asarray(obs).reshape(-1)
        f = decode(vector[:OBS_SIZE])  # once, for both checks (v2 appends the route block)
        route = decode_route(vector) if vector.size == OBS_SIZE_V2 else None
        standing = f.speed_m_s < self.cfg.moving_m_s
        before = self.braking.level
        decision = self._aeb(f, route, frame, standing)
        for level in range(before + 1, self.braking.level + 1):
            self.activations[STAGES[level]] += 1
        accel = float(action[1])
        brake = -decision.decel_m_s2 / self.cfg.max_brake_m_s2
        # standing, a brake changes something only when the policy would move off
        if decision.stage in ("partial", "full") and brake < accel and not (standing and accel <= 0.0):
            return self._record(step, decision.stage, decision.reason, np.array([action[0], brake], np.float32))
        on_red = route is not None and self._stopped_for_right_on_red(f, route.right_on_red)
        red = None if on_red else self._red_light(f, accel)
        if red:
            return self._record(step, "red_light", red, np.array([action[0], -1.0], np.float32))
        if decision.stage == "warning":  # recorded; the action is left alone
            self.interventions.append(Intervention(step, decision.stage, decision.reason))
        return action

    def _act(self, obs):  # unused: ``act`` is overridden
        raise NotImplementedError

    def _aeb(self, f: Decoded, route: RouteGuidance | None, frame: PerceptionFrame | None, standing: bool):
        # the rule-based driver under it (alone or a residual's teacher) tracked this frame already: its tracks are
        # the ones this tracker would make (same frames and features since the same reset)
        shared = getattr(self.policy, "seen_users", None)
        seen = shared if shared is not None else self.tracker.update(frame, f)
        speed = max(f.speed_m_s, self.cfg.aeb.creep_m_s) if standing else f.speed_m_s
        # the ego follows its route where it has one (through junctions, where no paint guides it), else its
        # lane (the corridor the drivers use, centred on the car), else its own yaw rate
        if route is not None and (route.command != "follow_lane" or not f.lane_known):
            look = max(self.cfg.route_lookahead_m, self.cfg.route_lookahead_s * speed)
            path = EgoPath(speed, pursuit_curvature(route, look))
        elif f.lane_known and getattr(self.policy, "aim_heading_rad", None) is not None:
            # the policy moves the car across lanes (an overtake): the path heads where its steering aims
            path = EgoPath(speed, 0.0, self.policy.aim_heading_rad)
        elif f.lane_known:
            path = EgoPath(speed, f.curvature_1_m, -f.heading_error_rad)
        else:
            path = EgoPath(speed, f.yaw_rate_rad_s / max(f.speed_m_s, 1.0))
        return self.braking.update(predict_conflicts(seen.users, path, self.cfg.prediction), seen, standing)

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

    def _record(self, step: int, stage: str, reason: str, action: np.ndarray) -> np.ndarray:
        """An override: the action replaced, the step recorded."""
        self.active = True
        self.interventions.append(Intervention(step, stage, reason))
        return action
