"""Simulated drivers and the ego's body: they brake for it along their own path (``sim.roadgraph.ego_yield``): a car
turning through a junction passes an ego standing beside its curve (a straight look down its heading
stopped it there, and both waited for good), and stops short of an ego standing on its curve; a driver
granted a connector across the one the ego pulls into gives the grant back where it can still stop; and
drivers follow an ego whose body reaches into their lane."""

import numpy as np
import pytest

from common.vocab import EGO_LENGTH_M, EGO_WIDTH_M
from sim.collision import obb_overlap
from sim.roadgraph.ego_yield import STEP_M, ego_first_in_lane, path_samples
from sim.lights import GREEN
from sim.roadgraph.generator import TownSpec, generate_graph
from sim.roadgraph.signals import JunctionSignals
from sim.roadgraph.traffic import OVERTAKER_ROOM_M, GraphTraffic

DT_S = 0.05


def _left_turner():
    """A town without traffic and one car 4 m before the stop line of a left turn, granted it."""
    graph = generate_graph(TownSpec(grid=3), np.random.default_rng(5))
    signals = JunctionSignals(graph, np.random.default_rng(6))
    traffic = GraphTraffic(graph, signals, 0.0, np.random.default_rng(7), [])
    t = traffic.table
    c = next(k for k, conn in enumerate(graph.connectors) if conn.movement == "left")
    src = t.refs[t.conn_src[c]]
    end = graph.lane_end_s(src)
    i = traffic.add_vehicle(src, end - 4.0 * src.direction, 4.0, c)
    traffic.held[i] = c
    return traffic, i, c


def _path(traffic, i):
    ds = np.arange(0.0, 30.0, STEP_M)
    road, s, d, forward = path_samples(traffic, np.array([i]), ds)
    x, y, h = traffic.graph.packed.pose(road.ravel(), s.ravel(), d.ravel())
    return x, y, np.where(forward.ravel(), h, h + np.pi)


def _drive(traffic, i, ego, seconds=12.0):
    """Step with the ego standing off the lane table; the closest the car came [m] (box overlap fails)."""
    box = np.array([*ego[:3], EGO_LENGTH_M, EGO_WIDTH_M])
    for k in range(int(seconds / DT_S)):
        traffic.step(DT_S, ego, None, 0.0, k * DT_S)
        assert not obb_overlap(box, traffic.boxes()[i]), f"contact at {k * DT_S:.2f} s"


def test_the_path_runs_on_through_the_connector_without_jumps():
    traffic, i, c = _left_turner()
    x, y, h = _path(traffic, i)
    step = np.hypot(np.diff(x), np.diff(y))
    assert np.all(np.abs(step - STEP_M) < 0.1)  # lane -> connector -> exit lane, no jump or stall
    turned = np.angle(np.exp(1j * (h[-1] - h[0])))
    assert np.deg2rad(60) < turned < np.deg2rad(120)  # a left turn (yaw counter-clockwise)


def test_a_turning_car_passes_an_ego_standing_beside_its_curve():
    traffic, i, c = _left_turner()
    x, y, h = _path(traffic, i)
    x0, y0, yaw0 = (a[i] for a in traffic.poses())
    # straight down the car's heading, 16 m on: the curve has turned away by then
    ex, ey = x0 + 16.0 * np.cos(yaw0), y0 + 16.0 * np.sin(yaw0)
    clear = np.hypot(x - ex, y - ey).min()
    assert clear > 3.5, "the set-up: the ego stands off the car's curve"
    _drive(traffic, i, (ex, ey, yaw0 + np.pi / 2, 0.0))
    assert traffic.lane[i] == traffic.table.conn_dst[c]  # it went through, onto its exit lane


