"""GraphTraffic on generated towns: no contact, turns of every kind, lights and stop signs obeyed,
permitted lefts yield, the same seed gives the same traffic."""

import numpy as np
import pytest

from sim.collision import obb_overlap
from sim.lights import GREEN, RED
from sim.roadgraph.generator import TownSpec, generate_graph
from sim.roadgraph.signals import JunctionSignals
from sim.roadgraph.traffic import GraphTraffic

DT_S = 0.05
FAR_EGO = (1e5, 1e5, 0.0, 0.0)


def _town(seed: int, grid: int, density: float = 25.0):
    graph = generate_graph(TownSpec(grid=grid), np.random.default_rng(seed))
    signals = JunctionSignals(graph, np.random.default_rng(seed + 1))
    return graph, signals, GraphTraffic(graph, signals, density, np.random.default_rng(seed + 2), [])


def _step(traffic, signals, k):
    traffic.step(DT_S, FAR_EGO, None, 0.0, k * DT_S)
    signals.step(DT_S)


@pytest.fixture(scope="module")
def town_run():
    """90 s of a 5x5 town, checked every step: box contact, stop line crossings and their light
    state, the slowest speed on each approach before its stop line."""
    graph, signals, traffic = _town(3, 5)
    t = traffic.table
    overlaps, red_crossings, sign_crossings = [], 0, []
    slowest = np.full(traffic.n, np.inf)  # since the vehicle entered its street lane [m/s]
    front = traffic.p + traffic.dims[:, 0] / 2
    lane = traffic.lane.copy()
    for k in range(int(90 / DT_S)):
        state, _ = traffic.connector_states()
        _step(traffic, signals, k)
        boxes = traffic.boxes()
        hit = obb_overlap(boxes[:, None], boxes[None])
        np.fill_diagonal(hit, False)
        if hit.any():
            overlaps.append((k, np.argwhere(hit)[0]))
        new_front = traffic.p + traffic.dims[:, 0] / 2
        street = ~t.is_connector[lane]
        stop = t.stop_p[lane]
        # a front bumper that passed its stop line this step (still on the lane, or already beyond it)
        moved_on = t.is_connector[traffic.lane]
        crossed = street & (front < stop) & (moved_on | (new_front >= stop))
        for i in np.flatnonzero(crossed):
            c = traffic.held[i] if traffic.held[i] >= 0 else traffic.next_conn[i]
            if graph.junctions[graph.connectors[c].junction].control == "signal":
                red_crossings += int(state[c] == RED)
            src = graph.connectors[c].src
            if signals.has_stop_sign(src.road, src.direction):
                sign_crossings.append(slowest[i])
        changed = t.group_first[traffic.lane] != t.group_first[lane]
        slowest = np.where(changed, np.inf, np.minimum(slowest, traffic.v))
        front, lane = new_front, traffic.lane.copy()
    return traffic, overlaps, red_crossings, sign_crossings


def test_no_two_vehicles_touch(town_run):
    traffic, overlaps, _, _ = town_run
    assert traffic.n > 150
    assert overlaps == []


def test_vehicles_turn_every_way(town_run):
    traffic, *_ = town_run
    assert min(traffic.visits.values()) >= 20, traffic.visits


def test_nobody_crosses_on_red(town_run):
    _, _, red_crossings, _ = town_run
    assert red_crossings == 0


def test_stop_signs_are_obeyed(town_run):
    _, _, _, sign_crossings = town_run
    assert len(sign_crossings) >= 10
    assert max(sign_crossings) < 0.3


def test_permitted_left_waits_for_oncoming_traffic():
    graph, signals, traffic = _town(3, 5, density=0.0)
    t = traffic.table
    # a left at a permitted-left light, and the oncoming straight movement it crosses
    for c_left, left in enumerate(graph.connectors):
        j = graph.junctions[left.junction]
        if left.movement != "left" or j.control != "signal" or j.protected_left:
            continue
        crossing = [o for o in t.conflict_conn[t.conflict_start[c_left]:t.conflict_start[c_left + 1]]
                    if graph.connectors[o].movement == "straight"
                    and signals._group_of[(graph.connectors[o].src.road, graph.connectors[o].src.direction)]
                    == signals._group_of[(left.src.road, left.src.direction)]]
        if crossing:
            break
    else:
        pytest.skip("no permitted left with oncoming traffic in this town")
    oncoming = graph.connectors[crossing[0]]
    def left_state():
        return signals.movement_state(left.junction, left.src.road, left.src.direction, "left")

    while left_state() == GREEN:  # wait for the start of a green
        signals.step(DT_S)
    while left_state() != GREEN:
        signals.step(DT_S)
    # the left turner stands at its stop line; an oncoming car arrives at 9 m/s from 40 m
    lane_l = t.index[left.src]
    stop_l = t.stop_p[lane_l] - 3.0
    a = traffic.add_vehicle(left.src, stop_l if left.src.direction > 0 else t.length_m[lane_l] - stop_l, 0.0, c_left)
    lane_o = t.index[oncoming.src]
    stop_o = t.stop_p[lane_o] - 42.0
    b = traffic.add_vehicle(oncoming.src, stop_o if oncoming.src.direction > 0 else t.length_m[lane_o] - stop_o,
                            9.0, crossing[0])
    entered = {}
    for k in range(int(20 / DT_S)):
        _step(traffic, signals, k)
        for i, c in ((a, c_left), (b, crossing[0])):
            if traffic.lane[i] == t.conn_lane[c] and i not in entered:
                entered[i] = k
    assert b in entered and a in entered
    assert entered[a] > entered[b]


