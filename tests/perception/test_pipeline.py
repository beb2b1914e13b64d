"""The perception pipeline and its stages: wiring, lane from the multi-task net, track velocities, lane gate, light zoom."""

import gymnasium as gym
import numpy as np
import pytest

import sim  # noqa: F401
from perception.pipeline import DEFAULT_HYDRANET, Perception
from perception.placement import TrackHistory
from perception.types import Frame, Odometry


def test_track_history_velocity():
    h = TrackHistory()
    ids = np.array([7, 9])
    v0 = h.update(0.0, ids, np.array([[20.0, 0.0], [10.0, 2.0]]))
    assert np.isnan(v0).all()  # first sighting: no velocity yet
    h.update(0.05, ids, np.array([[19.9, 0.0], [10.0, 2.05]]))
    v2 = h.update(0.10, ids, np.array([[19.8, 0.0], [10.0, 2.10]]))
    assert v2 == pytest.approx(np.array([[-2.0, 0.0], [0.0, 1.0]]))  # slope through three sightings
    v3 = h.update(0.15, np.array([9, -1]), np.array([[10.0, 2.15], [5.0, 5.0]]))
    assert v3[0] == pytest.approx([0.0, 1.0]) and np.isnan(v3[1]).all()  # untracked rows get NaN


def _seen_from_turning_car(odometry: bool, walker_v_m_s=(0.0, 0.0), speed_m_s=4.0, yaw_rate_rad_s=-0.45):
    """A walker 11 m ahead of a car turning right (4 m/s, -0.45 rad/s), walking at ``walker_v_m_s`` over the
    ground (world axes, which are the car's at t = 0): the track's velocity after 0.5 s, and the walker's
    velocity in the car's axes then less the car's speed (what the labels report)."""
    h = TrackHistory()
    x = y = psi = 0.0
    wx, wy = 11.0, 0.0
    dt = 0.05
    for k in range(11):
        t = k * dt
        if k:
            mid = psi + 0.5 * yaw_rate_rad_s * dt
            x, y, psi = x + speed_m_s * dt * np.cos(mid), y + speed_m_s * dt * np.sin(mid), psi + yaw_rate_rad_s * dt
            wx, wy = wx + walker_v_m_s[0] * dt, wy + walker_v_m_s[1] * dt
        c, s = np.cos(psi), np.sin(psi)
        seen = np.array([[c * (wx - x) + s * (wy - y), -s * (wx - x) + c * (wy - y)]])  # in the car's axes
        v = h.update(t, np.array([1]), seen, Odometry(speed_m_s, yaw_rate_rad_s) if odometry else None)
    c, s = np.cos(psi), np.sin(psi)
    truth = np.array([c * walker_v_m_s[0] + s * walker_v_m_s[1] - speed_m_s, -s * walker_v_m_s[0] + c * walker_v_m_s[1]])
    return v[0], truth


@pytest.mark.parametrize("walker_v_m_s", [(0.0, 0.0), (0.0, 1.4), (1.0, -1.0)])
def test_with_the_cars_odometry_a_turn_does_not_sweep_the_velocities(walker_v_m_s):
    v, truth = _seen_from_turning_car(True, walker_v_m_s)
    assert v == pytest.approx(truth, abs=0.05)  # as the labels give it
    swept, _ = _seen_from_turning_car(False, walker_v_m_s)
    assert swept[1] - truth[1] > 4.0  # without it: 0.45 rad/s x 11 m of sweep across (a standing walker "crossing")


def test_with_the_cars_odometry_a_leader_braking_as_hard_reads_no_closing():
    # both at 30 m/s braking at 8 m/s^2, 20 m apart: the fit over 0.5 s must take the car's speed over the same
    # readings (its speed now, 2 m/s below their mean, read the leader pulling away while both braked alike)
    h = TrackHistory()
    for k in range(11):
        t = k * 0.05
        v = h.update(t, np.array([1]), np.array([[20.0, 0.0]]), Odometry(30.0 - 8.0 * t, 0.0))
    assert v[0] == pytest.approx([0.0, 0.0], abs=0.05)


def test_track_velocity_averages_out_distance_jitter_and_drops_jumps():
    rng = np.random.default_rng(0)
    h = TrackHistory()
    t = np.arange(20) * 0.05
    true = 30.0 - 5.0 * t  # closing at 5 m/s, +-3 % range jitter per frame
    for k in range(20):
        v = h.update(float(t[k]), np.array([1]), np.array([[true[k] * (1 + rng.normal(0, 0.03)), 0.0]]))
    assert abs(v[0, 0] + 5.0) < 3.0  # a one-frame difference would be off by ~25 m/s
    jumped = h.update(1.0, np.array([1]), np.array([[80.0, 0.0]]))  # the track jumped to a far object
    assert np.isnan(jumped).all()


