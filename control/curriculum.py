"""Training where the driver fails: safety-suite scenarios drawn by their recent failure rate.

A policy trained on random routes rarely meets a child stepping out between parked cars or an
unprotected left across traffic; the suite (``sim.suite``) stages exactly those. ``SuiteCurriculum``
turns the suite env into a training env: each reset draws a scenario with probability rising with the
policy's recent failure rate on it (prioritised level replay, Jiang et al. 2021: replay the levels
with the most to learn; a floor keeps every scenario in the mix), every parameter uniformly over
the scenario's allowed range (``sim.suite.sampling.draw_params``, as the detector's exports draw them), and a world
seed from ``[TRAIN_SEED0, VALIDATION_SEED0)``. The suite's own runs (``drivestack eval suite``) use
seeds 0, 1, ... at the protocol's sweep points, so no training episode is a reported case.

``failure_rates()`` is what the sampler currently believes; ``control.finetune.CurriculumLog`` puts it
in TensorBoard.
"""

from __future__ import annotations

from collections import deque

import gymnasium as gym
import numpy as np

from sim.suite.catalog import SCENARIOS, scenario_def
from sim.suite.sampling import draw_params

from .envs import VALIDATION_SEED0

TRAIN_SEED0 = 10_000  # suite worlds for training start here: the suite's reported cases use seeds 0..N-1


class RecentFailures:
    """Prioritised draws over ``n`` items (scenarios, failure starts): item k's weight is ``floor`` + its failure
    rate over its last ``memory`` outcomes; an item never played counts as failed, so it is tried first."""

    def __init__(self, n: int, floor: float = 0.15, memory: int = 20):
        self.floor = float(floor)  # the least weight an item keeps (its failure rate counts on top)
        self._outcomes = [deque(maxlen=memory) for _ in range(n)]  # recent passes (True) per item

    def rates(self) -> list[float]:
        return [(1.0 - sum(o) / len(o)) if o else 1.0 for o in self._outcomes]

    def draw(self, rng: np.random.Generator) -> int:
        weights = self.floor + np.array(self.rates())
        return int(rng.choice(len(weights), p=weights / weights.sum()))

    def record(self, k: int, passed: bool) -> None:
        self._outcomes[k].append(bool(passed))


class SuiteCurriculum(gym.Wrapper):
    """``reset()`` without options plays a drawn case; with options (an evaluation's case) it passes them on."""

    def __init__(self, env: gym.Env, scenarios: tuple[str, ...] = tuple(SCENARIOS), seed: int = 0,
                 floor: float = 0.15, memory: int = 20):
        super().__init__(env)
        for name in scenarios:
            scenario_def(name)  # an unknown name: ConfigError listing the scenarios
        self.scenarios = tuple(scenarios)
        self._recent = RecentFailures(len(self.scenarios), floor, memory)
        self._rng = np.random.default_rng([seed, 0xC0A1])
        self._current: str | None = None

    def failure_rates(self) -> dict[str, float]:
        """Recent failure rate per scenario; one never played counts as failed (it is tried first)."""
        return dict(zip(self.scenarios, self._recent.rates()))

    def _draw(self) -> tuple[int, dict]:
        name = self.scenarios[self._recent.draw(self._rng)]
        params = draw_params(name, self._rng)
        return int(self._rng.integers(TRAIN_SEED0, VALIDATION_SEED0)), {"scenario": name, "params": params}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if options is None:
            seed, options = self._draw()
        self._current = options.get("scenario")
        return self.env.reset(seed=seed, options=options)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        if (terminated or truncated) and self._current in self.scenarios:
            self._recent.record(self.scenarios.index(self._current), bool(info.get("suite", {}).get("passed")))
            info["curriculum_failure_rates"] = self.failure_rates()
        return obs, reward, terminated, truncated, info
