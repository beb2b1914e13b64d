"""Which traffic light the ego obeys, among the light heads the detector found in a frame.

``relevant_light`` ranks the detected heads (near the image centre, big, facing us, stop line not
behind us), reads the chosen one's state off its lit lamp and ranges its stop line
(``perception.lights``); ``zoomed_lights`` is the second detector pass on the upper middle of the
image that finds far heads. ``perception.pipeline.Perception`` calls both.
"""

from __future__ import annotations

import numpy as np

from .geometry import MIN_LANE_CONFIDENCE, CameraModel
from .lights import TYPICAL_LANE_WIDTH_M, lamp_state, seen_from_side, stop_line_distance_m
from .types import LIGHT_CLASSES, Detections, LaneEstimate

LIGHT_ZOOM_REGION = ((0.25, 0.125), (0.75, 0.625))  # (left, top), (right, bottom) as image fractions: where far lights stand
PASSED_LINE_M = -1.0  # a stop-line distance below this: the line is behind the vehicle's front [m]
# heads whose stop lines lie within this of the farthest one seen are taken as one stop line's heads (the
# estimate errs by ~0.5 m at the line, so two heads of our own straddle PASSED_LINE_M as we stand on it) [m]
SAME_LINE_M = 3.0
LANE_WIDTH_RANGE_M = (2.5, 4.5)  # a measured lane width outside this is not trusted for the light's stop line [m]


def zoomed_lights(detector, image: np.ndarray) -> Detections:
    """Traffic lights the detector finds in ``LIGHT_ZOOM_REGION`` of ``image``, which its letterbox
    scales up to the detector's input size; boxes in ``image``'s pixels. Untracked: the tracker
    follows the full frames."""
    h, w = image.shape[:2]
    (fx0, fy0), (fx1, fy1) = LIGHT_ZOOM_REGION
    x0, y0, x1, y1 = int(fx0 * w), int(fy0 * h), int(fx1 * w), int(fy1 * h)
    found = detector.detect(np.ascontiguousarray(image[y0:y1, x0:x1]))
    lights = found.select(np.isin(found.class_id, list(LIGHT_CLASSES)))
    xyxy = lights.xyxy + np.array([x0, y0, x0, y0], np.float32)
    return Detections(xyxy, lights.score, lights.class_id, np.full(len(lights), -1), *(
        np.full(a.shape, np.nan, np.float32) for a in (lights.distance_m, lights.position_m, lights.velocity_m_s)))


def relevant_light(dets: Detections, cam: CameraModel, lane: LaneEstimate, front_ahead_m: float,
                    image: np.ndarray | None = None) -> tuple[str, float]:
    """The traffic light the ego obeys and the distance from the vehicle's front to its stop line [m].

    Among detected lights, the one nearest the image centre weighted by size (the ego's own signal
    stands ahead, not to the side); its distance from the box's rows and the housing's known
    mounting height (``perception.lights``), with the crossing road's width taken from our lane's
    when the lane was seen. Its state is the lit lamp's colour read from ``image``
    (``perception.lights.lamp_state``) where a lamp is visible, else the detector's class: the
    detector finds housings well but confuses the states of lamps 1-2 px across."""
    lights = np.flatnonzero(np.isin(dets.class_id, list(LIGHT_CLASSES)))
    if lights.size == 0:
        return "none", float("inf")
    boxes = dets.xyxy[lights]
    centre_x = (boxes[:, 0] + boxes[:, 2]) / 2
    size = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
    score = size * dets.score[lights] / (1.0 + np.abs(centre_x - cam.width / 2) / (cam.width / 4))
    states = [LIGHT_CLASSES[int(c)] for c in dets.class_id[lights]]
    # a head seen from the side (its lit lamp at the box's edge) faces the crossing road and shows that
    # road's state, the opposite of ours: never reported as ours. When only such heads are in view (a
    # truck crossing in front hides ours) the answer is "none", and control.light_memory carries the
    # light last seen; ranking them down instead let their green stand for our red (seed 900002)
    usable = np.ones(len(lights), bool)
    if image is not None:
        for i, k in enumerate(lights):
            lamp, _, offset = lamp_state(image, dets.xyxy[k])
            if lamp == "none":
                continue
            states[i] = lamp
            usable[i] = not seen_from_side(offset, float(dets.xyxy[k, 2] - dets.xyxy[k, 0]))
    if not usable.any():
        return "none", float("inf")
    seen = lane.confidence >= MIN_LANE_CONFIDENCE and LANE_WIDTH_RANGE_M[0] <= lane.width_m <= LANE_WIDTH_RANGE_M[1]
    width = lane.width_m if seen else TYPICAL_LANE_WIDTH_M
    dist = np.array([stop_line_distance_m(cam, dets.xyxy[k], front_ahead_m, width) for k in lights])
    # a head whose stop line would already be behind us is a crossing road's near-corner head (or ours,
    # just passed): one still ahead is preferred, as the light that governs the next stop line. Heads
    # within SAME_LINE_M of the farthest count as ahead too: standing on the line, our own heads compute
    # at -0.5 to -1.3 m, and another that happened to compute 0.3 m farther must not win on that
    ahead = usable & (dist >= min(PASSED_LINE_M, float(np.max(dist[usable])) - SAME_LINE_M))
    i = int(np.argmax(np.where(ahead if ahead.any() else usable, score, -np.inf)))
    return states[i], float(dist[i])
