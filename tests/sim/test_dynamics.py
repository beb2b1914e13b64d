"""Closed-form checks of the ego kinematic bicycle model."""

import math

import pytest

from sim.dynamics import BicycleParams, EgoState, bicycle_step

P = BicycleParams()


def run(state, steer_cmd, accel_cmd, dt_s, n, params=P):
    for _ in range(n):
        state = bicycle_step(state, steer_cmd, accel_cmd, dt_s, params)
    return state


def test_straight_constant_accel_matches_closed_form():
    v0, t = 10.0, 4.0
    a = 0.5 * P.max_accel_m_s2
    s = run(EgoState(speed_m_s=v0), 0.0, 0.5, 0.1, 40)
    assert s.x_m == pytest.approx(v0 * t + 0.5 * a * t * t, abs=1e-9)
    assert s.y_m == pytest.approx(0.0, abs=1e-12)
    assert s.speed_m_s == pytest.approx(v0 + a * t, abs=1e-9)
    assert s.accel_m_s2 == pytest.approx(a)


def test_speed_cap():
    v0, a = 44.0, P.max_accel_m_s2
    s = run(EgoState(speed_m_s=v0), 0.0, 1.0, 0.1, 10)
    t_cap = (P.max_speed_m_s - v0) / a
    expected = v0 * t_cap + 0.5 * a * t_cap**2 + P.max_speed_m_s * (1.0 - t_cap)
    assert s.speed_m_s == P.max_speed_m_s
    assert s.x_m == pytest.approx(expected, abs=1e-9)


def test_braking_stops_and_never_reverses():
    v0, b = 10.0, P.max_brake_m_s2
    s = run(EgoState(speed_m_s=v0), 0.0, -1.0, 0.1, 30)
    assert s.speed_m_s == 0.0
    assert s.x_m == pytest.approx(v0 * v0 / (2 * b), abs=1e-9)
    s2 = run(s, 0.0, -1.0, 0.1, 10)
    assert s2.x_m == s.x_m and s2.speed_m_s == 0.0
    assert s2.accel_m_s2 == 0.0  # a stopped car realises no deceleration


def test_constant_steer_drives_circle_of_closed_form_radius():
    steer_cmd, v = 0.3, 10.0
    delta = steer_cmd * P.max_steer_rad
    beta = math.atan(0.5 * math.tan(delta))
    radius = P.wheelbase_m / (math.cos(beta) * math.tan(delta))
    period = 2 * math.pi * radius / v
    n = 400
    dt = period / n
    state = EgoState(speed_m_s=v, steer_rad=delta)
    # Left turn: circle centre lies to the left of the initial travel direction (yaw + beta).
    cx, cy = -radius * math.sin(beta), radius * math.cos(beta)
    for _ in range(n):
        state = bicycle_step(state, steer_cmd, 0.0, dt, P)
        assert math.hypot(state.x_m - cx, state.y_m - cy) == pytest.approx(radius, rel=1e-9)
    assert math.hypot(state.x_m, state.y_m) < 1e-6
    assert abs(state.yaw_rad) < 1e-9
    assert state.yaw_rate_rad_s == pytest.approx(v / radius, rel=1e-9)


def test_positive_steer_turns_left_negative_right():
    left = run(EgoState(speed_m_s=10.0), 1.0, 0.0, 0.1, 5)
    right = run(EgoState(speed_m_s=10.0), -1.0, 0.0, 0.1, 5)
    assert left.yaw_rad > 0 and left.y_m > 0
    assert right.yaw_rad < 0 and right.y_m < 0
    assert left.yaw_rad == pytest.approx(-right.yaw_rad)


def test_steering_slew_limit():
    dt = 0.1
    state = EgoState(speed_m_s=5.0)
    prev = state.steer_rad
    for _ in range(10):
        state = bicycle_step(state, 1.0, 0.0, dt, P)
        assert state.steer_rad - prev <= P.max_steer_rate_rad_s * dt + 1e-12
        prev = state.steer_rad
    first = bicycle_step(EgoState(), 1.0, 0.0, dt, P)
    assert first.steer_rad == pytest.approx(P.max_steer_rate_rad_s * dt)
    assert state.steer_rad == pytest.approx(P.max_steer_rad)  # reaches, never exceeds target


def test_input_not_mutated_and_copy_independent():
    s = EgoState(speed_m_s=3.0)
    c = s.copy()
    bicycle_step(s, 0.5, 0.5, 0.1, P)
    assert s == c
    c.x_m = 1.0
    assert s.x_m == 0.0


@pytest.mark.parametrize(
    "field,value",
    [
        ("wheelbase_m", 0.0),
        ("max_steer_rad", -0.1),
        ("max_steer_rad", 2.0),
        ("max_steer_rate_rad_s", 0.0),
        ("max_accel_m_s2", -1.0),
        ("max_brake_m_s2", float("nan")),
        ("max_speed_m_s", 0.0),
        ("drag_1_m", -0.01),
    ],
)
def test_bad_params_raise_with_field_name(field, value):
    with pytest.raises(ValueError, match=field):
        BicycleParams(**{field: value})


def test_bad_step_arguments():
    with pytest.raises(ValueError, match="dt_s"):
        bicycle_step(EgoState(), 0.0, 0.0, 0.0, P)
    with pytest.raises(ValueError, match="substeps"):
        bicycle_step(EgoState(), 0.0, 0.0, 0.1, P, substeps=0)
