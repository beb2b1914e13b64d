"""The world as the ego's camera sees it: meshes built once per episode, objects per frame."""

from __future__ import annotations

import numpy as np

from .appearance import Appearance
from .camera import Camera, CameraFrame
from .config import CameraConfig, RandomizationConfig
from .meshes import Mesh, boxes_mesh_of, build_ground, build_props, light_head_boxes, pedestrian_boxes, vehicle_boxes
from .render_kernels import lit_lamp_mask
from .chunks import ChunkIndex
from .nav_world import NavWorld
from .roadgraph.view_parts import graph_static_meshes
from .world import World

OBJECT_REACH_BEHIND_M = 12.0  # moving objects this far behind the camera can still reach into view [m]


class WorldView:
    def __init__(self, world: World | NavWorld, camera_cfg: CameraConfig, randomization: RandomizationConfig, seed: int):
        self.world = world
        self.camera = Camera(camera_cfg)
        self.look = Appearance.sample(randomization, world.params.kind, seed)
        self.ground, self.props, self.chunks = self._static_meshes()
        rot, _ = self.camera.pose(0.0, 0.0, 0.0)
        horizon = self._horizon_row(rot)
        self.sky = self.look.sky_rows(self.camera.height, horizon)
        self.last: CameraFrame | None = None

    def _static_meshes(self) -> tuple[Mesh, Mesh, ChunkIndex | None]:
        """Ground and props built once per episode, and what picks the ones near the camera (None:
        the main road's chunks, ``Camera.render``'s default)."""
        w = self.world
        if isinstance(w, NavWorld):
            static = graph_static_meshes(w.graph, w.lights, self.look.palette, self.camera.config, w.ids.prop0,
                                         w.ids.stop_sign0, w.scenario.props)
            return static.ground, static.props, static.chunks
        return (build_ground(w.scenario, self.look.palette),
                build_props(w.scenario, w.lights.heads, w.ids.prop0, self.look.palette), None)

    def _horizon_row(self, rot: np.ndarray) -> float:
        # row where a far point straight ahead at camera height projects
        fwd = rot.T @ np.array([0.0, 0.0, 1.0])
        far = np.array([fwd[0], fwd[1], 0.0]) * 1e4
        uv, _ = self.camera.project(far[None] + np.array([0, 0, self.camera.config.mount_height_m]), rot, np.zeros(3))
        return float(uv[0, 1])

    def dynamic_mesh(self, cam_pos: np.ndarray, cam_fwd: np.ndarray) -> Mesh:
        """Vehicles, pedestrians and light heads in front of the camera and within range."""
        w = self.world
        reach = self.camera.config.max_range_m

        def visible(x, y):
            dx, dy = x - cam_pos[0], y - cam_pos[1]
            ahead = dx * cam_fwd[0] + dy * cam_fwd[1]
            return (ahead > -OBJECT_REACH_BEHIND_M) & (dx * dx + dy * dy < reach * reach)

        parts = []  # box groups, drawn with one boxes_mesh call
        tr = w.traffic
        if tr.n:
            x, y, yaw = tr.poses()
            m = np.flatnonzero(visible(x, y))
            ids = (w.ids.vehicle0 + m).astype(np.int32)
            parts.append(vehicle_boxes(x[m], y[m], yaw[m], tr.kind[m], tr.dims[m], tr.colour[m], ids, self.look.palette))
        pd = w.peds
        if pd.n:
            x, y, yaw = pd.poses()
            m = np.flatnonzero(visible(x, y))
            ids = (w.ids.ped0 + m).astype(np.int32)
            parts.append(pedestrian_boxes(x[m], y[m], yaw[m], pd.height[m], pd.colour[m], pd.skin[m], ids))
        if w.lights.heads:
            hx, hy, hyaw = w.lights.head_x_m, w.lights.head_y_m, w.lights.head_yaw_rad
            m = np.flatnonzero(visible(hx, hy))
            states = w.lights.head_states()[m]
            ids = (w.ids.light0 + m).astype(np.int32)
            parts.append(light_head_boxes(hx[m], hy[m], hyaw[m], states, ids, self.look.palette))
        return boxes_mesh_of(parts)

    def render(self) -> CameraFrame:
        w = self.world
        jitter = self.look.frame_jitter()
        rot, pos = self.camera.pose(w.ego.x_m, w.ego.y_m, w.ego.yaw_rad,
                                    self.camera.config.mount_height_m + self.look.height_offset_m, jitter)
        dynamic = self.dynamic_mesh(pos, rot[2])
        frame = self.camera.render(self.ground, self.props, dynamic, w.ego_s, rot, pos, w.ids.total,
                                   self.sky, self.look.grass, self.chunks)
        lamps = None
        if self.look.night:
            lamps = lit_lamp_mask(frame.instance, frame.rgb, w.ids.light0, w.ids.prop0, 200)  # light heads' lit lamps
        frame.rgb = self.look.finish(frame.rgb, frame.depth_m, lamps)
        self.last = frame
        return frame
