"""Procedural scenario families: a road network, roadside props and spawn plans from a seed.

``town``: a two-way street with curves (radius from 25 m), 1-2 lanes per direction, four-way
intersections with traffic lights, stop lines and crosswalks, sidewalks, buildings, parked cars
and pedestrians, 30-50 km/h. ``highway``: a long multi-lane road with gentle curves, 2-3 lanes per
direction, trees, faster traffic, 80-120 km/h. The ego's route runs along the main road from
``start_s`` to ``goal_s`` (straight through intersections).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import ScenarioConfig
from .road import (
    SAMPLE_STEP_M,
    Intersection,
    Road,
    RoadNetwork,
    centreline_from_curvature,
    straight_road_xy,
)

START_MARGIN_M = 40.0  # road behind the route start [m]
END_MARGIN_M = 160.0  # road beyond the goal, so the camera never sees the world end [m]
SIDE_ARM_M = 70.0  # length of each side-road arm from the main road's centre [m]


@dataclass(frozen=True)
class ScenarioParams:
    """A ScenarioConfig with every ``None`` resolved for one seed."""

    kind: str
    route_length_m: float
    lanes_per_direction: int
    lane_width_m: float
    speed_limit_m_s: float
    min_curve_radius_m: float
    traffic_density_per_km: float
    pedestrians_per_km: float
    parked_cars_per_km: float
    intersection_spacing_m: tuple[float, float]


def resolve(config: ScenarioConfig, rng: np.random.Generator) -> ScenarioParams:
    town = config.kind == "town"

    def pick(value, sampler):
        return sampler() if value is None else value

    return ScenarioParams(
        kind=config.kind,
        route_length_m=config.route_length_m,
        lanes_per_direction=pick(config.lanes_per_direction, lambda: int(rng.choice([1, 2], p=[0.6, 0.4]) if town else rng.choice([2, 3]))),
        lane_width_m=pick(config.lane_width_m, lambda: float(rng.uniform(3.0, 3.75))),
        speed_limit_m_s=pick(config.speed_limit_kmh, lambda: float(rng.choice([30, 40, 50]) if town else rng.choice([80, 100, 120]))) / 3.6,
        min_curve_radius_m=pick(config.min_curve_radius_m, lambda: 25.0 if town else 250.0),
        traffic_density_per_km=pick(config.traffic_density_per_km, lambda: 12.0 if town else 18.0),
        pedestrians_per_km=pick(config.pedestrians_per_km, lambda: 40.0 if town else 0.0),
        parked_cars_per_km=pick(config.parked_cars_per_km, lambda: 20.0 if town else 0.0),
        intersection_spacing_m=config.intersection_spacing_m,
    )


@dataclass(frozen=True)
class Prop:
    """A static box in the world: building, tree trunk/crown, pole. Collides with the ego."""

    x_m: float
    y_m: float
    yaw_rad: float
    length_m: float
    width_m: float
    z0_m: float  # bottom height [m]
    height_m: float
    colour: tuple[int, int, int]
    kind: str  # "building" | "tree" | "pole"


@dataclass
class Scenario:
    params: ScenarioParams
    network: RoadNetwork
    start_s: float  # route start on the main road [m]
    goal_s: float  # route goal on the main road [m]
    props: list[Prop]
    parked: list[tuple[float, float, float]]  # (s, d, yaw offset) of parked cars on the main road
    seed: int


def _main_curvature(p: ScenarioParams, length_m: float, rng: np.random.Generator, keep_straight: list[tuple[float, float]]):
    """Piecewise curvature (straights and arcs), smoothed so curves ease in like clothoids.

    The heading stays within +-75 deg of the start, so the road never folds back on itself.
    """
    n = int(length_m / SAMPLE_STEP_M) + 1
    kappa = np.zeros(n)
    s_grid = np.arange(n) * SAMPLE_STEP_M
    town = p.kind == "town"
    s, heading = 0.0, 0.0
    limit = np.deg2rad(75.0)
    while s < length_m:
        straight = rng.uniform(30, 120) if town else rng.uniform(100, 400)
        s += straight
        radius = rng.uniform(p.min_curve_radius_m, p.min_curve_radius_m * (5 if town else 4))
        angle = np.deg2rad(rng.uniform(20, 90) if town else rng.uniform(5, 35))
        sign = rng.choice([-1.0, 1.0])
        if abs(heading + sign * angle) > limit:
            sign = -sign
        if abs(heading + sign * angle) > limit:
            angle = max(0.0, limit - abs(heading)) * 0.9
        arc = radius * angle
        lo, hi = s, s + arc
        if any(lo < b + 8 and hi > a - 8 for a, b in keep_straight):
            continue  # keep intersections on straight road: skip this curve, leave it straight
        kappa[(s_grid >= lo) & (s_grid < hi)] = sign / radius
        heading += sign * angle
        s = hi
    width = int(12.0 / SAMPLE_STEP_M)  # 12 m easing
    kernel = np.ones(width) / width
    return np.convolve(kappa, kernel, mode="same")


def generate(config: ScenarioConfig, seed: int) -> Scenario:
    """Build the world for ``seed``; the same seed always gives the same world."""
    rng = np.random.default_rng([seed, 0x5EED])
    p = resolve(config, rng)
    town = p.kind == "town"
    length = START_MARGIN_M + p.route_length_m + END_MARGIN_M
    w = p.lane_width_m
    shoulder = 2.2 if town else 2.5  # town shoulder doubles as the parking strip
    sidewalk = 2.5 if town else 0.0

    # Intersections first, so the curve generator leaves straight road around them.
    centres: list[float] = []
    if town:
        s = START_MARGIN_M + rng.uniform(50, 110)
        while s < length - 60:
            centres.append(s)
            s += rng.uniform(*p.intersection_spacing_m)
    side_lanes = 1
    side_half = side_lanes * w + shoulder  # half paved width of a side road [m]
    main_half = p.lanes_per_direction * w + shoulder
    reach = side_half + sidewalk + 6.0
    keep = [(c - reach - 10, c + reach + 10) for c in centres]

    kappa = _main_curvature(p, length, rng, keep)
    xy, heading = centreline_from_curvature((0.0, 0.0), 0.0, kappa)
    main = Road(0, xy, heading, kappa, p.lanes_per_direction, p.lanes_per_direction, w, shoulder, sidewalk,
                p.speed_limit_m_s, "double_solid")
    roads = [main]
    intersections: list[Intersection] = []
    crosswalk = 3.0
    for c in centres:
        cx, cy, h = main.pose(c, 0.0)
        sxy, sh = straight_road_xy((float(cx), float(cy)), float(h) + np.pi / 2, SIDE_ARM_M)
        # the side road must stay clear of the rest of the main road and earlier side roads
        if _clashes(sxy, roads, c, main_half + side_half + sidewalk * 2 + 4):
            continue
        side = Road(len(roads), sxy, sh, np.zeros(len(sh)), side_lanes, side_lanes, w, shoulder, sidewalk,
                    min(p.speed_limit_m_s, 40 / 3.6), "double_solid")
        half_main = side_half  # box half extent along the main road
        half_side = main_half
        gap_main = half_main + crosswalk + 1.0
        gap_side = half_side + crosswalk + 1.0
        main.gaps.append((c - gap_main, c + gap_main))
        side.gaps.append((SIDE_ARM_M - gap_side, SIDE_ARM_M + gap_side))
        inter = Intersection(len(intersections), c, side.road_id, SIDE_ARM_M, half_main, half_side, crosswalk)
        # stop lines sit just outside the crosswalk, on each approach
        inter.stop_s[(0, 1)] = c - gap_main
        inter.stop_s[(0, -1)] = c + gap_main
        inter.stop_s[(side.road_id, 1)] = SIDE_ARM_M - gap_side
        inter.stop_s[(side.road_id, -1)] = SIDE_ARM_M + gap_side
        roads.append(side)
        intersections.append(inter)

    start_s = START_MARGIN_M
    goal_s = START_MARGIN_M + p.route_length_m
    props = roadside_props(p, roads, intersections, rng)
    parked = _parked(p, main, intersections, rng, start_s)
    return Scenario(p, RoadNetwork(roads, intersections), start_s, goal_s, props, parked, seed)


def _clashes(sxy: np.ndarray, roads: list[Road], main_s: float, clearance_m: float) -> bool:
    main = roads[0]
    far = np.abs(np.arange(main.n) * SAMPLE_STEP_M - main_s) > clearance_m + 30
    d2 = ((sxy[:, None, :] - main.xy[None, far]) ** 2).sum(-1)
    if d2.size and d2.min() < clearance_m**2:
        return True
    for road in roads[1:]:
        d2 = ((sxy[:, None, :] - road.xy[None, ::4]) ** 2).sum(-1)
        if d2.min() < (2 * clearance_m) ** 2:
            return True
    return False


def _parked(p: ScenarioParams, main: Road, inters: list[Intersection], rng, start_s: float):
    """Parked cars on both shoulders, clear of intersections and of the ego's start."""
    if p.parked_cars_per_km <= 0:
        return []
    count = rng.poisson(p.parked_cars_per_km * main.length_m / 1000.0 * 2)
    out = []
    for _ in range(count):
        s = rng.uniform(5, main.length_m - 5)
        if abs(s - start_s) < 25 or any(abs(s - i.main_s) < i.half_main_m + 15 for i in inters):
            continue
        if abs(main.curvature_at(s)) > 1 / 80:
            continue  # no parking in tight curves
        side = rng.choice([-1, 1])
        edge = main.right_edge_d if side < 0 else main.left_edge_d
        d = edge + side * (main.shoulder_m / 2)
        yaw = 0.0 if side < 0 else np.pi
        if any(abs(s - s2) < 6.5 and np.sign(d) == np.sign(d2) for s2, d2, _ in out):
            continue
        out.append((float(s), float(d), float(yaw)))
    return out


