"""Labels agree with the pixels and with the world."""

import gymnasium as gym
import numpy as np
import pytest

import sim  # noqa: F401  (registers the ids)
from sim.labels import CLASS_NAMES, LANE_EGO_LEFT, LANE_EGO_RIGHT
from sim.raster import instance_boxes


def _env(kind="Town", **kw):
    return gym.make(f"drivestack/{kind}-v0", config={"scenario": {"route_length_m": 300, **kw}})


@pytest.mark.parametrize("kind", ["Town", "Highway"])
def test_boxes_cover_their_instance_pixels(kind):
    env = _env(kind)
    obs, info = env.reset(seed=5)
    seen = 0
    for _ in range(40):
        obs, _, term, trunc, info = env.step([0.0, 0.3])
        gt = info["ground_truth"]
        for ob in gt.objects:
            ys, xs = np.nonzero(gt.instance == ob.instance_id)
            assert len(xs) == ob.visible_px > 0
            x0, y0, x1, y1 = ob.box_xyxy
            assert xs.min() == x0 and xs.max() == x1 - 1 and ys.min() == y0 and ys.max() == y1 - 1
            assert 0.0 < ob.visible_fraction <= 1.0
            assert ob.class_name == CLASS_NAMES[ob.class_id]
            seen += 1
        if term or trunc:
            break
    assert seen > 20


def test_instance_boxes_matches_bruteforce():
    rng = np.random.default_rng(0)
    inst = rng.integers(0, 6, (32, 48)).astype(np.int32)
    boxes, counts = instance_boxes(inst, 6)
    for i in range(1, 6):
        ys, xs = np.nonzero(inst == i)
        assert counts[i] == len(xs)
        assert tuple(boxes[i]) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)


def test_drivable_mask_covers_road_under_the_ego():
    env = _env("Highway")
    obs, info = env.reset(seed=1)
    gt = info["ground_truth"]
    h, w = gt.drivable.shape
    # the patch just ahead of the bumper, bottom centre of the image, is the ego's own lane
    patch = gt.drivable[int(h * 0.85):, int(w * 0.4):int(w * 0.6)]
    assert patch.mean() > 0.95
    assert not gt.drivable[: int(h * 0.3)].any()  # sky is never drivable
    assert (gt.depth_m[: int(h * 0.2)] == 0).mean() > 0.5  # sky has no depth


def test_lane_offset_sign_and_ego_lines():
    env = _env("Highway", lanes_per_direction=2)
    env.reset(seed=2)
    world = env.unwrapped.world
    main = world.net.main
    # place the ego 0.6 m left of its lane centre, aligned with the road
    s = world.ego_s
    d = float(main.lane_centre_d(world.frenet.lane, 1)) + 0.6
    x, y, h = main.pose(s, d)
    world.ego.x_m, world.ego.y_m, world.ego.yaw_rad = float(x), float(y), float(h)
    world.frenet = world._frenet()
    obs, _, _, _, info = env.step([0.0, 0.0])
    gt = info["ground_truth"]
    assert gt.ego.lane_offset_m == pytest.approx(0.6, abs=0.15)
    left = np.nonzero(gt.lanes == LANE_EGO_LEFT)
    right = np.nonzero(gt.lanes == LANE_EGO_RIGHT)
    assert len(left[1]) > 20 and len(right[1]) > 20
    # near the bottom of the image the ego-left line is left of the ego-right line
    rows = np.arange(gt.lanes.shape[0] * 2 // 3, gt.lanes.shape[0])
    lx = [np.nonzero(gt.lanes[r] == LANE_EGO_LEFT)[0] for r in rows]
    rx = [np.nonzero(gt.lanes[r] == LANE_EGO_RIGHT)[0] for r in rows]
    pairs = [(a.mean(), b.mean()) for a, b in zip(lx, rx) if len(a) and len(b)]
    assert pairs and all(a < b for a, b in pairs)


def test_known_point_projects_where_pinhole_says():
    env = _env("Highway")
    env.reset(seed=3)
    cam = env.unwrapped.view.camera
    rot, pos = cam.pose(0.0, 0.0, 0.0)
    # a point 20 m straight ahead of the camera at camera height lands on the principal column,
    # above the centre row by fy * tan(pitch)
    point = np.array([[pos[0] + 20.0, 0.0, pos[2]]])
    uv, z = cam.project(point, rot, pos)
    pitch = np.deg2rad(cam.config.pitch_deg)
    assert uv[0, 0] == pytest.approx(cam.cx, abs=1e-6)
    assert uv[0, 1] == pytest.approx(cam.cy + cam.fy * np.tan(pitch), abs=1e-6)
    assert z[0] == pytest.approx(20.0 * np.cos(pitch), rel=1e-9)
