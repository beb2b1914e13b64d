"""Driving policies behind one interface: observation in, ``[steer, accel]`` out.

- ``RuleBasedPolicy``: the classical baseline. Pure-pursuit steering on the lane estimate, IDM
  speed control behind whatever is in the path, stopping at red (and comfortably stoppable
  yellow) lights; with a route block (layout v2) the junction rules of ``control.junction_rules``
  (stop signs, permitted lefts, right on red where the map permits it); around a stationary
  obstacle in its lane, the overtake of ``control.overtake``. It reads the same feature vector as
  the learned policy (``control.features``), and for the overtake every road user of the
  ``PerceptionFrame`` when the loop hands it one (the vector holds only the six most relevant).
- ``SB3Policy``: a stable-baselines3 model (PPO or SAC on features, or the end-to-end CNN on
  pixels), loaded and checked by ``load_policy``.

Every policy answers a non-finite observation (a perception failure) with a safe stop
(``SAFE_STOP``: wheel straight, full brake) instead of an exception.
"""

from __future__ import annotations

import io
import json
import zipfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from common.vocab import CAMERA_MOUNT, CAMERA_TO_BUMPER_M, EGO_WHEELBASE_M, MAX_ACCEL_M_S2, MAX_BRAKE_M_S2, MAX_STEER_RAD
from perception.types import PerceptionFrame
from sim.idm import IDMParams, idm_accel

from .angled_bodies import angled_body_gap_m, lane_line
from .features import LAYOUT_ID, OBS_SIZE, decode, object_column
from .junction_gaps import WalkerMemory, route_leader, route_line, walker_gap_m
from .crossers import CROSSING_LINE_M, crossing_gap_m
from .junction_rules import JunctionRules
from .knobs import IDENTITY, Knobs
from .overtake import Overtake, users_from_frame, users_from_rows
from .road_users import RoadUserTracker
from .route_lane_change import RouteLaneChange
from .route_features import LAYOUT_V2_ID, OBS_SIZE_V2, RouteGuidance, decode_route, pursuit_curvature

if TYPE_CHECKING:
    from .knob_policy import KnobsPolicy
    from .residual import ResidualPolicy

JUNCTION_COMMANDS = ("left", "right", "straight")  # the route block's junction manoeuvres
SAFE_STOP = np.array([0.0, -1.0], np.float32)
STANDING_AT_LINE_M_S = 0.5  # slower than this at a light's line on yellow, the car stays [m/s]
POLICY_KINDS = ("ppo", "sac")
MODELS_DIR = Path(__file__).parent / "models"
DEFAULT_POLICY = MODELS_DIR / "policy.zip"
FEATURE_LAYOUTS = {LAYOUT_ID: OBS_SIZE, LAYOUT_V2_ID: OBS_SIZE_V2}  # feature layouts a policy file may read
NAV_STAGES = ("townnav_empty", "townnav_traffic", "townnav")  # a route-reading policy's curriculum (control.envs.STAGES)


class PolicyError(ValueError):
    """A policy file that cannot be used: the message names the file and why."""


class Policy(ABC):
    name: str = "policy"
    observation: str = "features"  # what ``act`` takes: "features" (control.features) or "pixels"

    def reset(self) -> None:
        """Forget per-episode state (called at every episode start)."""

    def act(self, obs: np.ndarray, frame: PerceptionFrame | None = None) -> np.ndarray:
        """[steer, accel] in [-1, 1]; a safe stop when the observation is not finite. ``frame``: the
        ``PerceptionFrame`` the observation was encoded from, where the loop has it (``info["perception"]``);
        a policy reads its observation only, a wrapper such as the safety supervisor may read more."""
        if not observation_finite(obs):
            return SAFE_STOP.copy()
        action = np.asarray(self._act(obs), np.float32).reshape(2)
        if not np.all(np.isfinite(action)):
            return SAFE_STOP.copy()
        return np.clip(action, -1.0, 1.0)

    @abstractmethod
    def _act(self, obs: np.ndarray) -> np.ndarray: ...


