"""Navigation worlds: a road graph, its signals, a route, and what stands beside the roads.

``townnav``: a street grid (``sim.roadgraph.generator``) with parked cars and buildings.
``highwaynav``: a highway with interchanges (``sim.roadgraph.highway``: on- and off-ramps, merges,
lane drops, turning loops at both ends) with trees beside it; its routes merge, change lanes and exit.

``generate_nav(config, seed)`` resolves a ``ScenarioConfig`` into a ``TownSpec`` (the grid from
``town_grid``, else sized to the route), draws the town (``sim.roadgraph.generator``), its
junction control (``sim.roadgraph.signals``), a route of ``route_length_m`` (``random_route``),
parked cars on street shoulders away from junctions and buildings along the streets. The same
config and seed always give the same town, route and props.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from common.config import ConfigError

from .config import ScenarioConfig
from .paved import PavedMap
from .roadgraph.generator import TownSpec, generate_graph
from .roadgraph.graph import RoadGraph
from .roadgraph.highway import HighwaySpec, generate_highway
from .roadgraph.planner import random_route
from .roadgraph.route import Route
from .roadgraph.signals import JunctionSignals
from .scenarios import Prop, ScenarioParams

ROUTE_M_PER_GRID = 280.0  # route metres per extra junction per side of the grid [m]
GRID_RANGE = (4, 12)  # the sized grid stays within this [junctions per side]
HIGHWAY_M_PER_INTERCHANGE = 1200.0  # highwaynav: route metres per interchange beyond the first [m]
ROUTE_SHORTFALL = 0.9  # a drawn route shorter than this share of the asked length is an error
END_CLEAR_M = 18.0  # no parked cars or buildings this close to a street end (the junction) [m]
START_CLEAR_M = 25.0  # no parked car this close to the ego's start on its street [m]
PARKED_GAP_M = 6.5  # parked cars' centres at least this far apart on one side [m]
MAX_PARK_CURVATURE_1_M = 1 / 80.0  # no parking in tighter curves [1/m]
MAX_BUILD_CURVATURE_1_M = 1 / 60.0  # no buildings along tighter curves [1/m]


@dataclass(frozen=True)
class ParkedCar:
    """A parked car on a street shoulder, facing its side's direction of travel."""

    road: int  # street id
    direction: int  # +1 faces +s, -1 faces -s
    s_m: float
    d_m: float


@dataclass
class NavScenario:
    params: ScenarioParams  # kind "townnav" / "highwaynav"; ``speed_limit_m_s`` is the lowest street limit
    spec: TownSpec | HighwaySpec
    graph: RoadGraph
    signals: JunctionSignals  # geometry fixed; its clock is stepped by the world
    route: Route
    paved: PavedMap
    props: list[Prop]
    parked: list[ParkedCar]
    seed: int


def grid_for(config: ScenarioConfig) -> int:
    """Junctions per side: ``town_grid``, else clamp(ceil(route / 280 m) + 2, 4, 12)."""
    if config.town_grid is not None:  # ScenarioConfig has checked it
        return config.town_grid
    lo, hi = GRID_RANGE
    return int(min(max(math.ceil(config.route_length_m / ROUTE_M_PER_GRID) + 2, lo), hi))


def resolve_nav(config: ScenarioConfig, rng: np.random.Generator) -> tuple[ScenarioParams, TownSpec]:
    def pick(value, sampler):
        return sampler() if value is None else value

    lanes = pick(config.lanes_per_direction, lambda: int(rng.choice([2, 3], p=[0.7, 0.3])))
    width = pick(config.lane_width_m, lambda: float(rng.uniform(3.2, 3.75)))
    arterial_kmh = pick(config.speed_limit_kmh, lambda: float(rng.choice([40, 50, 60])))
    residential_kmh = min(30.0, arterial_kmh)
    spec = TownSpec(grid=grid_for(config), lane_width_m=width, arterial_lanes=lanes,
                    arterial_speed_m_s=arterial_kmh / 3.6, residential_speed_m_s=residential_kmh / 3.6)
    params = ScenarioParams(
        kind="townnav", route_length_m=config.route_length_m, lanes_per_direction=lanes, lane_width_m=width,
        speed_limit_m_s=residential_kmh / 3.6,
        min_curve_radius_m=pick(config.min_curve_radius_m, lambda: 25.0),
        traffic_density_per_km=pick(config.traffic_density_per_km, lambda: 10.0),
        pedestrians_per_km=pick(config.pedestrians_per_km, lambda: 25.0),  # per km of street (both sidewalks)
        parked_cars_per_km=pick(config.parked_cars_per_km, lambda: 12.0),
        intersection_spacing_m=config.intersection_spacing_m)
    return params, spec


