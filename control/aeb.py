"""Staged automatic emergency braking, as production AEB does it: warning, partial brake, full brake.

Each frame, for every road user with a predicted conflict (``control.prediction``), the deceleration
that would still avoid it (``Conflicts.required_decel_m_s2``: stop short of a crossing or standing
road user, match a slower one's speed) is compared with what each stage can do:

- **warning** (no brake, recorded): a driver who reacted now, after a normal reaction time, and braked
  comfortably would no longer make it;
- **partial** brake (``partial_decel_m_s2``): more than comfortable braking is needed already;
- **full** brake (the car's maximum): the partial brake would no longer leave a margin.

The most urgent road user sets the stage. Braking needs evidence that the road user is real and the
threat lasting: a partial brake needs ``partial_min_frames`` consecutive frames on which the road
user was seen and called for a brake, a full brake ``full_min_frames`` and the depth map's agreement
where the frame has one (a one-frame pole taken for a pedestrian, a box on a shadow, a parked car
whose jittery velocity points at the path for a frame, brake at most partially, and only once seen
twice). A stage is
released with hysteresis: only after the need has stayed below ``release_ratio`` of its trigger for
``release_hold_s`` (the car slowing under the brake lowers the need; releasing at once would make it
pump). Standing still, the need is judged as if the car crept off at ``creep_m_s``, so the brake holds
the car behind what is right in front of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.config import check_range
from common.vocab import MAX_BRAKE_M_S2

from .prediction import Conflicts
from .road_users import SeenUsers

STAGES = ("none", "warning", "partial", "full")  # in order of urgency; the index is the level


@dataclass(frozen=True)
class AebConfig:
    # a warning is due when a driver reacting after this long and braking at ``comfortable_decel_m_s2`` would
    # no longer avoid the conflict: 1.2 s is a common design value for an alerted driver's brake reaction
    driver_reaction_s: float = 1.2  # [s]
    comfortable_decel_m_s2: float = 3.0  # the rule-based driver's and most drivers' ordinary firm stop [m/s^2]
    # partial braking starts once a comfortable stop no longer suffices, with a little head room (the need
    # is measured at constant speed: a driver already easing off needs less)
    partial_trigger_m_s2: float = 3.0  # [m/s^2]
    partial_decel_m_s2: float = 4.0  # the partial stage's brake: firm, well inside what the tyres give [m/s^2]
    # full braking once the partial brake's margin is under 10 %: the need grows as the gap closes faster
    # than the brake sheds speed, and a late full brake costs more than an early one
    full_trigger_m_s2: float = 3.6  # [m/s^2]
    max_decel_m_s2: float = MAX_BRAKE_M_S2  # the car's full brake (common.vocab) [m/s^2]
    latency_s: float = 0.05  # from this frame to the brake acting: one control step [s]
    partial_min_frames: int = 2  # evidence before any brake: seen on this many consecutive frames
    full_min_frames: int = 3  # ... before a full brake (and the depth map agreeing, where there is one)
    release_ratio: float = 0.6  # a stage lasts while the need stays above this share of its trigger ...
    release_hold_s: float = 0.5  # ... and this long after it fell below [s]
    creep_m_s: float = 2.0  # standing still, the need is judged at this speed (moving off) [m/s]
    moving_m_s: float = 0.5  # below this the car counts as standing [m/s]

    def __post_init__(self) -> None:
        check_range("aeb.partial_decel_m_s2", self.partial_decel_m_s2, 0.5, self.max_decel_m_s2)
        check_range("aeb.partial_trigger_m_s2", self.partial_trigger_m_s2, 0.1, self.full_trigger_m_s2)
        check_range("aeb.full_trigger_m_s2", self.full_trigger_m_s2, self.partial_trigger_m_s2, self.max_decel_m_s2)
        check_range("aeb.partial_min_frames", self.partial_min_frames, 1, self.full_min_frames)


@dataclass(frozen=True)
class AebDecision:
    stage: str  # one of STAGES
    decel_m_s2: float  # the brake the stage asks for (0: none, warning) [m/s^2]
    reason: str  # what it is for, "" when "none"


def stage_demand(conflicts: Conflicts, seen: SeenUsers, config: AebConfig,
                 threat_frames: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per road user: the level (index into STAGES) its conflict calls for, evidence considered, and the
    deceleration needed to avoid it [m/s^2]. ``threat_frames``: consecutive frames (this one included)
    each road user has called for a brake (None: as many as it has been seen)."""
    c = config
    need = conflicts.required_decel_m_s2(c.latency_s)
    # the warning: a driver reacting after driver_reaction_s would need more than a comfortable stop
    late_driver = conflicts.required_decel_m_s2(c.driver_reaction_s) > c.comfortable_decel_m_s2
    level = np.where(need >= c.full_trigger_m_s2, 3, np.where(need >= c.partial_trigger_m_s2, 2, np.where(late_driver, 1, 0)))
    # evidence: seen, and calling for a brake, on enough consecutive frames (a jittery velocity calls once)
    frames = np.minimum(seen.age_frames, seen.age_frames if threat_frames is None else threat_frames)
    confirmed = (frames >= c.full_min_frames) & seen.depth_agrees
    level = np.where((level == 3) & ~confirmed, 2, level)
    level = np.where((level == 2) & (frames < c.partial_min_frames), 1, level)
    level = np.where(seen.cut_beside, np.minimum(level, 1), level)
    return level, need


