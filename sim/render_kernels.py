"""Per-pixel passes of the camera pipeline fused into single numba loops.

numpy would make several full-image temporaries per mask (one per comparison, one per ``&`` /
``|``); at 320x160 the per-call overhead and memory traffic of those passes cost more than the
arithmetic. Each kernel here reads every input pixel once and writes every output once, with
the same comparisons and value conversions as the numpy expressions it replaces, so the outputs
are bit-identical. ``cache=True`` keeps the compiled code across processes.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def dense_label_pass(label, inst, depth_m, sky_depth_m, left_code, right_code,
                     road, crosswalk, stop_line, other_line, line_base,
                     lane_other, lane_ego_left, lane_ego_right):
    """Drivable mask, lane classes and exported depth from the renderer's buffers, in one pass.

    ``label`` (H, W) uint8 ground label, ``inst`` (H, W) int32 (0 = ground/sky), ``depth_m``
    (H, W) float32 [m]. A pixel counts only where no object covers it (``inst == 0``).
    Returns drivable (H, W) bool, lanes (H, W) uint8 (0 none / ego-left / ego-right / other,
    the ego's own lines winning over "other"), depth (H, W) float32 [m] with 0 where the depth
    buffer holds the sky (``>= sky_depth_m``).
    """
    h, w = label.shape
    drivable = np.zeros((h, w), np.bool_)
    lanes = np.zeros((h, w), np.uint8)
    depth = np.empty((h, w), np.float32)
    for i in range(h):
        for j in range(w):
            d = depth_m[i, j]
            # not (d >= sky) rather than (d < sky): a NaN passes through as np.where would
            depth[i, j] = np.float32(0.0) if d >= sky_depth_m else d
            if inst[i, j] != 0:
                continue
            lab = label[i, j]
            paint = lab >= line_base or lab == other_line or lab == crosswalk or lab == stop_line
            drivable[i, j] = paint or lab == road
            if lab == right_code:
                lanes[i, j] = lane_ego_right
            elif lab == left_code:
                lanes[i, j] = lane_ego_left
            elif paint:
                lanes[i, j] = lane_other
    return drivable, lanes, depth


@numba.njit(cache=True)
def ground_pass(rise, height_m, sky_depth_m, offroad, sky):
    """Flat-ground depth and the off-road/sky label per pixel from each ray's rise.

    ``rise`` (H, W) float64: metres of height gained per metre of depth along the pixel's ray;
    rays that fall (rise < -1e-6) hit the ground at ``height_m / -rise`` [m], the rest see the
    sky. Returns depth (H, W) float32 [m], clipped to ``sky_depth_m``, and label (H, W) uint8.
    """
    h, w = rise.shape
    depth = np.empty((h, w), np.float32)
    label = np.empty((h, w), np.uint8)
    sky32 = np.float32(sky_depth_m)
    for i in range(h):
        for j in range(w):
            r = rise[i, j]
            d = height_m / -r if r < -1e-6 else sky_depth_m
            d32 = np.float32(min(d, sky_depth_m))  # clip in float64, then round (as np.minimum + astype)
            depth[i, j] = d32
            label[i, j] = offroad if d32 < sky32 else sky
    return depth, label


@numba.njit(cache=True)
def backdrop_pass(label, sky_rows, grass, offroad):
    """(H, W, 3) uint8 image before any triangle: the row's sky colour, grass where ``label == offroad``."""
    h, w = label.shape
    rgb = np.empty((h, w, 3), np.uint8)
    for i in range(h):
        for j in range(w):
            if label[i, j] == offroad:
                for c in range(3):
                    rgb[i, j, c] = grass[c]
            else:
                for c in range(3):
                    rgb[i, j, c] = sky_rows[i, c]
    return rgb


@numba.njit(cache=True)
def finish_pass(rgb, brightness, lamp_mask, use_lamps, haze, fog_colour, use_fog, noise, use_noise):
    """Lighting, fog and sensor noise of one frame in float32, then clip and truncate to uint8.

    The same float32 operations, in the same order, as the numpy version did on whole images:
    ``v *= brightness`` (not on lit lamps: ``use_lamps`` and ``lamp_mask``), then
    ``v += (fog_colour - v) * haze`` (``use_fog``), then ``v += noise`` (``use_noise``), then
    clip to [0, 255] and cast. ``brightness`` float32 (1 skips it); ``haze`` (H, W) float32;
    ``fog_colour`` (3,) float32; ``noise`` (H, W, 3) float32. Unused inputs may be dummies.
    """
    h, w, _ = rgb.shape
    out = np.empty((h, w, 3), np.uint8)
    dim = brightness != np.float32(1.0)
    for i in range(h):
        for j in range(w):
            scale = dim and not (use_lamps and lamp_mask[i, j])
            for c in range(3):
                v = np.float32(rgb[i, j, c])
                if scale:
                    v = v * brightness
                if use_fog:
                    v = v + (fog_colour[c] - v) * haze[i, j]
                if use_noise:
                    v = v + noise[i, j, c]
                v = min(max(v, np.float32(0.0)), np.float32(255.0))
                out[i, j, c] = np.uint8(v)
    return out


@numba.njit(cache=True)
def lit_lamp_mask(inst, rgb, inst_lo, inst_hi, min_level):
    """(H, W) bool: pixels of instances in [inst_lo, inst_hi) whose brightest channel exceeds ``min_level``.

    Replaces ``(inst >= lo) & (inst < hi) & (rgb.max(-1) > min_level)``; numpy's reduction over a
    length-3 last axis alone cost more than a whole rasterised frame.
    """
    h, w = inst.shape
    out = np.zeros((h, w), np.bool_)
    for i in range(h):
        for j in range(w):
            k = inst[i, j]
            if inst_lo <= k < inst_hi:
                out[i, j] = max(rgb[i, j, 0], rgb[i, j, 1], rgb[i, j, 2]) > min_level
    return out


def warmup():
    """JIT-compile (or load from cache) every kernel here with the dtypes the camera passes."""
    label = np.zeros((2, 2), np.uint8)
    dense_label_pass(label, np.zeros((2, 2), np.int32), np.zeros((2, 2), np.float32), np.float32(1e4), 24, 23,
                     3, 4, 5, 6, 16, 3, 1, 2)
    depth, label = ground_pass(np.full((2, 2), -0.1), 1.5, 1e4, 1, 0)
    rgb = backdrop_pass(label, np.zeros((2, 3), np.uint8), np.zeros(3, np.uint8), 1)
    lit_lamp_mask(np.zeros((2, 2), np.int32), rgb, 1, 2, 200)
    finish_pass(rgb, np.float32(0.5), np.zeros((1, 1), np.bool_), False, np.zeros((1, 1), np.float32),
                np.zeros(3, np.float32), False, np.zeros((1, 1, 1), np.float32), False)
