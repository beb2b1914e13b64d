"""control.prediction: footprint conflicts and the deceleration that avoids them, against hand-worked numbers.

Frame: x forward, y left from the camera's foot; the ego's centre is 0.8 m behind it, its half-length
2.3 m, its corridor half-width 0.93 m. With the default margins (0.3 m sideways, 1.0 m lengthways)
a road user overlaps when, in the ego's axes, ``0 < along < 3.3 + its reach along`` and
``|across| < 1.23 + its reach across``. Paths are sampled every 0.05 s over 3 s.
"""

import numpy as np
import pytest

from control.prediction import Conflicts, EgoPath, RoadUsers, predict_conflicts

PED = (0.3, 0.3)  # half length, half width [m] (CLEARANCE_SIZE_M's 0.6 m square)
CAR = (2.3, 0.95)  # CLEARANCE_SIZE_M's 4.6 x 1.9 m


def users(*rows):
    """rows: (x, y, vx, vy, (half_length, half_width)[, yaw_rate, decel]) over the ground."""
    r = [(*row, 0.0, 0.0) if len(row) == 5 else row for row in rows]
    return RoadUsers(np.array([[x, y] for x, y, *_ in r], float), np.array([[vx, vy] for _, _, vx, vy, *_ in r], float),
                     np.array([row[5] for row in r], float), np.array([row[4][0] for row in r], float),
                     np.array([row[4][1] for row in r], float), np.zeros(len(r)), np.array([row[6] for row in r], float))


def test_a_standing_pedestrian_ahead():
    # along = 20 - (-0.8 + 10 t) must fall under 3.3 + 0.3 = 3.6: t > 1.72, first sample 1.75 s
    c = predict_conflicts(users((20.0, 0.0, 0.0, 0.0, PED)), EgoPath(10.0, 0.0))
    assert c.time_s[0] == pytest.approx(1.75)
    assert c.gap_m[0] == pytest.approx(17.5)  # the ego's travel to the overlap; the pedestrian does not move
    # stop short of it: v^2 / (2 gap) = 100 / 35; braking 0.05 s later, the gap is 0.5 m shorter
    assert c.required_decel_m_s2(0.0)[0] == pytest.approx(100 / 35)
    assert c.required_decel_m_s2(0.05)[0] == pytest.approx(100 / 34)


def test_a_pedestrian_walking_toward_the_lane_is_a_conflict_before_it_is_in_the_lane():
    # from 4 m right at 1.5 m/s: across reaches 1.23 + 0.3 = 1.53 at t = 1.647 s; along 20.8 - 10 t < 3.6
    # from t = 1.72 s on: first overlap at the sample 1.75 s, when it is still 1.375 m right of our centre
    walking = users((20.0, -4.0, 0.0, 1.5, PED))
    c = predict_conflicts(walking, EgoPath(10.0, 0.0))
    assert c.time_s[0] == pytest.approx(1.75)
    standing = users((20.0, -4.0, 0.0, 0.0, PED), (20.0, -4.0, 0.0, -1.5, PED))  # at the kerb; walking away
    assert np.all(np.isinf(predict_conflicts(standing, EgoPath(10.0, 0.0)).time_s))


def test_parked_car_and_next_lane_car_are_no_conflict():
    # across 2.6 m and 3.5 m: both beyond 1.23 + 0.95 = 2.18 m; a car in our lane at the same place is one
    side = users((12.0, -2.6, 0.0, 0.0, CAR), (15.0, 3.5, 8.0, 0.0, CAR))
    assert np.all(np.isinf(predict_conflicts(side, EgoPath(10.0, 0.0)).time_s))
    assert np.isfinite(predict_conflicts(users((12.0, -1.5, 0.0, 0.0, CAR)), EgoPath(10.0, 0.0)).time_s[0])


