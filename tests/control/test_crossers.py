"""The rule-based driver yields to road users moving across its path before they reach its lane
(control.crossers): a walker stepping off the kerb ahead is a standing obstacle where it will cross, one
standing at the kerb or walking along the pavement is not; in the safety suite the driver alone (supervisor
off, exact labels) passes the crossing pedestrian and cyclist cases at 55-60 km/h, where before it only braked
once they were in the lane and hit the cyclist at 31 km/h."""

import math

import numpy as np
import pytest

from common.vocab import CAMERA_MOUNT, CYCLIST_CLASS, EGO_LENGTH_M, PEDESTRIAN_CLASS
from control.angled_bodies import lane_line
from control.crossers import CROSSING_LINE_M, crossing_gap_m
from control.features import EgoMeasurements, decode, encode
from control.policies import RuleBasedPolicy
from perception.types import Detections, LaneEstimate, PerceptionFrame

SPEED_M_S = 14.0  # about 50 km/h


def _obs(users: list[tuple[int, float, float, float, float]], speed_m_s: float = SPEED_M_S):
    """A v1 observation and its frame on a straight lane: ``users`` as (class, x, y, vx, vy), nearest point
    from the camera's foot and velocity over the ground [m, m/s]."""
    n = len(users)
    cls = np.array([u[0] for u in users], np.int64)
    pos = np.array([(u[1], u[2]) for u in users], np.float32).reshape(n, 2)
    vel = np.array([(u[3] - speed_m_s, u[4]) for u in users], np.float32).reshape(n, 2)
    dets = Detections(np.zeros((n, 4), np.float32), np.ones(n, np.float32), cls, np.arange(n, dtype=np.int64),
                      np.hypot(pos[:, 0], pos[:, 1]).astype(np.float32), pos, vel)
    frame = PerceptionFrame(0, 0.0, "t", (160, 320), dets, LaneEstimate(0.0, 0.0, 0.0, 3.5, 1.0), "none", math.inf)
    return encode(frame, EgoMeasurements(speed_m_s, 0.0, 13.9, 0.0, 0.0)), frame


def _gap(users) -> float:
    obs, _ = _obs(users)
    f = decode(obs)
    return crossing_gap_m(f, lane_line(f, CROSSING_LINE_M))


def test_a_walker_stepping_toward_the_lane_is_a_stop_where_it_will_cross():
    # 25 m ahead, 3.5 m to the right, walking left at 1.4 m/s: in the corridor within 2 s, before the car is there
    gap = _gap([(PEDESTRIAN_CLASS, 25.0, -3.5, 0.0, 1.4)])
    assert 25.0 + CAMERA_MOUNT.forward_m - EGO_LENGTH_M / 2 - 1.0 < gap < 25.0 + CAMERA_MOUNT.forward_m


@pytest.mark.parametrize("why, user", [
    ("standing at the kerb", (PEDESTRIAN_CLASS, 25.0, -3.5, 0.0, 0.0)),
    ("walking along the pavement", (PEDESTRIAN_CLASS, 25.0, -3.5, 1.4, 0.0)),
    ("walking away from the lane", (PEDESTRIAN_CLASS, 25.0, -3.5, 0.0, -1.4)),
    ("crossing far beyond where the car will be in 2 s", (CYCLIST_CLASS, 60.0, -4.0, 0.0, 4.2)),
])
def test_a_road_user_that_will_not_be_in_the_way_is_no_stop(why, user):
    assert _gap([user]) == math.inf, why


def test_the_driver_brakes_for_a_crossing_cyclist_before_it_reaches_the_lane():
    # a cyclist 30 m ahead, 6 m to the right, riding across at 15 km/h: not in the lane, but it will be
    crossing = [(CYCLIST_CLASS, 30.0, -6.0, 0.0, 4.2)]
    standing = [(CYCLIST_CLASS, 30.0, -6.0, 0.0, 0.0)]
    accel = {}
    for name, users in (("crossing", crossing), ("standing", standing), ("none", [])):
        policy = RuleBasedPolicy()
        obs, frame = _obs(users)
        accel[name] = float(policy.act(obs, frame)[1])
    assert accel["crossing"] < -0.5 and accel["standing"] == accel["none"] > -0.1


@pytest.mark.parametrize("scenario", ["CPNA-25", "CBNA-50"])
@pytest.mark.parametrize("ego_kmh", [55.0, 60.0])
def test_the_driver_alone_passes_the_crossing_cases(scenario, ego_kmh):
    from control.evaluate import SUITE, row_objects
    from control.suite_eval import SuiteCase, run_case

    env, policy = row_objects("rule-based/labels", SUITE, 0.0, None, None, False, "cpu")
    record = run_case(env, policy, SuiteCase(scenario, (("ego_kmh", ego_kmh),), 0))
    assert record["passed"] and record["collision"] is None, record