@pytest.mark.parametrize("ahead_m", [12.0, 20.0])
def test_a_turning_car_stops_short_of_an_ego_standing_on_its_curve(ahead_m):
    traffic, i, c = _left_turner()
    x, y, h = _path(traffic, i)
    k = int(ahead_m / STEP_M)
    ego = (float(x[k]), float(y[k]), float(h[k]) + np.pi / 2, 0.0)  # across the car's path
    _drive(traffic, i, ego)
    assert traffic.v[i] < 0.05
    xi, yi, _ = (a[i] for a in traffic.poses())
    gap = np.hypot(xi - ego[0], yi - ego[1]) - traffic.dims[i, 0] / 2 - EGO_WIDTH_M / 2
    assert 0.5 < gap < 4.0  # close, as behind a standing car


def _crossing_pair():
    """A town without traffic, a connector for the ego and one across it from another approach whose
    light shows green (so only the ego takes its grant away)."""
    graph = generate_graph(TownSpec(grid=3), np.random.default_rng(5))
    signals = JunctionSignals(graph, np.random.default_rng(6))
    traffic = GraphTraffic(graph, signals, 0.0, np.random.default_rng(7), [])
    t = traffic.table
    state, _ = traffic.connector_states()
    for c_npc in np.flatnonzero(state == GREEN):
        across = t.conflict_conn[t.conflict_start[c_npc]:t.conflict_start[c_npc + 1]]
        other = [k for k in across if t.conn_src[k] != t.conn_src[c_npc]]
        if other:
            return graph, traffic, int(other[0]), int(c_npc)
    raise AssertionError("no crossing pair in the test town")


@pytest.mark.parametrize("to_line_m, gives_back", [(30.0, True), (4.0, False)])
def test_a_driver_granted_across_the_ego_in_the_box_gives_the_grant_back_if_it_can_stop(to_line_m, gives_back):
    graph, traffic, c_ego, c_npc = _crossing_pair()
    t = traffic.table
    src = t.refs[t.conn_src[c_npc]]
    i = traffic.add_vehicle(src, graph.lane_end_s(src) - (to_line_m + 2.5) * src.direction, 8.0, c_npc)
    traffic.held[i] = c_npc  # granted while the ego stood at its line
    ego_lane = graph.connectors[c_ego].lane
    x, y, h = graph.roads[ego_lane.road].pose(1.0, 0.0)
    ego = (float(x), float(y), float(h), 3.0)
    traffic.step(DT_S, ego, ego_lane, 1.0, 0.0, ego_next=(c_ego, 0.0))
    assert (traffic.held[i] < 0) == gives_back
    if gives_back:
        for k in range(1, int(12 / DT_S)):
            traffic.step(DT_S, ego, ego_lane, 1.0, k * DT_S, ego_next=(c_ego, 0.0))
        assert traffic.v[i] < 0.05 and traffic.lane[i] == t.conn_src[c_npc]  # it waits at its line


def _two_lane_street():
    graph = generate_graph(TownSpec(grid=3), np.random.default_rng(5))
    signals = JunctionSignals(graph, np.random.default_rng(6))
    traffic = GraphTraffic(graph, signals, 0.0, np.random.default_rng(7), [])
    t = traffic.table
    g = max((k for k in range(len(t.refs)) if not t.is_connector[k] and t.group_lanes[k] > 1
             and t.refs[k].lane == 0), key=lambda k: t.length_m[k])
    return graph, traffic, g


@pytest.mark.parametrize("left_m, followed", [(0.0, False), (0.9, True)])
def test_drivers_follow_an_ego_whose_body_reaches_into_their_lane(left_m, followed):
    """An ego edging into the lane on its left, 6 m ahead of a car there: that driver follows it (brakes)
    before the ego's centre crosses the line, as it follows a simulated car changing lanes."""
    graph, traffic, g = _two_lane_street()
    t = traffic.table
    lane, ego_lane = t.refs[g], t.refs[g + 1]
    road = graph.roads[lane.road]
    s_of = (lambda p: p) if lane.direction > 0 else (lambda p: road.length_m - p)
    exit_conn = int(t.exit_conn[t.exit_start[g]])
    i = traffic.add_vehicle(lane, s_of(30.0), 10.0, exit_conn)
    p_ego = 30.0 + traffic.dims[i, 0] / 2 + EGO_LENGTH_M / 2 + 6.0
    d = road.lane_centre_d(ego_lane.lane, ego_lane.direction) + lane.direction * left_m  # + left of travel
    x, y, h = road.pose(s_of(p_ego), d)
    ego = (float(x), float(y), float(h) + (0.0 if lane.direction > 0 else np.pi), 8.0)
    traffic.step(DT_S, ego, ego_lane, s_of(p_ego), 0.0)
    braking = traffic.v[i] < 10.0 - 0.5 * DT_S
    assert braking == followed


