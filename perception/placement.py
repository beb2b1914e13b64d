"""Where each detected object stands on the ground, and how fast it moves relative to the ego.

``ObjectPlacement`` is the pipeline's stage: every box gets a ground position and distance (its
foot pixel on the flat road; the depth head where the foot is cut off by the image's bottom;
the body's near side for boxes cut by the image's left or right edge and for vehicles seen at an
angle close beside the path), then a velocity fitted
through its track's recent positions (``TrackHistory``).
"""

from __future__ import annotations

import math

import numpy as np

from .geometry import CameraModel, box_ground_points
from .types import NOMINAL_SIZE_M, VEHICLE_CLASSES, Detections, Odometry

SIDE_BODY_HEIGHT_M = (0.3, 3.0)  # depth pixels this high above the road belong to a cut box's object body [m]
SIDE_BODY_MIN_PX = 20  # ... and at least this many are needed to place it from them
# a vehicle box wholly to one side of the image's middle and nearer than this is placed by its near side: seen at
# an angle, its box spans its near side and its rear (or front), and the box's middle lies inside its body's
# (a car parked 2.9 m right at 3.6 m was read 1.7 m right, in the path, town route 800025 from the models) [m]
BESIDE_RANGE_M = 20.0
# ... and only when it is lined up with the road: the depth head reads its box's inner edge (INNER_EDGE_SHARE of
# the box's width) at least this share of a nominal length beyond its near end (its far end, not its near end)
LINED_UP_SHARE = 0.5
INNER_EDGE_SHARE = 0.2
# ... and by at most this much: where the depth head misjudges which end it sees (a big truck crossing 3 m ahead
# read 11 m deep at its near end, 800031), the lined-up geometry scales the bearing by the nominal length; the
# parked cars it is for move 0.3-1.1 m (800025: 1.1) [m]
BESIDE_MAX_SHIFT_M = 1.2
VELOCITY_WINDOW_S = 0.5  # track velocities are fitted over this much history [s]
MAX_RELATIVE_SPEED_M_S = 60.0  # a fitted relative velocity beyond this is a track switch, not motion
# a box whose foot lies fewer rows than this below the horizon is ranged too coarsely for its speed to be told:
# at the simulator's 320 x 160 px (fy 191 px, camera 1.4 m up) that is 35 m, where one row of box error is 13 % of
# the range; farther, the fitted speed of a standing queue read it as driving on at the ego's speed (a range
# stuck at 45 m while the car closed from 63 m), and an oncoming car as driving away [px]
SURE_FOOT_ROWS = 7.6


def sure_range_m(cam: CameraModel) -> float:
    """The range within which a road user's placement tells its speed (``PerceptionFrame.sure_range_m``) [m]."""
    return cam.height_m * cam.fy / SURE_FOOT_ROWS


class ObjectPlacement:
    """Ground position, distance and (with ``track``) relative velocity of every detected box; owns the
    track history the velocities are fitted through."""

    def __init__(self, track: bool = True):
        self.track = track  # False: the boxes carry no track ids, velocities stay unknown (NaN)
        self.history = TrackHistory()

    def reset(self) -> None:
        self.history = TrackHistory()

    def __call__(self, dets: Detections, cam: CameraModel, depth_m: np.ndarray | None, t_s: float,
                 odometry: Odometry | None = None) -> Detections:
        """``dets`` placed on the ground; ``depth_m`` (h, w) [m] is the multi-task net's depth (None without
        it), ``t_s`` the frame's time [s], ``odometry`` the car's then (``Frame.odometry``)."""
        if len(dets) == 0:
            self.history.move(t_s, odometry)  # the car moves on between the frames with something in view too
            return dets
        pos, dist = ground_positions(dets, cam, depth_m)
        vel = (self.history.update(t_s, dets.track_id, pos, odometry) if self.track
               else np.full((len(dets), 2), np.nan, np.float32))
        return Detections(dets.xyxy, dets.score, dets.class_id, dets.track_id, dist.astype(np.float32),
                          pos.astype(np.float32), vel.astype(np.float32))


