"""The safety supervisor's AEB: in time for a crossing pedestrian (Suite-v0, labels), quiet for road users
that will not cross, no full brake for a phantom.

The synthetic cases drive a point-mass ego straight down a lane past scripted road users, building each
frame's ``PerceptionFrame`` (track ids, positions, relative velocities; boxes and depth where a case
needs them) and the feature vector from it, as ``PerceptionObservation`` does.
"""

import gymnasium as gym
import numpy as np
import pytest

import sim  # noqa: F401  (registers drivestack/Suite-v0)
from common.vocab import MAX_ACCEL_M_S2, MAX_BRAKE_M_S2, PEDESTRIAN_CLASS
from control.evaluate import run_episode
from control.features import EgoMeasurements, encode
from control.observation import PerceptionObservation
from control.policies import HoldSpeedPolicy, Policy
from control.supervisor import SafetySupervisor
from perception.types import Detections, LaneEstimate, PerceptionFrame

DT_S = 0.05
CAR = 0


class _Coast(Policy):
    """Holds its speed (accel 0, no drag in the simulator's car) and its wheel: the AEB alone must act."""

    name = "coast"

    def _act(self, obs):
        return np.zeros(2, np.float32)


def _suite_run(scenario: str, kmh: float, supervised: bool) -> dict:
    env = PerceptionObservation(gym.make("drivestack/Suite-v0", scenario=scenario, params={"ego_kmh": kmh},
                                         render_camera=False))
    policy = SafetySupervisor(HoldSpeedPolicy()) if supervised else HoldSpeedPolicy()
    last = {}
    m, _ = run_episode(env, policy, 0, on_step=lambda obs, action, info: last.update(info))
    env.close()
    return {**last["suite"], **m}


def test_supervisor_brakes_in_time_for_a_near_side_pedestrian_at_40_kmh():
    """CPNA-25 at 40 km/h from labels, a driver who holds the speed: without the supervisor the car hits the
    adult; with it, no collision at all, after a warning and the brake stages."""
    alone = _suite_run("CPNA-25", 40, supervised=False)
    assert alone["collision"] == "target" and alone["impact_speed_kmh"] > 35
    out = _suite_run("CPNA-25", 40, supervised=True)
    assert out["passed"] and out["collision"] is None
    assert out["warnings"] >= 1 and out["partial_brakes"] >= 1


def _drive(users, speed_m_s: float, steps: int, sup: SafetySupervisor, frame_of=None) -> tuple[list[float], bool]:
    """users: rows (track id, class, x, y, vx, vy) over the ground at t = 0 in the ego frame (x forward,
    y left from the camera's foot); the ego drives straight at ``speed_m_s`` under the supervisor's accel.
    ``frame_of(k, detections)`` may replace step k's frame. Returns the ego's speed at each step and whether
    it hit anyone (a road user's centre inside the ego's body grown by 0.3 m, the pedestrians' half size)."""
    x_ego, v, speeds, hit = 0.0, speed_m_s, [], False
    for k in range(steps):
        t = k * DT_S
        rows = [(tid, c, x + vx * t - x_ego, y + vy * t, vx - v, vy) for tid, c, x, y, vx, vy in users]
        hit |= any(abs(r[2] + 0.8) < 2.6 and abs(r[3]) < 1.23 for r in rows)  # the ego's centre is 0.8 m behind
        rows = [r for r in rows if r[2] > 0.5]  # in front of the camera
        n = len(rows)
        pos = np.array([[r[2], r[3]] for r in rows], np.float32).reshape(n, 2)
        dets = Detections(np.full((n, 4), np.nan, np.float32), np.ones(n, np.float32),
                          np.array([r[1] for r in rows], np.int64), np.array([r[0] for r in rows], np.int64),
                          np.hypot(pos[:, 0], pos[:, 1]).astype(np.float32), pos,
                          np.array([[r[4], r[5]] for r in rows], np.float32).reshape(n, 2))
        pf = PerceptionFrame(k, t, "test", (160, 320), dets, LaneEstimate(0.0, 0.0, 0.0, 3.5, 1.0))
        if frame_of is not None:
            pf = frame_of(k, pf)
        action = sup.act(encode(pf, EgoMeasurements(v, 0.0, 13.9, 0.0, 0.0)), pf)
        a = float(action[1]) * (MAX_BRAKE_M_S2 if action[1] < 0 else MAX_ACCEL_M_S2)
        v = max(v + a * DT_S, 0.0)
        x_ego += v * DT_S
        speeds.append(v)
    return speeds, hit


