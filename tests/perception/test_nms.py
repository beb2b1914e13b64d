"""The NumPy NMS gives ultralytics' rows."""

import numpy as np
import pytest
import torch


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_numpy_nms_matches_ultralytics(seed):
    from perception.yolo import ultralytics_offline

    ultralytics_offline()
    from ultralytics.utils import nms as ultra

    from perception.nms import non_max_suppression

    rng = np.random.default_rng(seed)
    anchors, classes = 2100, 8
    centre = rng.uniform(0, 320, (anchors, 2))
    centre[: anchors // 2] = rng.uniform(100, 140, (anchors // 2, 2))  # a crowd of overlapping boxes
    size = rng.uniform(4, 60, (anchors, 2))
    scores = rng.uniform(0, 1, (anchors, classes)) ** 6  # mostly low, a few confident
    pred = np.concatenate([centre, size, scores], 1).T.astype(np.float32)  # (4 + classes, anchors)
    for conf, iou, keep in ((0.25, 0.5, None), (0.1, 0.7, [0, 2, 5]), (0.5, 0.3, None)):
        want = ultra.non_max_suppression(torch.from_numpy(pred[None]), conf, iou, keep, False, max_det=50, nc=0)[0].numpy()
        got = non_max_suppression(pred, conf, iou, keep, max_det=50)
        assert len(want) > 3 and got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1e-4)
    assert non_max_suppression(pred, 1.0, 0.5).shape == (0, 6)
