"""Tests for sim.raster against pinhole-formula and brute-force references."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sim.raster import instance_boxes, rasterize

REPO = Path(__file__).resolve().parents[2]

H, W = 160, 320
FX, FY, CX, CY = 120.0, 110.0, 160.0, 80.0
ZN = 0.1
FAR = np.float32(1e9)


def buffers(n_inst=8, depth_fill=FAR):
    return dict(rgb=np.zeros((H, W, 3), np.uint8),
                depth=np.full((H, W), depth_fill, np.float32),
                inst=np.zeros((H, W), np.int32),
                label=np.zeros((H, W), np.uint8),
                stamp=np.zeros((H, W), np.int32),
                coverage=np.zeros(n_inst, np.int32))


def render(tris, n_ground=0, inst_ids=None, colors=None, labels=None, buf=None,
           fx=FX, fy=FY, cx=CX, cy=CY):
    verts = np.asarray(tris, np.float32).reshape(-1, 3, 3)
    T = len(verts)
    if inst_ids is None:
        inst_ids = np.ones(T)
    if colors is None:
        colors = np.tile([10, 200, 30], (T, 1))
    if labels is None:
        labels = np.full(T, 3)
    buf = buffers() if buf is None else buf
    rasterize(verts, np.asarray(colors, np.uint8), np.asarray(inst_ids, np.int32),
              np.asarray(labels, np.uint8), n_ground, fx, fy, cx, cy, ZN,
              buf["rgb"], buf["depth"], buf["inst"], buf["label"], buf["stamp"], buf["coverage"])
    return buf


def front_facing(tri):
    v = np.asarray(tri, np.float64)
    return np.dot(np.cross(v[1] - v[0], v[2] - v[0]), v[0]) < 0


def quad(p0, p1, p2, p3):
    """Two triangles (p0,p1,p2), (p0,p2,p3) sharing the diagonal p0-p2."""
    return [[p0, p1, p2], [p0, p2, p3]]


def facing_quad(x0, x1, y0, y1, z):
    """Fronto-parallel rectangle at depth z [m], wound to face the camera."""
    q = quad((x0, y0, z), (x0, y1, z), (x1, y1, z), (x1, y0, z))
    assert all(front_facing(t) for t in q)
    return q


def pixel_rect(x0, x1, y0, y1, z, fx=FX, fy=FY, cx=CX, cy=CY):
    """Boolean mask of pixels whose centre projects inside the rectangle."""
    u = np.arange(W) + 0.5
    v = np.arange(H) + 0.5
    cols = (u >= fx * x0 / z + cx) & (u < fx * x1 / z + cx)
    rows = (v >= fy * y0 / z + cy) & (v < fy * y1 / z + cy)
    return rows[:, None] & cols[None, :]


WARMUP_THEN_RENDER = """
import json, numba, gymnasium as gym
import sim, sim.raster, sim.render_kernels

def compiled():
    return {f"{m.__name__}.{n}": sorted(map(str, f.signatures)) for m in (sim.raster, sim.render_kernels)
            for n, f in vars(m).items() if isinstance(f, numba.core.registry.CPUDispatcher)}

sim.raster.warmup()
warm = compiled()
for kind in ("Town", "Highway"):
    env = gym.make(f"drivestack/{kind}-v0")
    env.reset(seed=0)
    for _ in range(3):
        env.step([0.0, 0.3])
