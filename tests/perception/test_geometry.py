"""Geometry against hand-computed cases, and GroundTruthPerception against the simulator."""

import gymnasium as gym
import numpy as np
import pytest

import sim  # noqa: F401
from perception.geometry import CameraModel, box_ground_points, fit_lane, in_lane, lead_vehicle, time_to_collision
from perception.ground_truth import GroundTruthPerception, PerceptionNoise
from perception.types import CLASS_NAMES, NO_PIXELS, Detections, Frame, LaneEstimate

LEVEL = CameraModel(fx=100.0, fy=100.0, cx=160.0, cy=80.0, width=320, height=160, height_m=1.5, pitch_rad=0.0)


def test_level_camera_projection_by_hand():
    # x = 10 m ahead, 2 m left: u = cx - fx * y / x, v = cy + fy * h / x
    uv, z = LEVEL.ground_to_pixel(np.array([[10.0, 2.0]]))
    assert uv[0] == pytest.approx([140.0, 95.0])
    assert z[0] == pytest.approx(10.0)
    assert LEVEL.pixel_to_ground(uv)[0] == pytest.approx([10.0, 2.0])
    assert np.isnan(LEVEL.pixel_to_ground(np.array([[160.0, 70.0]]))).all()  # above the horizon
    assert LEVEL.horizon_row() == pytest.approx(80.0)


def test_pitched_round_trip_and_scaling():
    cam = CameraModel.from_fov(320, 160, 80.0, 1.4, -3.0, forward_m=0.8)
    pts = np.array([[5.0, -1.0], [12.0, 3.0], [40.0, 0.5]])
    uv, _ = cam.ground_to_pixel(pts)
    assert cam.pixel_to_ground(uv) == pytest.approx(pts)
    big = cam.scaled(640, 320)
    uv2, _ = big.ground_to_pixel(pts)
    assert uv2 == pytest.approx(uv * 2)


def test_box_foot_distance():
    # a box whose bottom edge sits at v = 95 (10 m ahead on the level camera), centred on u = 160
    xy, d = box_ground_points(LEVEL, np.array([[150.0, 60.0, 170.0, 95.0]]))
    assert xy[0] == pytest.approx([10.0, 0.0]) and d[0] == pytest.approx(10.0)


def _mask_of_lines(cam, offset_m, width_m=3.5, curvature=0.0):
    mask = np.zeros((cam.height, cam.width), np.uint8)
    x = np.linspace(2, 40, 4000)
    for code, side in ((1, +1), (2, -1)):
        y = -offset_m + side * width_m / 2 + 0.5 * curvature * x**2
        uv, _ = cam.ground_to_pixel(np.stack([x, y], 1))
        ok = (uv[:, 0] >= 0) & (uv[:, 0] < cam.width) & (uv[:, 1] >= 0) & (uv[:, 1] < cam.height)
        mask[uv[ok, 1].astype(int), uv[ok, 0].astype(int)] = code
    return mask


@pytest.mark.parametrize("offset", [-0.6, 0.0, 0.4])
def test_fit_lane_recovers_offset_and_width(offset):
    cam = CameraModel.from_fov(320, 160, 80.0, 1.4, -3.0)
    lane = fit_lane(cam, _mask_of_lines(cam, offset))
    assert lane.offset_m == pytest.approx(offset, abs=0.08)
    assert lane.width_m == pytest.approx(3.5, abs=0.15)
    assert abs(lane.heading_error_rad) < 0.02 and lane.confidence > 0.5


def test_fit_lane_scans_exactly_the_rows_within_its_range():
    # fit_lane scans only the rows whose ground lies in LANE_FIT_RANGE_M: the same pixels as lifting every
    # marking pixel to the ground and keeping those in range, with paint beyond 35 m (a far junction) ignored
    from perception.geometry import LANE_FIT_RANGE_M, _fit_line, _fit_rows

    cam = CameraModel.from_fov(320, 160, 80.0, 1.4, -3.0)
    mask = _mask_of_lines(cam, 0.3, curvature=1 / 150)
    rows = _fit_rows(cam, cam.height)
    x_row = cam.pixel_to_ground(np.stack([np.full(cam.height, cam.cx), np.arange(cam.height) + 0.5], 1))[:, 0]
    inside = np.isfinite(x_row) & (x_row >= LANE_FIT_RANGE_M[0]) & (x_row <= LANE_FIT_RANGE_M[1])
    assert np.array_equal(np.flatnonzero(inside), np.arange(rows.start, rows.stop))
    vs, us = np.nonzero(mask == 1)
    assert len(us) <= 1500  # below the thinning, where both ways use every pixel
    xy = cam.pixel_to_ground(np.stack([us + 0.5, vs + 0.5], 1))
    ok = np.isfinite(xy[:, 0]) & (xy[:, 0] >= LANE_FIT_RANGE_M[0]) & (xy[:, 0] <= LANE_FIT_RANGE_M[1])
    left_only = np.where(mask == 1, mask, 0)
    far = left_only.copy()
    far[rows.start - 3:rows.start, 100:110] = 1  # paint beyond the range
    ref = _fit_line(xy[ok])[0]
    for m in (left_only, far):
        lane = fit_lane(cam, m)  # one line: the centre half a default lane right of it
        x0 = -cam.forward_m
        assert -lane.offset_m == pytest.approx(ref[0] + ref[1] * x0 + ref[2] * x0**2 - 3.5 / 2, abs=1e-9)


