"""The perception contract: ``Frame`` in, ``PerceptionFrame`` out.

Every source of images (the simulator's camera, a video file, an image folder, a webcam, a
stream) yields ``Frame``s. The perception stack (models from pixels) and
``GroundTruthPerception`` (the simulator's labels, optionally degraded) both produce
``PerceptionFrame``s; control code reads only these and never knows which made them.

Coordinates: image pixels (x right, y down); the ego/ground frame is x forward, y left [m],
origin at the camera's foot on the road.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from common.vocab import CLASS_NAMES, LIGHT_CLASSES, NOMINAL_SIZE_M, PEDESTRIAN_CLASS, VEHICLE_CLASSES

__all__ = ["CLASS_NAMES", "LIGHT_CLASSES", "NOMINAL_SIZE_M", "PEDESTRIAN_CLASS", "VEHICLE_CLASSES", "Frame", "Detections",
           "LaneEstimate", "PerceptionFrame"]


@dataclass(frozen=True)
class Frame:
    """One image from any source."""

    image: np.ndarray  # (H, W, 3) uint8, RGB
    timestamp_s: float  # seconds since the source started (video time for files)
    index: int  # 0-based position in the source
    source: str  # where it came from (path, URL, "webcam:0", "sim:town:seed")


@dataclass(frozen=True)
class Detections:
    """N detected objects, column-wise. Unknown values are NaN (floats) or -1 (ids)."""

    xyxy: np.ndarray  # (N, 4) float32, box corners [px]
    score: np.ndarray  # (N,) float32, confidence in [0, 1]
    class_id: np.ndarray  # (N,) int64, index into CLASS_NAMES
    track_id: np.ndarray  # (N,) int64, -1 when untracked
    distance_m: np.ndarray  # (N,) float32, ground distance from the camera [m]
    position_m: np.ndarray  # (N, 2) float32, nearest ground point (forward, left) [m]
    velocity_m_s: np.ndarray  # (N, 2) float32, velocity relative to the ego (forward, left) [m/s]

    @staticmethod
    def empty() -> "Detections":
        return Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64),
                          np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros((0, 2), np.float32),
                          np.zeros((0, 2), np.float32))

    def __len__(self) -> int:
        return len(self.score)

    def names(self) -> list[str]:
        return [CLASS_NAMES[c] for c in self.class_id]

    def select(self, mask: np.ndarray) -> "Detections":
        """The rows where ``mask`` is true (or the given indices)."""
        return Detections(*(getattr(self, f)[mask] for f in self.__dataclass_fields__))


@dataclass(frozen=True)
class LaneEstimate:
    """The ego's lane, as a driver needs it."""

    offset_m: float  # ego left of the lane centre [m]
    heading_error_rad: float  # ego heading minus lane direction, positive = pointing left [rad]
    curvature_1_m: float  # lane curvature ahead, positive turning left [1/m]
    width_m: float  # lane width [m]
    confidence: float  # 0 (no lane seen) .. 1

    @staticmethod
    def unknown() -> "LaneEstimate":
        return LaneEstimate(float("nan"), float("nan"), float("nan"), float("nan"), 0.0)


@dataclass(frozen=True)
class PerceptionFrame:
    """Everything perception reports about one frame."""

    index: int
    timestamp_s: float
    source: str
    image_size: tuple[int, int]  # (height, width) [px]
    detections: Detections
    lane: LaneEstimate
    light_state: str = "none"  # the ego's relevant traffic light: "red" | "yellow" | "green" | "none"
    light_distance_m: float = float("inf")  # to that light's stop line [m]; inf when unknown
    lead_index: int = -1  # row in ``detections`` of the vehicle ahead in the ego lane, -1 if none
    lead_ttc_s: float = float("inf")  # time to collision with the lead vehicle [s]; inf if not closing
    # dense maps come at the producer's resolution (h, w) (the multitask network's input size, or the
    # simulator's image); scale them to ``image_size`` for display (``perception.overlay`` does)
    drivable: np.ndarray | None = field(default=None, repr=False)  # (h, w) bool
    lane_mask: np.ndarray | None = field(default=None, repr=False)  # (h, w) uint8: 0 none, 1 ego-left, 2 ego-right, 3 other
    depth_m: np.ndarray | None = field(default=None, repr=False)  # (h, w) float32 [m], 0 = unknown
    timings_ms: dict[str, float] = field(default_factory=dict)  # per stage, e.g. {"detector": 21.3, ...}


def _num(v: float) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


def perception_frame_json(pf: PerceptionFrame) -> dict:
    """A ``PerceptionFrame`` as plain JSON data (dense maps left out; NaN/inf as null)."""
    d = pf.detections
    return {
        "index": pf.index, "timestamp_s": round(pf.timestamp_s, 4), "source": pf.source, "image_size": list(pf.image_size),
        "detections": [
            {"class": CLASS_NAMES[int(d.class_id[k])], "score": round(float(d.score[k]), 4), "track_id": int(d.track_id[k]),
             "xyxy": [round(float(v), 1) for v in d.xyxy[k]], "distance_m": _num(d.distance_m[k]),
             "position_m": [_num(v) for v in d.position_m[k]], "velocity_m_s": [_num(v) for v in d.velocity_m_s[k]]}
            for k in range(len(d))
        ],
        "lane": {"offset_m": _num(pf.lane.offset_m), "heading_error_rad": _num(pf.lane.heading_error_rad),
                 "curvature_1_m": _num(pf.lane.curvature_1_m), "width_m": _num(pf.lane.width_m),
                 "confidence": round(float(pf.lane.confidence), 4)},
        "light_state": pf.light_state, "light_distance_m": _num(pf.light_distance_m),
        "lead_index": pf.lead_index, "lead_ttc_s": _num(pf.lead_ttc_s),
        "timings_ms": {k: round(v, 3) for k, v in pf.timings_ms.items()},
    }
