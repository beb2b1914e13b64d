"""The far field: a second detector pass over the band around the horizon, enlarged, for what is too small
in the whole frame.

At the camera's 320 x 160 px and 80 degree field of view a 75 cm road cone is 7 px tall at 20 m and 4 px at 36 m,
and the YOLOv8n detector (its finest stride is 8 px) boxes cones from about 20 m: det-cones17 on MergeSlowTraffic at
80 km/h found 72 % of the labelled cones at 15-20 m, 6 % at 20-25 m and none beyond, 0.9 s at that speed. The same
network on the window around the horizon, cut out and enlarged 2x (a telephoto of the same pixels: slicing-aided
inference, Akyon et al. 2022, "SAHI"), found 76 % at 20-25 m, 65 % at 25-30 m and 46 % at 30-40 m. The window is the
frame's size over the zoom, so the enlarged window is as large as the frame: one more network pass of the same
cost. Its boxes, scaled back, join the frame's under class-wise NMS; boxes cut by the window's edge are left to
the frame's pass, which sees those objects whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from common.vocab import CAMERA_MOUNT

from .nms import nms_rows

EDGE_PX = 2.0  # a box within this of the window's edge (in the enlarged window) is cut by it [px]
ZOOM_RANGE = (1.5, 4.0)  # enlargements worth a pass: less adds little over the frame, more leaves a sliver [-]


@dataclass(frozen=True)
class FarField:
    """Where the window lies and how much it is enlarged."""

    zoom: float = 2.0  # enlargement of the window (its size is the frame's over this) [-]
    # the window is centred on the horizon of a camera with this pitch and field of view (the simulator's mount;
    # footage from another camera puts the horizon elsewhere and is still covered near the middle) [deg]
    pitch_deg: float = CAMERA_MOUNT.pitch_deg
    hfov_deg: float = CAMERA_MOUNT.hfov_deg

    def __post_init__(self) -> None:
        if not ZOOM_RANGE[0] <= self.zoom <= ZOOM_RANGE[1]:
            raise ValueError(f"far-field zoom {self.zoom} is outside {ZOOM_RANGE[0]}-{ZOOM_RANGE[1]}")

    def window(self, image_hw: tuple[int, int]) -> tuple[int, int, int, int]:
        """``x0, y0, x1, y1`` of the window in the frame [px]: the frame's size over the zoom, centred
        across, and up and down on the horizon row (kept inside the frame)."""
        h, w = image_hw
        ww, wh = int(round(w / self.zoom)), int(round(h / self.zoom))
        fy = (w / 2) / math.tan(math.radians(self.hfov_deg) / 2)
        horizon = h / 2 + fy * math.tan(math.radians(self.pitch_deg))  # pitch < 0 (down): above the middle
        y0 = int(round(min(max(horizon - wh / 2, 0), h - wh)))
        x0 = (w - ww) // 2
        return x0, y0, x0 + ww, y0 + wh

    def enlarge(self, image: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
        """The window cut out and enlarged to the frame's size, and the window."""
        import cv2

        h, w = image.shape[:2]
        x0, y0, x1, y1 = win = self.window((h, w))
        return cv2.resize(image[y0:y1, x0:x1], (w, h), interpolation=cv2.INTER_LINEAR), win

    @staticmethod
    def to_frame(rows: np.ndarray, win: tuple[int, int, int, int], enlarged_hw: tuple[int, int]) -> np.ndarray:
        """The enlarged window's box rows ``x0, y0, x1, y1, score, class`` in the frame's pixels, less those
        cut by the window's edge."""
        h, w = enlarged_hw
        x0, y0, x1, y1 = win
        sx, sy = (x1 - x0) / w, (y1 - y0) / h
        b = rows[:, :4]
        inside = (b[:, 0] > EDGE_PX) & (b[:, 1] > EDGE_PX) & (b[:, 2] < w - EDGE_PX) & (b[:, 3] < h - EDGE_PX)
        out = rows[inside].astype(np.float32, copy=True)
        out[:, [0, 2]] = out[:, [0, 2]] * sx + x0
        out[:, [1, 3]] = out[:, [1, 3]] * sy + y0
        return out


def merge_rows(frame_rows: np.ndarray, far_rows: np.ndarray, iou: float, max_det: int) -> np.ndarray:
    """The frame's rows and the far field's (already in the frame's pixels), one box per object: class-wise
    NMS keeps the higher-scoring of two boxes that overlap."""
    if len(far_rows) == 0:
        return frame_rows
    return nms_rows(np.concatenate([frame_rows, far_rows]).astype(np.float32), iou, max_det)