def observation_finite(obs) -> bool:
    """Whether every float in an observation (a vector, or a dict of arrays for pixel policies) is finite."""
    parts = obs.values() if isinstance(obs, dict) else (obs,)
    for part in parts:
        a = np.asarray(part)
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            return False
    return True


@dataclass(frozen=True)
class RuleBasedConfig:
    lookahead_s: float = 0.9  # pure-pursuit lookahead time [s]
    min_lookahead_m: float = 6.0  # [m]
    speed_factor: float = 0.95  # cruise at this fraction of the speed limit
    max_lateral_accel_m_s2: float = 2.5  # slows in curves to stay below this [m/s^2]
    stop_margin_m: float = 1.0  # stop this far before a stop line [m]
    # at red, a car whose front is over the line by less than this (the simulator counts a red run once the
    # car's centre, 2.3 m behind the front, crosses) still stops rather than going on [m]
    red_line_overrun_m: float = 1.5
    comfortable_brake_m_s2: float = 3.0  # stops for yellow only if this suffices [m/s^2]
    camera_to_bumper_m: float = CAMERA_TO_BUMPER_M  # camera foot to the front bumper [m]
    lost_lane_speed_m_s: float = 3.0  # crawl at this speed while no lane is seen [m/s]
    # the car (common.vocab: the simulator's ego)
    wheelbase_m: float = EGO_WHEELBASE_M  # [m]
    max_steer_rad: float = MAX_STEER_RAD  # [rad]
    max_accel_m_s2: float = MAX_ACCEL_M_S2  # [m/s^2]
    max_brake_m_s2: float = MAX_BRAKE_M_S2  # [m/s^2]
    # IDM (Treiber et al.): time headway, jam distance, max accel, comfortable decel
    idm_headway_s: float = 1.2
    idm_jam_m: float = 3.0
    idm_accel_m_s2: float = 2.0
    idm_decel_m_s2: float = 3.0
    # with a route (layout v2): the route line takes over the steering this far before a junction
    # manoeuvre and through it, where there is no paint to see [m]
    route_handover_m: float = 8.0
    # ... and yields to walkers on or stepping onto its path this far before a junction manoeuvre and through it [m]
    walker_yield_m: float = 20.0


