"""A tracked object's class by the evidence of its track, not by its latest box alone.

The detector classifies each frame on its own. Near the car a cone fills 15-35 px and the shipped
detector (det-cones16) calls it a motorcycle (0.64) or a cyclist (0.17) in some frames after calling it a
cone (0.94) in the frames before: the simulator draws a cone as the motorcycle's part boxes at a cone's
size. Read frame by frame, the closure then held a "walker" and a "moving motorcycle" and the overtake
would not pass it (LaneClosure from the models, 2026-12-05). Multi-object trackers commonly keep a
class per track by voting over its detections; ``TrackClasses`` does that for the obstacle classes
(road users and cones): each tracked box adds its score to its track's evidence for its class, the
evidence decays with ``CLASS_MEMORY_S``, and the box is reported as the class with the most evidence.

One exception keeps the vote safe: a pedestrian or cyclist box scoring at least ``VRU_TRUST_SCORE`` is
reported as what it is, whatever its track said before (a tracker that hands a cone's id to a child
stepping out beside it must not make that child a cone, whose speed the drivers take as zero). Light
and sign boxes are never voted on: a light's class is its state, which changes.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from common.vocab import CLASS_NAMES, CYCLIST_CLASS, OBSTACLE_CLASSES, PEDESTRIAN_CLASS

from .types import Detections

CLASS_MEMORY_S = 1.0  # a track's class evidence decays with this time constant [s]
FORGET_S = 2.0  # a track unseen this long is forgotten [s]
VRU_TRUST_SCORE = 0.5  # a pedestrian or cyclist box at least this sure is reported as such at once

_VOTED = np.array(sorted(OBSTACLE_CLASSES), np.int64)
_VRU = np.array([PEDESTRIAN_CLASS, CYCLIST_CLASS], np.int64)


class TrackClasses:
    """Per track id: score evidence per class, decayed over time; ``__call__`` reports each tracked obstacle
    box as its track's class."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self._evidence: dict[int, tuple[float, np.ndarray]] = {}  # track id -> (time [s], evidence per class)

    def __call__(self, dets: Detections, t_s: float) -> Detections:
        """``dets`` with the obstacle boxes' classes replaced by their tracks' (frame time ``t_s`` [s])."""
        self._evidence = {tid: e for tid, e in self._evidence.items() if t_s - e[0] < FORGET_S}
        if len(dets) == 0:
            return dets
        voted = np.flatnonzero((dets.track_id >= 0) & np.isin(dets.class_id, _VOTED))
        if voted.size == 0:
            return dets
        cls = dets.class_id.copy()
        for k in voted.tolist():
            tid, c = int(dets.track_id[k]), int(cls[k])
            t0, evidence = self._evidence.get(tid, (t_s, np.zeros(len(CLASS_NAMES))))
            evidence = evidence * math.exp(-max(t_s - t0, 0.0) / CLASS_MEMORY_S)
            evidence[c] += float(dets.score[k])
            self._evidence[tid] = (t_s, evidence)
            if not (c in _VRU and dets.score[k] >= VRU_TRUST_SCORE):
                cls[k] = int(np.argmax(evidence))
        return dets if np.array_equal(cls, dets.class_id) else replace(dets, class_id=cls)
