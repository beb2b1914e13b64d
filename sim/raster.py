"""Software triangle rasterizer with a z-buffer, JIT-compiled with numba.

Renders the forward car camera: RGB, depth, instance id and a ground-surface
label in a single pass over a flat-shaded triangle list.

Conventions
-----------
* Camera frame (OpenCV): x right, y down, z forward, metres.
* Pinhole projection: ``u = fx*x/z + cx``, ``v = fy*y/z + cy`` (pixels).
  Pixel (row i, col j) has its centre at ``(u, v) = (j + 0.5, i + 0.5)``.
* A pixel belongs to a triangle when its centre is inside it. Ties are broken
  with a top-left style rule that is exact in floating point: each edge's
  crossing of a pixel row is computed from a canonical (top-first) ordering
  of its endpoints, so two triangles sharing an edge compute bit-identical
  crossings and partition the pixels on it: no cracks, no double coverage.
* Depth is camera-frame z in metres (not Euclidean distance), interpolated
  perspective-correctly (1/z is affine in screen space).

Triangle classes (one array, split by ``n_ground``)
---------------------------------------------------
* ``[0, n_ground)``: ground decals, flat on the road. Drawn in array order
  (later overwrites earlier), never culled, no depth test, no depth write:
  the caller pre-fills ``depth`` with the exact ground-plane depth. They
  write ``rgb`` and ``label`` only.
* ``[n_ground, T)``: objects. Back-face culled, depth-tested (strict ``<``)
  against ``depth``; where they pass they write ``rgb``, ``depth``, ``inst``.
  Back-face rule: with ``n = cross(v1 - v0, v2 - v0)`` in the camera frame,
  a triangle is front-facing iff ``dot(n, v0) < 0``, i.e. its normal points
  toward the camera at the origin. Build meshes with outward normals
  (counter-clockwise winding seen from outside, in a right-handed frame).

Both classes are clipped against the near plane ``z = z_near`` in 3D before
projection (1 or 2 triangles out), so nothing from behind the camera leaks.

Compile time: the first call of each function per argument-type signature
JIT-compiles it (a few seconds); ``cache=True`` stores the machine code in
``__pycache__`` so later processes only load it. Call :func:`warmup` at start-up
to pay this up front. Pass arguments with the documented dtypes (float
scalars for fx, fy, cx, cy, z_near) to avoid compiling extra signatures.
"""
import math

import numba
import numpy as np


@numba.njit(cache=True)
def _edge(ax, ay, bx, by):
    """Edge a->b of a triangle with positive screen area (see _draw_tri).

    Returns (px, py, dxdy, side): the upper endpoint, the inverse slope, and
    side = +1 if the interior is right of the edge (it bounds spans from the
    left), -1 if left (bounds from the right), 0 for horizontal edges (those
    are handled by the row range).
    """
    if ay == by:
        return 0.0, 0.0, 0.0, 0
    # With positive area (y down) a downward edge has the interior on its left.
    side = 1 if by < ay else -1
    # Canonical endpoint order so neighbours sharing this edge get identical X.
    if ay < by:
        return ax, ay, (bx - ax) / (by - ay), side
    return bx, by, (ax - bx) / (ay - by), side


@numba.njit(cache=True)
def _bound(lo, hi, side, px, py, dxdy, y):
    """Narrow the row span [lo, hi) (pixel-centre u) by one edge at row centre y."""
    if side == 0:
        return lo, hi
    x = px + (y - py) * dxdy
    if side > 0:
        return max(lo, x), hi
    return lo, min(hi, x)


