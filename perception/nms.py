"""Non-maximum suppression of a YOLOv8 head's raw output, in NumPy.

The same result as ultralytics' ``non_max_suppression`` with its defaults (best class per anchor,
per-class NMS by offsetting boxes by class, torchvision's greedy NMS, ``max_det``), for the ONNX
Runtime detector, which otherwise leaves NumPy for torch only to do this. On the 2-core CPU the
torch version cost 2-5 ms per frame (a ``max`` over 2,100 anchors under torch's thread pool);
after the confidence filter only a few dozen boxes remain, which NumPy handles in well under 1 ms.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MAX_WH = 7680  # class offset [px]: boxes of different classes never overlap (ultralytics' value)


def non_max_suppression(pred: np.ndarray, conf: float, iou: float, classes: Sequence[int] | None = None,
                        max_det: int = 300) -> np.ndarray:
    """(N, 6) float32 rows ``x0, y0, x1, y1, score, class`` from one image's raw head output
    ``pred`` (4 + classes, anchors): boxes as centre x, centre y, width, height, then class scores."""
    scores_all = pred[4:]
    best = scores_all.argmax(0)
    score = scores_all[best, np.arange(scores_all.shape[1])]
    keep = score > conf
    if classes is not None:
        keep &= np.isin(best, np.asarray(classes))
    if not keep.any():
        return np.zeros((0, 6), np.float32)
    cx, cy, w, h = pred[:4, keep]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1).astype(np.float32)
    score, cls = score[keep].astype(np.float32), best[keep].astype(np.float32)
    order = np.argsort(-score, kind="stable")
    kept = _greedy(boxes[order] + (cls[order] * MAX_WH)[:, None], iou)[:max_det]
    i = order[kept]
    return np.concatenate([boxes[i], score[i, None], cls[i, None]], 1)


def nms_rows(rows: np.ndarray, iou: float, max_det: int = 300) -> np.ndarray:
    """Class-wise greedy NMS over already decoded rows ``x0, y0, x1, y1, score, class`` (from several passes
    over one image: ``perception.far_field``), highest score first, as :func:`non_max_suppression` does."""
    if len(rows) == 0:
        return np.zeros((0, 6), np.float32)
    rows = np.asarray(rows, np.float32)
    order = np.argsort(-rows[:, 4], kind="stable")
    kept = _greedy(rows[order, :4] + (rows[order, 5] * MAX_WH)[:, None], iou)[:max_det]
    return rows[order[kept]]


def _greedy(boxes: np.ndarray, iou: float) -> np.ndarray:
    """Indices of ``boxes`` (sorted by falling score) kept by greedy NMS: a box is dropped when its
    IoU with a kept, higher-scoring box exceeds ``iou`` (as ``torchvision.ops.nms``)."""
    x0, y0, x1, y1 = boxes.T
    area = (x1 - x0) * (y1 - y0)
    alive = np.ones(len(boxes), bool)
    kept = []
    for k in range(len(boxes)):
        if not alive[k]:
            continue
        kept.append(k)
        rest = np.flatnonzero(alive[k + 1:]) + k + 1
        if rest.size == 0:
            break
        iw = np.maximum(np.minimum(x1[k], x1[rest]) - np.maximum(x0[k], x0[rest]), 0.0)
        ih = np.maximum(np.minimum(y1[k], y1[rest]) - np.maximum(y0[k], y0[rest]), 0.0)
        inter = iw * ih
        alive[rest[inter / (area[k] + area[rest] - inter) > iou]] = False
    return np.asarray(kept, np.int64)