class StagedBraking:
    """The stage machine: ``update`` each frame with the conflicts and the evidence; hysteresis inside."""

    def __init__(self, config: AebConfig = AebConfig(), dt_s: float = 0.05):
        self.cfg = config
        self.dt_s = dt_s  # the control period, for the release hold [s]
        self.reset()

    def reset(self) -> None:
        self.level = 0
        self._below_s = 0.0  # how long the need has stayed below the current stage's release level [s]
        self._threats: dict[int, int] = {}  # track id -> consecutive frames it has called for a brake

    def _threat_frames(self, conflicts: Conflicts, seen: SeenUsers) -> np.ndarray:
        """Consecutive frames, this one included, each road user's need has reached the partial trigger."""
        braking = conflicts.required_decel_m_s2(self.cfg.latency_s) >= self.cfg.partial_trigger_m_s2
        frames = np.array([self._threats.get(int(t), 0) + 1 if b else 0 for t, b in zip(seen.track_id, braking)], int)
        self._threats = {int(t): int(n) for t, n in zip(seen.track_id, frames) if n > 0}
        return frames

    def update(self, conflicts: Conflicts, seen: SeenUsers, standing: bool = False) -> AebDecision:
        """The stage for this frame; ``standing``: the car stands (the conflicts were predicted at the creep
        speed), when there is nobody to warn, only a car to hold."""
        c = self.cfg
        if len(seen.kind):
            level, need = stage_demand(conflicts, seen, c, self._threat_frames(conflicts, seen))
        else:
            level, need, self._threats = np.zeros(0, int), np.zeros(0), {}
        if standing:
            level = np.where(level == 1, 0, level)
        k = int(np.argmax(level * 1e6 + np.minimum(need, 1e5))) if len(level) else -1  # the most urgent
        want = int(level[k]) if k >= 0 else 0
        if want >= self.level:
            self.level, self._below_s = want, 0.0
        else:  # hysteresis: hold the stage while the need stays near its trigger, and a moment after
            trigger = {1: 0.0, 2: c.partial_trigger_m_s2, 3: c.full_trigger_m_s2}[self.level]
            holding = k >= 0 and need[k] >= c.release_ratio * trigger and np.isfinite(conflicts.time_s[k])
            self._below_s = 0.0 if holding else self._below_s + self.dt_s
            if self._below_s >= c.release_hold_s:
                self.level, self._below_s = want, 0.0
        stage = STAGES[self.level]
        if self.level == 0:
            return AebDecision(stage, 0.0, "")
        decel = {1: 0.0, 2: c.partial_decel_m_s2, 3: c.max_decel_m_s2}[self.level]
        if k < 0 or not np.isfinite(conflicts.time_s[k]):
            return AebDecision(stage, decel, "holding after the conflict cleared")
        return AebDecision(stage, decel, f"{seen.kind[k]} {seen.gap_m[k]:.1f} m ahead: conflict in "
                                         f"{conflicts.time_s[k]:.2f} s, needs {min(need[k], 99.0):.1f} m/s^2")
