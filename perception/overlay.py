"""Draw a ``PerceptionFrame`` over its image: drivable area, lane markings, boxes with class,
track id and distance, a status line (lane, lead vehicle, light) and a bird's-eye inset.

The drivable area is a light tint with a thin outline, so the road stays visible under it; lane
markings are thin centre lines traced through the lane mask's runs; box labels sit on a filled
tag measured with ``cv2.getTextSize`` and are moved apart where two would overlap. The HUD
(``drivestack.hud``) draws the status and the inset in its side panel instead (``status=False,
bev=False``) and takes ``bev_view`` for the panel.
"""

from __future__ import annotations

import cv2
import numpy as np

from common.vocab import CLASS_COLOURS

from .geometry import CameraModel, lane_lines_m
from .types import CLASS_NAMES, PerceptionFrame

LANE_COLOURS = {1: (255, 60, 60), 2: (60, 160, 255), 3: (235, 235, 235)}
DRIVABLE_COLOUR = (0, 255, 120)
DRIVABLE_ALPHA = 0.2  # weight of the drivable-area tint [0, 1]: the road's texture shows through
BEV_RANGE_M = (0.0, 60.0)  # forward range of the inset [m]
BEV_HALF_WIDTH_M = 10.0  # lateral half range of the inset [m] (stretched: lanes read better wide)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def draw(image_rgb: np.ndarray, pf: PerceptionFrame, camera: CameraModel | None = None, bev: bool = True,
         status: bool = True) -> np.ndarray:
    """An annotated RGB copy of ``image_rgb`` (any size; masks are resized to it). ``status``: the
    lane / lead / light line at the bottom left; ``bev``: the bird's-eye inset at the top right."""
    h, w = image_rgb.shape[:2]
    out = _dense_overlay(image_rgb, pf.drivable, pf.lane_mask)
    unit = max(1.0, min(w, h) / 320)  # text and line scale: 1 up to a 640x320 image, larger above
    _lane_lines(out, pf.lane_mask, max(1, round(min(w, h) / 200)))
    _boxes(out, pf, unit)
    if status:
        _status(out, pf, unit)
    if bev:
        inset = bev_view(pf, *_inset_size(w, h))
        ih, iw = inset.shape[:2]
        out[4:4 + ih, w - iw - 4:w - 4] = inset
    return out


def text_scale(unit: float) -> float:
    """The Hershey font scale for a layout unit: about 9 px capitals at 1."""
    return 0.4 * unit


def _tag(out: np.ndarray, text: str, x: int, y_bottom: int, colour, scale: float) -> tuple[int, int, int, int]:
    """``text`` on a filled tag whose bottom-left corner is (x, y_bottom); its box (x0, y0, x1, y1)."""
    (tw, th), base = cv2.getTextSize(text, FONT, scale, 1)
    pad = max(1, round(th / 4))
    x0, y0, x1, y1 = x, y_bottom - th - base - 2 * pad, x + tw + 2 * pad, y_bottom
    cv2.rectangle(out, (x0, y0), (x1, y1), colour, -1)
    ink = (0, 0, 0) if sum(colour) > 380 else (255, 255, 255)  # dark text on bright tags
    cv2.putText(out, text, (x0 + pad, y1 - base - pad + 1), FONT, scale, ink, 1, cv2.LINE_AA)
    return x0, y0, x1, y1


def _overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _boxes(out: np.ndarray, pf: PerceptionFrame, unit: float) -> list[tuple[int, int, int, int]]:
    """Boxes, then their labels nearest first: a label that would cover one already placed moves up
    (or, at the top of the image, down) until it is clear. Returns the labels' boxes (x0, y0, x1, y1)."""
    h, w = out.shape[:2]
    sx, sy = w / max(pf.image_size[1], 1), h / max(pf.image_size[0], 1)
    thick = max(1, round(unit))
    scale = text_scale(unit)
    d = pf.detections
    rows = []
    for k in range(len(d)):
        x0, y0, x1, y1 = d.xyxy[k] * np.array([sx, sy, sx, sy])
        if not np.all(np.isfinite([x0, y0, x1, y1])):
            continue
        name = CLASS_NAMES[int(d.class_id[k])]
        colour = CLASS_COLOURS.get(name, (255, 255, 255))
        cv2.rectangle(out, (int(x0), int(y0)), (int(x1), int(y1)), colour, thick + (1 if k == pf.lead_index else 0))
        label = name.replace("traffic_light_", "light ")
        if d.track_id[k] >= 0:
            label += f" #{int(d.track_id[k])}"
        if np.isfinite(d.distance_m[k]):
            label += f" {d.distance_m[k]:.0f} m"
        rows.append((float(d.distance_m[k]) if np.isfinite(d.distance_m[k]) else np.inf, label, int(x0), int(y0), colour))
    (_, th), base = cv2.getTextSize("Ag", FONT, scale, 1)
    tag_h = th + base + 2 * max(1, round(th / 4))
    placed: list[tuple[int, int, int, int]] = []
    for _, label, x, y, colour in sorted(rows, key=lambda r: r[0]):
        tw = cv2.getTextSize(label, FONT, scale, 1)[0][0] + 2 * max(1, round(th / 4))
        x = int(np.clip(x, 0, max(0, w - tw - 1)))
        bottom = y if y - tag_h >= 0 else y + tag_h  # above the box, or inside it at the image's top
        step = -tag_h if bottom - tag_h >= 0 else tag_h
        for _ in range(6):  # a few moves; after that overlap beats drifting far from the box
            box = (x, bottom - tag_h, x + tw, bottom)
            if not any(_overlaps(box, p) for p in placed):
                break
            bottom += step
            if bottom - tag_h < 0 or bottom > h:
                step, bottom = -step, bottom - 2 * step
        placed.append(_tag(out, label, x, int(np.clip(bottom, tag_h, h)), colour, scale))
    return placed


