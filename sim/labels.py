"""Ground truth for a frame: objects with 2D boxes, masks, depth, and the ego's lane geometry.

Boxes come from the instance buffer the renderer wrote with the pixels, so a box is exactly the
extent of its object's visible pixels; the visible fraction divides those pixels by the pixels
the object would cover with nothing in front of it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from functools import partial
from typing import Callable, NamedTuple

import numpy as np

from common.vocab import STOP_SIGN_CLASS, STOP_SIGN_SIZE_M
from common.vocab import CLASS_NAMES, LANE_EGO_LEFT, LANE_EGO_RIGHT, LANE_NONE, LANE_OTHER, LIGHT_CLASSES  # noqa: F401 (re-exported)

from .camera import SKY_DEPTH_M, CameraFrame
from .meshes import CROSSWALK, LINE_BASE, OTHER_LINE, ROAD, STOP_LINE
from .raster import instance_boxes
from .render_kernels import dense_label_pass
from .world import World

LIGHT_CLASS = {state: c for c, state in LIGHT_CLASSES.items()}  # light state -> class index
FACING_COS = 0.3  # a light head counts as seen when its lamps face the camera at least this much


@dataclass
class ObjectLabel:
    """One labelled object in a frame."""

    instance_id: int
    class_id: int
    class_name: str
    box_xyxy: tuple[int, int, int, int] | None  # visible pixels' extent [px], x1/y1 exclusive; None without a camera
    visible_px: int
    visible_fraction: float  # visible / unoccluded pixels, in [0, 1]
    distance_m: float  # ground distance from the camera to the nearest point of the footprint [m]
    x_m: float  # footprint centre in the ego frame: forward [m]
    y_m: float  # footprint centre in the ego frame: left [m]
    yaw_rad: float  # heading relative to the ego [rad]
    speed_m_s: float
    light_state: str | None = None  # "red" | "yellow" | "green" for traffic lights


@dataclass
class EgoTruth:
    """The ego's own situation (always available, camera or not)."""

    lane_offset_m: float  # left of the lane centre [m]
    heading_error_rad: float  # ego yaw minus lane direction [rad], positive = pointing left
    curvature_ahead_1_m: tuple[float, float, float]  # road curvature 10/20/30 m ahead [1/m], + left
    lane_index: int  # 0 = lane next to the centre line
    lanes: int  # lanes in the ego's direction
    lane_width_m: float
    speed_limit_m_s: float
    light_state: str  # next light on the route: "red" | "yellow" | "green" | "none"
    light_stop_distance_m: float  # front bumper to its stop line [m]; inf when none
    route_progress_m: float
    route_length_m: float
    # [m/s], as the speedometer reads it: rounded to float32 like the env's state vector, so relative
    # velocities computed from the labels use the very speed the policy observes
    speed_m_s: float
    # the route block, map-derived (what navigation and a map give, not perceived); navigation towns
    # only (``sim.nav_world.RouteTruth``): these defaults mean "no route block" and stay out of the JSON
    route_command: str | None = None  # one of sim.roadgraph.route.COMMANDS; None: no route block
    route_command_distance_m: float = math.inf  # to where the command applies, 0 while in it [m]
    route_waypoints_m: tuple[tuple[float, float], ...] = ()  # next route points every 5 m, ego frame (x fwd, y left) [m]
    stop_sign_distance_m: float = math.inf  # front bumper to the next stop-sign line on the route [m]; inf: none
    junction_x_m: float = math.nan  # next junction's centre on the route, ego frame [m]; nan: none
    junction_y_m: float = math.nan
    junction_radius_m: float = 0.0  # its box reaches this far from the centre [m]
    left_must_yield: bool = False  # the next movement is a left without a protected arrow: yield to oncoming
    # the next movement is a right at a light where turning on its red after a full stop is permitted (the
    # scenario's ``right_on_red``, as a sign at the junction tells a driver), yielding as at a stop sign
    right_on_red: bool = False
    # the next signal on the route as an HD map gives it (where its head stands, where its stop line is; never
    # its state, which is what the camera must see): what a stack may use as a prior for finding the light
    signal_head_xyz_m: tuple[float, float, float] = (math.nan,) * 3  # governing head's housing centre, ego frame (x fwd, y left, z up) [m]; nan: none
    signal_stop_line_m: float = math.inf  # front bumper to its stop line [m], negative past it; inf: no signal ahead
    # False where no map placed the two fields above (a straight world's follow-the-lane block): not a prior
    signal_mapped: bool = True


