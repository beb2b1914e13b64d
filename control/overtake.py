"""Passing a stationary obstacle in the ego's lane (a broken-down car, a lane closed with cones): the
overtake manoeuvre of the rule-based driver (``control.policies.RuleBasedPolicy``).

What it reads is what perception reports, from the labels and from the models alike: the ego lane
(``LaneEstimate``: offset, heading, width) and the road users (position of the nearest ground point,
velocity, class). Each step it

1. keeps a small **road-frame memory** of the road users (``RoadMemory``): position along the home
   lane (an odometer from the ego's speed) and across it, velocity, since when each has stood still
   and whether it was ever seen moving. The camera looks forward only, so a road user passed stays
   in the memory, dead-reckoned at its last velocity, for the gap check behind the car;
2. finds a **blocked stretch**: the nearest road user ahead that stands in the home lane (its
   footprint reaches into it), slower than ``stationary_m_s`` for ``stationary_for_s`` and never seen
   moving (a car that stopped in front of us is queued traffic, not an obstacle), with any further
   standing ones in the lane within ``chain_gap_m`` of it (a row of cones); not when a red or yellow
   light's line or (with a route) a junction lies just past it: then it is a queue;
3. checks the **target lane** (the lane to the left: right-hand traffic passes on the left) over the
   whole manoeuvre: nobody standing in it along the manoeuvre, nobody beside the car, a same-direction
   road user ahead (behind) far enough from it for our (its) closing speed, and for oncoming traffic
   (and anything beyond the frame's sure range, whose speed cannot be told: as coming at the speed limit)
   the time to clear: the ego,
   accelerating to the passing speed, is back in its lane before a seen oncoming car reaches the end
   of the manoeuvre, with ``oncoming_margin_s`` to spare (and, where ``sight_m`` is set, its rear is past
   the stretch before an unseen one just beyond that range, at the speed limit, reaches that point);
4. drives a **lateral profile** (a half cosine over distance) out to the target lane's centre, along
   the stretch, and back once the ego's rear is ``return_gap_m`` past its end and the home lane ahead is
   free; out of the target lane it aborts back to the home lane if the check fails before the car is
   committed (its centre over the line between the lanes).

While it waits for the target lane to clear, the car holds ``hold_back_m`` behind the stretch (room to
pull out, and a view past the obstacle); with traffic its way in the target lane (a lane that ends, a
stream to merge into) it matches that traffic's speed, steering its speed to the middle of the nearest gap,
and keeps doing so while it moves over and drives in the stream beside the stretch (``keeps_gap``: the speed
control does not follow the stream's cars by its own headway, which wants more than a zipper merge leaves);
waiting to merge, the stretch's start (the zip point) is a hold only once a stop needs the road left, so
the car rolls on with the stream until then. Where no obstacle stands the manoeuvre is idle and changes
nothing the driver does.

The driver cannot tell from perception whether the line it crosses is broken or solid, nor whether
the lane to its left runs its way or the other: it treats that lane as possibly both (same-direction
and oncoming checks together) and leaves the judgement of the crossing to the simulator's events.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from common.vocab import (CAMERA_MOUNT, CLEARANCE_SIZE_M, EGO_LENGTH_M, EGO_WIDTH_M, OBSTACLE_CLASSES, PEDESTRIAN_CLASS,
                          STATIC_OBSTACLE_CLASSES, VEHICLE_CLASSES, in_classes)

from .features import DISTANCE_SCALE_M, LATERAL_SCALE_M, REL_SPEED_SCALE_M_S, Decoded, in_path, known_velocity, object_column

IDLE, OUT, PASS, BACK = "idle", "out", "pass", "back"  # the manoeuvre's phases (BACK also ends an abort)
ZIP_JAM_M = 3.0  # the speed control's IDM jam gap (``RuleBasedConfig.idm_jam_m``), which it adds to a hold [m]


@dataclass(frozen=True)
class OvertakeConfig:
    dt_s: float = 0.05  # control period [s] (sim.config.EnvConfig.control_hz 20)
    stationary_m_s: float = 0.5  # slower than this is standing [m/s] ...
    # ... plus this share of the ego's speed: from the models a road user's speed is the ego's plus a relative speed
    # read from its range, and a range that is a few per cent off reads a parked car ahead as creeping towards us
    # (0.6 m/s on average at 25 km/h, in spikes of 1.6: ParkedObstacle from the models); with labels it reads 0
    stationary_share: float = 0.12
    stationary_for_s: float = 2.0  # ... for this long before it counts as an obstacle [s]
    # standing is judged on the along-lane speed averaged over this time constant [s]: from the models a parked
    # car's speed reads -1.6..+0.4 m/s frame to frame at 25 km/h, and each spike restarted its clock until the car
    # had stopped 3 m behind it, too close to pull out
    still_tau_s: float = 0.5
    lane_reach_m: float = 30.0  # road users count as in the home lane within this ahead ... [m]
    lane_reach_s: float = 4.5  # ... or this long at the ego's speed, whichever is more [s]
    in_lane_for_s: float = 1.0  # ... after this long there [s]
    path_match_m: float = 3.0  # an in-path road user of the speed control lies within the stretch to this margin [m]
    moving_m_s: float = 2.0  # a road user once seen this fast ... [m/s]
    # ... for this long is traffic (a queue), not a parked obstacle [s]. Not at once: a track's first readings from
    # the models carry no relative speed yet (absolute = the ego's) or a range jump, and one such frame had marked
    # the parked car of ParkedObstacle as traffic for good: the overtake never started
    moving_for_s: float = 1.0
    # passing, what stands this far outside the home lane's edge still extends the stretch (``_extended_end``) [m]
    edge_tolerance_m: float = 0.3
    chain_gap_m: float = 10.0  # standing road users in the lane this close after each other block one stretch [m]
    queue_margin_m: float = 25.0  # a light's line or a junction this close past the stretch: a queue [m]
    lane_in_m: float = 0.2  # a road user whose nearest point is this far inside the home lane blocks it [m]
    side_clearance_m: float = 0.5  # passing: the ego's side at least this far from what it passes [m]
    # a cone's lateral place is known to this share of its range (``_target_clear``) [m/m]: the shipped models'
    # measured noise put the far cones of a 60 m closure up to 0.9 m off at 60-80 m
    cone_stray_per_m: float = 0.012
    cone_gate_share: float = 0.1  # a cone's reading matches its track along the lane within this share of its range
    hold_back_m: float = 10.0  # waiting to pass: the front bumper stops this far behind the stretch [m]
    hold_from_m: float = 15.0  # ... a hold that starts this far before that point (farther, the speed control's own braking) [m]
    change_s: float = 3.0  # a lateral move takes this long at the speed it starts with ... [s]
    min_change_m: float = 10.0  # ... and at least this much road [m]
    pass_speed_m_s: float = 50 / 3.6  # passing speed (capped by the driver's cruise speed) [m/s]
    pass_accel_m_s2: float = 2.0  # the acceleration the time-to-clear assumes (the driver's IDM maximum) [m/s^2]
    return_gap_m: float = 4.0  # back into the home lane with the rear this far past the stretch [m]
    front_gap_m: float = 8.0  # a same-direction road user ahead in the target lane: at least this past the return point [m]
    # a same-direction road user in the target lane, behind (ahead): at least this time gap at its (our) closing speed ...
    rear_gap_s: float = 2.0  # [s]
    # ... and this distance [m]. 2 m, not 3: merging at the stream's speed into a dense stream (20 km/h, 2 s apart:
    # 11 m bumper to bumper, a zipper merge halves it) leaves ~3.3 m each side; a 3 m floor left the speed control
    # 0.3 m to find, and it stood at the lane's end instead. The closing-speed term keeps it for a faster car.
    rear_gap_m: float = 2.0
    memory_speed_error: float = 0.2  # a remembered road user's read speed may be off by this share, from the models [-]
    lane_ours_memory_s: float = 10.0  # a target lane seen carrying traffic our way is taken as ours this long after [s]
    merge_gain_1_s: float = 0.4  # waiting to merge into a stream: speed above the stream's per metre to a gap's middle [1/s]
    merge_window_m: float = 40.0  # ... the stream within this of the ego [m]
    # ... the zip point (the stretch's start) is a hold only once a stop at this deceleration needs the road left
    # (plus the IDM's jam gap): until then the car keeps the stream's speed beside its gap, as a zipper merge
    # asks, instead of the speed control's early, gentle braking for what stands in the closing lane [m/s^2]
    zip_brake_m_s2: float = 1.5
    oncoming_margin_s: float = 2.0  # back in the home lane this long before an oncoming car arrives [s]
    # moving out, the target lane's check must fail this long before the move is aborted [s]: merging into a dense
    # stream with the measured perception noise, one frame's gap 0.3 m short aborted the move, and the car then
    # stood at the zip point, from where no gap of a 20 km/h stream is long enough. The check's own margins
    # (2 s to an oncoming car, 2 m + 2 s of closing speed to the stream) exceed what 0.2 s costs
    abort_after_s: float = 0.2
    # the target lane counts as seen this far ahead: beyond it an unseen car may come at the speed limit [m].
    # Off (inf) by default: at the labels' 100 m range it forbids passing anything longer than a car at 50 km/h
    # (a 40 m closure at 30 km/h needs ~140 m); the driver trusts what it sees and keeps a margin to that
    sight_m: float = math.inf
    # a road user not seen for this long is forgotten [s]: long enough for a car passed at speed to catch up
    # with the car waiting to merge (dead-reckoned at its last velocity meanwhile)
    forget_s: float = 60.0
    # ... but one the camera should see (ahead, inside its view and ``view_range_m``) and does not is gone after this [s]:
    # dead-reckoned for a minute along an odometer that has turned corners since, such tracks stood ahead in the
    # lane as traffic and hid a parked car from the stretch search. The range is the detector's with its far-field
    # pass (``perception.far_field``: cars boxed to ~90 m): at 60 m an oncoming car first read standing 61 m off,
    # then gone past, stood there unseen as a car coming at the speed limit and held ParkedObstacle to its time limit
    forget_in_view_s: float = 2.0
    view_range_m: float = 90.0
    gate_m: tuple[float, float] = (3.0, 1.5)  # association gate along and across the lane [m]
    # during a manoeuvre the perceived lane is taken where it agrees with dead reckoning this well [m, rad]
    fuse_gate: tuple[float, float] = (0.5, 0.1)


@dataclass
class Track:
    """One remembered road user, in the home lane's frame."""

    s_m: float  # nearest point along the lane, on the ego's odometer [m]
    lat_m: float  # centre left of the home lane's centre [m]
    v_m_s: float  # absolute speed along the lane (negative: oncoming) [m/s]
    length_m: float
    width_m: float
    vehicle: bool  # a vehicle (or a cone shown as one): something one may pass; walkers and cyclists are not
    seen_s: float  # last seen [s]
    still_since_s: float  # standing since [s]; inf while moving
    moved: bool  # ever seen faster than ``moving_m_s`` for ``moving_for_s``
    moving_since_s: float = math.inf  # faster than ``moving_m_s`` since [s]; inf: not now
    v_avg_m_s: float = math.nan  # ``v_m_s`` averaged over ``still_tau_s`` (what standing is judged on) [m/s]
    in_lane_since_s: float = math.inf  # in the way (``Overtake._in_way``) since [s]; inf: not now
    in_path: bool = False  # last seen in the speed control's corridor (``control.features.in_path``)
    static: bool = False  # of a class that never moves (a cone): only ever matched with readings of such a class


