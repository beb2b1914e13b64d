"""Distance to the stop line of a detected traffic light, from its box alone.

A light's housing hangs at a known height, so the rows of its box's top and bottom edges fix how
far ahead it is (a ray from the camera at a known height and pitch meets a known height at one
distance); on a flat road this is about three times more sensitive than the housing's pixel
height. The stop line is then a fixed distance before the light: the world puts each head on the
far-right corner of the intersection, beyond the crossing road and its crosswalks.

The light's state is read off the lit lamp's colour inside the box (``lamp_state``), and where the
lit lamp sits across the box tells a head facing us from one seen from the side (``seen_from_side``).

The constants below describe the world the stack drives in (the simulator; ``sim/lights.py``,
``sim/scenarios.py``); tests check they agree with it. Footage of another city needs its own.
"""

from __future__ import annotations

import numpy as np

from .geometry import CameraModel

# the light head (sim/lights.py): the housing's bottom edge, its height and depth along the road
HOUSING_BOTTOM_M = 3.2  # above the road [m]
HOUSING_HEIGHT_M = 1.0  # [m]
HOUSING_DEPTH_M = 0.3  # [m]; the box's top edge is the housing's near face, its bottom edge the far face
HOUSING_WIDTH_M = 0.4  # across the road [m]

# where the head stands relative to the stop line of its approach (sim/scenarios.py, sim/lights.py):
#   head      at centre + (half + HEAD_BEYOND_BOX_M)                 (the far corner)
#   stop line at centre - (half + CROSSWALK_M + STOP_BEFORE_CROSSWALK_M)
# where ``half`` (the paved box's half length along our road) is the crossing road's half width:
# one lane plus the shoulder. The gap is 2 half + 4.8 m, 15.2-16.7 m over the simulator's lane widths.
HEAD_BEYOND_BOX_M = 0.8  # [m]
CROSSWALK_M = 3.0  # [m]
STOP_BEFORE_CROSSWALK_M = 1.0  # [m]
SIDE_ROAD_SHOULDER_M = 2.2  # [m]
TYPICAL_LANE_WIDTH_M = 3.375  # the middle of the simulator's 3.0-3.75 m [m]


def light_to_stop_line_m(lane_width_m: float = TYPICAL_LANE_WIDTH_M) -> float:
    """Distance along the road from a light head back to its stop line [m]. The crossing road's
    lanes are as wide as ours, so pass the ego lane's measured width when it is known."""
    half = lane_width_m + SIDE_ROAD_SHOULDER_M
    return 2 * half + HEAD_BEYOND_BOX_M + CROSSWALK_M + STOP_BEFORE_CROSSWALK_M


def light_range_m(camera: CameraModel, xyxy: np.ndarray) -> float:
    """Forward distance [m] from the camera to the housing's centre, from its box ``(x0, y0, x1, y1)``
    [px] in ``camera``'s image; NaN when neither edge gives one.

    Each horizontal edge, lifted to its known height, gives a distance; they are averaged with
    weights proportional to the squared height above the camera (the higher edge moves more per
    metre, so its one-pixel error costs less). An edge on the image border is cut and not used."""
    x0, y0, x1, y1 = (float(v) for v in np.asarray(xyxy, np.float64).reshape(4))
    u = (x0 + x1) / 2
    edges = []  # (distance to the housing centre [m], weight)
    if y0 > 0.5:  # top edge: the near face, HOUSING_DEPTH_M / 2 before the centre
        z = HOUSING_BOTTOM_M + HOUSING_HEIGHT_M
        x = camera.pixel_to_height(np.array([[u, y0]]), z)[0, 0] + HOUSING_DEPTH_M / 2
        edges.append((x, (z - camera.height_m) ** 2))
    if y1 < camera.height - 0.5:  # bottom edge: the far face
        z = HOUSING_BOTTOM_M
        x = camera.pixel_to_height(np.array([[u, y1]]), z)[0, 0] - HOUSING_DEPTH_M / 2
        edges.append((x, (z - camera.height_m) ** 2))
    edges = [(x, w) for x, w in edges if np.isfinite(x) and x > 0]
    if not edges:
        return float("nan")
    xs, ws = np.array(edges).T
    return float(np.sum(xs * ws) / np.sum(ws))