def resolve_highway(config: ScenarioConfig, rng: np.random.Generator) -> tuple[ScenarioParams, HighwaySpec]:
    def pick(value, sampler):
        return sampler() if value is None else value

    lanes = pick(config.lanes_per_direction, lambda: int(rng.choice([2, 3])))
    width = pick(config.lane_width_m, lambda: float(rng.uniform(3.5, 3.75)))
    kmh = pick(config.speed_limit_kmh, lambda: float(rng.choice([80, 100, 120])))
    # a route runs ramp to ramp: enough interchanges that the asked length fits between two of them
    interchanges = int(min(max(math.ceil(config.route_length_m / HIGHWAY_M_PER_INTERCHANGE) + 1, 3), 5))
    try:
        spec = HighwaySpec(interchanges=interchanges, lanes=lanes, lane_width_m=width, speed_m_s=kmh / 3.6)
    except ConfigError as exc:  # name the scenario field the user set, not the generator's
        raise ConfigError(f"scenario (highwaynav): {exc}") from None
    params = ScenarioParams(
        kind="highwaynav", route_length_m=config.route_length_m, lanes_per_direction=lanes, lane_width_m=width,
        speed_limit_m_s=spec.loop_speed_m_s, min_curve_radius_m=pick(config.min_curve_radius_m, lambda: 250.0),
        traffic_density_per_km=pick(config.traffic_density_per_km, lambda: 18.0), pedestrians_per_km=0.0,
        parked_cars_per_km=0.0, intersection_spacing_m=config.intersection_spacing_m)
    return params, spec


def generate_nav(config: ScenarioConfig, seed: int) -> NavScenario:
    """The navigation world for ``seed``; raises ``ConfigError`` (one line, naming the value) for
    settings no world can satisfy."""
    rng = np.random.default_rng([seed, 0x7A11])
    if config.kind == "highwaynav":
        return _generate_highway(config, seed, rng)
    params, spec = resolve_nav(config, rng)
    graph = generate_graph(spec, rng)
    signals = JunctionSignals(graph, rng, right_on_red=config.right_on_red)
    route = random_route(graph, rng, config.route_length_m)
    if route.length_m < ROUTE_SHORTFALL * config.route_length_m:
        raise ConfigError(f"scenario.route_length_m={config.route_length_m:g} does not fit a town of "
                          f"{spec.grid} x {spec.grid} junctions (longest route found {route.length_m:.0f} m); "
                          f"use a larger scenario.town_grid or a shorter route")
    paved = PavedMap.build(graph)
    start = route.legs[0]
    parked = _parked(graph, params, rng, (start.lane.road, start.s_from))
    props = street_buildings(graph, paved, rng)
    return NavScenario(params, spec, graph, signals, route, paved, props, parked, seed)


def _generate_highway(config: ScenarioConfig, seed: int, rng: np.random.Generator) -> NavScenario:
    params, spec = resolve_highway(config, rng)
    graph = generate_highway(spec, rng)
    signals = JunctionSignals(graph, rng)  # no lights or stop signs: merges are not crossings
    route = random_route(graph, rng, config.route_length_m)
    if route.length_m < ROUTE_SHORTFALL * config.route_length_m:
        raise ConfigError(f"scenario.route_length_m={config.route_length_m:g} does not fit a highway of "
                          f"{spec.interchanges} interchanges (longest route found {route.length_m:.0f} m); use a shorter route")
    paved = PavedMap.build(graph)
    return NavScenario(params, spec, graph, signals, route, paved, _trees(graph, paved, rng), [], seed)


