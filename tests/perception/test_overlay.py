"""The overlay: the drivable tint against a plain numpy reference, the road visible under it, lane
markings traced as thin centre lines, box labels that do not overlap."""

import cv2
import numpy as np
import pytest

from perception.overlay import DRIVABLE_ALPHA, DRIVABLE_COLOUR, _boxes, _dense_overlay, draw, lane_segments
from perception.types import Detections, LaneEstimate, PerceptionFrame


def _reference(image, drivable):
    h, w = image.shape[:2]
    big_d = cv2.resize(drivable.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    ref = image.astype(np.float64)
    ref[big_d] = ref[big_d] * (1 - DRIVABLE_ALPHA) + np.array(DRIVABLE_COLOUR) * DRIVABLE_ALPHA
    return np.round(ref), big_d


@pytest.mark.parametrize("image_hw, first_row", [((48, 96), 0), ((50, 97), 9), ((720, 1280), 7)])
def test_drivable_tint_matches_a_per_pixel_reference_away_from_its_outline(image_hw, first_row):
    rng = np.random.default_rng(0)
    drivable = rng.random((16, 32)) < 0.5
    drivable[:first_row] = False  # mask only in the lower rows: a band is blended
    image = rng.integers(0, 256, (*image_hw, 3), dtype=np.uint8)
    out = _dense_overlay(image, drivable, None)
    ref, _ = _reference(image, drivable)
    outline = np.zeros(image_hw, np.uint8)  # where the outline may have drawn: near any mask edge
    contours, _ = cv2.findContours(drivable.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    k = np.array([image_hw[1] / 32, image_hw[0] / 16])
    cv2.polylines(outline, [np.round((c.reshape(-1, 2) + 0.5) * k).astype(np.int32) for c in contours], True, 1, 5)
    away = outline == 0
    assert out.dtype == np.uint8 and out.shape == image.shape
    assert np.abs(out.astype(int) - ref)[away].max() <= 1
    assert np.array_equal(_dense_overlay(image, None, None), image)
    assert np.array_equal(_dense_overlay(image, np.zeros((16, 32), bool), None), image)


def test_the_road_stays_visible_under_the_tint():
    road = np.full((64, 128, 3), 110, np.uint8)  # a grey road
    drivable = np.zeros((16, 32), bool)
    drivable[4:, 4:28] = True
    out = _dense_overlay(road, drivable, None)
    px = out[40, 64].astype(int)  # inside the mask, away from its outline
    assert not np.array_equal(px, road[40, 64]) and not np.array_equal(px, DRIVABLE_COLOUR)
    assert np.abs(px - 110).max() < 0.3 * 255  # closer to the road than to the tint colour
    assert np.abs(px - np.array(DRIVABLE_COLOUR)).max() > 100


def test_lane_markings_become_thin_centre_lines():
    m = np.zeros((6, 10), np.uint8)
    m[0, 1:3], m[1, 2:4], m[2, 4], m[3, 7] = 1, 1, 1, 1  # a diagonal chain, then an unconnected run
    m[0, 6:8], m[1, 8], m[1, 6] = 2, 2, 3  # class 2 touches diagonally; class 3 beside it is another marking
    segs = lane_segments(m)
    assert segs[1].tolist() == [[[1.5, 0], [2.5, 1]], [[2.5, 1], [4, 2]]]
    assert segs[2].tolist() == [[[6.5, 0], [8, 1]]] and len(segs[3]) == 0
    wide = np.zeros((40, 40), np.uint8)
    wide[:, 10:22] = 2  # a 12 px wide stripe
    image = np.zeros((40, 40, 3), np.uint8)
    pf = PerceptionFrame(0, 0.0, "t", (40, 40), Detections.empty(), LaneEstimate.unknown(), lane_mask=wide)
    painted = draw(image, pf, bev=False, status=False).any(2)
    assert painted[:, :9].sum() == 0 and painted[:, 23:].sum() == 0
    assert painted[5:35].sum(1).max() <= 3  # one thin line along the middle, not the 12 px stripe


def test_box_labels_do_not_overlap():
    n = 5  # five cars in a row, boxes overlapping: their labels would sit on top of each other
    xyxy = np.array([[100 + 6 * k, 120, 180 + 6 * k, 170] for k in range(n)], np.float32)
    det = Detections(xyxy, np.ones(n, np.float32), np.zeros(n, np.int64), np.arange(n), np.linspace(10, 30, n).astype(np.float32),
                     np.zeros((n, 2), np.float32), np.zeros((n, 2), np.float32))
    pf = PerceptionFrame(0, 0.0, "t", (320, 640), det, LaneEstimate.unknown())
    tags = _boxes(np.zeros((320, 640, 3), np.uint8), pf, 1.0)
    assert len(tags) == n
    for a in range(n):
        x0, y0, x1, y1 = tags[a]
        assert 0 <= x0 < x1 <= 640 and 0 <= y0 < y1 <= 320
        for b in range(a + 1, n):
            c = tags[b]
            assert not (x0 < c[2] and c[0] < x1 and y0 < c[3] and c[1] < y1), (tags[a], c)