class RuleBasedPolicy(Policy):
    name = "rule-based"

    def __init__(self, config: RuleBasedConfig = RuleBasedConfig()):
        self.cfg = config
        self.idm = IDMParams(T_s=config.idm_headway_s, s0_m=config.idm_jam_m, a_m_s2=config.idm_accel_m_s2,
                             b_m_s2=config.idm_decel_m_s2, max_brake_m_s2=config.max_brake_m_s2)
        self.junctions = JunctionRules()  # stop signs and permitted lefts (layout v2)
        self.overtake = Overtake()  # passing a stationary obstacle in the lane
        self.lane_change = RouteLaneChange(handover_m=config.route_handover_m)  # the route's lane changes: look first
        self.walkers = WalkerMemory()  # walkers beside a junction manoeuvre's path, also once out of view
        self.bodies = RoadUserTracker()  # footprints turned as each body last moved (control.angled_bodies)
        self._frame: PerceptionFrame | None = None
        self.knobs = IDENTITY  # its decisions' gaps and cruise speed, as a decision-level policy sets them
        # while the overtake moves the car across lanes: the direction (ego frame, + left) of the point its
        # steering aims at, for the safety supervisor's path (it otherwise assumes the car follows its lane) [rad]
        self.aim_heading_rad: float | None = None

    def reset(self) -> None:
        self.junctions.reset()
        self.overtake.reset()
        self.lane_change.reset()
        self.walkers.reset()
        self.bodies.reset()
        self._frame = None
        self.aim_heading_rad = None
        self.set_knobs(IDENTITY)

    def set_knobs(self, knobs: Knobs) -> None:
        """The knobs of the steps from now on (``control.knobs``: x its time gaps, x its cruise speed)."""
        self.knobs = knobs
        self.junctions.gap_scale = knobs.gap_scale
        self.overtake.gap_scale = knobs.gap_scale
        self.lane_change.gap_scale = knobs.gap_scale

    def act(self, obs: np.ndarray, frame: PerceptionFrame | None = None) -> np.ndarray:
        self._frame = frame  # the overtake reads every road user of it
        self._seen = None  # set again by _act from this frame (a subclass's _act may not track)
        return super().act(obs, frame)

    @property
    def seen_users(self):
        """The road users this step's ``act`` tracked (``control.road_users.SeenUsers``), or None. The safety
        supervisor reads them rather than tracking the same frame again with a tracker of its own (the same
        inputs since the same reset give the same tracks; the tracking is about a fifth of a step's policy time)."""
        return getattr(self, "_seen", None)

    def _act(self, obs: np.ndarray) -> np.ndarray:
        obs = np.asarray(obs).reshape(-1)
        f = decode(obs[:OBS_SIZE])
        route = decode_route(obs) if obs.size == OBS_SIZE_V2 else None
        users = users_from_frame(self._frame, f.speed_m_s) if self._frame is not None else users_from_rows(f)
        col = object_column
        rows = f.objects[(f.objects[:, col("present")] > 0.5) & (f.objects[:, col("in_path")] > 0.5)]
        path_gaps = rows[:, col("x")] * 50.0 - self.cfg.camera_to_bumper_m  # what the speed control stops for
        self._users = users
        self._seen = self.bodies.update(self._frame, f)
        near_turn = route is not None and route.distance_m < self.cfg.walker_yield_m
        turning = near_turn and route.command in ("left", "right")
        self.walkers.update(users, route if turning else None, f.speed_m_s, f.yaw_rate_rad_s)
        if not turning:
            self.walkers.reset()
        self.overtake.update(f, users, route, self.cfg.speed_factor * f.speed_limit_m_s * self.knobs.speed_scale, path_gaps)
        self.lane_change.update(f, route, self.overtake)
        look = max(self.cfg.min_lookahead_m, self.cfg.lookahead_s * f.speed_m_s)
        self.aim_heading_rad = None
        if self.lane_change.steers_route and not self.overtake.active:  # a lane change finished late
            steer = self._steer_route(route, self.lane_change.lookahead_m(f.speed_m_s))
        elif self._route_steers(f, route) and not self.overtake.active:
            steer = self._steer_route(route, look)
        elif self.overtake.active:  # its own estimate of the car's place: the seen lane may follow the car across
            aim_y = self.overtake.aim_y_m(look)
            steer = self._pursue(aim_y, look)
            if self.overtake.moving_across:
                self.aim_heading_rad = float(np.arctan2(aim_y, look))
        else:
            steer = self._steer(f)
        return np.array([steer, self._accel(f, route)], np.float32)

    def _route_steers(self, f, route: RouteGuidance | None) -> bool:
        """The route line steers inside junctions and lane changes and wherever the lane is lost;
        the seen lane steers elsewhere (it is what the camera checks the map against)."""
        if route is None:
            return False
        near = route.distance_m < self.cfg.route_handover_m
        return not f.lane_known or (route.command != "follow_lane" and near and not self.lane_change.keeps_lane)

    def _steer_route(self, route: RouteGuidance, look: float) -> float:
        """Pure pursuit on the route point ``look`` metres along the waypoints."""
        delta = np.arctan(pursuit_curvature(route, look) * self.cfg.wheelbase_m)
        return float(min(max(delta / self.cfg.max_steer_rad, -1.0), 1.0))  # min/max: np.clip is slow on a scalar

    def _steer(self, f, target_m: float = 0.0) -> float:
        """Pure pursuit on the point ``target_m`` left of the lane centre (the centre itself but in an overtake)."""
        if not f.lane_known:
            return 0.0
        look = max(self.cfg.min_lookahead_m, self.cfg.lookahead_s * f.speed_m_s)
        return self._pursue(self._aim_y(f, target_m, look), look)

    def _pursue(self, aim_y_m: float, look_m: float) -> float:
        """Pure pursuit: the steering that drives through the point ``look_m`` ahead, ``aim_y_m`` left."""
        delta = np.arctan(2.0 * aim_y_m / look_m**2 * self.cfg.wheelbase_m)
        return float(min(max(delta / self.cfg.max_steer_rad, -1.0), 1.0))

    @staticmethod
    def _aim_y(f, target_m: float, look: float) -> float:
        """The point ``target_m`` left of the lane centre ``look`` metres ahead, left of the ego's axis
        (small-angle Frenet approximation) [m]."""
        return (target_m - f.lane_offset_m) * np.cos(f.heading_error_rad) - look * np.sin(f.heading_error_rad) \
            + 0.5 * f.curvature_1_m * look**2

    def _accel(self, f, route: RouteGuidance | None = None) -> float:
        c = self.cfg
        v = f.speed_m_s
        cruise = c.speed_factor * f.speed_limit_m_s * self.knobs.speed_scale
        kappa = abs(f.curvature_1_m) if route is None else max(abs(f.curvature_1_m), route_curvature(route))
        if kappa > 1e-4:
            cruise = min(cruise, np.sqrt(c.max_lateral_accel_m_s2 / kappa))
        if not f.lane_known and route is None:
            cruise = min(cruise, c.lost_lane_speed_m_s)
        # waiting to merge into a stream: let its gaps come past; a walker at a turn's corner out of view: walking pace
        cruise = min(cruise, self.overtake.speed_cap_m_s(), self.walkers.speed_cap_m_s(), self.lane_change.speed_cap_m_s())
        # the nearest leader in the path (gap [m], its speed [m/s]) and, apart from it, the nearest place the car must
        # stop at (a line, a crossing, a hold): each its own IDM constraint, the lower acceleration wins. One nearest
        # gap for both let a leader 30 m ahead at 15 m/s hide a yellow light's line 42 m ahead that the car could
        # stop at, and the car followed it through into red (validation route 800013, exact labels)
        gap, v_lead = np.inf, 0.0
        stop = np.inf
        objs = f.objects
        col = object_column
        for row in objs[(objs[:, col("present")] > 0.5) & (objs[:, col("in_path")] > 0.5)]:
            x_m, y_m = row[col("x")] * 50.0 + CAMERA_MOUNT.forward_m, row[col("y")] * 10.0
            if self.overtake.passes(x_m, y_m, row[col("width")] * 3.0, f):
                continue  # the overtake's path passes beside it
            if self.overtake.keeps_gap(x_m, y_m, v + row[col("vx")] * 10.0, f):
                continue  # a car of the stream the car merges into: the overtake's speed cap keeps its gap
            g = row[col("x")] * 50.0 - c.camera_to_bumper_m  # nearest point's distance, already edge to edge
            if g < gap:
                gap, v_lead = g, max(0.0, v + row[col("vx")] * 10.0)
        # a light's line counts until the front is past it; at red, also while the car can still stop with
        # its front less than red_line_overrun_m over it (stopped a little over the line, it stays put)
        overrun = f.light_distance_m - v * v / (2 * c.max_brake_m_s2)
        on_red = route is not None and self.junctions.red_light_waived(f, route)  # a right on red: the rules below
        if f.light_state in ("red", "yellow") and not on_red and (f.light_distance_m > -0.5 or (
                f.light_state == "red" and overrun > -c.red_line_overrun_m)):
            d = f.light_distance_m - c.stop_margin_m
            # on yellow: stop where it can comfortably, and stay where it stands at the line (within the margin
            # of it, "can it stop" read no and a car waiting there for a permitted left went on yellow into red)
            if f.light_state == "red" or d > v * v / (2 * c.comfortable_brake_m_s2) or v < STANDING_AT_LINE_M_S:
                stop = min(stop, max(d, 0.05))
        # a road user moving across the path ahead (control.crossers): along the route, through junctions too, or
        # without one along the lane ahead, far enough for where the car will be in 2 s at up to 130 km/h
        crossing = crossing_gap_m(f, np.vstack([[0.0, 0.0], route.waypoints_m]) if route is not None
                                  else lane_line(f, CROSSING_LINE_M))
        if route is not None:
            if route.command in JUNCTION_COMMANDS and route.distance_m < c.walker_yield_m:
                # a crosswalk the car turns across: the walkers in view and those remembered out of it
                crossing = min(crossing, walker_gap_m(self._users, route, v), walker_gap_m(self.walkers.unseen(), route, v))
                lead_gap, lead_v = route_leader(self._users, route)  # a car just round the corner
                if lead_gap < gap:
                    gap, v_lead = max(lead_gap, 0.05), lead_v
        stop = min(stop, max(crossing, 0.05))
        # a vehicle angled across the corridor that will still be there when the car arrives (control.angled_bodies):
        # the route's corridor through a junction manoeuvre or where no lane is seen, else the lane's
        in_turn = route is not None and route.command in JUNCTION_COMMANDS and route.distance_m < c.walker_yield_m
        on_route = route is not None and (in_turn or not f.lane_known)
        body = angled_body_gap_m(self._seen, route_line(route, extend=True) if on_route else lane_line(f), v)
        stop = min(stop, max(body, 0.05))
        hold = self.junctions.hold_m(f, route, self._users) if route is not None else None
        if hold is not None:  # a stop sign, a right on red or a left that must yield: a standing obstacle whose IDM
            # standstill gap ends at the stop margin, so the car stops close enough to count as stopped at the line
            stop = min(stop, max(hold - c.stop_margin_m, 0.0) + self.idm.s0_m)
        wait = self.overtake.hold_gap_m()  # waiting to pass: stop short of the obstacle, room to pull out
        stop = min(stop, max(wait, 0.0) + self.idm.s0_m)
        a = float(idm_accel(v, cruise, gap, v_lead, self.idm))
        if stop < np.inf:
            a = min(a, float(idm_accel(v, cruise, stop, 0.0, self.idm)))
        return float(min(max(a / (c.max_accel_m_s2 if a > 0 else c.max_brake_m_s2), -1.0), 1.0))


