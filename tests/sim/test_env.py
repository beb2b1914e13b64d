"""The gymnasium contract: registered ids, check_env, determinism, bad input."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import sim
from common.config import ConfigError

SHORT = {"scenario": {"route_length_m": 200}}


def _config(env_id: str) -> dict:
    return {**SHORT, "render_camera": True}


@pytest.mark.parametrize("env_id", sorted(sim.ENV_IDS))
def test_check_env_passes(env_id):
    env = gym.make(env_id, config=_config(env_id))
    check_env(env.unwrapped)
    env.close()


@pytest.mark.parametrize("env_id", sorted(sim.ENV_IDS))
def test_same_seed_same_frames_and_trajectory(env_id):
    def rollout():
        env = gym.make(env_id, config=_config(env_id))
        obs, _ = env.reset(seed=11)
        frames, states = [obs.get("image", obs["state"])], [obs["state"]]
        rng = np.random.default_rng(0)
        for _ in range(25):
            obs, _, term, trunc, info = env.step(rng.uniform(-0.3, 1.0, 2))
            frames.append(obs.get("image", obs["state"]))
            states.append(obs["state"])
            if term or trunc:
                break
        world = env.unwrapped.world
        return np.stack(frames), np.stack(states), world.traffic.s.copy(), world.peds.s.copy()

    a, b = rollout(), rollout()
    for x, y in zip(a, b):
        assert np.array_equal(x, y)


def test_scenario_families_differ():
    town = gym.make("drivestack/Town-v0", config=SHORT).unwrapped
    highway = gym.make("drivestack/Highway-v0", config=SHORT).unwrapped
    town.reset(seed=3)
    highway.reset(seed=3)
    assert town.world.params.kind == "town" and highway.world.params.kind == "highway"
    assert 30 / 3.6 - 1e-6 <= town.world.params.speed_limit_m_s <= 50 / 3.6 + 1e-6
    assert 80 / 3.6 - 1e-6 <= highway.world.params.speed_limit_m_s <= 120 / 3.6 + 1e-6
    assert highway.world.net.main.lanes_fwd >= 2
    assert len(town.world.net.intersections) >= 1 and town.world.peds.n > 0


def test_camera_off_has_no_image_but_labels():
    env = gym.make("drivestack/Town-v0", render_camera=False, config=SHORT)
    obs, info = env.reset(seed=2)
    assert set(obs) == {"state"}
    assert info["ground_truth"].drivable is None
    obs, _, _, _, info = env.step([0.0, 0.5])
    assert np.isfinite(info["ground_truth"].ego.lane_offset_m)
    assert env.render().shape[2] == 3  # a picture on request still works


def test_actions_are_clipped_and_nan_rejected():
    env = gym.make("drivestack/Town-v0", config=SHORT)
    env.reset(seed=1)
    env.step([5.0, -7.0])
    assert np.allclose(env.unwrapped.world.prev_action, [1.0, -1.0])
    with pytest.raises(ValueError, match="not finite"):
        env.step([np.nan, 0.0])
    with pytest.raises(ValueError, match="2 values"):
        env.step([0.0, 0.0, 0.0])


@pytest.mark.parametrize(
    "overrides, needle",
    [
        ({"camera": {"width_px": -320}}, "camera.width_px=-320"),
        ({"camera": {"height_px": 100}}, "multiple of 32"),
        ({"camera": {"hfov_deg": 179.0}}, "camera.hfov_deg"),
        ({"scenario": {"lanes_per_direction": 0}}, "lanes_per_direction=0"),
        ({"scenario": {"kind": "desert"}}, "'desert' is not allowed"),
        ({"camera": {"widht_px": 320}}, "unknown config key camera.widht_px"),
        ({"control_hz": "fast"}, "control_hz"),
    ],
)
def test_bad_config_is_a_clear_error(overrides, needle):
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(").replace(".", r"\.")):
        gym.make("drivestack/Town-v0", config=overrides)


def test_render_has_hud():
    env = gym.make("drivestack/Highway-v0", config=SHORT, render_mode="rgb_array")
    obs, _ = env.reset(seed=4)
    img = env.render()
    scale = env.unwrapped.config.hud_scale
    assert img.shape == (obs["image"].shape[0] * scale, obs["image"].shape[1] * scale, 3)
    # the HUD panel darkens the top-left corner relative to the plain upscaled camera image
    plain = np.repeat(np.repeat(obs["image"], scale, 0), scale, 1)
    assert not np.array_equal(img[:20, :100], plain[:20, :100])


def test_env_pickles_after_reset_and_step_and_steps_on_identically():
    """Users' own multiprocessing pickles envs: the deferred object list must not be a lambda."""
    import pickle

    env = gym.make("drivestack/Town-v0", config=SHORT).unwrapped
    env.reset(seed=5)
    env.step([0.0, 0.5])
    clone = pickle.loads(pickle.dumps(env))
    for action in ([0.1, 0.3], [-0.2, 0.6], [0.0, -0.4]):
        a, b = env.step(action), clone.step(action)
        assert np.array_equal(a[0]["image"], b[0]["image"]) and np.array_equal(a[0]["state"], b[0]["state"])
        assert a[1:4] == b[1:4]
        assert a[4]["ground_truth"] == b[4]["ground_truth"]  # objects read (built) after the round trip too
        assert len(a[4]["ground_truth"].objects) == len(b[4]["ground_truth"].objects)
    pickle.dumps(env)  # and again once the lists have been built
