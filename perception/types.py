"""The perception contract: ``Frame`` in, ``PerceptionFrame`` out.

Every source of images (the simulator's camera, a video file, an image folder, a webcam, a
stream) yields ``Frame``s. The perception stack (models from pixels) and
``GroundTruthPerception`` (the simulator's labels, optionally degraded) both produce
``PerceptionFrame``s through one interface, ``PerceptionProducer``; control code reads only these
and never knows which made them. ``MultitaskOutputs`` is the multi-task network's record, handed
from ``perception.hydranet`` (or its ONNX Runtime twin) to the pipeline's stages.

Coordinates: image pixels (x right, y down); the ego/ground frame is x forward, y left [m],
origin at the camera's foot on the road.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Protocol

import numpy as np

from common.vocab import (CLASS_NAMES, LIGHT_CLASSES, NOMINAL_SIZE_M, OBSTACLE_CLASSES, PEDESTRIAN_CLASS, ROAD_USER_CLASSES,
                          VEHICLE_CLASSES)

if TYPE_CHECKING:  # perception may import sim (it is below); only the annotation needs it
    from sim.labels import GroundTruth

__all__ = ["CLASS_NAMES", "LIGHT_CLASSES", "NOMINAL_SIZE_M", "OBSTACLE_CLASSES", "PEDESTRIAN_CLASS", "ROAD_USER_CLASSES", "VEHICLE_CLASSES", "Frame", "NO_PIXELS", "Odometry",
           "Detections", "LaneEstimate", "PerceptionFrame", "PerceptionProducer", "MultitaskOutputs", "SignalPrior",
           "perception_frame_json", "perception_frame_from_json"]

# the image of a frame from a source without a camera (the simulator with render_camera=False): (0, 0, 3)
# uint8, so ``image.shape[:2]`` is the (0, 0) image size and only producers with ``needs_camera`` False accept it
NO_PIXELS = np.zeros((0, 0, 3), np.uint8)
NO_PIXELS.flags.writeable = False


@dataclass(frozen=True)
class Odometry:
    """The car's own motion at a frame, from its wheel speed and yaw-rate sensors."""

    speed_m_s: float  # forward [m/s]
    yaw_rate_rad_s: float  # + turning left [rad/s]


@dataclass(frozen=True)
class Frame:
    """One image from any source (``NO_PIXELS`` where the source has no camera)."""

    image: np.ndarray  # (H, W, 3) uint8, RGB
    timestamp_s: float  # seconds since the source started (video time for files)
    index: int  # 0-based position in the source
    source: str  # where it came from (path, URL, "webcam:0", "sim:town:seed")
    # the car's odometry at this frame, where the source has it (the simulator; None for a video file): track
    # velocities are then relative velocities in the camera's axes of this frame, as the labels give them
    # (``Detections.velocity_m_s``); without it they are the places' rate of change seen from the moving camera,
    # and a turn sweeps every one of them across (a standing walker 11 m ahead in a right turn at 0.45 rad/s read
    # crossing at 5 m/s)
    odometry: Odometry | None = None


def _same(a, b) -> bool:
    """Equality for the records' fields: arrays by shape and value, NaN equal to NaN (an unknown value
    is the same unknown), None only to None."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and np.array_equal(a, b, equal_nan=a.dtype.kind == "f" and b.dtype.kind == "f"))
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (a != a and b != b)
    return a == b


def _same_fields(a, b, names) -> bool:
    return type(a) is type(b) and all(_same(getattr(a, n), getattr(b, n)) for n in names)


@dataclass(frozen=True, eq=False)
class Detections:
    """N detected objects, column-wise. Unknown values are NaN (floats) or -1 (ids).

    Equal when every column holds the same values (NaN equal to NaN)."""

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

    def __eq__(self, other) -> bool:
        return _same_fields(self, other, self.__dataclass_fields__)


@dataclass(frozen=True, eq=False)
class LaneEstimate:
    """The ego's lane, as a driver needs it. Equal when every value is (an unknown lane equals an unknown lane)."""

    offset_m: float  # ego left of the lane centre [m]
    heading_error_rad: float  # ego heading minus lane direction, positive = pointing left [rad]
    curvature_1_m: float  # lane curvature ahead, positive turning left [1/m]
    width_m: float  # lane width [m]
    confidence: float  # 0 (no lane seen) .. 1

    @staticmethod
    def unknown() -> "LaneEstimate":
        return LaneEstimate(float("nan"), float("nan"), float("nan"), float("nan"), 0.0)

    def __eq__(self, other) -> bool:
        return _same_fields(self, other, self.__dataclass_fields__)


