"""The fused per-pixel kernels against the numpy expressions they replace (bit for bit)."""
import numpy as np

from sim.camera import SKY_DEPTH_M
from sim.labels import LANE_EGO_LEFT, LANE_EGO_RIGHT, LANE_OTHER
from sim.meshes import CROSSWALK, LINE_BASE, OFFROAD, OTHER_LINE, ROAD, SKY, STOP_LINE
from sim.render_kernels import backdrop_pass, dense_label_pass, finish_pass, ground_pass, lit_lamp_mask

H, W = 40, 64


def test_dense_label_pass_matches_numpy_masks():
    rng = np.random.default_rng(0)
    label = rng.integers(0, 30, (H, W)).astype(np.uint8)
    inst = np.where(rng.random((H, W)) < 0.3, rng.integers(1, 9, (H, W)), 0).astype(np.int32)
    depth = rng.uniform(0, 50, (H, W)).astype(np.float32)
    depth[rng.random((H, W)) < 0.2] = SKY_DEPTH_M
    left, right = LINE_BASE + 8, LINE_BASE + 7
    drivable, lanes, out_depth = dense_label_pass(label, inst, depth, np.float32(SKY_DEPTH_M), left, right, ROAD,
                                                  CROSSWALK, STOP_LINE, OTHER_LINE, LINE_BASE, LANE_OTHER,
                                                  LANE_EGO_LEFT, LANE_EGO_RIGHT)
    free = inst == 0
    paint = free & ((label >= LINE_BASE) | (label == OTHER_LINE) | (label == CROSSWALK) | (label == STOP_LINE))
    ref_lanes = np.zeros((H, W), np.uint8)
    ref_lanes[paint] = LANE_OTHER
    ref_lanes[free & (label == left)] = LANE_EGO_LEFT
    ref_lanes[free & (label == right)] = LANE_EGO_RIGHT
    assert drivable.dtype == np.bool_ and lanes.dtype == np.uint8 and out_depth.dtype == np.float32
    np.testing.assert_array_equal(drivable, free & ((label == ROAD) | paint))
    np.testing.assert_array_equal(lanes, ref_lanes)
    np.testing.assert_array_equal(out_depth, np.where(depth >= SKY_DEPTH_M, 0.0, depth).astype(np.float32))


def test_ground_and_backdrop_passes_match_numpy():
    rng = np.random.default_rng(1)
    rise = rng.uniform(-0.5, 0.2, (H, W))
    rise[0, :3] = (-1e-6, 0.0, -1e-9)
    height = 1.43
    depth, label = ground_pass(rise, height, SKY_DEPTH_M, OFFROAD, SKY)
    with np.errstate(divide="ignore"):
        ref = np.minimum(np.where(rise < -1e-6, height / -rise, SKY_DEPTH_M), SKY_DEPTH_M).astype(np.float32)
    np.testing.assert_array_equal(depth, ref)
    np.testing.assert_array_equal(label, np.where(ref < SKY_DEPTH_M, OFFROAD, SKY).astype(np.uint8))

    sky = rng.integers(0, 256, (H, 3)).astype(np.uint8)
    grass = np.array([78, 118, 58], np.uint8)
    ref_rgb = np.empty((H, W, 3), np.uint8)
    ref_rgb[:] = sky[:, None, :]
    ref_rgb[label == OFFROAD] = grass
    np.testing.assert_array_equal(backdrop_pass(label, sky, grass, OFFROAD), ref_rgb)


def test_finish_pass_matches_float32_numpy():
    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 256, (H, W, 3)).astype(np.uint8)
    lamps = rng.random((H, W)) < 0.1
    haze = (1.0 - np.exp(-rng.uniform(0, 1e3, (H, W)).astype(np.float32) / 60.0)).astype(np.float32)
    fog = np.array([170, 172, 178], np.float32) * 0.35
    noise = rng.normal(0.0, 5.0, (H, W, 3)).astype(np.float32)
    for brightness in (1.0, 0.3, 1.2):
        img = rgb.astype(np.float32)
        keep = img.copy()
        img *= brightness
        img[lamps] = keep[lamps]
        img += (fog - img) * haze[..., None]
        img += noise
        ref = np.clip(img, 0, 255).astype(np.uint8)
        out = finish_pass(rgb, np.float32(brightness), lamps, True, haze, fog, True, noise, True)
        np.testing.assert_array_equal(out, ref)


def test_lit_lamp_mask_matches_numpy():
    rng = np.random.default_rng(3)
    inst = rng.integers(0, 12, (H, W)).astype(np.int32)
    rgb = rng.integers(0, 256, (H, W, 3)).astype(np.uint8)
    ref = (inst >= 4) & (inst < 9) & (rgb.max(-1) > 200)
    np.testing.assert_array_equal(lit_lamp_mask(inst, rgb, 4, 9, 200), ref)
