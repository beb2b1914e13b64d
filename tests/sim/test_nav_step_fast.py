"""The navigation worlds' per-step shortcuts (compiled ego corners, paved test, route waypoints,
the route truth's incremental look-ups) give exactly what the numpy expressions they replaced
(written out here) give."""

import gymnasium as gym
import numpy as np
import pytest

import sim  # noqa: F401  (registers the environments)
from sim.collision import box_corners
from sim.kernels import box_corners_one


@pytest.fixture(scope="module", params=["drivestack/TownNav-v0", "drivestack/HighwayNav-v0"],
                ids=lambda e: e.split("/")[1])
def world(request):
    env = gym.make(request.param, render_camera=False).unwrapped
    env.reset(seed=4)
    return env.world


def test_compiled_corners_equal_box_corners():
    rng = np.random.default_rng(1)
    for _ in range(300):
        x, y, yaw = rng.uniform(-500, 500), rng.uniform(-500, 500), rng.uniform(-7, 7)
        length, width = rng.uniform(0.1, 20), rng.uniform(0.1, 5)
        got = box_corners_one(x, y, float(np.cos(yaw)), float(np.sin(yaw)), 0.5 * length, 0.5 * width)
        assert np.array_equal(got, box_corners(np.array([x, y, yaw, length, width])))


def test_compiled_all_paved_equals_on_paved(world):
    paved = world.scenario.paved
    rng = np.random.default_rng(2)
    x0, y0, x1, y1 = world.graph.bounds()
    hits = 0
    for _ in range(2000):  # four corners of a car somewhere in (and around) the map, a few on the edges
        cx, cy = rng.uniform(x0 - 30, x1 + 30), rng.uniform(y0 - 30, y1 + 30)
        x, y = cx + rng.uniform(-3, 3, 4), cy + rng.uniform(-3, 3, 4)
        want = bool(paved.on_paved(x, y).all())
        assert paved.all_paved(x, y) == want
        hits += want
    path = world.route.path.xy  # along the route: paved
    assert paved.all_paved(np.ascontiguousarray(path[::50, 0]), np.ascontiguousarray(path[::50, 1]))
    assert 0 < hits < 2000


def _waypoints_numpy(route, route_s, x_m, y_m, yaw_rad, spacing_m=5.0, count=8):
    s = np.minimum(route_s + spacing_m * np.arange(1, count + 1), route.length_m)
    px, py, _ = route.path.pose(s, np.zeros_like(s))
    dx, dy = px - x_m, py - y_m
    c, sn = np.cos(yaw_rad), np.sin(yaw_rad)
    return np.stack([dx * c + dy * sn, -dx * sn + dy * c], 1)


def test_compiled_waypoints_equal_the_numpy_pose(world):
    route, rng = world.route, np.random.default_rng(3)
    for s in np.concatenate([rng.uniform(-5, route.length_m + 5, 300), [0.0, route.length_m, route.length_m - 12.5]]):
        x, y = rng.uniform(-300, 300, 2)
        yaw = rng.uniform(-4, 4)
        for spacing, count in ((5.0, 8), (2.5, 3)):
            got = route.waypoints_ego(float(s), float(x), float(y), float(yaw), spacing, count)
            assert np.array_equal(got, _waypoints_numpy(route, float(s), float(x), float(y), float(yaw), spacing, count))