def stop_line_distance_m(camera: CameraModel, xyxy: np.ndarray, front_ahead_m: float,
                         lane_width_m: float = TYPICAL_LANE_WIDTH_M) -> float:
    """Distance [m] from the vehicle's front (``front_ahead_m`` ahead of the camera) to the stop line
    of the light in box ``xyxy`` [px]; negative once past the line; inf when it cannot be told."""
    r = light_range_m(camera, xyxy)
    if not np.isfinite(r):
        return float("inf")
    return r - front_ahead_m - light_to_stop_line_m(lane_width_m)


# lamp colours as hue bands [deg] (OpenCV-free, 0-360): a lit lamp is bright and saturated; a dark
# lamp, the housing and a grey sky are not. Amber sits between red and green on the hue circle.
LAMP_HUE_BANDS_DEG = {"red": ((340.0, 360.0), (0.0, 28.0)), "yellow": ((28.0, 68.0),), "green": ((90.0, 200.0),)}
LAMP_MIN_SATURATION = 0.25  # (max - min) / max of a lamp's pixel; a 1-2 px lamp blends with the sky or housing around it
LAMP_MIN_VALUE = 24  # a lit pixel's brightest channel, 0-255: lamps are shaded with the scene (dusk scenes dim a lit red to ~60)
LAMP_REL_VALUE = 0.55  # ... and at least this share of the brightest saturated pixel in the box
LAMP_REL_CHROMA = 0.4  # ... and at least this share of the most colourful (max - min) of those
SIDE_LAMP_OFFSET = 0.22  # a lit lamp farther than this share of the box width from its centre ...
SIDE_LAMP_MIN_PX = 1.0  # ... and by at least this many pixels (a 2-4 px box quantises the offset): seen from the side
# A head of the crossing road faces across our path, so from the path its lamps protrude on the side toward it: the
# near-right corner's head shows them at its box's left edge, the far-left corner's at its right edge. A lamp
# displaced toward the path by this share of the box and this many pixels is a side view too. Validation
# 30000-30019 as driven (lamp displacement toward the path, box share x width [px], 2nd-98th percentile): the ego's
# own heads -0.98..0.49 px, near-right heads 0.76..4.3 px, far-left heads 0.44..2.2 px (2026-12-07)
SIDE_LAMP_TOWARD_PATH = 0.15
SIDE_LAMP_TOWARD_PATH_PX = 0.65


