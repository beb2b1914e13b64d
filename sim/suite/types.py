"""The suite's typed records: a scenario's definition (``ScenarioDef`` and its ``Param``s) and the
plan one run of it follows (``ScenarioPlan``: the track, the scripted actors, the ego's start, the
planned conflict; ``JunctionPlan``: the same for a junction case in a navigation town)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Callable, Iterator

from ..scenarios import Scenario
from .actors import ScriptedActor
from .junction_actors import CrossingWalk, GraphVehicle, PathActor
from .junction_site import JunctionSite

CRITERIA = ("no_collision", "route")
# no_collision (Euro NCAP AEB): passed when the ego hits nothing before the time limit; a collision
#   records the ego's impact speed. route (CARLA leaderboard): passed when the ego reaches the goal
#   before the time limit without a collision or leaving the road


@dataclass(frozen=True)
class Param:
    """One parameter a scenario takes: its allowed range and the values the protocol sweeps."""

    name: str  # e.g. "ego_kmh"
    unit: str  # e.g. "km/h"
    lo: float  # smallest allowed value
    hi: float  # largest allowed value
    sweep: tuple[float, ...]  # the values a suite run tries (the protocol's test points)
    default: float
    doc: str = ""

    def allowed(self) -> str:
        return f"{self.name} in [{self.lo:g}, {self.hi:g}] {self.unit}"


@dataclass(frozen=True)
class ScenarioDef:
    """A parameterised scenario: what it tests, what it takes, how it is judged."""

    name: str  # e.g. "CPNA-25"
    family: str  # "car-to-car" | "pedestrian" | "cyclist" | "leaderboard"
    description: str
    params: tuple[Param, ...]
    criterion: str  # one of CRITERIA
    time_limit_s: float  # how long a run goes on past the planned impact; from the start where none is planned [s]
    planner: Callable[["ScenarioDef", dict[str, float], int], "ScenarioPlan"]  # (def, params, seed) -> plan
    source: str = ""  # where its numbers come from

    def defaults(self) -> dict[str, float]:
        return {p.name: p.default for p in self.params}

    def grid(self) -> Iterator[dict[str, float]]:
        """Every combination of the parameters' sweeps (the protocol's test matrix)."""
        names = [p.name for p in self.params]
        for values in itertools.product(*(p.sweep for p in self.params)):
            yield dict(zip(names, values))


@dataclass(frozen=True)
class ScenarioPlan:
    """One run of a scenario: the world to build and what is meant to happen in it."""

    name: str
    params: tuple[tuple[str, float], ...]  # (name, value), every parameter resolved
    seed: int
    criterion: str
    time_limit_s: float
    scenario: Scenario  # the test track
    ego_s_m: float  # ego centre at the start, along the road [m]
    ego_d_m: float  # ... and left of the centre line (its lane centre) [m]
    ego_speed_m_s: float  # the test speed the ego starts at [m/s]
    vehicles: tuple[ScriptedActor, ...]  # cars and cyclists
    walkers: tuple[ScriptedActor, ...]  # adults and children
    target: tuple[str, int]  # ("vehicle" | "walker", index into that group): what the scenario is about
    # the conflict if the ego holds its speed: when the target meets the ego's front, and where across
    # it (the target's centre left of the ego's centre); nan where the scenario plans none
    impact_time_s: float = math.nan
    impact_offset_m: float = math.nan
    # route scenarios that judge the flow too (merging into slow traffic): the longest the ego may stand [s]
    max_stop_s: float = math.inf

    def param(self, name: str) -> float:
        return dict(self.params)[name]


@dataclass(frozen=True)
class JunctionPlan:
    """One run of a junction case: the town and the ego's route through one junction
    (``sim.suite.junction_site.JunctionSite``), the actors the case adds, and the planned conflict."""

    name: str
    params: tuple[tuple[str, float], ...]
    seed: int
    criterion: str
    time_limit_s: float
    site: JunctionSite
    ego_speed_m_s: float  # the test speed the ego starts at [m/s]
    vehicles: tuple[GraphVehicle, ...]  # placed in the town's traffic (they follow its rules)
    path_vehicles: tuple[PathActor, ...]  # scripted on fixed paths (ignore everything)
    walkers: tuple[CrossingWalk, ...]
    target: tuple[str, int]  # ("vehicle", index into graph vehicles then path vehicles) | ("walker", index)
    impact_time_s: float = math.nan  # when the target reaches the conflict point if the ego holds its speed [s]
    impact_offset_m: float = math.nan  # unused here (the straight cases' lateral impact point)
    conflict_xy: tuple[float, float] = (math.nan, math.nan)  # the planned conflict point [m]
    max_stop_s: float = math.inf  # no junction case judges standing: waiting for a gap is the point

    def param(self, name: str) -> float:
        return dict(self.params)[name]
