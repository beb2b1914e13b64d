"""The v2 observation's route block and the rule-based driver's use of it."""

from __future__ import annotations

import numpy as np
import pytest

from control.features import OBS_SIZE
from control.policies import RuleBasedPolicy, route_curvature
from control.route_features import COMMANDS, N_WAYPOINTS, OBS_SIZE_V2, ROUTE_SIZE, RouteGuidance, decode_route, encode_route
from sim.roadgraph import route as sim_route


def arc_waypoints(radius_m: float, left: bool) -> np.ndarray:
    """Route points every 5 m from 5 m ahead along a circle of ``radius_m`` (ego frame)."""
    s = 5.0 * np.arange(1, N_WAYPOINTS + 1)
    t = s / radius_m
    y = radius_m * (1 - np.cos(t))
    return np.stack([radius_m * np.sin(t), y if left else -y], 1)


def test_the_command_names_are_the_simulators():
    assert COMMANDS == sim_route.COMMANDS


def test_route_block_round_trips_in_physical_units():
    g = RouteGuidance("left", 23.0, arc_waypoints(12.0, True), 31.0, (24.0, -3.0), 14.5, True)
    block = encode_route(g)
    assert block.shape == (ROUTE_SIZE,) and np.all(np.isfinite(block))
    back = decode_route(np.concatenate([np.zeros(OBS_SIZE, np.float32), block]))
    assert back.command == "left" and back.distance_m == pytest.approx(23.0, abs=1e-4)
    assert back.stop_sign_m == pytest.approx(31.0, abs=1e-4) and back.left_must_yield
    assert np.allclose(back.junction_xy_m, (24.0, -3.0), atol=1e-4) and back.junction_radius_m == pytest.approx(14.5, abs=1e-4)
    none = decode_route(np.concatenate([np.zeros(OBS_SIZE, np.float32), encode_route(RouteGuidance("follow_lane", 80.0, g.waypoints_m))]))
    assert none.stop_sign_m == np.inf and np.isnan(none.junction_xy_m[0]) and not none.left_must_yield
    assert not back.right_on_red and not none.right_on_red
    on_red = RouteGuidance("right", 10.0, g.waypoints_m, right_on_red=True)
    assert decode_route(np.concatenate([np.zeros(OBS_SIZE, np.float32), encode_route(on_red)])).right_on_red
    stopped = RouteGuidance("straight", 0.0, g.waypoints_m, stop_sign_m=1.0, full_stop_made=True)
    assert decode_route(np.concatenate([np.zeros(OBS_SIZE, np.float32), encode_route(stopped)])).full_stop_made
    assert not back.full_stop_made
    limits = 2.0 * np.array([40.0, 10.0])  # the block clips at 2 units per axis
    assert np.allclose(back.waypoints_m, np.clip(g.waypoints_m, -limits, limits), atol=1e-4)


def test_unknown_distance_and_short_routes_stay_finite():
    block = encode_route(RouteGuidance("follow_lane", np.inf, np.array([[5.0, 0.0], [7.0, 0.0]])))
    assert np.all(np.isfinite(block))
    wp = block[len(COMMANDS) + 1:len(COMMANDS) + 1 + 2 * N_WAYPOINTS].reshape(N_WAYPOINTS, 2)
    assert np.allclose(wp[2:], wp[1])  # the last point repeats (the goal is near)
    with pytest.raises(ValueError, match="'u_turn' is not one of"):
        encode_route(RouteGuidance("u_turn", 1.0, np.zeros((8, 2))))


def test_route_curvature_reads_the_turn_radius():
    assert route_curvature(RouteGuidance("left", 0.0, arc_waypoints(15.0, True))) == pytest.approx(1 / 15, rel=0.05)
    assert route_curvature(RouteGuidance("follow_lane", 50.0, arc_waypoints(1e6, True))) < 1e-4


def _v2(command: str, distance_m: float, waypoints: np.ndarray, lane_known: bool, speed_m_s: float = 6.0):
    v1 = np.zeros(OBS_SIZE, np.float32)
    v1[0] = speed_m_s / 20.0
    v1[2] = 13.9 / 20.0  # speed limit
    v1[5:11] = (0.0, 0.0, 0.0, 1.0, 1.0, float(lane_known))  # lane block: straight, centred
    v1[11 + 3] = 1.0  # light: none
    v1[15:17] = (2.0, 0.0)
    v1[17:21] = (0.0, 2.0, 0.0, 0.0)
    obs = np.concatenate([v1, encode_route(RouteGuidance(command, distance_m, waypoints))])
    assert obs.shape == (OBS_SIZE_V2,)
    return obs


def test_rule_based_driver_turns_with_the_route_at_a_junction_and_follows_the_lane_elsewhere():
    policy = RuleBasedPolicy()
    left = policy.act(_v2("left", 0.0, arc_waypoints(12.0, True), lane_known=False))
    right = policy.act(_v2("right", 2.0, arc_waypoints(10.0, False), lane_known=True))
    far = policy.act(_v2("left", 60.0, arc_waypoints(12.0, True), lane_known=True))
    assert left[0] > 0.2 and right[0] < -0.2
    assert far[0] == pytest.approx(0.0, abs=1e-6)  # the straight lane steers until the handover
    # a tight turn ahead slows the car: cruise near sqrt(2.5 m/s^2 * 12 m) = 5.5 m/s, not the 13 m/s limit
    fast = policy.act(_v2("left", 0.0, arc_waypoints(12.0, True), lane_known=False, speed_m_s=10.0))
    assert fast[1] < 0.0
