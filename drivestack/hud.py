"""The drive view: the camera frame with what perception saw, and a side panel with the car's state.

``compose(image_rgb, pf, hud)`` upscales the camera image ``scale`` times (2 by default: 320x160
-> 640x320), draws the ``PerceptionFrame`` over it (``perception.overlay.draw``: the drivable area
as a light tint with an outline, lane markings as thin lines, boxes with class, track id and
distance) and puts the side panel to its right (``drivestack.hud_panel``: speed against the limit,
steering, throttle / brake, the traffic light, the lead vehicle's time to collision, the lane, the
safety supervisor's state, route progress and a bird's-eye inset). Every size comes from
``drivestack.hud_layout``, computed from the output size. Non-finite values are shown as "--",
never raised on.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from drivestack.hud_layout import hud_layout
from drivestack.hud_panel import RED, draw_panel
from perception.types import PerceptionFrame

SCALE = 2  # the camera image is upscaled this much (320x160 -> 640x320), the panel added beside it


@dataclass(frozen=True)
class HudState:
    """What the HUD shows for one step."""

    speed_m_s: float  # [m/s]
    speed_limit_m_s: float  # [m/s]
    steer: float  # command in [-1, 1], + is left
    accel: float  # command in [-1, 1]: > 0 throttle, < 0 brake
    supervisor_active: bool  # the safety supervisor overrode the policy this step
    supervised: bool = True  # False: no supervisor in the loop (shown as "off")
    route_completion: float = 0.0  # [0, 1]
    time_s: float = 0.0  # since the episode start [s]
    policy: str = ""  # policy name
    source: str = ""  # "models" or "labels"
    route_command: str = ""  # a navigation world's next command and its distance, e.g. "left 35 m"; "" for none


def compose(image_rgb: np.ndarray, pf: PerceptionFrame | None, hud: HudState, camera=None, scale: float = SCALE) -> np.ndarray:
    """The drive view, ``hud_layout(H, W, scale).size`` + (3,) uint8 RGB: the camera ``scale`` times
    larger on the left, the panel on the right. ``camera`` is unused (kept for callers that pass it)."""
    h, w = image_rgb.shape[:2]
    layout = hud_layout(h, w, scale)
    out = np.empty((*layout.size, 3), np.uint8)
    v = layout.view
    view = cv2.resize(image_rgb, (v.w, v.h), interpolation=cv2.INTER_LINEAR) if (v.w, v.h) != (w, h) else image_rgb
    out[:, :v.w] = view if pf is None else _overlay(view, pf)
    draw_panel(out, layout, pf, hud)
    if hud.supervised and hud.supervisor_active:
        cv2.rectangle(out, (0, 0), (v.w - 1, v.h - 1), RED, layout.border)
    return out


def _overlay(view: np.ndarray, pf: PerceptionFrame) -> np.ndarray:
    from perception.overlay import draw

    return draw(view, pf, bev=False, status=False)  # the panel shows the status and the bird's-eye view