class HoldSpeedPolicy(RuleBasedPolicy):
    """Keeps its lane and the speed it had at the episode's first step, blind to everything else: the
    driver of Euro NCAP's AEB tests, who leaves avoiding the collision to the car (``SafetySupervisor``)."""

    name = "hold-speed"
    speed_gain_1_s = 0.5  # accel command per m/s below the held speed [1/(m/s)]

    def reset(self) -> None:
        super().reset()
        self.speed_m_s: float | None = None  # the speed held [m/s]

    def _act(self, obs: np.ndarray) -> np.ndarray:
        f = decode(np.asarray(obs).reshape(-1)[:OBS_SIZE])
        if getattr(self, "speed_m_s", None) is None:
            self.speed_m_s = f.speed_m_s
        accel = np.clip(self.speed_gain_1_s * (self.speed_m_s - f.speed_m_s), -1.0, 1.0)
        return np.array([self._steer(f), accel], np.float32)


class OnTeacherPolicy(Policy):
    """A learned network that acts through the rule-based driver (``control.residual``: a correction on its command;
    ``control.knob_policy``: its knobs). ``layout`` is the env's layout (what the loops build the env with); the
    driver's state and road users are the policy's, for the safety supervisor. ``act`` is the whole policy (it needs
    the frame); a perception failure is the safe stop."""

    observation = "features"
    kind = "on the driver"  # how the name says what the learned part does

    def __init__(self, learned: "SB3Policy", layout: str, teacher: RuleBasedPolicy | None = None):
        self.learned = learned
        self.layout = layout
        self.teacher = teacher or RuleBasedPolicy()
        self.name = (learned.name.replace("(", f"({self.kind}, ", 1) if "(" in learned.name
                     else f"{learned.name} ({self.kind})")

    @property
    def aim_heading_rad(self) -> float | None:
        """Where the driver's overtake steers (the supervisor's path reads it)."""
        return self.teacher.aim_heading_rad

    @property
    def seen_users(self):
        """The driver's road users of this step (``RuleBasedPolicy.seen_users``), for the supervisor."""
        return self.teacher.seen_users

    def reset(self) -> None:
        self.teacher.reset()
        self.learned.reset()

    def act(self, obs: np.ndarray, frame: PerceptionFrame | None = None) -> np.ndarray:
        if not observation_finite(obs):
            return SAFE_STOP.copy()
        return self._act_through(obs, frame)

    @abstractmethod
    def _act_through(self, obs: np.ndarray, frame: PerceptionFrame | None) -> np.ndarray: ...

    def _act(self, obs: np.ndarray) -> np.ndarray:  # act() is the whole policy
        raise NotImplementedError


