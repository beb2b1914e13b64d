"""The ego lane from the multi-task network's outputs, held steady against one-frame jumps.

``EgoLaneTracker`` is the pipeline's stage: the lane fitted in bird's-eye view from the
lane-marking mask (``geometry.fit_lane``), the network's direct regression as the fallback when
too few marking pixels are seen, and a jump gate that holds back an estimate that moved further
than the car can between two frames.
"""

from __future__ import annotations

import numpy as np

from .geometry import MIN_LANE_CONFIDENCE, CameraModel, fit_lane
from .types import LaneEstimate, MultitaskOutputs

# a lane estimate that moves more than this from the last one (the car moves a few cm sideways between
# frames; the fit sometimes locks onto the wrong paint for a frame: 3 m and 0.6 rad off, town seed 900001)
# is held back until it has lasted LANE_JUMP_FRAMES estimates
LANE_JUMP_M = 0.75  # [m]
LANE_JUMP_RAD = 0.15  # [rad]
LANE_JUMP_FRAMES = 3


class EgoLaneTracker:
    """Owns the jump gate's state and the last estimate, with the outputs it was made from."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self._fitted_to: MultitaskOutputs | None = None  # the outputs ``_estimate`` was made from ...
        self._estimate = LaneEstimate.unknown()  # ... and that estimate, after the gate
        self._last: LaneEstimate | None = None  # the last estimate that passed the jump gate ...
        self._jumps = 0  # ... and how many estimates in a row have jumped away from it

    def __call__(self, cam: CameraModel, outputs: MultitaskOutputs | None) -> LaneEstimate:
        """The ego lane seen by camera ``cam`` (at the frame's size) in ``outputs`` (None: no multi-task net)."""
        if outputs is None or outputs is not self._fitted_to:  # interleave reuses outputs: the fit would be the same
            lane = estimate_lane(cam.scaled(*outputs.lanes.shape[::-1]), outputs) if outputs is not None else LaneEstimate.unknown()
            self._estimate = self.gate(lane)
            self._fitted_to = outputs
        return self._estimate

    def gate(self, lane: LaneEstimate) -> LaneEstimate:
        """``lane``, unless it jumped from the last estimate by more than the car can move between two
        frames (LANE_JUMP_M, LANE_JUMP_RAD): then the last estimate stands, until the new reading has
        held for LANE_JUMP_FRAMES estimates (a real change: the car crossed into the next lane)."""
        last = self._last
        known = np.isfinite(lane.offset_m) and np.isfinite(lane.heading_error_rad)
        if last is None or not known:
            self._last, self._jumps = (lane if known else last), 0
            return lane
        if (abs(lane.offset_m - last.offset_m) > LANE_JUMP_M or abs(lane.heading_error_rad - last.heading_error_rad)
                > LANE_JUMP_RAD) and self._jumps + 1 < LANE_JUMP_FRAMES:
            self._jumps += 1
            return last
        self._last, self._jumps = lane, 0
        return lane


def estimate_lane(cam: CameraModel, outputs: MultitaskOutputs) -> LaneEstimate:
    """The lane fitted to ``outputs.lanes`` (``cam`` at the mask's size), or the network's regressed lane
    at half the minimum confidence when the fit is not confident enough."""
    fitted = fit_lane(cam, outputs.lanes)
    if fitted.confidence >= MIN_LANE_CONFIDENCE:
        return fitted
    return LaneEstimate(float(outputs.lane_offset_m), float(outputs.heading_error_rad), float(outputs.curvature_1_m),
                        float(outputs.lane_width_m), MIN_LANE_CONFIDENCE / 2)
