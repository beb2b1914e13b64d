"""The stage of a junction case: a TownNav town drawn for the seed, one signalised four-way junction
in it, the ego's short route through it (its approach, one movement, the exit street) and the light
held green for the ego's approach.

Every street's speed limit is the test speed (the straight suite's rule: the ego starts at the limit),
the town has no generated traffic, walkers or parked cars (the case brings its own actors), and the
seed picks the town (its lane width, layout and buildings), the junction and the approach. The ego's
front starts ``LEAD_M`` before its stop line; the goal lies ``EXIT_M`` into the exit street.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import numpy as np

from common.vocab import EGO_LENGTH_M

from ..lights import ALL_RED_S, YELLOW_S
from ..nav_scenario import NavScenario, street_buildings
from ..paved import PavedMap
from ..road import Road
from ..roadgraph.generator import TownSpec, generate_graph
from ..roadgraph.graph import Connector, Junction, LaneRef, RoadGraph
from ..roadgraph.paths import resample
from ..roadgraph.planner import plan_route
from ..roadgraph.signals import JunctionSignals
from ..scenarios import ScenarioParams

TOWN_GRID = 4  # junctions per side: every seed's town has several signalised four-way junctions
BLOCK_M = (170.0, 210.0)  # grid spacing, longer than TownNav's so that a stream of cars fits an approach [m]
LEAD_M = 30.0  # the ego's front starts this far before its stop line [m]
EXIT_M = 40.0  # the goal lies this far into the exit street [m]
STREET_MARGIN_M = 15.0  # the start and the goal stay this far from a street's far end [m]
GREEN_HOLD_S = 3600.0  # the ego's approach shows its green ball this long from the start [s]
STEP_M = 0.5  # polyline sampling of actor paths [m]


@dataclass(frozen=True)
class JunctionSite:
    """Where a junction case plays: the town and the ego's movement through one junction."""

    stage: NavScenario  # the town, its signals (ego's approach green from t = 0) and the ego's route
    junction: int
    movement: Connector  # the ego's connector
    stop_route_s: float  # the ego's stop line along its route [m]
    connector_route_s: float  # where the route line enters the connector [m]
    exit_route_s: float  # ... and leaves it [m] (route line s, as the world's ``ego_s``)

    @property
    def graph(self) -> RoadGraph:
        return self.stage.graph

    @property
    def box(self) -> Junction:
        return self.stage.graph.junctions[self.junction]


def draw_town(seed: int, speed_m_s: float) -> tuple[TownSpec, RoadGraph, np.random.Generator]:
    """The seed's town (its spec and graph), every street limited to ``speed_m_s``, and the generator
    its draws came from."""
    rng = np.random.default_rng([seed, 0x1C7])
    spec = TownSpec(grid=TOWN_GRID, block_m=BLOCK_M, lane_width_m=float(rng.uniform(3.2, 3.6)),
                    arterial_speed_m_s=speed_m_s, residential_speed_m_s=speed_m_s)
    return spec, generate_graph(spec, rng), rng


def arm_connector(graph: RoadGraph, junction: Junction, street: int, direction: int, movement: str,
                  lane: str = "right") -> Connector | None:
    """The connector of ``movement`` from approach (street, direction): from its leftmost lane ("left")
    or rightmost ("right") where several lanes make it."""
    options = [graph.connectors[k] for k in junction.connectors
               if graph.connectors[k].src.road == street and graph.connectors[k].src.direction == direction
               and graph.connectors[k].movement == movement]
    if not options:
        return None
    return max(options, key=lambda c: c.src.lane if lane == "right" else -c.src.lane)


def choose_site(seed: int, speed_m_s: float, movement: str, protected_left: bool | None = None,
                exit_m: float = EXIT_M, fits: Callable[[RoadGraph, Junction, Connector], bool] | None = None
                ) -> JunctionSite:
    """A signalised four-way junction of the seed's town and an approach to it whose ``movement`` fits
    (the approach street holds the ego's start, the exit street the goal, and ``fits(graph, junction,
    connector)`` where given: what the case needs of the other arms); ``protected_left`` (when given) is
    imposed on that junction's signal plan."""
    spec, graph, rng = draw_town(seed, speed_m_s)
    need_in = LEAD_M + EGO_LENGTH_M + STREET_MARGIN_M
    options = []
    for j in graph.junctions:
        if j.control != "signal" or len(j.arms) != 4:
            continue
        for arm in j.arms:
            direction = arm.in_direction
            if (arm.street, direction) not in j.stop_s:
                continue
            c = arm_connector(graph, j, arm.street, direction, movement, "left" if movement == "left" else "right")
            if c is None or graph.roads[arm.street].length_m < need_in or graph.roads[c.dst.road].length_m < exit_m + STREET_MARGIN_M:
                continue
            if fits is not None and not fits(graph, j, c):
                continue
            options.append((j.index, c))
    if not options:
        raise AssertionError(f"town seed {seed} has no signalised four-way junction with a {movement} to play")
    j_index, c = options[int(rng.integers(0, len(options)))]
    junction = graph.junctions[j_index]
    if protected_left is not None:
        junction.protected_left = protected_left  # the town is this case's own: its plan is the scenario's
    stop_s = junction.stop_s[(c.src.road, c.src.direction)]
    start_s = stop_s - c.src.direction * (LEAD_M + EGO_LENGTH_M / 2)
    goal_s = graph.lane_start_s(c.dst) + c.dst.direction * exit_m
    route = plan_route(graph, c.src, start_s, c.dst, goal_s)
    signals = JunctionSignals(graph, rng)
    hold_green(signals, j_index, signals.arm_group(c.src.road, c.src.direction), GREEN_HOLD_S)
    paved = PavedMap.build(graph)
    params = ScenarioParams(kind="townnav", route_length_m=route.length_m, lanes_per_direction=graph.roads[c.src.road].lanes_fwd,
                            lane_width_m=graph.roads[c.src.road].lane_width_m, speed_limit_m_s=speed_m_s,
                            min_curve_radius_m=25.0, traffic_density_per_km=0.0, pedestrians_per_km=0.0,
                            parked_cars_per_km=0.0, intersection_spacing_m=BLOCK_M)
    stage = NavScenario(params, spec, graph, signals, route, paved, street_buildings(graph, paved, rng), [], seed)
    turn = next(leg for leg in route.legs if leg.lane == c.lane)
    return JunctionSite(stage, j_index, c, route.route_s_on_leg(0, stop_s), turn.route_s0, turn.route_s1)


