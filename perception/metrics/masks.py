"""Pixel-mask metrics: drivable-area IoU and lane-marking F1."""

from __future__ import annotations

import numpy as np

from common.vocab import LANE_CLASSES


def near(mask: np.ndarray) -> np.ndarray:
    """Pixels within 1 px (a 3x3 neighbourhood) of a true pixel of ``mask`` (..., H, W) bool; the
    image border adds nothing (as ``cv2.dilate`` with a 3x3 kernel)."""
    pad = np.pad(mask, [(0, 0)] * (mask.ndim - 2) + [(1, 1), (1, 1)])
    h, w = mask.shape[-2:]
    out = np.zeros(mask.shape, bool)
    for dy in range(3):
        for dx in range(3):
            out |= pad[..., dy:dy + h, dx:dx + w]
    return out


class MaskIoU:
    """Intersection over union summed over every pixel added (not a mean of per-frame IoUs)."""

    def __init__(self) -> None:
        self.inter = self.union = 0

    def add(self, pred: np.ndarray, true: np.ndarray) -> None:
        """Boolean masks of one shape (a frame or a batch)."""
        self.inter += int((pred & true).sum())
        self.union += int((pred | true).sum())

    def value(self) -> float | None:
        return self.inter / self.union if self.union else None


class LaneF1:
    """Pixel F1 of each lane-marking class (``LANE_CLASSES`` but "none") with a 1-px tolerance on both
    sides, summed over every pixel added: precision = predicted pixels with the truth's class within
    1 px (``near``) / predicted pixels; recall = true pixels with the prediction's class within 1 px /
    true pixels."""

    def __init__(self) -> None:
        n = len(LANE_CLASSES)
        self.confirmed = np.zeros(n, np.int64)  # predicted pixels with the truth's class within 1 px
        self.predicted = np.zeros(n, np.int64)
        self.found = np.zeros(n, np.int64)  # true pixels with the prediction's class within 1 px
        self.true = np.zeros(n, np.int64)

    def add(self, pred: np.ndarray, true: np.ndarray) -> None:
        """Lane-code masks (..., H, W) int, codes index ``LANE_CLASSES``."""
        for code in range(1, len(LANE_CLASSES)):
            pm, tm = pred == code, true == code
            self.confirmed[code] += int((pm & near(tm)).sum())
            self.predicted[code] += int(pm.sum())
            self.found[code] += int((tm & near(pm)).sum())
            self.true[code] += int(tm.sum())

    def f1(self) -> dict[str, float]:
        """Per class name (ego_left, ego_right, other); 0 when there is nothing to find or nothing found."""
        out = {}
        for code, name in enumerate(LANE_CLASSES):
            if code == 0:
                continue
            precision = int(self.confirmed[code]) / max(int(self.predicted[code]), 1)
            recall = int(self.found[code]) / max(int(self.true[code]), 1)
            out[name] = 2 * precision * recall / max(precision + recall, 1e-9)
        return out
