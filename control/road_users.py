"""What the supervisor knows of each road user: a ``RoadUsers`` record for the prediction, and the evidence
that it is real (how many consecutive frames it has been seen, whether the depth map agrees).

``RoadUserTracker.update`` reads the ``PerceptionFrame`` (every detection, track ids, boxes, the depth
map where the frame has one) or, without it, the policy's feature vector (the K objects
``control.features`` encodes, no ids: they are associated frame to frame by position). Relative
velocities become velocities over the ground by adding the ego's speed (the ego's own rotation is
neglected: it is small on the straight and gentle roads where constant-velocity prediction holds). A
track's yaw rate is the turn of its ground velocity's direction between frames (plus the ego's own
turn), smoothed, 0 until it moves fast enough for its heading to mean something; its braking is the
fall of its ground speed between frames, smoothed (a leader braking hard is a conflict sooner than
its speed alone says). A track remembers the direction its body had when it last clearly moved, over the
ground (the ego's own turn integrated from its yaw rate): a car that turns across the junction and stops
in the box stands at that angle, not along our lane (the held-out town collisions of session 19 were all
such bodies, read as lane-aligned once they had stopped, so that their nearest point lay beside our path).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from common.vocab import (CAMERA_TO_BUMPER_M, CLEARANCE_SIZE_M, CYCLIST_CLASS, EGO_CLEARANCE_HALF_WIDTH_M, OBSTACLE_CLASSES,
                          PEDESTRIAN_CLASS, TRAFFIC_CONE_CLASS, in_classes)
from perception.placement import cut_sides
from perception.types import PerceptionFrame

from .features import DISTANCE_SCALE_M, LATERAL_SCALE_M, REL_SPEED_SCALE_M_S, Decoded, object_column
from .prediction import RoadUsers

FRAME_DT_S = 0.05  # frame period when the frame gives no time (the simulator's 20 Hz control) [s]
# yaw rate from the heading of a track's velocity: only above this speed is the heading steady enough [m/s]
YAW_RATE_MIN_SPEED_M_S = 4.0
# weight of the newest frame's turn in the smoothed yaw rate: low, since a 2 degree jitter of the models' velocity
# direction between frames 50 ms apart reads as 0.7 rad/s
YAW_RATE_SMOOTHING = 0.1
MAX_YAW_RATE_RAD_S = 0.6  # a road vehicle turns slower than this (a tight junction turn at 20 km/h): more is noise [rad/s]
DECEL_SMOOTHING = 0.3  # weight of the newest frame's speed change in the smoothed braking
MAX_DECEL_M_S2 = 10.0  # harder than any car brakes: more is a velocity glitch [m/s^2]
# untracked objects (the feature vector, a detector without tracking) are the same object on the next frame
# when they are this close to where the last frame's one was heading [m], plus a share of their range (box-foot error)
ASSOCIATION_GATE_M = 1.0
ASSOCIATION_GATE_REL = 0.05
# a track missed for this many frames keeps its age (detectors drop a true object for a frame now and then;
# a phantom rarely comes back at the same place)
MAX_MISSED_FRAMES = 1
# depth agreement: the depth map's median over the box's body must lie this close to the detection's range;
# a detection on a shadow or a road marking shows the road behind it (far deeper) where its body should be
DEPTH_TOLERANCE_M = 2.0  # [m]
DEPTH_TOLERANCE_REL = 0.3  # ... or this share of the range, whichever is larger
KIND_NAMES = {PEDESTRIAN_CLASS: "pedestrian", CYCLIST_CLASS: "cyclist", TRAFFIC_CONE_CLASS: "cone"}  # the rest: "vehicle"
# ground speeds below these count as standing: the models' box feet jitter by a few per cent of the range, which
# their 0.5 s velocity fit turns into a drift of a few tenths of a m/s (a walker walks at 0.8 m/s or more); a cone
# stands whatever its track says [m/s]
STILL_BELOW_M_S = {"pedestrian": 0.3, "cyclist": 0.5, "vehicle": 1.0, "cone": np.inf}
# ... and above these are a jumped track, not motion: a sprinter, a racing cyclist, 160 km/h [m/s]
MAX_SPEED_M_S = {"pedestrian": 4.0, "cyclist": 12.0, "vehicle": 45.0, "cone": 0.0}
# beyond the frame's sure range (``PerceptionFrame.sure_range_m``: 35 m from the models at the sim's camera, inf
# from the labels) a box foot's lateral place jumps by decimetres frame to frame (the models' ranging error grows
# with the square of the range): the fitted lateral velocity is noise, and the road user is taken to keep its
# lateral place until nearer. This range stands in where no frame says (the feature vector alone). 35 m still
# leaves 1.6 s at 80 km/h, enough for a full brake to stop [m]
LATERAL_TRUST_RANGE_M = 35.0
# a vehicle's velocity counts from its track's this many-th frame on (the models fit it through 3+ box feet;
# the first fits swing by metres per second). Walkers and cyclists count at once: they step out from hiding [frames]
VEHICLE_VELOCITY_MIN_FRAMES = 5
BODY_ALONG_MOTION_M_S = 3.0  # a road user's footprint turns to its velocity from this ground speed on [m/s]
# ... and keeps that direction when it slows below it, for as long as its track lasts: a standing body does not turn.
# Forgotten after this long unless the track is seen moving again (the ego's yaw, integrated from its measured
# rate, drifts; and a car parked for minutes may have been moved by what we cannot see) [s]
BODY_HEADING_MEMORY_S = 30.0
# coasting: a walker or cyclist moving near the car leaves the camera's view just before it reaches the path: its
# box is cut by the image's bottom or side, its range jumps by metres (the box foot is gone) and its velocity with it,
# then the box is lost (Euro NCAP's CPNA-25 at 10 km/h from the models: 0.8 s before the impact). Such a track keeps
# its last trusted state: a reading within the gate of where that state says it is refreshes it; a reading outside
# it, or none, is replaced by the state carried on at its velocity, for at most COAST_MAX_S. Only tracks seen this
# many frames (a phantom rarely lasts), moving, this near; never with the depth map's agreement (at most a partial brake)
COAST_KINDS = ("pedestrian", "cyclist")
COAST_MIN_AGE_FRAMES = 3
COAST_RANGE_M = 12.0  # [m]
COAST_MAX_S = 1.0  # [s]
COAST_GATE_M = 0.6  # a reading this near the carried-on state is the same walker, trusted [m] ...
COAST_GATE_REL = 0.05  # ... plus this share of its range


@dataclass(frozen=True)
class SeenUsers:
    """The road users of one frame with the evidence behind each."""

    users: RoadUsers
    age_frames: np.ndarray  # (N,) consecutive frames this road user has been seen, this one included
    depth_agrees: np.ndarray  # (N,) bool: the depth map shows a body at its range (True without a depth map)
    kind: tuple[str, ...]  # "pedestrian" | "cyclist" | "vehicle" per road user
    gap_m: np.ndarray  # (N,) from the ego's front bumper to the reported point, along x [m]
    track_id: np.ndarray  # (N,) the tracker's ids (untracked objects get ids of their own, below -1)
    # (N,) bool: its box is cut by the image's left or right edge (a vehicle's also by the bottom) and its reported
    # point lies beside the ego's width: an object passing beside the camera, whose lateral place the models can
    # only guess (a parked car beside the bumper read 0.7 m nearer the path than it was): worth a warning, never a brake
    cut_beside: np.ndarray
    # (N,) bool: its heading is its own (seen moving along it now or before), not the lane's assumed for it; None: none is
    heading_seen: np.ndarray | None = None

    def heading_known(self) -> np.ndarray:
        return np.zeros(len(self.kind), bool) if self.heading_seen is None else self.heading_seen


def _empty_users() -> RoadUsers:
    z = np.zeros(0)
    return RoadUsers(np.zeros((0, 2)), np.zeros((0, 2)), z, z, z, z)


@dataclass
class _Trusted:
    """A near walker's or cyclist's last trusted state, carried on at its ground velocity (ego frame)."""

    centre_m: np.ndarray  # (2,) [m]
    velocity_m_s: np.ndarray  # (2,) over the ground [m/s]
    half_length_m: float
    half_width_m: float
    heading_rad: float
    kind: str
    age_frames: int
    coasted_s: float = 0.0  # how long it has been carried on without a trusted reading [s]


def _stack(a: SeenUsers, b: SeenUsers) -> SeenUsers:
    u, v = a.users, b.users
    decel = [x.decel_m_s2 if x.decel_m_s2 is not None else np.zeros(len(x)) for x in (u, v)]
    users = RoadUsers(*(np.concatenate([getattr(u, f), getattr(v, f)]) for f in
                        ("centre_m", "velocity_m_s", "yaw_rate_rad_s", "half_length_m", "half_width_m", "heading_rad")),
                      np.concatenate(decel))
    return SeenUsers(users, np.concatenate([a.age_frames, b.age_frames]).astype(int), np.concatenate([a.depth_agrees, b.depth_agrees]),
                     (*a.kind, *b.kind), np.concatenate([a.gap_m, b.gap_m]), np.concatenate([a.track_id, b.track_id]),
                     np.concatenate([a.cut_beside, b.cut_beside]), np.concatenate([a.heading_known(), b.heading_known()]))


def _select(seen: SeenUsers, keep: np.ndarray) -> SeenUsers:
    u = seen.users
    users = RoadUsers(*(getattr(u, f)[keep] for f in ("centre_m", "velocity_m_s", "yaw_rate_rad_s", "half_length_m",
                                                      "half_width_m", "heading_rad")),
                      None if u.decel_m_s2 is None else u.decel_m_s2[keep])
    return SeenUsers(users, seen.age_frames[keep], seen.depth_agrees[keep], tuple(np.asarray(seen.kind, object)[keep]),
                     seen.gap_m[keep], seen.track_id[keep], seen.cut_beside[keep], seen.heading_known()[keep])


def _seen_of(states: dict[int, "_Trusted"]) -> SeenUsers:
    c = list(states.values())
    n = len(c)
    users = RoadUsers(np.array([x.centre_m for x in c]).reshape(n, 2), np.array([x.velocity_m_s for x in c]).reshape(n, 2),
                      np.zeros(n), np.array([x.half_length_m for x in c]), np.array([x.half_width_m for x in c]),
                      np.array([x.heading_rad for x in c]), np.zeros(n))
    return SeenUsers(users, np.array([x.age_frames for x in c], int), np.zeros(n, bool), tuple(x.kind for x in c),
                     np.array([x.centre_m[0] - x.half_length_m - CAMERA_TO_BUMPER_M for x in c]),
                     np.fromiter(states, np.int64, n), np.zeros(n, bool))


def _centre(point_m: np.ndarray, size_m: np.ndarray, heading_rad: np.ndarray) -> np.ndarray:
    """Footprint centres (N, 2): the reported point is the face nearest the camera, the centre lies half the
    body's depth (along x, for a body along ``heading_rad``) beyond it."""
    half_depth = 0.5 * (size_m[:, 0] * np.abs(np.cos(heading_rad)) + size_m[:, 1] * np.abs(np.sin(heading_rad)))
    centre = point_m.copy()
    centre[:, 0] += np.where(point_m[:, 0] > 0.0, half_depth, 0.0)
    return centre


