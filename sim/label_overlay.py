"""Draw a frame's ground truth over its image: boxes with class and distance, drivable area,
lane markings (ego-left, ego-right, other), and the depth map as a colour strip."""

from __future__ import annotations

import cv2
import numpy as np

from common.vocab import CLASS_COLOURS
from .labels import LANE_EGO_LEFT, LANE_EGO_RIGHT, LANE_OTHER, GroundTruth

LANE_COLOURS = {LANE_EGO_LEFT: (255, 60, 60), LANE_EGO_RIGHT: (60, 160, 255), LANE_OTHER: (255, 255, 255)}


def draw_labels(rgb: np.ndarray, gt: GroundTruth, scale: int = 3, min_px: int = 10) -> np.ndarray:
    """RGB image ``scale`` times larger with masks tinted in and boxes drawn."""
    img = rgb.astype(np.float32)
    if gt.drivable is not None:
        img[gt.drivable] = img[gt.drivable] * 0.6 + np.array([0, 255, 120]) * 0.4
    if gt.lanes is not None:
        for code, colour in LANE_COLOURS.items():
            m = gt.lanes == code
            img[m] = np.array(colour)
    out = cv2.resize(np.clip(img, 0, 255).astype(np.uint8), None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    for ob in gt.objects:
        if ob.box_xyxy is None or ob.visible_px < min_px:
            continue
        x0, y0, x1, y1 = (v * scale for v in ob.box_xyxy)
        colour = CLASS_COLOURS.get(ob.class_name, (255, 255, 255))
        cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), colour, 1)
        text = f"{ob.class_name.replace('traffic_light_', 'tl ')} {ob.distance_m:.0f}m"
        cv2.putText(out, text, (x0, max(y0 - 3, 8)), cv2.FONT_HERSHEY_SIMPLEX, 0.33, colour, 1, cv2.LINE_AA)
    return out


def depth_colour(depth_m: np.ndarray, max_m: float = 80.0, scale: int = 3) -> np.ndarray:
    """Depth as a turbo colour map (near = red, far = blue, no depth = black)."""
    d = np.clip(depth_m / max_m, 0, 1)
    img = cv2.applyColorMap((255 * (1 - d)).astype(np.uint8), cv2.COLORMAP_TURBO)[:, :, ::-1].copy()
    img[depth_m <= 0] = 0
    return cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
