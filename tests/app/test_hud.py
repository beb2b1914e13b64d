"""The drive view's layout: sized from the output, every text inside its box, nothing overlapping."""

import numpy as np
import pytest

from drivestack.hud import HudState, compose
from drivestack.hud_layout import ELLIPSIS, fit_text, hud_layout, text_width
from perception.types import Detections, LaneEstimate, PerceptionFrame


@pytest.mark.parametrize("camera_hw, scale", [((160, 320), 2), ((160, 320), 1), ((160, 320), 3), ((120, 200), 2), ((360, 640), 1.5)])
def test_layout_boxes_stay_in_the_panel_and_never_overlap(camera_hw, scale):
    lay = hud_layout(*camera_hw, scale)
    h, w = camera_hw
    assert lay.view.w == round(w * scale) and lay.view.h == round(h * scale)
    assert lay.size == (lay.view.h, lay.view.w + lay.panel.w) and lay.panel.w % 2 == 0 and lay.panel.w > 0
    boxes = lay.boxes()
    for a, box in enumerate(boxes):
        assert box.inside(lay.panel) and box.w > 0 and box.h > 0, box
        for other in boxes[a + 1:]:
            assert not box.overlaps(other), (box, other)
    cap = text_width("M", lay.font_scale)
    assert cap >= 0.02 * lay.view.h  # text grows with the output: readable at any size
    assert lay.bev.h > 0.25 * lay.view.h  # room left for the bird's-eye view


@pytest.mark.parametrize("width", [1, 20, 60, 150, 400])
def test_fit_text_never_overflows(width):
    text = "ppo (policy.zip) + supervisor | models | a very long policy name that cannot fit"
    fitted = fit_text(text, 0.42, width)
    assert text_width(fitted, 0.42) <= width or fitted == ""
    assert fitted == text or fitted.endswith(ELLIPSIS) or fitted == ""


def _pf():
    return PerceptionFrame(0, 0.0, "test", (160, 320), Detections.empty(), LaneEstimate(0.1, 0.0, 0.0, 3.5, 0.8))


@pytest.mark.parametrize("scale", [1, 2, 3])
def test_compose_has_the_configured_size_and_keeps_text_in_the_panel(scale):
    camera = np.zeros((160, 320, 3), np.uint8)
    hud = HudState(12.0, 13.9, 0.2, -0.5, supervisor_active=False, policy="ppo (policy.zip) + supervisor " * 4, source="models")
    view = compose(camera, _pf(), hud, scale=scale)
    lay = hud_layout(160, 320, scale)
    assert view.shape == (*lay.size, 3) and view.dtype == np.uint8
    assert not view[:, :lay.view.w].any()  # a black camera and no masks: nothing drawn over the view
    ink = view[:, lay.view.w:].astype(int) != np.array((24, 26, 30))  # panel pixels off its background
    ys, xs = np.nonzero(ink.any(2))
    margin = lay.text["title"].x0 - lay.view.w
    assert xs.min() >= margin - 3 and xs.max() < lay.panel.w - margin + 3  # the long title was elided inside


def test_supervisor_braking_frames_the_view():
    hud = HudState(12.0, 13.9, 0.0, -1.0, supervisor_active=True)
    view = compose(np.zeros((160, 320, 3), np.uint8), _pf(), hud)
    lay = hud_layout(160, 320, 2)
    assert tuple(view[0, lay.view.w // 2]) == (255, 70, 60) and tuple(view[lay.view.h // 2, 0]) == (255, 70, 60)
