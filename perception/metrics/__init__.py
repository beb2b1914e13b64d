"""Perception metrics, one definition of each, used by ``drivestack eval perception``, ``drivestack
replay`` (a simulator recording's labels) and the multi-task trainer's validation alike.

- ``detection``: box IoU, the greedy matcher at ``IOU_MATCH``, AP50 / AP50-95, precision and recall.
- ``masks``: drivable-area IoU, lane-marking F1 (1-px tolerance).
- ``light``: the relevant light's confusion matrix and the rates derived from it, stop-line distance error.
- ``ranges``: the distance bins (``OBJECT_RANGES_M``, ``STOP_LINE_RANGES_M``) and values binned by them.
"""

from .detection import (IOU_MATCH, IOU_THRESHOLDS, MIN_GT_PX, ClassCounts, DetectionTally, FrameMatches, TrueBoxes,
                        average_precision, distance_errors, iou_matrix, lateral_errors, match_greedy)
from .light import LightConfusion, LightTally
from .masks import LaneF1, MaskIoU, near
from .ranges import OBJECT_RANGES_M, STOP_LINE_RANGES_M, ByRange, range_key

__all__ = ["IOU_MATCH", "IOU_THRESHOLDS", "MIN_GT_PX", "OBJECT_RANGES_M", "STOP_LINE_RANGES_M", "ByRange",
           "ClassCounts", "DetectionTally", "FrameMatches", "LaneF1", "LightConfusion", "LightTally", "MaskIoU",
           "TrueBoxes", "average_precision", "distance_errors", "iou_matrix", "lateral_errors", "match_greedy", "near", "range_key"]
