"""The safety scenario suite: Euro NCAP AEB cases (car-to-car rear, pedestrians, cyclists) and the
non-junction CARLA leaderboard cases, as code, played out deterministically on a straight test track;
the leaderboard's junction cases (``sim.suite.junctions``) in a navigation town.

- ``SCENARIOS`` (``sim.suite.catalog``): the table of ``ScenarioDef``s (name, family, description,
  parameters with units, ranges and the protocol's sweep, pass criterion, time limit, source).
- ``plan_scenario(name, params, seed)`` -> ``ScenarioPlan``: the track, the scripted actors and the
  planned conflict; ``build(name, params, seed)`` -> ``SuiteWorld``, the world that plays it.
- ``drivestack/Suite-v0`` (``sim.suite.env.SuiteEnv``): the same through the gymnasium API, the
  outcome in ``info["suite"]``.

docs/suite.md has the table of scenarios, their parameters and sources.
"""

from __future__ import annotations

from .catalog import JUNCTION_SCENARIOS, SCENARIOS, TRACK_SCENARIOS, plan_scenario, resolve_params, scenario_def
from .outcome import SuiteOutcome
from .types import CRITERIA, JunctionPlan, Param, ScenarioDef, ScenarioPlan



def build(name: str, params: dict | None = None, seed: int = 0, dt_s: float = 0.05, substeps: int = 2):
    """The world that plays scenario ``name`` with ``params`` for ``seed``: a ``SuiteWorld`` (straight
    track), or a ``JunctionWorld`` (a navigation town) for the junction cases."""
    from .junction_world import JunctionWorld
    from .world import SuiteWorld

    plan = plan_scenario(name, params, seed)
    return (JunctionWorld if isinstance(plan, JunctionPlan) else SuiteWorld)(plan, dt_s, substeps)


__all__ = ["CRITERIA", "JUNCTION_SCENARIOS", "JunctionPlan", "SCENARIOS", "TRACK_SCENARIOS", "Param", "ScenarioDef", "ScenarioPlan", "build", "plan_scenario",
           "resolve_params", "scenario_def", "SuiteOutcome"]