def test_a_slower_car_ahead_and_one_braking_to_a_stop():
    # 5 m/s ahead, centre 15 m: 15.8 - 5 t < 3.3 + 2.3 = 5.6 from t = 2.04 s: sample 2.05 s, gap (10 - 5) 2.05 m.
    # matching its speed: (10 - 5)^2 / (2 x 10.25)
    slow = predict_conflicts(users((15.0, 0.0, 5.0, 0.0, CAR)), EgoPath(10.0, 0.0))
    assert slow.time_s[0] == pytest.approx(2.05) and slow.gap_m[0] == pytest.approx(10.25)
    assert slow.required_decel_m_s2(0.0)[0] == pytest.approx(25 / 20.5)
    # at our 10 m/s but braking at 6 m/s^2: it stops after 1.667 s and 8.333 m; 24.133 - 10 t < 5.6 from
    # t = 1.853 s: sample 1.9 s; gap 19 - 8.333. It stops first, so we must stop within gap + its 8.333 m
    braking = predict_conflicts(users((15.0, 0.0, 10.0, 0.0, CAR, 0.0, 6.0)), EgoPath(10.0, 0.0))
    assert braking.time_s[0] == pytest.approx(1.9)
    assert braking.gap_m[0] == pytest.approx(19.0 - 100 / 12, abs=0.01)  # the trapezoid's stop, within 1 cm
    assert braking.required_decel_m_s2(0.0)[0] == pytest.approx(100 / (2 * 19.0), abs=0.01)
    # at constant speed it would never be a conflict
    assert np.isinf(predict_conflicts(users((15.0, 0.0, 10.0, 0.0, CAR)), EgoPath(10.0, 0.0)).time_s[0])


def test_required_decel_follows_a_leader_that_does_not_stop_first():
    # Kiefer's second case: the leader (8 m/s, braking at 1 m/s^2) is still moving when our speeds match:
    # a = a_lead + (v - v_lead)^2 / (2 gap) = 1 + 16 / 20; matched after 2 gap / 4 = 5 s < 8 s of its braking
    c = Conflicts(np.array([1.0]), np.array([10.0]), 12.0, np.array([8.0]), np.array([1.0]))
    assert c.required_decel_m_s2(0.0)[0] == pytest.approx(1.8)
    gone = Conflicts(np.array([np.inf]), np.array([np.inf]), 12.0, np.array([0.0]), np.array([0.0]))
    assert gone.required_decel_m_s2(0.05)[0] == 0.0
    late = Conflicts(np.array([0.0]), np.array([0.0]), 12.0, np.array([0.0]), np.array([0.0]))
    assert np.isinf(late.required_decel_m_s2(0.05)[0])  # already overlapping: too late for any brake


def test_a_car_closing_from_behind_is_not_ours_to_brake_for():
    c = predict_conflicts(users((-12.0, 0.0, 15.0, 0.0, CAR)), EgoPath(10.0, 0.0))
    assert np.isinf(c.time_s[0])


def test_constant_turn_rate_bends_a_path_into_ours():
    # a car 5 m left, coming toward us (-5 m/s): straight on, it passes 5 m to the side (beyond 2.18 m);
    # turning left at 0.5 rad/s (a 10 m radius about (10, -5)) it sweeps across our front:
    # after t = 1.2 s it is at (10 - 10 sin 0.6, -5 + 10 cos 0.6) = (4.35, 3.25)
    straight = predict_conflicts(users((10.0, 5.0, -5.0, 0.0, CAR)), EgoPath(0.0, 0.0))
    turning = predict_conflicts(users((10.0, 5.0, -5.0, 0.0, CAR, 0.5, 0.0)), EgoPath(0.0, 0.0))
    assert np.isinf(straight.time_s[0])
    assert 0.5 < turning.time_s[0] < 2.0


def test_the_ego_path_follows_a_curve():
    # a pedestrian standing 6 m left at 20 m is off a straight path, on a left curve of radius 33 m
    # (y = x^2 / 2R = 21^2 / 66 = 6.7 m at the ego's centre's 21 m of travel)
    ped = users((20.0, 6.0, 0.0, 0.0, PED))
    assert np.isinf(predict_conflicts(ped, EgoPath(10.0, 0.0)).time_s[0])
    assert np.isfinite(predict_conflicts(ped, EgoPath(10.0, 1 / 33)).time_s[0])
