"""Route positions against the painted geometry: every stop line, junction entry and exit, and the
route block's distances, measured along the route line (the lane centre the ego drives).

The planner once counted a connector leg along its reference line (the lane's left edge) and a street
leg along the street's centre line; every bend then moved the later positions by the lane's offset
times the angle turned, up to 10 m off on a 1.5 km route."""

import math
from dataclasses import replace

import numpy as np
import pytest

from common.vocab import EGO_LENGTH_M
from sim.config import ScenarioConfig
from sim.nav_scenario import generate_nav
from sim.nav_world import NavWorld
from sim.suite.junction_site import choose_site

SEEDS = (1, 2, 3, 4, 5)
ROUTE_M = 1500.0
TOL_M = 0.03  # route positions sit on the painted geometry within this [m]


@pytest.fixture(scope="module")
def worlds():
    config = ScenarioConfig(kind="townnav", route_length_m=ROUTE_M, traffic_density_per_km=0.0, pedestrians_per_km=0.0)
    return [NavWorld(config, seed, 0.1) for seed in SEEDS]


def _stop_line_xy(world, a):
    """The painted stop line's point on the lane the route uses there (the approach leg's lane)."""
    road = world.graph.roads[a.street]
    stop_s = world.graph.junctions[a.junction].stop_s[(a.street, a.direction)]
    leg = next(g for g in world.route.legs if g.connector and g.junction == a.junction)
    lane = world.route.legs[world.route.legs.index(leg) - 1].lane
    x, y, _ = road.pose(np.array([stop_s]), np.array([float(road.lane_centre_d(lane.lane, lane.direction))]))
    return float(x[0]), float(y[0])


def _connector_ends_xy(world, leg):
    conn = world.graph.roads[leg.lane.road]
    x, y, _ = conn.pose(np.array([0.0, conn.length_m]), np.full(2, float(conn.lane_centre_d(0, 1))))
    return np.stack([x, y], 1)


def _at(route, s_m: float) -> np.ndarray:
    x, y, _ = route.path.pose(np.array([s_m]), np.array([0.0]))
    return np.array([x[0], y[0]])


def test_stop_lines_on_the_painted_line(worlds):
    """Each approach's stop-line position, placed on the route line, is the painted stop line's point."""
    n = 0
    for world in worlds:
        assert world._approaches, "a 1.5 km town route crosses junctions"
        for a in world._approaches:
            gap = np.hypot(*(_at(world.route, a.stop_route_s) - _stop_line_xy(world, a)))
            assert gap < TOL_M, (world.scenario.seed, a.junction, gap)
            n += 1
    assert n >= 40


def test_junction_entries_and_exits_on_the_connector(worlds):
    """Each connector leg starts and ends where its lane centre does, its length is that lane centre's
    arc length, and the legs tile the route."""
    for world in worlds:
        route = world.route
        for prev, nxt in zip(route.legs, route.legs[1:]):
            assert nxt.route_s0 == prev.route_s1
        assert route.legs[0].route_s0 == 0.0 and abs(route.legs[-1].route_s1 - route.length_m) < 1e-9
        for leg in (g for g in route.legs if g.connector):
            ends = _connector_ends_xy(world, leg)
            assert np.hypot(*(_at(route, leg.route_s0) - ends[0])) < TOL_M
            assert np.hypot(*(_at(route, leg.route_s1) - ends[1])) < TOL_M
            conn = world.graph.roads[leg.lane.road]
            s = np.linspace(0.0, conn.length_m, 4001)
            x, y, _ = conn.pose(s, np.full_like(s, float(conn.lane_centre_d(0, 1))))
            assert abs(leg.length_m - np.hypot(np.diff(x), np.diff(y)).sum()) < TOL_M
        for a in world._approaches:  # the exit the world checks for room is the connector's end
            leg = next(g for g in route.legs if g.connector and g.junction == a.junction)
            assert a.exit_route_s == leg.route_s1


def test_road_and_route_s_convert_both_ways(worlds):
    route = worlds[0].route
    for k, leg in enumerate(route.legs):
        mid = 0.5 * (leg.s_from + leg.s_to)
        assert abs(route.road_s_on_leg(k, route.route_s_on_leg(k, mid)) - mid) < 1e-6
        assert abs(route.route_s_on_leg(k, leg.s_from) - leg.route_s0) < 1e-9


def test_route_block_distances_are_geometric(worlds):
    """Placed on its route before each junction, the ego's route block gives the distances from its front
    bumper along its path to the painted stop line and to where the turn begins."""
    checked = 0
    for world in worlds:
        for a in world._approaches:
            line_s = world.route.path.project(*np.array([_stop_line_xy(world, a)]).T)[0][0]
            leg = next(g for g in world.route.legs if g.connector and g.junction == a.junction)
            entry_s = world.route.path.project(*_connector_ends_xy(world, leg)[:1].T)[0][0]
            ego_s = line_s - EGO_LENGTH_M / 2 - 12.0
            if ego_s < 1.0:
                continue
            (x, y), h = _at(world.route, ego_s), float(world.route.path.heading_at(ego_s))
            world.ego = replace(world.ego, x_m=float(x), y_m=float(y), yaw_rad=h)
            world.ego_s = ego_s  # the hint of the projection: the ego was teleported
            world._locate()
            truth = world.route_truth()
            front = world.ego_s + EGO_LENGTH_M / 2
            if a.control == "signal":
                assert abs(truth.signal_stop_line_m - (line_s - front)) < TOL_M
                assert abs(world.relevant_light()[1] - (line_s - front)) < TOL_M
            if a.control == "stop":
                assert abs(truth.stop_sign_distance_m - (line_s - front)) < TOL_M
            m = next(m for m in world.route.maneuvers if m.junction == a.junction)
            if a.movement != "straight" or truth.command == "straight":
                assert truth.command == a.movement
                assert abs(truth.command_distance_m - (entry_s - world.ego_s)) < TOL_M
                assert abs(m.start_m - entry_s) < TOL_M
            checked += 1
    assert checked >= 30


@pytest.mark.parametrize("seed, movement", [(0, "left"), (1, "right"), (2, "straight")])
def test_junction_site_positions_on_its_route(seed, movement):
    """The suite's junction site: its stop line is the painted one, the connector's ends its lane centre's."""
    site = choose_site(seed, 10.0, movement)
    route, c = site.stage.route, site.movement
    road = site.graph.roads[c.src.road]
    stop_s = site.box.stop_s[(c.src.road, c.src.direction)]
    x, y, _ = road.pose(np.array([stop_s]), np.array([float(road.lane_centre_d(c.src.lane, c.src.direction))]))
    assert np.hypot(*(_at(route, site.stop_route_s) - [x[0], y[0]])) < TOL_M
    conn = site.graph.roads[c.road]
    x, y, _ = conn.pose(np.array([0.0, conn.length_m]), np.full(2, float(conn.lane_centre_d(0, 1))))
    assert np.hypot(*(_at(route, site.connector_route_s) - [x[0], y[0]])) < TOL_M
    assert np.hypot(*(_at(route, site.exit_route_s) - [x[1], y[1]])) < TOL_M
    assert math.isclose(site.exit_route_s - site.connector_route_s,
                        next(g for g in route.legs if g.lane == c.lane).length_m)
