"""The light found where the map puts it (``perception.light_prior``): the navigation world's map fields
project onto the labelled head, the selector prefers the box at the projection, reads the lamp there
without a box, says "none" where the map has no signal, and without a prior behaves as before."""

import gymnasium as gym
import numpy as np
import pytest

import sim  # noqa: F401  (registers the ids)
from perception.geometry import CameraModel
from perception.light_prior import LIGHT_PASSED_M, matched_light, project_head
from perception.light_selection import LightSelector
from perception.pipeline import CameraSetup, Perception
from perception.types import CLASS_NAMES, Detections, Frame, LaneEstimate, SignalPrior

RED, GREEN = CLASS_NAMES.index("traffic_light_red"), CLASS_NAMES.index("traffic_light_green")
LANE = LaneEstimate(0.0, 0.0, 0.0, 3.5, 1.0)


def _lights(xyxy, scores, classes) -> Detections:
    n = len(scores)
    return Detections(np.asarray(xyxy, np.float32).reshape(n, 4), np.asarray(scores, np.float32), np.asarray(classes, np.int64),
                      np.full(n, -1), *(np.full((n, *s), np.nan, np.float32) for s in ((), (2,), (2,))))


def _head_image(cam: CameraModel, box: np.ndarray, lit: tuple[int, int, int], lamp_row: float) -> np.ndarray:
    """A grey sky with a dark housing in ``box`` and one lit lamp ``lamp_row`` (0 top .. 1 bottom) down it."""
    img = np.full((cam.height, cam.width, 3), (150, 170, 200), np.uint8)
    x0, y0, x1, y1 = np.round(box).astype(int)
    img[y0:y1, x0:x1] = (30, 30, 32)
    r = y0 + int(lamp_row * (y1 - y0 - 2))
    img[r:r + 2, x0:x1] = lit
    return img


def test_a_passed_line_stops_governing_where_the_lights_truth_says_so():
    from perception.hydranet import LIGHT_PASSED_M as TRUTH_PASSED_M

    assert LIGHT_PASSED_M == TRUTH_PASSED_M


def test_point_to_pixel_agrees_with_the_ground_projection_and_its_inverse():
    cam = CameraModel.from_fov(320, 160, 80.0, 1.4, -3.0)
    uv, z = cam.point_to_pixel(np.array([[20.0, -3.0, 0.0], [35.0, 6.0, 3.7]]))
    g_uv, g_z = cam.ground_to_pixel(np.array([[20.0, -3.0]]))
    assert uv[0] == pytest.approx(g_uv[0]) and z[0] == pytest.approx(g_z[0])
    assert cam.pixel_to_height(uv[1:], 3.7)[0] == pytest.approx([35.0, 6.0])


@pytest.mark.parametrize("seed", [40, 11, 51])  # an arrow head (red) 13 m ahead, a ball head (red), an arrow (green)
def test_the_maps_head_projects_onto_its_label_box_and_its_lamp_reads_there(seed):
    env = gym.make("drivestack/TownNav-v0", config={"scenario": {"route_length_m": 300}}).unwrapped
    obs, info = env.reset(seed=seed)
    gt = info["ground_truth"]
    image = obs["image"]
    cam = CameraSetup().model(image.shape[1], image.shape[0])
    prior = SignalPrior.from_labels(gt.ego)
    assert prior.signal_ahead and prior.stop_line_m == gt.ego.light_stop_distance_m  # the map's line is the one obeyed
    head = project_head(prior, cam)
    own = env.world.ids.light0 + env.world.relevant_light()[2]
    (box,) = [o.box_xyxy for o in gt.objects if o.instance_id == own]
    x0, y0, x1, y1 = box  # x1, y1 exclusive
    assert x0 <= head.uv[0] <= x1 and y0 <= head.uv[1] <= y1, (head, box)
    # no detector at all: the lamp is read in the region around the projection
    pf = Perception().process(Frame(image, 0.0, 0, f"sim:townnav:{seed}"), prior=prior)
    assert (pf.light_state, pf.light_distance_m) == (gt.ego.light_state, prior.stop_line_m)
    env.close()


