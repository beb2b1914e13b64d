"""The route's own lane changes (``control.route_lane_change``): the driver looks at the target lane before it
moves over, keeps its lane and lets a car there go by while it is taken, and finishes the change late rather
than dropping it; the overtake's memory moves with the car when it crosses into another lane."""

import math

import numpy as np
import pytest

from common.vocab import CAMERA_MOUNT, EGO_LENGTH_M
from control.features import K_OBJECTS, OBJECT_FIELDS, Decoded
from control.overtake import Overtake, Users
from control.policies import RuleBasedPolicy
from control.route_features import N_WAYPOINTS, RouteGuidance
from control.route_lane_change import RouteLaneChange, route_offset_m

WIDTH_M = 3.5


def _decoded(speed_m_s: float, lane_offset_m: float = 0.0) -> Decoded:
    return Decoded(speed_m_s, 0.0, 13.9, np.zeros(2), True, lane_offset_m, 0.0, 0.0, WIDTH_M, "none", math.inf,
                   np.zeros((K_OBJECTS, len(OBJECT_FIELDS))))


def _users(*rows) -> Users:
    """Rows (x from the ego's centre, y, absolute vx) of cars."""
    a = np.array(rows, np.float64).reshape(-1, 3)
    n = len(a)
    return Users(a[:, 0], a[:, 1], a[:, 2], np.zeros(n), np.full(n, 4.6), np.full(n, 1.9), np.ones(n, bool))


def _route(command: str, distance_m: float, offset_m: float = 0.0) -> RouteGuidance:
    """A straight route line ``offset_m`` left of the car."""
    x = 5.0 * np.arange(1, N_WAYPOINTS + 1)
    return RouteGuidance(command, distance_m, np.column_stack([x, np.full(N_WAYPOINTS, offset_m)]))


def test_route_offset_is_where_the_line_passes_the_car():
    assert route_offset_m(_route("follow_lane", 50.0, 3.5)) == pytest.approx(3.5)
    wp = np.column_stack([5.0 * np.arange(1, N_WAYPOINTS + 1), 1.0 + 0.1 * 5.0 * np.arange(1, N_WAYPOINTS + 1)])
    assert route_offset_m(RouteGuidance("follow_lane", 50.0, wp)) == pytest.approx(1.0)  # a line at a slant


def _step(memory: Overtake, change: RouteLaneChange, v: float, users: Users, route: RouteGuidance) -> None:
    f = _decoded(v)
    memory.update(f, users, route, 13.0)
    change.update(f, route, memory)


def _in_view(x_m: float, y_m: float) -> bool:
    x = x_m - CAMERA_MOUNT.forward_m
    return x > 1.0 and abs(math.degrees(math.atan2(y_m, x))) < CAMERA_MOUNT.hfov_deg / 2


def test_a_car_seen_in_the_target_lane_holds_the_change_until_it_has_gone_by():
    memory, change = Overtake(), RouteLaneChange()
    v, v_car, dt = 10.0, 9.0, memory.cfg.dt_s
    # a car in the lane to the left, 1 m/s slower, seen ahead and then level with the car, out of the camera's
    # view: the route's change left comes due once it is beside the car
    x_car = 20.0  # its rear, from the ego's centre [m]
    while x_car > 0.0:
        seen = _users((x_car, WIDTH_M, v_car)) if _in_view(x_car, WIDTH_M) else _users()
        _step(memory, change, v, seen, _route("change_lane_left", 30.0))
        x_car += (v_car - v) * dt
    assert not change.holding and not change.moving  # not due yet
    _step(memory, change, v, _users(), _route("change_lane_left", 4.0))
    assert change.holding and change.keeps_lane and not change.moving
    assert change.speed_cap_m_s() == pytest.approx(v_car - change.cfg.yield_margin_m_s)  # falls back behind it
    # slowing as the cap asks, the car drops back until that car is far enough ahead: then it goes
    steps = 0
    while change.holding and steps < 400:
        v = max(min(v, change.speed_cap_m_s()), 0.0)
        x_car += (v_car - v) * dt
        seen = _users((x_car, WIDTH_M, v_car)) if _in_view(x_car, WIDTH_M) else _users()
        _step(memory, change, v, seen, _route("change_lane_left", 4.0))
        steps += 1
    assert not change.holding and change.moving and not change.steers_route  # the driver's own blend steers
    assert x_car - EGO_LENGTH_M / 2 >= change.cfg.gap_m  # it moves over behind that car, with room