def route_curvature(route: RouteGuidance) -> float:
    """The sharpest curvature of the route over its next waypoints (circles through consecutive
    triples) [1/m]: a turn ahead slows the car before it gets there. Waypoints the block clipped at its
    range are left out: bunched at the edge, they made a sharp bend that was not there (a 1 m/s crawl)."""
    p = route_line(route)
    a, b, c = p[:-2], p[1:-1], p[2:]
    cross = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    sides = np.hypot(*(b - a).T) * np.hypot(*(c - b).T) * np.hypot(*(c - a).T)
    kappa = 2.0 * np.abs(cross) / np.maximum(sides, 1e-6)
    return float(kappa.max()) if len(kappa) else 0.0


class SB3Policy(Policy):
    """A trained stable-baselines3 model, deterministic actions. ``layout``: the observation layout it
    reads (``FEATURE_LAYOUTS`` or the pixels baseline's), as saved by ``save_policy``."""

    def __init__(self, model, name: str, observation: str = "features", layout: str = LAYOUT_ID):
        from .numpy_actor import NumpyActor

        self.model = model
        self.name = name
        self.observation = observation
        self.layout = layout
        # the same deterministic action without torch's per-call overhead (checked equal at load; None: predict)
        self.fast = NumpyActor.from_sb3(model) if observation == "features" else None

    def _act(self, obs: np.ndarray) -> np.ndarray:
        if self.fast is not None:
            return self.fast(obs)
        action, _ = self.model.predict(obs, deterministic=True)
        return action


