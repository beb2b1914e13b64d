"""perception.metrics: every accumulator against numbers worked out by hand."""

import numpy as np
import pytest

from perception.metrics import (IOU_THRESHOLDS, OBJECT_RANGES_M, STOP_LINE_RANGES_M, ByRange, DetectionTally, LaneF1,
                                LightConfusion, LightTally, MaskIoU, TrueBoxes, average_precision, distance_errors,
                                iou_matrix, lateral_errors, match_greedy, near)

CAR, PEDESTRIAN = 0, 4


def test_iou_by_hand():
    # 2x2 boxes overlapping in one pixel: 1 / (4 + 4 - 1)
    assert iou_matrix([[0, 0, 2, 2]], [[1, 1, 3, 3], [0, 0, 2, 2], [5, 5, 6, 6]])[0] == pytest.approx([1 / 7, 1.0, 0.0])
    assert iou_matrix(np.zeros((0, 4)), [[0, 0, 1, 1]]).shape == (0, 1)


def test_greedy_matcher_goes_by_score_not_by_iou():
    # rows in falling-score order: the first takes its best box even where a later row overlaps it more
    iou = np.array([[0.6, 0.7], [0.9, 0.0], [0.4, 0.3]])
    assert match_greedy(iou, 0.5).tolist() == [1, 0, -1]
    assert match_greedy(np.array([[0.8], [0.9]]), 0.5).tolist() == [0, -1]  # a duplicate is unmatched
    assert match_greedy(np.array([[0.49]]), 0.5).tolist() == [-1]
    assert match_greedy(np.zeros((2, 0)), 0.5).tolist() == [-1, -1]


def test_average_precision_101_points():
    # both detections right: precision 1 at every recall
    assert average_precision(np.array([0.5, 1.0]), np.array([1.0, 1.0])) == pytest.approx(1.0)
    # one of two objects found, then a false detection: precision 1 up to recall 0.5 (51 of the 101 points), 0 after
    assert average_precision(np.array([0.5, 0.5]), np.array([1.0, 0.5])) == pytest.approx(51 / 101)
    assert average_precision(np.zeros(0), np.zeros(0)) == 0.0


def _frame():
    """Cars A, B (demanded), C (4 visible px: not demanded), pedestrian P; five car detections."""
    labels = [{"class_id": CAR, "box_xyxy": [0, 0, 10, 10], "visible_px": 100, "distance_m": 10.0},
              {"class_id": CAR, "box_xyxy": [20, 0, 30, 10], "visible_px": 100, "distance_m": 30.0},
              {"class_id": CAR, "box_xyxy": [40, 0, 42, 2], "visible_px": 4, "distance_m": 50.0},
              {"class_id": PEDESTRIAN, "box_xyxy": [50, 0, 54, 10], "visible_px": 40, "distance_m": 15.0},
              {"class_id": CAR, "box_xyxy": None, "visible_px": 0, "distance_m": 60.0}]  # no box: not scored
    xyxy = np.array([[0, 0, 10, 10],  # A, IoU 1
                     [0, 0, 10, 10],  # A again: a duplicate, false
                     [20, 0, 30, 12],  # B, IoU 100 / 120 = 0.833: right up to the 0.8 threshold
                     [40, 0, 42, 2],  # C: too small to demand, neither right nor false
                     [100, 100, 110, 110]], float)  # nothing: false
    score = np.array([0.9, 0.8, 0.7, 0.6, 0.2])
    distance = np.array([11.0, np.nan, 27.0, 50.0, 5.0])
    return TrueBoxes.from_labels(labels), xyxy, score, np.full(5, CAR), distance


def test_true_boxes_from_labels():
    truth, *_ = _frame()
    assert len(truth) == 4 and truth.demanded.tolist() == [True, True, False, True]
    scaled = TrueBoxes.from_labels([{"class_id": 1, "box_xyxy": [2, 4, 6, 8], "visible_px": 10, "distance_m": None}],
                                   scale_xy=(0.5, 2.0))
    assert scaled.xyxy.tolist() == [[1, 8, 3, 16]] and np.isnan(scaled.distance_m[0]) and scaled.demanded[0]