@dataclass(frozen=True, eq=False)
class PerceptionFrame:
    """Everything perception reports about one frame.

    Two frames are equal when they report the same things (``timings_ms``, how long it took, aside):
    what gymnasium's determinism check compares in ``PerceptionObservation``'s ``info``."""

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
    # road users farther than this are placed, but too coarsely ranged for their speed to be told (whether a car
    # stands or drives on): a consumer should assume the worse [m]; inf: every value holds (the labels)
    sure_range_m: float = float("inf")
    # dense maps come at the producer's resolution (h, w) (the multitask network's input size, or the
    # simulator's image); scale them to ``image_size`` for display (``perception.overlay`` does)
    drivable: np.ndarray | None = field(default=None, repr=False)  # (h, w) bool
    lane_mask: np.ndarray | None = field(default=None, repr=False)  # (h, w) uint8: 0 none, 1 ego-left, 2 ego-right, 3 other
    depth_m: np.ndarray | None = field(default=None, repr=False)  # (h, w) float32 [m], 0 = unknown
    timings_ms: dict[str, float] = field(default_factory=dict)  # per stage, e.g. {"detector": 21.3, ...}

    def __eq__(self, other) -> bool:
        return _same_fields(self, other, [n for n in self.__dataclass_fields__ if n != "timings_ms"])


@dataclass(frozen=True)
class SignalPrior:
    """What an HD map says of the next traffic signal on the route: where the head that governs the
    ego's lane stands and where its stop line is, never its state (the camera must see that). With one,
    perception looks for the light where the map puts it (``perception.light_prior``); without one (no
    map: the straight town, a video) it ranks every light in view."""

    # the governing head's housing centre in the ego frame: x forward of the ego's reference point (the
    # camera stands ``CameraModel.forward_m`` ahead of it), y left, z up from the road [m]; NaN: no signal ahead
    head_xyz_m: tuple[float, float, float]
    stop_line_m: float  # front bumper to that head's stop line [m], negative past it; inf: no signal ahead

    @property
    def signal_ahead(self) -> bool:
        return math.isfinite(self.stop_line_m) and all(math.isfinite(v) for v in self.head_xyz_m)

    @staticmethod
    def from_labels(ego) -> "SignalPrior | None":
        """From ``sim.labels.EgoTruth``'s map fields (``signal_head_xyz_m``, ``signal_stop_line_m``); None
        where the world has no map (no route block: ``route_command`` is None; or a straight world's
        follow-the-lane block, ``signal_mapped`` False, whose "no signal" is not a map's word: a prior
        saying no signal ahead would hide the straight town's lights from the models)."""
        if ego.route_command is None or not getattr(ego, "signal_mapped", True):
            return None
        return SignalPrior(tuple(float(v) for v in ego.signal_head_xyz_m), float(ego.signal_stop_line_m))


class PerceptionProducer(Protocol):
    """What turns frames into ``PerceptionFrame``s: the models (``perception.pipeline.Perception``)
    or the simulator's labels (``perception.ground_truth.GroundTruthPerception``). Callers such as
    ``control.observation.PerceptionObservation`` call both the same way."""

    kind: str  # "models" (from the frame's pixels) or "labels" (from ``truth``)
    needs_camera: bool  # True when ``process`` reads ``frame.image``: a camera-less source cannot feed it

    def reset(self, seed: int | None = None) -> None:
        """Start a new episode or video: forget what earlier frames left behind (tracks, carried
        outputs); ``seed`` reseeds whatever randomness the producer draws (the labels' noise)."""

    def process(self, frame: Frame, truth: GroundTruth | None = None, prior: SignalPrior | None = None) -> PerceptionFrame:
        """What is seen in ``frame``; ``truth`` is the simulator's labels of the same step, which
        the label producer reads and the models ignore; ``prior`` is what the map says of the next
        signal (``SignalPrior.from_labels``), which the models use to find the light and the labels
        need not."""


