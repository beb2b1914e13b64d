"""The "models" noise profile: errors carried from frame to frame, speeds from tracks, sure range, light confusion."""

import math

import numpy as np
import pytest

from common.config import ConfigError
from perception.ground_truth import GroundTruthPerception, PerceptionNoise
from perception.model_errors import LIGHT_READ_P, LightConfusion, ObjectErrors, miss_switch_probs
from perception.types import NO_PIXELS, Frame
from sim.labels import EgoTruth, GroundTruth, ObjectLabel

DT_S = 0.05


def _gt(objects, light="none", light_m=math.inf):
    ego = EgoTruth(0.0, 0.0, (0.0, 0.0, 0.0), 0, 2, 3.5, 13.9, light, light_m, 0.0, 100.0, speed_m_s=0.0)
    return GroundTruth(ego, objects)


def _car(oid, x_m, y_m=0.0, yaw=0.0, speed=0.0):
    return ObjectLabel(oid, 0, "car", None, 0, 1.0, math.hypot(x_m, y_m), x_m, y_m, yaw, speed)


@pytest.mark.parametrize("p, run", [(0.05, 4.6), (0.3, 5.9), (0.02, 1.0)])
def test_the_miss_chain_misses_its_share_in_runs_of_its_length(p, run):
    to_miss, to_seen = miss_switch_probs(p, run)
    rng = np.random.default_rng(0)
    missed, runs, cur = [], [], 0
    m = False
    for _ in range(200_000):
        m = (rng.random() >= to_seen) if m else (rng.random() < to_miss)
        missed.append(m)
        if m:
            cur += 1
        elif cur:
            runs.append(cur)
            cur = 0
    assert np.mean(missed) == pytest.approx(p, rel=0.1)
    assert np.mean(runs) == pytest.approx(max(run, 1 / (1 - p)), rel=0.1)


def test_object_errors_keep_their_size_and_decorrelate_over_their_time():
    errs, rng = ObjectErrors(), np.random.default_rng(1)
    rows = []
    for k in range(40_000):
        r, lat, _ = errs.step(k * DT_S, [5], np.zeros(1), np.ones(1), 0.3, 0.2, 2.0, rng)
        rows.append((r[0], lat[0]))
    rows = np.array(rows)
    assert rows.std(0) == pytest.approx([0.3, 0.2], rel=0.1)
    lag = int(2.0 / DT_S)  # one correlation time: exp(-1)
    c = np.corrcoef(rows[:-lag, 0], rows[lag:, 0])[0, 1]
    assert c == pytest.approx(math.exp(-1), abs=0.08)
    assert np.corrcoef(rows[:-1, 0], rows[1:, 0])[0, 1] > 0.95  # frame to frame nearly the same


def _along_speeds(noise, x_m, frames=600, seed=0):
    """Reported speed along x of one standing car ``x_m`` ahead of a standing ego, frame after frame."""
    gtp = GroundTruthPerception(noise, seed=seed)
    out, sure = [], None
    for k in range(frames):
        pf = gtp.process(Frame(NO_PIXELS, k * DT_S, k, "sim"), _gt([_car(3, x_m)]))
        sure = pf.sure_range_m
        if len(pf.detections):
            out.append(float(pf.detections.velocity_m_s[0, 0]))
    return np.array(out), sure


def test_models_profile_speeds_come_from_tracks_and_grow_with_range():
    near, sure = _along_speeds(PerceptionNoise.named("models"), 8.0)
    far, _ = _along_speeds(PerceptionNoise.named("models"), 50.0)
    assert sure == pytest.approx(35.1, abs=0.2)  # the models' sure range at the simulator's camera
    assert np.isnan(near[:2]).all()  # a new track has no speed for its first two frames, as from the models
    near, far = near[np.isfinite(near)], far[np.isfinite(far)]
    assert np.std(near) < 0.6
    assert np.std(far) > 2.0  # metres per second of speed for a standing car 50 m off
    exact, sure_exact = _along_speeds(PerceptionNoise.named("measured"), 50.0)
    assert np.all(exact == 0.0) and sure_exact == math.inf  # the older profile: exact speeds, every range sure