def _two_way_street():
    """A town without traffic, its longest street with a lane each way; (graph, traffic, the ego's lane id,
    the oncoming lane id)."""
    graph = generate_graph(TownSpec(grid=3), np.random.default_rng(5))
    signals = JunctionSignals(graph, np.random.default_rng(6))
    traffic = GraphTraffic(graph, signals, 0.0, np.random.default_rng(7), [])
    t = traffic.table
    g = max((k for k in range(len(t.refs)) if not t.is_connector[k] and t.refs[k].lane == 0
             and graph.roads[t.refs[k].road].lanes_toward(-t.refs[k].direction) > 0), key=lambda k: t.length_m[k])
    lane = t.refs[g]
    return graph, traffic, g, t.index[type(lane)(lane.road, -lane.direction, 0)]


@pytest.mark.parametrize("over_m, stops, start_gap_m, speed_m_s", [
    (1.2, True, OVERTAKER_ROOM_M + 35.0, 8.0),
    (0.0, False, OVERTAKER_ROOM_M + 35.0, 8.0),
    (1.2, True, 3.0, 2.0),  # already inside the room when the ego pulled out: it stops where it is, short of the body
])
def test_an_oncoming_driver_stops_well_short_of_an_ego_over_the_centre_line(over_m, stops, start_gap_m, speed_m_s):
    """The ego standing with its left side ``over_m`` over the centre line (pulled out past a parked car): a driver
    coming the other way stops short of it, leaving the ego the road to finish its pass (``OVERTAKER_ROOM_M``);
    an ego inside its own lane is passed. Before, the lane table placed the ego in its own direction only and the
    oncoming driver drove into it at 8 m/s (validation route 800150); and a cyclist already inside the room when the
    ego pulled out rode on into it (800115, a first version that judged "ahead" from the room's middle)."""
    graph, traffic, g, g_on = _two_way_street()
    t = traffic.table
    lane, on = t.refs[g], t.refs[g_on]
    road = graph.roads[lane.road]
    p_ego = 0.3 * t.length_m[g]  # the ego's progress along its lane [m]
    s_ego = p_ego if lane.direction > 0 else road.length_m - p_ego
    d = road.lane_centre_d(0, lane.direction) + lane.direction * (road.lane_width_m / 2 - EGO_WIDTH_M / 2 + over_m)
    x, y, h = road.pose(s_ego, d)
    ego = (float(x), float(y), float(h) + (0.0 if lane.direction > 0 else np.pi), 0.0)
    s_car = s_ego + lane.direction * (EGO_LENGTH_M / 2 + start_gap_m + 2.5)  # its centre, coming at the ego
    i = traffic.add_vehicle(on, s_car, speed_m_s, int(t.exit_conn[t.exit_start[g_on]]))
    box = np.array([*ego[:3], EGO_LENGTH_M, EGO_WIDTH_M])
    for k in range(int(12.0 / DT_S)):
        traffic.step(DT_S, ego, lane, s_ego, k * DT_S)
        assert not obb_overlap(box, traffic.boxes()[i]), f"contact at {k * DT_S:.2f} s"
    xi, yi, _ = (a[i] for a in traffic.poses())
    ahead = (xi - ego[0]) * np.cos(ego[2]) + (yi - ego[1]) * np.sin(ego[2])  # the car's centre ahead of the ego's [m]
    if stops:
        assert traffic.v[i] < 0.05
        front_gap = ahead - traffic.dims[i, 0] / 2 - EGO_LENGTH_M / 2
        room = min(OVERTAKER_ROOM_M, start_gap_m + 2.5 - traffic.dims[i, 0] / 2 - 2.0)
        assert room < front_gap < room + 6.0  # short of the room (where it can), as behind a standing car
    else:
        assert ahead < -EGO_LENGTH_M  # it went by


