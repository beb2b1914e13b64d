"""``JunctionWorld``: a ``sim.nav_world.NavWorld`` playing one junction case (``JunctionPlan``).

The town, its signals and the ego's route come from the plan's site; the ego starts at the test speed.
The vehicles are the town's traffic (the case's ``GraphVehicle``s, obeying its rules) and the case's
scripted ones (``PathActor``s); the walkers are the case's crossers. Everything else (dynamics,
collisions, lines, lights, the blocked-junction event, labels, camera) is the navigation world's.

It adds one event, ``failed_to_yield``, set on a step where the ego, between its stop line and the end
of its connector, made a vehicle of the town's traffic within ``YIELD_REACH_M`` brake harder than
``YIELD_DECEL_M_S2`` (its
drivers brake for the ego in their path and are refused entry across it; the case's cars all have
priority over the ego's movement, or stand), or where the ego drove faster than ``YIELD_SPEED_M_S``
within ``YIELD_GAP_M`` of a walker on its way across.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..collision import box_gap_m
from ..config import ScenarioConfig
from ..nav_actors import NoPedestrians
from ..nav_world import NavWorld
from ..roadgraph.graph import LaneRef
from ..roadgraph.traffic import GraphTraffic
from .junction_actors import CrossingWalkers, JunctionTraffic, PathVehicles
from .junction_site import fresh_stage
from .target import PlanTarget
from .types import JunctionPlan

YIELD_DECEL_M_S2 = 3.0  # a priority vehicle braking harder than this for the ego: it was not given way [m/s^2]
YIELD_SPEED_M_S = 2.0  # the ego passing a crossing walker faster than this ... [m/s]
YIELD_GAP_M = 1.0  # ... closer than this has not yielded to it [m]
YIELD_REACH_M = 25.0  # only vehicles this close to the ego (centre to centre) brake for it [m]


@dataclasses.dataclass(frozen=True)
class Role:
    """What part an actor plays (``SuiteOutcome`` reads ``role``)."""

    role: str


class JunctionWorld(PlanTarget, NavWorld):
    def __init__(self, plan: JunctionPlan, dt_s: float, substeps: int = 2):
        self.plan = plan  # before the world's own set-up, which asks ``_traffic`` and ``_pedestrians``
        stage = fresh_stage(plan.site.stage)
        p = stage.params
        config = ScenarioConfig(kind="townnav", route_length_m=p.route_length_m, speed_limit_kmh=p.speed_limit_m_s * 3.6,
                                traffic_density_per_km=0.0, pedestrians_per_km=0.0, parked_cars_per_km=0.0)
        super().__init__(config, plan.seed, dt_s, substeps, scenario=stage)
        self.ego = dataclasses.replace(self.ego, speed_m_s=plan.ego_speed_m_s)
        n_graph = len(plan.vehicles)
        self._roles = [g.role for g in plan.vehicles] + [a.actor.role for a in plan.path_vehicles]
        self._walker_roles = [w.role for w in plan.walkers]
        self._prev_v = np.asarray(self.traffic.v[:n_graph], np.float64).copy()
        self._n_graph = n_graph

    # --- the case's actors ----------------------------------------------------------------------
    def _traffic(self, sc, rng: np.random.Generator) -> JunctionTraffic:
        traffic = GraphTraffic(self.graph, self.lights, 0.0, rng, [], [])
        holds = {}
        for g in self.plan.vehicles:
            i = traffic.add_vehicle(LaneRef(*g.lane), g.s_m, g.speed_m_s, g.connector)
            traffic.speed_factor[i] = 1.0  # at the limit, which is the test speed
            traffic.cut_in[i] = False
            if g.hold_until_s > 0:
                holds[i] = g.hold_until_s
        return JunctionTraffic(traffic, PathVehicles(self.plan.path_vehicles), holds)

    def _pedestrians(self, sc, rng: np.random.Generator):
        return CrossingWalkers(self.plan.walkers, rng) if self.plan.walkers else NoPedestrians()

    def actor_of(self, instance_id: int) -> Role | None:
        """The role of the case's actor with ``instance_id``; None for anything else (props, poles)."""
        ids = self.ids
        if ids.vehicle0 <= instance_id < ids.ped0:
            return Role(self._roles[instance_id - ids.vehicle0])
        if ids.ped0 <= instance_id < ids.light0:
            return Role(self._walker_roles[instance_id - ids.ped0])
        return None


    # --- stepping ---------------------------------------------------------------------------------
    def step(self, steer: float, accel: float):
        ev = super().step(steer, accel)
        ev.failed_to_yield = self._failed_to_yield()
        return ev

    def in_junction(self) -> bool:
        """The ego's front past its stop line and its centre not yet out of its connector."""
        site = self.plan.site
        front = self.ego_s + self.ego_box()[3] / 2
        return front > site.stop_route_s and self.ego_s < site.exit_route_s

    def _failed_to_yield(self) -> bool:
        v = np.asarray(self.traffic.v[:self._n_graph], np.float64)
        decel = (self._prev_v - v) / self.dt_s
        self._prev_v = v.copy()
        forced = False
        if self.in_junction() and np.any(decel > YIELD_DECEL_M_S2):
            b = self.traffic.boxes()[:self._n_graph]
            near = np.hypot(b[:, 0] - self.ego.x_m, b[:, 1] - self.ego.y_m) < YIELD_REACH_M
            forced = bool(np.any(near & (decel > YIELD_DECEL_M_S2)))
        walking = np.flatnonzero(self.peds.speed > 0) if self.peds.n else np.zeros(0, np.int64)
        close = self.ego.speed_m_s > YIELD_SPEED_M_S and any(
            box_gap_m(self.ego_box(), self.peds.boxes()[k]) < YIELD_GAP_M for k in walking)
        return forced or close
