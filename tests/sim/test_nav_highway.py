"""The highway road graph: interchanges with lane gains, exits, entrances and lane drops."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from common.config import ConfigError
from sim.roadgraph.generator import _strongly_connected
from sim.roadgraph.graph import LaneRef
from sim.roadgraph.highway import HighwaySpec, generate_highway
from sim.roadgraph.planner import plan_route, random_route
from sim.roadgraph.signals import JunctionSignals
from sim.roadgraph.topdown import draw_map

from .connector_checks import assert_connector_joins_its_lanes


def highway(seed: int, **spec):
    return generate_highway(HighwaySpec(**spec), np.random.default_rng(seed))


@pytest.fixture(scope="module")
def graphs():
    return [highway(seed, interchanges=3 + seed % 3, lanes=2 + seed % 2) for seed in range(4)]


def _ramps(g):
    return [k for k, s in enumerate(g.streets) if s.kind == "ramp"]


def test_same_seed_same_highway_and_different_seeds_differ():
    a, b, c = highway(5), highway(5), highway(6)
    assert len(a.roads) == len(b.roads)
    assert all(np.array_equal(r.xy, q.xy) for r, q in zip(a.roads, b.roads))
    assert [dataclasses.astuple(x) for x in a.connectors] == [dataclasses.astuple(x) for x in b.connectors]
    assert not all(np.array_equal(r.xy, q.xy) for r, q in zip(a.roads, c.roads))


def test_every_lane_reaches_every_other(graphs):
    for g in graphs:
        assert _strongly_connected(g)
    g = graphs[1]
    lanes = g.all_street_lanes()
    rng = np.random.default_rng(0)
    for _ in range(10):
        a, b = (lanes[int(k)] for k in rng.integers(0, len(lanes), 2))
        route = plan_route(g, a, g.roads[a.road].length_m / 2, b, g.roads[b.road].length_m / 2)
        assert (route.legs[-1].lane.road, route.legs[-1].lane.direction) == (b.road, b.direction)


def test_interchanges_gain_a_lane_before_each_exit_and_drop_it_after_each_entrance(graphs):
    for seed, g in enumerate(graphs):
        n, count = 2 + seed % 2, 3 + seed % 3
        ramps = _ramps(g)
        assert len(ramps) == 2 * count  # one per interchange and direction
        assert all(g.roads[k].lanes_fwd == 1 and g.roads[k].lanes_bwd == 0 for k in ramps)
        for ramp in ramps:
            diverge, merge = (g.junctions[j] for j in g.streets[ramp].nodes)
            # before the exit: a taper where the deceleration lane opens, then n + 1 lanes
            decel = next(a.street for a in diverge.arms if a.at_end)
            assert g.roads[decel].lanes_fwd == n + 1
            gain = g.junctions[g.streets[decel].nodes[0]]
            before = next(a.street for a in gain.arms if a.at_end)
            assert g.roads[before].lanes_fwd == n
            assert not any(c.dst == LaneRef(decel, 1, n) for c in g.connectors)  # entered by a lane change
            exits = g.exits[LaneRef(decel, 1, n)]
            assert [(c.dst, c.movement) for c in exits] == [(LaneRef(ramp, 1, 0), "right")]
            # after the entrance: the ramp becomes the acceleration lane, which ends in a drop
            (join,) = g.exits[LaneRef(ramp, 1, 0)]
            accel = join.dst.road
            assert join.movement == "straight" and join.dst == LaneRef(accel, 1, n) and g.roads[accel].lanes_fwd == n + 1
            assert 200.0 <= g.roads[accel].length_m <= 300.0
            drop = g.junctions[g.streets[accel].nodes[1]]
            after = next(a.street for a in drop.arms if not a.at_end)
            assert g.roads[after].lanes_fwd == n
            assert LaneRef(accel, 1, n) not in g.exits  # the dropped lane has no connector onward
            for j in (gain, diverge, merge, drop):
                assert j.control == "merge" and not j.stop_s


def test_geometry_is_a_highways(graphs):
    for g in graphs:
        for k, s in enumerate(g.streets):
            road = g.roads[k]
            assert 3.5 <= road.lane_width_m <= 3.75 and road.sidewalk_m == 0.0
            radius = 1 / max(np.abs(road.curvature).max(), 1e-9)
            if s.kind == "ramp":
                assert radius > 100.0 and 60 / 3.6 - 1e-6 <= road.speed_limit_m_s <= 80 / 3.6 + 1e-6
            elif road.speed_limit_m_s >= 80 / 3.6 - 1e-6:  # the carriageways, not the end loops
                assert radius >= 250.0 and road.speed_limit_m_s <= 120 / 3.6 + 1e-6
            else:
                assert radius > 50.0 * 0.99
        fast = {k for k, s in enumerate(g.streets) if s.kind == "highway" and g.roads[k].speed_limit_m_s >= 80 / 3.6 - 1e-6}
        junctions = [g.roads[c.road].length_m for c in g.connectors if c.src.lane == 0 and {c.src.road, c.dst.road} <= fast]
        carriageway = (sum(g.roads[k].length_m for k in fast) + sum(junctions)) / 2  # one direction [m]
        assert 3000.0 <= carriageway <= 6500.0


def test_connectors_join_their_lanes_and_stay_inside_the_taper_or_gore(graphs):
    for g in graphs[:2]:
        for j in g.junctions:
            poly = j.polygon
            a, b = np.roll(poly, -1, 0) - poly, np.roll(poly, -2, 0) - np.roll(poly, -1, 0)
            turn = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
            assert np.all(turn > 0)  # convex, counter-clockwise
        for c in g.connectors:
            assert_connector_joins_its_lanes(g, c)


def test_lines_of_continuing_lanes_are_painted_through_each_merge_junction(graphs):
    g = graphs[0]
    for j in g.junctions:
        links = [g.connectors[c] for c in j.connectors]
        through = [c for c in links if g.streets[c.src.road].kind == g.streets[c.dst.road].kind == "highway"]
        left = {p.road for p in j.painted if p.line.d_m == 0.0}
        assert {c.road for c in through} <= left  # every continuing lane's left line
        lanes = sorted(through, key=lambda c: c.src.lane)
        styles = [p.line.style for c in lanes for p in j.painted if p.road == c.road and p.line.d_m == 0.0]
        assert styles == ["solid"] + ["dashed"] * (len(lanes) - 1)  # the left edge, then lane lines


def test_routes_merge_change_lanes_and_exit(graphs):
    g = graphs[1]
    ramps = _ramps(g)
    # from one ramp of the east carriageway to the next one's: merge, leave the acceleration lane,
    # move right into the deceleration lane, exit
    route = plan_route(g, LaneRef(ramps[0], 1, 0), 100.0, LaneRef(ramps[1], 1, 0), 100.0)
    commands = [m.command for m in route.maneuvers]
    first = {c: commands.index(c) for c in ("change_lane_left", "change_lane_right", "right")}
    assert commands[0] == "straight" and first["change_lane_left"] < first["change_lane_right"] < first["right"]
    seen = set()
    rng = np.random.default_rng(2)
    for g in graphs:
        for _ in range(6):
            route = random_route(g, rng, 1500.0)
            assert abs(route.length_m - 1500.0) < 150.0
            assert np.hypot(*np.diff(route.path.xy, axis=0).T).max() < 0.6
            seen |= {m.command for m in route.maneuvers}
    assert {"change_lane_left", "change_lane_right", "right", "straight"} <= seen
    assert not seen & {"left"}


def test_highways_have_no_lights_or_stop_signs_and_draw_a_map(graphs):
    g = graphs[0]
    signals = JunctionSignals(g, np.random.default_rng(0))
    assert not signals.heads and not signals.stop_signs
    img = draw_map(g, 0.2)
    x0, y0, x1, y1 = g.bounds()
    assert img.shape == (int((y1 - y0 + 40) * 0.2) + 1, int((x1 - x0 + 40) * 0.2) + 1, 3)
    assert (img != (96, 140, 80)).any(axis=2).mean() > 0.01  # something besides grass


@pytest.mark.parametrize("field, value, match", [
    ("interchanges", 2, "interchanges=2"), ("interchanges", 6, "interchanges=6"), ("lanes", 4, "lanes=4"),
    ("lanes", 1, "lanes=1"), ("lane_width_m", 3.0, "lane_width_m=3"), ("speed_m_s", 50 / 3.6, "speed_m_s=50 km/h"),
    ("ramp_speed_m_s", 100 / 3.6, "ramp_speed_m_s=100 km/h"), ("loop_radius_m", 30.0, "loop_radius_m=30"),
    ("bend_radius_m", (100.0, 400.0), r"bend_radius_m=\(100.0, 400.0\)"), ("accel_lane_m", 50.0, "accel_lane_m=50"),
    ("decel_lane_m", 400.0, "decel_lane_m=400"), ("taper_m", 10.0, "taper_m=10"),
])
def test_bad_spec_values_are_one_line_errors(field, value, match):
    with pytest.raises(ConfigError, match=match) as err:
        HighwaySpec(**{field: value})
    assert "\n" not in str(err.value)