def test_quiet_for_road_users_that_will_not_cross():
    """40 km/h for 3.5 s past a pedestrian waiting at the kerb, a parked car, a car in the next lane going
    our way and an oncoming one in its own lane: not a warning, not a brake."""
    sup = SafetySupervisor(_Coast())
    users = [(1, PEDESTRIAN_CLASS, 30.0, -2.3, 0.0, 0.0),  # on the sidewalk, 0.55 m behind the kerb (lane 3.5 m)
             (2, CAR, 20.0, -2.7, 0.0, 0.0),  # parked along the kerb
             (3, CAR, 15.0, 3.5, 9.0, 0.0),  # the next lane, our way, a little slower
             (4, CAR, 70.0, 3.5, -11.0, 0.0)]  # oncoming, in its lane
    speeds, hit = _drive(users, 11.1, 70, sup)
    assert not hit and sup.interventions == [] and sup.activations == {"warning": 0, "partial": 0, "full": 0}
    assert min(speeds) == pytest.approx(11.1)


def test_brakes_for_a_pedestrian_walking_toward_the_lane_before_it_is_in_it():
    sup = SafetySupervisor(_Coast())
    # 4.5 m right of our path at 30 m, walking toward it at 1.4 m/s: the lane's edge (1.75 m right) in 1.96 s
    speeds, hit = _drive([(1, PEDESTRIAN_CLASS, 30.0, -4.5, 0.0, 1.4)], 11.1, 80, sup)
    first_brake = next(i.step for i in sup.interventions if i.stage in ("partial", "full"))
    assert -4.5 + 1.4 * first_brake * DT_S < -1.75  # braking while it is still on the sidewalk
    assert not hit and min(speeds) < 5.0  # it walks through our path while we slow down; then we go on
    assert sup.activations["full"] == 0  # early enough for the partial brake to do


def test_a_one_frame_phantom_gives_no_full_brake():
    """A pedestrian reported 8 m ahead on one frame only (a pole taken for one): at most a warning."""
    sup = SafetySupervisor(_Coast())

    def phantom(k, pf):
        if k != 10:
            return pf
        d = Detections(np.full((1, 4), np.nan, np.float32), np.ones(1, np.float32), np.array([PEDESTRIAN_CLASS]),
                       np.array([99]), np.array([8.0], np.float32), np.array([[8.0, 0.0]], np.float32),
                       np.array([[np.nan, np.nan]], np.float32))
        return PerceptionFrame(pf.index, pf.timestamp_s, pf.source, pf.image_size, d, pf.lane)

    speeds, _ = _drive([], 11.1, 20, sup, phantom)
    assert sup.activations == {"warning": 1, "partial": 0, "full": 0}
    assert {i.stage for i in sup.interventions} == {"warning"}  # held a moment (the release's hysteresis)
    assert min(speeds) == pytest.approx(11.1)