def _trees(graph: RoadGraph, paved: "PavedMap", rng) -> list[Prop]:
    """Trees (a trunk and a crown, as on the straight highway) beside every road, none on any paving."""
    props: list[Prop] = []
    for k in range(graph.n_streets):
        road = graph.roads[k]
        lo, hi = road.asphalt_d
        s = float(rng.uniform(5, 30))
        while s < road.length_m - 5:
            for side in (-1, 1):
                if rng.random() < 0.5:
                    continue
                d = (lo - rng.uniform(4, 14)) if side < 0 else (hi + rng.uniform(4, 14))
                x, y, h = road.pose(s, d)
                size = float(rng.uniform(2.5, 5.0))
                if paved.box_touches((float(x), float(y), float(h), size, size), margin_m=1.0):
                    continue
                trunk = (int(rng.integers(70, 100)), int(rng.integers(50, 70)), 40)
                crown = (int(rng.integers(30, 70)), int(rng.integers(90, 150)), int(rng.integers(30, 60)))
                props.append(Prop(float(x), float(y), float(h), 0.4, 0.4, 0.0, 2.5, trunk, "tree"))
                props.append(Prop(float(x), float(y), float(h) + 0.4, size, size, 2.0, size * 1.2, crown, "tree"))
            s += float(rng.uniform(15, 40))
    return props


def _parked(graph: RoadGraph, p: ScenarioParams, rng, keep_clear: tuple[int, float]) -> list[ParkedCar]:
    """Parked cars on both shoulders of every street, clear of junctions, curves and the ego's start."""
    out: list[ParkedCar] = []
    if p.parked_cars_per_km <= 0:
        return out
    for k in range(graph.n_streets):
        road = graph.roads[k]
        if road.length_m < 2 * END_CLEAR_M + 5:
            continue
        count = rng.poisson(p.parked_cars_per_km * road.length_m / 1000.0 * 2)
        s_all = rng.uniform(END_CLEAR_M, road.length_m - END_CLEAR_M, count)
        side_all = rng.choice([-1, 1], count)
        taken: dict[int, list[float]] = {-1: [], 1: []}
        for s, side in zip(s_all.tolist(), side_all.tolist()):
            if k == keep_clear[0] and abs(s - keep_clear[1]) < START_CLEAR_M:
                continue
            if abs(road.curvature_near(s)) > MAX_PARK_CURVATURE_1_M:
                continue
            if any(abs(s - t) < PARKED_GAP_M for t in taken[side]):
                continue
            taken[side].append(s)
            # right shoulder (side -1) beyond the right edge line, left shoulder beyond the left one
            edge = road.right_edge_d if side < 0 else road.left_edge_d
            direction = 1 if side < 0 or road.lanes_bwd == 0 else -1
            out.append(ParkedCar(k, direction, s, float(edge + side * road.shoulder_m / 2)))
    return out


def street_buildings(graph: RoadGraph, paved: "PavedMap", rng) -> list[Prop]:
    """Buildings behind the sidewalks of every street, none on any paving (another street, a junction).

    Every draw comes first (none depends on whether a building stands), then each street's
    buildings are placed with one ``Road.pose`` call and kept where they touch no paving."""
    props: list[Prop] = []
    for k in range(graph.n_streets):
        road = graph.roads[k]
        lo, hi = road.asphalt_d
        drawn = []  # (s of the middle [m], d [m], length [m], depth [m], height [m], grey, tint)
        s = END_CLEAR_M * 0.5
        while s < road.length_m - END_CLEAR_M * 0.5:
            length = float(rng.uniform(8, 22))
            curvy = max(abs(road.curvature_near(s)), abs(road.curvature_near(s + length))) > MAX_BUILD_CURVATURE_1_M
            for side in (-1, 1):
                depth, setback = float(rng.uniform(8, 16)), float(rng.uniform(0.5, 4.0))
                grey = int(rng.integers(90, 200))
                tint = rng.integers(-25, 25, size=3)
                height = float(rng.uniform(5, 22))
                if curvy or s + length > road.length_m - END_CLEAR_M * 0.5:
                    continue
                edge = (lo - road.sidewalk_m) if side < 0 else (hi + road.sidewalk_m)
                drawn.append((s + length / 2, edge + side * (setback + depth / 2), length, depth, height, grey, tint))
            s += length + float(rng.uniform(2, 6))
        if not drawn:
            continue
        x, y, h = road.pose(np.array([b[0] for b in drawn]), np.array([b[1] for b in drawn]))
        for xb, yb, hb, (_, _, length, depth, height, grey, tint) in zip(x.tolist(), y.tolist(), h.tolist(), drawn):
            box = (xb, yb, hb, length * 0.92, depth)
            if paved.box_touches(box, margin_m=road.sidewalk_m):
                continue
            colour = tuple(min(max(grey + t, 40), 230) for t in tint.tolist())
            props.append(Prop(*box, 0.0, height, colour, "building"))
    return props
