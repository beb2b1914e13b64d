"""Detection metrics: box IoU, the one greedy matcher, AP and precision / recall at a score.

Matching is COCO's: within a class, detections in falling-score order each take the unused true
box they overlap most, a match when that IoU reaches the threshold. True objects with fewer than
``MIN_GT_PX`` visible pixels are not demanded: a detection matched to one is neither true nor false.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from common.vocab import CLASS_NAMES

MIN_GT_PX = 10  # true objects with fewer visible pixels are too small to demand [px]
IOU_MATCH = 0.5  # a detection matches a true box from this IoU on (AP50, precision, recall, distance errors)
IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)  # AP50-95 averages AP over these; the first is IOU_MATCH
AP_RECALL_POINTS = 101  # COCO's interpolation: precision sampled at recall 0, 0.01, ..., 1


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes a (N, 4) against b (M, 4), xyxy [px] -> (N, M)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def match_greedy(iou: np.ndarray, threshold: float) -> np.ndarray:
    """``iou`` (N, M): rows are detections in falling-score order, columns true boxes. Each detection
    in turn takes the unused true box it overlaps most; returns (N,) the matched column, -1 for none."""
    match = np.full(iou.shape[0], -1, np.int64)
    if iou.shape[1] == 0:
        return match
    used = np.zeros(iou.shape[1], bool)
    for i in range(iou.shape[0]):
        cand = np.where(used, -1.0, iou[i])
        j = int(np.argmax(cand))
        if cand[j] >= threshold:
            used[j] = True
            match[i] = j
    return match


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """COCO 101-point interpolated AP of a PR curve (detections in falling-score order)."""
    if recall.size == 0:
        return 0.0
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.flip(np.maximum.accumulate(np.flip(mpre)))  # precision made non-increasing in recall
    x = np.linspace(0, 1, AP_RECALL_POINTS)
    idx = np.searchsorted(mrec, x, side="left")
    return float(np.mean(np.where(idx < len(mpre), mpre[np.minimum(idx, len(mpre) - 1)], 0.0)))


@dataclass(frozen=True)
class TrueBoxes:
    """A frame's labelled objects that have a box, column-wise."""

    xyxy: np.ndarray  # (M, 4) float64, box corners [px]
    class_id: np.ndarray  # (M,) int64, index into CLASS_NAMES
    demanded: np.ndarray  # (M,) bool, at least MIN_GT_PX visible pixels
    distance_m: np.ndarray  # (M,) float64, ground distance from the camera [m]; NaN unknown
    lateral_m: np.ndarray  # (M,) float64, footprint centre left of the camera's axis [m]; NaN unknown

    @staticmethod
    def from_labels(objects: Sequence, scale_xy: tuple[float, float] = (1.0, 1.0)) -> "TrueBoxes":
        """From ``sim.labels.ObjectLabel``s or their JSON (a recording's); ``scale_xy`` maps label
        pixels to the detections' image."""
        get = lambda o, k: o[k] if isinstance(o, Mapping) else getattr(o, k)  # noqa: E731
        boxed = [o for o in objects if get(o, "box_xyxy") is not None]
        sx, sy = scale_xy
        dist = [get(o, "distance_m") for o in boxed]
        # recordings written before the label carried it have no footprint centre
        lateral = [o.get("y_m") if isinstance(o, Mapping) else o.y_m for o in boxed]
        return TrueBoxes(np.array([get(o, "box_xyxy") for o in boxed], np.float64).reshape(-1, 4) * [sx, sy, sx, sy],
                         np.array([get(o, "class_id") for o in boxed], np.int64),
                         np.array([get(o, "visible_px") >= MIN_GT_PX for o in boxed], bool),
                         np.array([np.nan if d is None else d for d in dist], np.float64),
                         np.array([np.nan if y is None else y for y in lateral], np.float64))

    def __len__(self) -> int:
        return len(self.class_id)


@dataclass(frozen=True)
class ClassCounts:
    """One class's detections at a score threshold, matched at ``IOU_MATCH``."""

    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None


@dataclass(frozen=True)
class FrameMatches:
    """One frame's matching at ``IOU_MATCH``: for each detection (the frame's order), the true box
    (an index into the frame's ``TrueBoxes``) it matched, -1 for none."""

    true_index: np.ndarray  # (N,) int64


