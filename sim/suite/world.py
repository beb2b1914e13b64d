"""``SuiteWorld``: the straight-road ``sim.world.World`` on a suite test track, its actors scripted.

Everything else is the world's own: the ego's dynamics, the collision check, leaving the road, the
labels and the camera (which draw the scripted actors as they draw traffic and walkers). The ego
starts in its lane at the scenario's test speed.
"""

from __future__ import annotations


import numpy as np

from ..config import ScenarioConfig
from ..dynamics import EgoState
from ..world import World
from .actors import ScriptedActor, ScriptedVehicles, ScriptedWalkers
from .target import PlanTarget
from .types import ScenarioPlan


class SuiteWorld(PlanTarget, World):
    def __init__(self, plan: ScenarioPlan, dt_s: float, substeps: int = 2, route_block: bool = False):
        """``route_block``: the labels carry a follow-the-lane route block (``sim.route_block``)."""
        self.plan = plan  # before the world's own set-up, which asks ``_make_actors`` for the actors
        p = plan.scenario.params
        config = ScenarioConfig(kind=p.kind, route_length_m=p.route_length_m, lanes_per_direction=p.lanes_per_direction,
                                lane_width_m=p.lane_width_m, speed_limit_kmh=p.speed_limit_m_s * 3.6,
                                traffic_density_per_km=0.0, pedestrians_per_km=0.0, parked_cars_per_km=0.0,
                                route_block=route_block)
        super().__init__(config, plan.seed, dt_s, substeps, scenario=plan.scenario)
        x, y, h = self.net.main.pose(plan.ego_s_m, plan.ego_d_m)
        self.ego = EgoState(float(x), float(y), float(h), plan.ego_speed_m_s, 0.0, 0.0, 0.0)
        self.ego_s = plan.ego_s_m
        self.frenet = self._frenet()

    def _make_actors(self, rng: np.random.Generator) -> tuple[ScriptedVehicles, ScriptedWalkers]:
        return ScriptedVehicles(self.net, self.plan.vehicles), ScriptedWalkers(self.net, self.plan.walkers, rng)

    # --- the scenario's actors ------------------------------------------------------------------
    def actor_of(self, instance_id: int) -> ScriptedActor | None:
        """The scripted actor with ``instance_id``; None for anything else (props, poles)."""
        ids = self.ids
        if ids.vehicle0 <= instance_id < ids.ped0:
            return self.plan.vehicles[instance_id - ids.vehicle0]
        if ids.ped0 <= instance_id < ids.light0:
            return self.plan.walkers[instance_id - ids.ped0]
        return None

