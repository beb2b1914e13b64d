"""Carrying a trained detector onto an appended class (``perception.detector_classes``)."""

import numpy as np
import pytest
import torch

from perception.detector_classes import checkpoint_names, widen_classes
from perception.model_files import DEFAULT_DETECTOR
from perception.yolo import DetectorConfig, YoloDetector


def test_widened_checkpoint_keeps_every_old_class_and_adds_a_quiet_new_one(tmp_path):
    names = checkpoint_names(DEFAULT_DETECTOR)
    out = widen_classes(DEFAULT_DETECTOR, [*names, "road_works_sign"], tmp_path / "wide.pt")
    assert checkpoint_names(out) == [*names, "road_works_sign"]
    cfg = DetectorConfig(device="cpu")
    old, new = YoloDetector.load(DEFAULT_DETECTOR, cfg=cfg).model.model.eval(), YoloDetector.load(out, cfg=cfg).model.model.eval()
    x = torch.rand(2, 3, 160, 320)
    with torch.no_grad():
        a, b = old(x)[0], new(x)[0]  # (B, 4 + nc, anchors): boxes, then one score row per class
    n = a.shape[1]
    assert b.shape[1] == n + 1
    torch.testing.assert_close(b[:, :n], a)  # boxes and the old classes' scores unchanged
    assert float(b[:, n].max()) < 0.05  # the new class starts at a fresh head's prior (about 0.01)


def test_widening_refuses_names_that_do_not_extend_the_checkpoints(tmp_path):
    names = checkpoint_names(DEFAULT_DETECTOR)
    for bad in (names, names[:-1], ["truck", *names]):
        with pytest.raises(ValueError, match="does not extend them at the end"):
            widen_classes(DEFAULT_DETECTOR, bad, tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()
