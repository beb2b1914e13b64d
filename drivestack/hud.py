"""The drive view: the camera frame with what perception saw and a heads-up display of the car.

``compose(image_rgb, pf, hud)`` upscales the camera image, draws the ``PerceptionFrame`` over it
(``perception.overlay.draw``: drivable area, lane markings, boxes with class, track id and
distance, a bird's-eye inset) and adds a HUD panel: speed and limit, steering, throttle / brake,
the lead vehicle's time to collision, the traffic light and whether the safety supervisor is
braking. Non-finite values are shown as "--", never raised on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from perception.types import PerceptionFrame

SCALE = 2  # the camera image is upscaled this much before drawing (320x160 -> 640x320)
PANEL_W_PX = 190  # HUD panel width at SCALE 2 [px]
WHITE, RED, GREEN, YELLOW, GREY = (255, 255, 255), (255, 70, 60), (70, 220, 90), (255, 210, 40), (150, 150, 150)
LIGHT_COLOURS = {"red": RED, "yellow": YELLOW, "green": GREEN}


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


def _fmt(value: float, spec: str, unit: str = "") -> str:
    return f"{value:{spec}}{unit}" if math.isfinite(value) else "--"


def compose(image_rgb: np.ndarray, pf: PerceptionFrame | None, hud: HudState, camera=None, scale: int = SCALE) -> np.ndarray:
    """The annotated drive view, (H * scale, W * scale, 3) uint8 RGB."""
    from perception.overlay import draw

    img = cv2.resize(image_rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR) if scale != 1 else image_rgb.copy()
    if pf is not None:
        img = draw(img, pf, camera)
    _panel(img, pf, hud, scale)
    return img


def _bar(img: np.ndarray, x: int, y: int, w: int, h: int, value: float, colour_pos, colour_neg) -> None:
    """A centred horizontal bar for a value in [-1, 1]."""
    cv2.rectangle(img, (x, y), (x + w, y + h), GREY, 1)
    v = float(np.clip(value, -1.0, 1.0)) if math.isfinite(value) else 0.0
    mid = x + w // 2
    end = int(mid + v * (w // 2))
    if end != mid:
        cv2.rectangle(img, (min(mid, end), y + 1), (max(mid, end), y + h - 1), colour_pos if v > 0 else colour_neg, -1)
    cv2.line(img, (mid, y), (mid, y + h), WHITE, 1)


def _panel(img: np.ndarray, pf: PerceptionFrame | None, hud: HudState, scale: int) -> None:
    s = scale / 2.0
    pw, line_h = int(PANEL_W_PX * s), max(int(15 * s), 10)
    font = 0.42 * s
    x0 = int(6 * s)
    lines: list[tuple[str, tuple[int, int, int]]] = []
    lines.append((f"{_fmt(hud.speed_m_s * 3.6, '5.1f')} km/h  limit {_fmt(hud.speed_limit_m_s * 3.6, '.0f')}", WHITE))
    lines.append((f"steer {_fmt(hud.steer, '+.2f')}", WHITE))  # bar drawn beside
    pedal = "throttle" if hud.accel >= 0 else "brake"
    lines.append((f"{pedal} {_fmt(abs(hud.accel), '.2f')}", WHITE))
    ttc = "--"
    if pf is not None and pf.lead_index >= 0:
        ttc = "inf" if not math.isfinite(pf.lead_ttc_s) else f"{pf.lead_ttc_s:.1f} s"
        dist = float(pf.detections.distance_m[pf.lead_index])
        ttc += f" ({_fmt(dist, '.0f', ' m')})"
    lines.append((f"lead TTC {ttc}", WHITE))
    light = pf.light_state if pf is not None else "none"
    light_text = f"light {light}" + (f" {pf.light_distance_m:.0f} m" if pf is not None and light != "none" and math.isfinite(pf.light_distance_m) else "")
    lines.append((light_text, LIGHT_COLOURS.get(light, WHITE)))
    if hud.supervised:
        lines.append(("supervisor ACTIVE" if hud.supervisor_active else "supervisor idle", RED if hud.supervisor_active else GREEN))
    else:
        lines.append(("supervisor off", GREY))
    lines.append((f"route {_fmt(100 * hud.route_completion, '5.1f', ' %')}  t {hud.time_s:5.1f} s", WHITE))
    if hud.policy or hud.source:
        lines.append((f"{hud.policy} | {hud.source}"[:34], GREY))
    ph = line_h * len(lines) + int(8 * s)
    region = img[: ph, : pw]
    region[:] = (region * 0.4).astype(np.uint8)
    for k, (text, colour) in enumerate(lines):
        y = int(4 * s) + (k + 1) * line_h - int(3 * s)
        cv2.putText(img, text, (x0, y), cv2.FONT_HERSHEY_SIMPLEX, font, colour, 1, cv2.LINE_AA)
    bar_x, bar_w, bar_h = int(100 * s), int(80 * s), max(int(8 * s), 4)
    _bar(img, bar_x, int(4 * s) + line_h + int(3 * s), bar_w, bar_h, hud.steer, YELLOW, YELLOW)
    _bar(img, bar_x, int(4 * s) + 2 * line_h + int(3 * s), bar_w, bar_h, hud.accel, GREEN, RED)
    if hud.supervised and hud.supervisor_active:
        cv2.rectangle(img, (0, 0), (img.shape[1] - 1, img.shape[0] - 1), RED, max(2, int(3 * s)))
