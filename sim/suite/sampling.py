"""Suite scenarios as training scenes: a scenario and a parameter point drawn from a scene's seed.

A dataset export (``sim.dataset``, the scene kind ``"suite"``) plays the named scenarios so that a
detector sees what the suite tests and the random worlds rarely show: cones closing a lane, a walker
ahead in the lane seen from behind, a child stepping out between parked cars. Each world draws its
scenario and every parameter uniformly over the scenario's whole allowed range (not the protocol's
sweep points), so the frames are not the suite's own cases; the suite's runs use seeds 0, 1, ... and an
export's worlds use hashed 31-bit seeds, so no exported world is a suite case's world either.
"""

from __future__ import annotations

import numpy as np

from .catalog import scenario_def

SUITE_KIND = "suite"  # the export's scene kind that plays suite scenarios


def sample_case(names: tuple[str, ...], seed: int) -> dict:
    """The reset options of one exported world: ``{"scenario": name, "params": {...}}`` from ``seed``."""
    rng = np.random.default_rng([seed, 0x5C3E])
    name = names[int(rng.integers(len(names)))]
    return {"scenario": name, "params": draw_params(name, rng)}


def draw_params(name: str, rng: np.random.Generator) -> dict[str, float]:
    """Every parameter of scenario ``name`` uniform over its allowed range (0.1 resolution)."""
    return {p.name: round(float(rng.uniform(p.lo, p.hi)), 1) for p in scenario_def(name).params}
