"""Training-time camera effects: what a real dashcam adds to an image that the simulator's renderer does not.

The simulator renders sharp, noise-free, losslessly stored frames through one ideal lens; dashcam footage is
motion-blurred, sensor-noisy, JPEG- or H.264-compressed, with its own exposure curve and colour balance.
``camera_effects`` draws a few of these per training image (each with probability ``P_EACH``), photometric
only: the masks, depth, ego-lane targets and boxes stay valid unchanged. Used by the joint trainer's
``augment_camera`` (``perception.train_joint``); the card of a model trained with it says what it changed.
"""

from __future__ import annotations

import cv2
import numpy as np

P_EACH = 0.35  # probability of each effect on one image
BLUR_PX = (3, 7)  # motion-blur kernel length [px], horizontal to diagonal at 320x160
NOISE_STD = (2.0, 8.0)  # sensor noise, std in 8-bit levels
JPEG_QUALITY = (25, 80)  # recompression quality
GAMMA = (0.7, 1.4)  # exposure curve
CHANNEL_GAIN = (0.85, 1.15)  # white balance, per channel


def _motion_blur(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    length = int(rng.integers(BLUR_PX[0], BLUR_PX[1] + 1))
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0  # a horizontal streak, rotated to a random direction
    rot = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), float(rng.uniform(-45, 45)), 1.0)
    kernel = cv2.warpAffine(kernel, rot, (length, length))
    return cv2.filter2D(img, -1, kernel / max(kernel.sum(), 1e-6))


def _jpeg(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(*JPEG_QUALITY))])
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if ok else img


def camera_effects(image_rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``image_rgb`` (H, W, 3) uint8 with a random subset of motion blur, exposure (gamma), white balance,
    sensor noise and JPEG recompression, in a camera's order (optics, sensor, encoder)."""
    img = image_rgb
    if rng.random() < P_EACH:
        img = _motion_blur(img, rng)
    if rng.random() < P_EACH:
        lut = (255.0 * (np.arange(256) / 255.0) ** rng.uniform(*GAMMA)).astype(np.uint8)
        img = cv2.LUT(img, lut)
    if rng.random() < P_EACH:
        img = np.clip(img * rng.uniform(*CHANNEL_GAIN, size=3).astype(np.float32), 0, 255).astype(np.uint8)
    if rng.random() < P_EACH:
        noise = rng.normal(0.0, rng.uniform(*NOISE_STD), img.shape).astype(np.float32)
        img = np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    if rng.random() < P_EACH:
        img = _jpeg(np.ascontiguousarray(img), rng)
    return np.ascontiguousarray(img)