def test_pipeline_lane_from_the_shipped_network():
    from perception.hydranet import HydraNet

    perception = Perception(None, HydraNet.load(DEFAULT_HYDRANET, device="cpu"))
    env = gym.make("drivestack/Highway-v0", config={"scenario": {"route_length_m": 200}})
    obs, info = env.reset(seed=10_011)
    errors = []
    for step in range(30):
        obs, _, _, _, info = env.step([0.02 * np.sin(step / 4), 0.2])
        if step % 10 == 9:
            pf = perception.process(Frame(obs["image"], step * 0.05, step, "sim"))
            assert set(pf.timings_ms) == {"detector", "multitask", "geometry", "total"}
            assert pf.drivable.shape == obs["image"].shape[:2] and len(pf.detections) == 0
            errors.append(abs(pf.lane.offset_m - info["ground_truth"].ego.lane_offset_m))
    assert np.median(errors) < 0.1


class _CountingDetector:
    """One car ahead whose box foot moves down the image (it comes closer); counts its calls."""

    def __init__(self):
        self.calls = 0

    def track(self, image):
        from perception.types import Detections

        self.calls += 1
        foot = 100.0 + 2.0 * self.calls
        n = np.full((1,), np.nan, np.float32)
        return Detections(np.array([[150.0, foot - 20.0, 170.0, foot]], np.float32), np.array([0.9], np.float32),
                          np.array([0]), np.array([1]), n, np.full((1, 2), np.nan, np.float32), np.full((1, 2), np.nan, np.float32))

    detect = track

    def reset_tracker(self):
        pass


def test_interleave_runs_one_network_per_frame_and_predicts_objects_between():
    from perception.hydranet import HydraNet

    hyd = HydraNet.load(DEFAULT_HYDRANET, device="cpu")
    real_predict, hyd_calls = hyd.predict, []
    hyd.predict = lambda img: (hyd_calls.append(1), real_predict(img))[1]
    det = _CountingDetector()
    perception = Perception(det, hyd, interleave=True, light_zoom=False)
    image = np.full((160, 320, 3), 90, np.uint8)
    frames, ran = [], []
    for k in range(9):
        before = (det.calls, len(hyd_calls))
        frames.append(perception.process(Frame(image, 0.05 * k, k, "test")))
        ran.append((det.calls - before[0], len(hyd_calls) - before[1]))
    # both on the first frame, then one network per frame, in turns
    assert ran == [(1, 1)] + [(1, 0), (0, 1)] * 4
    # on a frame without the detector the car is where its fitted velocity puts it, not where it was
    last, carried = frames[7].detections, frames[8].detections
    assert np.isfinite(last.velocity_m_s[0]).all() and last.velocity_m_s[0, 0] < 0  # closing in
    expected = last.position_m[0] + 0.05 * last.velocity_m_s[0]
    assert carried.position_m[0] == pytest.approx(expected, abs=1e-4)
    assert carried.distance_m[0] == pytest.approx(np.hypot(*expected), abs=1e-4)
    assert frames[7].drivable is frames[6].drivable  # dense outputs reused on a detector frame
    perception.reset()
    perception.process(Frame(image, 0.0, 0, "test"))
    assert det.calls == 6 and len(hyd_calls) == 6  # after a reset both run again


def test_zoomed_lights_come_back_in_image_pixels_and_only_lights():
    from perception.light_selection import LIGHT_ZOOM_REGION, zoomed_lights as _zoomed_lights
    from perception.types import CLASS_NAMES, Detections

    class CropDetector:
        def detect(self, image):
            self.shape = image.shape
            n = np.full(2, np.nan, np.float32)
            return Detections(np.array([[10, 5, 14, 15], [30, 30, 60, 50]], np.float32), np.array([0.6, 0.9], np.float32),
                              np.array([CLASS_NAMES.index("traffic_light_red"), CLASS_NAMES.index("car")]),
                              np.array([-1, -1]), n, np.full((2, 2), np.nan, np.float32), np.full((2, 2), np.nan, np.float32))

    det = CropDetector()
    lights = _zoomed_lights(det, np.zeros((160, 320, 3), np.uint8))
    (fx0, fy0), (fx1, fy1) = LIGHT_ZOOM_REGION
    assert det.shape == (int(fy1 * 160) - int(fy0 * 160), int(fx1 * 320) - int(fx0 * 320), 3)  # the crop, not the frame
    assert len(lights) == 1 and lights.names() == ["traffic_light_red"]  # the car is dropped
    assert lights.xyxy[0].tolist() == [10 + fx0 * 320, 5 + fy0 * 160, 14 + fx0 * 320, 15 + fy0 * 160]


