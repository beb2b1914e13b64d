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
    v1 = h.update(0.5, ids, np.array([[19.0, 0.0], [10.0, 2.5]]))
    assert v1 == pytest.approx(np.array([[-2.0, 0.0], [0.0, 1.0]]))
    v2 = h.update(1.0, np.array([9, -1]), np.array([[10.0, 3.0], [5.0, 5.0]]))
    assert v2[0] == pytest.approx([0.0, 1.0]) and np.isnan(v2[1]).all()  # untracked rows get NaN


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