@pytest.mark.parametrize("depth_at_box_m, full", [(8.0, True), (30.0, False)])
def test_a_full_brake_needs_the_depth_map_to_agree(depth_at_box_m, full):
    """From the models: a pedestrian box held 8 m ahead for 10 frames brakes fully only where the depth
    map shows a body at 8 m; where it shows the road 30 m on (a box on a shadow), a partial brake at most."""
    sup = SafetySupervisor(_Coast())
    depth = np.full((80, 160), 50.0, np.float32)
    depth[30:50, 75:85] = depth_at_box_m  # the box (150, 60)-(170, 100) at the image's 320 x 160, halved

    def seen(k, pf):
        x = 8.0 - 0.5 * k  # standing in our path; we close at ~10 m/s
        d = Detections(np.array([[150, 60, 170, 100]], np.float32), np.ones(1, np.float32), np.array([PEDESTRIAN_CLASS]),
                       np.array([7]), np.array([x], np.float32), np.array([[x, 0.0]], np.float32),
                       np.array([[-10.0, 0.0]], np.float32))
        return PerceptionFrame(pf.index, pf.timestamp_s, pf.source, pf.image_size, d, pf.lane, depth_m=depth)

    _drive([], 10.0, 10, sup, seen)
    assert (sup.activations["full"] > 0) == full
    assert sup.activations["partial"] == 1


def test_quiet_for_the_models_jitter_on_parked_cars():
    """Velocities as the models' tracks give them: a parked car beside the path drifting by 0.4 m/s (std, each frame afresh), and one
    45 m ahead at the kerb whose track reads 30 m/s toward us: no warning, no brake."""
    sup = SafetySupervisor(_Coast())
    rng = np.random.default_rng(0)
    jitter = rng.normal(0.0, 0.4, (60, 2, 2))

    def jittery(k, pf):
        d = pf.detections
        vel = d.velocity_m_s.copy()
        vel[:, :] += jitter[k, :len(d)]
        vel[d.track_id == 2] = (-30.0, 2.0)  # the far one's glitch
        return PerceptionFrame(pf.index, pf.timestamp_s, pf.source, pf.image_size,
                               Detections(d.xyxy, d.score, d.class_id, d.track_id, d.distance_m, d.position_m, vel), pf.lane,
                               sure_range_m=35.0)  # what the models' frames say at the simulator's camera

    _, hit = _drive([(1, CAR, 25.0, -2.7, 0.0, 0.0), (2, CAR, 70.0, -2.5, 0.0, 0.0)], 11.1, 60, sup, jittery)
    assert not hit and sup.interventions == []


def test_a_box_cut_by_the_image_edge_beside_the_path_gets_no_brake():
    """From the models: a parked car beside the bumper, its box cut by the image's right edge, placed 0.7 m
    nearer the path than it is (2.0 m right, inside the corridor's reach): a warning at most."""
    sup = SafetySupervisor(_Coast())

    def cut(k, pf):
        d = pf.detections
        boxes = np.tile(np.array([[250.0, 70.0, 320.0, 130.0]], np.float32), (len(d), 1))  # touching the right edge
        return PerceptionFrame(pf.index, pf.timestamp_s, pf.source, pf.image_size,
                               Detections(boxes, d.score, d.class_id, d.track_id, d.distance_m, d.position_m, d.velocity_m_s),
                               pf.lane)

    _drive([(1, CAR, 12.0, -2.0, 0.0, 0.0)], 5.0, 30, sup, cut)
    assert sup.activations["partial"] == 0 and sup.activations["full"] == 0


def test_a_parked_car_cut_by_the_image_bottom_that_seems_to_move_in_gets_no_brake():
    """From the models (town seed 800009): a parked car at the kerb 4-5 m ahead, its box cut by the image's
    bottom; ranged from depth as the box shrinks, its track "moves" 3 m/s towards the path: a warning at most.
    The same reading from a walker is believed (walkers do step out that near)."""
    def bottom_cut(k, pf):
        d = pf.detections
        boxes = np.tile(np.array([[230.0, 68.0, 310.0, 160.0]], np.float32), (len(d), 1))  # touching the bottom only
        moving_in = d.velocity_m_s + np.array([0.0, 3.0], np.float32)  # the track's velocity, not the car's
        return PerceptionFrame(pf.index, pf.timestamp_s, pf.source, pf.image_size,
                               Detections(boxes, d.score, d.class_id, d.track_id, d.distance_m, d.position_m, moving_in),
                               pf.lane)

    for cls, braked in ((CAR, False), (PEDESTRIAN_CLASS, True)):
        sup = SafetySupervisor(_Coast())
        _drive([(1, cls, 8.0, -2.6, 0.0, 0.0)], 5.0, 30, sup, bottom_cut)
        assert (sup.activations["partial"] + sup.activations["full"] > 0) == braked, cls