def test_a_car_cut_by_the_image_side_is_placed_by_its_body_not_by_its_box():
    """A parked car beside the ego, its box cut by the right edge and (as detector boxes of cut cars
    are) 25 px too wide toward the middle: placed from the depth of its body pixels, it stays out of
    the ego's path; placed by the box's inner edge, it came to lie in it."""
    from control.envs import make_env
    from control.features import EGO_HALF_WIDTH_M, PATH_MARGIN_M
    from control.policies import RuleBasedPolicy
    from perception.geometry import box_ground_points
    from perception.pipeline import CameraSetup
    from perception.placement import side_cut_lateral
    from perception.types import NOMINAL_SIZE_M, Detections

    env = make_env("town", 300.0, render_camera=True)
    policy = RuleBasedPolicy()
    obs, info = env.reset(seed=900004)
    for _ in range(80):  # town seed 900004: a parked car on the right beside the ego at step 80
        obs, *_, info = env.step(policy.act(obs))
    gt = info["ground_truth"]
    pf = info["perception"]
    d = pf.detections
    k = int(np.argmax((d.xyxy[:, 2] >= 319) & (d.class_id == 0) & (d.position_m[:, 0] < 4)))
    true_y = float(d.position_m[k, 1])
    assert d.xyxy[k, 2] >= 319 and true_y < -2.5
    box = d.xyxy[k:k + 1].copy()
    box[0, 0] -= 25.0  # the detector's box runs onto the road
    cam = CameraSetup().model(320, 160)
    pos, dist = box_ground_points(cam, box)
    pos[0, 0] = d.position_m[k, 0]  # the foot is below the frame: ranged by the depth head in the pipeline
    one = Detections(box, np.ones(1, np.float32), np.zeros(1, np.int64), np.zeros(1, np.int64), dist.astype(np.float32),
                     pos.astype(np.float32), np.full((1, 2), np.nan, np.float32))
    placed = side_cut_lateral(one, cam, pos, gt.depth_m)
    corridor = EGO_HALF_WIDTH_M + NOMINAL_SIZE_M[0][1] / 2 + PATH_MARGIN_M
    assert placed[0, 1] == pytest.approx(true_y, abs=0.5) and abs(placed[0, 1]) > corridor


def _placed_box(x_m, y_m, depth_m, class_id=0):
    """(box-middle lateral, placed lateral) [m] of a lined-up vehicle box of nominal size centred at (x_m, y_m),
    projected by the simulator's camera, with a depth map reading ``depth_m`` everywhere."""
    from perception.geometry import box_ground_points
    from perception.pipeline import CameraSetup
    from perception.placement import ground_positions
    from perception.types import NOMINAL_SIZE_M, Detections

    cam = CameraSetup().model(320, 160)
    length, width = NOMINAL_SIZE_M[class_id]
    corners = np.array([(x_m + sx * length / 2, y_m + sy * width / 2, z) for sx in (-1, 1) for sy in (-1, 1)
                        for z in (0.0, 1.5)])
    uv, _ = cam.point_to_pixel(corners)
    box = np.array([[uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()]])
    assert 1.0 < box[0, 0] and box[0, 2] < cam.width - 1.0 and box[0, 3] < cam.height - 1.0  # not cut
    pos, dist = box_ground_points(cam, box)
    one = Detections(box, np.ones(1, np.float32), np.full(1, class_id, np.int64), np.zeros(1, np.int64),
                     dist.astype(np.float32), pos.astype(np.float32), np.full((1, 2), np.nan, np.float32))
    depth = None if depth_m is None else np.full((80, 160), depth_m, np.float32)
    return pos[0, 1], ground_positions(one, cam, depth)[0][0, 1]


@pytest.mark.parametrize("centre", [(9.0, -2.9), (14.0, -3.0), (14.0, 6.4)])
def test_a_car_seen_at_an_angle_beside_the_path_is_placed_by_its_near_side(centre):
    """A car parked at the kerb a few metres ahead shows its near side and its rear: its box's middle column,
    ranged at its near end, lies inside its body (town route 800025 from the models: a car 2.9 m right read
    1.7 m right, inside the corridor, and the car stood behind it to the time limit; its box ended 0.1 px short
    of the image's edge). Placed by its near side, it is where it stands; a car ahead in the lane stays where
    its box puts it."""
    from control.features import EGO_HALF_WIDTH_M, PATH_MARGIN_M
    from perception.types import NOMINAL_SIZE_M

    far_end_m = centre[0] + 2.0  # what the depth head reads at the box's inner edge: the near side's far end
    by_box, by_side = _placed_box(*centre, far_end_m)
    corridor = EGO_HALF_WIDTH_M + NOMINAL_SIZE_M[0][1] / 2 + PATH_MARGIN_M
    assert by_side == pytest.approx(centre[1], abs=0.05) and abs(by_side) > corridor
    assert abs(by_box - centre[1]) > 0.25  # the box's middle: inside the body
    assert _placed_box(12.0, -0.6, 14.0)[1] == _placed_box(12.0, -0.6, 14.0)[0]  # across the middle: its middle


