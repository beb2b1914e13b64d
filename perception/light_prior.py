"""The ego's traffic light found where the map puts it, as production stacks do (Apollo's traffic-light
module: the HD map gives the signals that govern the ego's lane, they are projected into the image as
regions of interest, the detector's boxes are matched to them and the colour is recognised there).

``project_head`` places the map's head (``SignalPrior``) in the image with the camera model and says
how big it should look; ``matched_light`` picks, among the detector's light boxes, the one nearest
that point within a gate that grows with the head's expected size; ``head_state`` reads the chosen
box's lit lamp, or, where no box was found, the lamp in a small region around the projection. The
stop line's distance is the map's. Without a prior, ``perception.light_selection`` ranks every light
in view instead (the straight town, a video).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geometry import CameraModel
from .lights import HOUSING_HEIGHT_M, HOUSING_WIDTH_M, lamp_state
from .types import LIGHT_CLASSES, ROAD_USER_CLASSES, Detections, SignalPrior

# a detected box matches the map's head when its centre lies within this many expected head heights of
# the projection, or GATE_MIN_PX (the box's own quantisation and the camera's pose jitter of ~1 deg, ~3 px)
GATE_HEIGHTS = 1.0
GATE_MIN_PX = 3.0
ROI_MARGIN_PX = 1.0  # with no box there, the lamp is read in the projected head's extent grown by this on every side [px]
MIN_HEAD_HEIGHT_PX = 2.0  # a head shorter than this is not read: its lamps are below a pixel and blend away [px]
# a light box scoring below this is no detection here (the pipeline's detector keeps none below it; the
# evaluation's keeps all): the lamp is read in the projected region instead, and no low-scoring class guessed.
# Without a prior, ``light_selection.relevant_light`` takes no head below it either
MIN_BOX_SCORE = 0.25
# a stop line passed by more than this no longer governs the ego ("none"), as the light head's target
# (perception.hydranet.LIGHT_PASSED_M) and the evaluation's truth count it [m]
LIGHT_PASSED_M = 3.0


@dataclass(frozen=True)
class ProjectedHead:
    """The map's head in the image."""

    uv: tuple[float, float]  # the housing centre's pixel (x right, y down) [px]
    size_px: tuple[float, float]  # its expected width and height [px]
    in_view: bool  # the whole housing is inside the image, in front of the camera

    @property
    def readable(self) -> bool:
        """Whether its lamps can be read: whole in the image and at least MIN_HEAD_HEIGHT_PX tall. A head
        cut by the border may show only a dark lamp, which then reads as the brightest (the arrow head
        overhead, cut by the top edge, showed its dark green lamp while red)."""
        return self.in_view and self.size_px[1] >= MIN_HEAD_HEIGHT_PX

    @property
    def gate_px(self) -> float:
        """How far a detected box's centre may lie from ``uv`` and still be this head [px]."""
        return max(GATE_HEIGHTS * self.size_px[1], GATE_MIN_PX)

    def roi_xyxy(self) -> np.ndarray:
        """The region where the housing should be, grown by ROI_MARGIN_PX [px]."""
        (u, v), (w, h) = self.uv, self.size_px
        half = np.array([w, h]) / 2 + ROI_MARGIN_PX
        return np.array([u - half[0], v - half[1], u + half[0], v + half[1]])


def project_head(prior: SignalPrior, cam: CameraModel) -> ProjectedHead | None:
    """Where ``prior``'s head appears in ``cam``'s image; None when no signal governs the ego (none
    ahead, or its stop line passed by more than LIGHT_PASSED_M) or the head stands behind the camera."""
    if not prior.signal_ahead or prior.stop_line_m < -LIGHT_PASSED_M:
        return None
    x, y, z = prior.head_xyz_m
    uv, depth = cam.point_to_pixel(np.array([[x - cam.forward_m, y, z]]))  # the map's frame is the ego reference's
    if not depth[0] > 0.5:
        return None
    u, v = (float(c) for c in uv[0])
    w, h = cam.fx * HOUSING_WIDTH_M / depth[0], cam.fy * HOUSING_HEIGHT_M / depth[0]
    in_view = w / 2 <= u <= cam.width - w / 2 and h / 2 <= v <= cam.height - h / 2
    return ProjectedHead((u, v), (float(w), float(h)), bool(in_view))


def matched_light(dets: Detections, head: ProjectedHead) -> int:
    """Row in ``dets`` of the light box (scoring at least MIN_BOX_SCORE) whose centre is nearest the
    projected head, within its gate; -1 if none."""
    lights = np.flatnonzero(np.isin(dets.class_id, list(LIGHT_CLASSES)) & (dets.score >= MIN_BOX_SCORE))
    if lights.size == 0:
        return -1
    b = dets.xyxy[lights]
    gap = np.hypot((b[:, 0] + b[:, 2]) / 2 - head.uv[0], (b[:, 1] + b[:, 3]) / 2 - head.uv[1])
    k = int(np.argmin(gap))
    return int(lights[k]) if gap[k] <= head.gate_px else -1


def head_state(dets: Detections, k: int, head: ProjectedHead, image: np.ndarray) -> str:
    """The state of the map's head: box ``k``'s lit lamp (the detector's class where no lamp shows), or
    with no box (-1) the lamp in the projected region where no detected road user stands in front of it
    (a truck's red tail lights are no red light); "none" when the head is not ``readable``."""
    if not head.readable:
        return "none"
    if k >= 0:
        lamp = lamp_state(image, dets.xyxy[k])[0]
        return lamp if lamp != "none" else LIGHT_CLASSES[int(dets.class_id[k])]
    if _hidden(dets, head):
        return "none"
    return lamp_state(image, head.roi_xyxy())[0]


def _hidden(dets: Detections, head: ProjectedHead) -> bool:
    """Whether a detected road user's box (scoring at least MIN_BOX_SCORE) covers the projected head."""
    users = np.isin(dets.class_id, list(ROAD_USER_CLASSES)) & (dets.score >= MIN_BOX_SCORE)
    b = dets.xyxy[users]
    u, v = head.uv
    return bool(np.any((b[:, 0] <= u) & (u <= b[:, 2]) & (b[:, 1] <= v) & (v <= b[:, 3])))


def zoom_region_at(head: ProjectedHead, width: int, height: int, fraction: tuple[float, float]) -> tuple[tuple[float, float], tuple[float, float]]:
    """A region ``fraction`` of the image's (width, height) centred on the projected head, moved inside the
    image: ((left, top), (right, bottom)) as image fractions, like ``light_selection.LIGHT_ZOOM_REGION``."""
    fw, fh = fraction
    left = float(np.clip(head.uv[0] / width - fw / 2, 0.0, 1.0 - fw))
    top = float(np.clip(head.uv[1] / height - fh / 2, 0.0, 1.0 - fh))
    return (left, top), (left + fw, top + fh)