def test_same_seed_same_traffic():
    runs = []
    for _ in range(2):
        graph, signals, traffic = _town(5, 4)
        for k in range(int(20 / DT_S)):
            _step(traffic, signals, k)
        runs.append((traffic.boxes().copy(), traffic.v.copy(), traffic.next_conn.copy()))
    for x, y in zip(*runs):
        np.testing.assert_array_equal(x, y)


def _longest_street_lane(graph, traffic):
    t = traffic.table
    g = max((k for k in range(len(t.refs)) if not t.is_connector[k]), key=lambda k: t.length_m[k])
    return t.refs[g], g


@pytest.mark.parametrize("ego_on_lane", [True, False])
def test_vehicles_stop_behind_the_ego(ego_on_lane):
    graph, signals, traffic = _town(3, 5, density=0.0)
    lane, g = _longest_street_lane(graph, traffic)
    road = graph.roads[lane.road]
    p_car, p_ego = 10.0, 45.0
    s_of = (lambda p: p) if lane.direction > 0 else (lambda p: road.length_m - p)
    exit_conn = int(traffic.table.exit_conn[traffic.table.exit_start[g]])
    i = traffic.add_vehicle(lane, s_of(p_car), 8.0, exit_conn)
    x, y, h = road.pose(s_of(p_ego), road.lane_centre_d(lane.lane, lane.direction))
    ego = (float(x), float(y), float(h) + (0.0 if lane.direction > 0 else np.pi), 0.0)
    ego_box = np.array([ego[0], ego[1], ego[2], 4.6, 1.85])
    for k in range(int(15 / DT_S)):
        traffic.step(DT_S, ego, lane if ego_on_lane else None, s_of(p_ego), k * DT_S)
        assert not obb_overlap(ego_box, traffic.boxes()[i])
    assert traffic.v[i] < 0.1
    assert p_ego - traffic.p[i] < 15.0  # it came up close behind


def test_parked_cars_stand_still():
    graph = generate_graph(TownSpec(grid=4), np.random.default_rng(0))
    signals = JunctionSignals(graph, np.random.default_rng(1))
    road = graph.roads[0]
    parked = [(0, 20.0, road.asphalt_d[0] + 1.0, float(road.heading_at(20.0)))]
    traffic = GraphTraffic(graph, signals, 20.0, np.random.default_rng(2), [], parked)
    before = traffic.boxes()[-1].copy()
    for k in range(40):
        _step(traffic, signals, k)
    assert traffic.parked[-1] and traffic.v[-1] == 0.0
    np.testing.assert_allclose(traffic.boxes()[-1], before)
    assert abs(before[2] - parked[0][3]) < 1e-9


def test_nothing_spawns_in_keep_clear():
    graph = generate_graph(TownSpec(grid=4), np.random.default_rng(0))
    signals = JunctionSignals(graph, np.random.default_rng(1))
    lane = graph.all_street_lanes()[0]
    traffic = GraphTraffic(graph, signals, 80.0, np.random.default_rng(2), [(lane, 30.0, 70.0)])
    on = traffic.road == lane.road
    assert on.any()
    assert not np.any(on & (traffic.s > 30.0 - 5.0) & (traffic.s < 70.0 + 5.0))


def test_a_cut_in_driver_cuts_in_ahead_of_the_ego():
    graph, signals, traffic = _town(3, 5, density=0.0)
    t = traffic.table
    g = max((k for k in range(len(t.refs)) if not t.is_connector[k] and t.group_lanes[k] > 1
             and t.refs[k].lane == 0), key=lambda k: t.length_m[k])
    slow_lane, ego_lane = t.refs[g], t.refs[g + 1]
    road = graph.roads[slow_lane.road]
    s_of = (lambda p: p) if slow_lane.direction > 0 else (lambda p: road.length_m - p)
    exit_conn = int(t.exit_conn[t.exit_start[g]])
    a = traffic.add_vehicle(slow_lane, s_of(40.0), 8.0, exit_conn, cut_in=True)
    traffic.add_vehicle(slow_lane, s_of(70.0), 4.0, exit_conn)  # a slow car ahead of it
    p_ego = 28.0
    for k in range(int(4 / DT_S)):
        x, y, h = road.pose(s_of(p_ego), road.lane_centre_d(ego_lane.lane, ego_lane.direction))
        ego = (float(x), float(y), float(h) + (0.0 if slow_lane.direction > 0 else np.pi), 8.0)
        traffic.step(DT_S, ego, ego_lane, s_of(p_ego), k * DT_S)
        assert not obb_overlap(np.array([*ego[:3], 4.6, 1.85]), traffic.boxes()).any()
        p_ego += 8.0 * DT_S
    assert traffic.lane[a] == g + 1 and traffic.p[a] > p_ego
    assert traffic.cut_ins >= 1