def test_a_clear_target_lane_changes_at_once_and_a_late_change_is_finished():
    memory, change = Overtake(), RouteLaneChange()
    _step(memory, change, 10.0, _users(), _route("change_lane_right", 6.0))
    assert change.moving and not change.holding
    # a change held past its blend: the route line lies a lane to the right, the command is the next one
    memory, change = Overtake(), RouteLaneChange()
    _step(memory, change, 10.0, _users(), _route("follow_lane", 80.0, -WIDTH_M))
    assert change.steers_route and change.lookahead_m(10.0) == pytest.approx(30.0)
    _step(memory, change, 10.0, _users(), _route("follow_lane", 80.0, -0.3))  # on the line again: done
    assert not change.moving and not change.steers_route


def test_a_route_line_too_far_off_is_followed_even_into_a_taken_lane():
    memory, change = Overtake(), RouteLaneChange()
    car_beside = _users((0.0, -WIDTH_M - 0.2, 10.0))
    _step(memory, change, 10.0, car_beside, _route("follow_lane", 80.0, -2.5))
    assert change.holding
    _step(memory, change, 10.0, car_beside, _route("follow_lane", 80.0, -3.2))  # 4.5 m off loses the route
    assert change.steers_route and not change.holding


def test_a_car_behind_catching_up_is_let_by_and_a_slower_one_left_behind():
    memory, change = Overtake(), RouteLaneChange()
    # (a car behind our way is one seen ahead before: its track's place is its rear)
    _step(memory, change, 10.0, _users((-8.0, WIDTH_M, 12.0)), _route("change_lane_left", 5.0))
    assert change.holding and change.speed_cap_m_s() == pytest.approx(10.0)  # lets the faster car by
    memory, change = Overtake(), RouteLaneChange()
    _step(memory, change, 10.0, _users((-11.0, WIDTH_M, 6.0)), _route("change_lane_left", 5.0))
    assert change.holding and math.isinf(change.speed_cap_m_s())  # drives on: the gap behind it grows


def test_the_driver_keeps_its_lane_while_the_change_is_held():
    driver = RuleBasedPolicy()
    f = _decoded(10.0)
    due = _route("change_lane_left", 4.0, 0.2)
    assert driver._route_steers(f, due)
    driver.lane_change.holding = True
    assert not driver._route_steers(f, due)


def test_the_overtakes_memory_moves_with_the_car_into_another_lane():
    memory = Overtake()
    memory.update(_decoded(10.0, 1.6), _users((30.0, WIDTH_M - 1.6, 10.0)), None, 13.0)  # a car in the left lane
    assert memory.tracks[0].lat_m == pytest.approx(WIDTH_M, abs=0.01)
    memory.update(_decoded(10.0, -1.7), _users(), None, 13.0)  # over the line: the seen lane is the left one now
    assert memory.tracks[0].lat_m == pytest.approx(0.0, abs=0.01)  # that car is in the home lane


def test_a_turns_arc_ahead_is_no_late_change():
    memory, change = Overtake(), RouteLaneChange()
    s = 5.0 * np.arange(1, N_WAYPOINTS + 1)
    arc = np.column_stack([12.0 * np.sin(s / 12.0), 12.0 * (1.0 - np.cos(s / 12.0))])  # a 12-m left turn from here
    _step(memory, change, 5.0, _users(), RouteGuidance("left", 20.0, arc))
    assert not change.moving and not change.holding