# Inlined into ``rasterize``: most ground triangles of a town frame are far and sub-pixel, so the
# per-triangle cost is the call itself (20 arguments, 8 of them arrays); inlining cut the ground
# pass by about a third (measured on town frames).
@numba.njit(cache=True, inline="always")
def _draw_tri(u0, v0, w0, u1, v1, w1, u2, v2, w2, is_ground, t,
              tri_color, tri_inst, tri_label, rgb, depth, inst, label, stamp, coverage):
    """Fill one projected triangle; (u, v) in pixels, w = 1/z in 1/m."""
    s = (u1 - u0) * (v2 - v0) - (v1 - v0) * (u2 - u0)  # 2 * signed area, px^2
    if not (s != 0.0 and math.isfinite(s)):
        return  # degenerate (or NaN): nothing to cover
    if s < 0.0:  # orient so the edge tests below have one fixed sense
        u1, v1, w1, u2, v2, w2 = u2, v2, w2, u1, v1, w1
        s = -s
    H, W = depth.shape
    umin = min(u0, u1, u2)
    umax = max(u0, u1, u2)
    vmin = min(v0, v1, v2)
    vmax = max(v0, v1, v2)
    if umax <= 0.0 or umin >= W or vmax <= 0.0 or vmin >= H:
        return
    # Rows whose centre y satisfies vmin <= y < vmax (top edge in, bottom out).
    i0 = int(math.ceil(max(vmin - 0.5, 0.0)))
    i1 = int(math.ceil(min(vmax - 0.5, float(H))))
    if i0 >= i1:
        return

    ax, ay, ak, aside = _edge(u0, v0, u1, v1)
    bx, by, bk, bside = _edge(u1, v1, u2, v2)
    cx_, cy_, ck, cside = _edge(u2, v2, u0, v0)

    r = tri_color[t, 0]
    g = tri_color[t, 1]
    b = tri_color[t, 2]
    if is_ground:
        lab = tri_label[t]
        for i in range(i0, i1):
            y = i + 0.5
            lo, hi = -1e30, 1e30
            lo, hi = _bound(lo, hi, aside, ax, ay, ak, y)
            lo, hi = _bound(lo, hi, bside, bx, by, bk, y)
            lo, hi = _bound(lo, hi, cside, cx_, cy_, ck, y)
            # centre j+0.5 in [lo, hi)  <=>  j in [ceil(lo-0.5), ceil(hi-0.5))
            j0 = int(math.ceil(max(lo - 0.5, 0.0)))
            j1 = int(math.ceil(min(hi - 0.5, float(W))))
            for j in range(j0, j1):
                rgb[i, j, 0] = r
                rgb[i, j, 1] = g
                rgb[i, j, 2] = b
                label[i, j] = lab
        return

    iid = tri_inst[t]
    # 1/z is affine in screen space: w(u, v) = w0 + dwdu*(u-u0) + dwdv*(v-v0).
    dwdu = ((w1 - w0) * (v2 - v0) - (w2 - w0) * (v1 - v0)) / s
    dwdv = ((u1 - u0) * (w2 - w0) - (u2 - u0) * (w1 - w0)) / s
    # Clamp to the vertex range: pixel centres just outside slivers extrapolate.
    wlo = min(w0, w1, w2)
    whi = max(w0, w1, w2)
    for i in range(i0, i1):
        y = i + 0.5
        lo, hi = -1e30, 1e30
        lo, hi = _bound(lo, hi, aside, ax, ay, ak, y)
        lo, hi = _bound(lo, hi, bside, bx, by, bk, y)
        lo, hi = _bound(lo, hi, cside, cx_, cy_, ck, y)
        j0 = int(math.ceil(max(lo - 0.5, 0.0)))
        j1 = int(math.ceil(min(hi - 0.5, float(W))))
        wrow = w0 + dwdu * (0.5 - u0) + dwdv * (y - v0)  # w at column 0 centre
        for j in range(j0, j1):
            # Coverage before the depth test: area with nothing in front.
            if stamp[i, j] != iid:
                stamp[i, j] = iid
                coverage[iid] += 1
            w = min(max(wrow + dwdu * j, wlo), whi)
            z = 1.0 / w
            if z < depth[i, j]:
                depth[i, j] = z
                inst[i, j] = iid
                rgb[i, j, 0] = r
                rgb[i, j, 1] = g
                rgb[i, j, 2] = b


