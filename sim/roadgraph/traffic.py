"""Traffic that drives the road graph forever: routes through junctions, signals, stop signs.

Every vehicle holds a lane id (``lanes.LaneTable``), its progress ``p`` along it [m] and a
lateral offset from the lane centre (non-zero only while changing lanes). On a street it has
chosen the connector it will take at the junction ahead (a random legal movement) and changes
lanes to reach that connector's approach lane. It follows, with IDM, the nearest vehicle along
its own chain of lanes (the ego included) and stops at the stop line until it is granted entry
to its connector. Grants keep the junction safe: a connector is entered only while no
conflicting connector holds or has been granted a vehicle; lights, stop signs and right of way
decide who may ask and in which order (``traffic_kernels.grant``). A grant is held until the
vehicle's rear has left the connector. Where the scenario allows right on red
(``JunctionSignals.right_on_red``), a right on its red ball is a stop sign: a full stop at the
line, then a yielding request, and none while a pedestrian is on a crosswalk the turn crosses.
"""

from __future__ import annotations

import math

import numpy as np

from common.vocab import CYCLIST_CLASS, CYCLIST_DIMS_M, EGO_LENGTH_M

from ..idm import IDMParams, idm_accel, idm_free_term
from ..lights import GREEN, RED, YELLOW

from ..traffic import KIND_DIMS_M, KIND_SHARE, FrenetPoses, LANE_CHANGE_PERIOD_S, MIN_SPAWN_GAP_M, VEHICLE_KINDS, _paint
from . import traffic_kernels as K
from .ego_yield import ego_contact_accel, ego_first_in_lane, ego_reach, give_way_to_ego
from .graph import CROSSWALK_M, LaneRef, RoadGraph
from .gridlock import STOOD_M_S, release_gridlocks
from .lanes import SIZE_JITTER, LaneTable
from .signals import JunctionSignals

STOP_S0_M = 1.0  # standstill gap to a stop line [m]
STOP_DONE_M_S = 0.2  # below this speed at the line a stop sign has been obeyed [m/s]
STOP_ZONE_M = 3.0  # "at the line": front bumper within this of it [m]
YELLOW_STOP_M_S2 = 4.0  # on yellow (or red) a driver who can stop with this deceleration stops [m/s^2]
GAP_ACCEPT_S = 4.5  # a yielding movement needs this time before a priority vehicle arrives [s]
LANE_CHANGE_M_S = 1.2  # lateral speed of a lane change [m/s]
CUT_IN_M_S = 2.0  # lateral speed of a cut-in [m/s]
MAX_CHANGE_YAW_RAD = np.deg2rad(12.0)  # a lane change heads at most this far off the lane [rad]
SWING_M = 0.3  # ... and no further than lets the body's corners swing this far sideways [m]
CUT_IN_SHARE = 0.15  # drivers who accept short gaps behind them (cut-ins) [-]
CUT_IN_BRAKE_M_S2 = 6.0  # a cut-in driver accepts making the new follower brake this hard [m/s^2]
CUT_IN_GAP_S = 1.0  # a lane change leaving less time gap than this to the new follower is a cut-in [s]
NO_CHANGE_BEFORE_LINE_M = 15.0  # no lane changes this close to the stop line [m]
GIVE_UP_CHANGE_M = 35.0  # this close, a driver who has not reached the lane for its turn takes another exit [m]
KEEP_CLEAR_MARGIN_M = 12.0  # no spawns this far beyond a keep-clear stretch either [m]
HELD_UP_M = 40.0  # a driver with a leader this close may look for a faster lane [m]
CREEP_LATERAL_M_S = 0.3  # sideways speed that finishes a lane change stopped half-way [m/s]
# an oncoming driver meeting the ego over the centre line stops this far short of its front, leaving the road its
# pass needs to get back into its lane (``control.overtake``: rear 4 m past the stretch, then a 10 m move) [m]
OVERTAKER_ROOM_M = 20.0
EGO_MOVING_M_S = 1.0  # the ego counts as on its way to a junction above this speed [m/s] ...
EGO_WAITING_REACH_M = 30.0  # ... or, slower, first in its lane with its front this close to its connector [m]
# a driver giving way judges the ego's arrival as if it sped up this hard from its speed now: judged at its speed
# of the moment, a car was let out across the ego standing for a walker (and one driving at 4 m/s) 10-20 m from
# its junction, which then drove on, from outside its camera's view at 45 degrees, into its side (validation
# routes 800016 and 800019, the models' errors) [m/s^2]
EGO_PULL_OFF_M_S2 = 2.0
EGO_ENTERING_M = 6.0  # ... and as entering it with its front this close to its connector [m]
CYCLIST_SHARE = 0.06  # share of the moving vehicles that are bicycles [-]
CYCLIST_SPEED_M_S = (4.0, 7.0)  # a cyclist's own top speed, drawn per rider [m/s]
CYCLIST_EDGE_M = 0.8  # a cyclist's centre this far in from its lane's right edge [m]
SQUEEZE_BEFORE_END_M = 60.0  # this close to the end of a lane that ends, a driver takes a short gap [m]
WALKER_CLEARANCE_M = 0.8  # a vehicle keeps this far from a pedestrian on the carriageway, sideways and ahead [m]
DISCRETIONARY_P = 0.3  # chance per check that a slowed driver looks for a faster lane [-]
ON_RED_WALKER_REACH_M = CROSSWALK_M / 2 + 1.5  # right on red: a walker this close to a crosswalk's centre
# line, across the half of the street the turn drives on, is on it or stepping onto it [m]



