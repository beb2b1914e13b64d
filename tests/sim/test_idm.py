"""Closed-form and scenario checks of the IDM and MOBIL models."""

import warnings

import numpy as np
import pytest

from sim.idm import IDMParams, MOBILParams, idm_accel, mobil_decide, mobil_gain

P = IDMParams()
M = MOBILParams()


def test_free_road_matches_closed_form():
    v = np.array([0.0, 5.0, 10.0, 20.0, 29.0])
    v0 = 30.0
    acc = idm_accel(v, v0, np.inf, 0.0, P)
    np.testing.assert_allclose(acc, P.a_m_s2 * (1 - (v / v0) ** P.delta), rtol=1e-12)
    # v_lead is irrelevant on a free road, even if it is NaN or inf.
    np.testing.assert_allclose(idm_accel(v, v0, np.inf, np.nan, P), acc)


def test_equilibrium_gap_gives_zero_accel():
    v0 = 30.0
    v = np.array([1.0, 5.0, 15.0, 25.0])
    s_eq = (P.s0_m + v * P.T_s) / np.sqrt(1 - (v / v0) ** P.delta)
    np.testing.assert_allclose(idm_accel(v, v0, s_eq, v, P), 0.0, atol=1e-12)
    # Closer than equilibrium brakes, farther accelerates.
    assert np.all(idm_accel(v, v0, 0.9 * s_eq, v, P) < 0)
    assert np.all(idm_accel(v, v0, 1.1 * s_eq, v, P) > 0)


def test_broadcasting_shapes():
    acc = idm_accel(np.zeros((3, 1)), np.full((1, 4), 20.0), 50.0, 0.0, P)
    assert acc.shape == (3, 4)


def test_gap_nonpositive_gives_max_braking_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        acc = idm_accel(np.array([0.0, 10.0, 10.0, 10.0]), 30.0, np.array([0.0, -1.0, 1e-300, -np.inf]), 0.0, P)
    np.testing.assert_array_equal(acc, -P.max_brake_m_s2)


def test_output_is_clipped():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        acc = idm_accel(np.array([40.0, 10.0, 0.0]), np.array([10.0, 0.0, 0.0]), np.inf, 0.0, P)
    np.testing.assert_array_equal(acc, [-P.max_brake_m_s2, -P.max_brake_m_s2, 0.0])
    assert np.all(idm_accel(np.linspace(0, 40, 50), 30.0, np.linspace(0.1, 200, 50), 0.0, P) >= -P.max_brake_m_s2)


def test_approach_stopped_leader_stops_without_collision():
    dt, v, x, lead_x = 0.05, 15.0, 0.0, 80.0
    assert idm_accel(v, 30.0, lead_x - x, 0.0, P) < 0  # brakes right away
    min_gap = np.inf
    for _ in range(int(60.0 / dt)):
        a = float(idm_accel(v, 30.0, lead_x - x, 0.0, P))
        v = max(0.0, v + a * dt)
        x += v * dt
        min_gap = min(min_gap, lead_x - x)
    assert min_gap > 0.9 * P.s0_m
    assert v < 1e-3
    assert lead_x - x == pytest.approx(P.s0_m, abs=0.25)


def test_mobil_prefers_faster_free_lane():
    # Own lane: blocked by a slow leader; target lane free. No followers anywhere.
    a_now = idm_accel(20.0, 30.0, 15.0, 10.0, P)
    a_new = idm_accel(20.0, 30.0, np.inf, 0.0, P)
    gain, safe = mobil_gain(a_now, a_new, 0.0, 0.0, 0.0, 0.0, M, to_right=np.array([False, True]))
    assert gain.shape == (2,) and safe.all()
    assert np.all(mobil_decide(gain, safe, M))
    np.testing.assert_allclose(gain[1] - gain[0], 2 * M.bias_right_m_s2)


def test_mobil_refuses_unsafe_gap():
    a_now = idm_accel(20.0, 30.0, 15.0, 10.0, P)
    a_new = idm_accel(20.0, 30.0, np.inf, 0.0, P)
    # New follower at 30 m/s only 3 m behind: would have to brake hard.
    a_nf_now = idm_accel(30.0, 30.0, np.inf, 0.0, P)
    a_nf_new = idm_accel(30.0, 30.0, 3.0, 20.0, P)
    gain, safe = mobil_gain(a_now, a_new, a_nf_now, a_nf_new, 0.0, 0.0, M, to_right=False)
    assert not safe
    assert not mobil_decide(gain, safe, M)


def test_mobil_politeness_and_no_gain_stays():
    gain, safe = mobil_gain(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, M, to_right=np.array([True, False]))
    np.testing.assert_allclose(gain, [M.bias_right_m_s2, -M.bias_right_m_s2])
    assert not mobil_decide(gain, safe, M).any()  # bias alone is below the threshold
    gain, _ = mobil_gain(0.0, 1.0, 0.0, -1.0, 0.0, 0.5, M, to_right=False)
    assert gain == pytest.approx(1.0 + M.politeness * (-1.0 + 0.5) - M.bias_right_m_s2)


@pytest.mark.parametrize("field", ["T_s", "s0_m", "a_m_s2", "b_m_s2", "delta", "max_brake_m_s2"])
def test_bad_idm_params(field):
    with pytest.raises(ValueError, match=field):
        IDMParams(**{field: 0.0})


def test_bad_mobil_params():
    with pytest.raises(ValueError, match="politeness"):
        MOBILParams(politeness=-0.1)
