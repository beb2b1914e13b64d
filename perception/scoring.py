"""Scoring perception against ground truth: box matching, precision/recall, lane and distance errors.

Used by ``drivestack replay`` (a simulator recording has its labels beside it) and by the
perception evaluation. Ground-truth objects are the simulator's labels as JSON
(``ObjectLabel`` fields); objects with fewer than ``MIN_GT_PX`` visible pixels are too small
to demand and are ignored (neither missed nor false when detected).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from .types import CLASS_NAMES, Detections

MIN_GT_PX = 10
IOU_MATCH = 0.5


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes a (N, 4) against b (M, 4), xyxy."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


@dataclass
class DetectionTally:
    """True/false positives and misses per class, and distance errors of matched boxes."""

    tp: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    fp: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    fn: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    distance_rel_err: list[tuple[float, float]] = field(default_factory=list)  # (true distance m, relative error)

    def add(self, dets: Detections, gt_objects: list[dict], scale_xy: tuple[float, float] = (1.0, 1.0)) -> None:
        """Greedy one-to-one matching by IoU within each class; ``scale_xy`` maps GT pixels to the detections' image."""
        gts = [o for o in gt_objects if o.get("box_xyxy") is not None]
        big = [o for o in gts if o.get("visible_px", 0) >= MIN_GT_PX]
        small = [o for o in gts if o.get("visible_px", 0) < MIN_GT_PX]
        sx, sy = scale_xy
        for c, name in enumerate(CLASS_NAMES):
            d_idx = np.flatnonzero(dets.class_id == c)
            g = [o for o in big if o["class_id"] == c]
            g_boxes = np.array([o["box_xyxy"] for o in g], np.float64).reshape(-1, 4) * [sx, sy, sx, sy]
            matched_d = set()
            if len(d_idx) and len(g):
                iou = iou_matrix(dets.xyxy[d_idx], g_boxes)
                order = np.dstack(np.unravel_index(np.argsort(-iou, axis=None), iou.shape))[0]
                used_g = set()
                for i, j in order:
                    if iou[i, j] < IOU_MATCH:
                        break
                    if i in matched_d or j in used_g:
                        continue
                    matched_d.add(i)
                    used_g.add(j)
                    dist = float(dets.distance_m[d_idx[i]])
                    true = float(g[j]["distance_m"])
                    if np.isfinite(dist) and true > 0:
                        self.distance_rel_err.append((true, (dist - true) / true))
                self.fn[name] += len(g) - len(used_g)
            else:
                self.fn[name] += len(g)
            self.tp[name] += len(matched_d)
            # unmatched detections on tiny labelled objects are not counted as false
            ignore = np.array([o["box_xyxy"] for o in small if o["class_id"] == c], np.float64).reshape(-1, 4) * [sx, sy, sx, sy]
            for i in range(len(d_idx)):
                if i in matched_d:
                    continue
                if len(ignore) and iou_matrix(dets.xyxy[d_idx[i]][None], ignore).max() >= IOU_MATCH:
                    continue
                self.fp[name] += 1

    def summary(self) -> dict:
        out = {}
        for name in CLASS_NAMES:
            tp, fp, fn = self.tp[name], self.fp[name], self.fn[name]
            out[name] = {"precision": round(tp / (tp + fp), 4) if tp + fp else None,
                         "recall": round(tp / (tp + fn), 4) if tp + fn else None, "tp": tp, "fp": fp, "fn": fn}
        errs = np.array(self.distance_rel_err).reshape(-1, 2)
        by_range = {}
        for lo, hi in ((0, 20), (20, 40), (40, 80), (80, 1e9)):
            m = (errs[:, 0] >= lo) & (errs[:, 0] < hi)
            key = f"{lo}-{hi if hi < 1e9 else 'inf'}m"
            by_range[key] = round(float(np.median(np.abs(errs[m, 1]))), 4) if m.any() else None
        return {"per_class": out, "distance_median_rel_error_by_range": by_range}