def test_the_box_at_the_projection_wins_over_a_bigger_centred_one():
    setup = CameraSetup()
    cam = setup.model(320, 160)
    prior = SignalPrior((20.0, -6.0, 3.7), 8.0)  # a far-right corner head: up and to the right
    head = project_head(prior, cam)
    w, h = head.size_px
    ours = np.array([head.uv[0] - w / 2, head.uv[1] - h / 2, head.uv[0] + w / 2, head.uv[1] + h / 2])
    centred = np.array([155.0, 30.0, 165.0, 55.0])  # a big head straight ahead: a crossing street's
    image = _head_image(cam, ours, (255, 40, 30), 0.0)  # ours shows red
    image[30:55, 155:165] = (30, 30, 32)
    image[47:51, 157:163] = (40, 255, 120)  # the centred one shows green
    dets = _lights([centred, ours], [0.9, 0.5], [GREEN, GREEN])
    assert matched_light(dets, head) == 1
    selector = LightSelector("detector", light_zoom=False, front_ahead_m=setup.front_ahead_m)
    assert selector(dets, cam, LANE, None, image, 0.0, None, prior) == ("red", 8.0)
    # without the map, the centred head wins, as before
    assert selector(dets, cam, LANE, None, image, 0.0, None, None)[0] == "green"


def test_no_signal_on_the_map_means_no_light_and_a_passed_line_no_longer_governs():
    cam = CameraSetup().model(320, 160)
    box = np.array([150.0, 30.0, 160.0, 55.0])
    image = _head_image(cam, box, (255, 40, 30), 0.0)
    dets = _lights([box], [0.9], [RED])
    selector = LightSelector("auto", light_zoom=False)
    assert selector(dets, cam, LANE, None, image, 0.0, None, None)[0] == "red"  # no map: any head ahead
    none_ahead = SignalPrior((float("nan"),) * 3, float("inf"))
    assert not none_ahead.signal_ahead
    assert selector(dets, cam, LANE, None, image, 0.0, None, none_ahead) == ("none", float("inf"))
    passed = SignalPrior((12.0, -8.0, 3.7), -LIGHT_PASSED_M - 0.5)
    assert selector(dets, cam, LANE, None, image, 0.0, None, passed) == ("none", float("inf"))


def test_a_head_cut_by_the_image_border_is_not_read():
    """Standing at the line under the arrow head, only its bottom (a dark green lamp) is in view."""
    cam = CameraSetup().model(320, 160)
    prior = SignalPrior((3.0, 0.0, 3.7), 0.5)
    head = project_head(prior, cam)
    assert head is not None and not head.in_view
    image = np.full((160, 320, 3), (150, 170, 200), np.uint8)
    image[0:10, 154:166] = (18, 60, 32)  # the dark green lamp
    dets = _lights([[154.0, 0.0, 166.0, 10.0]], [0.9], [GREEN])
    assert LightSelector("detector", light_zoom=False)(dets, cam, LANE, None, image, 0.0, None, prior)[0] == "none"


def test_the_prior_comes_from_the_maps_fields_only_where_there_is_a_map():
    town = gym.make("drivestack/Town-v0", render_camera=False, config={"scenario": {"route_length_m": 200}})
    _, info = town.reset(seed=3)
    assert SignalPrior.from_labels(info["ground_truth"].ego) is None  # the straight town has no map: as before
    # nor with the follow-the-lane route block a v2 policy reads there: its "no signal" is no map's word, and as a
    # prior it made the models report no light, so a v2 policy from the models ran the straight town's reds
    # (7 of 10 held-out routes, session 26)
    block = gym.make("drivestack/Town-v0", render_camera=False,
                     config={"scenario": {"route_length_m": 200, "route_block": True}})
    _, info = block.reset(seed=3)
    ego = info["ground_truth"].ego
    assert ego.route_command == "follow_lane" and not ego.signal_mapped
    assert SignalPrior.from_labels(ego) is None
    nav = gym.make("drivestack/TownNav-v0", render_camera=False, config={"scenario": {"route_length_m": 300}})
    _, info = nav.reset(seed=40)
    ego = info["ground_truth"].ego
    assert ego.signal_mapped
    assert SignalPrior.from_labels(ego) == SignalPrior(ego.signal_head_xyz_m, ego.signal_stop_line_m)
