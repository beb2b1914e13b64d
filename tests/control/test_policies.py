"""Rule-based driving, the NaN guard, the supervisor and policy-file checks."""

import zipfile

import numpy as np
import pytest

from control.envs import make_env
from control.evaluate import run_episode
from control.features import OBS_SIZE, EgoMeasurements, encode
from control.policies import SAFE_STOP, PolicyError, RuleBasedPolicy, load_policy, save_policy
from control.supervisor import SafetySupervisor
from perception.types import Detections, LaneEstimate, PerceptionFrame


def test_rule_based_completes_an_empty_route():
    env = make_env("empty", route_length_m=150.0)
    m, log = run_episode(env, RuleBasedPolicy(), seed=3)
    assert m["end"] == "goal" and m["success"]
    assert m["route_completion"] == pytest.approx(1.0, abs=0.02)
    assert sum(m["collisions"].values()) == 0 and m["off_road"] == 0
    assert m["mean_speed_kmh"] > 15.0


def test_nan_observation_gives_a_safe_stop():
    obs = np.zeros(OBS_SIZE, np.float32)
    obs[7] = np.nan
    np.testing.assert_array_equal(RuleBasedPolicy().act(obs), SAFE_STOP)
    sup = SafetySupervisor(RuleBasedPolicy())
    np.testing.assert_array_equal(sup.act(obs), SAFE_STOP)
    assert sup.active and "non-finite" in sup.interventions[0].reason


def _obs_with_object(forward_m, closing_m_s, speed_m_s=10.0):
    pos = np.array([[forward_m, 0.0]], np.float32)
    dets = Detections(np.zeros((1, 4), np.float32), np.ones(1, np.float32), np.zeros(1, np.int64), np.zeros(1, np.int64),
                      np.array([forward_m], np.float32), pos, np.array([[-closing_m_s, 0.0]], np.float32))
    pf = PerceptionFrame(0, 0.0, "t", (160, 320), dets, LaneEstimate(0.0, 0.0, 0.0, 3.5, 1.0))
    return encode(pf, EgoMeasurements(speed_m_s, 0.0, 13.9, 0.0, 0.5))


class _Gas(RuleBasedPolicy):
    name = "gas"

    def _act(self, obs):
        return np.array([0.1, 1.0], np.float32)


def test_supervisor_brakes_for_a_short_ttc_and_reports_it():
    sup = SafetySupervisor(_Gas())
    far = sup.act(_obs_with_object(40.0, 2.0))  # TTC ~19 s: leave the policy alone
    assert far[1] == 1.0 and not sup.active
    # a car 8 m ahead closing at 10 m/s (TTC ~0.65 s), seen on three frames in a row (0.5 m nearer each,
    # from the feature vector alone): a warning on the first, a partial brake on the second, then full
    stages = []
    for k in range(3):
        a = sup.act(_obs_with_object(8.0 - 0.5 * k, 10.0))
        stages.append(sup.interventions[-1].stage)
    assert stages == ["warning", "partial", "full"]
    assert a[1] == -1.0 and a[0] == pytest.approx(0.1) and sup.active  # full brake, the policy's steering kept
    assert sup.interventions[-1].step == 3 and "vehicle" in sup.interventions[-1].reason
    assert sup.activations == {"warning": 1, "partial": 1, "full": 1}


def test_load_policy_errors(tmp_path):
    with pytest.raises(PolicyError, match="not found"):
        load_policy(tmp_path / "none.zip")
    text = tmp_path / "notes.zip"
    text.write_text("hello")
    with pytest.raises(PolicyError, match="not a stable-baselines3 policy"):
        load_policy(text)
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("readme.txt", "x")
    with pytest.raises(PolicyError, match="no 'data'"):
        load_policy(other)


def test_load_policy_rejects_a_different_observation_layout(tmp_path):
    import gymnasium as gym
    from stable_baselines3 import PPO

    model = PPO("MlpPolicy", gym.make("Pendulum-v1"), n_steps=64, device="cpu")
    path = save_policy(model, tmp_path / "pendulum.zip", layout="pendulum")
    with pytest.raises(PolicyError, match="expects observations pendulum"):
        load_policy(path)


def _obs_at_light(state, distance_m, speed_m_s):
    pf = PerceptionFrame(0, 0.0, "t", (160, 320), Detections.empty(), LaneEstimate(0.0, 0.0, 0.0, 3.5, 1.0),
                         light_state=state, light_distance_m=distance_m)
    return encode(pf, EgoMeasurements(speed_m_s, 0.0, 13.9, 0.0, 0.0))


def test_a_leader_ahead_does_not_hide_a_yellow_line_the_car_can_stop_at():
    """Validation route 800013 (exact labels): a leader 30 m ahead at 15 m/s, a light turning yellow 43 m ahead of
    the car at 13.8 m/s (a comfortable stop needs 32 m). The leader went on and the car followed it into the red:
    one nearest gap held the leader and hid the line behind it. Each is its own constraint now."""
    pos = np.array([[30.0, 0.0]], np.float32)
    dets = Detections(np.zeros((1, 4), np.float32), np.ones(1, np.float32), np.zeros(1, np.int64), np.zeros(1, np.int64),
                      np.array([30.0], np.float32), pos, np.array([[1.4, 0.0]], np.float32))

    def accel(light):
        pf = PerceptionFrame(0, 0.0, "t", (160, 320), dets, LaneEstimate(0.0, 0.0, 0.0, 3.5, 1.0),
                             light_state=light, light_distance_m=43.0)
        return float(RuleBasedPolicy().act(encode(pf, EgoMeasurements(13.8, 0.0, 16.7, 0.0, 0.0)))[1])

    assert accel("green") > 0.0  # following the leader on
    assert accel("yellow") < -0.1  # stopping for the line behind it
    assert accel("red") < -0.1


