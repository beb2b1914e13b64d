"""The feature layout against hand-built PerceptionFrames."""

import numpy as np
import pytest

from control.features import (FAR, K_OBJECTS, LAYOUT, OBJECT_FIELDS, OBS_SIZE, SLICES, EgoMeasurements, decode, encode,
                              object_column)
from perception.types import Detections, LaneEstimate, PerceptionFrame


def _dets(rows):
    """rows: (class_id, forward m, left m, rel vx m/s, rel vy m/s)"""
    n = len(rows)
    pos = np.array([[r[1], r[2]] for r in rows], np.float32).reshape(n, 2)
    vel = np.array([[r[3], r[4]] for r in rows], np.float32).reshape(n, 2)
    return Detections(np.zeros((n, 4), np.float32), np.ones(n, np.float32), np.array([r[0] for r in rows], np.int64),
                      np.arange(n, dtype=np.int64), np.hypot(pos[:, 0], pos[:, 1]).astype(np.float32), pos, vel)


def _frame(dets=None, lane=None, light="none", light_dist=float("inf"), lead=-1):
    return PerceptionFrame(0, 0.0, "test", (160, 320), dets if dets is not None else Detections.empty(),
                           lane or LaneEstimate(0.35, 0.03, 0.01, 3.5, 0.9), light, light_dist, lead)


EGO = EgoMeasurements(10.0, 0.1, 13.9, 0.2, -0.4)


def test_layout_size_and_blocks():
    assert OBS_SIZE == 87 == sum(LAYOUT.values())
    assert LAYOUT["objects"] == K_OBJECTS * len(OBJECT_FIELDS)


def test_ego_lane_and_light_blocks():
    obs = encode(_frame(light="red", light_dist=25.0), EGO)
    assert obs.dtype == np.float32 and obs.shape == (OBS_SIZE,)
    np.testing.assert_allclose(obs[SLICES["ego"]], [0.5, 0.2, 13.9 / 20, 0.2, -0.4], atol=1e-6)
    np.testing.assert_allclose(obs[SLICES["lane"]], [0.2, 0.1, 0.3, 1.0, 0.9, 1.0], atol=1e-6)
    np.testing.assert_allclose(obs[SLICES["light"]], [1, 0, 0, 0, 0.5, 1], atol=1e-6)
    f = decode(obs)
    assert f.light_state == "red" and f.light_distance_m == pytest.approx(25.0)
    assert f.lane_offset_m == pytest.approx(0.35) and f.speed_m_s == pytest.approx(10.0)


def test_unknown_values_are_flagged_not_nan():
    lane = LaneEstimate.unknown()
    dets = _dets([(0, 12.0, 0.0, float("nan"), float("nan"))])
    obs = encode(_frame(dets, lane, light="green", light_dist=float("inf")), EGO)
    assert np.all(np.isfinite(obs))
    assert obs[SLICES["lane"]][5] == 0.0  # lane unknown
    assert obs[SLICES["light"]][4] == FAR and obs[SLICES["light"]][5] == 0.0  # distance unknown
    assert not decode(obs).lane_known


def test_objects_in_path_first_then_by_distance():
    dets = _dets([
        (0, 8.0, 3.5, 0.0, 0.0),  # next lane, near
        (4, 30.0, 0.2, 0.0, 0.0),  # pedestrian ahead in the path, far
        (1, 15.0, -0.5, -5.0, 0.0),  # truck in the path, closing at 5 m/s
        (5, 10.0, 2.0, 0.0, 0.0),  # a traffic light: not an object row
    ])
    obs = encode(_frame(dets, LaneEstimate(0.0, 0.0, 0.0, 3.5, 1.0)), EGO)
    rows = decode(obs).objects
    c = object_column
    assert rows[:3, c("present")].tolist() == [1, 1, 1] and rows[3:, c("present")].sum() == 0
    # truck (in path, 15 m) before the pedestrian (in path, 30 m) before the car beside us
    assert rows[0, c("vehicle")] == 1 and rows[0, c("x")] == pytest.approx(15.0 / 50)
    assert rows[0, c("inv_ttc")] == pytest.approx(5.0 / np.hypot(15.0, 0.5), rel=1e-4)
    assert rows[1, c("pedestrian")] == 1 and rows[1, c("in_path")] == 1
    assert rows[2, c("in_path")] == 0 and rows[2, c("y")] == pytest.approx(0.35)


def test_path_follows_the_curve():
    # on a left curve (radius 50 m), a car 20 m ahead and 4 m left is on the path; one 4 m right is not
    dets = _dets([(0, 20.0, 4.0, 0.0, 0.0), (0, 20.0, -4.0, 0.0, 0.0)])
    obs = encode(_frame(dets, LaneEstimate(0.0, 0.0, 1 / 50, 3.5, 1.0)), EGO)
    rows = decode(obs).objects
    by_y = {round(r[object_column("y")] * 10): r[object_column("in_path")] for r in rows[:2]}
    assert by_y == {4: 1.0, -4: 0.0}


def test_decode_rejects_wrong_size():
    with pytest.raises(ValueError, match="87"):
        decode(np.zeros(10, np.float32))


def test_a_cone_stands_whatever_its_measured_velocity_says():
    """From the models a small cone's range differences read as motion; its class says it stands: its row
    carries the ego's closing speed and no lateral motion, where a motorcycle's keeps what was measured."""
    from common.vocab import TRAFFIC_CONE_CLASS

    obs = encode(_frame(_dets([(TRAFFIC_CONE_CLASS, 15.0, 0.0, 3.0, 1.0), (3, 25.0, 0.0, 3.0, 1.0)])), EGO)
    rows = decode(obs).objects
    vx, vy, veh = object_column("vx"), object_column("vy"), object_column("vehicle")
    cone, moto = rows[0], rows[1]
    assert cone[vx] * 10.0 == pytest.approx(-EGO.speed_m_s) and cone[vy] == 0.0
    assert moto[vx] * 10.0 == pytest.approx(3.0) and moto[vy] * 5.0 == pytest.approx(1.0)
    assert cone[veh] == 1.0  # flagged as the policies knew cones while they borrowed the motorcycle's class