ROUTE_FIELDS = ("route_command", "route_command_distance_m", "route_waypoints_m", "stop_sign_distance_m",
                "junction_x_m", "junction_y_m", "junction_radius_m", "left_must_yield", "right_on_red",
                "signal_head_xyz_m", "signal_stop_line_m", "signal_mapped")
_INF_WHEN_MISSING = {"light_stop_distance_m", "route_command_distance_m", "stop_sign_distance_m", "signal_stop_line_m"}


class GroundTruth:
    """Labels of one step: the ego's situation, the labelled objects and (with a camera) dense masks.

    ``objects`` may be given as a list or as a zero-argument function that builds it: most
    steps of a training run never read the object list, so the env defers building it to the
    first read (the function holds a snapshot of the state it needs, so the list is the same
    whenever it is read).
    """

    def __init__(self, ego: EgoTruth, objects: list[ObjectLabel] | Callable[[], list[ObjectLabel]],
                 drivable: np.ndarray | None = None, lanes: np.ndarray | None = None,
                 depth_m: np.ndarray | None = None, instance: np.ndarray | None = None):
        self.ego = ego
        self._objects = objects
        self.drivable = drivable  # (H, W) bool, visible drivable surface
        self.lanes = lanes  # (H, W) uint8: 0 none, 1 ego-left, 2 ego-right, 3 other
        self.depth_m = depth_m  # (H, W) float32 [m], 0 for sky
        self.instance = instance  # (H, W) int32

    @property
    def objects(self) -> list[ObjectLabel]:
        if callable(self._objects):
            self._objects = self._objects()
        return self._objects

    @objects.setter
    def objects(self, value: list[ObjectLabel]) -> None:
        self._objects = value

    def __repr__(self) -> str:
        return f"GroundTruth(ego={self.ego!r}, objects={self.objects!r})"

    def __eq__(self, other: object) -> bool:
        """Field-wise equality, arrays compared element-wise (for determinism checks)."""
        if not isinstance(other, GroundTruth):
            return NotImplemented
        arrays = ("drivable", "lanes", "depth_m", "instance")
        same_arrays = all(
            (getattr(self, a) is None and getattr(other, a) is None)
            or (getattr(self, a) is not None and getattr(other, a) is not None and np.array_equal(getattr(self, a), getattr(other, a)))
            for a in arrays
        )
        return same_arrays and self.ego == other.ego and self.objects == other.objects

    __hash__ = None

    def to_json(self) -> dict:
        """The non-image parts as plain data (for JSON / JSONL)."""
        ego = asdict(self.ego)
        if self.ego.route_command is None:  # no route block: the straight-road worlds' JSON as before
            for name in ROUTE_FIELDS:
                del ego[name]
        return {"ego": _plain(ego), "objects": [_plain(asdict(o)) for o in self.objects]}

    @staticmethod
    def from_json(data: dict) -> "GroundTruth":
        """The inverse of ``to_json`` (a recording's ``ground_truth`` read back), without the dense masks.
        A null float (written for a non-finite value) reads back as NaN, or inf for the light distance."""
        ego = dict(data["ego"])
        for name in ("curvature_ahead_1_m", "signal_head_xyz_m"):
            if name in ego:
                ego[name] = tuple(_unplain(v) for v in ego[name])
        ego = {k: _unplain(v, math.inf if k in _INF_WHEN_MISSING else math.nan) if k in _EGO_FLOATS else v
               for k, v in ego.items()}
        if "route_waypoints_m" in ego:
            ego["route_waypoints_m"] = tuple(tuple(p) for p in ego["route_waypoints_m"])
        objects = [ObjectLabel(**{k: _unplain(v) if k in _OBJECT_FLOATS else v for k, v in o.items()}
                               | {"box_xyxy": tuple(o["box_xyxy"]) if o.get("box_xyxy") is not None else None})
                   for o in data["objects"]]
        return GroundTruth(EgoTruth(**ego), objects)