def test_fit_lane_trusts_one_line_when_the_width_is_implausible():
    # lines 1.6 m apart: not a lane; the better-fitted line alone, at the default width
    cam = CameraModel.from_fov(320, 160, 80.0, 1.4, -3.0)
    lane = fit_lane(cam, _mask_of_lines(cam, 0.0, width_m=1.6))
    assert lane.width_m == pytest.approx(3.5)
    assert abs(lane.offset_m) == pytest.approx(3.5 / 2 - 1.6 / 2, abs=0.08)
    assert 0.0 < lane.confidence <= 0.5


def test_fit_lane_sees_curvature_and_handles_nothing():
    cam = CameraModel.from_fov(320, 160, 80.0, 1.4, -3.0)
    lane = fit_lane(cam, _mask_of_lines(cam, 0.0, curvature=1 / 100))
    assert lane.curvature_1_m == pytest.approx(0.01, abs=0.004)
    empty = fit_lane(cam, np.zeros((160, 320), np.uint8))
    assert empty.confidence == 0.0 and np.isnan(empty.offset_m)


def test_ttc_and_lane_corridor():
    assert time_to_collision(20.0, 5.0) == pytest.approx(4.0)
    assert time_to_collision(20.0, -1.0) == float("inf")
    lane = LaneEstimate(0.5, 0.0, 0.0, 3.5, 1.0)  # ego 0.5 m left of centre: centre at y = -0.5
    inside = in_lane(np.array([[10.0, -0.5], [10.0, 1.4], [10.0, -2.0], [-3.0, -0.5]]), lane)
    assert inside.tolist() == [True, False, True, False]


def test_ground_truth_perception_matches_labels_and_noise_is_seeded():
    env = gym.make("drivestack/Town-v0", config={"scenario": {"route_length_m": 200}})
    obs, info = env.reset(seed=3)
    for _ in range(30):
        obs, _, _, _, info = env.step([0.0, 0.4])
    gt = info["ground_truth"]
    frame = GroundTruthPerception().process(Frame(obs["image"], 1.5, 30, "sim"), gt)
    big = [o for o in gt.objects if o.visible_px >= 10]
    assert len(frame.detections) == len(big) > 0
    assert frame.lane.offset_m == gt.ego.lane_offset_m and frame.light_state == gt.ego.light_state
    assert np.allclose(frame.detections.distance_m, [o.distance_m for o in big], rtol=1e-5)
    noisy = PerceptionNoise(miss_prob=0.3, box_jitter_px=2.0, distance_rel_std=0.1, lane_offset_std_m=0.1)
    a = GroundTruthPerception(noisy, seed=1).process(Frame(NO_PIXELS, 1.5, 30, "sim"), gt)
    b = GroundTruthPerception(noisy, seed=1).process(Frame(NO_PIXELS, 1.5, 30, "sim"), gt)
    assert np.array_equal(a.detections.xyxy, b.detections.xyxy) and a.lane == b.lane
    assert a.lane.offset_m != gt.ego.lane_offset_m


def test_overlay_draws_on_any_size():
    from perception.overlay import draw

    env = gym.make("drivestack/Highway-v0", config={"scenario": {"route_length_m": 200}})
    obs, info = env.reset(seed=1)
    for _ in range(20):
        obs, _, _, _, info = env.step([0.0, 0.3])
    cam = CameraModel.from_sim(env.unwrapped.config.camera)
    pf = GroundTruthPerception().process(Frame(obs["image"], 1.0, 20, "sim"), info["ground_truth"])
    small = draw(obs["image"], pf, cam)
    big = draw(np.zeros((720, 1280, 3), np.uint8), pf, cam)
    assert small.shape == obs["image"].shape and big.shape == (720, 1280, 3)
    assert not np.array_equal(small, obs["image"]) and big.any()


def test_lane_line_fit_survives_degenerate_and_fits_a_parabola():
    from perception.geometry import _fit_line

    x = np.linspace(3.0, 30.0, 60)
    coef, rms = _fit_line(np.stack([x, 1.6 + 0.02 * x - 0.004 * x**2], 1))
    assert coef == pytest.approx([1.6, 0.02, -0.004], abs=1e-6) and rms < 1e-6
    one_row = np.stack([np.full(20, 8.0), np.linspace(1.0, 2.0, 20)], 1)  # every pixel at one distance
    coef, rms = _fit_line(one_row)  # singular for a line in x: no exception, a finite answer
    assert np.all(np.isfinite(coef)) and np.isfinite(rms)


def test_lead_vehicle_is_the_nearest_road_user_in_the_lane_ahead():
    lane = LaneEstimate(0.0, 0.0, 0.0, 3.5, 1.0)
    car, light = CLASS_NAMES.index("car"), CLASS_NAMES.index("traffic_light_red")
    pos = np.array([[30.0, 0.5], [10.0, 4.0], [20.0, -1.0], [5.0, 0.0]], np.float32)  # the 10 m car is a lane over
    vel = np.array([[-1.0, 0.0], [-9.0, 0.0], [-4.0, 0.0], [0.0, 0.0]], np.float32)
    n = len(pos)
    dets = Detections(np.zeros((n, 4), np.float32), np.ones(n, np.float32), np.array([car, car, car, light]),
                      np.arange(n), np.hypot(pos[:, 0], pos[:, 1]), pos, vel)
    k, ttc = lead_vehicle(dets, lane)
    assert k == 2 and ttc == pytest.approx(np.hypot(20.0, 1.0) / 4.0)  # the light at 5 m is no road user
    assert lead_vehicle(dets.select(np.array([1, 3])), lane) == (-1, float("inf"))
    assert lead_vehicle(Detections.empty(), lane) == (-1, float("inf"))


def test_ground_truth_perception_needs_the_labels():
    with pytest.raises(ValueError, match="labels"):
        GroundTruthPerception().process(Frame(NO_PIXELS, 0.0, 0, "sim"))
