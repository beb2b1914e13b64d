"""What a suite run produced, kept up to date step by step: what the ego hit first and how fast, how
close it came to the target (gap, time to collision), whether and from when the camera saw the target,
and whether the run passed its criterion.

``min_ttc_s`` is the first time, over the next ``TTC_HORIZON_S``, at which the ego's and the target's
footprints would overlap if both kept their present velocities (sampled every ``TTC_STEP_S``): it
covers a target ahead in the lane and one crossing alike.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from ..collision import box_gap_m, obb_overlap
from .types import JunctionPlan, ScenarioPlan
from .junction_world import JunctionWorld
from .world import SuiteWorld

TTC_HORIZON_S = 6.0  # [s]
TTC_STEP_S = 0.05  # [s]
STOPPED_M_S = 0.5  # the ego stands below this [m/s]
_TAU = np.arange(0.0, TTC_HORIZON_S + 1e-9, TTC_STEP_S)


@dataclass
class SuiteOutcome:
    scenario: str
    params: dict[str, float]
    seed: int
    criterion: str  # "no_collision" | "route" (``sim.suite.types.CRITERIA``)
    planned_impact_s: float | None  # when the target meets the ego's front if the ego holds its speed [s]
    time_s: float = 0.0  # time into the run [s]
    collision: str | None = None  # the first thing hit: "target" | "obstruction" | "traffic" | "static"
    collision_id: int = -1  # its instance id
    impact_speed_kmh: float | None = None  # the ego's speed at that first collision [km/h]
    impact_time_s: float | None = None  # [s]
    min_gap_m: float = math.inf  # the closest the ego's footprint came to the target's [m]
    min_ttc_s: float = math.inf  # the shortest time to collision with the target seen [s] (see module docstring)
    target_visible_s: float | None = None  # when the camera first saw a pixel of the target [s]; None: never, or no camera
    target_visible_m: float | None = None  # the target's distance from the camera then [m]
    off_road: bool = False
    longest_stop_s: float = 0.0  # the longest the ego stood (below ``STOPPED_M_S``) in one go [s]
    max_stop_s: float | None = None  # the scenario's limit on that (None: none); a longer stop fails the run [s]
    off_route: bool = False  # a wrong turn (junction cases)
    red_light: bool = False  # the ego ran a red light (junction cases)
    failed_to_yield: bool = False  # ... did not give way (``sim.suite.junction_world``)
    blocked_junction: bool = False  # ... entered a junction with no room to leave it (``sim.nav_world``)
    goal: bool = False
    done: bool = False
    passed: bool | None = None  # decided when the run ends

    @staticmethod
    def start(plan: ScenarioPlan | JunctionPlan) -> "SuiteOutcome":
        impact = None if math.isnan(plan.impact_time_s) else plan.impact_time_s
        limit = None if math.isinf(plan.max_stop_s) else plan.max_stop_s
        return SuiteOutcome(plan.name, dict(plan.params), plan.seed, plan.criterion, impact, max_stop_s=limit)

    def update(self, world: SuiteWorld | JunctionWorld, events: dict, gt, camera: bool, done: bool) -> None:
        """Fold in one step: the world after it, its events (``StepEvents.as_dict``) and labels."""
        self.time_s = world.time_s
        ego = world.ego
        if events["collision"] and self.collision is None:
            actor = world.actor_of(events["collision_id"])
            self.collision = "static" if actor is None else ("target" if events["collision_id"] == world.target_id else actor.role)
            self.collision_id = events["collision_id"]
            self.impact_speed_kmh = ego.speed_m_s * 3.6
            self.impact_time_s = world.time_s
        self.off_road |= bool(events["off_road"])
        self._stop_s = self._stop_s + world.dt_s if ego.speed_m_s < STOPPED_M_S else 0.0
        self.longest_stop_s = max(self.longest_stop_s, self._stop_s)
        for name in ("off_route", "red_light", "failed_to_yield", "blocked_junction"):
            setattr(self, name, getattr(self, name) or bool(events[name]))
        self.goal |= bool(events["goal"])
        box, velocity = world.target_motion()
        ego_box = world.ego_box()
        self.min_gap_m = min(self.min_gap_m, box_gap_m(ego_box, box))
        self.min_ttc_s = min(self.min_ttc_s, _ttc(ego_box, ego.speed_m_s, box, velocity))
        if camera and self.target_visible_s is None:
            seen = [o for o in gt.objects if o.instance_id == world.target_id and o.visible_px > 0]
            if seen:
                self.target_visible_s, self.target_visible_m = world.time_s, seen[0].distance_m
        if done and not self.done:
            self.done = True
            clean = self.collision is None and not (self.off_road or self.off_route or self.red_light
                                                    or self.failed_to_yield or self.blocked_junction) and (
                self.max_stop_s is None or self.longest_stop_s <= self.max_stop_s)
            self.passed = clean and (self.goal or self.criterion == "no_collision")

    _stop_s: float = field(default=0.0, repr=False)  # how long the ego has stood so far [s]

    def as_dict(self) -> dict:
        """Plain data (what ``info["suite"]`` carries)."""
        out = asdict(self)
        del out["_stop_s"]
        return out


def _ttc(ego_box: np.ndarray, ego_speed_m_s: float, box: np.ndarray, velocity: np.ndarray) -> float:
    """First sampled time at which the two footprints overlap at constant velocities [s]; inf: none."""
    c, s = math.cos(ego_box[2]), math.sin(ego_box[2])
    ego_path = np.tile(ego_box, (len(_TAU), 1))
    ego_path[:, 0] += ego_speed_m_s * c * _TAU
    ego_path[:, 1] += ego_speed_m_s * s * _TAU
    path = np.tile(box, (len(_TAU), 1))
    path[:, 0] += velocity[0] * _TAU
    path[:, 1] += velocity[1] * _TAU
    hit = np.flatnonzero(obb_overlap(ego_path, path))
    return float(_TAU[hit[0]]) if hit.size else math.inf