@numba.njit(cache=True)
def rasterize(verts_cam, tri_color, tri_inst, tri_label, n_ground, fx, fy, cx, cy, z_near,
              rgb, depth, inst, label, stamp, coverage):
    """Rasterize T triangles into the caller's buffers, in place.

    verts_cam (T, 3, 3) float32 camera-frame vertices [m]; tri_color (T, 3)
    uint8; tri_inst (T,) int32 (> 0, < len(coverage), for objects);
    tri_label (T,) uint8 (ground only); n_ground: triangles [0, n_ground) are
    ground decals, the rest objects (see module docstring). fx, fy, cx, cy in
    pixels, z_near in metres (> 0).
    rgb (H, W, 3) uint8, depth (H, W) float32 [m], inst (H, W) int32,
    label (H, W) uint8: pre-filled outputs. stamp (H, W) int32 scratch
    pre-filled with 0; coverage (max_inst + 1,) int32 pre-zeroed: per
    instance, pixels covered by its front faces before any depth test.
    Triangles of one instance must be contiguous for coverage to be exact.
    """
    # Scratch for the near-clipped polygon (<= 4 vertices) and its projection.
    poly = np.empty((4, 3), dtype=np.float64)
    proj = np.empty((4, 3), dtype=np.float64)  # u [px], v [px], 1/z [1/m]
    for t in range(verts_cam.shape[0]):
        is_ground = t < n_ground
        x0 = np.float64(verts_cam[t, 0, 0])
        y0 = np.float64(verts_cam[t, 0, 1])
        z0 = np.float64(verts_cam[t, 0, 2])
        z1 = np.float64(verts_cam[t, 1, 2])
        z2 = np.float64(verts_cam[t, 2, 2])
        nbehind = (z0 < z_near) + (z1 < z_near) + (z2 < z_near)
        if nbehind == 3:
            continue
        x1 = np.float64(verts_cam[t, 1, 0])
        y1 = np.float64(verts_cam[t, 1, 1])
        x2 = np.float64(verts_cam[t, 2, 0])
        y2 = np.float64(verts_cam[t, 2, 1])
        if not is_ground:
            # Back-face cull in 3D (valid even for triangles crossing z = 0).
            e1x = x1 - x0
            e1y = y1 - y0
            e1z = z1 - z0
            e2x = x2 - x0
            e2y = y2 - y0
            e2z = z2 - z0
            nx = e1y * e2z - e1z * e2y
            ny = e1z * e2x - e1x * e2z
            nz = e1x * e2y - e1y * e2x
            if nx * x0 + ny * y0 + nz * z0 >= 0.0:
                continue

        if nbehind == 0:
            # Common case, no clipping: project straight from registers (the same
            # arithmetic as the clipped path below, so pixels do not depend on the path).
            w0 = 1.0 / z0
            w1 = 1.0 / z1
            w2 = 1.0 / z2
            _draw_tri(fx * x0 * w0 + cx, fy * y0 * w0 + cy, w0,
                      fx * x1 * w1 + cx, fy * y1 * w1 + cy, w1,
                      fx * x2 * w2 + cx, fy * y2 * w2 + cy, w2,
                      is_ground, t, tri_color, tri_inst, tri_label,
                      rgb, depth, inst, label, stamp, coverage)
            continue

        # Sutherland-Hodgman against z >= z_near; keeps the winding.
        m = 0
        for k in range(3):
            kb = (k + 1) % 3
            za = np.float64(verts_cam[t, k, 2])
            zb = np.float64(verts_cam[t, kb, 2])
            a_in = za >= z_near
            if a_in:
                for c in range(3):
                    poly[m, c] = verts_cam[t, k, c]
                m += 1
            if a_in != (zb >= z_near):
                # Always interpolate inside -> outside so the two triangles
                # sharing this edge produce the identical clipped vertex.
                ki, ko = (k, kb) if a_in else (kb, k)
                zi = np.float64(verts_cam[t, ki, 2])
                f = (z_near - zi) / (np.float64(verts_cam[t, ko, 2]) - zi)
                for c in range(2):
                    vi = np.float64(verts_cam[t, ki, c])
                    poly[m, c] = vi + f * (np.float64(verts_cam[t, ko, c]) - vi)
                poly[m, 2] = z_near
                m += 1

        for k in range(m):
            w = 1.0 / poly[k, 2]
            proj[k, 0] = fx * poly[k, 0] * w + cx
            proj[k, 1] = fy * poly[k, 1] * w + cy
            proj[k, 2] = w
        # Fan (0,1,2), (0,2,3): the shared diagonal is crack-free by construction.
        for k in range(1, m - 1):
            _draw_tri(proj[0, 0], proj[0, 1], proj[0, 2],
                      proj[k, 0], proj[k, 1], proj[k, 2],
                      proj[k + 1, 0], proj[k + 1, 1], proj[k + 1, 2],
                      is_ground, t, tri_color, tri_inst, tri_label,
                      rgb, depth, inst, label, stamp, coverage)


@numba.njit(cache=True)
def instance_boxes(inst, n_ids):
    """Per-instance bounding boxes and visible pixel counts in one pass.

    Returns boxes (n_ids, 4) int32 as x0, y0, x1, y1 in pixels (x1, y1
    exclusive) and counts (n_ids,) int32. Ids <= 0 or >= n_ids are ignored;
    instances with no pixels get (0, 0, 0, 0).
    """
    H, W = inst.shape
    boxes = np.zeros((n_ids, 4), dtype=np.int32)
    counts = np.zeros(n_ids, dtype=np.int32)
    for k in range(n_ids):
        boxes[k, 0] = W
        boxes[k, 1] = H
    for i in range(H):
        for j in range(W):
            k = inst[i, j]
            if k <= 0 or k >= n_ids:
                continue
            counts[k] += 1
            if j < boxes[k, 0]:
                boxes[k, 0] = j
            if j + 1 > boxes[k, 2]:
                boxes[k, 2] = j + 1
            if i < boxes[k, 1]:
                boxes[k, 1] = i
            boxes[k, 3] = i + 1  # rows are scanned in increasing order
    for k in range(n_ids):
        if counts[k] == 0:
            boxes[k, 0] = 0
            boxes[k, 1] = 0
    return boxes, counts


def warmup():
    """JIT-compile (or load from cache) the camera's kernels with the standard dtypes."""
    from .render_kernels import warmup as warmup_passes  # the per-pixel passes around the rasterizer

    warmup_passes()
    H, W = 4, 8
    verts = np.array([[[-1.0, 1.0, 2.0], [1.0, 1.0, 2.0], [0.0, 1.0, -1.0]],    # ground, clipped
                      [[-1.0, -1.0, 3.0], [0.0, 1.0, 3.0], [1.0, -1.0, 3.0]]],  # object
                     dtype=np.float32)
    rgb = np.zeros((H, W, 3), np.uint8)
    depth = np.full((H, W), np.inf, np.float32)
    inst = np.zeros((H, W), np.int32)
    label = np.zeros((H, W), np.uint8)
    stamp = np.zeros((H, W), np.int32)
    coverage = np.zeros(2, np.int32)
    rasterize(verts, np.full((2, 3), 255, np.uint8), np.array([0, 1], np.int32),
              np.array([1, 0], np.uint8), 1, 4.0, 4.0, 4.0, 2.0, 0.1,
              rgb, depth, inst, label, stamp, coverage)
    instance_boxes(inst, 2)
