"""Pedestrians of a graph town: on sidewalks, crosswalks and corners except while jaywalking,
never stepping onto a signalised crosswalk while its street's traffic may go, turning corners,
stepping out from between parked cars, the straight town's read interface, the same seed giving
the same walk."""

from dataclasses import replace

import numpy as np
import pytest

from sim.collision import obb_overlap
from sim.config import ScenarioConfig
from sim.lights import GREEN, RED
from sim.nav_scenario import generate_nav
from sim.roadgraph.paths import convex_hull
from sim.roadgraph.graph import CROSSWALK_M
from sim.roadgraph.ground import _arm_side
from sim.nav_actors import ParkedTraffic
from sim.roadgraph.pedestrians import (CAR_HALF_LENGTH_M, CROSS, SIZE_M, WAIT, WALK, GraphPedestrians,
                                       PedestrianConfig)

DT_S = 0.05
TOL_M = 0.05


def _scenario(seed: int = 3, grid: int = 4):
    return generate_nav(ScenarioConfig(kind="townnav", town_grid=grid, route_length_m=400.0), seed)


def _peds(sc, seed=1, per_km=60.0, config=PedestrianConfig()):
    return GraphPedestrians(sc.graph, sc.signals, per_km, np.random.default_rng(seed), sc.parked, config)


def _run(sc, peds, seconds, each=None, vehicles=None):
    for k in range(int(round(seconds / DT_S))):
        sc.signals.step(DT_S)
        peds.step(DT_S, (1e6, 1e6), vehicles)
        if each is not None:
            each(k)


def _in_convex(xy, poly, margin_m):
    """Points inside a convex polygon (either winding) grown by margin_m."""
    inside = np.ones(len(xy), bool)
    e0, e1 = poly[1] - poly[0], poly[2] - poly[1]
    sign = 1.0 if e0[0] * e1[1] - e0[1] * e1[0] >= 0 else -1.0  # counter-clockwise: outward is the right
    for a, b in zip(poly, np.roll(poly, -1, axis=0)):
        e = b - a
        n = sign * np.array([e[1], -e[0]]) / max(np.linalg.norm(e), 1e-9)  # outward normal
        inside &= (xy - a) @ n <= margin_m
    return inside


class Walkable:
    """The town's walkable ground, from its geometry (not the pedestrians' own state): sidewalk
    bands of every street, crosswalk bands at street ends, convex sidewalk corners."""

    def __init__(self, graph):
        self.graph = graph
        self.corners = []
        for j in graph.junctions:
            for k, a in enumerate(j.arms):
                b = j.arms[(k + 1) % len(j.arms)]
                ra, rb = graph.roads[a.street], graph.roads[b.street]
                pts = np.stack([*_arm_side(ra, a, True), *_arm_side(rb, b, False)])
                self.corners.append(convex_hull(pts))

    def on_sidewalk_or_crosswalk(self, xy):
        ok = np.zeros(len(xy), bool)
        for road in self.graph.roads[:self.graph.n_streets]:
            s, d = road.project(xy[:, 0], xy[:, 1])
            x, y, _ = road.pose(s, d)
            exact = np.hypot(x - xy[:, 0], y - xy[:, 1]) < 0.2  # a foot point, not a clamped end (cm off on curves)
            lo, hi = road.asphalt_d
            w = road.sidewalk_m
            walk = ((d >= lo - w - TOL_M) & (d <= lo + TOL_M)) | ((d >= hi - TOL_M) & (d <= hi + w + TOL_M))
            ends = (s <= CROSSWALK_M + TOL_M) | (s >= road.length_m - CROSSWALK_M - TOL_M)
            zebra = ends & (d >= lo - w) & (d <= hi + w)
            ok |= exact & (walk | zebra)
        for poly in self.corners:
            ok |= _in_convex(xy, poly, TOL_M)
        return ok


@pytest.fixture(scope="module")
def town():
    return _scenario()


def test_spawn_on_sidewalks_with_children_and_the_straight_towns_interface(town):
    peds = _peds(town)
    assert peds.n > 50
    x, y, yaw = peds.poses()
    assert Walkable(town.graph).on_sidewalk_or_crosswalk(np.stack([x, y], 1)).all()
    assert len(peds.on_carriageway()[0]) == 0
    assert (peds.mode == WALK).all() and peds.mode.dtype == np.int64
    assert peds.boxes().shape == (peds.n, 5) and not peds.boxes().flags.writeable and not x.flags.writeable
    assert peds.colour.shape == (peds.n, 2, 3) and peds.colour.dtype == np.uint8
    assert peds.skin.shape == (peds.n, 3) and peds.skin.dtype == np.uint8
    assert peds.speed.shape == peds.height.shape == (peds.n,)
    kids = peds.height[peds.child]
    assert len(kids) > 0 and kids.min() >= 1.0 and kids.max() <= 1.3
    assert peds.height[~peds.child].min() >= 1.5
    road = town.graph.roads[0]  # the check itself: lane centres mid-street are not walkable, sidewalks are
    d = np.array([road.lane_centre_d(0, 1), road.asphalt_d[1] - 0.3, road.asphalt_d[1] + 1.0])
    xs, ys, _ = road.pose(np.full(3, road.length_m / 2), d)
    assert Walkable(town.graph).on_sidewalk_or_crosswalk(np.stack([xs, ys], 1)).tolist() == [False, False, True]


