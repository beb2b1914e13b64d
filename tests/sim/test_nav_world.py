"""The navigation town (drivestack/TownNav-v0): env contract, the route-following driver, events, bad input."""

import json
from dataclasses import replace

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import sim  # noqa: F401  (registers the ids)
from common.config import ConfigError
from sim.autopilot import Autopilot
from sim.config import ScenarioConfig
from sim.labels import GroundTruth
from sim.nav_scenario import generate_nav
from sim.nav_world import NavWorld
from sim.roadgraph.route import COMMANDS

ENV_ID = "drivestack/TownNav-v0"
EVENTS = ("collision", "off_road", "solid_line", "red_light", "stop_sign", "wrong_lane", "off_route")


def make(route_m: float = 600.0, env_id: str = ENV_ID, **scenario):
    return gym.make(env_id, render_camera=False, config={"scenario": {"route_length_m": route_m, **scenario}}).unwrapped


def drive(seed: int, route_m: float = 600.0, edit=None, steer=None, max_steps: int = 20000, env_id: str = ENV_ID):
    """Drive one episode with the autopilot; ``edit`` rewrites the labels it sees, ``steer``
    (world, action) -> action overrides its action. Returns (env, counts of events, last events)."""
    env = make(route_m, env_id)
    obs, info = env.reset(seed=seed)
    pilot = Autopilot()
    counts = dict.fromkeys(EVENTS, 0)
    for _ in range(max_steps):
        gt = info["ground_truth"]
        if edit is not None:
            gt = GroundTruth(edit(gt.ego), gt.objects)
        action = pilot.act(gt, float(obs["state"][0]))
        if steer is not None:
            action = steer(env.world, action)
        obs, _, terminated, truncated, info = env.step(action)
        for k in EVENTS:
            counts[k] += bool(info["events"][k])
        if terminated or truncated:
            break
    return env, counts, info["events"]


def test_check_env_camera_off():
    env = make(300.0)
    check_env(env)
    env.close()


def test_same_seed_same_episode():
    def rollout():
        env = make(300.0)
        obs, info = env.reset(seed=5)
        rng = np.random.default_rng(0)
        states, egos = [obs["state"]], [info["ground_truth"].ego]
        for _ in range(40):
            obs, _, term, trunc, info = env.step(rng.uniform(-0.2, 1.0, 2))
            states.append(obs["state"])
            egos.append(info["ground_truth"].ego)
            if term or trunc:
                break
        return np.stack(states), egos, env.world.traffic.s.copy(), [p.x_m for p in env.world.scenario.props]

    a, b = rollout(), rollout()
    assert np.array_equal(a[0], b[0]) and a[1] == b[1] and np.array_equal(a[2], b[2]) and a[3] == b[3]


def test_route_block_in_labels_and_json():
    env = make()
    _, info = env.reset(seed=3)
    gt = info["ground_truth"]
    e = gt.ego
    assert e.route_command in COMMANDS and e.route_command_distance_m >= 0
    assert len(e.route_waypoints_m) == 8 and e.route_waypoints_m[0][0] == pytest.approx(5.0, abs=0.5)
    assert e.route_length_m == pytest.approx(env.world.route.length_m)
    assert GroundTruth.from_json(gt.to_json()).ego == e
    town = gym.make("drivestack/Town-v0", render_camera=False, config={"scenario": {"route_length_m": 200}})
    _, info = town.reset(seed=3)
    assert "route_command" not in info["ground_truth"].to_json()["ego"]  # the straight town's JSON as before


def test_the_next_signal_as_a_map_gives_it_survives_json():
    env = make(300.0)
    _, info = env.reset(seed=40)  # a protected left 13 m ahead: the arrow head governs
    gt = info["ground_truth"]
    e = gt.ego
    state, dist, head = env.world.relevant_light()
    assert e.signal_stop_line_m == dist and 0 < e.signal_head_xyz_m[0] < 40.0
    assert env.world.lights.heads[head].left_arrow and e.signal_head_xyz_m[2] == pytest.approx(3.7)
    assert GroundTruth.from_json(json.loads(json.dumps(gt.to_json(), allow_nan=False))).ego == e
    none_ahead = replace(e, signal_head_xyz_m=(float("nan"),) * 3, signal_stop_line_m=float("inf"))
    back = GroundTruth.from_json(json.loads(json.dumps(GroundTruth(none_ahead, []).to_json(), allow_nan=False))).ego
    assert np.isnan(back.signal_head_xyz_m).all() and back.signal_stop_line_m == float("inf")


