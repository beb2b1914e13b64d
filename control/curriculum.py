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


class SuiteCurriculum(gym.Wrapper):
    """``reset()`` without options plays a drawn case; with options (an evaluation's case) it passes them on."""

    def __init__(self, env: gym.Env, scenarios: tuple[str, ...] = tuple(SCENARIOS), seed: int = 0,
                 floor: float = 0.15, memory: int = 20):
        super().__init__(env)
        for name in scenarios:
            scenario_def(name)  # an unknown name: ConfigError listing the scenarios
        self.scenarios = tuple(scenarios)
        self.floor = float(floor)  # the least weight a scenario keeps (its failure rate counts on top)
        self._outcomes = {n: deque(maxlen=memory) for n in self.scenarios}  # recent passes (True) per scenario
        self._rng = np.random.default_rng([seed, 0xC0A1])
        self._current: str | None = None

    def failure_rates(self) -> dict[str, float]:
        """Recent failure rate per scenario; one never played counts as failed (it is tried first)."""
        return {n: (1.0 - sum(o) / len(o)) if o else 1.0 for n, o in self._outcomes.items()}

    def _draw(self) -> tuple[int, dict]:
        rates = self.failure_rates()
        weights = np.array([self.floor + rates[n] for n in self.scenarios])
        name = self.scenarios[int(self._rng.choice(len(self.scenarios), p=weights / weights.sum()))]
        params = draw_params(name, self._rng)
        return int(self._rng.integers(TRAIN_SEED0, VALIDATION_SEED0)), {"scenario": name, "params": params}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if options is None:
            seed, options = self._draw()
        self._current = options.get("scenario")
        return self.env.reset(seed=seed, options=options)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        if (terminated or truncated) and self._current in self._outcomes:
            self._outcomes[self._current].append(bool(info.get("suite", {}).get("passed")))
            info["curriculum_failure_rates"] = self.failure_rates()
        return obs, reward, terminated, truncated, info