def test_walkers_stay_on_sidewalks_crosswalks_and_corners_and_turn_corners(town):
    peds = _peds(town, per_km=60.0)
    walkable = Walkable(town.graph)
    last_street = peds.street.copy()
    turned = np.zeros(peds.n, bool)
    bad, crossings, jumps = [], [0], []
    nodes = [set(info.nodes) for info in town.graph.streets]

    def check(k):
        x, y, _ = peds.poses()
        for i in np.flatnonzero(peds.street != last_street):  # a new street meets the old one at a junction
            if not nodes[last_street[i]] & nodes[peds.street[i]]:
                jumps.append(int(i))
        turned[:] |= peds.street != last_street
        last_street[:] = peds.street
        keep = ~peds.jaywalking
        crossings[0] += int((peds.mode == CROSS).sum())
        if k % 4 == 0:
            xy = np.stack([x, y], 1)[keep]
            off = ~walkable.on_sidewalk_or_crosswalk(xy)
            bad.extend(xy[off].tolist())

    _run(town, peds, 60.0, check)
    assert not bad, f"{len(bad)} positions off the sidewalks and crosswalks, e.g. {bad[:3]}"
    assert crossings[0] > 0
    assert turned.mean() > 0.15 and not jumps  # corners are turned, onto a neighbouring arm


def test_nobody_steps_onto_a_signalised_crosswalk_while_its_street_may_go(town):
    peds = _peds(town, per_km=80.0)
    g, sig = town.graph, town.signals
    was_on = np.zeros(peds.n, bool)
    checked, wrong = [0], []

    def check(k):
        idx, _, _ = peds.on_carriageway()
        on = np.zeros(peds.n, bool)
        on[idx] = True
        ball, arrow = sig.group_states()
        for i in np.flatnonzero(on & ~peds.jaywalking):
            street, s = int(peds.street[i]), float(peds.s[i])
            at_end = s > g.roads[street].length_m / 2
            j = g.junctions[g.streets[street].nodes[1 if at_end else 0]]
            if j.control != "signal":
                continue
            grp = sig.arm_group(street, 1 if at_end else -1)
            stepping_on = not was_on[i]
            checked[0] += stepping_on
            # red when stepping on, and off the paving again before the street's traffic gets green
            if (stepping_on and (ball[j.index, grp] != RED or arrow[j.index, grp] != RED)) \
                    or ball[j.index, grp] == GREEN or arrow[j.index, grp] == GREEN:
                wrong.append((k, int(i), street))
        was_on[:] = on

    _run(town, peds, 90.0, check)
    assert checked[0] > 5
    assert not wrong


def test_jaywalkers_wait_for_a_gap():
    sc = _scenario()
    peds = _peds(sc, config=PedestrianConfig(jaywalk_rate_per_s=0.2, step_out_rate_per_s=0.0))
    started = [0]

    def each(k):
        started[0] += int((peds.jaywalking & (peds.mode == CROSS)).sum())

    # a fast vehicle beside every pedestrian: no gap anywhere, so no jaywalker leaves the sidewalk
    for k in range(200):
        sc.signals.step(DT_S)
        x, y, _ = peds.poses()
        peds.step(DT_S, (1e6, 1e6), np.stack([x, y, np.full(peds.n, 10.0)], 1))
        each(k)
    assert peds.jaywalking.any() and (peds.mode[peds.jaywalking] == WAIT).all()
    assert started[0] == 0
    _run(sc, peds, 10.0, each)  # the road clears
    assert started[0] > 0


def test_a_walker_steps_out_from_between_parked_cars():
    sc = _scenario()
    assert len(sc.parked) > 10
    peds = _peds(sc, config=PedestrianConfig(step_out_rate_per_s=2.0))
    seen = []

    def each(k):
        for i in np.flatnonzero(peds.stepping_out & (peds.mode == CROSS)):
            seen.append((int(peds.street[i]), float(peds.s[i]), int(peds.side[i])))

    _run(sc, peds, 30.0, each)
    assert peds.step_outs > 0 and seen
    street, s, side = seen[0]
    gaps = [abs(abs(s - p.s_m) - CAR_HALF_LENGTH_M - SIZE_M) for p in sc.parked
            if p.road == street and np.sign(p.d_m) == side]
    assert min(gaps) < 0.05  # just past a parked car's bumper


