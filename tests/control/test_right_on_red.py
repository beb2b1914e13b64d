"""The rule-based driver on layout v2 turns right on red where the route block says the map permits
it: a full stop at the line, then go when the junction is clear (as at a stop sign); elsewhere it
waits for the green."""

import numpy as np
import pytest

from common.vocab import EGO_LENGTH_M
from control.envs import env_config, make_env
from control.features import EgoMeasurements, encode
from control.policies import RuleBasedPolicy
from control.route_features import RouteGuidance, encode_route
from control.supervisor import SafetySupervisor
from perception.types import Detections, LaneEstimate, PerceptionFrame
from sim.lights import GREEN, RED
from sim.nav_world import STOPPED_M_S

from .test_route_features import arc_waypoints

DT_S = 0.05


def _turn_at_red(right_on_red: bool, supervised: bool, seed: int = 35):
    """TownNav seed 35 from labels (150 m, nobody else about): a right at a light ~20 m ahead that
    turns red as the drive starts. Drive until the car has left the junction; return the light when
    its front crossed the line and when it left the junction, the lowest speed within 3 m before the
    line [m/s] and the red runs."""
    env = make_env(config=env_config("townnav", 150.0, right_on_red=right_on_red, traffic_density_per_km=0.0,
                                     pedestrians_per_km=0.0, parked_cars_per_km=0.0))
    env.reset(seed=seed)
    world = env.unwrapped.world
    a = world._approaches[0]
    assert a.movement == "right" and a.control == "signal"
    lights = world.lights
    while int(lights.head_states()[a.head]) == RED:  # the start of a red
        lights.step(DT_S)
    while int(lights.head_states()[a.head]) != RED:
        lights.step(DT_S)
    policy = SafetySupervisor(RuleBasedPolicy()) if supervised else RuleBasedPolicy()
    policy.reset()
    obs, *_ = env.step(np.zeros(2, np.float32))  # an observation with the light set
    light, slowest, red_runs = None, np.inf, 0
    while world.ego_s < a.exit_route_s:
        front = world.ego_s + EGO_LENGTH_M / 2
        if 0.0 < a.stop_route_s - front < 3.0:
            slowest = min(slowest, world.ego.speed_m_s)
        obs, _, terminated, truncated, info = env.step(policy.act(obs))
        if front < a.stop_route_s <= world.ego_s + EGO_LENGTH_M / 2:
            light = int(lights.head_states()[a.head])
        red_runs += int(info["events"]["red_light"])
        assert not (terminated or truncated) and world.time_s < 90.0
    return (light, int(lights.head_states()[a.head])), slowest, red_runs


@pytest.mark.parametrize("supervised", [False, True], ids=["policy", "supervised"])
def test_rule_based_driver_turns_right_on_red_after_a_full_stop(supervised):
    light, slowest, red_runs = _turn_at_red(True, supervised)
    assert light == (RED, RED) and slowest < STOPPED_M_S and red_runs == 0  # through the junction on red


def test_rule_based_driver_waits_for_the_green_where_right_on_red_is_not_permitted():
    light, _, red_runs = _turn_at_red(False, True)
    assert light[0] == GREEN and red_runs == 0


def _at_red_line(line_m: float, speed_m_s: float, right_on_red: bool, crossing_car: bool = False) -> np.ndarray:
    """A v2 observation: a red light's line ``line_m`` ahead of the bumper, a right turn into the
    junction just beyond; optionally a car on the cross street coming from the left at 10 m/s."""
    if crossing_car:  # 14 m ahead, 25 m to the left, driving toward the ego's right (relative to a car at speed)
        dets = Detections(np.zeros((1, 4), np.float32), np.ones(1, np.float32), np.zeros(1, np.int64),
                          np.zeros(1, np.int64), np.array([28.7], np.float32), np.array([[14.0, 25.0]], np.float32),
                          np.array([[-speed_m_s, -10.0]], np.float32))
    else:
        dets = Detections.empty()
    pf = PerceptionFrame(0, 0.0, "t", (160, 320), dets, LaneEstimate(0.0, 0.0, 0.0, 3.5, 1.0), "red", line_m)
    v1 = encode(pf, EgoMeasurements(speed_m_s, 0.0, 13.9, 0.0, 0.0))
    route = RouteGuidance("right", line_m + 4.5, arc_waypoints(10.0, False), junction_xy_m=(line_m + 14.0, 0.0),
                          junction_radius_m=9.0, right_on_red=right_on_red)
    return np.concatenate([v1, encode_route(route)])


def test_junction_rules_hold_a_red_line_until_the_stop_then_until_the_crossing_is_clear():
    policy = RuleBasedPolicy()
    assert policy.act(_at_red_line(1.0, 0.0, False))[1] <= 0  # not permitted: a red is a red
    policy.reset()
    assert policy.act(_at_red_line(10.0, 5.0, True))[1] < 0  # permitted: still stops at the line first
    assert policy.act(_at_red_line(1.0, 0.0, True, crossing_car=True))[1] <= 0  # stopped; a car is coming
    assert policy.act(_at_red_line(1.0, 0.0, True))[1] > 0  # stopped, clear: turn
    assert policy.act(_at_red_line(0.5, 0.5, True))[1] > 0  # and keeps going
    assert policy.act(_at_red_line(-0.8, 2.0, True))[1] > 0  # over the line, turning: no braking in the crossing
    rolling = RuleBasedPolicy()  # arriving at speed, no stop yet: no turn on red
    assert rolling.act(_at_red_line(1.5, 2.0, True))[1] < 0
    assert rolling.act(_at_red_line(-0.8, 2.0, True))[1] < 0  # slid over the line: it stops, as at any red