_EGO_FLOATS = {f.name for f in fields(EgoTruth) if f.type == "float"}
_OBJECT_FLOATS = {f.name for f in fields(ObjectLabel) if f.type == "float"}


def _unplain(v, missing: float = math.nan):
    return missing if v is None else v


def _plain(d: dict) -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, float) and not np.isfinite(v):
            v = None
        elif isinstance(v, tuple):  # a non-finite number inside as null too: JSON has no NaN
            v = [list(x) if isinstance(x, tuple) else None if isinstance(x, float) and not np.isfinite(x) else x
                 for x in v]
        out[k] = v
    return out


def ego_truth(world: World) -> EgoTruth:
    """The ego's labels from a ``World`` or a ``sim.nav_world.NavWorld`` (which adds the route block)."""
    f = world.frenet
    lanes, lane_width_m, speed_limit_m_s = world.ego_lane()
    state, dist, _ = world.relevant_light()
    curvature = tuple(float(c) for c in world.curvature_ahead())
    route = world.route_truth()
    # the route block as keywords of the one construction (``dataclasses.replace`` costs a second one)
    block = {} if route is None else dict(
        route_command=route.command, route_command_distance_m=route.command_distance_m,
        route_waypoints_m=route.waypoints_m, stop_sign_distance_m=route.stop_sign_distance_m,
        junction_x_m=route.junction_x_m, junction_y_m=route.junction_y_m, junction_radius_m=route.junction_radius_m,
        left_must_yield=route.left_must_yield, right_on_red=route.right_on_red,
        signal_head_xyz_m=route.signal_head_xyz_m, signal_stop_line_m=route.signal_stop_line_m,
        signal_mapped=route.signal_mapped)
    return EgoTruth(f.lane_offset_m, f.heading_error_rad, curvature, f.lane,
                    lanes, lane_width_m, speed_limit_m_s, state, dist,
                    f.s_m - world.start_s, world.goal_s - world.start_s, float(np.float32(world.ego.speed_m_s)),
                    **block)


def _ego_frame(ego_xy_yaw: tuple[float, float, float], x, y, yaw):
    ex, ey, eyaw = ego_xy_yaw
    dx, dy = x - ex, y - ey
    c, s = np.cos(eyaw), np.sin(eyaw)
    return dx * c + dy * s, -dx * s + dy * c, np.angle(np.exp(1j * (yaw - eyaw)))