def test_no_crossing_walks_through_a_parked_car():
    sc = _scenario()
    cars = ParkedTraffic(sc.graph, sc.parked, np.random.default_rng(0)).boxes()
    peds = _peds(sc, per_km=100.0, config=PedestrianConfig(jaywalk_rate_per_s=0.05, step_out_rate_per_s=1.0))
    hits = []

    def each(k):
        crossing = np.flatnonzero(peds.mode == CROSS)
        boxes = peds.boxes()[crossing]
        overlap = obb_overlap(boxes[:, None], cars[None]).any(axis=1)
        hits.extend(crossing[overlap].tolist())

    _run(sc, peds, 30.0, each)
    assert peds.step_outs > 5 and not hits


def _crossing_walker(sc):
    """Pedestrians with one walker a little way into a mid-block crossing, and a car-sized body placed across its
    path just ahead of it (x, y, yaw, length, width), in the walker's way."""
    peds = _peds(sc, config=PedestrianConfig(jaywalk_rate_per_s=0.5, step_out_rate_per_s=0.0))
    for _ in range(2000):
        sc.signals.step(DT_S)
        peds.step(DT_S, (1e6, 1e6))
        going = np.flatnonzero(peds.jaywalking & (peds.mode == CROSS) & (np.abs(peds.target_d - peds.d) > 4.0))
        if going.size:
            i = int(going[0])
            x, y, yaw = (a[i] for a in peds.poses())
            ahead = SIZE_M / 2 + 0.2 + 0.9  # the body's near side 0.2 m ahead of the walker's front
            peds.config = replace(peds.config, jaywalk_rate_per_s=0.0)  # nobody else sets off from here on
            return peds, i, np.array([x + ahead * np.cos(yaw), y + ahead * np.sin(yaw), yaw + np.pi / 2, 4.5, 1.8])
    raise AssertionError("no walker started a crossing")


def test_a_crossing_walker_stops_short_of_a_car_in_its_way_and_walks_on_when_it_has_gone():
    sc = _scenario()
    peds, i, car = _crossing_walker(sc)
    d0, target = float(peds.d[i]), float(peds.target_d[i])
    for _ in range(40):  # 2 s with the car there: the walker stands, clear of it
        peds.step(DT_S, (1e6, 1e6), None, car[None])
        assert peds.d[i] == d0 and peds.mode[i] == CROSS
        assert not obb_overlap(car, peds.boxes()[i])
    turn_backs = peds.turn_backs
    for _ in range(400):  # the car has gone: on across to the far side (up to 14 m at 1-1.6 m/s)
        peds.step(DT_S, (1e6, 1e6), None, np.zeros((0, 5)))
    assert peds.mode[i] == WALK and abs(float(peds.d[i]) - target) < 1e-9 and peds.turn_backs == turn_backs


def test_a_crossing_walker_turns_back_when_the_car_stays():
    sc = _scenario()
    peds, i, car = _crossing_walker(sc)
    side, d0, turn_backs = int(peds.side[i]), float(peds.d[i]), peds.turn_backs
    start_d = float(peds._walk_d(peds.street[i:i + 1], np.array([side]), peds.lane_m[i:i + 1])[0])
    stood = 0
    for _ in range(400):
        peds.step(DT_S, (1e6, 1e6), None, car[None])
        stood += peds.d[i] == d0
        assert not obb_overlap(car, peds.boxes()[i])
    assert peds.turn_backs > turn_backs and stood >= PedestrianConfig().held_turn_back_s / DT_S - 1
    assert peds.mode[i] == WALK and int(peds.side[i]) == side and abs(float(peds.d[i]) - start_d) < 1e-9  # back where it set off


def test_same_seed_same_walk():
    def run(seed):
        sc = _scenario()
        peds = _peds(sc, seed=seed, config=PedestrianConfig(jaywalk_rate_per_s=0.05))
        _run(sc, peds, 20.0)
        x, y, yaw = peds.poses()
        return np.concatenate([x, y, yaw, peds.mode, peds.street])

    a, b = run(5), run(5)
    assert np.array_equal(a, b)
    c = run(6)
    assert len(c) != len(a) or not np.array_equal(a, c)


def test_red_left_counts_down_to_the_groups_next_green():
    sig = _scenario().signals
    ball, arrow = sig.group_states()
    red = (ball == RED) & (arrow == RED)
    expected = sig.red_left_s()
    seen = np.full(red.shape, np.nan)
    for k in range(1, int(sig.cycle_s.max() / DT_S) + 2):
        sig.step(DT_S)
        ball, arrow = sig.group_states()
        now_green = red & np.isnan(seen) & ((ball != RED) | (arrow != RED))
        seen[now_green] = k * DT_S
    assert red.any()
    assert np.all(np.abs(seen[red] - expected[red]) <= DT_S + 1e-9)