def _lost_near(steps_from_m: float):
    """frame_of for ``_drive``: every detection closer than ``steps_from_m`` is dropped (its box cut by the
    image's edge, then gone, as the models lose a walker right in front of the car)."""
    def frame_of(k, pf):
        d = pf.detections
        keep = d.position_m[:, 0] >= steps_from_m
        lost = Detections(d.xyxy[keep], d.score[keep], d.class_id[keep], d.track_id[keep], d.distance_m[keep],
                          d.position_m[keep], d.velocity_m_s[keep])
        return PerceptionFrame(pf.index, pf.timestamp_s, pf.source, pf.image_size, lost, pf.lane)
    return frame_of


def test_brakes_for_a_walker_lost_from_view_just_before_the_path():
    """CPNA-25 at 10 km/h as the models saw it: a walker 2.2 m right, 9 m ahead, walking toward the path at
    1.4 m/s, is lost from view once nearer than 5 m. The tracker carries it on at its last velocity (coasting):
    a brake comes and nobody is hit, where without it the car drove on into the walker."""
    sup = SafetySupervisor(_Coast())
    speeds, hit = _drive([(1, PEDESTRIAN_CLASS, 9.0, -2.2, 0.0, 1.4)], 2.78, 80, sup, _lost_near(5.0))
    assert not hit and min(speeds) < 1.0
    assert sup.activations["partial"] >= 1 and sup.activations["full"] == 0  # no depth map behind a coasted walker


def test_a_lost_walker_going_away_from_the_path_gives_no_brake():
    """The same walker walking away from the path (right, 1.4 m/s) and lost when near: nothing to brake for."""
    sup = SafetySupervisor(_Coast())
    speeds, hit = _drive([(1, PEDESTRIAN_CLASS, 9.0, -2.2, 0.0, -1.4)], 2.78, 80, sup, _lost_near(5.0))
    assert not hit and sup.activations["partial"] == 0 and min(speeds) == pytest.approx(2.78)


@pytest.mark.parametrize("make_driver", ["rule-based", "residual"])
def test_over_the_rule_based_driver_the_supervisor_reads_its_tracks_and_acts_as_with_its_own(make_driver, monkeypatch):
    """Over the rule-based driver (alone, or a residual's teacher) the supervisor takes the road users the driver
    tracked from this frame instead of tracking them again: every action the same as with its own tracker, and its
    own tracker never updated."""
    from control.policies import RuleBasedPolicy, load_policy
    from control.residual import ResidualPolicy

    def run(shared: bool):
        if make_driver == "rule-based":
            driver = RuleBasedPolicy()
        else:
            driver = load_policy("control/models/policy.zip", device="cpu")
            assert isinstance(driver, ResidualPolicy)
        sup = SafetySupervisor(driver)
        if not shared:
            monkeypatch.setattr(type(driver), "seen_users", property(lambda self: None))
        from control.envs import make_suite_env
        from control.features import LAYOUT_ID

        env = make_suite_env(layout=getattr(driver, "layout", None) or LAYOUT_ID)  # the residual reads the route block
        actions = []
        run_episode(env, sup, 0, on_step=lambda obs, action, info: actions.append(np.asarray(action).copy()),
                    options={"scenario": "CPNA-25", "params": {"ego_kmh": 40}})
        env.close()
        monkeypatch.undo()
        return np.array(actions), sup

    shared, sup = run(True)
    own, sup_own = run(False)
    assert sup.tracker._time_s is None and sup_own.tracker._time_s is not None  # the shared run never used its own
    assert sum(sup.activations.values()) > 0  # the supervisor braked: the tracks were read
    np.testing.assert_array_equal(shared, own)
