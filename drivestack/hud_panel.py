"""The drive view's side panel: what the car does and what it saw, as text, gauges and a bird's-eye view.

``draw_panel(out, layout, pf, hud)`` fills ``layout.panel`` of ``out``: the policy and perception
source, speed against the limit, steering, throttle / brake, the traffic light, the lead vehicle's
distance and time to collision, the lane estimate, the safety supervisor's state, route progress,
and the bird's-eye inset. Each text goes in its own box of the layout, elided to fit; the panel's
static part (background, gauge frames) is drawn once per layout and copied in.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING

import cv2
import numpy as np

from drivestack.hud_layout import FONT, Box, HudLayout, fit_text
from perception.overlay import bev_view
from perception.types import PerceptionFrame

if TYPE_CHECKING:
    from drivestack.hud import HudState

WHITE, RED, GREEN, YELLOW, GREY = (255, 255, 255), (255, 70, 60), (70, 220, 90), (255, 210, 40), (150, 150, 150)
BACKGROUND, FRAME = (24, 26, 30), (90, 90, 90)
LIGHT_COLOURS = {"red": RED, "yellow": YELLOW, "green": GREEN}
TTC_WARN_S = 3.0  # the lead vehicle's TTC shows red below this [s]
SPEED_GAUGE_SPAN = 1.25  # the speed gauge's full scale, in units of the speed limit


def fmt(value: float, spec: str, unit: str = "") -> str:
    """``value`` formatted, or "--" when it is not finite (the HUD never raises on a missing value)."""
    return f"{value:{spec}}{unit}" if math.isfinite(value) else "--"


@lru_cache(maxsize=8)
def _background(layout: HudLayout) -> np.ndarray:
    """The panel without its values: background and gauge frames, (panel h, panel w, 3) uint8."""
    p = layout.panel
    bg = np.empty((p.h, p.w, 3), np.uint8)
    bg[:] = BACKGROUND
    for g in layout.gauge.values():
        cv2.rectangle(bg, (g.x0 - p.x0, g.y0 - p.y0), (g.x1 - 1 - p.x0, g.y1 - 1 - p.y0), FRAME, 1)
    bg.flags.writeable = False
    return bg


def _text(out: np.ndarray, layout: HudLayout, box: Box, text: str, colour) -> None:
    """``text`` left-aligned on the baseline of ``box``, cut to its width."""
    text = fit_text(text, layout.font_scale, box.w)
    cv2.putText(out, text, (box.x0, box.y1 - layout.baseline - 1), FONT, layout.font_scale, colour, 1, cv2.LINE_AA)


def _fill(out: np.ndarray, g: Box, lo: float, hi: float, colour) -> None:
    """Fill the gauge ``g`` inside its frame from fraction ``lo`` to ``hi`` of its width ([0, 1])."""
    a, b = sorted((float(np.clip(lo, 0, 1)), float(np.clip(hi, 0, 1))))
    x0, x1 = g.x0 + 1 + round(a * (g.w - 2)), g.x0 + 1 + round(b * (g.w - 2))
    if x1 > x0:
        out[g.y0 + 1:g.y1 - 1, x0:x1] = colour


def _centred(out: np.ndarray, g: Box, value: float, pos, neg) -> None:
    """A gauge for a value in [-1, 1] that grows from the middle."""
    v = float(np.clip(value, -1.0, 1.0)) if math.isfinite(value) else 0.0
    _fill(out, g, 0.5, 0.5 + v / 2, pos if v > 0 else neg)
    mid = g.x0 + g.w // 2
    out[g.y0:g.y1, mid] = WHITE


def draw_panel(out: np.ndarray, layout: HudLayout, pf: PerceptionFrame | None, hud: HudState) -> None:
    """Fill ``layout.panel`` of ``out`` (the whole drive view, written in place)."""
    p = layout.panel
    out[p.y0:p.y1, p.x0:p.x1] = _background(layout)
    t, g = layout.text, layout.gauge
    title = " | ".join(s for s in (hud.policy, hud.source) if s)
    _text(out, layout, t["title"], title, GREY)

    limit_kmh = hud.speed_limit_m_s * 3.6
    speed_kmh = hud.speed_m_s * 3.6
    over = math.isfinite(limit_kmh) and math.isfinite(speed_kmh) and speed_kmh > limit_kmh + 1.0
    _text(out, layout, t["speed"], f"{fmt(speed_kmh, '.0f')} / {fmt(limit_kmh, '.0f')} km/h", RED if over else WHITE)
    if math.isfinite(limit_kmh) and limit_kmh > 0:
        full = SPEED_GAUGE_SPAN * limit_kmh
        _fill(out, g["speed"], 0.0, speed_kmh / full if math.isfinite(speed_kmh) else 0.0, RED if over else GREEN)
        tick = g["speed"].x0 + round(g["speed"].w / SPEED_GAUGE_SPAN)
        out[g["speed"].y0 - 2:g["speed"].y1 + 2, tick - 1:tick + 1] = WHITE  # the limit

    _text(out, layout, t["steer"], f"steer {fmt(hud.steer, '+.2f')}", WHITE)
    _centred(out, g["steer"], hud.steer, YELLOW, YELLOW)
    pedal = "throttle" if not hud.accel < 0 else "brake"
    _text(out, layout, t["pedal"], f"{pedal} {fmt(abs(hud.accel), '.2f')}", WHITE)
    _centred(out, g["pedal"], hud.accel, GREEN, RED)

    light = pf.light_state if pf is not None else "none"
    box = t["light"]
    r = max(2, (box.h - layout.baseline) // 3)
    cy = box.y1 - layout.baseline - r - 1
    cv2.circle(out, (box.x0 + r, cy), r, LIGHT_COLOURS.get(light, FRAME), -1, cv2.LINE_AA)
    dist = f" {pf.light_distance_m:.0f} m" if pf is not None and light != "none" and math.isfinite(pf.light_distance_m) else ""
    _text(out, layout, Box(box.x0 + 3 * r, box.y0, box.x1, box.y1), f"light {light}{dist}", LIGHT_COLOURS.get(light, WHITE))

    lead, colour = "lead --", WHITE
    if pf is not None and pf.lead_index >= 0:
        ttc = pf.lead_ttc_s
        lead = f"lead {fmt(float(pf.detections.distance_m[pf.lead_index]), '.0f', ' m')}  TTC " + (f"{ttc:.1f} s" if math.isfinite(ttc) else "inf")
        colour = RED if ttc < TTC_WARN_S else WHITE
    _text(out, layout, t["lead"], lead, colour)
    lane = pf.lane if pf is not None else None
    _text(out, layout, t["lane"], f"lane {fmt(lane.offset_m, '+.2f', ' m')}  conf {lane.confidence:.2f}" if lane is not None else "lane --", WHITE)

    box = t["supervisor"]
    if not hud.supervised:
        _text(out, layout, box, "supervisor off", GREY)
    elif hud.supervisor_active:
        out[box.y0 + 1:box.y1 - 1, box.x0 - 2:box.x1] = RED  # a red badge: the supervisor is braking
        _text(out, layout, box, "SUPERVISOR BRAKING", WHITE)
    else:
        _text(out, layout, box, "supervisor idle", GREEN)
    nav = f"  {hud.route_command}" if hud.route_command else f"  t {fmt(hud.time_s, '.1f', ' s')}"
    _text(out, layout, t["route"], f"route {fmt(100 * hud.route_completion, '.0f', ' %')}{nav}", WHITE)

    b = layout.bev
    if pf is not None and b.w > 8 and b.h > 8:
        out[b.y0:b.y1, b.x0:b.x1] = bev_view(pf, b.w, b.h)
