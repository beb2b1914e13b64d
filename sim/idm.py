"""Traffic driver models, vectorised over vehicles.

* IDM (Intelligent Driver Model, Treiber et al. 2000) for car following.
* MOBIL (Kesting, Treiber, Helbing 2007) incentive and safety criteria for
  lane changes, with a keep-right bias for right-hand traffic.

All functions take numpy arrays (or scalars) that broadcast together and
return float / bool arrays; no Python loop over vehicles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from common.vocab import MAX_BRAKE_M_S2

_MIN_GAP_M = 1e-6  # floor for positive gaps so (s*/s)^2 cannot overflow [m]
_MAX_SPEED_RATIO = 1e3  # cap on v / v_desired before the power, avoids overflow [-]


def _check_positive(obj: object) -> None:
    for f in fields(obj):
        value = getattr(obj, f.name)
        if not (math.isfinite(value) and value > 0.0):
            raise ValueError(
                f"{type(obj).__name__}.{f.name}={value!r} is outside the allowed range (0, inf)"
            )


@dataclass(frozen=True)
class IDMParams:
    """IDM car-following parameters."""

    T_s: float = 1.5  # desired time headway [s]
    s0_m: float = 2.0  # minimum bumper-to-bumper gap at standstill [m]
    a_m_s2: float = 1.5  # maximum acceleration [m/s^2]
    b_m_s2: float = 2.0  # comfortable deceleration [m/s^2]
    delta: float = 4.0  # free-road acceleration exponent [-]
    max_brake_m_s2: float = MAX_BRAKE_M_S2  # physical braking limit; output clipped to >= -this [m/s^2]

    def __post_init__(self) -> None:
        _check_positive(self)


def idm_accel(v, v_desired, gap_m, v_lead, params: IDMParams) -> np.ndarray:
    """IDM acceleration [m/s^2], clipped to [-max_brake_m_s2, a_m_s2].

    v: own speed [m/s]; v_desired: desired speed [m/s]; gap_m: bumper-to-bumper
    gap to the leader [m], np.inf for free road; v_lead: leader speed [m/s]
    (ignored where gap is inf).  gap <= 0 (overlap) returns maximum braking.
    """
    p = params
    v = np.asarray(v, dtype=float)
    gap = np.asarray(gap_m, dtype=float)
    v_lead = np.asarray(v_lead, dtype=float)
    free = idm_free_term(v, v_desired, p)

    # Interaction term (s*/s)^2; a free road (gap = inf) contributes nothing.
    finite = np.isfinite(gap)
    dv = np.where(finite, v - np.where(finite, v_lead, 0.0), 0.0)  # approach rate [m/s]
    s_star = p.s0_m + np.maximum(0.0, v * p.T_s + v * dv / (2.0 * math.sqrt(p.a_m_s2 * p.b_m_s2)))
    gap_safe = np.maximum(np.where(gap > 0.0, gap, 1.0), _MIN_GAP_M)
    interaction = np.where(finite, (s_star / np.where(finite, gap_safe, 1.0)) ** 2, 0.0)

    acc = p.a_m_s2 * (1.0 - free - interaction)
    acc = np.where(gap > 0.0, acc, -p.max_brake_m_s2)
    return np.clip(acc, -p.max_brake_m_s2, p.a_m_s2)


def idm_free_term(v, v_desired, params: IDMParams) -> np.ndarray:
    """IDM's free-road term (v / v_desired)^delta [-], element-wise.

    v_desired <= 0 is the limit v_desired -> 0+: a moving car brakes hard (ratio capped), a
    stopped one is content (ratio 1). Kept in numpy (also for ``kernels.traffic_accel``):
    numpy's vectorised power and libm's pow differ in the last bit for some inputs.
    """
    v_pos = np.maximum(np.asarray(v, dtype=float), 0.0)
    v0 = np.asarray(v_desired, dtype=float)
    if v_pos.shape != v0.shape:  # (broadcast_arrays costs more than the rest when the shapes agree)
        v_pos, v0 = np.broadcast_arrays(v_pos, v0)
    ratio = np.where(v_pos > 0.0, _MAX_SPEED_RATIO, 1.0)
    np.divide(v_pos, v0, out=ratio, where=v0 > 0.0)
    return np.minimum(ratio, _MAX_SPEED_RATIO) ** params.delta


@dataclass(frozen=True)
class MOBILParams:
    """MOBIL lane-change parameters (right-hand traffic)."""

    politeness: float = 0.3  # weight of other drivers' advantage [-]
    threshold_m_s2: float = 0.2  # minimum net gain to change lane [m/s^2]
    safe_decel_m_s2: float = 4.0  # max braking imposed on the new follower [m/s^2]
    bias_right_m_s2: float = 0.1  # keep-right bias: added moving right, subtracted moving left [m/s^2]

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(
                    f"MOBILParams.{f.name}={value!r} is outside the allowed range [0, inf)"
                )


def mobil_gain(
    a_self_now,
    a_self_new,
    a_newfollower_now,
    a_newfollower_new,
    a_oldfollower_now,
    a_oldfollower_new,
    params: MOBILParams,
    to_right,
) -> tuple[np.ndarray, np.ndarray]:
    """MOBIL incentive gain [m/s^2] and safety flag for a candidate lane change.

    All accelerations are IDM accelerations [m/s^2] before ("now") and after
    ("new") the hypothetical change.  For a missing follower pass equal now/new
    values (e.g. 0): its term vanishes and it is trivially safe.
    to_right: bool array, True where the candidate target lane is to the right.
    Change lane where gain > threshold_m_s2 and safe (see ``mobil_decide``).
    """
    p = params
    own = np.asarray(a_self_new, dtype=float) - np.asarray(a_self_now, dtype=float)
    others = (np.asarray(a_newfollower_new, dtype=float) - np.asarray(a_newfollower_now, dtype=float)) + (
        np.asarray(a_oldfollower_new, dtype=float) - np.asarray(a_oldfollower_now, dtype=float)
    )
    bias = np.where(np.asarray(to_right, dtype=bool), p.bias_right_m_s2, -p.bias_right_m_s2)
    gain = own + p.politeness * others + bias
    safe = np.asarray(a_newfollower_new, dtype=float) >= -p.safe_decel_m_s2
    gain, safe = np.broadcast_arrays(gain, safe)
    return gain.copy(), safe.copy()


def mobil_decide(gain, safe, params: MOBILParams) -> np.ndarray:
    """True where the lane change should be made: gain above threshold and safe."""
    return (np.asarray(gain) > params.threshold_m_s2) & np.asarray(safe, dtype=bool)
