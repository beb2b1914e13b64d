"""LaneMemory: odometry carries the lane through wrong fits; real changes (a line crossed, a turn,
readings that hold together) are taken."""

import math

import pytest

from control.lane_memory import LaneMemory, LaneMemoryConfig, predict
from perception.types import LaneEstimate

DT = 0.05


def lane(offset, heading=0.0, confidence=1.0, width=3.2, curvature=0.0):
    return LaneEstimate(offset, heading, curvature, width, confidence)


def test_prediction_follows_the_car():
    # pointing 0.1 rad left at 10 m/s for 1 s: ~1 m further left; turning right at 0.1 rad/s: heading back to 0
    est = lane(0.0, 0.1)
    for _ in range(20):
        est = predict(est, 10.0, -0.1, DT)
    assert est.heading_error_rad == pytest.approx(0.0, abs=1e-9)
    assert est.offset_m == pytest.approx(10.0 * math.sin(0.05) * 1.0, abs=0.02)
    curved = predict(lane(0.0, 0.0, curvature=0.01), 10.0, 0.0, 1.0)  # the lane bends left, the car goes straight
    assert curved.heading_error_rad == pytest.approx(-0.1)


def test_a_wrong_fit_in_a_junction_is_replaced_by_the_prediction():
    mem = LaneMemory()
    assert mem.update(lane(0.1), 8.0, 0.0, DT).offset_m == 0.1
    wild = [lane(1.4, -0.2, 0.5), lane(3.3, -0.5, 0.46), lane(2.1, -0.41, 0.58), lane(0.8, -0.19, 0.7)]
    for k in range(12):  # the car goes straight on; the fits jump about, none agreeing with the next
        out = mem.update(wild[k % len(wild)], 8.0, 0.0, DT)
        assert out.offset_m == pytest.approx(0.1) and out.heading_error_rad == 0.0 and mem.remembered
    good = lane(0.15, 0.01)  # past the junction the paint is back, where the car is
    assert mem.update(good, 8.0, 0.0, DT) is good and not mem.remembered


def test_readings_that_hold_together_replace_a_wrong_memory():
    cfg = LaneMemoryConfig()
    mem = LaneMemory(cfg)
    mem.update(lane(0.0), 5.0, 0.0, DT)  # believed, but say it was wrong: the car is really 1.5 m left
    steps = 0
    while mem.update(lane(1.5), 5.0, 0.0, DT).offset_m != 1.5:
        steps += 1
        assert steps * DT <= cfg.reanchor_s + 2 * DT
    assert steps * DT >= cfg.reanchor_s - DT


def test_crossing_a_line_and_turning_are_taken_at_once():
    mem = LaneMemory()
    mem.update(lane(1.5, 0.1), 8.0, 0.0, DT)  # near the left line, moving left
    over = lane(1.5 + 8.0 * math.sin(0.1) * DT - 3.2, 0.1)  # the next lane's centre is the reference now
    assert mem.update(over, 8.0, 0.0, DT) is over
    mem = LaneMemory()
    mem.update(lane(0.0), 5.0, 0.0, DT)
    for _ in range(20):  # a right turn in a junction: 0.5 rad in 1 s, no lane seen meanwhile
        mem.update(LaneEstimate.unknown(), 5.0, -0.5, DT)
    exit_lane = lane(0.3, 0.05)
    assert mem.update(exit_lane, 5.0, 0.0, DT) is exit_lane


def test_the_regression_pulls_and_the_memory_fades():
    cfg = LaneMemoryConfig()
    mem = LaneMemory(cfg)
    mem.update(lane(0.0), 5.0, 0.0, DT)
    weak = mem.update(lane(1.0, confidence=0.15), 5.0, 0.0, DT)
    assert weak.offset_m == pytest.approx(cfg.fallback_gain * 1.0) and weak.confidence == 0.15
    mem = LaneMemory(cfg)
    mem.update(lane(0.0), 5.0, 0.0, DT)
    steps = 0
    while math.isfinite(mem.update(LaneEstimate.unknown(), 5.0, 0.0, DT).offset_m):
        steps += 1
        assert steps * DT <= cfg.max_hold_s + 2 * DT
    assert steps * DT >= cfg.max_hold_s - DT  # carried this long by odometry, then the lane is unknown
