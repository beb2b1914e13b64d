"""The shared vocabulary: what every layer means by a class, a light, a lane code, a size, the camera.

One definition of each; the simulator draws and labels with these values, perception learns
and reports them, control reasons with them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# ---- object classes, in YOLO class-index order (the detector's weights depend on this order)
# (cyclist and stop_sign came with the navigation towns, traffic_cone with the safety suite's lane closures,
# each appended so that the earlier ones keep their indices: a detector trained on fewer classes still loads)
CLASS_NAMES = ("car", "truck", "bus", "motorcycle", "pedestrian", "traffic_light_red", "traffic_light_yellow",
               "traffic_light_green", "cyclist", "stop_sign", "traffic_cone")
VEHICLE_CLASSES = frozenset(range(4))  # car, truck, bus, motorcycle
PEDESTRIAN_CLASS = 4
LIGHT_CLASSES = {5: "red", 6: "yellow", 7: "green"}  # class index -> light state
CYCLIST_CLASS = 8  # a rider on a bicycle: a vehicle in traffic law, a vulnerable road user in a crash
STOP_SIGN_CLASS = 9
# a traffic cone (nuScenes' and the CARLA leaderboard's construction zones): an obstacle that never moves, so its
# speed is known without being measured (from a 5-8 px box the models' range differences read it as moving)
TRAFFIC_CONE_CLASS = 10
# everything that moves on the road and must not be hit: what drivers follow, yield to and brake for
ROAD_USER_CLASSES = frozenset(VEHICLE_CLASSES | {PEDESTRIAN_CLASS, CYCLIST_CLASS})
STATIC_OBSTACLE_CLASSES = frozenset({TRAFFIC_CONE_CLASS})  # on the road, never moving
# what the drivers and the supervisor must not hit: the road users and what stands on the road
OBSTACLE_CLASSES = ROAD_USER_CLASSES | STATIC_OBSTACLE_CLASSES


def in_classes(class_id: np.ndarray, classes) -> np.ndarray:
    """``np.isin(class_id, list(classes))``: which class ids are among ``classes``. One comparison per class,
    which for a frame's dozen detections costs a few microseconds where ``np.isin`` (it sorts) costs ~25: it
    ran ~10 times a step on the drivers' path."""
    class_id = np.asarray(class_id)
    out = np.zeros(class_id.shape, bool)
    for c in classes:
        out |= class_id == c
    return out


# RGB each class is drawn in by the label and perception overlays
CLASS_COLOURS = {"car": (0, 200, 255), "truck": (255, 140, 0), "bus": (255, 220, 0), "motorcycle": (200, 0, 255),
                 "pedestrian": (255, 40, 120), "traffic_light_red": (255, 0, 0), "traffic_light_yellow": (255, 200, 0),
                 "traffic_light_green": (0, 255, 80), "cyclist": (120, 255, 200), "stop_sign": (200, 0, 40),
                 "traffic_cone": (255, 110, 20)}

# ---- sizes: the simulator's vehicle bodies (length, width, height) [m] per vehicle class index
VEHICLE_DIMS_M = {0: (4.5, 1.85, 1.5), 1: (8.5, 2.5, 3.4), 2: (11.5, 2.55, 3.1), 3: (2.1, 0.8, 1.5)}
PEDESTRIAN_SIZE_M = 0.5  # a pedestrian's square footprint side [m]
# a child: class "pedestrian", drawn shorter on the same footprint. Euro NCAP's child target is a
# 6-year-old 1.15 m tall (the safety suite's CPNC); navigation towns draw children 1.0-1.3 m
CHILD_HEIGHT_M = 1.15  # [m]
CYCLIST_DIMS_M = (1.8, 0.65, 1.75)  # a bicycle with its rider (length, width, height) [m]
STOP_SIGN_SIZE_M = (0.75, 2.6)  # the plate's width, the top of the plate above the road [m]
TRAFFIC_CONE_DIMS_M = (0.4, 0.4, 0.75)  # (length, width, height) [m]: a 75 cm road cone
# typical footprint (length, width) [m] per class index. A detector reports boxes, not sizes;
# perception and control use these where a size is needed
NOMINAL_SIZE_M = {**{c: dims[:2] for c, dims in VEHICLE_DIMS_M.items()},
                  PEDESTRIAN_CLASS: (PEDESTRIAN_SIZE_M, PEDESTRIAN_SIZE_M), CYCLIST_CLASS: CYCLIST_DIMS_M[:2],
                  TRAFFIC_CONE_CLASS: TRAFFIC_CONE_DIMS_M[:2]}
# the footprint drivers keep clear of (the rule-based drivers' in-path test, the policy's object features):
# each nominal size with at least 5 cm to spare, rounded up to 10 cm (length, width) [m]. Spawned vehicles
# vary by +-8 % around the nominal size; the drivers add their own clearance margins on top
CLEARANCE_SIZE_M = {0: (4.6, 1.9), 1: (8.6, 2.6), 2: (11.6, 2.6), 3: (2.2, 0.9), PEDESTRIAN_CLASS: (0.6, 0.6),
                    CYCLIST_CLASS: (1.9, 0.7), TRAFFIC_CONE_CLASS: (0.5, 0.5)}

# ---- traffic lights: the relevant light's state as perception reports it and the labels give it.
# "none" first: the multi-task network's light head uses these indices as its classes
LIGHT_STATES = ("none", "red", "yellow", "green")

# ---- lane-marking mask codes (labels, the multi-task network's lane classes, overlays)
LANE_NONE, LANE_EGO_LEFT, LANE_EGO_RIGHT, LANE_OTHER = 0, 1, 2, 3
LANE_CLASSES = ("none", "ego_left", "ego_right", "other")  # index = code in a lane mask


# ---- the camera
@dataclass(frozen=True)
class CameraMount:
    """Where the forward camera sits on the car and how wide it sees: the simulator's camera, and
    what perception assumes of footage unless told otherwise."""

    hfov_deg: float = 80.0  # horizontal field of view [deg]
    height_m: float = 1.4  # above the road [m]
    pitch_deg: float = -3.0  # negative looks down [deg]
    forward_m: float = 0.8  # ahead of the ego's centre (its reference point) [m]


CAMERA_MOUNT = CameraMount()
HFOV_RANGE_DEG = (20.0, 150.0)  # horizontal fields of view a pinhole model here is sound for [deg]
MOUNT_HEIGHT_RANGE_M = (0.3, 5.0)  # camera heights above the road: a low bumper to a truck cab's roof [m]

# ---- the ego vehicle
EGO_LENGTH_M, EGO_WIDTH_M = 4.6, 1.85  # the ego's body [m]
EGO_CLEARANCE_HALF_WIDTH_M = 0.93  # half the ego's width, rounded up to the centimetre: the drivers' corridor [m]
EGO_WHEELBASE_M = 2.7  # axle to axle [m]
MAX_ACCEL_M_S2 = 3.0  # the ego's acceleration at a full accelerator command [m/s^2]
MAX_BRAKE_M_S2 = 8.0  # the ego's deceleration at a full brake command, and any car's physical braking limit [m/s^2]
MAX_STEER_RAD = 0.55  # the ego's wheel angle at a full steering command [rad]
CAMERA_TO_BUMPER_M = round(EGO_LENGTH_M / 2 - CAMERA_MOUNT.forward_m, 6)  # the ego's front bumper ahead of the camera [m]
