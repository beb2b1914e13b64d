"""Right on red (``scenario.right_on_red``, off by default): traffic turns right on a red ball after a
full stop, yielding to pedestrians on its crosswalks and to traffic with the green; the ego's
red_light event spares such a turn after a full stop and catches a roll-through, and catches any
right on red where the option is off."""

from dataclasses import replace

import gymnasium as gym
import numpy as np
import pytest

import sim  # noqa: F401  (registers the ids)
from common.config import ConfigError, apply_overrides, from_dict
from common.vocab import EGO_LENGTH_M
from sim.autopilot import Autopilot
from sim.config import EnvConfig
from sim.labels import GroundTruth
from sim.lights import GREEN, RED
from sim.nav_world import STOPPED_M_S
from sim.roadgraph.generator import TownSpec, generate_graph
from sim.roadgraph.graph import CROSSWALK_M
from sim.roadgraph.signals import JunctionSignals
from sim.roadgraph.traffic import STOP_DONE_M_S, GraphTraffic

DT_S = 0.05
FAR_EGO = (1e5, 1e5, 0.0, 0.0)
NO_WALKERS = np.zeros((0, 2))


def test_the_option_is_off_by_default_and_set_like_any_field():
    assert EnvConfig().scenario.right_on_red is False
    cfg = from_dict(EnvConfig, apply_overrides({}, ["scenario.kind=townnav", "scenario.right_on_red=true"]))
    assert cfg.scenario.right_on_red is True
    with pytest.raises(ConfigError, match="scenario.right_on_red: expected true or false"):
        from_dict(EnvConfig, {"scenario": {"right_on_red": "sometimes"}})


# --- traffic ------------------------------------------------------------------------------------
class _Scene:
    """A 5x5 town without traffic, a right turn at a light, and the light's clock set to a phase."""

    def __init__(self, right_on_red: bool):
        self.graph = generate_graph(TownSpec(grid=5), np.random.default_rng(3))
        self.signals = JunctionSignals(self.graph, np.random.default_rng(4), right_on_red=right_on_red)
        self.traffic = GraphTraffic(self.graph, self.signals, 0.0, np.random.default_rng(5), [])
        t = self.traffic.table
        self.right = next(k for k, c in enumerate(self.graph.connectors)
                          if c.movement == "right" and self.graph.junctions[c.junction].control == "signal")
        conflicts = t.conflict_conn[t.conflict_start[self.right]:t.conflict_start[self.right + 1]]
        # the cross street's through movement into the same exit: it has the green while the right has red
        self.cross = next(int(o) for o in conflicts if self.graph.connectors[o].movement == "straight")

    def state(self, c: int) -> int:
        conn = self.graph.connectors[c]
        return self.signals.movement_state(conn.junction, conn.src.road, conn.src.direction, conn.movement)

    def wait_for(self, c: int, state: int) -> None:
        """Run the clock to the start of connector ``c``'s next ``state``."""
        while self.state(c) == state:
            self.signals.step(DT_S)
        while self.state(c) != state:
            self.signals.step(DT_S)

    def place(self, c: int, before_line_m: float, speed_m_s: float) -> int:
        conn, t = self.graph.connectors[c], self.traffic.table
        lane = t.index[conn.src]
        p = t.stop_p[lane] - before_line_m
        return self.traffic.add_vehicle(conn.src, p if conn.src.direction > 0 else t.length_m[lane] - p, speed_m_s, c)

    def exit_crosswalk_xy(self) -> np.ndarray:
        """A walker on the crosswalk of the street the right turn enters, in the lane it enters."""
        dst = self.graph.connectors[self.right].dst
        road = self.graph.roads[dst.road]
        s = self.graph.lane_start_s(dst) + dst.direction * CROSSWALK_M / 2
        x, y, _ = road.pose(np.array([s]), np.array([float(road.lane_centre_d(dst.lane, dst.direction))]))
        return np.array([[x[0], y[0]]])

    def run(self, vehicles: dict[int, int], seconds: float, walkers=lambda t_s: NO_WALKERS):
        """Step; for each vehicle (index -> its connector): when it entered the connector [s] and the
        light it had then, and its lowest speed before [m/s]."""
        t = self.traffic.table
        entered, slowest = {}, dict.fromkeys(vehicles, np.inf)
        for k in range(int(seconds / DT_S)):
            self.traffic.step(DT_S, FAR_EGO, None, 0.0, k * DT_S, walkers(k * DT_S))
            self.signals.step(DT_S)
            for i, c in vehicles.items():
                if i in entered:
                    continue
                if self.traffic.lane[i] == t.conn_lane[c]:
                    entered[i] = (k * DT_S, self.state(c))
                else:
                    slowest[i] = min(slowest[i], float(self.traffic.v[i]))
        return entered, slowest