def distance_errors(matches: FrameMatches, truth: TrueBoxes, distance_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(true distance [m], relative error (predicted - true) / true) of each detection matched to a demanded
    object, where both distances are known; ``distance_m`` (N,) the detections' distances [m]."""
    i = np.flatnonzero(matches.true_index >= 0)
    j = matches.true_index[i]
    true, pred = truth.distance_m[j], np.asarray(distance_m, np.float64)[i]
    ok = truth.demanded[j] & np.isfinite(pred) & (true > 0)
    return true[ok], (pred[ok] - true[ok]) / true[ok]


def lateral_errors(matches: FrameMatches, truth: TrueBoxes, position_m: np.ndarray,
                   classes: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(true distance [m], predicted - true lateral place of the footprint centre [m]) of each detection matched
    to a demanded object of ``classes``; ``position_m`` (N, 2) the detections' ground places (forward, left) [m],
    whose lateral is the body's centre (``perception.placement``)."""
    i = np.flatnonzero(matches.true_index >= 0)
    j = matches.true_index[i]
    pred = np.asarray(position_m, np.float64).reshape(-1, 2)[i, 1]
    ok = (truth.demanded[j] & np.isin(truth.class_id[j], classes) & np.isfinite(pred) & np.isfinite(truth.lateral_m[j])
          & np.isfinite(truth.distance_m[j]))
    return truth.distance_m[j][ok], pred[ok] - truth.lateral_m[j][ok]


class DetectionTally:
    """Per class: each detection's score and match flags at every ``IOU_THRESHOLDS``, and the number of
    demanded true objects. Reports AP50, AP50-95, PR curves and counts at any score threshold."""

    def __init__(self) -> None:
        n = len(CLASS_NAMES)
        self._scores: list[list[np.ndarray]] = [[] for _ in range(n)]
        self._flags: list[list[np.ndarray]] = [[] for _ in range(n)]  # (n, len(IOU_THRESHOLDS)) bool each
        self.n_true = np.zeros(n, np.int64)

    def add(self, xyxy: np.ndarray, score: np.ndarray, class_id: np.ndarray, truth: TrueBoxes) -> FrameMatches:
        """One frame's detections (N, 4) [px], (N,), (N,) against its true boxes."""
        matched = np.full(len(score), -1, np.int64)
        for c in range(len(CLASS_NAMES)):
            g = np.flatnonzero(truth.class_id == c)
            self.n_true[c] += int(truth.demanded[g].sum())
            d = np.flatnonzero(class_id == c)
            if d.size == 0:
                continue
            d = d[np.argsort(-score[d])]
            iou = iou_matrix(xyxy[d], truth.xyxy[g])
            match = np.stack([match_greedy(iou, t) for t in IOU_THRESHOLDS], axis=1)  # (n, thresholds)
            hit = match[:, 0] >= 0
            matched[d[hit]] = g[match[hit, 0]]
            keep = np.ones(len(d), bool)
            keep[hit] = truth.demanded[matched[d[hit]]]  # matched to a too-small object: neither true nor false
            self._scores[c].append(score[d][keep].astype(np.float64))
            self._flags[c].append(match[keep] >= 0)
        return FrameMatches(matched)

    def _class(self, c: int) -> tuple[np.ndarray, np.ndarray]:
        scores = np.concatenate(self._scores[c]) if self._scores[c] else np.zeros(0)
        flags = np.concatenate(self._flags[c]) if self._flags[c] else np.zeros((0, len(IOU_THRESHOLDS)), bool)
        return scores, flags

    def counts(self, min_score: float) -> dict[str, ClassCounts]:
        """Per class name: detections scoring at least ``min_score``, matched at ``IOU_MATCH``."""
        out = {}
        for c, name in enumerate(CLASS_NAMES):
            scores, flags = self._class(c)
            kept = scores >= min_score
            tp = int(flags[kept, 0].sum())
            out[name] = ClassCounts(tp, int(kept.sum()) - tp, int(self.n_true[c]) - tp)
        return out

    def average_precision(self) -> tuple[dict[str, dict], dict[str, tuple[np.ndarray, np.ndarray]]]:
        """``({"ap50": {class: AP}, "ap50_95": {...}}, {class: (recall, precision) at IOU_MATCH})``,
        AP rounded to 4 places, None for a class without demanded objects."""
        ap50, ap5095, curves = {}, {}, {}
        for c, name in enumerate(CLASS_NAMES):
            if self.n_true[c] == 0:
                ap50[name] = ap5095[name] = None
                continue
            scores, flags = self._class(c)
            flags = flags[np.argsort(-scores, kind="stable")]
            aps = []
            for t in range(len(IOU_THRESHOLDS)):
                tp = np.cumsum(flags[:, t])
                fp = np.cumsum(~flags[:, t])
                recall = tp / self.n_true[c]
                precision = tp / np.maximum(tp + fp, 1)
                aps.append(average_precision(recall, precision))
                if t == 0:
                    curves[name] = (recall, precision)
            ap50[name] = round(float(aps[0]), 4)
            ap5095[name] = round(float(np.mean(aps)), 4)
        return {"ap50": ap50, "ap50_95": ap5095}, curves
