"""The suite's test track: a straight road (a town street with sidewalks and buildings, or a highway
with trees) with no generated traffic, walkers, parked cars or junctions; the scenario adds its own
actors. The seed varies what the camera sees around the test (lane width, buildings, trees), never
the test itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..road import Road, RoadNetwork, straight_road_xy
from ..scenarios import END_MARGIN_M, START_MARGIN_M, Scenario, ScenarioParams, roadside_props

TOWN_SHOULDER_M, HIGHWAY_SHOULDER_M = 2.2, 2.5  # as the generated town and highway [m]
TOWN_SIDEWALK_M = 2.5  # [m]


@dataclass(frozen=True)
class TrackSpec:
    """What road a scenario needs."""

    kind: str  # "town" (sidewalks, buildings, lamp poles) | "highway" (no sidewalks, trees)
    lanes_per_direction: int
    speed_limit_m_s: float
    route_length_m: float  # ego start to goal [m]
    lane_width_m: tuple[float, float] = (3.25, 3.75)  # drawn per seed [m]
    clear_s: tuple[tuple[float, float], ...] = ()  # s ranges [m] kept free of props: a gap between buildings
    centre_style: str = "double_solid"  # "dashed": overtaking over the centre line is allowed


def build_track(spec: TrackSpec, seed: int) -> Scenario:
    """The straight test road of ``spec`` for ``seed``; the ego starts at ``START_MARGIN_M`` along it.
    The road runs along +x from the origin, so a point's x is its s."""
    rng = np.random.default_rng([seed, 0x7E57])
    town = spec.kind == "town"
    length = START_MARGIN_M + spec.route_length_m + END_MARGIN_M
    width = float(rng.uniform(*spec.lane_width_m))
    params = ScenarioParams(kind=spec.kind, route_length_m=spec.route_length_m,
                            lanes_per_direction=spec.lanes_per_direction, lane_width_m=width,
                            speed_limit_m_s=spec.speed_limit_m_s, min_curve_radius_m=5000.0,
                            traffic_density_per_km=0.0, pedestrians_per_km=0.0, parked_cars_per_km=0.0,
                            intersection_spacing_m=(length, length))
    xy, heading = straight_road_xy((length / 2, 0.0), 0.0, length / 2)
    main = Road(0, xy, heading, np.zeros(len(heading)), spec.lanes_per_direction, spec.lanes_per_direction, width,
                TOWN_SHOULDER_M if town else HIGHWAY_SHOULDER_M, TOWN_SIDEWALK_M if town else 0.0,
                spec.speed_limit_m_s, spec.centre_style)
    props = [p for p in roadside_props(params, [main], [], rng)
             if not any(lo - p.length_m / 2 <= p.x_m <= hi + p.length_m / 2 for lo, hi in spec.clear_s)]
    start_s = START_MARGIN_M
    return Scenario(params, RoadNetwork([main], []), start_s, start_s + spec.route_length_m, props, [], seed)