def _dims_of(kind: np.ndarray) -> np.ndarray:
    """(N, 3) length, width, height [m] of each vehicle class index (the four motor classes, cyclists)."""
    return np.where((kind == CYCLIST_CLASS)[:, None], np.array(CYCLIST_DIMS_M), KIND_DIMS_M[np.minimum(kind, 3)])


def ego_arrival_s(distance_m: float, speed_m_s: float) -> float:
    """When the ego's front reaches a point ``distance_m`` ahead, speeding up from ``speed_m_s`` at
    ``EGO_PULL_OFF_M_S2`` (uncapped: the earliest a driver giving way must allow for) [s]."""
    v, a = max(speed_m_s, 0.0), EGO_PULL_OFF_M_S2
    return (math.sqrt(v * v + 2.0 * a * max(distance_m, 0.0)) - v) / a


class GraphTraffic:
    """All non-ego vehicles of a graph town: arrays with one entry per vehicle (parked ones last).

    ``keep_clear``: (lane, s_lo, s_hi) stretches [m] where nothing spawns on any lane of that
    lane's road (the ego's start). ``parked``: (street, s [m], d [m], world yaw [rad]) cars that
    never move; where one reaches into a lane, drivers stop behind it. ``gridlock_release_s``: a moving vehicle
    that has stood this long is moved to a free lane far from the ego (``gridlock``); inf: never.
    ``yield_patience_s``: a yielding driver refused at its line this long takes its turn, still giving way to the ego
    (``ScenarioConfig.yield_patience_s``); inf: never (the suite's scripted junctions).
    """

    def __init__(self, graph: RoadGraph, signals: JunctionSignals, density_per_km: float, rng: np.random.Generator,
                 keep_clear: list[tuple[LaneRef, float, float]],
                 parked: list[tuple[int, float, float, float]] | None = None, gridlock_release_s: float = math.inf,
                 yield_patience_s: float = math.inf):
        self.graph, self.signals, self.rng = graph, signals, rng
        self.gridlock_release_s = float(gridlock_release_s)
        self.yield_patience_s = float(yield_patience_s)
        self.released = 0  # vehicles moved out of a gridlock so far (``gridlock.release_gridlocks``)
        self.table = LaneTable.build(graph)
        self.idm = IDMParams()
        self._lane_info(graph)
        parked = parked or []
        rows = self._spawn_rows(density_per_km, keep_clear, rng)
        n_moving, n = len(rows), len(rows) + len(parked)
        self.n = n
        self.parked = np.arange(n) >= n_moving
        kind = rng.choice(len(VEHICLE_KINDS), size=n_moving, p=KIND_SHARE["town"]).astype(np.int64)
        kind[rng.random(n_moving) < CYCLIST_SHARE] = CYCLIST_CLASS
        self.kind = np.concatenate([kind, np.zeros(len(parked), np.int64)])
        self.dims = _dims_of(self.kind) * rng.uniform(2 - SIZE_JITTER, SIZE_JITTER, (n, 1))
        self.colour = _paint(self.kind, rng)
        self.lane = np.array([r[0] for r in rows] + [-1] * len(parked), np.int64)
        self.p = np.array([r[1] for r in rows] + [0.0] * len(parked), np.float64)
        self._fix_spacing()
        n_moving, n = int((~self.parked).sum()), self.n
        self.lat = np.zeros(n)  # offset to the right of the lane centre while changing lanes [m]
        self.speed_factor = rng.uniform(0.85, 1.1, n) * np.where(self.kind == 1, 0.85, 1.0)
        self.cyclist = self.kind == CYCLIST_CLASS
        # a cyclist pedals at its own pace, whatever the limit [m/s]
        self.max_speed = np.where(self.cyclist, rng.uniform(*CYCLIST_SPEED_M_S, n), np.inf)
        lane_limit = self._lane_limit[np.maximum(self.lane, 0)]
        self.v = np.where(self.parked, 0.0, np.minimum(lane_limit * self.speed_factor, self.max_speed) * rng.uniform(0.2, 0.6, n))
        self.next_conn = np.full(n, -1, np.int64)  # connector index (``graph.connectors``) it will take
        for i in range(n_moving):
            self.next_conn[i] = self._choose_exit(int(self.lane[i]))
        self.held = np.full(n, -1, np.int64)  # connector it has been granted (until its rear leaves it)
        self.stopped_at_s = np.full(n, np.inf)  # time it stood at a stop sign's line [s]
        self.cut_in = rng.random(n) < CUT_IN_SHARE
        self.lc_phase = rng.uniform(0.0, LANE_CHANGE_PERIOD_S, n)
        self.heading_offset = np.zeros(n)
        self.stood_s = np.zeros(n)  # how long each has stood without a break [s] (counted with the release on)
        self.refused_since_s = np.full(n, np.inf)  # when its request at its line was first refused, while it stands [s]
        self.cut_ins = 0  # lane changes made with a short gap behind (counted for tests and reports)
        self.lane_changes = 0
        self.visits = {"left": 0, "straight": 0, "right": 0}  # connectors entered, by movement
        # parked cars: fixed Frenet poses on their street, listed in the lanes they reach into
        self._parked_rsd = np.array([(st, s, d) for st, s, d, _ in parked], np.float64).reshape(-1, 3)
        self._parked_yaw = np.array([yaw for *_, yaw in parked], np.float64)
        self._parked_occ = self._parked_occupancy()
        self._poses = FrenetPoses()
        self._rules_key = self._rules = None
        self._max_yaw_of = (None, None)  # (dims, (_max_yaw, its tan, _half_lengths) of them)
        self._sync()
        for i in np.flatnonzero(self.parked):
            base = self.graph.packed.pose(self.road[i:i + 1], self.s[i:i + 1], self.d[i:i + 1])[2][0]
            base += 0.0 if self.dir[i] > 0 else np.pi
            self.heading_offset[i] = float(np.angle(np.exp(1j * (self._parked_yaw[i - n_moving] - base))))

    _PER_VEHICLE = ("kind", "dims", "colour", "lane", "p", "parked", "lat", "speed_factor", "v", "next_conn", "held",
                    "stopped_at_s", "cut_in", "lc_phase", "heading_offset", "cyclist", "max_speed", "stood_s",
                    "refused_since_s")

    def add_vehicle(self, lane: LaneRef, s_m: float, speed_m_s: float, next_connector: int, kind: int = 0,
                    cut_in: bool = False) -> int:
        """Place one more moving vehicle (a scripted encounter): on a street ``lane`` at road s
        ``s_m`` [m], heading for connector ``next_connector`` (an index into ``graph.connectors``
        leaving that lane); ``cut_in``: a driver who accepts a short gap behind it. Returns its
        index; parked cars stay last."""
        t = self.table
        g = t.index[lane]
        if t.is_connector[g] or next_connector not in t.exit_conn[t.exit_start[g]:t.exit_start[g + 1]]:
            raise ValueError(f"connector {next_connector} does not leave street lane {lane}")
        i = int(np.count_nonzero(~self.parked))
        row = dict(kind=kind, dims=_dims_of(np.array([kind]))[0], colour=_paint(np.array([kind]), self.rng)[0], lane=g,
                   p=s_m if lane.direction > 0 else t.length_m[g] - s_m, parked=False, lat=0.0, speed_factor=1.0,
                   v=speed_m_s, next_conn=next_connector, held=-1, stopped_at_s=np.inf, cut_in=cut_in, lc_phase=0.0,
                   heading_offset=0.0, cyclist=kind == CYCLIST_CLASS,
                   max_speed=CYCLIST_SPEED_M_S[1] if kind == CYCLIST_CLASS else np.inf, stood_s=0.0,
                   refused_since_s=np.inf)
        for name in self._PER_VEHICLE:
            setattr(self, name, np.insert(getattr(self, name), i, row[name], axis=0))
        self.n += 1
        self._parked_occ = (self._parked_occ[0], self._parked_occ[1], self._parked_occ[2] + 1)
        self._sync()
        return i

    # --- set-up ------------------------------------------------------------------------------
    def _lane_info(self, graph: RoadGraph) -> None:
        t = self.table
        self._lane_road = np.array([r.road for r in t.refs], np.int64)
        self._lane_dir = np.array([r.direction for r in t.refs], np.int64)
        self._lane_d = np.array([float(graph.roads[r.road].lane_centre_d(r.lane, r.direction)) for r in t.refs])
        self._lane_width = np.array([graph.roads[r.road].lane_width_m for r in t.refs])
        self._lane_limit = np.array([graph.roads[r.road].speed_limit_m_s for r in t.refs])
        self._lane_limit[t.is_connector] = t.conn_limit_m_s
        # street lanes with an oncoming direction beyond their centre line (not one-way streets)
        self._has_oncoming = np.array([not c and graph.roads[r.road].lanes_toward(-r.direction) > 0
                                       for r, c in zip(t.refs, t.is_connector)], bool)
        conns = graph.connectors
        self._conn_junction = np.array([c.junction for c in conns], np.int64)
        self._conn_left = np.array([c.movement == "left" for c in conns], bool)
        self._conn_movement = [c.movement for c in conns]
        control = [graph.junctions[c.junction].control for c in conns]
        self._conn_signal = np.array([k == "signal" for k in control], bool)
        self._conn_stop_sign = np.array([self.signals.has_stop_sign(c.src.road, c.src.direction) for c in conns], bool)
        # priority without a light: the major street of a two-way stop, and every lane through a highway merge
        self._conn_minor_free = np.array([(k == "two_way_stop" and not s) or k == "merge"
                                          for k, s in zip(control, self._conn_stop_sign)],
                                         bool)  # from a priority arm of a two-way stop
        # signal group of each connector's approach (``JunctionSignals`` keeps it per approach)
        group_of = self.signals._group_of
        self._conn_group = np.array([group_of.get((c.src.road, c.src.direction), 0) for c in conns], np.int64)
        self._conn_protected_junction = np.array([graph.junctions[c.junction].protected_left for c in conns], bool)
        # right on red where the scenario allows it, and the crosswalk stretches each such turn crosses
        self._conn_on_red = np.array([self.signals.turns_on_red(c.junction, c.movement) for c in conns], bool)
        self._on_red_crosswalks = {k: _crosswalk_points(graph, conns[k]) for k in np.flatnonzero(self._conn_on_red)}

    def _stop_first(self, state: np.ndarray) -> np.ndarray:
        """Per connector: entered only after a full stop at the line, then when clear (a stop sign,
        or a right on its red ball where right on red is allowed)."""
        return self._conn_stop_sign | (self._conn_on_red & (state == RED))

    def _spawn_rows(self, density_per_km: float, keep_clear, rng) -> list[tuple[int, float]]:
        t = self.table
        clear: dict[int, list[tuple[float, float]]] = {}
        for ref, lo, hi in keep_clear:
            clear.setdefault(ref.road, []).append((min(lo, hi), max(lo, hi)))
        rows = []
        for g, ref in enumerate(t.refs):
            if t.is_connector[g]:
                continue
            hi = t.stop_p[g] - 10.0
            count = rng.poisson(density_per_km * max(hi, 0.0) / 1000.0)
            last = -1e9
            for p in np.sort(rng.uniform(6.0, max(hi, 6.0), count)):
                s = p if ref.direction > 0 else t.length_m[g] - p
                margin = KEEP_CLEAR_MARGIN_M
                kept_clear = any(lo - margin <= s <= up + margin for lo, up in clear.get(ref.road, ()))
                if p - last < MIN_SPAWN_GAP_M or kept_clear:
                    continue
                last = p
                rows.append((g, float(p)))
        return rows

    def _fix_spacing(self) -> None:
        """Long vehicles need more than MIN_SPAWN_GAP_M: drop the rear one of any pair that would touch."""
        keep = np.ones(self.n, bool)
        half = self.dims[:, 0] / 2
        moving = np.flatnonzero(~self.parked)
        order = moving[np.lexsort((self.p[moving], self.lane[moving]))]
        for a, b in zip(order[:-1], order[1:]):
            if self.lane[a] == self.lane[b] and keep[a] and self.p[b] - self.p[a] < half[a] + half[b] + 3.0:
                keep[a] = False
        if not keep.all():
            for name in self._PER_VEHICLE[:6]:
                setattr(self, name, getattr(self, name)[keep])
            self.n = int(keep.sum())

    def _parked_occupancy(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(lane, progress, vehicle) of every parked car in each street lane it reaches into."""
        lanes, ps, veh = [], [], []
        first = int(np.flatnonzero(self.parked)[0]) if self.parked.any() else self.n
        for k, (street, s, d) in enumerate(self._parked_rsd):
            i = first + k
            for g in np.flatnonzero(self._lane_road == int(street)):
                if abs(self._lane_d[g] - d) < self._lane_width[g] / 2 + self.dims[i, 1] / 2:
                    lanes.append(g)
                    ps.append(s if self._lane_dir[g] > 0 else self.table.length_m[g] - s)
                    veh.append(i)
        return np.array(lanes, np.int64), np.array(ps, np.float64), np.array(veh, np.int64)

    def _choose_exit(self, lane: int, own_lane: bool = False) -> int:
        """A random legal movement at the junction ahead of a street lane: one its own lane allows
        (always with ``own_lane``, else half the time), otherwise one any lane of its street
        direction allows."""
        t = self.table
        own = t.exit_conn[t.exit_start[lane]:t.exit_start[lane + 1]]
        if own.size and (own_lane or self.rng.random() < 0.5):
            return int(own[self.rng.integers(own.size)])
        g0 = t.group_first[lane]
        every = t.exit_conn[t.exit_start[g0]:t.exit_start[g0 + t.group_lanes[lane]]]
        return int(every[self.rng.integers(every.size)]) if every.size else -1

    # --- geometry ----------------------------------------------------------------------------
    def _sync(self) -> None:
        """Road, s, d, direction of every vehicle from its lane state (parked ones are fixed)."""
        # cyclists ride near the right edge of their lane (they still hold the lane: cars queue or change lanes)
        self.road, self.dir, self.s, self.d = K.frenet_state(
            self.lane, self.p, self.lat, self.parked, self.cyclist, self._lane_road, self._lane_dir, self._lane_d,
            self._lane_width, self.table.length_m, self._parked_rsd, CYCLIST_EDGE_M)

    def poses(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World x, y [m] and yaw [rad] of every vehicle (read-only, computed once per state)."""
        return self._poses.get(self, self.graph.packed)[:3]

    def boxes(self) -> np.ndarray:
        """(N, 5) oriented footprints [x, y, yaw, length, width] (read-only)."""
        return self._poses.get(self, self.graph.packed)[3]

    # --- right of way ------------------------------------------------------------------------
    def connector_states(self) -> tuple[np.ndarray, np.ndarray]:
        """Per connector: its signal state (GREEN where no light) and whether it has priority
        (need not yield): protected or through/right on green, or a priority arm's through/right.
        Read-only, recomputed only when the signal groups' states change."""
        return self._connector_rules()[:2]

    def _connector_rules(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``connector_states`` and ``_stop_first`` of them, cached on the signals' group states
        (they change a few times per light cycle)."""
        ball, arrow = self.signals.group_states()
        key = ball.tobytes() + arrow.tobytes()
        if self._rules_key != key:
            state, priority = self._connector_states(ball, arrow)
            rules = (state, priority, self._stop_first(state))
            for a in rules:
                a.flags.writeable = False
            self._rules, self._rules_key = rules, key
        return self._rules

    def _connector_states(self, ball: np.ndarray, arrow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        j, g = self._conn_junction, self._conn_group
        state = np.where(self._conn_left, arrow[j, g], ball[j, g])
        state = np.where(self._conn_signal, state, GREEN)
        protected = self._conn_left & self._conn_protected_junction & (arrow[j, g] == GREEN) & (ball[j, g] == RED)
        priority = np.where(self._conn_signal, (state == GREEN) & (~self._conn_left | protected),
                            self._conn_minor_free & ~self._conn_left)
        return state, priority

    # --- dynamics ----------------------------------------------------------------------------
    def step(self, dt_s: float, ego_xy_yaw_speed: tuple[float, float, float, float], ego_lane: LaneRef | None,
             ego_lane_s: float, time_s: float, walkers_xy: np.ndarray | None = None,
             ego_next: tuple[int, float] = (-1, math.inf)) -> None:
        """Advance every moving vehicle by ``dt_s``; the ego is an obstacle (on ``ego_lane`` at road
        s ``ego_lane_s`` where given, and by its box close ahead where it is off the lanes), and so is
        every pedestrian on the carriageway (``walkers_xy`` (P, 2) [m]: crossing or jaywalking), by
        its footprint close ahead. ``ego_next``: the connector the ego's route takes next (an index
        into ``graph.connectors``) and how far its front is from it [m]: drivers yield to the ego
        there as to any vehicle with priority, and grant nothing across it once it is entering."""
        t = self.table
        moving = ~self.parked
        idx = np.flatnonzero(moving)
        if idx.size == 0:
            return
        n = self.n
        half = self._half_lengths
        v_all = np.empty(n + 1)  # np.append without its overhead
        v_all[:n], v_all[n] = self.v, ego_xy_yaw_speed[3]
        ego_g = t.index.get(ego_lane, -1) if ego_lane is not None else -1
        # the lanes and offsets it reads stay as they are until the move
        second = K.second_lane(self.lane, self.lat, self.dims[:, 1], self.parked, self._lane_width,
                               t.group_first, t.group_lanes, SWING_M)
        ego_second, ego_over_centre = ego_reach(self, ego_g, ego_lane_s, ego_xy_yaw_speed[:3], SWING_M)
        occ = self._occupancy(idx, ego_g, ego_lane_s, second, ego_second)
        state, priority, stop_first = self._connector_rules()
        # front bumper to stop line [m]; grants: release the ones whose light turned while stopping is still
        # comfortable (not a right on red granted after its stop), then hand out new ones
        on_street, dist_line, v_des = K.street_state(
            self.lane, self.p, self.v, half, self.parked, self.next_conn, self.held, self.stopped_at_s,
            self.speed_factor, self.max_speed, state, stop_first, t.length_m, t.stop_p, t.is_connector,
            self._lane_limit, t.conn_limit_m_s, time_s, self.idm.b_m_s2, GREEN, YELLOW_STOP_M_S2, STOP_ZONE_M,
            STOP_DONE_M_S)
        walkers = None if walkers_xy is None else np.asarray(walkers_xy, np.float64).reshape(-1, 2)
        self._grant(occ, on_street, dist_line, state, priority, stop_first, half, ego_g, time_s, ego_next,
                    ego_xy_yaw_speed[3], walkers)

        # accelerations: car following along each chain, the stop line where not granted
        may_enter = K.may_enter(self.v, self.held, self.next_conn, dist_line, self._conn_signal, state,
                                self.idm.b_m_s2, GREEN)
        free = idm_free_term(self.v, v_des, self.idm)
        p_i = self.idm
        acc_m, _, gap_m = K.follow(idx, self.lane, second, self.p, half, v_all, free, self.next_conn,
                                  may_enter, *occ, t.length_m, t.stop_p, t.is_connector, t.exit_start, t.exit_conn,
                                  t.conn_lane, t.conn_dst, p_i.T_s, p_i.s0_m, STOP_S0_M, p_i.a_m_s2,
                                  2.0 * math.sqrt(p_i.a_m_s2 * p_i.b_m_s2), p_i.max_brake_m_s2)
        acc = np.zeros(n)
        acc[idx] = acc_m
        if ego_g < 0 or t.is_connector[ego_g]:
            acc = np.minimum(acc, self._ego_box_accel(ego_xy_yaw_speed))
        elif ego_over_centre:
            acc = np.minimum(acc, self._ego_box_accel(ego_xy_yaw_speed, OVERTAKER_ROOM_M))
        if walkers is not None and len(walkers):
            acc = np.minimum(acc, self._walkers_accel(walkers))
        lead_gap = np.full(n, np.inf)
        lead_gap[idx] = gap_m
        self._lane_changes(idx, occ, half, v_all, dist_line, lead_gap, time_s, dt_s)

        # move
        kappa = self.graph.packed.curvature_at(self.road, self.s)
        # sideways no faster than a steered car can: heading off the lane so little that the body's
        # ends swing at most SWING_M out of its lane (a bus changes lanes slowly)
        # sideways no faster than the heading allows; a car caught straddling at a standstill (stopped by
        # its leader or the line mid-change) still edges over, as a driver creeps with the wheel turned
        self.v, lat_step = K.advance(self.v, acc, moving, self.p, self.lat, kappa, self.d, self.cut_in,
                                     self._max_yaw_tan, dt_s, CUT_IN_M_S, LANE_CHANGE_M_S, CREEP_LATERAL_M_S)
        # the body turns no further than the lane change's yaw cap (a creeping bus must not swing into a lane)
        yaw = np.arctan2(lat_step[moving] / dt_s, np.maximum(self.v[moving], 1.0))
        cap = self._max_yaw[moving]
        self.heading_offset[moving] = -np.minimum(np.maximum(yaw, -cap), cap)  # np.clip, less overhead
        self._cross_lane_ends(half)
        self._sync()
        if self.gridlock_release_s < math.inf:
            release_gridlocks(self, dt_s, ego_xy_yaw_speed[:2])

    def _occupancy(self, idx: np.ndarray, ego_g: int, ego_lane_s: float, second: np.ndarray, ego_second: int):
        """CSR occupancy of every lane: moving vehicles (twice while straddling, ``second``: the other
        lane, ``traffic_kernels.second_lane``), parked cars, the ego (twice while its body reaches into
        the neighbour lane ``ego_second``, -1 for none: ``ego_yield.ego_reach``)."""
        t = self.table
        ego_p = (ego_lane_s if self._lane_dir[ego_g] > 0 else t.length_m[ego_g] - ego_lane_s) if ego_g >= 0 else 0.0
        second_p = 0.0
        if ego_second >= 0:
            second_p = ego_lane_s if self._lane_dir[ego_second] > 0 else t.length_m[ego_second] - ego_lane_s
        return K.occupancy(idx, self.lane, self.p, second, *self._parked_occ, ego_g, float(ego_p), ego_second,
                           float(second_p), self.n, len(t.refs))

    @property
    def _max_yaw(self) -> np.ndarray:
        """Largest heading off the lane during a lane change, per vehicle [rad] (read-only, kept
        while the sizes are: new vehicles replace ``dims``)."""
        return self._yaw_caps()[0]

    @property
    def _max_yaw_tan(self) -> np.ndarray:
        """tan of ``_max_yaw`` (read-only)."""
        return self._yaw_caps()[1]

    @property
    def _half_lengths(self) -> np.ndarray:
        """(N + 1,) half lengths of the vehicles, then the ego's [m] (kept per ``dims``: never write into it)."""
        return self._yaw_caps()[2]

    def _yaw_caps(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(``_max_yaw``, its tan, ``_half_lengths``), recomputed whenever ``dims`` is a new array
        (``add_vehicle`` and the spawn spacing replace it; nothing edits it in place)."""
        dims, caps = self._max_yaw_of
        if dims is not self.dims:
            max_yaw = np.minimum(MAX_CHANGE_YAW_RAD, np.arcsin(np.minimum(SWING_M / (self.dims[:, 0] / 2), 1.0)))
            caps = (max_yaw, np.tan(max_yaw), np.append(self.dims[:, 0] / 2, EGO_LENGTH_M / 2))
            for a in caps[:2]:  # the half lengths stay writeable (a read-only array is another signature
                a.flags.writeable = False  # for every kernel that takes them; they only read it)
            self._max_yaw_of = (self.dims, caps)
        return caps

    def _grant(self, occ, on_street, dist_line, state, priority, stop_first, half, ego_g, time_s,
               ego_next=(-1, math.inf), ego_v: float = 0.0, walkers_xy: np.ndarray | None = None) -> None:
        t = self.table
        start, occ_p, occ_veh = occ
        nc = self.next_conn
        # requests (first in the lane, ready at the line), the time each arrives, per connector the soonest
        # arrival of a vehicle on its way to it (priority ones count for gap acceptance) and its holders
        cand, arrival, approach, taken = K.requests(
            self.lane, self.lat, self.v, self.held, nc, self.stopped_at_s, on_street, dist_line, stop_first, state,
            start, occ_veh, t.conn_src, len(t.conn_lane), time_s, self.idm.b_m_s2, GREEN, YELLOW, YELLOW_STOP_M_S2)
        if walkers_xy is not None and len(walkers_xy) and cand.size:  # a right on red waits for its crosswalks to clear
            keep = np.ones(cand.size, bool)
            for k in np.flatnonzero(stop_first[nc[cand]] & self._conn_on_red[nc[cand]]):
                zone = self._on_red_crosswalks[int(nc[cand[k]])]
                near = np.hypot(walkers_xy[:, None, 0] - zone[None, :, 0], walkers_xy[:, None, 1] - zone[None, :, 1])
                keep[k] = not (near < ON_RED_WALKER_REACH_M).any()
            cand, arrival = cand[keep], arrival[keep]
        in_box = -1  # the connector the ego is on or entering now
        if ego_g >= 0 and t.is_connector[ego_g]:
            in_box = ego_g - t.conn_lane[0]
            taken[in_box] += 1
        ego_conn, ego_to_conn_m = ego_next
        conflict_priority, conflict_approach = priority, approach  # what a yielding request gives way to
        ego_approach = np.full(len(approach), np.inf)  # what a driver out of patience still gives way to
        # a slow ego counts only first in its lane: behind a queue it is not the next to arrive (the queue's leader
        # is), and cross traffic must not wait for a car that cannot come
        if ego_conn >= 0 and (ego_v > EGO_MOVING_M_S or (ego_to_conn_m < EGO_WAITING_REACH_M
                                                         and ego_first_in_lane(occ, ego_g, self.n, self.parked))):
            eta_s = ego_arrival_s(ego_to_conn_m, ego_v)
            if priority[ego_conn]:  # the ego on its way with priority: yielding movements wait for it
                approach[ego_conn] = min(approach[ego_conn], eta_s)
                ego_approach[ego_conn] = eta_s
            elif self._conn_minor_free[ego_conn]:
                # a left from a two-way stop's free arm yields to the oncoming, but the stop arms yield to it as to
                # any car on the major road: a driver who had stopped at its sign pulled out across the ego turning
                # left there, 5 s away, and hit its side (validation route 800006). The ego's only: the town's own
                # major-road lefts keep their first-come order with the stop arms
                conflict_priority, conflict_approach = priority.copy(), approach.copy()
                conflict_priority[ego_conn], conflict_approach[ego_conn] = True, eta_s
                ego_approach[ego_conn] = eta_s
            if ego_to_conn_m < EGO_ENTERING_M:  # entering now, whatever its right: nothing granted across it
                taken[ego_conn] += 1
                in_box = ego_conn if in_box < 0 else in_box
        if in_box >= 0:
            give_way_to_ego(self, int(in_box), on_street, dist_line, taken, YELLOW_STOP_M_S2)
        # when each driver was first refused, kept while it stands (a red light between two refusals is part of its
        # wait), dropped once granted or moving
        self.refused_since_s = np.where(self.v < STOOD_M_S, self.refused_since_s, np.inf)
        if cand.size == 0:
            return
        # 0: priority, 1: gives way to every vehicle with priority, 2: out of patience, gives way to the ego only
        gives_way = (~priority[nc[cand]]).astype(np.int8)
        gives_way[(gives_way == 1) & (time_s - self.refused_since_s[cand] > self.yield_patience_s)] = 2
        order = np.lexsort((arrival, gives_way == 1))  # one out of patience takes its turn first come, first served
        cand, gives_way = cand[order], gives_way[order]
        # room on each exit lane behind its last vehicle, less what has been granted into it
        room = K.exit_room(self.lane, self.held, half, start, occ_p, occ_veh, t.conn_dst)
        need = 2 * half[cand] + 2.0
        ok = K.grant(cand, nc[cand], gives_way, taken, conflict_priority, conflict_approach, GAP_ACCEPT_S,
                     t.conflict_start, t.conflict_conn, room, need, t.conn_dst, ego_approach)
        self.held[cand[ok]] = nc[cand[ok]]
        waiting = self.refused_since_s
        waiting[cand[ok]] = np.inf
        waiting[cand[~ok]] = np.minimum(waiting[cand[~ok]], time_s)

    def _ego_box_accel(self, ego, room_ahead_m: float = 0.0) -> np.ndarray:
        """Braking for the ego's box on each vehicle's own path (its lane, connector, exit lane) where
        the lane table cannot place the ego: off its lanes, in a junction, or reaching over the centre line
        into an oncoming lane (``ego_yield``)."""
        def idm(i, gap_m, v_lead_m_s):
            v_des = np.minimum(self._lane_limit[np.maximum(self.lane[i], 0)] * self.speed_factor[i], self.max_speed[i])
            return idm_accel(self.v[i], v_des, gap_m, v_lead_m_s, self.idm)

        return ego_contact_accel(self, ego, idm, room_ahead_m)

    def _walkers_accel(self, walkers_xy: np.ndarray) -> np.ndarray:
        """Braking for pedestrians on the carriageway close ahead: each a standing obstacle (they
        cross, so their speed along the lane is about 0) with a margin either side of the body [m]."""
        x, y, yaw = self.poses()
        gap = K.walker_gaps(x, y, np.cos(yaw), np.sin(yaw), np.ascontiguousarray(self.dims[:, 0]),
                            np.ascontiguousarray(self.dims[:, 1]), self.parked, np.ascontiguousarray(walkers_xy[:, 0]),
                            np.ascontiguousarray(walkers_xy[:, 1]), WALKER_CLEARANCE_M, 30.0)
        # IDM only for the vehicles with a walker ahead (element-wise, so the same numbers as over all)
        near = np.flatnonzero(np.isfinite(gap))
        out = np.full(self.n, np.inf)
        if near.size:
            v_des = np.minimum(self._lane_limit[np.maximum(self.lane[near], 0)] * self.speed_factor[near],
                               self.max_speed[near])
            out[near] = idm_accel(self.v[near], v_des, np.maximum(gap[near], 0.1), 0.0, self.idm)
        return out

    def _lane_changes(self, idx, occ, half, v_all, dist_line, lead_gap, time_s, dt_s) -> None:
        """Changes toward the lane of the coming movement, and now and then to a faster lane; cut-in
        drivers accept a short gap behind them."""
        t = self.table
        lane = self.lane
        due = K.lane_change_due(idx, lane, self.lat, self.held, self.p, self.lc_phase, t.is_connector, t.group_lanes,
                                time_s, LANE_CHANGE_PERIOD_S, dt_s)
        if not due.any():
            return
        # a lane that ends (a highway lane drop, an acceleration lane): leaving it is never too late,
        # and near its end a driver squeezes in as a cut-in driver would (the zipper)
        need, mandatory, squeeze, give_up, slow = K.lane_change_needs(
            due, lane, self.next_conn, self.v, dist_line, lead_gap, self.cut_in, self.cyclist, self.speed_factor,
            self._lane_limit, t.conn_src, t.exit_start, NO_CHANGE_BEFORE_LINE_M, SQUEEZE_BEFORE_END_M,
            GIVE_UP_CHANGE_M, HELD_UP_M)
        # give up: too close to turn from here, take a movement this lane allows
        for i in np.flatnonzero(give_up):
            own = t.exit_conn[t.exit_start[lane[i]]:t.exit_start[lane[i] + 1]]
            if own.size:
                self.next_conn[i] = int(own[self.rng.integers(own.size)])
                mandatory[i] = False
        keen = self.rng.random(self.n)  # held up: a cut-in driver, or now and then any other, looks for a faster lane
        side = self.rng.random(self.n)  # ... on a side drawn at random
        cand, step = K.lane_change_steps(mandatory, need, slow, self.cut_in, keen, side, DISCRETIONARY_P, lane,
                                         t.group_first, t.group_lanes)
        if cand.size == 0:
            return
        target = (lane[cand] + step[cand]).astype(np.int64)
        front, front_j, back, back_j = K.neighbour_gaps(cand, target, self.p, half, *occ)
        v_i = self.v[cand]
        # the new follower's IDM braking with the changer ahead of it
        f_v = np.where(back_j >= 0, v_all[np.maximum(back_j, 0)], 0.0)
        f_acc = idm_accel(f_v, np.maximum(f_v, 5.0), back, v_i, self.idm)
        pushy = self.cut_in[cand] | squeeze[cand]
        limit = np.where(pushy, -CUT_IN_BRAKE_M_S2, -2.0)
        min_back = np.where(pushy, 1.5, 3.0 + 0.3 * f_v)
        lead_v = np.where(front_j >= 0, v_all[np.maximum(front_j, 0)], 99.0)
        faster = mandatory[cand] | (lead_v > v_i + 1.0) | ~np.isfinite(front)
        ok = (front > np.maximum(3.0, 0.5 * v_i)) & (back > min_back) & (f_acc >= limit) & faster
        go = cand[ok]
        if go.size == 0:
            return
        new = target[ok]
        self.lane_changes += go.size
        # a cut-in: less than CUT_IN_GAP_S of the new follower's speed left behind the changer
        self.cut_ins += int(np.sum((back_j[ok] >= 0) & (f_v[ok] > 1.0) & (back[ok] < CUT_IN_GAP_S * f_v[ok])))
        self.lat[go] = -(new - lane[go]) * self._lane_width[new]
        self.lane[go] = new
        for i in go[~mandatory[go]]:  # a driver who changed for speed picks a movement of its new lane
            self.next_conn[i] = self._choose_exit(int(self.lane[i]), own_lane=True)

    def _cross_lane_ends(self, half) -> None:
        """Vehicles past their lane's end go on to their connector, or from a connector to its exit lane."""
        t = self.table
        for i in K.past_lane_end(self.parked, self.lane, self.p, t.length_m):
            g = int(self.lane[i])
            if t.is_connector[g]:
                c = g - int(t.conn_lane[0])
                self.p[i] -= t.length_m[g]
                self.lane[i] = t.conn_dst[c]
                self.lat[i] = 0.0
                self.next_conn[i] = self._choose_exit(int(self.lane[i]))
            elif self.held[i] >= 0 and t.conn_src[self.held[i]] == g:
                c = int(self.held[i])
                self.p[i] -= t.length_m[g]
                self.lane[i] = t.conn_lane[c]
                self.lat[i] = 0.0
                self.stopped_at_s[i] = np.inf
                self.visits[self._conn_movement[c]] += 1
            else:  # not granted (should not happen): wait at the lane's end
                self.p[i] = t.length_m[g] - 1e-3
                self.v[i] = 0.0
        # a grant ends once the rear has left the connector
        K.release_left_grants(self.held, self.lane, self.p, half, t.conn_dst)


def _crosswalk_points(graph: RoadGraph, c) -> np.ndarray:
    """(K, 2) points every metre along the centre lines of the crosswalks a turn crosses, over the
    half of each street it drives on (its approach lanes, then its exit lanes) [m]."""
    pts = []
    for lane, at_end in ((c.src, True), (c.dst, False)):
        road = graph.roads[lane.road]
        end_s = graph.lane_end_s(lane) if at_end else graph.lane_start_s(lane)
        inward = -lane.direction if at_end else lane.direction  # from the street end into the street
        s = end_s + inward * CROSSWALK_M / 2
        lanes = road.lanes_toward(lane.direction)
        near, far = (float(road.lane_centre_d(k, lane.direction)) for k in (0, lanes - 1))
        w = road.lane_width_m / 2
        lo, hi = min(near, far) - w, max(near, far) + w
        d = np.linspace(lo, hi, max(2, int(np.ceil(hi - lo)) + 1))
        x, y, _ = road.pose(np.full_like(d, s), d)
        pts.append(np.stack([x, y], 1))
    return np.concatenate(pts)