def test_supervisor_keeps_the_car_behind_a_red_line():
    sup = SafetySupervisor(_Gas())
    assert sup.act(_obs_at_light("red", 40.0, 10.0))[1] == 1.0 and not sup.active  # room to stop comfortably
    assert sup.act(_obs_at_light("green", 3.0, 10.0))[1] == 1.0 and not sup.active
    assert sup.act(_obs_at_light("red", 12.0, 10.0))[1] == -1.0 and "red light" in sup.interventions[-1].reason
    assert sup.act(_obs_at_light("red", -1.2, 0.0))[1] == -1.0  # standing a little over the line: held there
    assert sup.act(_obs_at_light("red", -0.5, 12.0))[1] == 1.0  # too fast to stop short of the crossing: go on
    braking = SafetySupervisor(RuleBasedPolicy())
    braking.act(_obs_at_light("red", 25.0, 8.0))  # the rule-based driver brakes in time by itself
    assert not braking.active and braking.interventions == []


def test_light_memory_carries_a_hidden_light_and_forgets_it_past_the_line():
    from control.light_memory import LightMemory

    mem = LightMemory()
    assert mem.update("red", 10.0, 5.0, 0.05) == ("red", 10.0) and not mem.remembered
    state, dist = mem.update("none", float("inf"), 5.0, 0.1)  # hidden: remembered, 0.5 m nearer
    assert mem.remembered and state == "red" and dist == pytest.approx(9.5)
    assert mem.update("green", 9.0, 5.0, 0.05) == ("green", 9.0)  # seen again: what is seen wins
    for _ in range(20):  # 10 m driven while hidden: 1 m past the line, still remembered
        state, dist = mem.update("none", float("inf"), 10.0, 0.05)
    assert state == "green" and dist == pytest.approx(-1.0)
    for _ in range(5):  # 2.5 m more: past PAST_LINE_M, forgotten
        state, dist = mem.update("none", float("inf"), 10.0, 0.05)
    assert state == "none" and not mem.remembered
    mem.update("none", float("inf"), 10.0, 3.0)  # 30 m on: out of that junction
    mem.update("red", 5.0, 0.0, 0.05)
    standing = [mem.update("none", float("inf"), 0.0, 1.0)[0] for _ in range(25)]  # hidden while standing
    assert standing[:20] == ["red"] * 20 and standing[-1] == "none"  # held through a red phase, not forever


def test_numpy_actor_gives_predicts_actions_and_declines_what_it_cannot_copy():
    import gymnasium as gym
    from stable_baselines3 import PPO, SAC

    from control.numpy_actor import NumpyActor

    env = gym.make("Pendulum-v1")
    model = PPO("MlpPolicy", env, n_steps=64, device="cpu", policy_kwargs={"net_arch": [16, 16]}, seed=0)
    actor = NumpyActor.from_sb3(model)
    obs = np.random.default_rng(0).uniform(-3, 3, (32, 3)).astype(np.float32)
    np.testing.assert_allclose(actor(obs), model.predict(obs, deterministic=True)[0], atol=1e-5)
    assert actor(obs[0]).shape == (1,) and np.all(np.abs(actor(obs * 100)) <= 2.0)  # clipped to the action space
    assert NumpyActor.from_sb3(SAC("MlpPolicy", env, device="cpu", learning_starts=0)) is None


def test_light_memory_keeps_a_line_ahead_over_a_light_already_passed():
    from control.light_memory import LightMemory

    mem = LightMemory()
    mem.update("red", 3.0, 1.0, 0.05)
    assert mem.update("green", -8.0, 1.0, 0.05) == ("red", pytest.approx(2.95))  # a near-corner head, not ours
    assert mem.remembered
    assert mem.update("green", 2.5, 1.0, 0.05) == ("green", 2.5)  # one ahead is taken as seen
    mem.reset()
    assert mem.update("green", -8.0, 1.0, 0.05) == ("green", -8.0)  # nothing remembered: reported as it is


def test_light_memory_ignores_the_junctions_other_heads_once_inside_it():
    """Town seed 900004 from the models: past its line on green, the car saw a crossing road's red head
    ranged 1.7 m ahead, stopped inside the junction and was hit there. A line that close beyond the one
    just driven over is the same junction's; the next junction's light is taken as before."""
    from control.light_memory import LightMemory

    mem, dt = LightMemory(), 0.05
    for k in range(27):  # through the line on green, the head beyond the crossing still in view
        assert mem.update("green", 2.0 - 0.2 * k, 4.0, dt)[0] == "green"
    assert mem.passed_line_m < -3.0  # its line driven over
    state, _ = mem.update("red", 1.7, 4.0, dt)
    assert state != "red" and mem.ignored
    for _ in range(200):  # 40 m on: past the junction, the next light ahead counts again
        mem.update("none", float("inf"), 4.0, dt)
    assert mem.update("red", 60.0, 4.0, dt) == ("red", 60.0) and not mem.ignored