def test_a_vehicle_the_depth_reads_end_on_keeps_its_box_middle_and_a_move_is_capped():
    """Where the depth head reads the box's inner edge at the near end (a vehicle crossing our path shows its near
    end there) the lined-up geometry does not apply (800031: a truck crossing 3 m ahead was read 12 m left and
    driven into); without depth nothing moves; a truck's move is capped (``BESIDE_MAX_SHIFT_M``)."""
    from perception.placement import BESIDE_MAX_SHIFT_M

    by_box, by_side = _placed_box(9.0, -2.9, 7.0)  # inner edge read at the near end
    assert by_side == by_box
    assert _placed_box(9.0, -2.9, None)[1] == by_box
    by_box, by_side = _placed_box(16.0, -3.6, 30.0, class_id=1)  # a truck, lined up
    assert 0.0 < by_box - by_side <= BESIDE_MAX_SHIFT_M + 1e-6


def test_zoomed_light_pass_runs_by_time_only_while_no_light_is_seen():
    from perception.light_selection import LIGHT_ZOOM_PERIOD_S
    from perception.types import Detections

    class _NoLights:  # a detector that finds nothing and counts its zoomed calls
        zoomed = 0

        def track(self, image):
            return Detections.empty()

        def detect(self, image):
            _NoLights.zoomed += 1
            return Detections.empty()

    stack = Perception(_NoLights(), None)
    img = np.zeros((160, 320, 3), np.uint8)
    for i in range(20):  # 20 Hz: one zoomed pass per LIGHT_ZOOM_PERIOD_S
        stack.process(Frame(img, i * 0.05, i, "t"))
    assert _NoLights.zoomed == int(round(20 * 0.05 / LIGHT_ZOOM_PERIOD_S))
    _NoLights.zoomed = 0
    for i in range(5):  # sparse frames (an evaluation every 8 steps): each gets its own pass
        stack.process(Frame(img, 10.0 + i * 0.4, i, "t"))
    assert _NoLights.zoomed == 5


def test_a_one_frame_jump_of_the_lane_is_held_back_and_a_lasting_one_accepted():
    from perception.ego_lane import LANE_JUMP_FRAMES, EgoLaneTracker
    from perception.types import LaneEstimate

    gate = EgoLaneTracker().gate
    lane = lambda offset, heading=0.0: LaneEstimate(offset, heading, 0.0, 3.4, 0.8)  # noqa: E731
    assert gate(lane(0.05)).offset_m == 0.05
    assert gate(lane(2.95, -0.2)).offset_m == 0.05  # locked onto the wrong paint for a frame
    assert gate(lane(0.08)).offset_m == 0.08  # and back
    assert gate(lane(0.1, 0.4)).offset_m == 0.08  # a heading jump counts too
    gate(lane(0.1))
    crossed = [gate(lane(-1.6)).offset_m for _ in range(LANE_JUMP_FRAMES)]  # now in the next lane
    assert crossed[:-1] == [0.1] * (LANE_JUMP_FRAMES - 1) and crossed[-1] == -1.6
    assert np.isnan(gate(LaneEstimate.unknown()).offset_m)  # unknown passes through


def test_frames_from_the_models_say_how_far_a_speed_can_be_told():
    """``PerceptionFrame.sure_range_m``: 35 m at the simulator's 320 x 160 camera (a box's foot 7.6 rows below
    the horizon), farther at a finer image, inf from the labels; it survives the JSON lines of a recording."""
    from perception.geometry import CameraModel
    from perception.placement import sure_range_m
    from perception.types import perception_frame_from_json, perception_frame_json
    from sim.config import CameraConfig

    cam = CameraModel.from_sim(CameraConfig())
    assert sure_range_m(cam) == pytest.approx(35.0, abs=0.5)
    assert sure_range_m(cam.scaled(1280, 640)) == pytest.approx(4 * sure_range_m(cam))
    perception = Perception(_CountingDetector(), None)
    pf = perception.process(Frame(np.zeros((160, 320, 3), np.uint8), 0.0, 0, "sim"))
    assert pf.sure_range_m == pytest.approx(sure_range_m(cam))
    assert perception_frame_from_json(perception_frame_json(pf)).sure_range_m == pf.sure_range_m
    assert perception_frame_from_json({**perception_frame_json(pf), "sure_range_m": None}).sure_range_m == np.inf