def hold_green(signals: JunctionSignals, junction: int, group: int, hold_s: float) -> None:
    """Retime one junction so that ``group``'s ball turns green at t = 0 and stays green ``hold_s``
    (the other group, and lefts on their arrow at a protected junction, hold red meanwhile)."""
    signals.green_s[junction, group] = hold_s
    arrow = signals.arrow_s[junction]
    arrow_phase = arrow + (YELLOW_S if arrow > 0 else 0.0)
    phase = arrow_phase + signals.green_s[junction] + YELLOW_S + ALL_RED_S
    signals.cycle_s[junction] = phase.sum()
    group_start = 0.0 if group == 0 else phase[0]
    signals.offset_s[junction] = group_start + arrow_phase  # the cycle clock at t = 0: the ball's green begins


def fresh_stage(stage: NavScenario) -> NavScenario:
    """The stage with its own signal clock at 0 (the signals are the only part a world steps)."""
    return dataclasses.replace(stage, signals=stage.signals.restarted())


def lane_path(graph: RoadGraph, pieces: list[tuple[LaneRef, float, float]], back_m: float = 0.0) -> Road:
    """A path along lane centres: (lane, s from, s to) on each road in turn, extended straight back
    ``back_m`` before its start (an actor that starts beyond the street, on the line of its lane).
    Its s is the distance along it from that extended start [m]."""
    points = []
    for lane, s0, s1 in pieces:
        road = graph.roads[lane.road]
        s = np.linspace(s0, s1, max(2, int(abs(s1 - s0) / STEP_M) + 1))
        x, y, _ = road.pose(s, np.full_like(s, float(road.lane_centre_d(lane.lane, lane.direction))))
        points.append(np.stack([x, y], 1))
    xy = np.concatenate(points)
    if back_m > 0:
        u = xy[0] - xy[1]
        u = u / np.linalg.norm(u)
        back = xy[0] + np.outer(np.linspace(back_m, STEP_M, max(2, int(back_m / STEP_M))), u)
        xy = np.concatenate([back, xy])
    xy, heading, curvature = resample(xy)
    w = graph.roads[pieces[0][0].road].lane_width_m
    return Road(-1, xy, heading, curvature, 1, 0, w, 0.0, 0.0, graph.roads[pieces[0][0].road].speed_limit_m_s, "none")


def through_path(graph: RoadGraph, c: Connector, approach_m: float, exit_m: float) -> tuple[Road, float]:
    """A vehicle's path over connector ``c``: ``approach_m`` of its approach lane (straight on back beyond
    the street where it is shorter), the connector, ``exit_m`` of its exit lane; and the path s where
    the connector begins [m]."""
    src, dst = graph.roads[c.src.road], graph.roads[c.dst.road]
    end = graph.lane_end_s(c.src)
    on_street = min(approach_m, src.length_m - 1.0)
    start = end - c.src.direction * on_street
    conn = graph.roads[c.road]
    exit0 = graph.lane_start_s(c.dst)
    exit1 = exit0 + c.dst.direction * min(exit_m, dst.length_m - 1.0)
    path = lane_path(graph, [(c.src, start, end), (c.lane, 0.0, conn.length_m), (c.dst, exit0, exit1)],
                     back_m=approach_m - on_street)
    return path, approach_m


def crossing_s(path_a: Road, path_b: Road) -> tuple[float, float]:
    """Where two paths' centre lines cross (or pass closest): s along each [m]."""
    gap = np.hypot(path_a.xy[:, None, 0] - path_b.xy[None, :, 0], path_a.xy[:, None, 1] - path_b.xy[None, :, 1])
    i, j = np.unravel_index(int(np.argmin(gap)), gap.shape)
    step_a = path_a.length_m / (len(path_a.xy) - 1)
    step_b = path_b.length_m / (len(path_b.xy) - 1)
    return float(i * step_a), float(j * step_b)
