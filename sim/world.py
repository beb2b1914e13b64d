"""The simulated world: roads, ego, traffic, pedestrians and lights, stepped together.

``World.step(steer, accel)`` advances one control step and returns the ``StepEvents`` the env
turns into reward terms and termination: collisions (oriented-box overlap), leaving the
paved road, crossing a solid line, running a red light, route progress and completion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.vocab import EGO_LENGTH_M, EGO_WIDTH_M, PEDESTRIAN_SIZE_M

from .collision import box_corners
from .dynamics import BicycleParams, EgoState, bicycle_step
from .kernels import first_box_overlap, gather_obstacles
from .lights import RED, TrafficLights
from .meshes import LINE_BASE
from .pedestrians import Pedestrians
from .route_block import RouteTruth, follow_lane_truth
from .scenarios import Scenario, ScenarioConfig, generate
from .traffic import Obstacles, Traffic



@dataclass
class StepEvents:
    """What happened during one control step."""

    collision: str | None = None  # "vehicle" | "pedestrian" | "static" | None
    collision_id: int = -1  # instance id of what was hit
    off_road: bool = False
    solid_line: bool = False  # started crossing a solid line this step
    red_light: bool = False  # passed a stop line showing red this step
    progress_m: float = 0.0  # route progress this step [m]
    goal: bool = False
    # navigation towns only (``sim.nav_world``); always False on the straight-road town and highway
    stop_sign: bool = False  # crossed a stop sign's stop line without a full stop before it this step
    wrong_lane: bool = False  # started driving in a lane of the opposite direction this step
    off_route: bool = False  # left the route (a wrong turn, or too far from the route line too long)
    blocked_junction: bool = False  # entered a junction with no room to leave it this step
    failed_to_yield: bool = False  # made a road user with priority brake hard, or drove close past a walker
    # (this step; the safety suite's junction cases judge it, ``sim.suite.junction_world``)

    def as_dict(self) -> dict:
        """The fields as a plain dict (what ``dataclasses.asdict`` gives, without its deep copy)."""
        return dict(self.__dict__)


def first_collision(e: EgoState, traffic, peds, static_boxes: np.ndarray, ids: "InstanceTable", static_id,
                    ev: StepEvents, reach_m: float = 15.0,
                    static_cos_sin: tuple[np.ndarray, np.ndarray] | None = None) -> None:
    """The ego's first overlap with a vehicle, else a pedestrian, else a static box (props, poles),
    written into ``ev``; ``static_id(k)`` is the instance id of static box ``k``. Both worlds use it.
    ``static_cos_sin``: cos and sin of the static boxes' yaws, where the caller keeps them (the
    navigation towns' hundreds of boxes): the movers are tested first, then the static boxes."""
    ac, as_ = float(np.cos(e.yaw_rad)), float(np.sin(e.yaw_rad))
    if static_cos_sin is None:
        boxes = np.concatenate([traffic.boxes(), peds.boxes(), static_boxes])
        yaw = boxes[:, 2]
        k = first_box_overlap(e.x_m, e.y_m, ac, as_, 0.5 * EGO_LENGTH_M, 0.5 * EGO_WIDTH_M, boxes, np.cos(yaw),
                              np.sin(yaw), reach_m)
    else:  # the same boxes in the same order, in two passes (cos and sin are element-wise)
        movers = np.concatenate([traffic.boxes(), peds.boxes()])
        yaw = movers[:, 2]
        k = first_box_overlap(e.x_m, e.y_m, ac, as_, 0.5 * EGO_LENGTH_M, 0.5 * EGO_WIDTH_M, movers, np.cos(yaw),
                              np.sin(yaw), reach_m)
        if k < 0:
            k = first_box_overlap(e.x_m, e.y_m, ac, as_, 0.5 * EGO_LENGTH_M, 0.5 * EGO_WIDTH_M, static_boxes,
                                  *static_cos_sin, reach_m)
            k = k if k < 0 else k + len(movers)
    if k < 0:
        return
    n_veh, n_ped = traffic.n, peds.n
    if k < n_veh:
        ev.collision, ev.collision_id = "vehicle", int(ids.vehicle0 + k)
    elif k < n_veh + n_ped:
        ev.collision, ev.collision_id = "pedestrian", int(ids.ped0 + k - n_veh)
    else:
        ev.collision, ev.collision_id = "static", int(static_id(k - n_veh - n_ped))


@dataclass
class EgoFrenet:
    s_m: float  # along the main road [m]
    d_m: float  # left of the centre line [m]
    lane: int  # forward lane index, 0 next to the centre line
    lane_offset_m: float  # left of the lane centre [m]
    heading_error_rad: float  # ego yaw minus lane direction, wrapped [rad]


@dataclass
class InstanceTable:
    """Instance ids of everything drawn: vehicles, then pedestrians, then light heads, then props
    (and, in navigation towns, after the props, light poles and sign posts, the stop-sign plates)."""

    vehicle0: int
    ped0: int
    light0: int
    prop0: int
    total: int  # one more than the largest id
    stop_sign0: int = -1  # first stop sign's id; -1 where there are none (straight-road worlds)

    def kind_of(self, inst_id: int) -> str:
        if inst_id < self.ped0:
            return "vehicle"
        if inst_id < self.light0:
            return "pedestrian"
        if inst_id < self.prop0:
            return "traffic_light"
        if 0 <= self.stop_sign0 <= inst_id:
            return "stop_sign"
        return "static"