def _major_left_and_stop_arm():
    """A town without traffic: a left from a two-way stop's free arm (the ego's) and a stop arm's connector across
    it, a car 10 m before that arm's end, standing."""
    for seed in range(20):
        graph = generate_graph(TownSpec(grid=4), np.random.default_rng(seed))
        traffic = GraphTraffic(graph, JunctionSignals(graph, np.random.default_rng(6)), 0.0, np.random.default_rng(7), [])
        t = traffic.table
        for c_ego in np.flatnonzero(traffic._conn_minor_free & traffic._conn_left):
            across = t.conflict_conn[t.conflict_start[c_ego]:t.conflict_start[c_ego + 1]]
            stops = [int(k) for k in across if traffic._conn_stop_sign[k]]
            if stops:
                src = t.refs[t.conn_src[stops[0]]]
                i = traffic.add_vehicle(src, graph.lane_end_s(src) - 10.0 * src.direction, 0.0, stops[0])
                return graph, traffic, int(c_ego), i
    raise AssertionError("no two-way stop with a left from its free arm in the test towns")


@pytest.mark.parametrize("ego_to_line_m, waits", [(12.0, True), (60.0, False)])
def test_a_driver_at_a_stop_sign_waits_for_the_ego_turning_left_from_the_major_road(ego_to_line_m, waits):
    """At a two-way stop the stop arms yield to a car on the major road turning left too (validation route 800006:
    a driver pulled out from its sign across the ego's left, 3 s away, and hit its side); an ego far off leaves it
    the gap."""
    stopped, granted = _stop_arm_with_the_ego(*_major_left_and_stop_arm(), ego_to_line_m, 5.0)
    assert stopped and granted is not waits


def _stop_arm_with_the_ego(graph, traffic, c_ego: int, i: int, ego_to_line_m: float, ego_speed_m_s: float):
    """The ego ``ego_to_line_m`` before connector ``c_ego`` (held there at ``ego_speed_m_s``) while car ``i`` drives
    up to its stop line, makes its full stop and goes when it may (12 s): whether it stopped, whether it was granted."""
    t = traffic.table
    lane = t.refs[t.conn_src[c_ego]]
    s = graph.lane_end_s(lane) - ego_to_line_m * lane.direction
    x, y, h = graph.packed.pose(np.array([lane.road]), np.array([s]), np.array([traffic._lane_d[t.index[lane]]]))
    ego = (float(x[0]), float(y[0]), float(h[0]) + (0.0 if lane.direction > 0 else np.pi), ego_speed_m_s)
    stopped = granted = False
    for k in range(int(12.0 / DT_S)):
        traffic.step(DT_S, ego, lane, s, k * DT_S, ego_next=(c_ego, ego_to_line_m))
        stopped |= bool(np.isfinite(traffic.stopped_at_s[i]))
        granted |= bool(traffic.held[i] >= 0)
    return stopped, granted