def ground_positions(dets: Detections, cam: CameraModel, depth_m: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Nearest ground point (N, 2) [m] and ground distance (N,) [m] of every box: from its foot pixel on
    the flat road, or, where the foot is below the frame or never meets the road, from the median depth
    inside the box; boxes cut by a side edge are moved out to their body (``side_cut_lateral``)."""
    pos, dist = box_ground_points(cam, dets.xyxy)
    cut = dets.xyxy[:, 3] >= cam.height - 1  # foot below the frame: the flat-road distance is unreliable
    bad = ~np.isfinite(dist) | cut
    if depth_m is not None and bad.any():
        sx, sy = depth_m.shape[1] / cam.width, depth_m.shape[0] / cam.height  # depth is at the net's size
        for k in np.flatnonzero(bad):
            box = dets.xyxy[k] * np.array([sx, sy, sx, sy])
            x0, y0, x1, y1 = np.clip(box, 0, [depth_m.shape[1] - 1, depth_m.shape[0] - 1] * 2).astype(int)
            patch = depth_m[y0:y1 + 1, x0:x1 + 1]
            if patch.size:
                z = float(np.median(patch))
                u = (x0 + x1) / 2
                lateral = -(u - cam.cx) / cam.fx * z
                pos[k] = (z, lateral)
                dist[k] = float(np.hypot(z, lateral))
    return side_cut_lateral(dets, cam, beside_lateral(dets, cam, pos, depth_m), depth_m), dist


def side_cut_lateral(dets: Detections, cam: CameraModel, pos: np.ndarray, depth_m: np.ndarray | None) -> np.ndarray:
    """Lateral position of boxes cut by the image's left or right edge.

    The middle of a cut box is not the middle of the object: a car passing beside the ego fills
    a corner of the image and its box centre sits well inside the frame, which would put it in
    the ego's path. With the depth head, every pixel of the box is lifted into 3D; those standing
    above the road (SIDE_BODY_HEIGHT_M) are the object's body, and the one nearest our path among
    them (a low percentile, against stray pixels) is its near side: the centre lies half a nominal
    width beyond. The box's inner edge alone misleads here: detector boxes of cut objects run past
    the body onto the road. Without depth, the inner edge, ranged by the box, is the estimate."""
    x0, x1 = dets.xyxy[:, 0], dets.xyxy[:, 2]
    left_cut, right_cut = cut_sides(dets.xyxy, cam.width)
    cut = left_cut ^ right_cut
    if not cut.any():
        return pos
    pos = pos.copy()
    for k in np.flatnonzero(cut & np.isfinite(pos[:, 0])):
        half_w = NOMINAL_SIZE_M.get(int(dets.class_id[k]), (1.0, 1.0))[1] / 2
        near_y = _near_side_from_depth(cam, dets.xyxy[k], depth_m, bool(left_cut[k])) if depth_m is not None else None
        if near_y is None:
            inner_u = float(x1[k] if left_cut[k] else x0[k])
            near_y = -(inner_u - cam.cx) / cam.fx * float(pos[k, 0])  # [m], left positive
        centre_y = near_y + half_w if left_cut[k] else near_y - half_w
        # only ever move the point outward: a cut box never lies nearer the middle than its body says
        pos[k, 1] = max(pos[k, 1], centre_y) if left_cut[k] else min(pos[k, 1], centre_y)
    return pos


def cut_sides(xyxy: np.ndarray, width_px: float) -> tuple[np.ndarray, np.ndarray]:
    """(N,) bool each: boxes ``xyxy`` [px] cut by the left edge, by the right edge of an image ``width_px`` wide
    (NaN boxes, the labels' without a camera: neither)."""
    return xyxy[:, 0] <= 1.0, xyxy[:, 2] >= width_px - 1.0


def beside_lateral(dets: Detections, cam: CameraModel, pos: np.ndarray, depth_m: np.ndarray | None) -> np.ndarray:
    """``pos`` (a copy) with the lateral place of each vehicle box wholly to one side of the image's middle, cut
    by no edge, nearer than ``BESIDE_RANGE_M`` and lined up with the road, taken from its near side.

    Such a vehicle shows its near side and its rear (or front): the box's bottom is the near end
    (``pos``'s forward distance), its inner edge the near side's far end, a nominal length farther.
    That edge's bearing at that range is the near side; the centre lies half a nominal width beyond.
    Whether it is lined up, the depth head tells: at the box's inner edge it reads the far end (at
    least half a nominal length beyond the near end), where a vehicle crossing our path shows its
    near end (a truck crossing from the left 3 m ahead, read 12 m left by the lined-up geometry and
    driven into, town route 800031 from the models); as it can misjudge that too (there: 11 m deep),
    the move is capped (``BESIDE_MAX_SHIFT_M``). The depth head only tells which end; it is too
    blurred at a car's edge to say the side itself (lifted depth pixels put cars parked 3 m right at
    4-5 m right). Without depth, boxes keep their middle."""
    pos = pos.copy()
    if depth_m is None:
        return pos
    x0, x1 = dets.xyxy[:, 0], dets.xyxy[:, 2]
    left_cut, right_cut = cut_sides(dets.xyxy, cam.width)
    bottom_cut = dets.xyxy[:, 3] >= cam.height - 1  # its range is the depth's, not a near end's
    beside = ((x1 < cam.cx) | (x0 > cam.cx)) & np.isin(dets.class_id, list(VEHICLE_CLASSES))
    beside &= ~(left_cut | right_cut | bottom_cut)
    beside &= np.isfinite(pos[:, 0]) & (pos[:, 0] > 0.0) & (np.hypot(pos[:, 0], pos[:, 1]) < BESIDE_RANGE_M)
    for k in np.flatnonzero(beside):
        length_m, width_m = NOMINAL_SIZE_M[int(dets.class_id[k])]
        left = bool(x1[k] < cam.cx)
        near_end_m = float(pos[k, 0])
        inner_z = _inner_edge_depth(cam, dets.xyxy[k], depth_m, left)
        if inner_z is None or inner_z < near_end_m + LINED_UP_SHARE * length_m:
            continue  # across our path, or not told: its middle stays
        inner_u = float(x1[k] if left else x0[k])
        near_y = -(inner_u - cam.cx) / cam.fx * (near_end_m + length_m)  # [m], left positive
        centre_y = near_y + width_m / 2 if left else near_y - width_m / 2
        # only ever move the point outward (a box never lies nearer the middle than its body says), and not far
        pos[k, 1] = (min(max(pos[k, 1], centre_y), pos[k, 1] + BESIDE_MAX_SHIFT_M) if left
                     else max(min(pos[k, 1], centre_y), pos[k, 1] - BESIDE_MAX_SHIFT_M))
    return pos


def _inner_edge_depth(cam: CameraModel, xyxy: np.ndarray, depth_m: np.ndarray, left: bool) -> float | None:
    """The depth [m] the depth head reads at the inner edge of box ``xyxy`` (its innermost fifth, the body's
    rows above the road; a low percentile, as the blur mixes in what lies beyond); None for no pixels."""
    h, w = depth_m.shape
    sx, sy = w / cam.width, h / cam.height
    c0, r0, c1, r1 = (float(v) for v in xyxy * np.array([sx, sy, sx, sy]))
    band = max((c1 - c0) * INNER_EDGE_SHARE, 1.0)
    c0, c1 = (c1 - band, c1) if left else (c0, c0 + band)
    r1 = r0 + 0.67 * (r1 - r0)  # the body above where it meets the road
    patch = depth_m[max(int(r0), 0):min(int(np.ceil(r1)), h), max(int(c0), 0):min(int(np.ceil(c1)), w)]
    z = patch[patch > 0]
    return float(np.percentile(z, 25)) if z.size else None


def _near_side_from_depth(cam: CameraModel, xyxy: np.ndarray, depth_m: np.ndarray, left: bool) -> float | None:
    """Lateral [m] of the side nearest our path of the body inside box ``xyxy`` (see ``side_cut_lateral``);
    None when too few of its pixels stand above the road."""
    h, w = depth_m.shape
    sx, sy = w / cam.width, h / cam.height
    c0, r0, c1, r1 = np.clip(np.round(xyxy * np.array([sx, sy, sx, sy])), 0, [w, h, w, h]).astype(int)
    z = depth_m[r0:r1, c0:c1]
    if z.size == 0:
        return None
    small = cam.scaled(w, h)
    u = (np.arange(c0, c1) + 0.5 - small.cx) / small.fx
    v = (np.arange(r0, r1) + 0.5 - small.cy) / small.fy
    rot = small._rot  # ground-frame rows: (x fwd, y left, z up) = camera (right, down, fwd) @ rot
    lateral = z * (u[None, :] * rot[0, 1] + v[:, None] * rot[1, 1] + rot[2, 1])
    height = small.height_m + z * (u[None, :] * rot[0, 2] + v[:, None] * rot[1, 2] + rot[2, 2])
    body = (z > 0) & (height > SIDE_BODY_HEIGHT_M[0]) & (height < SIDE_BODY_HEIGHT_M[1])
    if body.sum() < SIDE_BODY_MIN_PX:
        return None
    lat = lateral[body]
    return float(np.percentile(lat, 10) if left else np.percentile(lat, 90))


class TrackHistory:
    """Per track id: its recent ground positions, and a velocity fitted through them.

    Box-foot distances jitter by a few per cent frame to frame; a finite difference over one
    frame (50 ms) turns a 1 m jitter at 30 m into 20 m/s. A least-squares slope over the last
    ``VELOCITY_WINDOW_S`` averages that out; implausible results (a track that jumped to another
    object) are reported as unknown.

    With the car's odometry (``Frame.odometry``) the positions are dead-reckoned into a fixed frame (where the car
    stood at the first frame) before the fit: the slope is the road user's velocity over the ground, turned into the
    camera's axes of this frame, less the car's mean speed over the same readings (so that a car and its leader
    braking alike read no closing, as the plain fit reads it): the relative velocity as the labels give it. Without
    it (a video file) the fit is in the moving camera's own frame, and a turn sweeps every velocity across (yaw
    rate x range)."""

    def __init__(self):
        self.state: dict[int, list[tuple[float, np.ndarray, float]]] = {}
        self._pose = (0.0, 0.0, 0.0)  # the camera's foot in the fixed frame: x, y [m], heading [rad]
        self._odometer_m = 0.0  # the car's distance driven [m]
        self._t_s: float | None = None

    def move(self, t_s: float, odometry: Odometry | None) -> None:
        """Dead-reckon the car on to frame time ``t_s`` (``odometry`` None: unknown, the frame stays the camera's)."""
        if odometry is not None and self._t_s is not None and t_s > self._t_s:
            dt = t_s - self._t_s
            x, y, psi = self._pose
            ds = odometry.speed_m_s * dt
            mid = psi + 0.5 * odometry.yaw_rate_rad_s * dt  # the heading halfway through the step
            self._pose = (x + ds * math.cos(mid), y + ds * math.sin(mid), psi + odometry.yaw_rate_rad_s * dt)
            self._odometer_m += ds
        self._t_s = t_s

    def update(self, t_s: float, track_id: np.ndarray, position_m: np.ndarray,
               odometry: Odometry | None = None) -> np.ndarray:
        self.move(t_s, odometry)
        x0, y0, psi = self._pose
        c, s = math.cos(psi), math.sin(psi)
        vel = np.full((len(track_id), 2), np.nan, np.float32)
        seen = {}
        for k, tid in enumerate(track_id.tolist()):
            if tid < 0 or not np.all(np.isfinite(position_m[k])):
                continue
            px, py = position_m[k].astype(np.float64)
            p_now = np.array([x0 + c * px - s * py, y0 + s * px + c * py])  # in the fixed frame
            hist = [h for h in self.state.get(tid, []) if t_s - h[0] <= VELOCITY_WINDOW_S and h[0] < t_s]
            if hist and np.hypot(*(p_now - hist[-1][1])) > MAX_RELATIVE_SPEED_M_S * (t_s - hist[-1][0]) + 2.0:
                hist = []  # the track jumped to another object: start its history again
            hist.append((t_s, p_now, self._odometer_m))
            if len(hist) >= 3:
                t = np.array([h[0] for h in hist])
                p = np.array([h[1] for h in hist])
                odo = np.array([h[2] for h in hist])
                tc = t - t.mean()
                tt = max(float((tc**2).sum()), 1e-9)
                v = (tc[:, None] * (p - p.mean(axis=0))).sum(axis=0) / tt
                speed = float((tc * (odo - odo.mean())).sum()) / tt  # the car's mean speed over these readings
                v = np.array([c * v[0] + s * v[1] - speed, -s * v[0] + c * v[1]])  # into this frame's axes, relative
                if np.all(np.abs(v) < MAX_RELATIVE_SPEED_M_S):
                    vel[k] = v
            seen[tid] = hist
        self.state = seen  # tracks not seen this frame are dropped
        return vel
