"""Monocular geometry on a flat road: pixels <-> ground points, lane fitting in bird's-eye view,
object distances, the ego-lane corridor, the lead vehicle in it and time to collision.

Ground frame: origin on the road under the camera, x forward, y left, metres. The camera
looks along x, ``height_m`` above the road, pitched by ``pitch_rad`` (negative looks down).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from common.vocab import in_classes

from .types import OBSTACLE_CLASSES, Detections, LaneEstimate

LANE_FIT_RANGE_M = (3.0, 35.0)  # ground x range used for lane fitting [m]
MIN_LINE_POINTS = 12  # pixels a lane line needs before it is fitted
# widths a lane between two fitted lines may have [m]. 2.6 m (so that the town's 2.2 m parking strip, between
# the edge line and the kerb, is no lane: town seed 900004 drifted onto it) cost more than it saved: fits of
# real lanes read under 2.6 m often enough that the one-line fallback put held-out seeds 900012 and 900019 off
# the road (session 17)
LANE_WIDTH_RANGE_M = (2.0, 5.5)
MIN_LANE_CONFIDENCE = 0.3  # a fitted lane below this yields to the multi-task net's regression (perception.ego_lane)


@dataclass(frozen=True)
class CameraModel:
    """Pinhole intrinsics plus mounting."""

    fx: float  # [px]
    fy: float  # [px]
    cx: float  # [px]
    cy: float  # [px]
    width: int  # [px]
    height: int  # [px]
    height_m: float  # above the road [m]
    pitch_rad: float  # negative looks down [rad]
    forward_m: float = 0.0  # camera ahead of the ego's reference point [m]

    @staticmethod
    def from_fov(width: int, height: int, hfov_deg: float, height_m: float, pitch_deg: float, forward_m: float = 0.0) -> "CameraModel":
        f = (width / 2) / np.tan(np.deg2rad(hfov_deg) / 2)
        return CameraModel(f, f, width / 2, height / 2, width, height, height_m, np.deg2rad(pitch_deg), forward_m)

    @staticmethod
    def from_sim(camera_config) -> "CameraModel":
        """The model of the simulator's camera (``sim.config.CameraConfig``)."""
        c = camera_config
        return CameraModel.from_fov(c.width_px, c.height_px, c.hfov_deg, c.mount_height_m, c.pitch_deg, c.mount_forward_m)

    def scaled(self, width: int, height: int) -> "CameraModel":
        """The same camera seen at another image size (intrinsics scale with the pixels)."""
        sx, sy = width / self.width, height / self.height
        return CameraModel(self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy, width, height, self.height_m,
                           self.pitch_rad, self.forward_m)

    # camera frame: x right, y down, z forward; rows of _rot map ground-frame vectors into it
    @property
    def _rot(self) -> np.ndarray:
        p = self.pitch_rad
        fwd = np.array([np.cos(p), 0.0, np.sin(p)])  # ground frame (x fwd, y left, z up)
        right = np.array([0.0, -1.0, 0.0])
        down = np.cross(fwd, right)
        return np.stack([right, down, fwd])

    def ground_to_pixel(self, xy_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixels (N, 2) of ground points (N, 2) [m], and their camera depth (N,) [m]."""
        xy = np.asarray(xy_m, np.float64).reshape(-1, 2)
        return self.point_to_pixel(np.column_stack([xy, np.zeros(len(xy))]))

    def point_to_pixel(self, xyz_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixels (N, 2) of ground-frame points (N, 3) (x forward, y left, z up from the road under the
        camera) [m], and their camera depth (N,) [m] (a point at or behind the camera: depth <= 0)."""
        p = np.asarray(xyz_m, np.float64).reshape(-1, 3) - [0.0, 0.0, self.height_m]
        cam = p @ self._rot.T
        z = cam[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = np.stack([self.fx * cam[:, 0] / z + self.cx, self.fy * cam[:, 1] / z + self.cy], 1)
        return uv, z

    def pixel_to_ground(self, uv: np.ndarray) -> np.ndarray:
        """Ground points (N, 2) [m] seen at pixels (N, 2); NaN for pixels at or above the horizon."""
        return self.pixel_to_height(uv, 0.0)

    def pixel_to_height(self, uv: np.ndarray, z_m: float) -> np.ndarray:
        """Ground-frame (x, y) (N, 2) [m] where the rays through pixels (N, 2) reach ``z_m`` above
        the road (0 = the road itself); NaN where a ray never gets there (or only behind the camera)."""
        uv = np.asarray(uv, np.float64).reshape(-1, 2)
        rays = np.stack([(uv[:, 0] - self.cx) / self.fx, (uv[:, 1] - self.cy) / self.fy, np.ones(len(uv))], 1)
        world = rays @ self._rot  # ray directions in the ground frame
        rise = z_m - self.height_m  # [m], negative below the camera
        with np.errstate(divide="ignore", invalid="ignore"):
            t = rise / world[:, 2]
            t = np.where((np.abs(world[:, 2]) > 1e-6) & (t > 0), t, np.nan)
        return world[:, :2] * t[:, None]

    def horizon_row(self) -> float:
        """Image row of the horizon [px]."""
        return self.cy + self.fy * np.tan(self.pitch_rad)


def box_ground_points(camera: CameraModel, xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest ground point (N, 2) [m] and ground distance (N,) [m] of boxes standing on the road:
    the bottom-centre pixel of each box is where the object meets the road."""
    xyxy = np.asarray(xyxy, np.float64).reshape(-1, 4)
    foot = np.stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, xyxy[:, 3]], 1)
    # a box cut by the image bottom has its foot below the frame: its distance is an upper bound
    xy = camera.pixel_to_ground(foot)
    return xy, np.hypot(xy[:, 0], xy[:, 1])


def _fit_line(xy: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Robust quadratic y = c0 + c1 x + c2 x^2 through ground points; (coefficients, rms residual)."""
    if len(xy) < MIN_LINE_POINTS:
        return None
    x, y = xy[:, 0], xy[:, 1]
    span = np.ptp(x)
    deg = 2 if span > 12.0 else 1  # short spans cannot support a curvature term
    basis = np.vander(x, deg + 1, increasing=True)  # 1, x (, x^2)
    # pixels (nearly) all on one ground row make the system singular (polyfit's rank-deficient case): lstsq's
    # minimum-norm answer there; elsewhere solve, a quarter of lstsq's cost
    solve = np.linalg.solve if span > 0.5 else (lambda a, b: np.linalg.lstsq(a, b, rcond=None)[0])
    w = np.ones_like(x)
    for _ in range(3):  # reweight: far-off pixels (stray paint, misclassified) lose their say
        # weighted least squares by its normal equations: a (deg+1)^2 solve, a fraction of polyfit's SVD cost
        weighted = basis.T * w
        coef = solve(weighted @ basis, weighted @ y)
        r = y - basis @ coef
        scale = max(np.median(np.abs(r)) * 1.5, 0.05)
        w = 1.0 / (1.0 + (r / scale) ** 2)
    coef = np.pad(coef, (0, 3 - len(coef)))
    return coef, float(np.sqrt(np.average(r**2, weights=w)))


@functools.lru_cache(maxsize=16)
def _fit_rows(camera: CameraModel, height: int) -> slice:
    """The image rows whose ground lies within LANE_FIT_RANGE_M ahead: a pixel's distance ahead depends on its
    row alone (the camera has no roll), so the fit scans these rows only (about half the image)."""
    v = np.arange(height) + 0.5
    x = camera.pixel_to_ground(np.stack([np.full(height, camera.cx), v], 1))[:, 0]
    inside = np.flatnonzero(np.isfinite(x) & (x >= LANE_FIT_RANGE_M[0]) & (x <= LANE_FIT_RANGE_M[1]))
    return slice(int(inside[0]), int(inside[-1]) + 1) if inside.size else slice(0, 0)


def fit_lane(camera: CameraModel, lane_mask: np.ndarray, default_width_m: float = 3.5,
             max_points: int = 1500) -> LaneEstimate:
    """Lane geometry from a lane-marking class map (1 ego-left, 2 ego-right): both lines are
    lifted to the ground, fitted as quadratics, and the lane centre between them gives the
    ego's offset, heading error and curvature at the ego's reference point."""
    lines = {}
    rows = _fit_rows(camera, lane_mask.shape[0])
    band = lane_mask[rows]
    vs, us = np.nonzero(band)  # one scan of the rows the fit uses, for both lines
    codes = band[vs, us]
    vs = vs + rows.start
    for code in (1, 2):
        v, u = vs[codes == code], us[codes == code]
        if len(u) > max_points:  # thin evenly: the fit needs shape, not every pixel
            step = len(u) // max_points + 1
            v, u = v[::step], u[::step]
        xy = camera.pixel_to_ground(np.stack([u + 0.5, v + 0.5], 1))
        lines[code] = _fit_line(xy[np.isfinite(xy[:, 0])])
    left, right = lines[1], lines[2]
    if left is None and right is None:
        return LaneEstimate.unknown()
    if left is not None and right is not None:
        width = float(left[0][0] - right[0][0])
        if not LANE_WIDTH_RANGE_M[0] <= width <= LANE_WIDTH_RANGE_M[1]:  # not a lane: trust the better-fitted line alone
            left, right = (left, None) if left[1] <= right[1] else (None, right)
    if left is not None and right is not None:
        centre = (left[0] + right[0]) / 2
        width = float(left[0][0] - right[0][0])
        rms = (left[1] + right[1]) / 2
        confidence = 1.0
    else:
        line = left if left is not None else right
        sign = -1.0 if left is not None else 1.0
        centre = line[0].copy()
        centre[0] += sign * default_width_m / 2
        width = default_width_m
        rms = line[1]
        confidence = 0.5
    x0 = -camera.forward_m  # the ego's reference point, behind the camera
    y_c = centre[0] + centre[1] * x0 + centre[2] * x0**2
    slope = centre[1] + 2 * centre[2] * x0
    confidence *= float(np.exp(-rms / 0.3))
    return LaneEstimate(offset_m=float(-y_c), heading_error_rad=float(-np.arctan(slope)),
                        curvature_1_m=float(2 * centre[2]), width_m=width, confidence=confidence)


def time_to_collision(distance_m: float, closing_speed_m_s: float) -> float:
    """Seconds until contact at the current closing speed; inf when not closing."""
    if not np.isfinite(distance_m) or closing_speed_m_s <= 1e-3:
        return float("inf")
    return max(distance_m, 0.0) / closing_speed_m_s


def in_lane(position_m: np.ndarray, lane: LaneEstimate, half_width_m: float | None = None) -> np.ndarray:
    """Which ground points (N, 2) lie in the ego's lane corridor ahead (a straight-or-curved band)."""
    p = np.asarray(position_m, np.float64).reshape(-1, 2)
    half = (lane.width_m if np.isfinite(lane.width_m) else 3.5) / 2 if half_width_m is None else half_width_m
    offset = lane.offset_m if np.isfinite(lane.offset_m) else 0.0
    heading = lane.heading_error_rad if np.isfinite(lane.heading_error_rad) else 0.0
    kappa = lane.curvature_1_m if np.isfinite(lane.curvature_1_m) else 0.0
    centre_y = -offset - np.tan(heading) * p[:, 0] + 0.5 * kappa * p[:, 0] ** 2
    return (p[:, 0] > 0) & (np.abs(p[:, 1] - centre_y) < half)


def lane_lines_m(lane: LaneEstimate, ahead_m: float = 60.0, points: int = 25) -> list[np.ndarray]:
    """The ego lane's left and right lines over the next ``ahead_m``, each (points, 2) (forward, left) [m]:
    the constant-curvature lane ``in_lane`` tests against; empty when the lane is unknown."""
    if not all(np.isfinite(v) for v in (lane.offset_m, lane.heading_error_rad, lane.curvature_1_m, lane.width_m)):
        return []
    xs = np.linspace(0.0, ahead_m, points)
    centre = -lane.offset_m - np.tan(lane.heading_error_rad) * xs + 0.5 * lane.curvature_1_m * xs**2
    return [np.column_stack([xs, centre + side * lane.width_m]) for side in (0.5, -0.5)]


def lead_vehicle(dets: Detections, lane: LaneEstimate) -> tuple[int, float]:
    """Index of the nearest road user or cone in the ego's lane ahead (-1 if none) and its TTC [s]."""
    if len(dets) == 0:
        return -1, float("inf")
    relevant = in_classes(dets.class_id, OBSTACLE_CLASSES) & np.isfinite(dets.distance_m)
    ahead = relevant & in_lane(dets.position_m, lane)
    if not ahead.any():
        return -1, float("inf")
    idx = np.flatnonzero(ahead)
    k = int(idx[np.argmin(dets.distance_m[idx])])
    closing = -float(dets.velocity_m_s[k, 0]) if np.isfinite(dets.velocity_m_s[k, 0]) else 0.0
    return k, time_to_collision(float(dets.distance_m[k]), closing)
