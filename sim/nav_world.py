"""The navigation world: the ego drives a planned route through a road-graph town.

``NavWorld`` offers the env, the labels and the view what ``sim.world.World`` offers (``ego``,
``step``, ``traffic``, ``peds``, ``lights``, ``ids``, ``frenet``, ``relevant_light``, ...), but
its frame follows the route: ``ego_s`` is the distance along the route line (``route.path``),
lane index, lanes, width and speed limit come from the street lane (or junction connector) of
the route leg the ego is on.

Events (``StepEvents``), and whether the env ends the episode on them:

- collision with a vehicle, a building, a light pole or a stop-sign post: terminates;
- off_road (a corner outside every street's asphalt and every junction box): terminates;
- off_route (farther than ``OFF_ROUTE_M`` from the route line for over ``OFF_ROUTE_S``, which a
  wrong turn does within a few metres): terminates, the route is lost;
- solid_line (a corner crosses the centre or an edge line of the street it is on), wrong_lane
  (its centre in a lane of the opposite direction), red_light (the front bumper crosses the
  stop line while its movement shows red; where the scenario allows right on red, not for a right
  turn after a full stop at the line, judged as at a stop sign), stop_sign (the bumper crosses a
  stop-sign line with no full stop, speed < ``STOPPED_M_S``, within ``STOP_WINDOW_M`` before it),
  blocked_junction (the bumper crosses a junction's stop line while a vehicle stands, slower than
  ``BLOCKING_M_S``, less than ``EXIT_ROOM_M`` beyond the junction in the lane the route leaves it
  by: the ego enters a box it has no room to leave): penalised, the drive goes on;
- goal: the end of the route, terminates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from common.vocab import EGO_LENGTH_M, EGO_WIDTH_M

from .collision import box_corners
from .config import ScenarioConfig
from .dynamics import BicycleParams, EgoState, bicycle_step
from .kernels import box_corners_one
from .lights import HOUSING_BOTTOM_M, HOUSING_SIZE_M, RED
from .nav_actors import NoPedestrians
from .roadgraph.traffic import GraphTraffic
from .roadgraph.pedestrians import GraphPedestrians
from .nav_scenario import NavScenario, generate_nav
from .roadgraph.ground import ego_line_codes
from .roadgraph.graph import CROSSWALK_M, LaneRef
from .roadgraph.topdown import draw_map
from .route_block import WAYPOINTS, RouteTruth
from .world import EgoFrenet, InstanceTable, StepEvents, first_collision

OFF_ROUTE_M = 4.5  # farther than this from the route line ... [m]
OFF_ROUTE_S = 1.0  # ... for longer than this is off route [s]
STOPPED_M_S = 0.3  # a full stop: slower than this [m/s]
STOP_WINDOW_M = 3.0  # a full stop counts within this distance before a stop-sign line [m]
GOAL_TOLERANCE_M = 1.0  # the route line ends at the goal; projections clamp there [m]
POLE_SIZE_M = 0.25  # light pole and stop-sign post footprint side [m]
START_CLEAR_M = 25.0  # no vehicle spawns this close to the ego's start, on its road [m]
EXIT_ROOM_M = EGO_LENGTH_M + 1.5  # entering a junction needs this much free lane beyond it [m]
BLOCKING_M_S = 1.0  # a vehicle slower than this in that stretch blocks the exit [m/s]


@dataclass(frozen=True)
class Approach:
    """A junction the route drives through: the stop line before it and the movement taken."""

    junction: int
    street: int  # approach street ...
    direction: int  # ... and direction of travel on it
    movement: str  # "left" | "straight" | "right"
    control: str  # "signal" | "stop" (a stop sign on this approach) | "priority" (the through road of a two-way stop)
    stop_route_s: float  # the stop line's distance along the route [m]
    exit_route_s: float  # where the route leaves the junction's connector [m]
    head: int  # index into ``signals.heads`` of the head governing the movement; -1 without lights
    turns_on_red: bool = False  # a right that may go on its red ball after a full stop (``JunctionSignals.turns_on_red``)

    @property
    def stop_first(self) -> bool:
        """Whether a full stop at this line is recorded: a stop sign, or a right that may turn on red."""
        return self.control == "stop" or self.turns_on_red


class NavWorld:
    def __init__(self, config: ScenarioConfig, seed: int, dt_s: float, substeps: int = 2,
                 scenario: NavScenario | None = None):
        """``scenario``: a town built elsewhere (the safety suite's junction cases); None generates one
        from ``config`` and ``seed``."""
        self.config = config
        self.scenario: NavScenario = generate_nav(config, seed) if scenario is None else scenario
        sc = self.scenario
        self.graph, self.route, self.params = sc.graph, sc.route, sc.params
        self.lights = sc.signals  # the light heads, their states and the stop signs
        self.dt_s, self.substeps, self.time_s = dt_s, substeps, 0.0
        rng = np.random.default_rng([seed, 1])
        self.rng = rng
        self.traffic = self._traffic(sc, rng)
        self.peds = self._pedestrians(sc, rng)
        first = self.route.legs[0]
        road = self.graph.roads[first.lane.road]
        x, y, h = road.pose(first.s_from, road.lane_centre_d(first.lane.lane, first.lane.direction))
        heading = float(h) + (0.0 if first.lane.direction > 0 else math.pi)
        self.bicycle = BicycleParams()
        self.ego = EgoState(float(x), float(y), heading, 0.5 * road.speed_limit_m_s, 0.0, 0.0, 0.0)
        self.prev_action = np.zeros(2, dtype=np.float32)
        self.start_s, self.goal_s = 0.0, self.route.length_m
        self.ego_s, self.route_d_m = 0.0, 0.0
        self._approaches = self._route_approaches()
        self._stopped: set[int] = set()  # approaches (indices) where the ego made a full stop
        self._off_route_s = 0.0
        self.over_solid = self.in_wrong_lane = False
        self._map = None  # top_down's picture of the town, drawn on first use
        self._ids_and_static_boxes(sc)
        self._locate()

    def _traffic(self, sc: NavScenario, rng: np.random.Generator) -> GraphTraffic:
        """Vehicles that drive the graph, the parked cars last; none spawns near the ego's start."""
        first = self.route.legs[0]
        parked = []
        for p in sc.parked:
            road = self.graph.roads[p.road]
            parked.append((p.road, p.s_m, p.d_m, road.heading_at(p.s_m) + (0.0 if p.direction > 0 else math.pi)))
        keep = [(first.lane, first.s_from - START_CLEAR_M, first.s_from + START_CLEAR_M)]
        release_s = self.config.gridlock_release_s or math.inf  # 0: never
        patience_s = self.config.yield_patience_s or math.inf  # 0: never
        return GraphTraffic(self.graph, self.lights, self.params.traffic_density_per_km, rng, keep, parked, release_s,
                            patience_s)

    def _pedestrians(self, sc: NavScenario, rng: np.random.Generator):
        """Walkers on the sidewalks and crosswalks, or none (``pedestrians_per_km`` 0, the highway)."""
        per_km = self.params.pedestrians_per_km
        return GraphPedestrians(self.graph, self.lights, per_km, rng, sc.parked) if per_km > 0 else NoPedestrians()

    def _ids_and_static_boxes(self, sc: NavScenario) -> None:
        """Instance ids and the static collision boxes: props, the ball heads' poles, the stop-sign posts.

        Ids, as ``sim.roadgraph.view_parts`` draws them: vehicles, pedestrians, light heads, then the
        static range (props, one pole per head, one post per stop sign), then the stop-sign plates
        (their own range, so a sign's label box is its plate, as a light head's excludes its pole)."""
        heads, signs = self.lights.heads, self.lights.stop_signs
        sig_xy = np.array([(h.x_m, h.y_m) for h in heads]).reshape(-1, 2)
        n_veh, n_heads, n_props = self.traffic.n, len(heads), len(sc.props)
        light0 = 1 + n_veh + self.peds.n
        prop0 = light0 + n_heads
        post0 = prop0 + n_props + n_heads
        sign0 = post0 + len(signs)
        self.ids = InstanceTable(1, 1 + n_veh, light0, prop0, sign0 + len(signs), sign0)
        # arrow heads hang over the lane on a mast; a ball head that ``signals`` placed on paving (where a
        # wider street leaves the junction) gets no pole box, so no lane holds an obstacle nobody can see coming
        on_paving = sc.paved.on_paved(sig_xy[:, 0], sig_xy[:, 1]) if len(heads) else np.zeros(0, bool)
        poles = [k for k, hd in enumerate(heads) if not hd.left_arrow and not on_paving[k]]
        boxes = ([(p.x_m, p.y_m, p.yaw_rad, p.length_m, p.width_m) for p in sc.props]
                 + [(heads[k].x_m, heads[k].y_m, heads[k].yaw_rad, POLE_SIZE_M, POLE_SIZE_M) for k in poles]
                 + [(s.x_m, s.y_m, s.yaw_rad, POLE_SIZE_M, POLE_SIZE_M) for s in signs])
        self.static_boxes = np.array(boxes, np.float64).reshape(-1, 5)
        self._static_cos_sin = (np.cos(self.static_boxes[:, 2]), np.sin(self.static_boxes[:, 2]))  # they never move
        self._static_ids = np.array([prop0 + k for k in range(n_props)] + [prop0 + n_props + k for k in poles]
                                    + [post0 + k for k in range(len(signs))], np.int64)

    def _route_approaches(self) -> list[Approach]:
        legs, graph, sig = self.route.legs, self.graph, self.lights
        head_of = {(h.junction, h.street, h.direction, h.left_arrow): k for k, h in enumerate(sig.heads)}
        out = []
        for k in range(1, len(legs)):
            leg = legs[k]
            if not leg.connector:
                continue
            c = graph.connector_of(leg.lane.road)
            street, direction = c.src.road, c.src.direction
            junction = graph.junctions[c.junction]
            if junction.control == "merge":
                continue  # a highway taper or gore: no line to stop at, nobody to give way to at a line
            stop_s = junction.stop_s[(street, direction)]
            stop_route_s = self.route.route_s_on_leg(k - 1, stop_s)
            head = -1
            if junction.control == "signal":
                control = "signal"
                arrow = c.movement == "left" and junction.protected_left
                head = head_of[(c.junction, street, direction, arrow)]
            else:
                control = "stop" if sig.has_stop_sign(street, direction) else "priority"
            out.append(Approach(c.junction, street, direction, c.movement, control, stop_route_s,
                                leg.route_s1, head, sig.turns_on_red(c.junction, c.movement)))
        return out

    # --- where the ego is -------------------------------------------------------------------
    def _locate(self) -> None:
        """Route distance and offset, and the ego's lane on the road of its route leg."""
        e = self.ego
        self.ego_s, self.route_d_m = self.route.path.project_point(e.x_m, e.y_m, hint_s=self.ego_s)
        k = self.route.leg_index(self.ego_s)
        leg = self.route.legs[k]
        self.leg = leg
        road = self.graph.roads[leg.lane.road]
        direction = leg.lane.direction
        hint = self.route.road_s_on_leg(k, self.ego_s)
        rs, rd = road.project_point(e.x_m, e.y_m, hint_s=hint)
        left = direction * rd  # left of the direction of travel [m]
        lanes = road.lanes_toward(direction)
        w = road.lane_width_m
        lane = int(min(max(math.floor(-left / w), 0), lanes - 1))
        heading = road.heading_at(rs) + (0.0 if direction > 0 else math.pi)
        err = float(np.angle(np.exp(1j * (e.yaw_rad - heading))))
        self.road_s_m, self.road_left_m = rs, left
        self.lane_ref = LaneRef(leg.lane.road, direction, lane)
        self.frenet = EgoFrenet(self.ego_s, rd, lane, left + (lane + 0.5) * w, err)

    def ego_box(self) -> np.ndarray:
        e = self.ego
        return np.array([e.x_m, e.y_m, e.yaw_rad, EGO_LENGTH_M, EGO_WIDTH_M])

    def _ego_corners(self) -> np.ndarray:
        """``box_corners(self.ego_box())`` in one compiled call (once a step)."""
        e = self.ego
        return box_corners_one(e.x_m, e.y_m, float(np.cos(e.yaw_rad)), float(np.sin(e.yaw_rad)), 0.5 * EGO_LENGTH_M,
                               0.5 * EGO_WIDTH_M)

    def lane_line_codes(self) -> tuple[int, int]:
        """Ground-label codes of the ego lane's left and right lines (never-drawn codes on a connector)."""
        return ego_line_codes(self.graph, self.lane_ref)

    def ego_lane(self) -> tuple[int, float, float]:
        """Lanes in the ego's direction, their width [m] and the speed limit there [m/s]."""
        road = self.graph.roads[self.lane_ref.road]
        lanes = road.lanes_toward(self.lane_ref.direction)
        return lanes, road.lane_width_m, road.speed_limit_m_s

    # --- stepping -----------------------------------------------------------------------------
    def step(self, steer: float, accel: float) -> StepEvents:
        ev = StepEvents()
        prev_s = self.ego_s
        self.ego = bicycle_step(self.ego, steer, accel, self.dt_s, self.bicycle, self.substeps)
        self.time_s += self.dt_s
        self.lights.step(self.dt_s)
        self._locate()
        e = self.ego
        _, wx, wy = self.peds.on_carriageway()
        walkers = np.empty((len(wx), 2))  # np.stack([wx, wy], 1) without its overhead
        walkers[:, 0], walkers[:, 1] = wx, wy
        self.traffic.step(self.dt_s, (e.x_m, e.y_m, e.yaw_rad, e.speed_m_s), self.lane_ref, self.road_s_m, self.time_s,
                          walkers, self._ego_next_connector())
        # crossing walkers stop short of the ego's body rather than walk into its side (traffic stops for walkers
        # on the paving itself, and only the ego's contacts are scored)
        self.peds.step(self.dt_s, (e.x_m, e.y_m), self._vehicles_xy_v(), self.ego_box()[None])
        self.prev_action = np.array([steer, accel], dtype=np.float32)

        ev.progress_m = self.ego_s - prev_s
        ev.goal = self.ego_s >= self.goal_s - GOAL_TOLERANCE_M
        self._check_collision(ev)
        corners = self._ego_corners()
        ev.off_road = not self.scenario.paved.all_paved(corners[:, 0], corners[:, 1])
        ev.solid_line, ev.wrong_lane = self._check_lines(corners)
        ev.red_light, ev.stop_sign, ev.blocked_junction = self._check_stop_lines(prev_s)
        self._off_route_s = self._off_route_s + self.dt_s if abs(self.route_d_m) > OFF_ROUTE_M else 0.0
        ev.off_route = self._off_route_s > OFF_ROUTE_S
        return ev

    def _ego_next_connector(self) -> tuple[int, float]:
        """The connector (index into ``graph.connectors``) the route takes next and the distance from
        the ego's front to its start [m]; (-1, inf) when no junction is left."""
        front = self.ego_s + EGO_LENGTH_M / 2
        for leg in self.route.legs[self.route.leg_index(self.ego_s):]:
            if leg.connector and leg.route_s1 > self.ego_s:
                return leg.lane.road - self.graph.n_streets, max(leg.route_s0 - front, 0.0)
        return -1, math.inf

    def _vehicles_xy_v(self) -> np.ndarray:
        """(V, 3) x, y [m] and speed [m/s] of every vehicle and the ego: what a pedestrian about to
        cross looks out for."""
        x, y, _ = self.traffic.poses()
        e = self.ego
        out = np.empty((len(x) + 1, 3))
        out[:-1, 0], out[:-1, 1], out[:-1, 2] = x, y, self.traffic.v
        out[-1] = e.x_m, e.y_m, e.speed_m_s
        return out

    def _check_collision(self, ev: StepEvents) -> None:
        first_collision(self.ego, self.traffic, self.peds, self.static_boxes, self.ids, self._static_ids.__getitem__,
                        ev, static_cos_sin=self._static_cos_sin)

    def _check_lines(self, corners: np.ndarray) -> tuple[bool, bool]:
        """(started crossing a solid line, started driving in an opposing lane) on the street of
        the route leg; junction boxes and crosswalks have no lines."""
        leg = self.leg
        if leg.connector:
            self.over_solid = self.in_wrong_lane = False
            return False, False
        road = self.graph.roads[leg.lane.road]
        direction = leg.lane.direction
        s, d = road.project(corners[:, 0], corners[:, 1], hint_s=self.road_s_m)
        lanes = road.lanes_toward(direction)
        right_m, end_m = -lanes * road.lane_width_m - 0.1, road.length_m - CROSSWALK_M
        # four corners: plain floats beat numpy's per-call overhead
        over = any(CROSSWALK_M < cs < end_m and (direction * cd > 0.1 or direction * cd < right_m)
                   for cs, cd in zip(s.tolist(), d.tolist()))
        two_way = road.lanes_fwd > 0 and road.lanes_bwd > 0
        wrong = two_way and self.road_left_m > 0.0 and CROSSWALK_M < self.road_s_m < road.length_m - CROSSWALK_M
        started = (over and not self.over_solid, wrong and not self.in_wrong_lane)
        self.over_solid, self.in_wrong_lane = over, wrong
        return started

    def _check_stop_lines(self, prev_s: float) -> tuple[bool, bool, bool]:
        """(ran a red light, ran a stop sign, entered a blocked junction) this step: the front bumper
        crossed a stop line (on red, no red run for a right that may turn on red and made its full
        stop there; with its exit blocked, ``_exit_blocked``)."""
        half = EGO_LENGTH_M / 2
        front, prev_front = self.ego_s + half, prev_s + half
        red = stop = blocked = False
        states = self.lights.head_states()
        for k, a in enumerate(self._approaches):
            if a.stop_route_s > front + STOP_WINDOW_M:
                break  # sorted along the route
            if a.stop_first and self.ego.speed_m_s < STOPPED_M_S and -0.5 <= a.stop_route_s - front <= STOP_WINDOW_M:
                self._stopped.add(k)
            if prev_front < a.stop_route_s <= front:
                on_red = a.control == "signal" and int(states[a.head]) == RED
                red |= on_red and not (a.turns_on_red and k in self._stopped)
                stop |= a.control == "stop" and k not in self._stopped
                blocked |= self._exit_blocked(a)
        return red, stop, blocked

    def _exit_blocked(self, a: Approach) -> bool:
        """Whether a vehicle slower than ``BLOCKING_M_S`` has its rear less than ``EXIT_ROOM_M`` beyond
        where the route leaves ``a``'s junction, in the route's lane (asked only on the step the ego
        enters, so a projection of every vehicle costs nothing worth counting)."""
        if self.traffic.n == 0:
            return False
        exit_s = a.exit_route_s  # where the route line leaves the junction's connector
        boxes = self.traffic.boxes()
        s, d = self.route.path.project(boxes[:, 0], boxes[:, 1], hint_s=exit_s, window_m=EXIT_ROOM_M + 20.0)
        rear = s - boxes[:, 3] / 2
        lane = np.abs(d) < self.route.path.lane_width_m / 2
        ahead = (s > exit_s) & (rear < exit_s + EXIT_ROOM_M)
        return bool(np.any(lane & ahead & (np.asarray(self.traffic.v) < BLOCKING_M_S)))

    # --- what the ego faces -------------------------------------------------------------------
    def _next_approach(self, control: str | None = None) -> Approach | None:
        """The first junction on the route the ego has not driven out of (of ``control`` if given)."""
        for a in self._approaches:
            if a.exit_route_s > self.ego_s and (control is None or a.control == control):
                return a
        return None

    def relevant_light(self) -> tuple[str, float, int]:
        """The next light on the route: state name, distance from the front bumper to its stop
        line [m] (negative once past it, while still in the junction), head index; the arrow head
        for a left at a protected-left junction. ("none", inf, -1) when no light is ahead."""
        a = self._next_approach("signal")
        if a is None:
            return "none", float("inf"), -1
        state = int(self.lights.head_states()[a.head])
        return ("green", "yellow", "red")[state], self._to_stop_line_m(a), a.head

    def _to_stop_line_m(self, a: Approach) -> float:
        """Front bumper to ``a``'s stop line along the route [m], negative once past it."""
        return float(a.stop_route_s - self.ego_s - EGO_LENGTH_M / 2)

    def _to_ego_frame(self, x_m: float, y_m: float) -> tuple[float, float]:
        """A world point in the ego frame (x forward, y left of the ego's reference point) [m]."""
        e = self.ego
        dx, dy = x_m - e.x_m, y_m - e.y_m
        c, s = math.cos(e.yaw_rad), math.sin(e.yaw_rad)
        return dx * c + dy * s, -dx * s + dy * c

    def _signal_on_map(self) -> tuple[tuple[float, float, float], float]:
        """The next signal on the route as a map gives it: its governing head's housing centre in the
        ego frame [m] and the front bumper's distance to its stop line [m]; ((nan,) * 3, inf) when none."""
        a = self._next_approach("signal")
        if a is None:
            return (math.nan,) * 3, math.inf
        head = self.lights.heads[a.head]
        x, y = self._to_ego_frame(head.x_m, head.y_m)
        return (x, y, HOUSING_BOTTOM_M + HOUSING_SIZE_M[2] / 2), self._to_stop_line_m(a)

    def top_down(self, px_per_m: float = 2.0, half_m: float = 60.0) -> np.ndarray:
        """(H, W, 3) uint8 map around the ego, north up: streets, the route, the ego's box."""
        if self._map is None:
            self._map = draw_map(self.graph, px_per_m, self.route.path.xy)
        x0, _, _, y1 = self.graph.bounds()
        def px(x, y):  # draw_map's pixel of a world point (its default 20 m margin)
            return (x - x0 + 20.0) * px_per_m, (y1 + 20.0 - y) * px_per_m
        cx, cy = px(self.ego.x_m, self.ego.y_m)
        half = int(half_m * px_per_m)
        pad = np.pad(self._map, ((half, half), (half, half), (0, 0)))
        r, c = int(round(cy)) + half, int(round(cx)) + half
        img = np.ascontiguousarray(pad[r - half:r + half, c - half:c + half])
        corners = box_corners(self.ego_box())
        pts = np.array([px(x, y) for x, y in corners]) - (cx - half, cy - half)
        cv2.fillPoly(img, [np.round(pts).astype(np.int32)], (250, 250, 60))
        return img

    def curvature_ahead(self, distances_m=(10.0, 20.0, 30.0)) -> tuple[float, ...]:
        """Route-line curvature at distances ahead of the ego [1/m], positive turning left: the
        labels' ``path.curvature_at(ego_s + distances)``, point by point in plain floats."""
        path = self.route.path
        return tuple(path.curvature_near(self.ego_s + d) for d in distances_m)

    def route_truth(self) -> RouteTruth:
        e = self.ego
        command = self.route.command(self.ego_s)
        spacing, count = WAYPOINTS
        wp = self.route.waypoints_ego(self.ego_s, e.x_m, e.y_m, e.yaw_rad, spacing, count)
        front = self.ego_s + EGO_LENGTH_M / 2
        stop = next((a for a in self._approaches if a.control == "stop" and a.stop_route_s > front - 0.5), None)
        nxt = self._next_approach()
        jx = jy = math.nan
        radius, must_yield, on_red = 0.0, False, False
        if nxt is not None:
            j = self.graph.junctions[nxt.junction]
            (jx, jy), radius = self._to_ego_frame(*j.centre_xy), j.radius_m
            must_yield = (nxt.movement == "left" and nxt.control == "signal"
                          and not self.lights.left_is_protected(nxt.junction, nxt.street, nxt.direction))
            on_red = nxt.turns_on_red
        return RouteTruth(command.command, float(command.distance_m), tuple(map(tuple, wp.tolist())),
                          float(stop.stop_route_s - front) if stop else math.inf, jx, jy, radius, must_yield,
                          *self._signal_on_map(), on_red)