def roadside_props(p: ScenarioParams, roads: list[Road], inters: list[Intersection], rng) -> list[Prop]:
    """Buildings along town streets, trees along highways, poles for street lamps."""
    main = roads[0]
    props: list[Prop] = []
    town = p.kind == "town"
    lo, hi = main.asphalt_d
    s = 5.0
    while s < main.length_m - 5:
        near_inter = any(abs(s - i.main_s) < i.half_main_m + main.sidewalk_m + 6 for i in inters)
        curvy = abs(main.curvature_at(s)) > 1 / 60
        for side in (-1, 1):
            edge = (lo - main.sidewalk_m) if side < 0 else (hi + main.sidewalk_m)
            if town and not near_inter and not curvy:
                length = rng.uniform(8, 22)
                depth = rng.uniform(8, 16)
                setback = rng.uniform(0.5, 4.0)
                d = edge + side * (setback + depth / 2)
                x, y, h = main.pose(s + length / 2, d)
                grey = int(rng.integers(90, 200))
                tint = rng.integers(-25, 25, size=3)
                colour = tuple(int(np.clip(grey + t, 40, 230)) for t in tint)
                props.append(Prop(float(x), float(y), float(h), length * 0.92, depth, 0.0, float(rng.uniform(5, 22)), colour, "building"))
            elif not town and rng.random() < 0.5:
                d = edge + side * rng.uniform(4, 14)
                x, y, h = main.pose(s, d)
                trunk = (int(rng.integers(70, 100)), int(rng.integers(50, 70)), 40)
                crown = (int(rng.integers(30, 70)), int(rng.integers(90, 150)), int(rng.integers(30, 60)))
                size = rng.uniform(2.5, 5.0)
                props.append(Prop(float(x), float(y), float(h), 0.4, 0.4, 0.0, 2.5, trunk, "tree"))
                props.append(Prop(float(x), float(y), float(h) + 0.4, size, size, 2.0, size * 1.2, crown, "tree"))
        s += rng.uniform(14, 26) if town else rng.uniform(15, 40)
    if town:  # street lamp poles on the sidewalk
        s = 10.0
        while s < main.length_m - 5:
            if not any(abs(s - i.main_s) < i.half_main_m + 8 for i in inters):
                for side in (-1, 1):
                    d = (lo - 0.6) if side < 0 else (hi + 0.6)
                    x, y, h = main.pose(s, d)
                    props.append(Prop(float(x), float(y), float(h), 0.2, 0.2, 0.0, 5.5, (80, 82, 88), "pole"))
            s += 35.0
    return props