def lamp_state(image: np.ndarray, xyxy: np.ndarray) -> tuple[str, float, float]:
    """Which lamp of the traffic light in box ``xyxy`` [px] of RGB ``image`` is lit, from its colour.

    Returns ``(state, share, offset)``: "red" / "yellow" / "green", or "none" when no pixel in the
    box is bright and saturated enough to be a lit lamp; ``share`` is the winning colour's part of
    the lit pixels' weight (1.0 = unanimous); ``offset`` is where the lit pixels sit across the box,
    as a fraction of its width from its centre (-0.5 left edge .. 0.5 right edge; NaN for "none").
    A head that faces the camera shows its lamps in the middle of its face; one seen from the side
    (the crossing road's) shows them at an edge, where they protrude.

    Reading the colour straight off the pixels needs no training and holds where the lamp is 1-2 px
    across, where the detector's class (learned from a few thousand boxes) confuses the states; the
    detector still finds the housing."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = np.asarray(xyxy, np.float64).reshape(4)
    # one pixel of margin: a box edge that cuts a lamp must not lose it
    c0, r0 = max(int(np.floor(x0)) - 1, 0), max(int(np.floor(y0)) - 1, 0)
    c1, r1 = min(int(np.ceil(x1)) + 1, w), min(int(np.ceil(y1)) + 1, h)
    if c1 <= c0 or r1 <= r0:
        return "none", 0.0, float("nan")
    px = image[r0:r1, c0:c1].reshape(-1, image.shape[2])[:, :3].astype(np.float32)
    hi, lo = px.max(axis=1), px.min(axis=1)
    sat = (hi - lo) / np.maximum(hi, 1.0)
    hue = _hue_deg(px, hi, lo)
    band = {state: np.any([(hue >= a) & (hue < b) for a, b in bands], axis=0) for state, bands in LAMP_HUE_BANDS_DEG.items()}
    # a lamp's hue and saturated: a blue sky or a grey housing is neither
    coloured = (sat >= LAMP_MIN_SATURATION) & np.any(list(band.values()), axis=0)
    if not coloured.any():
        return "none", 0.0, float("nan")
    # lit: bright, and about as colourful as the most colourful pixel there (chroma, max - min): a wall behind a
    # 2-px head passes the saturation floor (a green-grey one at 158 deg, saturation 0.27, chroma 22) and a score
    # summed over its twenty pixels outweighed a lit red lamp's one (chroma 124): validation seed 30017 read green
    # standing at a red for 212 frames
    chroma = hi - lo
    lit = coloured & (hi >= max(LAMP_MIN_VALUE, LAMP_REL_VALUE * float(hi[coloured].max())))
    lit &= chroma >= LAMP_REL_CHROMA * float(chroma[lit].max(initial=0.0))
    # the margin's pixels count only where the box itself holds no lit one: beside a 2-px head 42 m off, a tan wall's
    # column (hue 24 deg, saturation 0.26) outweighed the lit green lamp inside, and the car stood at its line through
    # every green (validation route 800003)
    rows, cols = np.divmod(np.arange(len(px)), c1 - c0)
    inner = ((cols + c0 >= int(np.floor(x0))) & (cols + c0 < int(np.ceil(x1)))
             & (rows + r0 >= int(np.floor(y0))) & (rows + r0 < int(np.ceil(y1))))
    if (lit & inner).any():
        lit &= inner
    weight = np.where(lit, chroma, 0.0)  # hi * sat
    scores = {state: float(weight[m].sum()) for state, m in band.items()}
    best = max(scores, key=scores.get)
    total = sum(scores.values())
    if total <= 0:
        return "none", 0.0, float("nan")
    cols = np.tile(np.arange(c0, c1) + 0.5, r1 - r0)  # pixel-centre column of each crop pixel
    w_best = np.where(band[best], weight, 0.0)
    offset = (float(np.sum(cols * w_best) / np.sum(w_best)) - (x0 + x1) / 2) / max(x1 - x0, 1.0)
    return best, scores[best] / total, float(np.clip(offset, -0.5, 0.5))


def _hue_deg(rgb: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """Hue [deg, 0-360) of (N, 3) RGB pixels whose max and min channels are ``hi`` and ``lo``."""
    r, g, b = rgb.T
    span = np.maximum(hi - lo, 1e-6)
    hue = np.where(hi == r, (g - b) / span % 6, np.where(hi == g, (b - r) / span + 2, (r - g) / span + 4))
    return hue * 60.0



def seen_from_side(offset: float, box_width_px: float, right_of_path: bool | None = None) -> bool:
    """Whether a head whose lit lamp sits ``offset`` (from ``lamp_state``) across a box
    ``box_width_px`` wide shows its lamps edge-on: a head of the crossing road, not one facing us.
    ``right_of_path``: where the head stands seen from the path (None: unknown); a lamp displaced toward the
    path is taken for a side view at a smaller displacement (``SIDE_LAMP_TOWARD_PATH``)."""
    if not np.isfinite(offset):
        return False
    if abs(offset) > SIDE_LAMP_OFFSET and abs(offset) * box_width_px >= SIDE_LAMP_MIN_PX:
        return True
    if right_of_path is None:
        return False
    toward = -offset if right_of_path else offset  # share of the box toward the path
    return bool(toward > SIDE_LAMP_TOWARD_PATH and toward * box_width_px >= SIDE_LAMP_TOWARD_PATH_PX)
