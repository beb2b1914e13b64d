"""The two networks taking turns: each runs on every other frame, so a frame costs one network
instead of two. ``Interleave`` is the pipeline's stage that decides which runs and carries the
other's last results over: the last detections, moved by their tracks' fitted relative
velocities, and the last multi-task outputs (lanes, drivable area, depth), reused as they were.
"""

from __future__ import annotations

import numpy as np

from .types import Detections, MultitaskOutputs


class Interleave:
    """The schedule and the carried results; with ``enabled`` False both networks run on every frame."""

    def __init__(self, enabled: bool = False):
        self.enabled = enabled
        self.reset()

    def reset(self) -> None:
        self._dets: Detections | None = None  # the last detector frame's placed objects ...
        self._dets_t = 0.0  # ... and its time [s]
        self.outputs: MultitaskOutputs | None = None  # the last multi-task outputs (kept only when enabled)
        self._turn = 0
        self._shape: tuple[int, ...] | None = None  # image shape the carried results belong to

    def schedule(self, shape: tuple[int, ...], has_detector: bool, has_multitask: bool) -> tuple[bool, bool]:
        """Whether the detector and the multi-task network run on this frame (an image of ``shape``)."""
        if not self.enabled or not (has_detector and has_multitask):
            return has_detector, has_multitask
        if self._dets is None or self.outputs is None or self._shape != shape:
            self._shape, self._turn = shape, 1
            return True, True  # the first frame (or a new size): both, so the next can reuse either
        self._turn ^= 1
        return self._turn == 0, self._turn == 1

    def keep(self, dets: Detections | None, outputs: MultitaskOutputs | None, t_s: float) -> None:
        """This frame's results, for the frames that skip a network: ``dets`` None when the detector did not run."""
        if not self.enabled:
            return
        self.outputs = outputs
        if dets is not None:
            self._dets, self._dets_t = dets, t_s

    def carried_detections(self, t_s: float) -> Detections:
        """The last detected objects, moved by their tracks' relative velocities to time ``t_s`` [s].
        Boxes stay where they were seen; positions and distances are predicted."""
        dets = self._dets
        if len(dets) == 0:
            return dets
        dt = max(t_s - self._dets_t, 0.0)
        step = np.where(np.isfinite(dets.velocity_m_s), dets.velocity_m_s, 0.0) * dt
        pos = dets.position_m + step.astype(np.float32)
        dist = np.where(np.isfinite(dets.distance_m), np.hypot(pos[:, 0], pos[:, 1]), dets.distance_m)
        return Detections(dets.xyxy, dets.score, dets.class_id, dets.track_id, dist.astype(np.float32), pos, dets.velocity_m_s)
