"""Distance to the stop line of a detected traffic light, from its box alone.

A light's housing hangs at a known height, so the rows of its box's top and bottom edges fix how
far ahead it is (a ray from the camera at a known height and pitch meets a known height at one
distance); on a flat road this is about three times more sensitive than the housing's pixel
height. The stop line is then a fixed distance before the light: the world puts each head on the
far-right corner of the intersection, beyond the crossing road and its crosswalks.

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
