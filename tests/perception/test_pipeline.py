"""The perception pipeline: stage wiring, lane from the multi-task net, track velocities."""

import gymnasium as gym
import numpy as np
import pytest

import sim  # noqa: F401
from perception.pipeline import DEFAULT_HYDRANET, Perception, _TrackHistory
from perception.types import Frame


def test_track_history_velocity():
    h = _TrackHistory()
    ids = np.array([7, 9])
    v0 = h.update(0.0, ids, np.array([[20.0, 0.0], [10.0, 2.0]]))
    assert np.isnan(v0).all()  # first sighting: no velocity yet
    h.update(0.05, ids, np.array([[19.9, 0.0], [10.0, 2.05]]))
    v2 = h.update(0.10, ids, np.array([[19.8, 0.0], [10.0, 2.10]]))
    assert v2 == pytest.approx(np.array([[-2.0, 0.0], [0.0, 1.0]]))  # slope through three sightings
    v3 = h.update(0.15, np.array([9, -1]), np.array([[10.0, 2.15], [5.0, 5.0]]))
    assert v3[0] == pytest.approx([0.0, 1.0]) and np.isnan(v3[1]).all()  # untracked rows get NaN


def test_track_velocity_averages_out_distance_jitter_and_drops_jumps():
    rng = np.random.default_rng(0)
    h = _TrackHistory()
    t = np.arange(20) * 0.05
    true = 30.0 - 5.0 * t  # closing at 5 m/s, +-3 % range jitter per frame
    for k in range(20):
        v = h.update(float(t[k]), np.array([1]), np.array([[true[k] * (1 + rng.normal(0, 0.03)), 0.0]]))
    assert abs(v[0, 0] + 5.0) < 3.0  # a one-frame difference would be off by ~25 m/s
    jumped = h.update(1.0, np.array([1]), np.array([[80.0, 0.0]]))  # the track jumped to a far object
    assert np.isnan(jumped).all()


@pytest.mark.skipif(not DEFAULT_HYDRANET.is_file(), reason="no shipped multi-task model")
def test_pipeline_lane_from_the_shipped_network():
    from perception.hydranet import HydraNet

    perception = Perception(None, HydraNet.load(DEFAULT_HYDRANET, device="cpu"))
    env = gym.make("drivestack/Highway-v0", config={"scenario": {"route_length_m": 200}})
    obs, info = env.reset(seed=10_011)
    errors = []
    for step in range(30):
        obs, _, _, _, info = env.step([0.02 * np.sin(step / 4), 0.2])
        if step % 10 == 9:
            pf = perception.process(Frame(obs["image"], step * 0.05, step, "sim"))
            assert set(pf.timings_ms) == {"detector", "multitask", "geometry", "total"}
            assert pf.drivable.shape == obs["image"].shape[:2] and len(pf.detections) == 0
            errors.append(abs(pf.lane.offset_m - info["ground_truth"].ego.lane_offset_m))
    assert np.median(errors) < 0.1
