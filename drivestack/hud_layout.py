"""Where everything goes in the drive view, computed from the output size alone.

The view is the camera image upscaled ``scale`` times with a side panel to its right. Every size
in the panel (font, line height, margins, gauges, the bird's-eye inset) is a multiple of one unit,
``view height / 320``, so the layout looks the same at any output size; ``fit_text`` measures text
with ``cv2.getTextSize`` and elides it so it never leaves its box.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2

FONT = cv2.FONT_HERSHEY_SIMPLEX
PANEL_ASPECT = 0.9  # panel width / view height
ROWS = ("title", "speed", "steer", "pedal", "light", "lead", "lane", "supervisor", "route")
GAUGE_ROWS = ("speed", "steer", "pedal")  # rows with a gauge beside their text
ELLIPSIS = ".."  # Hershey fonts have no ellipsis glyph


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle in output pixels: x0, y0 inclusive, x1, y1 exclusive."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def w(self) -> int:
        return self.x1 - self.x0

    @property
    def h(self) -> int:
        return self.y1 - self.y0

    def overlaps(self, other: "Box") -> bool:
        return self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1

    def inside(self, other: "Box") -> bool:
        return other.x0 <= self.x0 and self.x1 <= other.x1 and other.y0 <= self.y0 and self.y1 <= other.y1


@dataclass(frozen=True, eq=False)  # hashed by identity: ``hud_layout`` hands out one object per size
class HudLayout:
    """Boxes of the drive view: the camera view, the panel, one text box per row (``ROWS``), a gauge
    box beside the text of each of ``GAUGE_ROWS``, and the bird's-eye inset below the rows."""

    view: Box  # the upscaled camera image with the perception overlay
    panel: Box  # the side panel
    font_scale: float  # Hershey scale of the panel's text
    baseline: int  # pixels below a text line's baseline that descenders take [px]
    text: dict[str, Box]  # row name -> where its text goes
    gauge: dict[str, Box]  # row name -> its gauge
    bev: Box  # the bird's-eye inset
    border: int  # thickness of the frame drawn while the supervisor brakes [px]

    @property
    def size(self) -> tuple[int, int]:
        """The output image's (height, width) [px]."""
        return self.view.h, self.view.w + self.panel.w

    def boxes(self) -> list[Box]:
        """Every box drawn in the panel (text, gauges, inset): none overlaps another."""
        return [*self.text.values(), *self.gauge.values(), self.bev]


@lru_cache(maxsize=8)
def hud_layout(camera_h: int, camera_w: int, scale: float = 2.0) -> HudLayout:
    """The layout for a ``camera_h`` x ``camera_w`` camera image shown ``scale`` times larger."""
    vw, vh = round(camera_w * scale), round(camera_h * scale)
    unit = vh / 320  # 1 at 2x the 320x160 camera
    pw = 2 * round(PANEL_ASPECT * vh / 2)  # even: video codecs want even frame sizes
    font_scale = 0.42 * unit
    (_, cap_h), baseline = cv2.getTextSize("Ag", FONT, font_scale, 1)
    line_h = max(cap_h + baseline + 1, round(1.5 * cap_h) + baseline)
    margin = max(2, round(8 * unit))
    x0, x1 = vw + margin, vw + pw - margin
    split = x0 + (x1 - x0) * 11 // 20  # text left of it, gauges right of it in the gauge rows
    text, gauge = {}, {}
    y = margin
    for name in ROWS:
        if name in GAUGE_ROWS:
            text[name] = Box(x0, y, split - margin // 2, y + line_h)
            gh = max(3, round(0.55 * line_h))
            gy = y + (line_h - gh) // 2
            gauge[name] = Box(split, gy, x1, gy + gh)
        else:
            text[name] = Box(x0, y, x1, y + line_h)
        y += line_h
    bev_top = y + margin
    bev_h = vh - margin - bev_top
    bev_w = min(x1 - x0, max(bev_h, 0) * 4 // 3)  # no wider than 4:3: the road ahead is the long side
    bev_x = vw + (pw - bev_w) // 2
    return HudLayout(view=Box(0, 0, vw, vh), panel=Box(vw, 0, vw + pw, vh), font_scale=font_scale, baseline=baseline,
                     text=text, gauge=gauge, bev=Box(bev_x, bev_top, bev_x + bev_w, bev_top + max(bev_h, 0)),
                     border=max(2, round(3 * unit)))


def text_width(text: str, font_scale: float) -> int:
    """Width of ``text`` drawn in the HUD's font [px]."""
    return cv2.getTextSize(text, FONT, font_scale, 1)[0][0]


@lru_cache(maxsize=256)
def fit_text(text: str, font_scale: float, width_px: int) -> str:
    """``text`` as it fits ``width_px``: whole, or cut and ended with ``ELLIPSIS`` (empty if not even that fits)."""
    if text_width(text, font_scale) <= width_px:
        return text
    lo, hi = 0, len(text)  # the longest prefix that fits with the ellipsis: binary search
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if text_width(text[:mid].rstrip() + ELLIPSIS, font_scale) <= width_px:
            lo = mid
        else:
            hi = mid - 1
    if lo == 0:
        return ELLIPSIS if text_width(ELLIPSIS, font_scale) <= width_px else ""
    return text[:lo].rstrip() + ELLIPSIS