def test_detection_tally_by_hand():
    truth, xyxy, score, cls, distance = _frame()
    tally = DetectionTally()
    matches = tally.add(xyxy, score, cls, truth)
    assert matches.true_index.tolist() == [0, -1, 1, 2, -1]
    assert tally.n_true[CAR] == 2 and tally.n_true[PEDESTRIAN] == 1

    car = tally.counts(0.0)["car"]
    assert (car.tp, car.fp, car.fn, car.precision, car.recall) == (2, 2, 0, 0.5, 1.0)
    car = tally.counts(0.5)["car"]  # the 0.2 detection drops out
    assert (car.tp, car.fp, car.fn) == (2, 1, 0) and car.precision == pytest.approx(2 / 3)
    ped = tally.counts(0.0)["pedestrian"]
    assert (ped.tp, ped.fp, ped.fn, ped.precision, ped.recall) == (0, 0, 1, None, 0.0)

    ap, curves = tally.average_precision()
    # car, by score: right, false, right, false -> precision 1 to recall 0.5, then 2/3 to recall 1
    ap_b_found = (51 + 50 * 2 / 3) / 101
    ap_b_missed = 51 / 101  # IoU thresholds 0.85, 0.9, 0.95: B not matched
    assert sum(IOU_THRESHOLDS <= 100 / 120) == 7
    assert ap["ap50"]["car"] == pytest.approx(ap_b_found, abs=1e-4)
    assert ap["ap50_95"]["car"] == pytest.approx((7 * ap_b_found + 3 * ap_b_missed) / 10, abs=1e-4)
    assert ap["ap50"]["pedestrian"] == 0.0 and ap["ap50"]["truck"] is None
    assert curves["car"][0].tolist() == [0.5, 0.5, 1.0, 1.0]


def test_distance_errors_of_matched_demanded_detections():
    truth, xyxy, score, cls, distance = _frame()
    matches = DetectionTally().add(xyxy, score, cls, truth)
    true, rel = distance_errors(matches, truth, distance)
    assert true.tolist() == [10.0, 30.0] and rel == pytest.approx([0.1, -0.1])  # C is not demanded


def test_lateral_errors_of_matched_demanded_road_users():
    truth, xyxy, score, cls, distance = _frame()
    assert np.isnan(truth.lateral_m).all()  # labels without a footprint centre (older recordings): never scored
    labels = [{"class_id": CAR, "box_xyxy": [0, 0, 10, 10], "visible_px": 100, "distance_m": 10.0, "y_m": -2.9},
              {"class_id": CAR, "box_xyxy": [20, 0, 30, 10], "visible_px": 100, "distance_m": 30.0, "y_m": 3.5},
              {"class_id": PEDESTRIAN, "box_xyxy": [50, 0, 54, 10], "visible_px": 40, "distance_m": 15.0, "y_m": 0.0}]
    truth = TrueBoxes.from_labels(labels)
    xyxy = np.array([[0, 0, 10, 10], [20, 0, 30, 10], [50, 0, 54, 10]], float)
    matches = DetectionTally().add(xyxy, np.array([0.9, 0.8, 0.7]), np.array([CAR, CAR, PEDESTRIAN]), truth)
    position = np.array([[3.1, -1.7], [30.0, 3.0], [15.0, np.nan]])  # the walker placed nowhere: not scored
    true, err = lateral_errors(matches, truth, position, [CAR, PEDESTRIAN])
    assert true.tolist() == [10.0, 30.0] and err == pytest.approx([1.2, -0.5])
    assert lateral_errors(matches, truth, position, [PEDESTRIAN])[0].size == 0


def test_by_range_bins():
    b = ByRange(OBJECT_RANGES_M)
    b.add([5.0, 19.9, 20.0, 45.0, 90.0], [0.1, -0.3, 0.2, -0.4, 9.0])  # 90 m: beyond every bin
    assert b.median_abs(4) == {"0-20m": 0.2, "20-40m": 0.2, "40-80m": 0.4}
    assert b.counts() == {"0-20m": 2, "20-40m": 1, "40-80m": 1}
    assert b.values()[1].size == 5
    assert ByRange(STOP_LINE_RANGES_M).mean(4) == {"-3-15m": None, "15-30m": None, "30-50m": None}