class World:
    def __init__(self, config: ScenarioConfig, seed: int, dt_s: float, substeps: int = 2,
                 scenario: Scenario | None = None):
        """``scenario``: a world built elsewhere (the safety suite's test tracks); None generates one
        from ``config`` and ``seed``."""
        self.config = config
        self.scenario: Scenario = generate(config, seed) if scenario is None else scenario
        self.net = self.scenario.network
        self.params = self.scenario.params
        self.dt_s = dt_s
        self.substeps = substeps
        self.time_s = 0.0
        rng = np.random.default_rng([seed, 1])
        self.rng = rng
        main = self.net.main
        start = self.scenario.start_s
        self.lights = TrafficLights(self.net, rng)
        self.traffic, self.peds = self._make_actors(rng)
        lane = int(rng.integers(0, main.lanes_fwd))
        x, y, h = main.pose(start, main.lane_centre_d(lane, 1))
        self.bicycle = BicycleParams()
        self.ego = EgoState(float(x), float(y), float(h), 0.5 * self.params.speed_limit_m_s, 0.0, 0.0, 0.0)
        self.ego_s = start
        self.prev_action = np.zeros(2, dtype=np.float32)
        self.over_solid = False
        self.goal_s = self.scenario.goal_s
        self.start_s = start
        n_lights = len(self.lights.heads)
        props = self.scenario.props
        self.ids = InstanceTable(1, 1 + self.traffic.n, 1 + self.traffic.n + self.peds.n,
                                 1 + self.traffic.n + self.peds.n + n_lights,
                                 1 + self.traffic.n + self.peds.n + n_lights + len(props) + n_lights)
        # static collision boxes: props, then the light poles
        pole = [(hd.x_m, hd.y_m, hd.yaw_rad, 0.25, 0.25) for hd in self.lights.heads]
        self.static_boxes = np.array([(p.x_m, p.y_m, p.yaw_rad, p.length_m, p.width_m) for p in props] + pole,
                                     dtype=np.float64).reshape(-1, 5)
        inters = self.net.intersections
        assert len({i.side_road for i in inters}) == len(inters), "one side road per intersection"
        self._intersection_arrays = (np.array([i.main_s for i in inters], np.float64),
                                     np.array([i.half_main_m for i in inters], np.float64),
                                     np.array([i.side_s for i in inters], np.float64),
                                     np.array([i.side_road for i in inters], np.int64))
        self._lane_centres_d = main.lane_centre_d(np.arange(main.lanes_fwd), 1)
        self.frenet = self._frenet()

    def _make_actors(self, rng: np.random.Generator) -> tuple[Traffic, Pedestrians]:
        """The world's vehicles and walkers (a subclass may put scripted actors with the same interface
        in their place: ``sim.suite.world``)."""
        start = self.scenario.start_s
        traffic = Traffic(self.net, self.lights, self.params.kind, self.params.traffic_density_per_km,
                          self.scenario.parked, rng, (start - 15.0, start + 25.0))
        return traffic, Pedestrians(self.net, self.lights, self.params.pedestrians_per_km, rng)

    # --- ego geometry ------------------------------------------------------------------------
    def ego_box(self) -> np.ndarray:
        e = self.ego
        return np.array([e.x_m, e.y_m, e.yaw_rad, EGO_LENGTH_M, EGO_WIDTH_M])

    def _frenet(self) -> EgoFrenet:
        main = self.net.main
        s, d = main.project(self.ego.x_m, self.ego.y_m, hint_s=self.ego_s)
        s, d = float(s), float(d)
        centres = self._lane_centres_d
        lane = int(np.argmin(np.abs(centres - d)))
        h = main.heading_at(s)
        err = float(np.angle(np.exp(1j * (self.ego.yaw_rad - h))))
        return EgoFrenet(s, d, lane, d - float(centres[lane]), err)

    def ego_lane(self) -> tuple[int, float, float]:
        """Lanes in the ego's direction, their width [m] and the speed limit there [m/s]."""
        main = self.net.main
        return main.lanes_fwd, main.lane_width_m, main.speed_limit_m_s

    def lane_line_codes(self) -> tuple[int, int]:
        """Ground-label codes of the ego lane's left and right lines (``sim.meshes.LINE_BASE`` slots):
        the ego's lane k (forward) lies between lines at d = -(k+1) w (right) and -k w (left)."""
        lane = self.frenet.lane
        return LINE_BASE + int(round(-lane)) + 8, LINE_BASE + int(round(-(lane + 1))) + 8

    def route_truth(self) -> RouteTruth | None:
        """The route block of the labels: follow the lane when ``config.route_block`` asks for one (the
        route is the main road), else none."""
        if not getattr(self.config, "route_block", False):
            return None
        e = self.ego
        return follow_lane_truth(self.net.main, self.ego_s, float(self._lane_centres_d[self.frenet.lane]), self.goal_s,
                                 e.x_m, e.y_m, e.yaw_rad)

    def in_intersection(self, s: float, margin_m: float = 0.0) -> bool:
        return any(abs(s - i.main_s) < i.half_main_m + margin_m for i in self.net.intersections)

    # --- stepping -----------------------------------------------------------------------------
    def step(self, steer: float, accel: float) -> StepEvents:
        ev = StepEvents()
        prev_s = self.ego_s
        self.ego = bicycle_step(self.ego, steer, accel, self.dt_s, self.bicycle, self.substeps)
        self.time_s += self.dt_s
        self.lights.step(self.dt_s)
        self.frenet = self._frenet()
        self.ego_s = self.frenet.s_m
        self.traffic.step(self.dt_s, self.obstacles(), self.time_s)
        self.peds.step(self.dt_s, self.ego_s)
        self.prev_action = np.array([steer, accel], dtype=np.float32)

        ev.progress_m = self.ego_s - prev_s
        ev.goal = self.ego_s >= self.goal_s
        self._check_collision(ev)
        corners = box_corners(self.ego_box())
        # the corners' main-road Frenet coordinates serve both the asphalt and the solid-line test
        main_sd = self.net.main.project(corners[:, 0], corners[:, 1], hint_s=self.ego_s)
        ev.off_road = not bool(np.all(self.net.on_asphalt(corners[:, 0], corners[:, 1], hint_s=self.ego_s,
                                                          main_sd=main_sd)))
        ev.solid_line = self._check_solid_line(*main_sd)
        ev.red_light = self._check_red_light(prev_s)
        return ev

    def obstacles(self) -> tuple[Obstacles, np.ndarray]:
        """What traffic follows, on every road: all vehicles, then the ego and the pedestrians on
        the asphalt in each road's frame (``kernels.gather_obstacles``), and the road of each."""
        main = self.net.main
        f = self.frenet
        v_s = self.ego.speed_m_s * np.cos(f.heading_error_rad)
        lo, hi = main.asphalt_d
        tr, peds = self.traffic, self.peds
        inter_main_s, inter_half_main, inter_side_s, inter_side_road = self._intersection_arrays
        s, d, half_len, half_wid, v, vehicle, road = gather_obstacles(
            tr.s, tr.d, tr.dims[:, 0], tr.dims[:, 1], tr.v, tr.dir, tr.road,
            # the ego near a crossing blocks it, widened by 1 m to keep cross traffic back
            f.s_m, f.d_m, EGO_LENGTH_M / 2, EGO_WIDTH_M / 2, float(v_s), EGO_WIDTH_M / 2 + 1.0, EGO_LENGTH_M / 2,
            peds.s, peds.d, PEDESTRIAN_SIZE_M / 2, lo - 0.3, hi + 0.3,
            inter_main_s, inter_half_main, inter_side_s, inter_side_road)
        return Obstacles(s, d, half_len, half_wid, v, vehicle), road

    def _check_collision(self, ev: StepEvents) -> None:
        first_collision(self.ego, self.traffic, self.peds, self.static_boxes, self.ids, self._static_id, ev)

    def _static_id(self, k: int) -> int:
        n_props = len(self.scenario.props)
        if k < n_props:
            return self.ids.prop0 + k
        return self.ids.prop0 + n_props + (k - n_props)  # a light pole

    def _check_solid_line(self, s: np.ndarray, d: np.ndarray) -> bool:
        """Whether the ego, its corners at main-road (s, d), started crossing a solid line."""
        main = self.net.main
        gap = main.in_gap(s)
        over = bool(np.any(~gap & ((d > 0.1) | (d < main.right_edge_d - 0.1))))
        started = over and not self.over_solid
        self.over_solid = over
        return started

    def _check_red_light(self, prev_s: float) -> bool:
        states = self.lights.head_states()
        for inter in self.net.intersections:
            stop = inter.stop_s[(0, 1)]
            if prev_s < stop <= self.ego_s and states[inter.light_ids[(0, 1)]] == RED:
                return True
        return False

    # --- what the ego faces -------------------------------------------------------------------
    def relevant_light(self) -> tuple[str, float, int]:
        """The ego's next light: state name, distance from the front bumper to its stop line [m]
        (negative once past it, while still in the intersection), head index.
        ("none", inf, -1) when no intersection is ahead."""
        states = self.lights.head_states()
        front = self.ego_s + EGO_LENGTH_M / 2
        for inter in self.net.intersections:  # sorted along the road
            dist = inter.stop_s[(0, 1)] - front
            if dist > -(2 * inter.half_main_m + 2 * inter.crosswalk_m + EGO_LENGTH_M):
                head = inter.light_ids[(0, 1)]
                return ("green", "yellow", "red")[int(states[head])], float(dist), head
        return "none", float("inf"), -1

    def curvature_ahead(self, distances_m=(10.0, 20.0, 30.0)) -> np.ndarray:
        """Main-road curvature at distances ahead of the ego [1/m], positive turning left."""
        return self.net.main.curvature_at(self.ego_s + np.asarray(distances_m))