@dataclass(frozen=True)
class Users:
    """Road users of one step, in the ego frame (x forward from the ego's centre, y left) [m, m/s absolute]."""

    x_m: np.ndarray  # nearest ground point
    y_m: np.ndarray
    vx_m_s: np.ndarray  # absolute, forward
    vy_m_s: np.ndarray
    length_m: np.ndarray  # clearance size of the class
    width_m: np.ndarray
    vehicle: np.ndarray  # bool
    # beyond this range their speed is not to be trusted (``PerceptionFrame.sure_range_m``; inf: it is) [m]
    sure_range_m: float = math.inf
    static: np.ndarray | None = None  # bool: of a class that never moves (cones); None: none is
    track_id: np.ndarray | None = None  # int: perception's track ids (-1: untracked); None: no ids (the feature rows)

    def is_static(self, k: int) -> bool:
        return self.static is not None and bool(self.static[k])


def users_from_rows(f: Decoded) -> Users:
    """The feature vector's object rows (at most ``K_OBJECTS``)."""
    col = object_column
    r = f.objects[f.objects[:, col("present")] > 0.5]
    veh = (r[:, col("vehicle")] > 0.5) & (r[:, col("width")] * 3.0 > 1.0)  # a cyclist rides a "vehicle" row: narrow
    return Users(r[:, col("x")] * DISTANCE_SCALE_M + CAMERA_MOUNT.forward_m, r[:, col("y")] * LATERAL_SCALE_M,
                 r[:, col("vx")] * REL_SPEED_SCALE_M_S[0] + f.speed_m_s, r[:, col("vy")] * REL_SPEED_SCALE_M_S[1],
                 r[:, col("length")] * 10.0, r[:, col("width")] * 3.0, veh)