class RoadUserTracker:
    """Per-episode memory of tracks: consecutive frames seen, last ground-velocity direction, yaw rate."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        # id -> (age [frames], ground heading [rad] (NaN: too slow), yaw rate [rad/s], where it should be next frame,
        #       frames missed, ground speed [m/s], braking [m/s^2], body heading when it last clearly moved, in the
        #       ground-fixed frame of ``_ego_yaw_rad`` [rad] (NaN: never), when that was [s])
        self._tracks: dict[int, tuple] = {}
        self._ego_yaw_rad = 0.0  # the ego's heading since the episode's start, integrated from its yaw rate [rad]
        self._trusted: dict[int, _Trusted] = {}  # near walkers and cyclists: the last trusted state (COAST_*)
        self._time_s: float | None = None
        self._next_untracked = -2  # ids handed to untracked objects (-1 is "untracked" in Detections)

    def update(self, frame: PerceptionFrame | None, f: Decoded) -> SeenUsers:
        """This frame's road users (``frame`` when given, else the feature vector ``f``)."""
        t = frame.timestamp_s if frame is not None else (self._time_s or 0.0) + FRAME_DT_S
        dt = t - self._time_s if self._time_s is not None and t > self._time_s else FRAME_DT_S
        self._time_s = t
        self._ego_yaw_rad += (f.yaw_rate_rad_s if np.isfinite(f.yaw_rate_rad_s) else 0.0) * dt
        if frame is not None:
            cls, ids, point, rel_vel, depth_ok, edge_cut = _from_frame(frame)
        else:
            cls, ids, point, rel_vel, depth_ok, edge_cut = _from_features(f)
        if len(cls) == 0:
            self._tracks = self._missed({}, f.speed_m_s, dt)
            return self._coast(SeenUsers(_empty_users(), np.zeros(0, int), np.zeros(0, bool), (), np.zeros(0),
                                         np.zeros(0, np.int64), np.zeros(0, bool)), f.speed_m_s, dt)
        size = np.array([CLEARANCE_SIZE_M[int(c)] for c in cls], np.float64)
        vel = np.nan_to_num(rel_vel, nan=-np.inf)  # unknown velocity: standing on the ground (below)
        unknown = ~np.all(np.isfinite(vel), axis=1)
        vel[unknown] = (-f.speed_m_s, 0.0)
        vel = vel + (f.speed_m_s, 0.0)
        speed = np.hypot(vel[:, 0], vel[:, 1])
        # slower than its class's floor: standing (box-foot jitter, not motion); faster than its class can go: a
        # track glitch, taken as standing too (what stands beside the path stays out of it)
        kind = tuple(KIND_NAMES.get(int(c), "vehicle") for c in cls)
        floor = np.array([STILL_BELOW_M_S[k] for k in kind])
        cap = np.array([MAX_SPEED_M_S[k] for k in kind])
        still = (speed < floor) | (speed > cap)
        if frame is not None:  # a vehicle track's first velocities come from a few box feet: standing until it matures
            prev_age = np.array([self._tracks.get(int(t), (0,))[0] for t in ids])
            still |= (prev_age + 1 < VEHICLE_VELOCITY_MIN_FRAMES) & np.array([k == "vehicle" for k in kind])
        vel[still] = 0.0
        speed = np.hypot(vel[:, 0], vel[:, 1])
        motion = np.arctan2(vel[:, 1], vel[:, 0])  # its direction of travel, tracked for the yaw rate [rad]
        # the body lies along the motion only when it clearly moves: a parked car's drift must not turn it across the path
        # ... and otherwise along the lane where one is seen (a parked car lines up with the road, not with a car
        # still turning out of a junction, whose axis is then up to ~20 degrees off the lane's)
        road = -f.heading_error_rad if f.lane_known and np.isfinite(f.heading_error_rad) else 0.0
        # ... but not a box cut by the image's edge: its place is the placement's guess, which jumps as the box
        # grows or shrinks, and its fitted velocity with it (validation route 800033 from the models: a car pulling
        # up beside the car, cut by the right edge, read moving sideways at 3 m/s for a moment and kept that 101
        # degrees standing beside it for the memory's 30 s: across the left turn's corridor, it held the car
        # through two greens)
        along_motion = (speed >= BODY_ALONG_MOTION_M_S) & ~edge_cut
        heading = np.where(along_motion, motion, road)
        centre = _centre(point, size, heading)
        ids = self._associate(ids, centre, vel, dt)
        trust_m = frame.sure_range_m if frame is not None else LATERAL_TRUST_RANGE_M
        far = np.hypot(point[:, 0], point[:, 1]) > trust_m  # keeps its lateral place until nearer (below)
        # a body that moved and has slowed keeps the direction it had (in this frame: less the ego's turn since);
        # one moving beyond the sure range is not remembered: its lateral velocity, and so its direction, is noise
        body_ground, body_t = np.full(len(cls), np.nan), np.full(len(cls), np.nan)
        for k, tid in enumerate(ids.tolist()):
            prev = self._tracks.get(tid)
            if along_motion[k] and not far[k]:
                body_ground[k], body_t[k] = motion[k] + self._ego_yaw_rad, t
            elif prev is not None and math.isfinite(prev[7]) and t - prev[8] <= BODY_HEADING_MEMORY_S:
                body_ground[k], body_t[k] = prev[7], prev[8]
                if not along_motion[k]:
                    heading[k] = prev[7] - self._ego_yaw_rad
        centre = _centre(point, size, heading)
        n = len(cls)
        age, yaw_rate, decel, tracks = np.ones(n, int), np.zeros(n), np.zeros(n), {}
        # where each should be next frame (its own motion, less the ego's), for every one at once: per road user
        # this loop's small numpy calls were most of the tracker's time (math on scalars likewise)
        expected = centre + vel * dt - (f.speed_m_s * dt, 0.0)
        for k, tid in enumerate(ids.tolist()):
            prev = self._tracks.get(tid)
            if prev is not None:
                age[k] = prev[0] + 1
                if speed[k] > YAW_RATE_MIN_SPEED_M_S and math.isfinite(prev[1]):
                    turn = (motion[k] - prev[1] + np.pi) % (2 * np.pi) - np.pi
                    raw = turn / dt + f.yaw_rate_rad_s
                    yaw_rate[k] = (1 - YAW_RATE_SMOOTHING) * prev[2] + YAW_RATE_SMOOTHING * raw
                if not still[k] and prev[4] == 0 and prev[5] > 0.0:  # braking: the fall of its ground speed
                    raw = min(max((prev[5] - speed[k]) / dt, -MAX_DECEL_M_S2), MAX_DECEL_M_S2)  # signed: noise averages out
                    decel[k] = (1 - DECEL_SMOOTHING) * prev[6] + DECEL_SMOOTHING * raw
            tracks[tid] = (int(age[k]), motion[k] if speed[k] > YAW_RATE_MIN_SPEED_M_S else np.nan, yaw_rate[k],
                           expected[k], 0, speed[k], decel[k], body_ground[k], body_t[k])
        self._tracks = self._missed(tracks, f.speed_m_s, dt)
        yaw_rate = np.clip(yaw_rate, -MAX_YAW_RATE_RAD_S, MAX_YAW_RATE_RAD_S)
        vel[far, 1] = 0.0
        yaw_rate[far] = 0.0
        users = RoadUsers(centre, vel, yaw_rate, size[:, 0] / 2, size[:, 1] / 2, heading, np.maximum(decel, 0.0))
        # a cut box beside the path: its body's lateral place is a guess (perception.placement.side_cut_lateral)
        beside = edge_cut & (np.abs(point[:, 1]) > EGO_CLEARANCE_HALF_WIDTH_M)
        return self._coast(SeenUsers(users, age, depth_ok, kind, point[:, 0] - CAMERA_TO_BUMPER_M, ids, beside,
                                     np.isfinite(body_ground)),
                           f.speed_m_s, dt)

    def _coast(self, seen: SeenUsers, ego_speed_m_s: float, dt: float) -> SeenUsers:
        """``seen`` with each near walker's or cyclist's untrusted reading replaced by its carried-on trusted state,
        and the lost ones added (see COAST_*); the trusted states updated."""
        for state in self._trusted.values():  # to this frame: its own motion, less the ego's
            state.centre_m = state.centre_m + state.velocity_m_s * dt - (ego_speed_m_s * dt, 0.0)
        u, keep, carried = seen.users, np.ones(len(seen.kind), bool), {}
        moving_all = np.any(u.velocity_m_s != 0.0, axis=1)  # per road user, as below: for all at once
        range_m = np.hypot(u.centre_m[:, 0], u.centre_m[:, 1])
        for k, tid in enumerate(seen.track_id.tolist()):
            state = self._trusted.get(tid)
            moving = bool(moving_all[k])
            if state is not None:
                gate = COAST_GATE_M + COAST_GATE_REL * float(range_m[k])
                if float(np.hypot(*(u.centre_m[k] - state.centre_m))) > gate:  # a jump: the reading is not trusted
                    keep[k], carried[tid] = False, state
                    state.coasted_s += dt
                    continue
                del self._trusted[tid]  # a trusted reading: refreshed below if it still qualifies
            if (seen.kind[k] in COAST_KINDS and moving and seen.age_frames[k] >= COAST_MIN_AGE_FRAMES
                    and float(range_m[k]) < COAST_RANGE_M):
                self._trusted[tid] = _Trusted(u.centre_m[k].copy(), u.velocity_m_s[k].copy(), float(u.half_length_m[k]),
                                              float(u.half_width_m[k]), float(u.heading_rad[k]), seen.kind[k],
                                              int(seen.age_frames[k]))
        here = set(seen.track_id.tolist())
        for tid, state in self._trusted.items():  # lost this frame
            if tid not in here:
                state.coasted_s += dt
                carried[tid] = state
        for tid, state in list(carried.items()):
            state.age_frames += 1
            if state.coasted_s > COAST_MAX_S or state.centre_m[0] < 0.0:  # too long unseen, or passed
                del carried[tid]
                self._trusted.pop(tid, None)
        if keep.all() and not carried:
            return seen
        mine = _select(seen, keep)
        return _stack(mine, _seen_of(carried)) if carried else mine

    def _missed(self, tracks: dict, ego_speed_m_s: float, dt: float) -> dict:
        """``tracks`` plus the earlier ones not seen this frame that may still come back (their age kept,
        their expected place moved on as if standing still)."""
        for tid, (age, heading, yaw_rate, expected, missed, speed, decel, body, body_t) in self._tracks.items():
            if tid not in tracks and missed < MAX_MISSED_FRAMES:
                tracks[tid] = (age, heading, yaw_rate, expected - (ego_speed_m_s * dt, 0.0), missed + 1, speed, decel,
                               body, body_t)
        return tracks

    def _associate(self, ids: np.ndarray, centre: np.ndarray, vel: np.ndarray, dt: float) -> np.ndarray:
        """Track ids for untracked objects (id < 0): the nearest last-frame untracked object where this one
        was predicted to be, within the gate; a new id otherwise."""
        ids = ids.copy()
        free = {tid: tr[3] for tid, tr in self._tracks.items() if tid <= -2}
        for k in np.flatnonzero(ids < 0):
            gate = ASSOCIATION_GATE_M + ASSOCIATION_GATE_REL * float(np.hypot(*centre[k]))
            best, best_d = None, gate
            for tid, expected in free.items():
                d = float(np.hypot(*(centre[k] - expected)))
                if d < best_d:
                    best, best_d = tid, d
            if best is None:
                best = self._next_untracked
                self._next_untracked -= 1
            else:
                del free[best]
            ids[k] = best
        return ids


