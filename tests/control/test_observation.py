"""PerceptionObservation with either perception producer: the gymnasium contract (check_env), same-seed
determinism, and the one interface it calls both through."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import sim  # noqa: F401
from control.observation import PerceptionObservation
from perception.ground_truth import GroundTruthPerception, PerceptionNoise
from perception.pipeline import DEFAULT_DETECTOR, DEFAULT_HYDRANET, Perception

SHORT = {"scenario": {"route_length_m": 150.0}}
# the wrapper holds a producer object, so gymnasium cannot re-make it from its spec for the close check;
# closing is the DriveEnv's own, checked in tests/sim/test_env.py
CHECKS = {"skip_render_check": True, "skip_close_check": True}
shipped = pytest.mark.skipif(not (DEFAULT_DETECTOR.is_file() and DEFAULT_HYDRANET.is_file()), reason="no shipped models")


def _labels_env() -> gym.Env:
    """Labels with the shipped models' measured noise, on a camera-less env (the training set-up)."""
    return PerceptionObservation(gym.make("drivestack/Town-v0", render_camera=False, config=SHORT),
                                 GroundTruthPerception(PerceptionNoise(), seed=3))


def _models_env() -> gym.Env:
    return PerceptionObservation(gym.make("drivestack/Town-v0", config=SHORT), Perception.from_files())


def _rollout(env: gym.Env, seed: int, steps: int) -> tuple[list[np.ndarray], list]:
    obs, info = env.reset(seed=seed)
    observations, frames = [obs], [info.get("perception")]
    for k in range(steps):
        obs, _, terminated, truncated, info = env.step([0.1 * np.sin(k / 5.0), 0.4])
        observations.append(obs)
        frames.append(info["perception"])
        if terminated or truncated:
            break
    return observations, frames


def _same(a, b) -> None:
    (obs_a, pf_a), (obs_b, pf_b) = a, b
    assert len(obs_a) == len(obs_b)
    for x, y in zip(obs_a, obs_b):
        np.testing.assert_array_equal(x, y)
    for x, y in zip(pf_a[1:], pf_b[1:]):  # the reset's info carries no frame
        np.testing.assert_array_equal(x.detections.xyxy, y.detections.xyxy)
        np.testing.assert_array_equal(x.detections.velocity_m_s, y.detections.velocity_m_s)
        assert (x.lane, x.light_state, x.light_distance_m, x.lead_index) == (y.lane, y.light_state, y.light_distance_m, y.lead_index)


def test_check_env_from_labels_without_camera():
    env = _labels_env()
    check_env(env, **CHECKS)
    assert env.source == "labels"


def test_same_seed_same_observations_from_labels():
    env = _labels_env()
    first = _rollout(env, 7, 40)
    assert any(len(pf.detections) for pf in first[1][1:])  # the noise draws something to compare
    _same(first, _rollout(env, 7, 40))
    _same(first, _rollout(_labels_env(), 7, 40))  # a fresh env and producer too


@shipped
def test_check_env_from_the_models():
    env = _models_env()
    check_env(env, **CHECKS)
    assert env.source == "models"


@shipped
def test_same_seed_same_observations_from_the_models():
    env = _models_env()
    first = _rollout(env, 7, 12)  # the second rollout starts after reset: tracks and carried outputs forgotten
    _same(first, _rollout(env, 7, 12))


def test_the_models_refuse_a_camera_less_env():
    class _Models:  # any producer that reads pixels: asked by its needs_camera, not by its type
        kind, needs_camera = "models", True

    with pytest.raises(ValueError, match="render_camera=True"):
        PerceptionObservation(gym.make("drivestack/Town-v0", render_camera=False, config=SHORT), _Models())


def test_both_producers_are_called_the_same_way():
    """A producer is whatever has kind, needs_camera, reset(seed) and process(frame, truth, prior)."""

    class _Recorder(GroundTruthPerception):
        calls: list = []

        def reset(self, seed=None):
            self.calls.append(("reset", seed))
            super().reset(seed)

        def process(self, frame, truth=None, prior=None):
            self.calls.append(("process", frame.index, frame.image.shape, truth is not None))
            return super().process(frame, truth, prior)

    env = PerceptionObservation(gym.make("drivestack/Town-v0", render_camera=False, config=SHORT), _Recorder())
    env.reset(seed=5)
    env.step([0.0, 0.2])
    assert _Recorder.calls == [("reset", 5), ("process", 0, (0, 0, 3), True), ("process", 1, (0, 0, 3), True)]


def test_a_navigation_world_tells_perception_where_its_map_puts_the_next_signal():
    """The wrapper hands the producer the map's ``SignalPrior`` in a navigation world, None in the straight town."""
    from control.route_features import LAYOUT_V2_ID
    from perception.types import SignalPrior

    priors = []

    class _Recorder(GroundTruthPerception):
        def process(self, frame, truth=None, prior=None):
            priors.append(prior)
            return super().process(frame, truth, prior)

    nav = gym.make("drivestack/TownNav-v0", render_camera=False, config={"scenario": {"route_length_m": 300.0}})
    _, info = PerceptionObservation(nav, _Recorder(), layout=LAYOUT_V2_ID).reset(seed=40)
    assert priors[-1] == SignalPrior.from_labels(info["ground_truth"].ego) and priors[-1].signal_ahead
    PerceptionObservation(gym.make("drivestack/Town-v0", render_camera=False, config=SHORT), _Recorder()).reset(seed=5)
    assert priors[-1] is None
