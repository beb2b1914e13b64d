"""Scoring perception against a simulator recording's labels (``drivestack replay``).

The labels are the recording's JSON ground truth (``ObjectLabel`` fields per object, the ego's lane
offset); the figures are ``perception.metrics``' definitions, the same ``drivestack eval perception`` uses.
"""

from __future__ import annotations

import numpy as np

from .metrics import OBJECT_RANGES_M, ByRange, DetectionTally, TrueBoxes, distance_errors
from .types import PerceptionFrame


class RecordingScores:
    """Detections (precision, recall, distance error by range) and the lane offset, frame by frame."""

    def __init__(self) -> None:
        self.detections = DetectionTally()
        self.distance = ByRange(OBJECT_RANGES_M)  # matched detections: (predicted - true) / true distance
        self.offset_err: list[float] = []  # |predicted - true| lane offset [m]

    def add(self, pf: PerceptionFrame, labels: dict) -> None:
        """One frame against its labels (a recording step's ``ground_truth``)."""
        d = pf.detections
        truth = TrueBoxes.from_labels(labels["objects"])
        matches = self.detections.add(d.xyxy, d.score, d.class_id, truth)
        self.distance.add(*distance_errors(matches, truth, d.distance_m))
        if np.isfinite(pf.lane.offset_m):
            self.offset_err.append(abs(pf.lane.offset_m - labels["ego"]["lane_offset_m"]))

    def summary(self) -> dict:
        """Every detection the pipeline reported counts (it has applied its own score threshold)."""
        r4 = lambda v: None if v is None else round(v, 4)  # noqa: E731
        per_class = {name: {"precision": r4(c.precision), "recall": r4(c.recall), "tp": c.tp, "fp": c.fp, "fn": c.fn}
                     for name, c in self.detections.counts(0.0).items()}
        return {"detection": {"per_class": per_class, "distance_median_rel_error_by_range": self.distance.median_abs(4)},
                "lane_offset_median_abs_error_m": round(float(np.median(self.offset_err)), 4) if self.offset_err else None}