print(json.dumps({"warm": warm, "after": compiled()}))
"""


def test_warmup_compiles_what_the_camera_calls():
    """After warmup() the camera's frames compile nothing more: every kernel they call, with the dtypes they pass,
    is already there. A fresh process, so no other test has compiled anything first."""
    run = subprocess.run([sys.executable, "-c", WARMUP_THEN_RENDER], cwd=REPO, capture_output=True, text=True,
                         timeout=300, check=True)
    report = json.loads(run.stdout.splitlines()[-1])
    assert report["warm"]["sim.raster.rasterize"] and report["warm"]["sim.render_kernels.ground_pass"]
    assert report["after"] == report["warm"]


def test_ground_decal_fills_rectangle_without_depth():
    # Decals are plain 2D fills: use a fronto-parallel quad mapping to u in
    # [100, 140), v in [90, 120) at z = 10 m, drawn over a nearer pre-filled depth.
    z = 10.0
    x0, x1 = (100 - CX) * z / FX, (140 - CX) * z / FX
    y0, y1 = (90 - CY) * z / FY, (120 - CY) * z / FY
    tris = facing_quad(x0, x1, y0, y1, z)
    tris = [tris[0], tris[1][::-1]]  # mixed winding: decals are never culled
    buf = render(tris, n_ground=2, colors=[[1, 2, 3]] * 2, labels=[7, 7],
                 buf=buffers(depth_fill=np.float32(1.0)))
    expect = np.zeros((H, W), bool)
    expect[90:120, 100:140] = True
    np.testing.assert_array_equal(buf["label"] == 7, expect)
    np.testing.assert_array_equal(buf["rgb"][expect], np.tile([1, 2, 3], (expect.sum(), 1)))
    assert not buf["rgb"][~expect].any()
    assert (buf["depth"] == 1.0).all()          # no depth write
    assert not buf["inst"].any() and not buf["coverage"].any() and not buf["stamp"].any()


def test_ground_decals_later_overwrite_earlier():
    z = 10.0
    big = facing_quad(-3, 3, 0.5, 3, z)
    small = facing_quad(-1, 1, 1, 2, z)
    buf = render(big + small, n_ground=4, labels=[1, 1, 2, 2])
    assert (buf["label"][pixel_rect(-1, 1, 1, 2, z)] == 2).all()
    buf = render(small + big, n_ground=4, labels=[2, 2, 1, 1])
    assert (buf["label"] != 2).all()


def test_object_square_matches_pinhole_and_depth():
    x0, x1, y0, y1, z = -0.77, 1.13, -0.61, 0.93, 5.3
    buf = render(facing_quad(x0, x1, y0, y1, z), inst_ids=[5, 5], colors=[[9, 8, 7]] * 2)
    expect = pixel_rect(x0, x1, y0, y1, z)
    assert expect.sum() > 500
    np.testing.assert_array_equal(buf["inst"] == 5, expect)
    np.testing.assert_array_equal(buf["inst"][~expect], 0)
    np.testing.assert_allclose(buf["depth"][expect], z, rtol=1e-4)
    assert (buf["depth"][~expect] == FAR).all()
    assert (buf["rgb"][expect] == [9, 8, 7]).all()
    assert not buf["label"].any()               # objects leave labels alone
    assert buf["coverage"][5] == expect.sum()


def test_slanted_object_depth_is_perspective_correct():
    # A floor-like plane y = 1.2 m facing up (towards a camera above it):
    # the camera z at pixel row v is fy * h / (v - cy), not a screen-linear blend.
    h = 1.2
    q = quad((-4, h, 3), (-4, h, 40), (4, h, 40), (4, h, 3))
    q = [t if front_facing(t) else t[::-1] for t in q]
    buf = render(q, inst_ids=[1, 1])
    ii, jj = np.nonzero(buf["inst"] == 1)
    assert len(ii) > 1000
    z_ref = FY * h / (ii + 0.5 - CY)
    np.testing.assert_allclose(buf["depth"][ii, jj], z_ref, rtol=1e-4)


@pytest.mark.parametrize("near_first", [True, False])
def test_nearer_object_occludes_farther_in_any_order(near_first):
    near = facing_quad(-0.5, 0.5, -0.5, 0.5, 4.0)
    far = facing_quad(-2.0, 2.0, -1.0, 1.0, 8.0)
    tris, ids = (near + far, [1, 1, 2, 2]) if near_first else (far + near, [2, 2, 1, 1])
    buf = render(tris, inst_ids=ids)
    m_near = pixel_rect(-0.5, 0.5, -0.5, 0.5, 4.0)
    m_far = pixel_rect(-2.0, 2.0, -1.0, 1.0, 8.0)
    assert (buf["inst"][m_near] == 1).all()
    np.testing.assert_allclose(buf["depth"][m_near], 4.0, rtol=1e-4)
    assert (buf["inst"][m_far & ~m_near] == 2).all()
    # Coverage ignores occlusion: the far one counts its whole area.
    assert buf["coverage"][1] == m_near.sum() and buf["coverage"][2] == m_far.sum()


def test_back_faces_are_culled():
    q = facing_quad(-1, 1, -1, 1, 5.0)
    buf = render([t[::-1] for t in q], inst_ids=[1, 1])
    assert not buf["inst"].any() and not buf["rgb"].any() and not buf["coverage"].any()
    assert (buf["depth"] == FAR).all()


@pytest.mark.parametrize("as_object", [False, True])
def test_near_plane_clipping_of_floor_triangle(as_object):
    # A huge floor triangle at y = h, reaching far behind the camera. Only the
    # rows below the horizon (v > cy) may be covered, and all of them are.
    h = 1.5
    tri = [(-1e4, h, -1e3), (1e4, h, -1e3), (0.0, h, 1e5)]
    if not front_facing(tri):
        tri = tri[::-1]
    if as_object:
        buf = render([tri], inst_ids=[1])
        covered = buf["inst"] == 1
        ii, jj = np.nonzero(covered)
        np.testing.assert_allclose(buf["depth"][ii, jj], FY * h / (ii + 0.5 - CY), rtol=1e-4)
    else:
        buf = render([tri], n_ground=1, labels=[4])
        covered = buf["label"] == 4
    expect = np.zeros((H, W), bool)
    expect[int(CY):] = True
    np.testing.assert_array_equal(covered, expect)


def test_triangle_wholly_behind_or_offscreen_draws_nothing():
    behind = [[(-1, -1, -5), (1, -1, -5), (0, 1, -5)]]
    offscreen = facing_quad(100, 101, -1, 1, 5.0)  # far right of the image
    tris = [t if front_facing(t) else t[::-1] for t in behind] + offscreen
    buf = render(tris, inst_ids=[1, 1, 1])
    assert not buf["inst"].any() and not buf["coverage"].any()
    buf = render(tris, n_ground=3)
    assert not buf["label"].any()


def test_hidden_object_still_counts_coverage():
    buf = buffers(depth_fill=np.float32(3.0))   # e.g. ground/horizon in front
    render(facing_quad(-1, 1, -1, 1, 5.0), inst_ids=[2, 2], buf=buf)
    assert not buf["inst"].any() and not buf["rgb"].any()
    assert (buf["depth"] == 3.0).all()
    assert buf["coverage"][2] == pixel_rect(-1, 1, -1, 1, 5.0).sum()


def test_coverage_counts_overlapping_same_instance_once():
    q = facing_quad(-1, 1, -1, 1, 5.0)
    extra = facing_quad(0.0, 2.0, 0.0, 2.0, 6.0)   # overlaps the first, same id
    buf = render(q + extra, inst_ids=[3, 3, 3, 3])
    union = pixel_rect(-1, 1, -1, 1, 5.0) | pixel_rect(0.0, 2.0, 0.0, 2.0, 6.0)
    assert buf["coverage"][3] == union.sum() == (buf["inst"] == 3).sum()


def _inside_convex(poly_uv, margin):
    """Pixels whose centre is inside a convex CCW/CW polygon by > margin px."""
    u = np.arange(W)[None, :] + 0.5
    v = np.arange(H)[:, None] + 0.5
    p = np.asarray(poly_uv, np.float64)
    area = np.sum(p[:, 0] * np.roll(p[:, 1], -1) - np.roll(p[:, 0], -1) * p[:, 1])
    ok = np.ones((H, W), bool)
    for a, b in zip(p, np.roll(p, -1, axis=0)):
        e = (b[0] - a[0]) * (v - a[1]) - (b[1] - a[1]) * (u - a[0])
        ok &= np.sign(area) * e / np.hypot(*(b - a)) > margin
    return ok


def test_shared_edges_leave_no_cracks_and_no_double_coverage():
    # Random convex polygons fanned into triangles with distinct ids per
    # triangle: every pixel inside is covered, and summed coverage equals the
    # covered pixel count (shared edges are not double-counted).
    rng = np.random.default_rng(1)
    for trial in range(30):
        z = rng.uniform(2.0, 30.0)
        n = rng.integers(3, 12)
        # Jittered even angles: every gap < pi, so the fan tiles the polygon.
        ang = (np.arange(n) + rng.uniform(-0.4, 0.4, n)) * 2 * np.pi / n + rng.uniform(0, 7)
        r = rng.uniform(0.2, 1.0) * z
        cxy = rng.uniform(-0.3, 0.3, 2) * z
        pts = np.stack([cxy[0] + r * np.cos(ang), cxy[1] + 0.5 * r * np.sin(ang),
                        np.full(n, z)], 1)
        centre = np.array([cxy[0], cxy[1], z])
        tris = []
        for k in range(n):
            t = [centre, pts[k], pts[(k + 1) % n]]
            tris.append(t if front_facing(t) else t[::-1])
        buf = buffers(n_inst=n + 1)
        render(tris, inst_ids=np.arange(1, n + 1), buf=buf)
        uv = np.stack([FX * pts[:, 0] / z + CX, FY * pts[:, 1] / z + CY], 1)
        inside = _inside_convex(uv, 1e-3)
        covered = buf["inst"] > 0
        assert covered[inside].all(), trial
        assert buf["coverage"].sum() == covered.sum(), trial


def test_clipped_quad_has_no_cracks():
    # A wall quad crossing the near plane: its two triangles get clipped
    # separately but must still tile the screen without gaps.
    q = quad((-2.0, -1.0, -3.0), (-2.0, 1.0, -3.0), (1.5, 1.0, 9.0), (1.5, -1.0, 9.0))
    q = [t if front_facing(t) else t[::-1] for t in q]
    buf = render(q, inst_ids=[1, 2])
    covered = buf["inst"] > 0
    assert covered.sum() > 1000
    assert buf["coverage"].sum() == covered.sum()
    rows = np.nonzero(covered.any(1))[0]
    for i in rows:   # each covered row is one contiguous run (convex, no crack)
        cols = np.nonzero(covered[i])[0]
        assert cols[-1] - cols[0] + 1 == len(cols)


def test_instance_boxes_matches_bruteforce():
    rng = np.random.default_rng(2)
    img = np.zeros((H, W), np.int32)
    for k in range(1, 9):
        for _ in range(3):
            i, j = rng.integers(0, H), rng.integers(0, W)
            img[i:i + rng.integers(1, 30), j:j + rng.integers(1, 40)] = k
    img[rng.random((H, W)) < 0.01] = -3     # ignored
    img[5, 7] = 12                          # >= n_ids: ignored
    n_ids = 11                              # ids 9, 10 absent
    img[img == 4] = 0                       # id 4 absent too
    boxes, counts = instance_boxes(img, n_ids)
    assert boxes.dtype == np.int32 and counts.dtype == np.int32
    assert boxes.shape == (n_ids, 4) and counts.shape == (n_ids,)
    for k in range(n_ids):
        ii, jj = np.nonzero(img == k)
        if k == 0 or len(ii) == 0:
            assert counts[k] == 0 and tuple(boxes[k]) == (0, 0, 0, 0)
        else:
            assert counts[k] == len(ii)
            assert tuple(boxes[k]) == (jj.min(), ii.min(), jj.max() + 1, ii.max() + 1)


def test_instance_boxes_single_pixel():
    img = np.zeros((H, W), np.int32)
    img[7, 5] = 1
    boxes, counts = instance_boxes(img, 2)
    assert tuple(boxes[1]) == (5, 7, 6, 8) and counts[1] == 1
