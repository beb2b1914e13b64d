"""The far-field pass: its window, its boxes back in the frame, the merge, and that it finds what the frame's
pass misses."""

import numpy as np
import pytest

from perception.far_field import FarField, merge_rows
from perception.nms import nms_rows
from perception.yolo import DetectorConfig


def test_the_window_is_the_frame_over_the_zoom_centred_on_the_horizon():
    # 320 x 160, 80 deg: fy = 160 / tan(40 deg) = 190.7 px; pitch -3 deg puts the horizon 10 px above the middle
    assert FarField().window((160, 320)) == (80, 30, 240, 110)
    x0, y0, x1, y1 = FarField(zoom=3.0).window((160, 320))
    assert (x1 - x0, y1 - y0) == (107, 53) and y0 == round(70 - 53 / 2)
    # a camera looking far down: the window stays inside the frame
    assert FarField(pitch_deg=-40.0).window((160, 320))[1] == 0
    assert FarField(pitch_deg=40.0).window((160, 320))[3] == 160


def test_enlarged_window_boxes_come_back_in_frame_pixels_less_those_the_window_cuts():
    ff = FarField()
    image = np.zeros((160, 320, 3), np.uint8)
    image[60:70, 150:156] = 255  # a 6 x 10 px object inside the window
    big, win = ff.enlarge(image)
    assert big.shape == image.shape and win == (80, 30, 240, 110)
    ys, xs = np.nonzero(big[..., 0] > 127)
    assert (xs.min(), ys.min()) == (140, 60) and (xs.max(), ys.max()) == (151, 79)  # 2x, shifted by the window
    rows = np.array([[140, 60, 152, 80, 0.9, 10],    # the object: back at its place
                     [0, 50, 30, 90, 0.8, 0],        # cut by the window's left edge: the frame's pass sees it whole
                     [200, 150, 260, 160, 0.7, 4]],  # cut by its bottom
                    np.float32)
    out = ff.to_frame(rows, win, big.shape[:2])
    np.testing.assert_allclose(out, [[150, 60, 156, 70, 0.9, 10]])


def test_merge_keeps_one_box_per_object_and_the_better_one():
    frame = np.array([[100, 60, 110, 70, 0.3, 10], [10, 10, 50, 50, 0.9, 0]], np.float32)
    far = np.array([[100.5, 60, 110, 70.5, 0.8, 10],  # the same cone, more sure of it
                    [100, 60, 110, 70, 0.6, 3],       # the same place, another class: class-wise NMS keeps both
                    [200, 65, 203, 70, 0.5, 10]], np.float32)  # one the frame's pass missed
    out = merge_rows(frame, far, iou=0.5, max_det=100)
    np.testing.assert_allclose(out[np.argsort(out[:, 4])][:, 4:], [[0.5, 10], [0.6, 3], [0.8, 10], [0.9, 0]], atol=1e-6)
    assert merge_rows(frame, np.zeros((0, 6), np.float32), 0.5, 100) is frame
    assert len(nms_rows(np.concatenate([frame, far]), 0.5, max_det=2)) == 2


def test_the_zoom_is_checked_and_zero_turns_the_pass_off():
    assert DetectorConfig(far_zoom=0).far_field_spec() is None
    assert DetectorConfig().far_field_spec() == FarField(zoom=2.0)
    for bad in (1.0, 8.0):
        with pytest.raises(ValueError, match="far-field zoom"):
            DetectorConfig(far_zoom=bad)


@pytest.mark.slow
def test_the_shipped_detector_finds_far_cones_only_with_the_far_field():
    """LaneClosure at 50 km/h, the car holding its lane: the labelled cones 20-35 m ahead (4-7 px tall) found by
    the shipped detector (any class) with and without the far-field pass. Measured 2026-12-05: det-lights15 4 of 53
    without, 41 with; det-cones17 1 of 53 without, 40 with."""
    import gymnasium as gym

    from perception.metrics.detection import iou_matrix
    from perception.model_files import DEFAULT_DETECTOR
    from perception.yolo import YoloDetector
    from sim import SUITE_ENV_ID

    env = gym.make(SUITE_ENV_ID, config={"render_camera": True, "dense_labels": False})
    obs, info = env.reset(seed=0, options={"scenario": "LaneClosure", "params": {"ego_kmh": 50.0, "closure_m": 60.0}})
    dets = {z: YoloDetector.load(DEFAULT_DETECTOR, cfg=DetectorConfig(device="cpu", far_zoom=z)) for z in (0, 2.0)}
    found, cones = {0: 0, 2.0: 0}, 0
    for step in range(105):  # the closure's first cone is 82 m ahead at the start, 13.9 m on per second
        obs, _, _, _, info = env.step(np.array([0.0, 0.0], np.float32))  # (holds the speed)
        if step < 60 or step % 3:
            continue
        gt = [o for o in info["ground_truth"].objects if o.class_id == 10 and 20 <= o.distance_m <= 35 and o.box_xyxy]
        if not gt:
            continue
        cones += len(gt)
        truth = np.array([o.box_xyxy for o in gt], np.float32)
        for z, det in dets.items():
            d = det.detect(obs["image"])
            found[z] += int((iou_matrix(truth, d.xyxy).max(1) > 0.2).sum()) if len(d) else 0
    assert cones >= 20
    assert found[2.0] >= found[0] + 0.4 * cones, (found, cones)
