"""A rule-based driver on ground-truth labels: pure pursuit on the lane, IDM speed control,
stopping for red lights and for anything in its path. Where the labels carry a route block
(navigation towns) it follows the route instead (``sim.route_pilot``): waypoints through
junctions, stop signs, permitted lefts; without one it drives exactly as it always has.

It is the stand-in driver of ``drivestack drive`` until a learned policy exists, and the
driver that collects dataset frames. It reads only ``GroundTruth`` (what a perfect perception
stack would report), never the world itself, so it could run on perception output unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.vocab import CLASS_NAMES, CLEARANCE_SIZE_M, EGO_CLEARANCE_HALF_WIDTH_M, EGO_LENGTH_M

from .dynamics import BicycleParams
from .idm import IDMParams, idm_accel
from .labels import GroundTruth
from .route_pilot import RoutePilot

HALF_LENGTH_M = {CLASS_NAMES[c]: size[0] / 2 for c, size in CLEARANCE_SIZE_M.items()}  # [m]
HALF_WIDTH_M = {CLASS_NAMES[c]: size[1] / 2 for c, size in CLEARANCE_SIZE_M.items()}  # [m]
EGO_HALF_WIDTH_M = EGO_CLEARANCE_HALF_WIDTH_M  # [m]


@dataclass(frozen=True)
class AutopilotConfig:
    lookahead_s: float = 0.9  # pure-pursuit lookahead time [s]
    min_lookahead_m: float = 6.0  # [m]
    speed_factor: float = 0.95  # cruise at this fraction of the speed limit
    clearance_m: float = 0.3  # side clearance below which an object counts as in the path [m]
    max_lateral_accel_m_s2: float = 2.5  # slows down in curves to keep below this [m/s^2]
    stop_margin_m: float = 1.0  # stop this far before a stop line [m]


class Autopilot:
    def __init__(self, config: AutopilotConfig = AutopilotConfig(), vehicle: BicycleParams = BicycleParams()):
        self.cfg = config
        self.vehicle = vehicle
        self.idm = IDMParams(T_s=1.2, s0_m=3.0, a_m_s2=2.0, b_m_s2=3.0)
        self.route = RoutePilot(config, vehicle, self.idm, HALF_LENGTH_M, HALF_WIDTH_M, EGO_HALF_WIDTH_M)

    def act(self, gt: GroundTruth, speed_m_s: float, lateral_target_m: float = 0.0) -> np.ndarray:
        """[steer, accel] in [-1, 1] for the current labels and the ego's speed [m/s]; the car
        tracks a line ``lateral_target_m`` left of the lane centre (0: the centre), or of the
        route line when the labels carry a route."""
        if gt.ego.route_command is not None:
            return np.array([self.route.steer(gt, speed_m_s, lateral_target_m), self.route.accel(gt, speed_m_s)],
                            np.float32)
        return np.array([self._steer(gt, speed_m_s, lateral_target_m), self._accel(gt, speed_m_s)], np.float32)

    def _steer(self, gt: GroundTruth, v: float, lateral_target_m: float = 0.0) -> float:
        e = gt.ego
        look = max(self.cfg.min_lookahead_m, self.cfg.lookahead_s * v)
        kappa = e.curvature_ahead_1_m[0] if look < 15 else e.curvature_ahead_1_m[1]
        # lane-centre point ``look`` metres ahead, in the ego frame (small-angle Frenet approximation)
        y_target = (lateral_target_m - e.lane_offset_m) * np.cos(e.heading_error_rad) - look * np.sin(e.heading_error_rad) + 0.5 * kappa * look**2
        curvature = 2.0 * y_target / look**2
        delta = np.arctan(curvature * self.vehicle.wheelbase_m)
        return float(np.clip(delta / self.vehicle.max_steer_rad, -1.0, 1.0))

    def _accel(self, gt: GroundTruth, v: float) -> float:
        e = gt.ego
        cruise = self.cfg.speed_factor * e.speed_limit_m_s
        kappa = max(abs(c) for c in e.curvature_ahead_1_m)
        if kappa > 1e-4:
            cruise = min(cruise, np.sqrt(self.cfg.max_lateral_accel_m_s2 / kappa))
        gap, v_lead = np.inf, 0.0
        for ob in gt.objects:
            if ob.class_name.startswith("traffic_light") or ob.x_m <= 0:
                continue
            path_y = 0.5 * e.curvature_ahead_1_m[0] * ob.x_m**2
            if abs(ob.y_m - path_y) > EGO_HALF_WIDTH_M + HALF_WIDTH_M.get(ob.class_name, 1.0) + self.cfg.clearance_m:
                continue
            g = ob.x_m - HALF_LENGTH_M.get(ob.class_name, 2.3) - EGO_LENGTH_M / 2
            if g < gap:
                gap, v_lead = g, max(0.0, ob.speed_m_s * np.cos(ob.yaw_rad))
        if e.light_state in ("red", "yellow") and e.light_stop_distance_m > -0.5:
            d = e.light_stop_distance_m - self.cfg.stop_margin_m
            comfortable = d > v * v / (2 * 3.0)
            if e.light_state == "red" or comfortable:
                if d < gap:
                    gap, v_lead = max(d, 0.05), 0.0
        a = float(idm_accel(v, cruise, gap, v_lead, self.idm))
        return float(np.clip(a / (self.vehicle.max_accel_m_s2 if a > 0 else self.vehicle.max_brake_m_s2), -1.0, 1.0))