def _algorithm_of(path: Path) -> str:
    """"ppo" or "sac", from the policy class recorded in the SB3 zip."""
    with zipfile.ZipFile(path) as zf:
        if "data" not in zf.namelist():
            raise PolicyError(f"{path} is a zip but not a stable-baselines3 policy (no 'data' entry)")
        data = json.load(io.TextIOWrapper(zf.open("data"), encoding="utf-8"))
    module = str(data.get("policy_class", {}).get("__module__", ""))
    if "sac" in module:
        return "sac"
    if "common.policies" in module or "ppo" in module:
        return "ppo"
    raise PolicyError(f"{path}: policy class from {module!r} is not one of {POLICY_KINDS}")


def load_policy(path: str | Path, device: str = "auto") -> "SB3Policy | ResidualPolicy | KnobsPolicy":
    """Load a policy saved by ``drivestack train policy`` (a correction on the rule-based driver comes back as
    ``control.residual.ResidualPolicy``, the driver's knobs as ``control.knob_policy.KnobsPolicy``); clear errors
    for anything else."""
    from .pixels import PIXEL_LAYOUT_ID

    path = Path(path)
    if not path.is_file():
        raise PolicyError(f"policy file {str(path)!r} not found")
    if not zipfile.is_zipfile(path):
        raise PolicyError(f"{str(path)!r} is not a stable-baselines3 policy (.zip saved by `drivestack train policy`)")
    try:
        algo = _algorithm_of(path)
    except (json.JSONDecodeError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
        raise PolicyError(f"{str(path)!r} is not a readable stable-baselines3 policy: {exc}") from None
    from stable_baselines3 import PPO, SAC

    cls = {"ppo": PPO, "sac": SAC}[algo]
    try:
        model = cls.load(path, device=device)
    except Exception as exc:  # SB3 raises many kinds on a corrupt or foreign file
        raise PolicyError(f"{str(path)!r} could not be loaded as a {algo.upper()} policy: {exc}") from None
    layout = getattr(model, "drivestack_observation", None)
    if layout == PIXEL_LAYOUT_ID:
        return SB3Policy(model, f"{algo}-pixels ({path.name})", observation="pixels", layout=layout)
    shape = tuple(model.observation_space.shape or ())
    from .residual import TEACHER_SIZE, ResidualPolicy, base_layout

    base = base_layout(layout or "")
    if base in FEATURE_LAYOUTS and shape == (FEATURE_LAYOUTS[base] + TEACHER_SIZE,):  # a correction on the rule-based driver
        scale = getattr(model, "drivestack_residual_scale", None)
        if scale is None:
            raise PolicyError(f"{str(path)!r} is a correction on the rule-based driver ({layout}) but records no "
                              "correction scale: save it with `drivestack train policy --set residual=true`")
        return ResidualPolicy(SB3Policy(model, f"{algo} ({path.name})", layout=layout), base, scale)
    from .knob_policy import KnobsPolicy, knobs_base_layout

    base = knobs_base_layout(layout or "")
    if base in FEATURE_LAYOUTS and shape == (FEATURE_LAYOUTS[base],):  # the rule-based driver's knobs
        return KnobsPolicy(SB3Policy(model, f"{algo} ({path.name})", layout=layout), base)
    if layout not in FEATURE_LAYOUTS or shape != (FEATURE_LAYOUTS[layout],):
        known = ", ".join(f"{k} ({v},)" for k, v in FEATURE_LAYOUTS.items())
        raise PolicyError(f"{str(path)!r} expects observations {layout or 'of unknown layout'} with shape {shape}; "
                          f"this drivestack gives {known}: retrain it with `drivestack train policy`")
    return SB3Policy(model, f"{algo} ({path.name})", layout=layout)


def world_layout(scenario: str) -> str:
    """The feature layout a world's observation has by default: v2 (with the route block) in the
    navigation worlds and the suite's junction cases (``suite-nav``), v1 elsewhere."""
    from .envs import NAV_KINDS
    from .evaluate import SUITE_NAV

    return LAYOUT_V2_ID if scenario in (*NAV_KINDS, SUITE_NAV) else LAYOUT_ID


def layout_mismatch(policy: "SB3Policy", scenario: str) -> str | None:
    """None when ``policy`` can read the observation of ``scenario``'s world, else one line naming
    both layouts and how to get a policy that matches. A v2 policy reads every world (the straight
    ones then carry a follow-the-lane route block, ``sim.route_block``); a v1 policy cannot follow a
    navigation world's route."""
    want = world_layout(scenario)
    if policy.layout == LAYOUT_V2_ID or policy.layout == want:
        return None
    return (f"the policy reads observation layout {policy.layout}, the {scenario} world gives {want}: train one that "
            f"reads the route with `drivestack train policy --set stages={','.join(NAV_STAGES)}`, "
            "or drive it with the rule-based policy")


def save_policy(model, path: str | Path, layout: str = LAYOUT_ID,
                residual_scale: float | tuple[float, float] | None = None) -> Path:
    """Save an SB3 model with the observation layout it was trained on (checked by ``load_policy``) and, for a
    correction on the rule-based driver (``control.residual``), the correction's scale (one number, or [steer,
    accel])."""
    model.drivestack_observation = layout
    if residual_scale is not None:
        model.drivestack_residual_scale = (float(residual_scale) if isinstance(residual_scale, (int, float))
                                           else [float(v) for v in residual_scale])
    path = Path(path)
    tmp = path.with_name(path.stem + ".partial.zip")
    model.save(tmp)
    tmp.replace(path if path.suffix == ".zip" else path.with_suffix(".zip"))
    return path if path.suffix == ".zip" else path.with_suffix(".zip")
