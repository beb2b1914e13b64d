"""Building the envs policies train and are evaluated on, and which seeds belong to which.

Scene seeds are split so training never sees an evaluation world: training draws from
``[0, VALIDATION_SEED0)``; the best-model selection during training uses ``VALIDATION_SEEDS``;
``drivestack eval policy`` defaults to seeds from ``TEST_SEED0`` on.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from .features import LAYOUT_ID
from .route_features import LAYOUT_V2_ID

VALIDATION_SEED0 = 800_000  # training seeds lie below this
VALIDATION_SEEDS = tuple(range(800_000, 800_010))
TEST_SEED0 = 900_000

# curriculum stages: scenario overrides (empty road -> traffic -> the full town)
STAGES: dict[str, dict] = {
    "empty": {"kind": "town", "traffic_density_per_km": 0.0, "pedestrians_per_km": 0.0, "parked_cars_per_km": 0.0},
    "traffic": {"kind": "town", "pedestrians_per_km": 0.0},
    "town": {"kind": "town"},
    "highway": {"kind": "highway"},
    "townnav": {"kind": "townnav"},  # a street grid with junctions; routes turn (sim.roadgraph)
    # the same towns emptied for a route-reading policy's curriculum (control.policies.NAV_STAGES)
    "townnav_empty": {"kind": "townnav", "traffic_density_per_km": 0.0, "pedestrians_per_km": 0.0,
                      "parked_cars_per_km": 0.0},
    "townnav_traffic": {"kind": "townnav", "pedestrians_per_km": 0.0},
    "highwaynav": {"kind": "highwaynav"},  # a highway with ramps; routes merge, change lanes, exit
    # the safety suite's scenarios, drawn by the policy's recent failure rate (control.curriculum); the policy
    # reads the route (layout v2: the junction cases turn)
    "suite": {"kind": "suite"},
}
SUITE_STAGE = "suite"
NAV_KINDS = ("townnav", "highwaynav")  # worlds whose observation carries a route (layout v2)


def stage_reads_route(stage: str) -> bool:
    """Whether a policy trained on ``stage`` must read the route (layout v2): the navigation worlds, and the
    suite, whose junction cases turn."""
    return STAGES[stage]["kind"] in NAV_KINDS or stage == SUITE_STAGE


# infractions cost more than the sim's default reward (sim.config.RewardConfig) says, so that waiting at a
# red light (a few seconds of lost speed and progress reward) always pays better than running it
REWARD = {"collision": -20.0, "off_road": -20.0, "red_light": -20.0}
REWARDS = ("sim", "driving")  # training rewards make_env offers


class TrainingSeeds(gym.Wrapper):
    """Resets without a seed draw the scene seed from the training range (never a held-out one)."""

    def __init__(self, env: gym.Env, seed: int):
        super().__init__(env)
        self._rng = np.random.default_rng(seed)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is None:
            seed = int(self._rng.integers(0, VALIDATION_SEED0))
        return self.env.reset(seed=seed, options=options)


def env_config(stage: str, route_length_m: float, render_camera: bool = False, **scenario) -> dict:
    if stage not in STAGES:
        raise ValueError(f"stage {stage!r} is not one of {sorted(STAGES)}")
    scen = {**STAGES[stage], "route_length_m": float(route_length_m), **scenario}
    return {"scenario": scen, "render_camera": render_camera, "dense_labels": render_camera, "reward": dict(REWARD)}


def with_route_block(config: dict, layout: str | None) -> dict:
    """``config`` with the follow-the-lane route block on when ``layout`` is v2: a straight world then says
    "follow the lane" in the route block (``sim.route_block``) that a v2 policy reads; a navigation world has
    its own route block either way."""
    if layout != LAYOUT_V2_ID:
        return config
    return {**config, "scenario": {**config.get("scenario", {}), "route_block": True}}


def make_env(stage: str = "town", route_length_m: float = 500.0, perception=None, render_camera: bool = False,
             training_seed: int | None = None, noise=None, noise_seed: int = 0, monitor: bool = False,
             config: dict | None = None, layout: str | None = None, env_id: str = "drivestack/Town-v0",
             reward: str = "sim") -> gym.Env:
    """A ``PerceptionObservation`` env: from labels (``GroundTruthPerception`` with ``noise``) unless
    ``perception`` (the models) is given, which needs ``render_camera``. ``layout``: the observation
    layout (``control.observation.LAYOUTS``); None gives v1, or v2 (with the route block) in a
    navigation town; v2 in a straight world turns its follow-the-lane route block on. ``env_id``: the registered env under the wrappers (``make_suite_env``: the suite's).
    ``reward``: ``sim`` (the simulator's reward, with ``REWARD``'s infraction weights) or ``driving``
    (``control.reward.DrivingReward``: progress, CARLA's infraction penalties, time, comfort)."""
    if reward not in REWARDS:
        raise ValueError(f"reward {reward!r} is not one of {REWARDS}")
    import sim  # noqa: F401  (registers the ids)
    from perception.ground_truth import GroundTruthPerception

    from .observation import PerceptionObservation

    cfg = with_route_block(config or env_config(stage, route_length_m, render_camera or perception is not None), layout)
    env = gym.make(env_id, config=cfg)
    if training_seed is not None:
        env = TrainingSeeds(env, training_seed)
    if layout is None:
        layout = LAYOUT_V2_ID if env.unwrapped.config.scenario.kind in NAV_KINDS else LAYOUT_ID
    env = PerceptionObservation(env, perception if perception is not None else GroundTruthPerception(noise, noise_seed),
                                layout)
    if reward == "driving":
        from .reward import DrivingReward

        env = DrivingReward(env)
    if monitor:
        from stable_baselines3.common.monitor import Monitor

        env = Monitor(env, info_keywords=("route_completion",))
    return env


def make_suite_env(perception=None, render_camera: bool = False, dense_labels: bool | None = None,
                   layout: str = LAYOUT_ID, noise=None, noise_seed: int = 0, reward: str = "sim",
                   monitor: bool = False) -> gym.Env:
    """``make_env``'s wrappers around the safety suite's env (``sim.suite``): the same observation,
    from labels or from the models (which turn the camera on). The scenario, its parameters and the
    seed come with each reset: ``env.reset(seed=s, options={"scenario": name, "params": {...}})``.
    ``layout``: v1, or v2 (with the route block) for the junction cases, which play in a navigation
    town (``sim.suite.junctions``)."""
    from sim import SUITE_ENV_ID

    camera = render_camera or perception is not None
    cfg = {"render_camera": camera, "dense_labels": camera if dense_labels is None else dense_labels,
           "reward": dict(REWARD)}
    return make_env(perception=perception, config=cfg, layout=layout, env_id=SUITE_ENV_ID, noise=noise,
                    noise_seed=noise_seed, reward=reward, monitor=monitor)


def make_stage_env(stage: str, route_length_m: float, training_seed: int, noise=None, noise_seed: int = 0,
                   monitor: bool = False, reward: str = "sim", layout: str | None = None) -> gym.Env:
    """A training env for a curriculum stage (``STAGES``): a random world of the stage's kind, or for
    ``suite`` the safety suite's scenarios drawn by recent failure (``control.curriculum``)."""
    if stage != SUITE_STAGE:
        return make_env(stage, route_length_m, training_seed=training_seed, noise=noise, noise_seed=noise_seed,
                        monitor=monitor, reward=reward, layout=layout)
    from .curriculum import SuiteCurriculum

    env = make_suite_env(layout=layout or LAYOUT_V2_ID, noise=noise, noise_seed=noise_seed, reward=reward, monitor=monitor)
    return SuiteCurriculum(env, seed=training_seed)
