"""The road graph core: generation, lane-use rules, connector geometry, signals and route planning."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from common.config import ConfigError
from sim.config import ScenarioConfig
from sim.lights import GREEN, RED
from sim.roadgraph.generator import TownSpec, generate_graph, movement_of
from sim.roadgraph.graph import LaneRef
from sim.roadgraph.planner import RouteError, plan_route, random_route
from sim.roadgraph.route import COMMANDS
from sim.roadgraph.signals import JunctionSignals

from .connector_checks import assert_connector_joins_its_lanes


def town(seed: int, grid: int = 5):
    return generate_graph(TownSpec(grid=grid), np.random.default_rng(seed))


@pytest.fixture(scope="module")
def graphs():
    return [town(seed) for seed in range(6)]


def test_same_seed_same_town_and_different_seeds_differ():
    a, b, c = town(7), town(7), town(8)
    assert len(a.roads) == len(b.roads)
    assert all(np.array_equal(r.xy, q.xy) for r, q in zip(a.roads, b.roads))
    assert [dataclasses.astuple(x) for x in a.connectors] == [dataclasses.astuple(x) for x in b.connectors]
    assert len(a.roads) != len(c.roads) or not all(np.array_equal(r.xy, q.xy) for r, q in zip(a.roads, c.roads))


def test_towns_have_the_variety_the_issue_asks_for(graphs):
    arms = {len(j.arms) for g in graphs for j in g.junctions}
    assert arms == {3, 4}
    lanes = {g.roads[k].lanes_fwd for g in graphs for k, s in enumerate(g.streets) if s.kind == "arterial"}
    assert lanes >= {2}
    assert any(s.one_way for g in graphs for s in g.streets)
    assert {j.control for g in graphs for j in g.junctions} == {"signal", "all_way_stop", "two_way_stop"}
    assert any(j.protected_left for g in graphs for j in g.junctions)
    curved = [np.abs(r.curvature).max() for g in graphs for r in g.roads[:g.n_streets]]
    assert max(curved) > 1 / 60  # the ring's curved corners


def test_every_street_lane_reaches_every_other(graphs):
    g = graphs[0]
    lanes = g.all_street_lanes()
    rng = np.random.default_rng(0)
    for _ in range(30):
        a, b = (lanes[int(k)] for k in rng.integers(0, len(lanes), 2))
        ra, rb = g.roads[a.road], g.roads[b.road]
        route = plan_route(g, a, ra.length_m / 2, b, rb.length_m / 2)
        assert route.legs[0].lane == a and (route.legs[-1].lane.road, route.legs[-1].lane.direction) == (b.road, b.direction)


def test_lane_use_rules_and_no_u_turns(graphs):
    for g in graphs:
        for c in g.connectors:
            n_in = g.street_lanes(c.src.road, c.src.direction)
            n_out = g.street_lanes(c.dst.road, c.dst.direction)
            if c.movement == "left":
                assert c.src.lane == 0 and c.dst.lane == 0
            elif c.movement == "right":
                assert c.src.lane == n_in - 1 and c.dst.lane == n_out - 1
            else:
                assert c.src.lane == c.dst.lane
            assert g.junction_ahead(c.src.road, c.src.direction) == c.junction
            j = g.junctions[c.junction]
            # the exit is a different arm of the same junction
            in_arm = [a for a in j.arms if a.street == c.src.road and a.in_direction == c.src.direction]
            out_arm = [a for a in j.arms if a.street == c.dst.road and (1 if not a.at_end else -1) == c.dst.direction]
            assert len(in_arm) == 1 and len(out_arm) == 1 and in_arm[0] is not out_arm[0]


def test_connectors_join_their_lanes_smoothly_and_stay_on_the_paving(graphs):
    for g in graphs[:3]:
        for c in g.connectors:
            turn = assert_connector_joins_its_lanes(g, c)
            assert movement_of(turn) == c.movement




def test_signal_groups_never_both_green_and_protected_lefts_go_first(graphs):
    for seed, g in enumerate(graphs[:3]):
        sig = JunctionSignals(g, np.random.default_rng(seed))
        protected = [j.index for j in g.junctions if j.protected_left]
        seen_protected = False
        for t in np.arange(0.0, 120.0, 0.5):
            sig.time_s = float(t)
            ball, arrow = sig.group_states()
            assert not np.any((ball[:, 0] != RED) & (ball[:, 1] != RED))
            assert not np.any((arrow[:, 0] != RED) & (ball[:, 1] != RED))
            for j in protected:  # protected-only: the arrow never shows with its own group's ball
                assert not np.any((arrow[j] != RED) & (ball[j] != RED))
                seen_protected |= bool(np.any(arrow[j] == GREEN))
            permitted = [j.index for j in g.junctions if not j.protected_left]
            assert np.array_equal(arrow[permitted], ball[permitted])
        assert seen_protected or not protected
        for j in g.junctions:
            approaches = {(a.street, a.in_direction) for a in j.arms if (a.street, a.in_direction) in j.stop_s}
            signs = {(s.street, s.direction) for s in sig.stop_signs if s.junction == j.index}
            balls = {(h.street, h.direction) for h in sig.heads if h.junction == j.index and not h.left_arrow}
            if j.control == "signal":
                assert balls == approaches and not signs
            elif j.control == "all_way_stop":
                assert signs == approaches
            else:  # the minor street's approaches stop, the priority street's never do
                minor = {(a.street, a.in_direction) for k, a in enumerate(j.arms) if k not in j.priority_arms}
                assert signs == minor & approaches and len(j.priority_arms) == 2


def test_random_routes_have_the_asked_length_turns_and_a_continuous_line(graphs):
    rng = np.random.default_rng(3)
    kinds = set()
    for g in graphs[:4]:
        for length in (400.0, 900.0):
            route = random_route(g, rng, length)
            assert abs(route.length_m - length) < 0.1 * length
            steps = np.hypot(*np.diff(route.path.xy, axis=0).T)
            assert steps.max() < 0.6  # no jump where legs join
            kinds |= {m.command for m in route.maneuvers}
            assert route.command(route.length_m + 1).command == "follow_lane"
            wp = route.waypoints_ego(0.0, *route.path.xy[0], float(route.path.heading[0]))
            assert np.allclose(wp[:2, 0], [5.0, 10.0], atol=0.3) and np.all(np.abs(wp[:2, 1]) < 0.3)
    assert {"left", "right", "straight"} <= kinds
    assert kinds <= set(COMMANDS)


def test_route_commands_count_down_to_each_maneuver(graphs):
    route = random_route(graphs[1], np.random.default_rng(4), 700.0)
    first = route.maneuvers[0]
    before = route.command(first.start_m - 30.0)
    assert before.command == first.command and before.distance_m == pytest.approx(30.0)
    assert route.command(first.start_m + 0.5 * (first.end_m - first.start_m)).distance_m == 0.0


def test_unplannable_routes_and_impossible_towns_are_one_line_errors(graphs):
    g = graphs[0]
    one_way = next(k for k, s in enumerate(g.streets) if s.one_way)
    with pytest.raises(RouteError, match="does not exist"):
        plan_route(g, LaneRef(0, 1, 0), 10.0, LaneRef(one_way, -1, 0), 10.0)
    with pytest.raises(RouteError, match="not a street"):
        plan_route(g, LaneRef(len(g.roads) - 1, 1, 0), 1.0, LaneRef(0, 1, 0), 10.0)
    # cut every exit of one lane: nothing beyond its street is reachable from it
    start = LaneRef(0, 1, 0)
    g.__dict__["exits"] = {k: v for k, v in g.exits.items() if k != start}
    other = next(lane for lane in g.all_street_lanes() if lane.road != 0)
    with pytest.raises(RouteError, match="cannot be reached"):
        plan_route(g, start, 5.0, other, 10.0)
    del g.__dict__["exits"]
    with pytest.raises(ConfigError, match="town grid=1"):
        TownSpec(grid=1)
    with pytest.raises(ConfigError, match="arterial lanes per direction=4"):
        TownSpec(grid=5, arterial_lanes=4)
    with pytest.raises(ConfigError, match="town_grid=0"):
        ScenarioConfig(kind="townnav", town_grid=0)


def test_light_heads_and_stop_signs_stand_off_the_paving(graphs):
    from sim.paved import PavedMap

    for seed, g in enumerate(graphs):
        sig = JunctionSignals(g, np.random.default_rng(seed))
        paved = PavedMap.build(g)
        balls = [h for h in sig.heads if not h.left_arrow]  # arrow heads hang over their lane on a mast arm
        for things in (balls, sig.stop_signs):
            xy = np.array([(t.x_m, t.y_m) for t in things]).reshape(-1, 2)
            assert not paved.on_paved(xy[:, 0], xy[:, 1]).any()
