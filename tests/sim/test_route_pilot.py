"""The route-following driver's junction rules on hand-made labels: stop signs and permitted lefts."""

import math

from sim.autopilot import Autopilot
from sim.labels import EgoTruth, GroundTruth, ObjectLabel

STRAIGHT = tuple((5.0 * k, 0.0) for k in range(1, 9))


def ego(**kw) -> EgoTruth:
    base = dict(lane_offset_m=0.0, heading_error_rad=0.0, curvature_ahead_1_m=(0.0, 0.0, 0.0), lane_index=0, lanes=1,
                lane_width_m=3.5, speed_limit_m_s=8.3, light_state="none", light_stop_distance_m=math.inf,
                route_progress_m=100.0, route_length_m=1000.0, speed_m_s=0.0, route_command="straight",
                route_command_distance_m=5.0, route_waypoints_m=STRAIGHT, junction_x_m=16.0, junction_y_m=0.0,
                junction_radius_m=12.0)
    return EgoTruth(**(base | kw))


def car(x: float, y: float, yaw: float, speed: float) -> ObjectLabel:
    return ObjectLabel(7, 0, "car", None, 0, 1.0, math.hypot(x, y), x, y, yaw, speed)


def accel(pilot: Autopilot, e: EgoTruth, objects=(), v: float = 0.0) -> float:
    return float(pilot.act(GroundTruth(e, list(objects)), v)[1])


def test_stop_sign_full_stop_then_go_when_clear():
    pilot = Autopilot()
    assert accel(pilot, ego(stop_sign_distance_m=12.0, route_progress_m=90.0), v=6.0) < 0  # brakes for the line
    at_line = ego(stop_sign_distance_m=1.0)
    assert accel(pilot, at_line) > 0  # stopped at the line (1 m margin), nothing around: go
    assert accel(pilot, ego(stop_sign_distance_m=0.6, route_progress_m=100.4), v=0.5) > 0  # and keeps going


def test_stop_sign_waits_for_crossing_traffic():
    pilot = Autopilot()
    crossing = car(16.0, 30.0, -math.pi / 2, 8.0)  # coming down the cross street, 2.3 s from the box
    assert accel(pilot, ego(stop_sign_distance_m=1.0), [crossing]) <= 0
    in_box = car(16.0, 2.0, -math.pi / 2, 0.0)
    assert accel(pilot, ego(stop_sign_distance_m=1.0), [in_box]) <= 0
    leaving = car(16.0, -20.0, -math.pi / 2, 8.0)
    assert accel(pilot, ego(stop_sign_distance_m=1.0), [leaving]) > 0


def test_permitted_left_yields_to_oncoming():
    left = dict(route_command="left", route_command_distance_m=1.0, left_must_yield=True, light_state="green",
                light_stop_distance_m=1.0)
    oncoming = car(45.0, 3.5, math.pi, 10.0)  # 1.7 s from the box
    assert accel(Autopilot(), ego(**left), [oncoming]) <= 0
    assert accel(Autopilot(), ego(**left)) > 0
    protected = left | {"left_must_yield": False}
    assert accel(Autopilot(), ego(**protected), [oncoming]) > 0