@dataclass(frozen=True)
class MultitaskOutputs:
    """The multi-task network's outputs (``perception.hydranet``) for one image, at the image's (H, W).

    ``predict`` on a batch returns the same record with a leading batch axis (B, ...) on every
    field; ``image(i)`` takes one image's outputs from it."""

    drivable: np.ndarray  # (H, W) bool
    lanes: np.ndarray  # (H, W) uint8, lane-marking class: 0 none, 1 ego-left, 2 ego-right, 3 other (LANE_CLASSES)
    depth_m: np.ndarray  # (H, W) float32 [m]
    # the ego lane regressed directly from the image (the fallback when too few marking pixels are seen):
    lane_offset_m: np.ndarray  # () float32, ego left of the lane centre [m]
    heading_error_rad: np.ndarray  # () float32, positive = pointing left [rad]
    curvature_1_m: np.ndarray  # () float32, the nearest of ``curvature_ahead_1_m`` [1/m], positive turning left
    curvature_ahead_1_m: np.ndarray  # (3,) float32, road curvature 10/20/30 m ahead [1/m]
    lane_width_m: np.ndarray  # () float32 [m]
    # the light head: the ego's relevant light ("none" always, for a net without the head)
    light_state: np.ndarray  # () str, one of LIGHT_STATES
    light_probs: np.ndarray  # (4,) float32, over LIGHT_STATES
    light_distance_m: np.ndarray  # () float32, to the light's stop line [m]; inf when "none"

    def image(self, i: int) -> "MultitaskOutputs":
        """Image ``i``'s outputs, from a batch's record."""
        return MultitaskOutputs(*(getattr(self, f.name)[i] for f in fields(self)))


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
        "lead_index": pf.lead_index, "lead_ttc_s": _num(pf.lead_ttc_s), "sure_range_m": _num(pf.sure_range_m),
        "timings_ms": {k: round(v, 3) for k, v in pf.timings_ms.items()},
    }


def _float(v, missing: float = float("nan")) -> float:
    return missing if v is None else float(v)


def perception_frame_from_json(d: dict) -> PerceptionFrame:
    """The inverse of ``perception_frame_json`` (a line of perception.jsonl / frames.jsonl read back):
    the same frame, its dense maps absent; null read as NaN, or as inf where the field means
    "none" (light distance, lead TTC, sure range; files written before it had one read as inf)."""
    dets = d["detections"]
    n = len(dets)

    def column(key: str, width: int | None = None) -> np.ndarray:
        rows = [[_float(v) for v in o[key]] if width else _float(o[key]) for o in dets]
        return np.array(rows, np.float32).reshape((n, width) if width else (n,))

    detections = Detections(
        column("xyxy", 4), np.array([o["score"] for o in dets], np.float32).reshape(n),
        np.array([CLASS_NAMES.index(o["class"]) for o in dets], np.int64).reshape(n),
        np.array([o["track_id"] for o in dets], np.int64).reshape(n),
        column("distance_m"), column("position_m", 2), column("velocity_m_s", 2))
    lane = d["lane"]
    return PerceptionFrame(
        index=int(d["index"]), timestamp_s=float(d["timestamp_s"]), source=d["source"], image_size=tuple(d["image_size"]),
        detections=detections,
        lane=LaneEstimate(_float(lane["offset_m"]), _float(lane["heading_error_rad"]), _float(lane["curvature_1_m"]),
                          _float(lane["width_m"]), float(lane["confidence"])),
        light_state=d["light_state"], light_distance_m=_float(d["light_distance_m"], float("inf")),
        lead_index=int(d["lead_index"]), lead_ttc_s=_float(d["lead_ttc_s"], float("inf")),
        sure_range_m=_float(d.get("sure_range_m"), float("inf")), timings_ms=dict(d.get("timings_ms", {})))