def _status(out: np.ndarray, pf: PerceptionFrame, unit: float) -> None:
    """One line per fact at the bottom left, on a translucent strip."""
    d = pf.detections
    lines = [f"lane offset {pf.lane.offset_m:+.2f} m  conf {pf.lane.confidence:.2f}" if np.isfinite(pf.lane.offset_m) else "lane: not found"]
    if pf.lead_index >= 0:
        ttc = "inf" if not np.isfinite(pf.lead_ttc_s) else f"{pf.lead_ttc_s:.1f} s"
        lines.append(f"lead {d.distance_m[pf.lead_index]:.0f} m  TTC {ttc}")
    if pf.light_state != "none":
        lines.append(f"light {pf.light_state}")
    h, w = out.shape[:2]
    scale = text_scale(unit)
    (_, th), base = cv2.getTextSize("Ag", FONT, scale, 1)
    line_h = round(1.6 * (th + base))
    width = max(cv2.getTextSize(t, FONT, scale, 1)[0][0] for t in lines) + 2 * line_h // 3
    y0 = h - line_h * len(lines) - line_h // 3
    strip = out[max(0, y0):h, 0:min(w, width)]
    strip[:] = strip // 2  # halve the brightness: the text reads on any background
    for i, text in enumerate(lines):
        cv2.putText(out, text, (line_h // 3, y0 + (i + 1) * line_h - base), FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)


def _fit(mask: np.ndarray, w: int, h: int) -> np.ndarray:
    return mask if mask.shape[:2] == (h, w) else cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST)


def _dense_overlay(image_rgb: np.ndarray, drivable: np.ndarray | None, lane_mask: np.ndarray | None) -> np.ndarray:
    """The image with the drivable area tinted and outlined (lane markings are drawn as lines apart).

    The mask is upscaled once (nearest); only the band of rows that holds any drivable pixel is
    blended, with one OpenCV blend and one masked copy; the outline is the mask's contours, traced at
    the mask's own resolution and drawn once."""
    h, w = image_rgb.shape[:2]
    out = image_rgb.copy()
    if drivable is None or not drivable.any():
        return out
    small = drivable.astype(np.uint8)
    rows = np.flatnonzero(small.any(1))
    mh, mw = small.shape
    y0, y1 = int(rows[0]) * h // mh, min(h, -(-(int(rows[-1]) + 1) * h // mh))  # band in image rows
    big = _fit(small, w, h)[y0:y1]
    band = out[y0:y1]  # a view: OpenCV writes into ``out``
    tint = np.empty_like(band)
    tint[:] = DRIVABLE_COLOUR
    cv2.copyTo(cv2.addWeighted(band, 1.0 - DRIVABLE_ALPHA, tint, DRIVABLE_ALPHA, 0.0), big, band)
    contours, _ = cv2.findContours(small, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if contours:
        k = np.array([w / mw, h / mh])
        cv2.polylines(out, [np.round((c.reshape(-1, 2) + 0.5) * k).astype(np.int32) for c in contours], True,
                      DRIVABLE_COLOUR, max(1, round(min(w, h) / 320)), cv2.LINE_AA)
    return out


def lane_segments(lane_mask: np.ndarray) -> dict[int, np.ndarray]:
    """The centre lines of each lane-marking class (1-3) in ``lane_mask``, as segments (N, 2, 2) (x, y)
    at the mask's pixels, by class code.

    Each row's runs of one class are reduced to their centres; a centre is joined to the centre of
    each run of the same class in the next row that touches its run (8-connected): a marking of any
    width becomes one thin line along its middle, and separate markings stay separate. All rows at
    once: runs from one diff of the mask, neighbours by binary search, no loop over pixels or rows."""
    h, w = lane_mask.shape
    codes = np.where((lane_mask >= 1) & (lane_mask <= 3), lane_mask, 0).astype(np.int16)
    padded = np.zeros((h, w + 2), np.int16)
    padded[:, 1:-1] = codes
    r, x = np.nonzero(padded[:, 1:] != padded[:, :-1])  # boundaries: a run [x, next x) starts at each
    same_row = r[:-1] == r[1:]
    k = np.flatnonzero(same_row & (codes[r[:-1], np.minimum(x[:-1], w - 1)] > 0))
    r, x0, x1 = r[k], x[k], x[k + 1]  # runs, row-major; x1 one past the end
    c = codes[r, x0]
    span = w + 2  # row stride of the sort keys below
    starts, ends = r * span + x0, r * span + x1
    # runs of row r+1 touching [x0, x1): start <= x1 and end >= x0 (equality: diagonal neighbours)
    lo = np.searchsorted(ends, (r + 1) * span + x0, "left")
    hi = np.searchsorted(starts, (r + 1) * span + x1, "right")
    cx = (x0 + x1 - 1) / 2.0
    i_all, j_all = [], []
    for step in range(int((hi - lo).max(initial=0))):
        j = lo + step
        i = np.flatnonzero(j < hi)
        i_all.append(i)
        j_all.append(j[i])
    out = {}
    i = np.concatenate(i_all) if i_all else np.zeros(0, np.int64)
    j = np.concatenate(j_all) if j_all else np.zeros(0, np.int64)
    keep = c[i] == c[j]
    i, j = i[keep], j[keep]
    segs = np.stack([np.stack([cx[i], r[i]], 1), np.stack([cx[j], r[j]], 1)], 1).astype(np.float32)
    for code in LANE_COLOURS:
        out[code] = segs[c[i] == code]
    return out


def _lane_lines(out: np.ndarray, lane_mask: np.ndarray | None, thickness: int) -> None:
    """Each lane-marking class as thin lines in its colour (one ``cv2.polylines`` call per class)."""
    if lane_mask is None:
        return
    h, w = out.shape[:2]
    k = np.array([w / lane_mask.shape[1], h / lane_mask.shape[0]], np.float32)
    for code, segs in lane_segments(lane_mask).items():
        if len(segs):
            pts = np.round((segs + 0.5) * k).astype(np.int32)
            cv2.polylines(out, list(pts), False, LANE_COLOURS[code], thickness, cv2.LINE_AA)


def _inset_size(w: int, h: int) -> tuple[int, int]:
    size = max(60, min(w, h) // 3)
    return size * 2 // 3, size


def bev_view(pf: PerceptionFrame, width: int, height: int) -> np.ndarray:
    """The ego lane and detected objects seen from above, (height, width, 3) uint8 RGB: forward is up,
    ``BEV_RANGE_M`` over the full height, ``BEV_HALF_WIDTH_M`` either side over the full width."""
    inset = np.full((height, width, 3), 30, np.uint8)
    m_per_px = (BEV_RANGE_M[1] - BEV_RANGE_M[0]) / height
    lat_m_per_px = BEV_HALF_WIDTH_M / (width / 2)

    def to_px(xy_m: np.ndarray) -> np.ndarray:
        xy_m = np.asarray(xy_m, np.float64).reshape(-1, 2)
        return np.stack([width / 2 - xy_m[:, 1] / lat_m_per_px, height - (xy_m[:, 0] - BEV_RANGE_M[0]) / m_per_px], 1).astype(np.int32)

    for ring_m in (10.0, 20.0, 30.0, 40.0):  # distance ticks
        y = int(height - ring_m / m_per_px)
        cv2.line(inset, (0, y), (width - 1, y), (55, 55, 55), 1)
    for line in lane_lines_m(pf.lane, BEV_RANGE_M[1]):
        cv2.polylines(inset, [to_px(line)], False, (200, 200, 200), 1, cv2.LINE_AA)
    d = pf.detections
    ok = np.all(np.isfinite(d.position_m), 1)
    radius = max(2, round(height / 60))
    for k in np.flatnonzero(ok):
        colour = CLASS_COLOURS.get(CLASS_NAMES[int(d.class_id[k])], (255, 255, 255))
        cv2.circle(inset, tuple(int(v) for v in to_px(d.position_m[k])[0]), radius + (1 if k == pf.lead_index else 0), colour, -1, cv2.LINE_AA)
    ego = to_px([[0.0, 0.0]])[0]
    cv2.drawMarker(inset, (int(ego[0]), int(ego[1]) - radius), (255, 255, 255), cv2.MARKER_TRIANGLE_UP, 3 * radius, 1)
    return inset
