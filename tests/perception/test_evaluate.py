"""Perception evaluation: the metrics' arithmetic on known cases, and the command at toy size."""

import json

import numpy as np
import pytest

from drivestack.cli import main
from perception.metrics import average_precision as _ap
from perception.metrics import iou_matrix


def test_iou_and_ap_by_hand():
    a = np.array([[0, 0, 10, 10]], float)
    b = np.array([[5, 0, 15, 10], [0, 0, 10, 10], [20, 20, 30, 30]], float)
    assert iou_matrix(a, b)[0] == pytest.approx([50 / 150, 1.0, 0.0])
    # perfect ranking: precision 1 at every recall -> AP 1; half the detections wrong first -> lower
    assert _ap(np.array([0.5, 1.0]), np.array([1.0, 1.0])) == pytest.approx(1.0)
    assert _ap(np.array([0.0, 0.5, 1.0]), np.array([0.0, 0.5, 0.667])) < 0.75


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from perception.hydranet import HydraNet, HydraNetConfig
    from perception.yolo import DetectorConfig, YoloDetector

    out = tmp_path_factory.mktemp("models")
    YoloDetector.from_yaml(DetectorConfig(device="cpu")).model.save(str(out / "det.pt"))
    HydraNet(HydraNetConfig()).save(out / "hyd.pt")
    return ["--detector", str(out / "det.pt"), "--hydranet", str(out / "hyd.pt"), "--device", "cpu"]


def test_eval_command_toy_size(models, tmp_path, capsys):
    rc = main(["eval", "perception", "--seeds", "5", "--kinds", "highway", "--frames-per-seed", "2", "--json",
               "--out", str(tmp_path / "ev"), *models])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["frames"] == 2 and set(report["detection"]) == {"ap50", "ap50_95", "at_score_0.25"}
    assert set(report["lane_f1"]) == {"ego_left", "ego_right", "other"}
    assert (tmp_path / "ev" / "pr_curves.png").is_file()
    curves = json.loads((tmp_path / "ev" / "pr_curves.json").read_text())  # the HTML report's PR plot
    assert set(curves) == {c for c, ap in report["detection"]["ap50"].items() if ap is not None}
    assert all(len(c["recall"]) == len(c["precision"]) <= 200 for c in curves.values())
    assert "PR curves at IoU 0.5" in (tmp_path / "ev" / "report.html").read_text()
    written = json.loads((tmp_path / "ev" / "report.json").read_text())
    assert {k: v for k, v in written.items() if k != "models"} == {k: v for k, v in report.items() if k != "models"}


class _Shown:
    """A pipeline stand-in: records the frames it is shown and reports a red light 10 m ahead."""

    def __init__(self):
        self.steps, self.resets = [], 0

    def reset(self):
        self.resets += 1

    def process(self, frame, truth=None, prior=None):
        from perception.types import Detections, LaneEstimate, PerceptionFrame

        self.steps.append(frame.index)
        return PerceptionFrame(frame.index, frame.timestamp_s, frame.source, frame.image.shape[:2], Detections.empty(),
                               LaneEstimate.unknown(), light_state="red", light_distance_m=10.0)


def test_light_as_driven_sees_every_frame_and_is_scored_on_the_same_frames():
    """The driving configuration runs on every frame of the drive (its tracks and zoom schedule need them);
    its light is tallied on exactly the frames the evaluation scores."""
    from perception.evaluate import EvalConfig, SeedUnit, _make_env, _Scores, score_seed

    config = EvalConfig(frames_per_seed=2, light_frames_per_seed=3, light_as_driven=True)
    env = _make_env("town", config)
    scored, driving, scores = _Shown(), _Shown(), _Scores()
    score_seed(scored, env, SeedUnit("town", 5, config, 0), scores, driving=driving)
    env.close()
    assert len(scored.steps) == 5 and driving.steps == list(range(scored.steps[-1] + 1))
    assert driving.resets == 1
    np.testing.assert_array_equal(scores.light_as_driven.confusion.matrix, scores.light.confusion.matrix)
    assert scores.light_as_driven.confusion.matrix.sum() == 5


@pytest.mark.parametrize("argv, needle", [
    (["eval", "moon"], "eval target 'moon'"),
    (["eval", "perception", "--seeds", "a-b"], "--seeds 'a-b'"),
    (["eval", "perception", "--kinds", "moon"], "--kinds 'moon'"),
])
def test_eval_bad_input(argv, needle, capsys):
    assert main(argv) == 2
    assert needle in capsys.readouterr().err