def users_from_frame(frame, speed_m_s: float) -> Users:
    """Every road user and cone a ``PerceptionFrame`` reports (not only the feature vector's six)."""
    d = frame.detections
    keep = in_classes(d.class_id, OBSTACLE_CLASSES) & np.all(np.isfinite(d.position_m), axis=1) if len(d) else np.zeros(0, bool)
    pos = d.position_m[keep].astype(np.float64)
    cls = d.class_id[keep]
    vel = known_velocity(cls, np.nan_to_num(d.velocity_m_s[keep].astype(np.float64)), speed_m_s)
    size = np.array([CLEARANCE_SIZE_M[int(c)] for c in cls], np.float64).reshape(-1, 2)
    return Users(pos[:, 0] + CAMERA_MOUNT.forward_m, pos[:, 1], vel[:, 0] + speed_m_s, vel[:, 1], size[:, 0], size[:, 1],
                 in_classes(cls, VEHICLE_CLASSES | STATIC_OBSTACLE_CLASSES) & (cls != PEDESTRIAN_CLASS),
                 float(frame.sure_range_m), in_classes(cls, STATIC_OBSTACLE_CLASSES), d.track_id[keep].astype(np.int64))


def same_way_gap(t: Track, front_m: float, rear_m: float, v_m_s: float, v_t_m_s: float, unsure_m: float,
                 gap_m: float, gap_s: float, headway_s: float = 0.0) -> tuple[str, bool]:
    """Where a road user going our way in a lane beside the ego is ("ahead", "behind" or "beside": its track's s
    is its rear, placed to ``unsure_m``), and whether the gap suffices to move in beside it: ahead, ``gap_m`` plus
    ``gap_s`` of our closing speed to its rear; behind, ``gap_m`` plus ``gap_s`` of its closing speed plus
    ``headway_s`` of its own speed from its front; beside, never. ``front_m`` / ``rear_m``: the ego's bumpers on
    the same odometer [m]."""
    if t.s_m - unsure_m >= front_m:  # ahead: room to follow it at our closing speed
        return "ahead", t.s_m - unsure_m - front_m >= gap_m + max(v_m_s - v_t_m_s, 0.0) * gap_s
    if t.s_m + t.length_m + unsure_m <= rear_m:  # behind: its front far enough back for its closing speed
        need = gap_m + max(v_t_m_s - v_m_s, 0.0) * gap_s + headway_s * v_t_m_s
        return "behind", rear_m - (t.s_m + t.length_m + unsure_m) >= need
    return "beside", False


def time_to_cover(dist_m: float, v_m_s: float, v_pass_m_s: float, accel_m_s2: float) -> float:
    """Seconds to cover ``dist_m`` from ``v_m_s``, accelerating at ``accel_m_s2`` up to ``v_pass_m_s`` and holding it [s]."""
    dist_m = max(dist_m, 0.0)
    t_acc = max(v_pass_m_s - v_m_s, 0.0) / accel_m_s2
    d_acc = (v_m_s + v_pass_m_s) / 2 * t_acc
    if dist_m > d_acc:
        return t_acc + (dist_m - d_acc) / v_pass_m_s
    return (-v_m_s + math.sqrt(v_m_s * v_m_s + 2 * accel_m_s2 * dist_m)) / accel_m_s2


def half_cosine(u: float) -> float:
    """0 -> 1 over u in [0, 1] with zero slope at both ends."""
    u = min(max(u, 0.0), 1.0)
    return 0.5 * (1.0 - math.cos(math.pi * u))


@dataclass
class Profile:
    """The planned lateral position: from ``lat0`` at ``s0`` to ``lat1`` over ``length_m`` of road."""

    s0_m: float
    lat0_m: float
    lat1_m: float
    length_m: float

    def at(self, s_m: float) -> float:
        return self.lat0_m + (self.lat1_m - self.lat0_m) * half_cosine((s_m - self.s0_m) / self.length_m)

    def done(self, s_m: float) -> bool:
        return s_m >= self.s0_m + self.length_m


