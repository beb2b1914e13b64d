"""Navigation worlds' new labelled objects: a cyclist and a stop sign get boxes on their pixels."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

import sim  # noqa: F401  (registers the ids)
from common.vocab import CYCLIST_CLASS, STOP_SIGN_CLASS
from sim.dynamics import EgoState
from sim.labels import ground_truth


@pytest.fixture(scope="module")
def env():
    e = gym.make("drivestack/TownNav-v0", config={"scenario": {"route_length_m": 600}}).unwrapped
    e.reset(seed=5)
    return e


def _look_from(env, road, s_m: float, d_m: float, direction: int):
    """Put the ego on ``road`` at (s, d) facing its ``direction`` of travel; render and label."""
    x, y, h = road.pose(s_m, d_m)
    env.world.ego = EgoState(float(x), float(y), float(h) + (0.0 if direction > 0 else math.pi), 0.0)
    frame = env.view.render()
    return frame, ground_truth(env.world, frame)


def _inside(box, uv) -> bool:
    x0, y0, x1, y1 = box
    return x0 <= uv[0] <= x1 and y0 <= uv[1] <= y1


def test_a_cyclist_is_boxed_as_a_cyclist(env):
    w, tr = env.world, env.world.traffic
    i = int(np.flatnonzero(tr.cyclist & (tr.v >= 0))[0])
    road = w.graph.roads[int(tr.road[i])]
    direction = int(tr.dir[i])
    behind = float(tr.s[i]) - direction * 12.0
    frame, gt = _look_from(env, road, behind, float(tr.d[i]), direction)  # right behind it, on its line
    [label] = [o for o in gt.objects if o.instance_id == w.ids.vehicle0 + i]
    assert label.class_id == CYCLIST_CLASS and label.class_name == "cyclist" and label.visible_px > 50
    x, y, _ = tr.poses()
    uv, z = env.view.camera.project(np.array([[x[i], y[i], 1.0]]), frame.rotation, frame.position_m)
    assert z[0] > 0 and _inside(label.box_xyxy, uv[0])
    assert 9.0 < label.distance_m < 13.0


def test_a_stop_sign_is_boxed_on_its_plate(env):
    w = env.world
    sig = w.lights.stop_signs[0]
    road = w.graph.roads[sig.street]
    lanes = road.lanes_toward(sig.direction)
    d = float(road.lane_centre_d(lanes - 1, sig.direction))  # the rightmost lane, the sign on its right
    frame, gt = _look_from(env, road, sig.stop_s - sig.direction * 15.0, d, sig.direction)
    [label] = [o for o in gt.objects if o.class_id == STOP_SIGN_CLASS and o.instance_id == w.ids.stop_sign0]
    assert label.class_name == "stop_sign" and label.visible_px > 20 and label.light_state is None
    plate = np.array([[sig.x_m, sig.y_m, 2.2]])  # the plate's middle, on its post
    uv, z = env.view.camera.project(plate, frame.rotation, frame.position_m)
    assert z[0] > 0 and _inside(label.box_xyxy, uv[0])
    # its box is the plate alone: the post below it is a static prop with its own id
    x0, y0, x1, y1 = label.box_xyxy
    assert (frame.instance[y0:y1, x0:x1] == w.ids.stop_sign0).mean() > 0.3