def test_traffic_turns_right_on_red_after_a_full_stop_only_where_allowed():
    for allowed in (True, False):
        scene = _Scene(allowed)
        scene.wait_for(scene.right, RED)
        i = scene.place(scene.right, 20.0, 5.0)
        entered, slowest = scene.run({i: scene.right}, 15.0)
        assert scene.state(scene.right) == RED  # the red lasts the whole run
        if allowed:
            assert entered[i][1] == RED and slowest[i] < STOP_DONE_M_S
        else:
            assert i not in entered


def test_right_on_red_waits_for_a_pedestrian_on_its_crosswalk():
    """A walker on the crosswalk of the street the turn enters (beside, not ahead of, the car at its
    line) until 15 s: the car turns only after the walker has gone."""
    times = {}
    for walker_s in (0.0, 15.0):
        scene = _Scene(True)
        scene.wait_for(scene.right, RED)
        i = scene.place(scene.right, 20.0, 5.0)
        xy = scene.exit_crosswalk_xy()
        entered, _ = scene.run({i: scene.right}, 25.0, lambda t_s: xy if t_s < walker_s else NO_WALKERS)
        assert entered[i][1] == RED
        times[walker_s] = entered[i][0]
    assert times[0.0] < 12.0 and times[15.0] > 15.0


def test_right_on_red_yields_to_traffic_with_the_green():
    """Stopped at its red line, the right turner lets a car on the cross street (green, going straight
    into the same street) pass first; with nobody coming it turns at once."""
    for coming in (False, True):
        scene = _Scene(True)
        scene.wait_for(scene.cross, GREEN)
        assert scene.state(scene.right) == RED
        i = scene.place(scene.right, 6.0, 2.0)
        vehicles = {i: scene.right}
        if coming:
            vehicles[scene.place(scene.cross, 40.0, 10.0)] = scene.cross
        entered, _ = scene.run(vehicles, 20.0)
        assert entered[i][1] == RED
        if coming:
            j = max(vehicles)
            assert entered[j][1] == GREEN and entered[j][0] < entered[i][0]
        else:
            assert entered[i][0] < 8.0


# --- the ego's red_light event ----------------------------------------------------------------
def _drive_through_red(right_on_red: bool, edit=None, seed: int = 35):
    """TownNav seed 35 (150 m, nobody else about): the route's first junction is a right at a light
    ~20 m ahead. The light turns red as the drive starts; the autopilot drives (``edit`` rewrites
    the labels it reads) until the car has left the junction. Returns (red_light events, the light
    when the front crossed the line, the lowest speed within the stop window before it [m/s])."""
    env = gym.make("drivestack/TownNav-v0", render_camera=False, config={"scenario": {
        "route_length_m": 150.0, "right_on_red": right_on_red, "traffic_density_per_km": 0.0,
        "pedestrians_per_km": 0.0, "parked_cars_per_km": 0.0}}).unwrapped
    obs, _ = env.reset(seed=seed)
    world = env.world
    a = world._approaches[0]
    assert a.movement == "right" and a.control == "signal" and a.turns_on_red == right_on_red
    lights = world.lights
    while int(lights.head_states()[a.head]) == RED:  # the start of a red
        lights.step(DT_S)
    while int(lights.head_states()[a.head]) != RED:
        lights.step(DT_S)
    obs, _, _, _, info = env.step(np.zeros(2, np.float32))  # labels with the light set
    pilot = Autopilot()
    red_runs, at_crossing, slowest = 0, None, np.inf
    while world.ego_s < a.exit_route_s:
        front = world.ego_s + EGO_LENGTH_M / 2
        if 0.0 < a.stop_route_s - front < 3.0:
            slowest = min(slowest, world.ego.speed_m_s)
        gt = info["ground_truth"]
        assert gt.ego.right_on_red == right_on_red  # the route block says what the map permits
        gt = gt if edit is None else GroundTruth(edit(gt.ego), gt.objects)
        obs, _, terminated, truncated, info = env.step(pilot.act(gt, float(obs["state"][0])))
        if front < a.stop_route_s <= world.ego_s + EGO_LENGTH_M / 2:
            at_crossing = int(lights.head_states()[a.head])
        red_runs += int(info["events"]["red_light"])
        assert not (terminated or truncated) and world.time_s < 60.0
    return red_runs, at_crossing, slowest


def test_ego_right_on_red_after_a_full_stop_is_no_red_run():
    red_runs, light, slowest = _drive_through_red(True)
    assert light == RED and slowest < STOPPED_M_S and red_runs == 0


def test_ego_rolling_through_a_right_on_red_is_a_red_run():
    # the driver reads a green: it never stops
    red_runs, light, slowest = _drive_through_red(True, edit=lambda e: replace(e, light_state="green"))
    assert light == RED and slowest > STOPPED_M_S and red_runs == 1


def test_ego_right_on_red_is_a_red_run_where_the_option_is_off():
    # the driver believes a sign permits it (the world does not): the same stop and turn
    red_runs, light, slowest = _drive_through_red(False, edit=lambda e: replace(e, right_on_red=True))
    assert light == RED and slowest < STOPPED_M_S and red_runs == 1
