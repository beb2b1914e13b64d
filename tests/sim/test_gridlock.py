"""Gridlock release (sim.roadgraph.gridlock): a vehicle that has stood too long is moved to a free street lane out
of the ego's sight; vehicles waiting for their light never are; the config names a bad threshold."""

import numpy as np
import pytest

from common.config import ConfigError
from sim.collision import obb_overlap
from sim.config import ScenarioConfig
from sim.roadgraph.generator import TownSpec, generate_graph
from sim.roadgraph.gridlock import AWAY_FROM_EGO_M
from sim.roadgraph.signals import JunctionSignals
from sim.roadgraph.traffic import GraphTraffic

DT_S = 0.05


def _behind_standing_ego(release_s: float):
    """One car on the town's longest street lane, 35 m behind an ego that stands there for good."""
    graph = generate_graph(TownSpec(grid=5), np.random.default_rng(3))
    signals = JunctionSignals(graph, np.random.default_rng(4))
    traffic = GraphTraffic(graph, signals, 0.0, np.random.default_rng(5), [], gridlock_release_s=release_s)
    t = traffic.table
    g = max((k for k in range(len(t.refs)) if not t.is_connector[k]), key=lambda k: t.length_m[k])
    lane, road = t.refs[g], graph.roads[t.refs[g].road]
    s_of = (lambda p: p) if lane.direction > 0 else (lambda p: road.length_m - p)
    i = traffic.add_vehicle(lane, s_of(10.0), 8.0, int(t.exit_conn[t.exit_start[g]]))
    x, y, h = road.pose(s_of(45.0), road.lane_centre_d(lane.lane, lane.direction))
    ego = (float(x), float(y), float(h) + (0.0 if lane.direction > 0 else np.pi), 0.0)
    return traffic, signals, i, lane, s_of(45.0), ego


def _drive(traffic, signals, lane, ego_s, ego, seconds):
    for k in range(int(seconds / DT_S)):
        traffic.step(DT_S, ego, lane, ego_s, k * DT_S)
        signals.step(DT_S)


def test_a_car_stuck_behind_a_standing_ego_is_moved_away_at_rest():
    traffic, signals, i, lane, ego_s, ego = _behind_standing_ego(release_s=20.0)
    _drive(traffic, signals, lane, ego_s, ego, 12.0)
    assert traffic.v[i] < 0.1 and 0.0 < traffic.stood_s[i] < 12.0  # come to rest behind the ego
    stuck_at = traffic.boxes()[i].copy()
    _drive(traffic, signals, lane, ego_s, ego, 19.0 - traffic.stood_s[i])
    assert traffic.released == 0 and np.allclose(traffic.boxes()[i], stuck_at)  # 19 s: still there
    _drive(traffic, signals, lane, ego_s, ego, 2.0)
    assert traffic.released == 1
    x, y = traffic.boxes()[i][:2]
    assert np.hypot(x - ego[0], y - ego[1]) >= AWAY_FROM_EGO_M - 20.0  # it may have driven on towards the ego since
    assert np.hypot(*(traffic.boxes()[i][:2] - stuck_at[:2])) > 100.0
    assert not traffic.table.is_connector[traffic.lane[i]] or traffic.held[i] >= 0  # placed on a street lane
    boxes = traffic.boxes()
    hit = obb_overlap(boxes[:, None], boxes[None])
    np.fill_diagonal(hit, False)
    assert not hit.any()


def test_without_the_release_it_stands_there_for_good():
    traffic, signals, i, lane, ego_s, ego = _behind_standing_ego(release_s=np.inf)
    _drive(traffic, signals, lane, ego_s, ego, 25.0)
    assert traffic.released == 0 and traffic.v[i] < 0.1


def test_the_default_outlasts_every_signal_cycle():
    """A vehicle first at its red line waits at most one cycle: the default threshold must be longer."""
    release_s = ScenarioConfig(kind="townnav").gridlock_release_s
    for seed in range(20):
        graph = generate_graph(TownSpec(grid=6), np.random.default_rng(seed))
        signals = JunctionSignals(graph, np.random.default_rng(seed + 1))
        assert signals.cycle_s.max() * 1.3 < release_s


def test_a_busy_town_releases_nobody_waiting_for_lights():
    """150 s of a 5x5 town at the navigation world's density: the queues at the lights all clear in time."""
    graph = generate_graph(TownSpec(grid=5), np.random.default_rng(3))
    signals = JunctionSignals(graph, np.random.default_rng(4))
    traffic = GraphTraffic(graph, signals, 10.0, np.random.default_rng(5), [],
                           gridlock_release_s=ScenarioConfig(kind="townnav").gridlock_release_s)
    longest = 0.0
    for k in range(int(150 / DT_S)):
        traffic.step(DT_S, (1e5, 1e5, 0.0, 0.0), None, 0.0, k * DT_S)
        signals.step(DT_S)
        longest = max(longest, traffic.stood_s.max())
    assert traffic.released == 0
    assert 10.0 < longest < 70.0  # vehicles did wait at red lines, never near the threshold


@pytest.mark.parametrize("value", [5.0, -1.0, 4000.0])
def test_a_bad_threshold_is_named(value):
    with pytest.raises(ConfigError, match=r"scenario.gridlock_release_s=.* allowed: 0 \(never\) or \[10, 3600\]"):
        ScenarioConfig(kind="townnav", gridlock_release_s=value)


@pytest.mark.parametrize("value", [2.0, -1.0, 4000.0])
def test_a_bad_patience_is_named(value):
    with pytest.raises(ConfigError, match=r"scenario.yield_patience_s=.* allowed: 0 \(never\) or \[5, 3600\]"):
        ScenarioConfig(kind="townnav", yield_patience_s=value)


def test_zero_turns_it_off():
    import gymnasium as gym

    import sim  # noqa: F401  (registers the ids)

    env = gym.make("drivestack/TownNav-v0", config={"render_camera": False,
                                                     "scenario": {"kind": "townnav", "gridlock_release_s": 0}})
    env.reset(seed=1)
    assert env.unwrapped.world.traffic.gridlock_release_s == np.inf
