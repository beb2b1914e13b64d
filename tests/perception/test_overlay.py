"""The overlay's dense layer against a plain numpy reference."""

import cv2
import numpy as np
import pytest

from perception.overlay import DRIVABLE_ALPHA, DRIVABLE_COLOUR, LANE_COLOURS, _dense_overlay


def _reference(image, drivable, lanes):
    h, w = image.shape[:2]
    big_d = cv2.resize(drivable.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    big_l = cv2.resize(lanes, (w, h), interpolation=cv2.INTER_NEAREST)
    ref = image.astype(np.float64)
    ref[big_d] = ref[big_d] * (1 - DRIVABLE_ALPHA) + np.array(DRIVABLE_COLOUR) * DRIVABLE_ALPHA
    for code, colour in LANE_COLOURS.items():
        ref[big_l == code] = colour
    return np.round(ref)


@pytest.mark.parametrize("image_hw, first_row", [((48, 96), 0), ((50, 97), 9), ((720, 1280), 7)])
def test_dense_overlay_matches_a_per_pixel_reference(image_hw, first_row):
    rng = np.random.default_rng(0)
    drivable = rng.random((16, 32)) < 0.5
    lanes = rng.integers(0, 4, (16, 32)).astype(np.uint8)
    drivable[:first_row], lanes[:first_row] = False, 0  # masks only in the lower rows: a band is blended
    image = rng.integers(0, 256, (*image_hw, 3), dtype=np.uint8)
    out = _dense_overlay(image, drivable, lanes)
    assert out.dtype == np.uint8 and out.shape == image.shape
    assert np.abs(out.astype(int) - _reference(image, drivable, lanes)).max() <= 1
    assert np.array_equal(_dense_overlay(image, None, None), image)
    assert np.array_equal(_dense_overlay(image, np.zeros((16, 32), bool), np.zeros((16, 32), np.uint8)), image)