class Overtake:
    """The manoeuvre's state: call ``update`` once per step, then read ``target_lat_m`` (steering) and
    ``ignore_row`` / ``hold_gap_m`` (speed)."""

    def __init__(self, config: OvertakeConfig = OvertakeConfig()):
        self.cfg = config
        self.gap_scale = 1.0  # x the gaps a lane change demands of the target lane (``control.knobs``; the driver sets it)
        self.reset()

    def reset(self) -> None:
        self.t_s = 0.0
        self.s_m = 0.0  # the odometer: the ego centre along the home lane [m]
        self.lat_m = 0.0  # the ego centre left of the home lane's centre [m]
        self.lane_seen = False  # ``lat_m`` is last step's seen lane's: a jump of it is a lane crossed
        self.heading_rad = 0.0  # the car's heading left of the home lane's [rad]
        self.curvature_1_m = 0.0  # the home lane's curvature, + left [1/m]
        self.tracks: list[Track] = []
        self.ours_seen_s = -math.inf  # when the target lane was last seen carrying traffic our way [s]
        self.ours_v_m_s = 0.0  # ... and that traffic's median speed then [m/s]
        self.phase = IDLE
        self.profile: Profile | None = None
        self.stretch: tuple[float, float] | None = None  # blocked (start, end) along the lane [m]
        self.blocked_lat: tuple[float, float] = (0.0, 0.0)  # the stretch's users' lateral extent (right, left) [m]
        self.width_m = 3.5
        self.waiting = False  # a stretch is blocked and the target lane is not clear
        self.v_m_s = 0.0  # the ego's speed [m/s]
        self.sure_range_m = math.inf  # farther than this, perception cannot tell a road user's speed [m]
        self.unclear_since_s = math.inf  # moving out, the target lane's check has failed since [s]; inf: it holds

    @property
    def speed_error(self) -> float:
        """The share a read speed may be off by: exact labels (no sure range) read exact speeds, a source with a
        sure range errs in them (``cfg.memory_speed_error``) [-]."""
        return 0.0 if math.isinf(self.sure_range_m) else self.cfg.memory_speed_error

    # --- perception -> the road frame -------------------------------------------------------------
    def _localise(self, f: Decoded) -> None:
        """Where the car is in the home lane's frame: the perceived lane while idle; during a manoeuvre the
        perceived lane only where it agrees with the car's own motion (``_fuse``)."""
        v = max(f.speed_m_s, 0.0)
        self.t_s += self.cfg.dt_s
        if self.phase == IDLE:
            self.s_m += v * math.cos(f.heading_error_rad if f.lane_known else 0.0) * self.cfg.dt_s
            if f.lane_known:
                # the seen lane jumped a whole lane (the car crossed a lane line: the route's own lane change): the
                # home lane is the new one, and the memory moves with it. Left where it was, a car seen in the lane
                # the car moved into stood one lane farther out, in the way of the route's next change
                lanes = round((self.lat_m - f.lane_offset_m) / self.width_m) if self.lane_seen else 0
                if lanes:
                    for t in self.tracks:
                        t.lat_m -= lanes * self.width_m
                self.lane_seen = True
                self.width_m = f.lane_width_m if math.isfinite(f.lane_width_m) and f.lane_width_m > 2.0 else 3.5
                self.lat_m, self.heading_rad = f.lane_offset_m, f.heading_error_rad
                self.curvature_1_m = f.curvature_1_m if math.isfinite(f.curvature_1_m) else 0.0
            else:
                self.lane_seen = False  # a lane found again (past a junction) is no lane crossed
                self.heading_rad, self.curvature_1_m = 0.0, 0.0
            return
        self.s_m += v * math.cos(self.heading_rad) * self.cfg.dt_s
        self._fuse(f, v)

    def _fuse(self, f: Decoded, v_m_s: float) -> None:
        """During a manoeuvre: dead-reckon the car across the home lane from its speed and yaw rate, then take
        the perceived lane (on whichever lane of the road places it nearest) where it agrees within
        ``fuse_gate``. The lane width stays the one measured before the move. From the models the lane
        estimate straddling the centre line followed the car rather than the paint (the car moved 5.7 m left,
        the perceived offset stayed within 2 m of 0 and never jumped a lane): read as the truth it steered the
        car off the road's far side. With labels it always agrees, and the perceived lane is what is used."""
        dt, w = self.cfg.dt_s, self.width_m
        self.heading_rad += (f.yaw_rate_rad_s - v_m_s * self.curvature_1_m) * dt
        self.lat_m += v_m_s * math.sin(self.heading_rad) * dt
        if not f.lane_known:
            return
        base = w * round((self.lat_m - f.lane_offset_m) / w)  # the lane the perceived one would be
        gate_m, gate_rad = self.cfg.fuse_gate
        if abs(base + f.lane_offset_m - self.lat_m) < gate_m and abs(f.heading_error_rad - self.heading_rad) < gate_rad:
            self.lat_m, self.heading_rad = base + f.lane_offset_m, f.heading_error_rad
            if math.isfinite(f.curvature_1_m):
                self.curvature_1_m = f.curvature_1_m

    def _to_lane(self, x: np.ndarray, y: np.ndarray, f: Decoded) -> tuple[np.ndarray, np.ndarray]:
        """Ego-frame points (from the ego's centre) -> (along the lane on the odometer, left of the home lane
        centre, which bends by the lane's curvature ahead: the small-angle Frenet approximation)."""
        h, kappa = self.heading_rad, self.curvature_1_m
        c, s = math.cos(h), math.sin(h)
        along = x * c - y * s
        return self.s_m + along, self.lat_m + x * s + y * c - 0.5 * kappa * along * np.abs(along)

    def _remember(self, users: Users, f: Decoded) -> None:
        cfg = self.cfg
        for t in self.tracks:  # dead-reckon everyone to now
            t.s_m += t.v_m_s * cfg.dt_s
        s, lat = self._to_lane(users.x_m, users.y_m, f)
        # what the speed control stops for: the corridor the feature vector's in-path flag gives (camera frame),
        # the home lane's only while the car drives in it (out or passing, the corridor is the target lane's)
        path = in_path(np.column_stack([users.x_m - CAMERA_MOUNT.forward_m, users.y_m]), users.width_m / 2, f) \
            if len(s) and self.phase == IDLE else np.zeros(len(s), bool)
        taken: set[int] = set()
        still_m_s = cfg.stationary_m_s + cfg.stationary_share * max(f.speed_m_s, 0.0)
        cost = self._match_costs(users, s, lat)
        for k in range(len(s)):
            v = float(users.vx_m_s[k])
            static = users.is_static(k)
            # the nearest point is the rear of one ahead going our way, the front of one coming. Greedy, users in
            # order: each takes the free eligible track nearest by ds + dl (the first on a tie)
            best = None
            if cost.shape[1]:
                j = int(np.argmin(cost[k]))
                if cost[k, j] < math.inf:
                    best = j
                    cost[:, j] = math.inf  # taken: no later user may have it
            # beyond the sure range a speed reading is noise (from the models a parked car approached from 60 m read
            # moving for over a second, was taken for stopped traffic and never passed: ParkedObstacle 800301)
            fast = abs(v) > cfg.moving_m_s and math.hypot(float(users.x_m[k]), float(users.y_m[k])) <= users.sure_range_m
            if best is None:
                still = abs(v) < still_m_s and abs(float(users.vy_m_s[k])) < still_m_s
                self.tracks.append(Track(float(s[k]), float(lat[k]), v, float(users.length_m[k]), float(users.width_m[k]),
                                         bool(users.vehicle[k]), self.t_s, self.t_s if still else math.inf,
                                         fast and cfg.moving_for_s <= 0.0, self.t_s if fast else math.inf, v,
                                         in_path=bool(path[k]), static=static))
                taken.add(len(self.tracks) - 1)
                continue
            taken.add(best)
            t = self.tracks[best]
            t.v_avg_m_s += min((self.t_s - t.seen_s) / cfg.still_tau_s, 1.0) * (v - t.v_avg_m_s)
            # once it has stood long enough to be an obstacle, only clear motion ends that (hysteresis): one spike
            # had dropped the stretch while the car waited for oncoming traffic, and the hold that keeps room to
            # pull out went with it
            stood = self.t_s - t.still_since_s >= cfg.stationary_for_s
            limit_m_s = cfg.moving_m_s if stood else still_m_s
            still = abs(t.v_avg_m_s) < limit_m_s and abs(float(users.vy_m_s[k])) < limit_m_s
            t.s_m, t.lat_m, t.v_m_s, t.seen_s = float(s[k]), float(lat[k]), v, self.t_s
            t.length_m, t.width_m = float(users.length_m[k]), float(users.width_m[k])
            t.in_path = bool(path[k])
            if not fast:
                t.moving_since_s = math.inf
            elif not math.isfinite(t.moving_since_s):
                t.moving_since_s = self.t_s
            t.moved |= self.t_s - t.moving_since_s >= cfg.moving_for_s
            if not still:
                t.still_since_s = math.inf
            elif not math.isfinite(t.still_since_s):
                t.still_since_s = self.t_s
        for j, t in enumerate(self.tracks):
            if j not in taken:
                t.in_path = False
                # unseen, it is carried on at its average speed: the last readings of a car leaving the view at
                # the image's edge are the least reliable (from the models an oncoming car passed at -8 m/s read
                # +1.6 as it left, and was carried along beside the ego as a car our way, aborting the overtake)
                if math.isfinite(t.v_avg_m_s):
                    t.v_m_s = t.v_avg_m_s
        self.tracks = [t for t in self.tracks if self.t_s - t.seen_s < cfg.forget_s and abs(t.s_m - self.s_m) < 200.0
                       and not (self.t_s - t.seen_s >= cfg.forget_in_view_s and self._in_view(t))]
        reach = max(self.cfg.lane_reach_m, self.cfg.lane_reach_s * max(f.speed_m_s, 0.0))
        for t in self.tracks:
            # the reach starts the clock; once running it stops only when the user leaves the lane: braking, the
            # reach shrinks faster than the car closes in, and it would restart the clock every step
            timing = math.isfinite(t.in_lane_since_s)
            if not self._in_way(t) or (not timing and t.s_m - self.s_m > reach):
                t.in_lane_since_s = math.inf
            elif not timing:
                t.in_lane_since_s = self.t_s

    def _match_costs(self, users: Users, s: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """(users, tracks) cost of matching each reading with each remembered track: ds + dl along and across
        the lane, inf where the pair is not eligible (outside the association gate, or of another kind).
        Vectorised: the per-pair Python loop over ~140 tracks was a sixth of a step. The tracks' values are
        taken at the readings' dtype, as the scalar arithmetic of the per-pair form did."""
        cfg = self.cfg
        n = len(self.tracks)
        if not n or not len(s):
            return np.full((len(s), n), math.inf)
        track_s = np.array([t.s_m for t in self.tracks], dtype=s.dtype)
        track_lat = np.array([t.lat_m for t in self.tracks], dtype=lat.dtype)
        track_vehicle = np.array([t.vehicle for t in self.tracks], dtype=bool)
        track_static = np.array([t.static for t in self.tracks], dtype=bool)
        static = np.zeros(len(s), bool) if users.static is None else users.static.astype(bool)
        ds = np.abs(track_s[None, :] - s[:, None])
        dl = np.abs(track_lat[None, :] - lat[:, None])
        # a cone's track never takes a car's reading nor a car's a cone's: an oncoming car passing a closure 3 m off,
        # matched once with a cone, marked that cone as moved traffic for good and the whole closure as a queue
        ok = (track_vehicle[None, :] == users.vehicle.astype(bool)[:, None]) & (track_static[None, :] == static[:, None])
        ok &= (dl < cfg.gate_m[1]) & (ds < cfg.gate_m[0])
        for k in np.flatnonzero(static):
            # a cone's range errs by a share of its range: at 60 m a reading 3 m off started a second track for
            # the same cone, whose young age broke the closure's stretch for a moment (and a merge's timing with
            # it); matched to the next cone of the row instead, nothing is lost: both stand, both are of it
            gate = max(cfg.gate_m[0], cfg.cone_gate_share * max(s[k] - self.s_m, 0.0))
            ok[k] = (track_vehicle == bool(users.vehicle[k])) & track_static & (dl[k] < cfg.gate_m[1]) & (ds[k] < gate)
        return np.where(ok, ds + dl, math.inf)

    def _in_view(self, t: Track) -> bool:
        """Whether a remembered road user stands where the forward camera would see it (ahead of the camera,
        inside its view less 5 degrees, within ``view_range_m``; lane frame taken as the ego's: roughly)."""
        x = t.s_m - self.s_m - CAMERA_MOUNT.forward_m
        y = t.lat_m - self.lat_m
        return 1.0 < x < self.cfg.view_range_m and abs(math.degrees(math.atan2(y, x))) < CAMERA_MOUNT.hfov_deg / 2 - 5.0

    # --- the situation -----------------------------------------------------------------------------
    def _in_way(self, t: Track) -> bool:
        """In the home lane (``_blocks_home``), or in the corridor the speed control stops for: a car parked
        askew on the shoulder whose nearest point only touches the lane while its front reaches in (the speed
        control stopped behind it for good while the manoeuvre did not count it)."""
        return self._blocks_home(t) or t.in_path

    def _blocks_home(self, t: Track) -> bool:
        """Whether its nearest point (what perception gives) lies ``lane_in_m`` or more inside the home lane:
        a car parked on the shoulder that only touches the lane does not count (the driver's speed control
        decides whether it is in the way)."""
        return abs(t.lat_m) < self.width_m / 2 - self.cfg.lane_in_m

    def _obstacle(self, t: Track) -> bool:
        """Standing for ``stationary_for_s`` (a cone stands by its class), and seen inside the home lane, within
        the reach where the lane estimate places it well, for ``in_lane_for_s``: a car parked on the shoulder of
        a bend ahead, which the lane's curvature 10 m ahead puts in the lane from afar, is no obstacle."""
        stood = t.static or self.t_s - t.still_since_s >= self.cfg.stationary_for_s
        return t.vehicle and not t.moved and stood and self.t_s - t.in_lane_since_s >= self.cfg.in_lane_for_s

    def _find_stretch(self) -> tuple[float, float] | None:
        """(start, end) along the lane of the blocked stretch ahead, or None."""
        front = self.s_m + EGO_LENGTH_M / 2
        ahead = sorted((t for t in self.tracks if t.s_m > front - 1.0 and self._in_way(t)), key=lambda t: t.s_m)
        if not ahead or not self._obstacle(ahead[0]):
            return None  # nothing standing in the lane, or the first thing in it is traffic or not yet known to stand
        start = ahead[0].s_m
        end = start + ahead[0].length_m
        lo, hi = ahead[0].lat_m - ahead[0].width_m / 2, ahead[0].lat_m + ahead[0].width_m / 2
        for t in ahead[1:]:
            if t.s_m > end + self.cfg.chain_gap_m:
                break
            if t.moved or not math.isfinite(t.still_since_s) or not t.vehicle:
                return None  # something moving, or traffic, or a walker right after it: a queue, or not ours to pass
            end = max(end, t.s_m + t.length_m)
            lo, hi = min(lo, t.lat_m - t.width_m / 2), max(hi, t.lat_m + t.width_m / 2)
        self.blocked_lat = (lo, hi)
        return start, end

    def _extended_end(self, end_m: float) -> float:
        """The stretch's end, carried on over what comes into view past it while the car passes: from the models
        a closure's cones are boxed only within ~25 m, so a 40 m closure is seen in parts, and the car turned back
        in after the first part, into the rest. Anything standing at the home lane's edge or in it (a cone's
        lateral estimate strays past the edge it lines), within ``chain_gap_m`` of the end and not traffic, belongs
        to the stretch at once: there is no time to watch it stand for ``stationary_for_s``."""
        reach = self.width_m / 2 + self.cfg.edge_tolerance_m
        for t in sorted(self.tracks, key=lambda t: t.s_m):
            if t.s_m > end_m + self.cfg.chain_gap_m:
                break
            if (t.s_m + t.length_m > end_m and t.vehicle and abs(t.lat_m) < reach and not t.moved
                    and abs(t.v_avg_m_s if math.isfinite(t.v_avg_m_s) else t.v_m_s) < self.cfg.moving_m_s):
                end_m = t.s_m + t.length_m
        return end_m

    def _queue_ahead(self, f: Decoded, route, end_m: float) -> bool:
        """A red or yellow light's line, or a junction, just past the stretch: the car waits in the queue."""
        past = end_m - (self.s_m + EGO_LENGTH_M / 2) + self.cfg.queue_margin_m
        if f.light_state in ("red", "yellow") and f.light_distance_m < past:
            return True
        if route is not None:
            jx, jy = route.junction_xy_m
            if math.isfinite(jx) and math.hypot(jx, jy) - route.junction_radius_m < past:
                return True
            if route.command != "follow_lane" and route.distance_m < past:
                return True
        return False

    def _target_clear(self, f: Decoded, end_m: float, cruise_m_s: float) -> bool:
        """Whether the lane to the left is free for the whole manoeuvre (see the module docstring)."""
        cfg = self.cfg
        k = self.gap_scale
        gap_m, gap_s, margin_s = k * cfg.rear_gap_m, k * cfg.rear_gap_s, k * cfg.oncoming_margin_s
        w = self.width_m
        v = max(f.speed_m_s, 0.0)
        v_pass = max(min(cfg.pass_speed_m_s, cruise_m_s), 1.0)
        back_at = end_m + cfg.return_gap_m + EGO_LENGTH_M  # the ego's centre when it is back in its lane
        dist = back_at + self._change_m(v_pass) - self.s_m
        t_clear = time_to_cover(dist, v, v_pass, cfg.pass_accel_m_s2)
        far_end = back_at + self._change_m(v_pass)
        # an oncoming car just out of sight, at the speed limit, must not reach the stretch's end before the
        # ego's rear is past it (from there the ego cuts back in; the seen ones get the whole move and a margin)
        t_past = time_to_cover(back_at - self.s_m, v, v_pass, cfg.pass_accel_m_s2)
        if math.isfinite(cfg.sight_m) and self.s_m + cfg.sight_m - f.speed_limit_m_s * t_past < back_at:
            return False
        pass_lat = self._pass_lat_m()
        # a target lane seen carrying traffic our way within the sure range is a lane our way: a car in it too far to
        # tell its speed is not taken as coming at the limit. From the models a stream car 150-180 m ahead, read at
        # 16-23 m/s (truth 5), was, and the car never merged into a 3.9-s stream (suite validation case 800015)
        ours = self.t_s - self.ours_seen_s < cfg.lane_ours_memory_s
        for t in self.tracks:
            standing = not t.moved and math.isfinite(t.still_since_s)
            standing_in_home = standing and self._blocks_home(t)
            # standing at the lane line with the passing car's side clearance to spare (as ``passes`` judges it): a
            # cone lining the closure, whose measured place strayed a few cm over the line, had closed the lane
            # A cone's measured place strays across the lane by ~1 % of its range (a pixel or two of its box at the
            # camera's focal length): taken at the home lane's side of that, the closure's far cones 60-80 m off,
            # read up to 0.9 m over the line, had closed the lane it leaves open; nearer the car, the reading firms up
            # and the abort (before the car is committed) or the speed control answers one truly in the way
            stray_m = cfg.cone_stray_per_m * max(t.s_m - self.s_m, 0.0) if t.static else 0.0
            clear_of_pass = standing and pass_lat - EGO_WIDTH_M / 2 - cfg.side_clearance_m >= t.lat_m - stray_m + t.width_m / 2
            if abs(t.lat_m - w) >= w / 2 + t.width_m / 2 or (t.vehicle and (standing_in_home or clear_of_pass)):
                continue  # not in the target lane, or of the stretch it reaches into, or beside the pass (passed on its side)
            if not t.vehicle and t.s_m > self.s_m - EGO_LENGTH_M and t.s_m < far_end + cfg.front_gap_m:
                return False  # a walker or cyclist in the target lane along the manoeuvre
            v_t = t.v_m_s
            if t.s_m - self.s_m > self.sure_range_m:  # too far to tell its speed: as if coming at the limit, or in a
                # lane ours as moving with the stream seen in it (its own reading there is noise: from the models such
                # cars read oncoming or standing, and each closed the lane)
                v_t = self.ours_v_m_s if ours else min(v_t, -max(f.speed_limit_m_s, cfg.moving_m_s))
            if v_t < -cfg.stationary_m_s:  # oncoming: where its front will be when the ego is back
                beside_or_ahead = t.s_m + t.length_m > self.s_m - EGO_LENGTH_M / 2  # its rear not yet past ours
                if beside_or_ahead and t.s_m + v_t * (t_clear + margin_s) < far_end:
                    return False
            elif v_t < cfg.stationary_m_s:  # standing in the target lane along the manoeuvre: no way back ...
                if self.s_m - EGO_LENGTH_M < t.s_m < far_end + cfg.front_gap_m \
                        and not self._passed_on_its_right(t, stray_m, pass_lat, back_at, v_pass):
                    return False
            else:  # our way; seen from behind, its track's s is its rear
                front, rear = self.s_m + EGO_LENGTH_M / 2, self.s_m - EGO_LENGTH_M / 2
                # out of view it is dead-reckoned at the speed last read: where it is now is known to the speed's
                # error x the time since (from the models a car read at 11.3 m/s, truly 9.6, went out of view beside
                # the car; 5 s on its track lay 10 m ahead of it, the gap behind read clear, and the car moved out in
                # front of it: suite case MergeSlowTraffic 800303)
                unsure_m = self.speed_error * abs(v_t) * max(self.t_s - t.seen_s, 0.0)
                if not same_way_gap(t, front, rear, v, v_t, unsure_m, gap_m, gap_s)[1]:
                    return False
        return True

    def _passed_on_its_right(self, t: Track, stray_m: float, pass_lat_m: float, back_at_m: float,
                             v_pass_m_s: float) -> bool:
        """... unless it stands at the target lane's far side and the planned path (out at ``pass_lat_m`` until
        the car's centre is at ``back_at_m`` on the odometer, then back home over a lane change at ``v_pass_m_s``)
        passes it on its right with the side clearance, where the car's front reaches it. A car parked at the far
        kerb reaches ~1.3 m into the oncoming lane in the town; one 45 m on, by which point the car is back in its
        lane, had closed the lane to every pass on validation route 800207 (exact labels): the car stood behind a
        parked car for the whole route."""
        lat_m = pass_lat_m * (1.0 - half_cosine((t.s_m - EGO_LENGTH_M / 2 - back_at_m) / self._change_m(v_pass_m_s)))
        return t.lat_m - stray_m - t.width_m / 2 >= lat_m + EGO_WIDTH_M / 2 + self.cfg.side_clearance_m

    def speed_cap_m_s(self) -> float:
        """Waiting to move over into a lane with traffic our way (merging into a stream), or moving over
        into it: the speed that brings (keeps) the car beside the middle of the nearest gap in that traffic
        (the stream's speed plus ``merge_gain_1_s`` per metre to the gap's middle); inf otherwise [m/s].
        Moving over, the car must not speed up to the speed limit: it would close on the stream car ahead,
        whose gap check would then abort the move. In the stream beside the stretch (passing) it keeps to
        the gap it took (``keeps_gap``)."""
        if not (self.waiting or self.phase in (OUT, PASS)):
            return math.inf
        cars = self._stream()
        if not cars:
            return math.inf
        stream = float(np.median([t.v_m_s for t in cars]))
        # the gaps' middles (s of their rear cars' fronts and their front cars' rears), and the one behind the last
        slots = [(a.s_m + a.length_m + b.s_m) / 2 for a, b in zip(cars, cars[1:])]
        slots.append(cars[0].s_m - self.cfg.merge_window_m / 4)
        slot = min(slots, key=lambda m: abs(m - self.s_m))
        return max(stream + self.cfg.merge_gain_1_s * (slot - self.s_m), 0.0)

    def _stream(self) -> list[Track]:
        """Vehicles our way in the target lane within ``merge_window_m`` of the ego, rear to front."""
        w = self.width_m
        return sorted((t for t in self.tracks if abs(t.lat_m - w) < w / 2 and t.v_m_s > self.cfg.moving_m_s
                       and abs(t.s_m - self.s_m) < self.cfg.merge_window_m), key=lambda t: t.s_m)

    def _home_clear(self, end_m: float) -> bool:
        """No new obstacle in the home lane just past the stretch (the car would have to pull out again)."""
        front = self.s_m + EGO_LENGTH_M / 2
        for t in self.tracks:
            if self._blocks_home(t) and t.s_m > max(front, end_m) and t.s_m < end_m + self.cfg.return_gap_m + 3 * EGO_LENGTH_M \
                    and t.v_m_s < self.cfg.pass_speed_m_s / 2:
                return False
        return True

    def _pass_lat_m(self) -> float:
        """Where to pass: the target lane's centre, or farther left (within that lane) to keep the side
        clearance from an obstacle that stands far over to the left of the home lane [m]."""
        w = self.width_m
        need = self.blocked_lat[1] + EGO_WIDTH_M / 2 + self.cfg.side_clearance_m
        return min(max(w, need), 1.5 * w - EGO_WIDTH_M / 2 - 0.2)

    def _change_m(self, v_m_s: float) -> float:
        return max(self.cfg.min_change_m, self.cfg.change_s * v_m_s)

    # --- the manoeuvre -------------------------------------------------------------------------
    def update(self, f: Decoded, users: Users, route, cruise_m_s: float, path_gaps_m: np.ndarray | None = None) -> None:
        """Fold in one step's perception; ``cruise_m_s``: the speed the driver would drive here;
        ``path_gaps_m``: the front bumper's gaps to what the driver's speed control stops for (the in-path
        rows of the feature vector; None: not checked). A stretch whose start is none of them is not acted
        on: where the speed control would drive on, the manoeuvre changes nothing."""
        self._localise(f)
        self.sure_range_m = users.sure_range_m
        self._remember(users, f)
        # the target lane's direction, from its traffic within the sure range (``_target_clear``); remembered for
        # ``lane_ours_memory_s``: a lane keeps its direction while the stream's cars come and go
        near_stream = [t.v_m_s for t in self._stream() if t.s_m - self.s_m <= self.sure_range_m]
        if near_stream:
            self.ours_seen_s, self.ours_v_m_s = self.t_s, float(np.median(near_stream))
        w = self.width_m
        v = self.v_m_s = max(f.speed_m_s, 0.0)
        stretch = self._find_stretch()
        if stretch is not None and self.stretch is not None and self.phase in (OUT, PASS):
            stretch = (min(stretch[0], self.stretch[0]), max(stretch[1], self.stretch[1]))
        elif stretch is None and self.phase in (OUT, PASS):
            stretch = self.stretch  # out of view beside or behind the car: remembered
        if stretch is not None and self.phase in (OUT, PASS):
            stretch = (stretch[0], self._extended_end(stretch[1]))
        self.stretch = stretch
        self.waiting = False
        if self.phase == IDLE:
            if stretch is None or not f.lane_known or self._queue_ahead(f, route, stretch[1]):
                return
            to_go = stretch[0] - (self.s_m + EGO_LENGTH_M / 2)
            # the speed control stops for something of the stretch, not necessarily its first: a closure's taper
            # starts at the lane's right edge, out of the car's corridor, and the first cone in it stands metres on
            # (with the measured noise the check against the first alone flickered, and a merge lost its timing)
            gaps = np.asarray(path_gaps_m if path_gaps_m is not None else [to_go])
            m = self.cfg.path_match_m
            if not np.any((gaps > to_go - m) & (gaps < stretch[1] - stretch[0] + to_go + m)):
                return  # the speed control does not stop for it
            # merging into a stream (traffic our way in the target lane) the car takes the first gap it fits
            early = self.cfg.merge_window_m if self._stream() else 0.0
            if to_go > self._change_m(v) + self.cfg.min_change_m + early:
                # not yet: the move out starts one lane change before the stretch; meanwhile the car gets
                # ready (matching a stream's speed and gaps) where the target lane is not clear
                self.waiting = not self._target_clear(f, stretch[1], cruise_m_s)
                return
            if self._target_clear(f, stretch[1], cruise_m_s):
                self.phase, self.unclear_since_s = OUT, math.inf
                length = min(self._change_m(v), max(to_go, self.cfg.min_change_m))
                self.profile = Profile(self.s_m, self.lat_m, self._pass_lat_m(), length)
            else:
                self.waiting = True
            return
        if self.phase == OUT:
            committed = self.lat_m > w / 2 or self.s_m + EGO_LENGTH_M / 2 > stretch[0]
            clear = committed or self._target_clear(f, stretch[1], cruise_m_s)
            if clear:
                self.unclear_since_s = math.inf
            elif not math.isfinite(self.unclear_since_s):
                self.unclear_since_s = self.t_s
            if not clear and self.t_s - self.unclear_since_s >= self.cfg.abort_after_s:
                self._back(v)  # the gap closed: abort to the home lane
                self.waiting = True
            elif self.profile.done(self.s_m):
                self.phase = PASS
            return
        if self.phase == PASS:
            past = self.s_m - EGO_LENGTH_M / 2 > stretch[1] + self.cfg.return_gap_m
            if past and self._home_clear(stretch[1]):
                self._back(v)
            return
        # aborted with the stretch still ahead: keep the hold that leaves room to pull out (without it the speed
        # control crept up to 3 m behind the obstacle, too close to pull out past it)
        self.waiting = stretch is not None
        # back in, or stopped on the way (an abort the speed control halted behind the stretch): try afresh
        if self.phase == BACK and (self.profile.done(self.s_m) or v < self.cfg.stationary_m_s):
            self.phase, self.profile, self.stretch = IDLE, None, None

    def _back(self, v_m_s: float) -> None:
        self.phase = BACK
        self.profile = Profile(self.s_m, self.lat_m, 0.0, self._change_m(v_m_s))

    # --- what the driver reads ------------------------------------------------------------------
    @property
    def active(self) -> bool:
        return self.phase != IDLE

    @property
    def moving_across(self) -> bool:
        """Out to the target lane or back, not yet settled where the profile ends (the car does not follow
        a lane: its steering aims across)."""
        if self.phase == IDLE or self.profile is None:
            return False
        return not self.profile.done(self.s_m) or abs(self.lat_m - self.profile.lat1_m) > 0.25

    def aim_y_m(self, ahead_m: float) -> float:
        """The planned path's point ``ahead_m`` down the road, left of the car's axis, from the manoeuvre's own
        estimate of where the car is (``_localise``; small-angle Frenet approximation) [m]: what the steering
        aims at while the manoeuvre is active."""
        target = self.profile.at(self.s_m + ahead_m) if self.profile is not None else 0.0
        return (target - self.lat_m) * math.cos(self.heading_rad) - ahead_m * math.sin(self.heading_rad) \
            + 0.5 * self.curvature_1_m * ahead_m ** 2

    @property
    def merging(self) -> bool:
        """Waiting to move over into a lane with traffic our way: a stream to merge into at a zip point."""
        return self.waiting and self.stretch is not None and math.isfinite(self.speed_cap_m_s())

    def keeps_gap(self, x_m: float, y_m: float, v_m_s: float, f: Decoded) -> bool:
        """Whether a road user at ego-frame (x, y) moving at ``v_m_s`` (absolute, along) is a car of the stream
        the car is moving into or driving in beside the stretch, whose gap ``speed_cap_m_s`` keeps: the speed
        control must not follow it by its own headway. A zipper merge leaves ~3 m to the car ahead where
        the IDM wants its jam gap and 1.2 s: it braked hard as the car moved over, the gap behind closed
        and the move aborted (and in the lane the stream's next car, which does not brake, would hit it)."""
        if self.phase not in (OUT, PASS) or not math.isfinite(self.speed_cap_m_s()) or v_m_s < self.cfg.moving_m_s:
            return False
        s, lat = self._to_lane(np.array([x_m]), np.array([y_m]), f)
        return abs(float(lat[0]) - self.width_m) < self.width_m / 2 and s[0] > self.s_m

    def passes(self, x_m: float, y_m: float, width_m: float, f: Decoded) -> bool:
        """Whether a road user ``width_m`` wide at ego-frame (x, y) (from the ego's centre) is one the
        manoeuvre passes beside, so the speed control must not stop for it: out or passing, it belongs
        to the stretch and the planned path clears it there; waiting to merge, it belongs to the stretch,
        whose start ``hold_gap_m`` stops the car at (the zip point), no earlier."""
        if self.stretch is None or not (self.phase in (OUT, PASS) or self.merging):
            return False
        s, lat = self._to_lane(np.array([x_m]), np.array([y_m]), f)
        if not (self.stretch[0] - 1.0 <= s[0] <= self.stretch[1] + 1.0):
            return False
        if self.phase == IDLE:
            return True  # merging: the hold stands in for it
        planned = self.profile.at(float(s[0])) if self.phase == OUT else self.profile.lat1_m
        return planned - EGO_WIDTH_M / 2 - self.cfg.side_clearance_m >= float(lat[0]) + width_m / 2

    def hold_gap_m(self) -> float:
        """Waiting for the target lane: the gap to where the car should stop (``hold_back_m`` behind the
        stretch, as a standing obstacle's IDM gap), inf otherwise [m]."""
        if not self.waiting or self.stretch is None:
            return math.inf
        to_go = self.stretch[0] - (self.s_m + EGO_LENGTH_M / 2)
        if self.merging:  # the car keeps rolling with the stream up to the stretch (the zip point): no room to hold back
            near = self.v_m_s ** 2 / (2 * self.cfg.zip_brake_m_s2) + ZIP_JAM_M
            return to_go if to_go < near else math.inf
        back = self.cfg.hold_back_m
        return to_go - back if to_go < back + self.cfg.hold_from_m else math.inf