def test_models_profile_misses_in_runs():
    gtp = GroundTruthPerception(PerceptionNoise.named("models"), seed=3)
    seen = [len(gtp.process(Frame(NO_PIXELS, k * DT_S, k, "sim"), _gt([_car(3, 50.0)])).detections) for k in range(20_000)]
    missed = 1 - np.array(seen)
    starts = np.flatnonzero(np.diff(missed) == 1)
    assert missed.mean() == pytest.approx(0.30, abs=0.03)
    assert missed.sum() / len(starts) == pytest.approx(5.9, rel=0.15)  # runs of ~6 frames, not single frames
    independent = GroundTruthPerception(PerceptionNoise.named("measured"), seed=3)
    seen = [len(independent.process(Frame(NO_PIXELS, k * DT_S, k, "sim"), _gt([_car(3, 50.0)])).detections)
            for k in range(20_000)]
    missed = 1 - np.array(seen)
    assert missed.sum() / len(np.flatnonzero(np.diff(missed) == 1)) < 1.6


def test_light_confusion_reads_wrong_at_the_measured_rate_in_runs():
    rng = np.random.default_rng(2)
    lights = LightConfusion(1.0, 5.0)
    reads = np.array([lights.read("green", rng) for _ in range(40_000)])
    for state, p in LIGHT_READ_P["green"].items():
        assert np.mean(reads == state) == pytest.approx(p, abs=0.02)
    wrong = reads != "green"
    assert wrong.sum() / max(np.sum(np.diff(wrong.astype(int)) == 1), 1) > 3.0
    assert LightConfusion(0.0, 5.0).read("red", rng) == "red"
    # the frame carries it, within the light's range only
    gtp = GroundTruthPerception(PerceptionNoise.named("models"), seed=0)
    states = {gtp.process(Frame(NO_PIXELS, k * DT_S, k, "sim"), _gt([], "green", 20.0)).light_state for k in range(400)}
    assert {"green", "none"} <= states
    far = {gtp.process(Frame(NO_PIXELS, k * DT_S, k, "sim"), _gt([], "green", 120.0)).light_state for k in range(50)}
    assert far == {"none"}


def test_profiles_by_name():
    assert PerceptionNoise.named(True) == PerceptionNoise() == PerceptionNoise.named("measured")
    assert PerceptionNoise.named(False) == PerceptionNoise.none() == PerceptionNoise.named("none")
    assert not PerceptionNoise().correlated and PerceptionNoise.named("models").correlated
    with pytest.raises(ConfigError, match="noise='model' is not allowed; use one of none, measured, models"):
        PerceptionNoise.named("model")
    with pytest.raises(ConfigError, match="miss_run_frames"):
        PerceptionNoise(miss_run_frames=0.5)


def test_the_training_config_takes_a_profile_and_rejects_a_wrong_one():
    from common.config import from_dict
    from control.train import PolicyTrainConfig, _harvest_world

    assert from_dict(PolicyTrainConfig, {"noise": "models"}).noise == "models"
    assert _harvest_world(from_dict(PolicyTrainConfig, {"noise": "measured"}))["noise"] is True  # older harvests match
    with pytest.raises(ConfigError, match="noise='labels' is not allowed"):
        from_dict(PolicyTrainConfig, {"noise": "labels"})


def test_a_route_through_the_models_noise_drives_the_same_twice():
    """The failure replay (control.failure_starts) restarts a route and drives it to a harvested state again: the
    carried errors must come back the same from the route's seed, whatever the env drove before."""
    from control.envs import make_env
    from control.evaluate import run_episode
    from control.policies import RuleBasedPolicy

    env = make_env("townnav", 150.0, noise=PerceptionNoise.named("models"), noise_seed=4)
    first, _ = run_episode(env, RuleBasedPolicy(), 7)
    run_episode(env, RuleBasedPolicy(), 8)
    again, _ = run_episode(env, RuleBasedPolicy(), 7)
    assert first == again and first["steps"] > 100
