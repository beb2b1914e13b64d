"""Training-time texture distractors: the fine texture real roads and roadsides have and the simulator's
flat-shaded world does not.

A model trained on the simulator alone learns shortcuts that hold there: any thin bright line on the road
is paint, any fine texture is not road. Real footage breaks both: concrete seams, cracks, tar snakes and tree
shadows draw lines across the lanes, and foliage fills the roadside with fine texture (seen on the real
images in ../shared/realdata: a joint network trained without this marked concrete seams as lane markings
and leafy trees as drivable). ``texture_distractors`` draws such things over a training image without
touching its labels: random thin strokes (bright and dark, wandering, unlike the straight paint along a
lane), soft shadows, and patches of fine noise texture. Pixels only: masks, depth, ego-lane targets and
boxes stay as they are, so the model learns that these are not paint, not road edges, not objects.
"""

from __future__ import annotations

import cv2
import numpy as np

P_IMAGE = 0.5  # probability an image gets distractors at all
STROKES = (2, 10)  # thin wandering strokes per image
STROKE_SEGMENTS = (2, 7)
SEGMENT_PX = (4, 30)  # length of one stroke segment at 320x160
SHADOWS = (0, 3)  # soft dark ellipses per image
PATCHES = (0, 3)  # fine-noise texture patches per image


def _strokes(canvas: np.ndarray, rng: np.random.Generator) -> None:
    h, w = canvas.shape[:2]
    for _ in range(rng.integers(*STROKES, endpoint=True)):
        x, y = rng.uniform(0, w), rng.uniform(h * 0.3, h)  # mostly on and beside the road
        heading = rng.uniform(0, 2 * np.pi)
        pts = [(x, y)]
        for _ in range(rng.integers(*STROKE_SEGMENTS, endpoint=True)):
            heading += rng.uniform(-1.0, 1.0)
            step = rng.uniform(*SEGMENT_PX)
            x, y = x + step * np.cos(heading), y + step * np.sin(heading)
            pts.append((x, y))
        bright = rng.random() < 0.5
        level = rng.uniform(170, 255) if bright else rng.uniform(0, 70)
        colour = tuple(float(np.clip(level + rng.normal(0, 12), 0, 255)) for _ in range(3))
        cv2.polylines(canvas, [np.round(np.asarray(pts)).astype(np.int32)], False, colour,
                      int(rng.integers(1, 3)), cv2.LINE_AA)


def _noise_patch(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """(h, w, 3) float32 fine texture: noise at 1-4 px grain, tinted like foliage, bark or concrete."""
    h, w = shape
    grain = int(rng.integers(1, 5))
    small = rng.uniform(-1, 1, (max(1, h // grain), max(1, w // grain), 1)).astype(np.float32)
    tex = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)[:, :, None]
    tint = rng.choice(np.asarray([[60, 110, 50], [90, 80, 60], [150, 150, 145], [40, 60, 35]], np.float32))
    return np.clip(tint + tex * rng.uniform(25, 70), 0, 255)


def texture_distractors(image_rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``image_rgb`` (H, W, 3) uint8 with, at probability ``P_IMAGE``, strokes, soft shadows and texture
    patches blended in (each at its own opacity); the image unchanged otherwise."""
    if rng.random() >= P_IMAGE:
        return image_rgb
    h, w = image_rgb.shape[:2]
    img = image_rgb.astype(np.float32)
    for _ in range(rng.integers(*SHADOWS, endpoint=True)):
        mask = np.zeros((h, w), np.float32)
        centre = (int(rng.uniform(0, w)), int(rng.uniform(h * 0.4, h)))
        axes = (int(rng.uniform(10, w / 3)), int(rng.uniform(4, h / 5)))
        cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), rng.uniform(2, 6))[:, :, None]
        img *= 1.0 - mask * rng.uniform(0.25, 0.55)
    for _ in range(rng.integers(*PATCHES, endpoint=True)):
        ph, pw = int(rng.uniform(h * 0.1, h * 0.4)), int(rng.uniform(w * 0.1, w * 0.35))
        y0, x0 = int(rng.uniform(0, h - ph)), int(rng.uniform(0, w - pw))
        mask = np.zeros((ph, pw), np.float32)  # a feathered blob, not a rectangle with edges to learn
        cv2.ellipse(mask, (pw // 2, ph // 2), (pw // 2, ph // 2), 0, 0, 360, 1.0, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, min(ph, pw) / 6))[:, :, None] * rng.uniform(0.3, 0.8)
        region = img[y0:y0 + ph, x0:x0 + pw]
        region[:] = (1 - mask) * region + mask * _noise_patch((ph, pw), rng)
    strokes = img.copy()
    _strokes(strokes, rng)
    alpha = rng.uniform(0.4, 0.9)
    img = (1 - alpha) * img + alpha * strokes
    return np.clip(img, 0, 255).astype(np.uint8)
