"""Road users moving across the car's path: where the speed control stops short of one that will be in its way.

A walker stepping off the kerb or a cyclist riding out of a side street is not in the lane yet, so the in-path
flag (``control.features.in_path``) sees it only once it is: at 50 km/h too late to stop (the safety suite's
CPNA-25 and CBNA-50 with exact labels were hit at 29-33 km/h with the supervisor off, 2026-12-07). Here every
moving road user is moved on at its velocity up to 2 s ahead (``CROSSING_TIMES_S``) and projected onto the car's
corridor line: the route's through a junction (layout v2), else the lane's ahead. One that will then lie in the
corridor, moving across it, no farther along it than the car will have got by then (plus ``CROSSING_MARGIN_M``)
is a standing obstacle where it crosses; the car slows so the crosser is past before it arrives, and goes on at
once when the prediction no longer meets its path. The supervisor's prediction (``control.prediction``) judges the
same timings finer, for the last-line brake.
"""

from __future__ import annotations

import math

import numpy as np

from common.vocab import CAMERA_MOUNT, EGO_CLEARANCE_HALF_WIDTH_M, EGO_LENGTH_M

from .features import DISTANCE_SCALE_M, LATERAL_SCALE_M, REL_SPEED_SCALE_M_S, Decoded, object_column

# where road users moving across the path will be [s]: every quarter second up to 2 s, so a crosser is not stepped
# over (a cyclist at 15 km/h crosses the car's 3-m corridor in 0.7 s: read at 1 and 2 s only, it was beside the
# corridor at one and past it at the other)
CROSSING_TIMES_S = tuple(0.25 * k for k in range(1, 9))
CROSSING_MARGIN_M = 8.0  # a predicted crossing counts up to this far beyond where the car will be then [m]
CROSSING_CLEARANCE_M = 0.3  # side margin of the corridor [m]
MOVING_M_S = 0.5  # slower than this is not crossing [m/s]
ACROSS_SIN = 0.5  # moving more than 30 degrees off the line's direction is moving across it
CROSSING_LINE_M = 90.0  # the lane's line ahead reaches where the car will be in 2 s at 130 km/h, plus the margin [m]


def crossing_gap_m(f: Decoded, line: np.ndarray) -> float:
    """From the car's front bumper to where a road user moving across ``line`` (the corridor's centre line from
    the ego's centre, ego frame, (N, 2) [m]) will be in the car's way, moving as it moves now, within 2 s:
    a standing obstacle there [m] (inf for none)."""
    col = object_column
    rows = f.objects[f.objects[:, col("present")] > 0.5]
    if not len(rows) or len(line) < 2:
        return math.inf
    seg = np.diff(line, axis=0)
    seg_len = np.maximum(np.hypot(*seg.T), 1e-6)
    arc0 = np.concatenate([[0.0], np.cumsum(seg_len)[:-1]])
    # where each moving road user will be at each of CROSSING_TIMES_S, projected onto the line's segments all at
    # once (a projection per road user and time was a twentieth of the teacher's step)
    moving = []  # (row, vx, vy, t, x and y at t)
    for r in rows:
        x = r[col("x")] * DISTANCE_SCALE_M + CAMERA_MOUNT.forward_m
        y = r[col("y")] * LATERAL_SCALE_M
        vx = r[col("vx")] * REL_SPEED_SCALE_M_S[0] + f.speed_m_s
        vy = r[col("vy")] * REL_SPEED_SCALE_M_S[1]
        if math.hypot(vx, vy) < MOVING_M_S:
            continue
        moving += [(r, vx, vy, t, x + vx * t, y + vy * t) for t in CROSSING_TIMES_S]
    if not moving:
        return math.inf
    px = np.array([m[4] for m in moving])[:, None]
    py = np.array([m[5] for m in moving])[:, None]
    rel = np.stack([px - line[:-1, 0], py - line[:-1, 1]], 2)  # (points, segments, 2)
    u = np.clip((rel * seg).sum(2) / seg_len**2, 0.0, 1.0)
    near = line[:-1] + u[:, :, None] * seg
    d = np.hypot(px - near[:, :, 0], py - near[:, :, 1])
    nearest = np.argmin(d, axis=1)
    gap = math.inf
    for i, (r, vx, vy, t, _, _) in enumerate(moving):
        k = int(nearest[i])
        half_len, half_wid = r[col("length")] * 10.0 / 2, r[col("width")] * 3.0 / 2
        along = arc0[k] + u[i, k] * seg_len[k]
        heading = math.atan2(seg[k, 1], seg[k, 0])
        across = abs(math.sin(math.atan2(vy, vx) - heading)) > ACROSS_SIN
        if (d[i, k] < EGO_CLEARANCE_HALF_WIDTH_M + half_wid + CROSSING_CLEARANCE_M and across
                and 0 < along < f.speed_m_s * t + CROSSING_MARGIN_M):
            gap = min(gap, along - half_len - EGO_LENGTH_M / 2)
    return gap
