"""Ego vehicle kinematic bicycle model.

Frame: x east [m], y north [m], yaw 0 along +x, yaw counter-clockwise positive.
Positive steering turns the car LEFT (yaw increases).

Reference point: the vehicle CENTRE (x_m, y_m is the point midway between the
axles, lr = L/2).  With the standard kinematic slip angle

    beta = atan(lr / L * tan(delta))

the centre moves along heading ``yaw + beta`` at ``speed`` and the body turns at

    yaw_rate = speed * cos(beta) * tan(delta) / L,

so at constant steering the centre drives a circle of radius
``R = L / (cos(beta) * tan(delta))``.

Integration: each step is split into ``substeps`` equal sub-steps.  Within a
sub-step the wheel angle is held at the midpoint of its (slew-limited) motion,
so curvature is constant and the centre follows an exact circular arc whose
length is the exact distance travelled under constant acceleration with speed
clamped to [0, max_speed].  Constant-steer / constant-accel motion is therefore
reproduced to round-off, not to Euler accuracy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from common.vocab import EGO_WHEELBASE_M, MAX_ACCEL_M_S2, MAX_BRAKE_M_S2, MAX_STEER_RAD


@dataclass(frozen=True)
class BicycleParams:
    """Ego vehicle geometry and actuator limits."""

    wheelbase_m: float = EGO_WHEELBASE_M  # axle-to-axle distance L [m]
    max_steer_rad: float = MAX_STEER_RAD  # wheel angle at steer_cmd = +/-1 [rad], must be < pi/2
    max_steer_rate_rad_s: float = 1.2  # steering actuator slew limit [rad/s]
    max_accel_m_s2: float = MAX_ACCEL_M_S2  # longitudinal accel at accel_cmd = +1 [m/s^2]
    max_brake_m_s2: float = MAX_BRAKE_M_S2  # deceleration at accel_cmd = -1 [m/s^2]
    max_speed_m_s: float = 45.0  # speed cap [m/s]
    drag_1_m: float = 0.0  # quadratic drag, decel = drag_1_m * v^2 [1/m]; 0 keeps closed form

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "drag_1_m":
                ok, allowed = math.isfinite(value) and value >= 0.0, "[0, inf)"
            elif f.name == "max_steer_rad":
                ok, allowed = 0.0 < value < math.pi / 2, "(0, pi/2)"
            else:
                ok, allowed = math.isfinite(value) and value > 0.0, "(0, inf)"
            if not ok:
                raise ValueError(
                    f"BicycleParams.{f.name}={value!r} is outside the allowed range {allowed}"
                )


@dataclass
class EgoState:
    """Ego vehicle state at the vehicle centre (see module docstring for the frame)."""

    x_m: float = 0.0  # centre position east [m]
    y_m: float = 0.0  # centre position north [m]
    yaw_rad: float = 0.0  # body heading, wrapped to [-pi, pi) [rad]
    speed_m_s: float = 0.0  # speed of the centre along yaw + beta, >= 0 [m/s]
    steer_rad: float = 0.0  # actual front wheel angle, + = left [rad]
    accel_m_s2: float = 0.0  # mean longitudinal accel realised over the last step [m/s^2]
    yaw_rate_rad_s: float = 0.0  # mean yaw rate over the last step [rad/s]

    def copy(self) -> "EgoState":
        return replace(self)


def _wrap_angle(a: float) -> float:
    """Wrap to [-pi, pi)."""
    return (a + math.pi) % (2.0 * math.pi) - math.pi


def _distance_and_speed(v0: float, a: float, h: float, v_max: float) -> tuple[float, float]:
    """Exact distance [m] and end speed [m/s] after h [s] at accel a, speed clamped to [0, v_max]."""
    if a > 0.0:
        if v0 >= v_max:
            return v_max * h, v_max
        t_cap = (v_max - v0) / a  # time to hit the speed cap [s]
        if t_cap < h:
            return v0 * t_cap + 0.5 * a * t_cap * t_cap + v_max * (h - t_cap), v_max
    elif a < 0.0:
        t_stop = v0 / -a  # time to standstill [s]; no reversing after that
        if t_stop < h:
            return 0.5 * v0 * t_stop, 0.0
    return v0 * h + 0.5 * a * h * h, v0 + a * h


def bicycle_step(
    state: EgoState,
    steer_cmd: float,
    accel_cmd: float,
    dt_s: float,
    params: BicycleParams,
    substeps: int = 2,
) -> EgoState:
    """Advance the ego by dt_s [s]; returns a new EgoState (input is not modified).

    steer_cmd, accel_cmd are normalised in [-1, 1] (clipped here as well).
    steer_cmd * max_steer_rad is the target wheel angle, approached at most
    max_steer_rate_rad_s.  accel_cmd > 0 scales max_accel_m_s2, < 0 scales
    max_brake_m_s2.  Speed stays in [0, max_speed_m_s]: braking stops, never reverses.
    """
    if not dt_s > 0.0:
        raise ValueError(f"dt_s={dt_s!r} must be > 0")
    if substeps < 1:
        raise ValueError(f"substeps={substeps!r} must be >= 1")

    p = params
    steer_cmd = min(1.0, max(-1.0, float(steer_cmd)))
    accel_cmd = min(1.0, max(-1.0, float(accel_cmd)))
    steer_target = steer_cmd * p.max_steer_rad  # [rad]
    accel_cmd_m_s2 = accel_cmd * (p.max_accel_m_s2 if accel_cmd > 0.0 else p.max_brake_m_s2)

    h = dt_s / substeps  # [s]
    max_dsteer = p.max_steer_rate_rad_s * h  # [rad] per sub-step
    lr_over_l = 0.5  # centre reference: lr = L/2

    x, y = float(state.x_m), float(state.y_m)
    yaw = float(state.yaw_rad)  # unwrapped during integration
    v = min(p.max_speed_m_s, max(0.0, float(state.speed_m_s)))
    v_start = v
    steer = min(p.max_steer_rad, max(-p.max_steer_rad, float(state.steer_rad)))
    yaw_start = yaw

    for _ in range(substeps):
        steer_new = steer + min(max_dsteer, max(-max_dsteer, steer_target - steer))
        delta = 0.5 * (steer + steer_new)  # midpoint wheel angle held over the sub-step
        steer = steer_new

        # Drag is evaluated at the sub-step start speed so the arc stays closed-form.
        a = accel_cmd_m_s2 - p.drag_1_m * v * v
        dist, v = _distance_and_speed(v, a, h, p.max_speed_m_s)

        tan_d = math.tan(delta)
        beta = math.atan(lr_over_l * tan_d)  # slip angle at the centre [rad]
        kappa = math.cos(beta) * tan_d / p.wheelbase_m  # path curvature [1/m]
        heading = yaw + beta  # direction of travel of the centre [rad]
        dpsi = kappa * dist  # heading change along the arc [rad]
        if abs(dpsi) < 1e-9:
            # Straight-line limit; second-order term keeps accuracy for tiny curvature.
            x += dist * math.cos(heading + 0.5 * dpsi)
            y += dist * math.sin(heading + 0.5 * dpsi)
        else:
            x += (math.sin(heading + dpsi) - math.sin(heading)) / kappa
            y += (math.cos(heading) - math.cos(heading + dpsi)) / kappa
        yaw += dpsi

    return EgoState(
        x_m=x,
        y_m=y,
        yaw_rad=_wrap_angle(yaw),
        speed_m_s=v,
        steer_rad=steer,
        accel_m_s2=(v - v_start) / dt_s,
        yaw_rate_rad_s=(yaw - yaw_start) / dt_s,
    )
