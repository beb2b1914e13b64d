"""``SuiteEnv`` (``drivestack/Suite-v0``): ``sim.env.DriveEnv`` playing one suite scenario.

    env = gym.make("drivestack/Suite-v0", scenario="CPNA-25", params={"ego_kmh": 40}, render_camera=False)
    obs, info = env.reset(seed=3)                                   # the scenario given to make
    obs, info = env.reset(seed=3, options={"scenario": "CCRb",      # another one for this episode
                                           "params": {"headway_m": 40, "decel_m_s2": 2}})

Observation, action, reward and termination are ``DriveEnv``'s (collision, leaving the road, the
goal; a junction case, ``sim.suite.junction_world``, plays in a navigation town, so its labels carry
the route block and leaving the route ends it too); the time limit is the scenario's unless ``max_episode_s`` is given. ``info["suite"]`` carries
the run's outcome so far (``sim.suite.outcome.SuiteOutcome.as_dict``; ``passed`` is set on the last
step), ``info["plan"]`` on reset the planned conflict. An unknown scenario, parameter or option, or
a parameter out of range, raises ``common.errors.ConfigError`` naming what is allowed.
"""

from __future__ import annotations

from typing import Any

from common.errors import ConfigError

from ..config import EnvConfig
from ..env import DriveEnv
from .catalog import plan_scenario, resolve_params, scenario_def
from .outcome import SuiteOutcome
from .junction_world import JunctionWorld
from .types import JunctionPlan
from .world import SuiteWorld

RESET_OPTIONS = ("scenario", "params")


class SuiteEnv(DriveEnv):
    def __init__(self, scenario: str = "CCRs", params: dict | None = None, config: EnvConfig | dict | None = None,
                 render_mode: str | None = None, **overrides: Any):
        resolve_params(scenario_def(scenario), params)  # bad input fails here, at make time
        self.scenario_name = scenario
        self.scenario_params = dict(params or {})
        super().__init__(config, render_mode, None, **overrides)
        self.plan = None
        self.outcome: SuiteOutcome | None = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = super().reset(seed=seed, options=options)
        self.outcome = SuiteOutcome.start(self.plan)
        info["suite"] = self.outcome.as_dict()
        info["plan"] = {"scenario": self.plan.name, "params": dict(self.plan.params), "criterion": self.plan.criterion,
                        "impact_time_s": self.plan.impact_time_s, "impact_offset_m": self.plan.impact_offset_m,
                        "time_limit_s": self.plan.time_limit_s, "target_id": self.world.target_id}
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        self.outcome.update(self.world, info["events"], info["ground_truth"], self.config.render_camera,
                            terminated or truncated)
        info["suite"] = self.outcome.as_dict()
        return obs, reward, terminated, truncated, info

    def _new_world(self, seed: int, options: dict | None) -> SuiteWorld | JunctionWorld:
        options = dict(options or {})
        unknown = sorted(set(options) - set(RESET_OPTIONS))
        if unknown:
            raise ConfigError(f"reset option(s) {', '.join(unknown)} are not known; use {', '.join(RESET_OPTIONS)}")
        name = options.get("scenario", self.scenario_name)
        params = options.get("params", self.scenario_params if name == self.scenario_name else None)
        self.plan = plan_scenario(name, params, seed)
        if isinstance(self.plan, JunctionPlan):
            return JunctionWorld(self.plan, self.dt_s, self.config.physics_substeps)
        return SuiteWorld(self.plan, self.dt_s, self.config.physics_substeps, self.config.scenario.route_block)

    def _default_time_limit_s(self) -> float:
        return self.plan.time_limit_s
