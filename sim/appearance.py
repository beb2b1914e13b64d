"""How a scene looks: colour palette, sky, lighting, fog, sensor noise, blur, camera jitter.

``Appearance.sample`` draws one scene's look from a seed; with randomisation off it returns
the fixed evaluation look. Per-frame effects (noise, blur, pose jitter) draw from the scene's
own generator, so the same seed gives the same frames bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from .config import RandomizationConfig
from .meshes import Palette
from .render_kernels import finish_pass

# Stand-ins for the optional inputs of ``finish_pass`` (fixed dtypes: one compiled signature).
_NO_LAMPS = np.zeros((1, 1), np.bool_)
_NO_HAZE = np.zeros((1, 1), np.float32)
_NO_FOG_COLOUR = np.zeros(3, np.float32)
_NO_NOISE = np.zeros((1, 1, 1), np.float32)


@dataclass
class Appearance:
    palette: Palette
    sky_top: np.ndarray  # (3,) float RGB at the top row
    sky_horizon: np.ndarray  # (3,) float RGB at the horizon
    grass: np.ndarray  # (3,) uint8
    brightness: float  # multiplier applied to the whole image
    night: bool
    fog_range_m: float | None  # visibility distance [m]; None: clear
    noise_std: float  # in 0-255 units
    blur_prob: float
    pose_jitter_rad: float  # per-frame std [rad]
    height_offset_m: float
    rng: np.random.Generator

    @staticmethod
    def sample(cfg: RandomizationConfig, kind: str, seed: int) -> "Appearance":
        rng = np.random.default_rng([seed, 7])
        pal = Palette()
        grass = np.array([78, 118, 58] if kind in ("town", "townnav") else [96, 122, 66], np.float64)
        sky_top = np.array([95, 140, 205.0])
        sky_hor = np.array([190, 210, 230.0])
        if not cfg.enabled:
            return Appearance(pal, sky_top, sky_hor, grass.astype(np.uint8), 1.0, False, None, 0.0, 0.0, 0.0, 0.0, rng)

        def jitter(c, amount=cfg.colour_jitter):
            return tuple(int(v) for v in np.clip(np.asarray(c) * rng.uniform(1 - amount, 1 + amount, 3), 0, 255))

        # Road surfaces range from fresh black asphalt to pale worn concrete, and verges from green
        # grass to dry summer grass and bare earth: real highways look like all of these, and a
        # network that has only seen dark asphalt does not find the road on light concrete.
        road_grey = rng.uniform(*cfg.road_grey)
        asphalt = tuple(int(v) for v in np.clip(road_grey * rng.uniform(0.94, 1.06, 3), 0, 255))
        walk_grey = float(np.clip(road_grey + rng.choice([-1, 1]) * rng.uniform(25, 60), 60, 230))
        sidewalk = tuple(int(v) for v in np.clip(walk_grey * rng.uniform(0.95, 1.05, 3), 0, 255))
        verges = np.array([[78, 118, 58], [96, 122, 66], [150, 135, 92], [128, 110, 80], [110, 112, 70]], np.float64)
        grass = np.array(jitter(verges[rng.integers(len(verges))]), np.float64)
        pal = replace(pal, asphalt=asphalt, sidewalk=sidewalk, white=jitter(pal.white, cfg.colour_jitter / 3),
                      yellow=jitter(pal.yellow, cfg.colour_jitter / 2), glass=jitter(pal.glass), cargo=jitter(pal.cargo))
        sky_top = np.array(jitter(sky_top))
        sky_hor = np.array(jitter(sky_hor))
        night = rng.random() < cfg.night_prob
        brightness = float(rng.uniform(*cfg.brightness))
        if night:
            brightness = float(rng.uniform(0.25, 0.45))
            sky_top, sky_hor = np.array([8, 10, 25.0]), np.array([30, 32, 50.0])
        fog = float(rng.uniform(*cfg.fog_range_m)) if rng.random() < cfg.fog_prob else None
        noise = float(rng.uniform(*cfg.noise_std))
        height = float(rng.normal(0.0, cfg.height_jitter_m))
        return Appearance(pal, sky_top, sky_hor, grass.astype(np.uint8), brightness, night, fog, noise, cfg.blur_prob,
                          np.deg2rad(cfg.pose_jitter_deg), height, rng)

    def sky_rows(self, height_px: int, horizon_row: float) -> np.ndarray:
        """(H, 3) uint8 sky colour per image row: a vertical gradient down to the horizon."""
        rows = np.arange(height_px) + 0.5
        t = np.clip(rows / max(horizon_row, 1.0), 0.0, 1.0)[:, None]
        return (self.sky_top * (1 - t) + self.sky_horizon * t).astype(np.uint8)

    def frame_jitter(self) -> tuple[float, float, float]:
        if self.pose_jitter_rad <= 0:
            return 0.0, 0.0, 0.0
        return tuple(float(v) for v in self.rng.normal(0.0, self.pose_jitter_rad, 3))

    def finish(self, rgb: np.ndarray, depth_m: np.ndarray, lamp_mask: np.ndarray | None) -> np.ndarray:
        """Apply lighting, fog, noise and blur to a rendered frame (a new array unless nothing applies)."""
        if self.brightness == 1.0 and self.fog_range_m is None and self.noise_std == 0.0 and self.blur_prob == 0.0:
            return rgb
        # Per-image inputs in numpy (np.exp and the generator keep their exact values and draw
        # order); the per-pixel float32 arithmetic runs in one fused pass.
        h, w, _ = rgb.shape
        use_lamps = self.night and lamp_mask is not None
        haze = _NO_HAZE
        fog_colour = _NO_FOG_COLOUR
        if self.fog_range_m is not None:
            haze = 1.0 - np.exp(-np.minimum(depth_m, 1e3) / self.fog_range_m)
            fog_colour = np.array([170, 172, 178], np.float32) * (0.35 if self.night else 1.0)
        noise = _NO_NOISE
        if self.noise_std > 0:
            noise = self.rng.normal(0.0, self.noise_std, (h, w, 3)).astype(np.float32)
        out = finish_pass(np.ascontiguousarray(rgb), np.float32(self.brightness),
                          lamp_mask if use_lamps else _NO_LAMPS, use_lamps,
                          np.ascontiguousarray(haze, np.float32), fog_colour, self.fog_range_m is not None,
                          noise, self.noise_std > 0)
        if self.blur_prob > 0 and self.rng.random() < self.blur_prob:
            k = int(self.rng.choice([3, 5]))
            out = cv2.GaussianBlur(out, (k, k), 0)
        return out
