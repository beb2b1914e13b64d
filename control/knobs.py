"""The rule-based driver's decision knobs: what a decision-level policy (``control.knob_policy``) sets each step.

Residual RL corrects the driver's *command* by a bounded amount, so it cannot change a *decision*: a car held at a
permitted left's line by a refused gap brakes at -1, and a correction of 0.25 of the throttle range never moves
it; a merge the driver has judged clear is made whatever the correction does (docs/learning.md, sessions 27 and
36: rl25, rl31 and rl35 all lost to or tied their teacher, and the teacher's remaining failures are such
decisions). The knobs move the decisions instead, as adaptive planner-parameter learning does for a classical
planner (Xiao et al. 2022, "APPL: Adaptive Planner Parameter Learning"):

- ``gap_scale`` multiplies every time gap the driver demands of other traffic before it commits: the critical gap
  and stream margin of a permitted left or a crossing (``control.junction_gaps.gap_refused``) and the gaps of a
  lane change or merge (``control.overtake``). Below 1 the driver takes shorter gaps, above 1 it waits for longer.
- ``speed_scale`` multiplies the cruise speed (never above the driver's own: the speed limit stays a limit).

Identity knobs (1, 1) are the driver exactly; an action of zeros maps to them, so a policy whose action head is
zeroed starts as its teacher.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KNOB_COUNT = 2  # the action's size: [gap, speed]
GAP_SCALE_RANGE = (0.5, 2.0)  # the action's -1 .. +1, geometric about 1 [-]
SPEED_SCALE_MIN = 0.5  # the action's -1; 0 and above: the driver's own cruise [-]


@dataclass(frozen=True)
class Knobs:
    gap_scale: float = 1.0  # x every time gap the driver demands before it commits [-]
    speed_scale: float = 1.0  # x the driver's cruise speed, <= 1 [-]


IDENTITY = Knobs()


def knobs_from_action(action) -> Knobs:
    """The knobs an action in [-1, 1]^2 sets (clipped first): gap 2^a0 (0.5 .. 2), speed 1 + 0.5 min(a1, 0)."""
    a = np.clip(np.asarray(action, np.float64).reshape(-1), -1.0, 1.0)
    lo, hi = GAP_SCALE_RANGE
    gap = float(np.sqrt(lo * hi) * (hi / lo) ** (0.5 * a[0]))
    speed = 1.0 + (1.0 - SPEED_SCALE_MIN) * min(float(a[1]), 0.0)
    return Knobs(gap, speed)
