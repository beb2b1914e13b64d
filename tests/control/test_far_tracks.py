"""Far road users judged by their track's places (control.far_tracks): a car parked beyond the sure range whose
range jumps by metres frame to frame is told standing within a few seconds, one coming on is not, and the driver at
a permitted left goes once the parked car is told standing (validation route 800005 stood 7 minutes there)."""

import dataclasses

import numpy as np
import pytest

from common.vocab import CAMERA_MOUNT
from control.far_tracks import WINDOW_S, FarTracks
from control.features import EgoMeasurements, encode
from control.overtake import Users
from control.policies import RuleBasedPolicy
from control.route_features import N_WAYPOINTS, RouteGuidance, encode_route
from perception.types import Detections, LaneEstimate, PerceptionFrame

DT_S = 0.05
SURE_RANGE_M = 35.0  # the models' frames at the simulator's camera
JUMP_M = 12.0  # the models' range jumps beyond it: a car parked 67 m ahead read 58-92 m (route 800005) [m]


def _far(x, y=11.0, track_id=7) -> Users:
    return Users(np.array([x], float), np.array([y], float), np.zeros(1), np.zeros(1), np.full(1, 4.8),
                 np.full(1, 2.0), np.ones(1, bool), SURE_RANGE_M, None, np.array([track_id]))


def _readings(true_x_m, steps: int, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    return [true_x_m(k) + rng.uniform(-JUMP_M, JUMP_M) for k in range(steps)]


def test_a_parked_car_whose_range_jumps_is_told_standing_after_the_window():
    far = FarTracks(DT_S)
    told = []
    for x in _readings(lambda k: 78.0, int(2 * WINDOW_S / DT_S)):
        far.update(_far(x), 0.0)
        told.append(bool(far.standing(_far(x))[0]))
    first = told.index(True)
    assert (first + 1) * DT_S == pytest.approx(WINDOW_S + DT_S, abs=DT_S + 1e-9) and all(told[first:])


@pytest.mark.parametrize("seed", range(5))
def test_a_car_coming_on_is_never_told_standing(seed):
    """At 30 km/h from 100 m, with the same jumps: its line through the places closes at about its speed."""
    far = FarTracks(DT_S)
    for x in _readings(lambda k: 100.0 - 8.3 * k * DT_S, int(6.0 / DT_S), seed):
        far.update(_far(x), 0.0)
        assert not far.standing(_far(x))[0]
    assert far.closing_m_s(7) == pytest.approx(8.3, abs=2.0)


def test_places_are_over_the_ground_while_the_car_drives():
    """Driving at 8 m/s toward a parked car, its range shrinks at 8 m/s: it still stands."""
    far = FarTracks(DT_S)
    for k, x in enumerate(_readings(lambda k: 90.0 - 8.0 * k * DT_S, int(3.0 / DT_S))):
        far.update(_far(x), 8.0)
    assert far.closing_m_s(7) == pytest.approx(0.0, abs=1.5) and far.standing(_far(60.0))[0]


def test_near_untracked_or_label_road_users_keep_no_places():
    far = FarTracks(DT_S)
    for _ in range(100):
        far.update(_far(30.0), 0.0)  # within the sure range
        far.update(_far(78.0, track_id=-1), 0.0)  # untracked
        far.update(dataclasses.replace(_far(78.0, track_id=9), sure_range_m=np.inf), 0.0)  # the labels: all sure
    assert far.closing_m_s(7) is None and far.closing_m_s(-1) is None and far.closing_m_s(9) is None


# --- the driver at a permitted left ------------------------------------------------------------------------

TURN_RADIUS_M = 12.0


def _left() -> RouteGuidance:
    """A permitted left from the line (0.9 m ahead of the bumper): a quarter circle, then the cross street."""
    s = 5.0 * np.arange(1, N_WAYPOINTS + 1)
    t = np.minimum(s, np.pi / 2 * TURN_RADIUS_M) / TURN_RADIUS_M
    beyond = np.maximum(s - np.pi / 2 * TURN_RADIUS_M, 0.0)
    wp = np.stack([TURN_RADIUS_M * np.sin(t), TURN_RADIUS_M * (1 - np.cos(t)) + beyond], 1)
    return RouteGuidance("left", 0.9 + 4.5, wp, junction_xy_m=(8.0, 6.0), junction_radius_m=10.0, left_must_yield=True)


def _step(policy: RuleBasedPolicy, x_m: float, vx_rel_m_s: float) -> float:
    """One step of the driver standing at the line, one far car read at ``x_m`` (its nearest point, ego centre
    frame) 11 m left, with the relative speed the models' fit gave; the accel it asks for."""
    pos = np.array([[x_m - CAMERA_MOUNT.forward_m, 11.0]], np.float32)
    dets = Detections(np.zeros((1, 4), np.float32), np.ones(1, np.float32), np.zeros(1, np.int64), np.array([7]),
                      np.hypot(pos[:, 0], pos[:, 1]).astype(np.float32), pos, np.array([[vx_rel_m_s, 0.0]], np.float32))
    frame = PerceptionFrame(0, 0.0, "t", (160, 320), dets, LaneEstimate(0.0, 0.0, 0.0, 3.5, 1.0), "green", 0.9,
                            sure_range_m=SURE_RANGE_M)
    obs = np.concatenate([encode(frame, EgoMeasurements(0.0, 0.0, 13.9, 0.0, 0.0)), encode_route(_left())])
    return float(policy.act(obs, frame)[1])


def test_the_driver_goes_once_the_far_parked_car_is_told_standing():
    """Its speed reads anywhere from -10 to +30 m/s: the worst case holds the car only until its places have
    spanned the window (and the standing start's wait is over), not through the green."""
    policy = RuleBasedPolicy()
    policy.reset()
    rng = np.random.default_rng(1)
    accel = [_step(policy, x, rng.uniform(-10.0, 30.0)) for x in _readings(lambda k: 78.0, int(8.0 / DT_S))]
    assert max(accel[:int(WINDOW_S / DT_S) - 1]) <= 0.0 and accel[-1] > 0.1


def test_the_driver_waits_for_a_far_car_coming_on():
    policy = RuleBasedPolicy()
    policy.reset()
    rng = np.random.default_rng(2)
    xs = _readings(lambda k: 110.0 - 13.9 * k * DT_S, int(5.0 / DT_S))  # still beyond the sure range at the end
    accel = [_step(policy, x, rng.uniform(-10.0, 30.0)) for x in xs]
    assert max(accel) <= 0.0
