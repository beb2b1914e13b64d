"""``LaneMemory``: the ego lane carried by the car's own motion through frames whose lane fit is wrong.

Crossing a junction, the camera sees crosswalk stripes and the crossing street's paint instead of
lane lines; the fitted lane then jumps metres sideways and tenths of a radian in heading, often for
seconds, with a fair confidence. A driver that steers by it veers towards the kerb, and once past the
junction the network's regression (no lines seen) says "centred" while the car keeps drifting: from
the models the car left the road or parked itself on the parking strip after a junction (town seed
900004, session 17). A human keeps the course held before the junction. So does this: each step it
predicts the lane from the last estimate and the car's odometry (speed, yaw rate),

    offset    += speed * sin(heading error) * dt
    heading   += (yaw rate - speed * lane curvature) * dt

and a reading that lands far from the prediction is not believed; the prediction stands instead,
until readings have agreed with one another (not with the prediction) for ``reanchor_s``: then the
memory was wrong, and it takes them. A reading one lane width over with the heading as predicted
is the car having crossed a line (an overtake, a lane change) and is taken at once. A reading
below the fit's confidence (the network's regression, ``perception.ego_lane``) only pulls the
prediction a little. After a turn (the heading changed by more than ``turn_rad`` since the last
believed reading) the lane ahead is another street's: the next reading is taken as it is.

It acts on the models' lane only: the labels' lane is exact, and the measured noise put on labels
(``perception.ground_truth.PerceptionNoise``) never jumps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from perception.geometry import MIN_LANE_CONFIDENCE
from perception.types import LaneEstimate


@dataclass(frozen=True)
class LaneMemoryConfig:
    # a fitted lane this far from the prediction is not believed. The fit's own error is about 0.1-0.3 m
    # and 0.02-0.05 rad; the junction's wrong fits are 1-3 m and 0.2-0.5 rad off (town seed 900004)
    gate_offset_m: float = 0.75  # [m]
    gate_heading_rad: float = 0.12  # [rad]
    reanchor_s: float = 1.5  # readings that agree with one another this long replace the memory [s]
    fallback_gain: float = 0.1  # share of a regression reading's difference from the prediction taken per step
    max_hold_s: float = 3.0  # longest the lane is carried by odometry alone; after it, readings are taken [s]
    turn_rad: float = 0.35  # heading change since the last believed reading that means another street [rad]


class LaneMemory:
    def __init__(self, config: LaneMemoryConfig = LaneMemoryConfig()):
        self.cfg = config
        self.reset()

    def reset(self) -> None:
        self.lane: LaneEstimate | None = None  # the estimate last given out
        self.held_s = 0.0  # time the estimate has been the prediction rather than a believed reading [s]
        self.turned_rad = 0.0  # heading change since the last believed reading [rad]
        self.candidate: LaneEstimate | None = None  # the rejected readings' own track ...
        self.candidate_s = 0.0  # ... and how long its readings have agreed with one another [s]
        self.remembered = False  # whether the last ``update`` answered with the prediction

    def update(self, reading: LaneEstimate, speed_m_s: float, yaw_rate_rad_s: float, dt_s: float) -> LaneEstimate:
        """This step's lane: ``reading`` (perception's) or the prediction from the last estimate, the car
        having moved at ``speed_m_s`` turning at ``yaw_rate_rad_s`` over the ``dt_s`` since the last call."""
        cfg = self.cfg
        self.remembered = False
        self.turned_rad += yaw_rate_rad_s * dt_s
        if self.lane is None:
            return self._believe(reading)
        predicted = predict(self.lane, speed_m_s, yaw_rate_rad_s, dt_s)
        self.candidate = None if self.candidate is None else predict(self.candidate, speed_m_s, yaw_rate_rad_s, dt_s)
        known = math.isfinite(reading.offset_m) and math.isfinite(reading.heading_error_rad)
        if abs(self.turned_rad) > cfg.turn_rad or self.held_s > cfg.max_hold_s:
            return self._believe(reading)  # another street, or carried too long: the memory has nothing to say
        if not known:
            return self._hold(predicted, dt_s)
        if reading.confidence < MIN_LANE_CONFIDENCE:  # the regression: a weak pull, never a re-anchor
            k = cfg.fallback_gain
            pulled = replace(predicted, offset_m=predicted.offset_m + k * (reading.offset_m - predicted.offset_m),
                             heading_error_rad=predicted.heading_error_rad
                             + k * (reading.heading_error_rad - predicted.heading_error_rad),
                             confidence=reading.confidence)
            self.lane, self.held_s = pulled, 0.0  # a reading, if a weak one: the car is not blind
            return pulled
        if self._agrees(reading, predicted) or self._crossed_line(reading, predicted):
            return self._believe(reading)
        # a fit far from the prediction: track it on the side, and believe it once it has held together
        if self.candidate is not None and self._agrees(reading, self.candidate):
            self.candidate_s += dt_s
        else:
            self.candidate_s = 0.0
        self.candidate = reading
        if self.candidate_s >= cfg.reanchor_s:
            return self._believe(reading)
        return self._hold(predicted, dt_s)

    def _agrees(self, reading: LaneEstimate, expected: LaneEstimate) -> bool:
        return (abs(reading.offset_m - expected.offset_m) <= self.cfg.gate_offset_m
                and abs(reading.heading_error_rad - expected.heading_error_rad) <= self.cfg.gate_heading_rad)

    def _crossed_line(self, reading: LaneEstimate, predicted: LaneEstimate) -> bool:
        """One lane width over, heading as predicted: the car crossed a lane line (the offset's reference
        is now the next lane's centre)."""
        if not math.isfinite(predicted.width_m):
            return False
        jump = reading.offset_m - predicted.offset_m
        return (abs(abs(jump) - predicted.width_m) <= self.cfg.gate_offset_m
                and abs(reading.heading_error_rad - predicted.heading_error_rad) <= self.cfg.gate_heading_rad)

    def _believe(self, reading: LaneEstimate) -> LaneEstimate:
        known = math.isfinite(reading.offset_m) and math.isfinite(reading.heading_error_rad)
        self.lane = reading if known else None
        self.held_s, self.turned_rad, self.candidate, self.candidate_s = 0.0, 0.0, None, 0.0
        return reading

    def _hold(self, predicted: LaneEstimate, dt_s: float) -> LaneEstimate:
        self.lane = predicted
        self.held_s += dt_s
        self.remembered = True
        return predicted


def predict(lane: LaneEstimate, speed_m_s: float, yaw_rate_rad_s: float, dt_s: float) -> LaneEstimate:
    """``lane`` after the car drove ``dt_s`` at ``speed_m_s`` turning at ``yaw_rate_rad_s`` (Frenet kinematics,
    the lane's curvature and width held)."""
    kappa = lane.curvature_1_m if math.isfinite(lane.curvature_1_m) else 0.0
    heading = lane.heading_error_rad + (yaw_rate_rad_s - speed_m_s * kappa) * dt_s
    offset = lane.offset_m + speed_m_s * math.sin((lane.heading_error_rad + heading) / 2) * dt_s
    return replace(lane, offset_m=offset, heading_error_rad=heading)