def test_near_is_a_3x3_dilation():
    cv2 = pytest.importorskip("cv2")
    mask = np.random.default_rng(0).random((2, 9, 13)) > 0.9
    want = np.stack([cv2.dilate(m.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) for m in mask])
    assert (near(mask) == want).all()


def test_lane_f1_on_a_5x5_mask():
    true = np.zeros((5, 5), int)
    true[:, 1] = 1  # ego-left marking: column 1
    true[4, 4] = 2  # one ego-right pixel, never predicted
    pred = np.zeros((5, 5), int)
    pred[:, 2] = 1  # one pixel off: all 5 right
    pred[0, 4] = 1  # 3 px off: false
    f1 = LaneF1()
    f1.add(pred, true)
    # precision 5/6, recall 5/5 -> 2 * 5/6 / (5/6 + 1) = 10/11
    assert f1.f1() == pytest.approx({"ego_left": 10 / 11, "ego_right": 0.0, "other": 0.0})
    # a marking predicted three times as wide: every pixel within 1 px of the truth, all of the truth found
    wide = np.zeros((5, 5), int)
    wide[:, 0:3] = 1
    f1 = LaneF1()
    f1.add(wide[None], true[None])  # a batch works the same
    assert f1.f1()["ego_left"] == pytest.approx(1.0)
    # half the marking missed: precision 1, recall: rows 0-2 found (row 2 by the pixel at row 1), rows 3-4 not
    half = np.zeros((5, 5), int)
    half[:2, 1] = 1
    f1 = LaneF1()
    f1.add(half, true)
    assert f1.f1()["ego_left"] == pytest.approx(2 * 1 * 0.6 / 1.6)


def test_mask_iou():
    iou = MaskIoU()
    assert iou.value() is None
    iou.add(np.array([[1, 1], [0, 0]], bool), np.array([[1, 0], [1, 0]], bool))
    iou.add(np.zeros((2, 2), bool), np.zeros((2, 2), bool))  # adds nothing
    assert iou.value() == pytest.approx(1 / 3)


def test_light_tally_on_three_frames():
    none, red, yellow, green = range(4)
    tally = LightTally()
    tally.add(red, 10.0, red, 11.0)  # right, 1 m long
    tally.add(green, 20.0, red, 18.0)  # wrong state, 2 m short
    tally.add(none, np.nan, yellow, 5.0)  # a false alarm
    c = tally.confusion
    assert c.matrix.tolist() == [[0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 1, 0, 0]]
    assert c.accuracy() == pytest.approx(1 / 3) and c.lit_accuracy() == 0.5
    assert (c.recall(red), c.recall(green), c.recall(yellow)) == (1.0, 0.0, None)
    assert (c.precision(red), c.precision(yellow), c.precision(green)) == (0.5, 0.0, None)
    assert c.balanced_accuracy() == pytest.approx(1 / 3)  # recalls of none 0, red 1, green 0
    assert c.missed_as_none() == 0.0 and c.none_false_alarm_rate() == 1.0
    r = tally.report()
    assert (r["frames_with_light"], r["frames_without"], r["state_accuracy"]) == (2, 1, 0.5)
    assert r["state_accuracy_by_range"] == {"-3-15m": 1.0, "15-30m": 0.0, "30-50m": None}
    assert r["state_accuracy_within_30m"] == 0.5  # the two frames with a light, pooled
    tally.add(red, 40.0, red, 40.0)
    assert tally.report()["state_accuracy_within_30m"] == 0.5 and tally.accuracy_within(50.0) == pytest.approx(2 / 3)
    assert r["distance_median_abs_error_m_by_range"] == {"-3-15m": 1.0, "15-30m": 2.0, "30-50m": None}
    assert r["distance_counts_by_range"] == {"-3-15m": 1, "15-30m": 1, "30-50m": 0}


def test_light_distance_needs_both_lights_and_a_distance():
    tally = LightTally()
    tally.add(np.array([1, 1, 3]), np.array([10.0, 12.0, 40.0]), np.array([0, 1, 3]), np.array([np.nan, np.nan, 43.0]))
    assert tally.distance_error.counts() == {"-3-15m": 0, "15-30m": 0, "30-50m": 1}
    assert tally.confusion.missed_as_none() == pytest.approx(1 / 3) and tally.report()["missed_as_none"] == 0.3333
    assert LightConfusion().accuracy() is None