def test_ids_and_static_boxes():
    world = NavWorld(ScenarioConfig(kind="townnav", route_length_m=600), 4, 0.05)
    ids, sig = world.ids, world.lights
    assert ids.prop0 - ids.light0 == len(sig.heads)
    assert ids.total - ids.stop_sign0 == len(sig.stop_signs) > 0
    # props, one pole per head, one post per sign, then the signs' plates
    assert ids.stop_sign0 == ids.prop0 + len(world.scenario.props) + len(sig.heads) + len(sig.stop_signs)
    paved = world.scenario.paved
    assert not any(paved.box_touches(tuple(b)) for b in world.static_boxes[:len(world.scenario.props)])


@pytest.mark.parametrize("seed", [13, 17])
def test_driver_completes_turns_at_signals_and_stop_signs(seed):
    # seed 13: left, right, straight at signals; seed 17: straight, left, right at stop signs
    env, counts, last = drive(seed)
    assert last["goal"], counts
    assert {k: counts[k] for k in EVENTS} == dict.fromkeys(EVENTS, 0)
    driven = {(a.movement, a.control) for a in env.world._approaches}
    control = "signal" if seed == 13 else "stop"
    assert {(m, control) for m in ("left", "right", "straight")} <= driven


def test_stop_sign_fires_when_rolling_through():
    _, counts, _ = drive(17, edit=lambda e: replace(e, stop_sign_distance_m=float("inf")))
    assert counts["stop_sign"] >= 1 and counts["red_light"] == 0


def test_red_light_fires_when_running_a_red():
    _, counts, _ = drive(13, edit=lambda e: replace(e, light_state="green"))
    assert counts["red_light"] >= 1


def test_off_route_fires_on_a_wrong_turn():
    """At the first junction where the route goes straight, the car turns hard instead."""
    turning = []

    def wrong_turn(world, action):
        leg = world.route.legs[world.route.leg_index(world.ego_s)]
        if leg.connector and world.graph.connector_of(leg.lane.road).movement == "straight":
            turning.append(True)
        return np.array([0.5, 0.0], np.float32) if turning else action

    env, counts, last = drive(13, steer=wrong_turn, max_steps=3000)
    assert last["off_route"] and not last["goal"]
    assert env.world.ego_s < env.world.route.length_m / 2


def test_off_road_when_steering_off():
    env = make()
    env.reset(seed=2)
    for _ in range(200):
        _, _, terminated, _, info = env.step([-0.7, 0.5])
        if terminated:
            break
    assert info["events"]["off_road"] or info["events"]["collision"]


@pytest.mark.parametrize("scenario, needle", [
    ({"town_grid": 2}, "scenario.town_grid=2"),
    ({"town_grid": 3, "route_length_m": 6000}, "scenario.route_length_m=6000"),
    ({"lanes_per_direction": 4}, "scenario.lanes_per_direction=4"),
])
def test_bad_config_gives_one_line_errors(scenario, needle):
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")) as err:
        generate_nav(ScenarioConfig(kind="townnav", **scenario), 1)
    assert "\n" not in str(err.value)


def test_scenario_is_deterministic_per_seed():
    cfg = ScenarioConfig(kind="townnav", route_length_m=800)
    a, b, c = generate_nav(cfg, 7), generate_nav(cfg, 7), generate_nav(cfg, 8)
    assert a.props == b.props and a.parked == b.parked and np.array_equal(a.route.path.xy, b.route.path.xy)
    assert not np.array_equal(a.paved.bits, c.paved.bits) or a.props != c.props


def test_wrong_lane_and_solid_line_when_driving_in_the_opposing_lane():
    env = make()
    obs, info = env.reset(seed=2)  # starts in the only lane of its direction on a two-way street
    pilot, counts = Autopilot(), dict.fromkeys(EVENTS, 0)
    for _ in range(100):
        gt = info["ground_truth"]
        obs, _, terminated, _, info = env.step(pilot.act(gt, float(obs["state"][0]), gt.ego.lane_width_m))
        for k in EVENTS:
            counts[k] += bool(info["events"][k])
        assert not terminated
    assert counts["wrong_lane"] == 1 and counts["solid_line"] == 1  # each fires once, on entering
    assert info["ground_truth"].ego.lane_offset_m > 0


@pytest.mark.parametrize("seed", [1, 3])
def test_highway_routes_change_lanes_and_exit_cleanly(seed):
    env, counts, last = drive(seed, 1500.0, env_id="drivestack/HighwayNav-v0")
    commands = [m.command for m in env.world.route.maneuvers]
    assert "change_lane_right" in commands  # over to the exit lane (seed 1 then takes the exit: "right")
    assert last["goal"] and not any(counts.values())