def _nearest_footprint_distance(cam_xy: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Ground distance from a point to the nearest point of each oriented box (0 inside) [m]."""
    dx, dy = cam_xy[0] - boxes[:, 0], cam_xy[1] - boxes[:, 1]
    c, s = np.cos(boxes[:, 2]), np.sin(boxes[:, 2])
    lx = np.maximum(np.abs(dx * c + dy * s) - boxes[:, 3] / 2, 0.0)
    ly = np.maximum(np.abs(-dx * s + dy * c) - boxes[:, 4] / 2, 0.0)
    return np.hypot(lx, ly)


class _ObjectState(NamedTuple):
    """What ``object_labels`` reads from the world, copied where the world mutates it in place."""

    ids: object  # world.ids (InstanceTable, fixed per episode)
    traffic_xyyaw: tuple[np.ndarray, np.ndarray, np.ndarray]  # read-only pose arrays, replaced on change
    traffic_boxes: np.ndarray
    traffic_v: np.ndarray  # copy
    traffic_kind: np.ndarray  # fixed per episode
    ped_xyyaw: tuple[np.ndarray, np.ndarray, np.ndarray]
    ped_boxes: np.ndarray
    ped_speed: np.ndarray  # copy, 0 while waiting
    head_xyyaw: tuple[np.ndarray, np.ndarray, np.ndarray]  # fixed
    head_states: np.ndarray  # read-only, replaced each time step
    sign_xyyaw: tuple[np.ndarray, np.ndarray, np.ndarray]  # stop signs (navigation towns), fixed
    ego_xy_yaw: tuple[float, float, float]
    frame: CameraFrame | None  # a fresh frame per render
    cam_xy: np.ndarray


def _object_state(world: World, frame: CameraFrame | None, cam_xy: np.ndarray) -> _ObjectState:
    tr, pd, lights = world.traffic, world.peds, world.lights
    e = world.ego
    return _ObjectState(world.ids, tr.poses(), tr.boxes(), tr.v.copy(), tr.kind, pd.poses(), pd.boxes(),
                        np.where(pd.mode == 2, 0.0, pd.speed), (lights.head_x_m, lights.head_y_m, lights.head_yaw_rad),
                        lights.head_states(), lights.sign_xyyaw, (e.x_m, e.y_m, e.yaw_rad), frame, np.array(cam_xy, np.float64))


def object_labels(world: World, frame: CameraFrame | None, cam_xy: np.ndarray, reach_m: float = 120.0) -> list[ObjectLabel]:
    """Every vehicle, pedestrian, facing light head and facing stop sign: in view (with a camera) or
    within ``reach_m``.

    All objects go through the geometry in one vectorised pass (ordered by instance id, vehicles
    first); only the kept ones become ``ObjectLabel``s."""
    return _labels_of(_object_state(world, frame, cam_xy), reach_m)


def _labels_of(st: _ObjectState, reach_m: float = 120.0) -> list[ObjectLabel]:
    ids, frame, cam_xy = st.ids, st.frame, st.cam_xy
    hx, hy, hyaw = st.head_xyyaw
    n_heads = len(hx)
    states = st.head_states
    n_veh, n_ped = len(st.traffic_v), len(st.ped_speed)
    sx, sy, syaw = st.sign_xyyaw
    n_signs = len(sx)
    # light heads and stop signs count only while their faces look at the camera
    head_cls = np.where(_facing(cam_xy, hx, hy, hyaw), _LIGHT_CLASS_OF_STATE[states], -1)
    sign_cls = np.where(_facing(cam_xy, sx, sy, syaw), STOP_SIGN_CLASS, -1)
    head_boxes = np.stack([hx, hy, hyaw, np.full(n_heads, 0.3), np.full(n_heads, 0.4)], 1)
    sign_boxes = np.stack([sx, sy, syaw, np.full(n_signs, 0.1), np.full(n_signs, STOP_SIGN_SIZE_M[0])], 1)
    tx, ty, tyaw = st.traffic_xyyaw
    px, py, pyaw = st.ped_xyyaw
    x = np.concatenate([tx, px, hx, sx])
    y = np.concatenate([ty, py, hy, sy])
    yaw = np.concatenate([tyaw, pyaw, hyaw, syaw])
    bx = np.concatenate([st.traffic_boxes, st.ped_boxes, head_boxes, sign_boxes])
    speed = np.concatenate([st.traffic_v, st.ped_speed, np.zeros(n_heads + n_signs)])
    cls = np.concatenate([st.traffic_kind, np.full(n_ped, 4), head_cls, sign_cls])
    inst = np.concatenate([ids.vehicle0 + np.arange(n_veh), ids.ped0 + np.arange(n_ped), ids.light0 + np.arange(n_heads),
                           ids.stop_sign0 + np.arange(n_signs)])
    dist = _nearest_footprint_distance(cam_xy, bx)
    if frame is not None:
        boxes, counts = instance_boxes(frame.instance, ids.total)
        keep = np.flatnonzero((counts[inst] > 0) & (cls >= 0))
    else:
        keep = np.flatnonzero((dist < reach_m) & (cls >= 0))
    if keep.size == 0:
        return []
    ex, ey, eyaw = _ego_frame(st.ego_xy_yaw, x[keep], y[keep], yaw[keep])
    # plain Python numbers for the kept objects in one go (per-element numpy scalars are slow)
    k_inst, k_cls = inst[keep].tolist(), cls[keep].tolist()
    k_dist, k_x, k_y, k_yaw, k_speed = dist[keep].tolist(), ex.tolist(), ey.tolist(), eyaw.tolist(), speed[keep].tolist()
    if frame is not None:
        k_box = [tuple(b) for b in boxes[k_inst].tolist()]
        k_vis = counts[k_inst].tolist()
        k_frac = np.minimum(1.0, counts[k_inst] / np.maximum(frame.coverage[k_inst], 1)).tolist()
    else:
        k_box, k_vis, k_frac = [None] * len(keep), [0] * len(keep), [1.0] * len(keep)
    state_names = ("green", "yellow", "red")
    out = []
    for j in range(len(keep)):
        i, c = k_inst[j], k_cls[j]
        if ids.light0 <= i < ids.prop0:
            name, light = CLASS_NAMES[c], state_names[int(states[i - ids.light0])]
        else:  # vehicles (and cyclists), pedestrians, stop signs
            name, light = CLASS_NAMES[c], None
        out.append(ObjectLabel(i, c, name, k_box[j], k_vis[j], k_frac[j], k_dist[j], k_x[j], k_y[j], k_yaw[j],
                               k_speed[j], light))
    return out


_LIGHT_CLASS_OF_STATE = np.array([LIGHT_CLASS[name] for name in ("green", "yellow", "red")], np.int64)


def _facing(cam_xy: np.ndarray, x: np.ndarray, y: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """Which faces (light lamps, sign plates) looking along ``yaw`` turn toward the camera."""
    to_cam = np.stack([cam_xy[0] - x, cam_xy[1] - y], 1)
    to_cam /= np.maximum(np.linalg.norm(to_cam, axis=1, keepdims=True), 1e-6)
    return to_cam[:, 0] * np.cos(yaw) + to_cam[:, 1] * np.sin(yaw) > FACING_COS


def dense_labels(world: World, frame: CameraFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Visible drivable mask, lane-marking classes, depth [m] (0 = sky / no return).

    Drivable: road, crosswalk, stop line or any painted line, where no object covers it. Lanes:
    the ego's own left/right lane line, else any other painted marking. One fused pass
    (``sim.render_kernels.dense_label_pass``); fresh arrays every call, since the caller keeps them.
    """
    left_code, right_code = world.lane_line_codes()
    return dense_label_pass(frame.label, frame.instance, frame.depth_m, np.float32(SKY_DEPTH_M), left_code, right_code,
                            ROAD, CROSSWALK, STOP_LINE, OTHER_LINE, LINE_BASE,
                            LANE_OTHER, LANE_EGO_LEFT, LANE_EGO_RIGHT)


def ground_truth(world: World, frame: CameraFrame | None, dense: bool = True) -> GroundTruth:
    cam_xy = frame.position_m[:2] if frame is not None else np.array([world.ego.x_m, world.ego.y_m])
    state = _object_state(world, frame, cam_xy)
    gt = GroundTruth(ego_truth(world), partial(_labels_of, state))  # a partial, not a lambda: the env pickles
    if frame is not None and dense:
        gt.drivable, gt.lanes, gt.depth_m = dense_labels(world, frame)
        gt.instance = frame.instance
    return gt
