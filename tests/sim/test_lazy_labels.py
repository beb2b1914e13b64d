"""The object list is built on first read; reading it late must give what reading it at once gives."""

import gymnasium as gym
import numpy as np

import sim  # noqa: F401  (registers the envs)
from sim.kernels import idm_scalar
from sim.idm import IDMParams, idm_accel, idm_free_term


def _rollout(read_at_once: bool, camera: bool):
    env = gym.make("drivestack/Town-v0", render_camera=camera).unwrapped
    obs, info = env.reset(seed=5)
    gts, objects = [info["ground_truth"]], []
    for _ in range(40):
        obs, _, term, trunc, info = env.step(np.array([0.0, 0.3], np.float32))
        gts.append(info["ground_truth"])
        if read_at_once:
            objects.append(info["ground_truth"].objects)
        if term or trunc:
            break
    if not read_at_once:
        objects = [gt.objects for gt in gts[1:]]
    return objects


def test_late_read_objects_equal_immediate_read():
    for camera in (False, True):
        assert _rollout(True, camera) == _rollout(False, camera)


def test_idm_scalar_matches_idm_accel_bitwise():
    rng = np.random.default_rng(0)
    p = IDMParams()
    v, v0 = rng.uniform(0, 30, 500), rng.uniform(0, 30, 500)
    gap = np.where(rng.random(500) < 0.2, np.inf, rng.uniform(-2, 80, 500))
    v_lead = rng.uniform(0, 30, 500)
    ref = idm_accel(v, v0, gap, v_lead, p)
    free = idm_free_term(v, v0, p)
    two_sqrt_ab = 2.0 * np.sqrt(p.a_m_s2 * p.b_m_s2)
    got = np.array([idm_scalar(v[i], free[i], gap[i], v_lead[i], p.T_s, p.s0_m, p.a_m_s2, float(two_sqrt_ab),
                               p.max_brake_m_s2) for i in range(500)])
    assert np.array_equal(ref, got)