def _major_through_and_stop_arm():
    """A town with a two-way stop: a through movement of its major road (priority) and, across it, a stop arm with
    a car 10 m before that arm's end, standing."""
    for seed in range(20):
        graph = generate_graph(TownSpec(grid=4), np.random.default_rng(seed))
        traffic = GraphTraffic(graph, JunctionSignals(graph, np.random.default_rng(6)), 0.0, np.random.default_rng(7), [])
        t = traffic.table
        _, priority, _ = traffic._connector_rules()
        for c_ego, conn in enumerate(graph.connectors):
            if conn.movement != "straight" or not priority[c_ego] or traffic._conn_signal[c_ego]:
                continue
            across = t.conflict_conn[t.conflict_start[c_ego]:t.conflict_start[c_ego + 1]]
            stops = [int(k) for k in across if traffic._conn_stop_sign[k]]
            if stops:
                src = t.refs[t.conn_src[stops[0]]]
                i = traffic.add_vehicle(src, graph.lane_end_s(src) - 10.0 * src.direction, 0.0, stops[0])
                return graph, traffic, c_ego, i
    raise AssertionError("no two-way stop with a through movement on its major road in the test towns")


@pytest.mark.parametrize("ego_to_line_m, waits", [(15.0, True), (60.0, False)])
def test_a_driver_at_a_stop_sign_does_not_pull_out_across_the_ego_standing_near_its_junction(ego_to_line_m, waits):
    """A car on the major road standing 15 m before the junction (for a walker) may drive on at any moment: the stop
    arm waits for it (judged at its speed of the moment, a standing ego was no one to wait for, and on validation
    routes 800016 and 800019 a car let out so hit its side from outside its camera's view); one 60 m off leaves the
    gap."""
    stopped, granted = _stop_arm_with_the_ego(*_major_through_and_stop_arm(), ego_to_line_m, 0.0)  # standing
    assert stopped and granted is not waits


@pytest.mark.parametrize("leader, first", [(None, True), ("moving", False), ("parked", True)])
def test_the_ego_is_first_in_its_lane_unless_a_car_is_queued_ahead(leader, first):
    """A slow ego counts as arriving at its junction only first in its lane (``ego_first_in_lane``): behind a queue
    the queue's leader is the next to arrive, not the ego; a parked car ahead (listed in the lane as the town lists
    the parked cars that reach into it) queues no one."""
    graph, traffic, c_ego, _ = _major_through_and_stop_arm()
    t = traffic.table
    lane = t.refs[t.conn_src[c_ego]]
    end = graph.lane_end_s(lane)
    if leader is not None:
        j = traffic.add_vehicle(lane, end - 6.0 * lane.direction, 0.0, c_ego)
        traffic.parked[j] = leader == "parked"
    g = t.index[lane]
    ego_s = end - 20.0 * lane.direction
    occ = traffic._occupancy(np.arange(traffic.n), g, ego_s, np.full(traffic.n, -1), -1)
    assert ego_first_in_lane(occ, g, traffic.n, traffic.parked) is first


@pytest.mark.parametrize("patience_s", [5.0, np.inf])
def test_a_driver_out_of_patience_takes_its_turn_in_a_stream_that_leaves_no_gap(patience_s):
    """A stop arm facing a stream on the major road with 1.5-s headways (below the 4.5 s it accepts) waits for the
    stream's end; refused at its line longer than its patience (``yield_patience_s``) it takes its turn first come,
    first served: the stream's next car is held at its line and the stop arm goes while cars are still coming."""
    graph, traffic, c_ego, i = _major_through_and_stop_arm()
    traffic.yield_patience_s = patience_s
    t = traffic.table
    lane = t.refs[t.conn_src[c_ego]]
    end = graph.lane_end_s(lane)
    stream = [traffic.add_vehicle(lane, end - back_m * lane.direction, 8.0, c_ego)
              for back_m in np.arange(30.0, graph.roads[lane.road].length_m - 10.0, 12.0)]
    g_lane = t.index[lane]
    granted_mid_stream = False
    for k in range(int(30.0 / DT_S)):
        traffic.step(DT_S, (1e5, 1e5, 0.0, 0.0), None, 0.0, k * DT_S)
        still_coming = sum(traffic.lane[j] == g_lane for j in stream)
        granted_mid_stream |= bool(traffic.held[i] >= 0 and still_coming >= 3)
    assert granted_mid_stream is (patience_s < np.inf)
