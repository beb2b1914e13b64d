"""The ego's forward pinhole camera: intrinsics, mounting, and the renderer behind it.

Camera frame (OpenCV): x right, y down, z forward [m]. ``Camera.render`` picks the triangles
near the ego (static meshes by a ``sim.chunks`` index, moving objects by distance), moves them into the
camera frame with one matrix product, and rasterises them in one numba call that writes colour,
depth, instance ids and ground labels together, so every label is exact and consistent with
the pixels by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import CameraConfig
from .chunks import ChunkIndex, RoadChunks
from .meshes import CHUNK_M, OFFROAD, SKY, Mesh
from .raster import rasterize
from .render_kernels import backdrop_pass, ground_pass

Z_NEAR_M = 0.15
SKY_DEPTH_M = 1.0e4  # depth-buffer value of the sky; exported as "no depth"
STATIC_CACHE_SIZE = 4  # gathered static selections kept per camera


@dataclass
class CameraFrame:
    """One rendered frame and its per-pixel truths."""

    rgb: np.ndarray  # (H, W, 3) uint8
    depth_m: np.ndarray  # (H, W) float32, camera-frame z [m]; SKY_DEPTH_M for sky
    instance: np.ndarray  # (H, W) int32, 0 = ground/sky
    label: np.ndarray  # (H, W) uint8 ground label (sim.meshes constants)
    coverage: np.ndarray  # (n_ids,) int32 pixels each instance would cover without occluders
    rotation: np.ndarray  # (3, 3) world -> camera
    position_m: np.ndarray  # (3,) camera centre in the world [m]


class Camera:
    def __init__(self, config: CameraConfig):
        self.config = config
        self.width, self.height = config.width_px, config.height_px
        self.fx = self.fy = (self.width / 2) / np.tan(np.deg2rad(config.hfov_deg) / 2)
        self.cx, self.cy = self.width / 2, self.height / 2
        j, i = np.meshgrid(np.arange(self.width) + 0.5, np.arange(self.height) + 0.5)
        self._rays = np.stack([(j - self.cx) / self.fx, (i - self.cy) / self.fy, np.ones_like(j)], -1)  # (H, W, 3)
        self._cached_key = None
        self._background = None
        self._stamp = np.zeros((self.height, self.width), np.int32)
        self._static_cache: dict = {}  # selection -> (static mesh, ground count), oldest first
        self._road_chunks_key = self._road_chunks = None
        self._backdrop_key = self._backdrop_rgb = None

    @property
    def intrinsics(self) -> np.ndarray:
        """3x3 pinhole matrix K [px]."""
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1.0]])

    def pose(self, x_m: float, y_m: float, yaw_rad: float, height_m: float | None = None,
             jitter_rad: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
        """World->camera rotation and camera position for an ego pose (+ yaw/pitch/roll jitter)."""
        c = self.config
        h = c.mount_height_m if height_m is None else height_m
        yaw = yaw_rad + jitter_rad[0]
        pitch = np.deg2rad(c.pitch_deg) + jitter_rad[1]
        roll = jitter_rad[2]
        fwd = np.array([np.cos(yaw) * np.cos(pitch), np.sin(yaw) * np.cos(pitch), np.sin(pitch)])
        right = np.array([np.sin(yaw), -np.cos(yaw), 0.0])
        # cross(fwd, right), written out: np.cross costs more than the rest of the pose (same float64 ops)
        down = np.array([fwd[1] * right[2] - fwd[2] * right[1], fwd[2] * right[0] - fwd[0] * right[2],
                         fwd[0] * right[1] - fwd[1] * right[0]])
        if roll:
            right, down = np.cos(roll) * right + np.sin(roll) * down, -np.sin(roll) * right + np.cos(roll) * down
        rot = np.stack([right, down, fwd])
        pos = np.array([x_m + c.mount_forward_m * np.cos(yaw_rad), y_m + c.mount_forward_m * np.sin(yaw_rad), h])
        return rot, pos

    def project(self, points_world: np.ndarray, rot: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates (N, 2) [px] and camera depth (N,) [m] of world points (N, 3)."""
        pc = (np.asarray(points_world, np.float64) - pos) @ rot.T
        z = pc[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = np.stack([self.fx * pc[:, 0] / z + self.cx, self.fy * pc[:, 1] / z + self.cy], 1)
        return uv, z

    def _ground(self, rot: np.ndarray, height_m: float) -> tuple[np.ndarray, np.ndarray]:
        """Depth of the flat ground per pixel and the sky/off-road label below/above the horizon."""
        # only pitch/roll and height matter: ground depth is invariant to yaw and position
        key = (np.round(rot @ np.array([0, 0, 1.0]), 9).tobytes(), round(height_m, 6))
        if key != self._cached_key:
            up_cam = rot @ np.array([0.0, 0.0, 1.0])  # world up in camera coordinates
            rise = self._rays @ up_cam  # metres of height gained per metre of depth along each ray
            # recomputed every frame when the pose jitters (visual randomisation): one fused pass
            self._ground_cache = ground_pass(rise, float(height_m), SKY_DEPTH_M, OFFROAD, SKY)
            self._cached_key = key
        return self._ground_cache

    def road_chunks(self, ground: Mesh, props: Mesh) -> RoadChunks:
        """The straight-road towns' chunk index of these meshes (built once per mesh pair)."""
        if self._road_chunks_key is None or self._road_chunks_key[0] is not ground or self._road_chunks_key[1] is not props:
            self._road_chunks = RoadChunks(ground.key, props.key, CHUNK_M, self.config.max_range_m)
            self._road_chunks_key = (ground, props)
        return self._road_chunks

    def _static(self, ground: Mesh, props: Mesh, chunks: ChunkIndex, key) -> tuple[Mesh, int]:
        """Ground triangles of the selection in layer order, then its props, and the ground count.

        A selection key changes only every few metres, so the gathered arrays are kept for the
        last few keys (a pose that wavers across a key boundary does not gather again)."""
        full_key = (id(ground), id(props), id(chunks), key)
        hit = self._static_cache.pop(full_key, None)
        if hit is None:
            g, pr = chunks.rows(key)
            # the sources ride along so their ids stay theirs while the entry lives
            hit = (Mesh(*(np.concatenate([getattr(ground, f)[g], getattr(props, f)[pr]])
                          for f in ("verts", "colour", "inst", "label", "key"))), len(g), (ground, props, chunks))
            if len(self._static_cache) >= STATIC_CACHE_SIZE:
                self._static_cache.pop(next(iter(self._static_cache)))
        self._static_cache[full_key] = hit  # most recent last
        return hit[0], hit[1]

    def _backdrop(self, rot: np.ndarray, height_m: float, sky: np.ndarray, grass: np.ndarray):
        """Sky/grass colour image, ground depth and label before any triangle is drawn (cached per pose key)."""
        depth0, label0 = self._ground(rot, height_m)
        key = (id(depth0), sky.tobytes(), grass.tobytes())
        if self._backdrop_key != key:
            self._backdrop_rgb = backdrop_pass(label0, np.ascontiguousarray(sky, np.uint8),
                                               np.ascontiguousarray(grass, np.uint8), OFFROAD)
            self._backdrop_key = key
        return self._backdrop_rgb, depth0, label0

    def render(self, ground: Mesh, props: Mesh, dynamic: Mesh, ego_s: float, rot: np.ndarray, pos: np.ndarray,
               n_ids: int, sky: np.ndarray, grass: np.ndarray, chunks: ChunkIndex | None = None) -> CameraFrame:
        """Rasterise the scene seen from (rot, pos). ``sky`` (H, 3) per-row colours, ``grass`` (3,).

        ``chunks`` picks the static triangles near the camera: by default the main road's chunks
        around ``ego_s``; a road graph passes its ``sim.chunks.CellChunks`` (``ego_s`` unused)."""
        if chunks is None:
            chunks = self.road_chunks(ground, props)
        static, n_ground = self._static(ground, props, chunks, chunks.key(ego_s, pos, rot[2]))
        verts = np.concatenate([static.verts, dynamic.verts])
        colour = np.concatenate([static.colour, dynamic.colour])
        inst = np.concatenate([static.inst, dynamic.inst])
        label = np.concatenate([static.label, dynamic.label])
        cam = ((verts.reshape(-1, 3) - pos.astype(np.float32)) @ rot.T.astype(np.float32)).reshape(-1, 3, 3)
        rgb0, depth0, label0 = self._backdrop(rot, float(pos[2]), sky, grass)
        rgb = rgb0.copy()
        depth = depth0.copy()
        lab = label0.copy()
        inst_buf = np.zeros((self.height, self.width), np.int32)
        self._stamp.fill(0)
        coverage = np.zeros(n_ids, np.int32)
        rasterize(np.ascontiguousarray(cam, dtype=np.float32), colour, inst, label, n_ground,
                  float(self.fx), float(self.fy), float(self.cx), float(self.cy), Z_NEAR_M,
                  rgb, depth, inst_buf, lab, self._stamp, coverage)
        return CameraFrame(rgb, depth, inst_buf, lab, coverage, rot, pos)