def _from_frame(pf: PerceptionFrame):
    d = pf.detections
    keep = np.flatnonzero(in_classes(d.class_id, OBSTACLE_CLASSES) & np.all(np.isfinite(d.position_m), axis=1))
    d = d.select(keep)
    height, width = pf.image_size[:2]
    edge_cut = np.logical_or(*cut_sides(d.xyxy, width))  # perception's rule: NaN boxes (labels without a camera) never
    # a vehicle cut by the image's bottom is within ~5 m: ranged from depth, its place swings as the box shrinks
    # while the car drives past, and its fitted velocity with it (parked cars at the kerb "moved" 3-5 m/s
    # towards the path: most of the full brakes from the models on town seed 800009, session 17). Walkers and
    # cyclists keep their say: they do step out that near (and coast, above)
    walker = in_classes(d.class_id, (PEDESTRIAN_CLASS, CYCLIST_CLASS))
    edge_cut |= (d.xyxy[:, 3] >= height - 1.0) & ~walker
    return (d.class_id, d.track_id.astype(np.int64), d.position_m.astype(np.float64), d.velocity_m_s.astype(np.float64),
            depth_agreement(pf.depth_m, pf.image_size, d.xyxy, d.position_m[:, 0]), edge_cut)


def _from_features(f: Decoded):
    col = object_column
    rows = f.objects[f.objects[:, col("present")] > 0.5]
    # the layout flags cyclists as vehicles (control.features); their width tells them from cars
    cls = np.where(rows[:, col("pedestrian")] > 0.5, PEDESTRIAN_CLASS,
                   np.where(rows[:, col("width")] * 3.0 < 1.0, CYCLIST_CLASS, 0)).astype(np.int64)
    point = np.stack([rows[:, col("x")] * DISTANCE_SCALE_M, rows[:, col("y")] * LATERAL_SCALE_M], 1)
    vel = np.stack([rows[:, col("vx")] * REL_SPEED_SCALE_M_S[0], rows[:, col("vy")] * REL_SPEED_SCALE_M_S[1]], 1)
    return cls, np.full(len(rows), -1, np.int64), point, vel, np.ones(len(rows), bool), np.zeros(len(rows), bool)


