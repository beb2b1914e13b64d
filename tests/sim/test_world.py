"""World rules: roads, events (collision, off-road, solid line, red light) and the autopilot."""

import gymnasium as gym
import numpy as np
import pytest

import sim  # noqa: F401
from sim.autopilot import Autopilot
from sim.config import ScenarioConfig
from sim.lights import RED
from sim.scenarios import generate
from sim.world import World


def test_frenet_round_trip_and_curve_radius():
    sc = generate(ScenarioConfig(kind="town", route_length_m=800), seed=9)
    main = sc.network.main
    rng = np.random.default_rng(1)
    s = rng.uniform(10, main.length_m - 10, 200)
    d = rng.uniform(-5, 5, 200)
    x, y, _ = main.pose(s, d)
    s2, d2 = main.project(x, y)
    assert np.allclose(s2, s, atol=0.05) and np.allclose(d2, d, atol=0.05)
    assert np.max(np.abs(main.curvature)) <= 1 / 25.0 + 1e-9  # no curve tighter than 25 m


def test_same_seed_same_world():
    a = generate(ScenarioConfig(kind="town"), seed=4)
    b = generate(ScenarioConfig(kind="town"), seed=4)
    c = generate(ScenarioConfig(kind="town"), seed=5)
    assert np.array_equal(a.network.main.xy, b.network.main.xy)
    assert not np.array_equal(a.network.main.xy, c.network.main.xy)


def _world(kind="town", **kw):
    return World(ScenarioConfig(kind=kind, route_length_m=300, **kw), seed=7, dt_s=0.05)


def test_collision_with_a_car_placed_ahead():
    w = _world("highway")
    tr = w.traffic
    i = int(np.flatnonzero(~tr.parked)[0])
    # put vehicle i stopped 6 m ahead of the ego in its lane
    tr.road[i], tr.dir[i] = 0, 1
    tr.s[i], tr.d[i], tr.d_target[i] = w.ego_s + 6.0, w.frenet.d_m, w.frenet.d_m
    tr.v[i] = tr.v_desired[i] = 0.0
    hit = None
    for _ in range(40):
        ev = w.step(0.0, 1.0)
        if ev.collision:
            hit = ev
            break
    assert hit is not None and hit.collision == "vehicle" and hit.collision_id == w.ids.vehicle0 + i


def test_leaving_the_road_is_reported():
    w = _world("highway")
    for _ in range(200):
        ev = w.step(-1.0, 0.3)  # hard right into the verge
        if ev.off_road:
            break
    assert ev.off_road


def test_crossing_the_centre_line_is_a_solid_line_event():
    w = _world("highway")
    events = [w.step(0.5, 0.0).solid_line for _ in range(30)]
    assert any(events)


def test_running_a_red_light_is_reported():
    w = _world("town")
    inter = w.net.intersections[0]
    head = inter.light_ids[(0, 1)]
    hit = False
    for _ in range(600):
        # wait (signal clock only, the ego stays put) until the main-road phase shows red
        states = w.lights.head_states()
        if states[head] != RED:
            w.lights.time_s += 0.5  # advance the signal clock alone
            continue
        ev = w.step(0.0, 1.0)
        if ev.red_light:
            hit = True
            break
        if ev.collision or ev.off_road:
            break
    assert hit


def test_traffic_follows_idm_without_crashing_into_each_other():
    w = _world("highway", traffic_density_per_km=30)
    for _ in range(400):
        w.step(0.0, 0.0)
    from sim.collision import obb_overlap

    boxes = w.traffic.boxes()[~w.traffic.parked]
    overlaps = obb_overlap(boxes[:, None, :], boxes[None, :, :])
    np.fill_diagonal(overlaps, False)
    assert not overlaps.any()
    assert np.all(w.traffic.v >= 0)


@pytest.mark.parametrize("env_id", ["drivestack/Town-v0", "drivestack/Highway-v0"])
def test_autopilot_completes_a_short_route(env_id):
    env = gym.make(env_id, render_camera=False, config={"scenario": {"route_length_m": 250}})
    obs, info = env.reset(seed=0)
    pilot = Autopilot()
    for _ in range(4000):
        obs, _, term, trunc, info = env.step(pilot.act(info["ground_truth"], float(obs["state"][0])))
        if term or trunc:
            break
    ev = info["events"]
    assert ev["goal"] and ev["collision"] is None and not ev["off_road"]