def depth_agreement(depth_m: np.ndarray | None, image_size: tuple[int, int], xyxy: np.ndarray,
                    range_m: np.ndarray) -> np.ndarray:
    """(N,) bool: the depth map's median over each box's body (the middle half of its width, its upper
    two thirds: the part above where it meets the road) lies within the tolerance of the detection's
    range. True where there is nothing to check (no depth map, no box)."""
    agrees = np.ones(len(xyxy), bool)
    if depth_m is None or depth_m.size == 0 or len(xyxy) == 0:
        return agrees
    h, w = depth_m.shape
    sx, sy = w / max(image_size[1], 1), h / max(image_size[0], 1)
    for k in np.flatnonzero(np.all(np.isfinite(xyxy), axis=1)):
        x0, y0, x1, y1 = (float(v) for v in xyxy[k])
        bw, bh = x1 - x0, y1 - y0
        c0, c1 = int((x0 + 0.25 * bw) * sx), int(np.ceil((x1 - 0.25 * bw) * sx))
        r0, r1 = int(y0 * sy), int(np.ceil((y0 + 0.67 * bh) * sy))
        patch = depth_m[max(r0, 0):min(max(r1, r0 + 1), h), max(c0, 0):min(max(c1, c0 + 1), w)]
        z = patch[patch > 0]
        if z.size == 0:
            continue
        tol = max(DEPTH_TOLERANCE_M, DEPTH_TOLERANCE_REL * float(range_m[k]))
        agrees[k] = abs(float(np.median(z)) - float(range_m[k])) <= tol
    return agrees
