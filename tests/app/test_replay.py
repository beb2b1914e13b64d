"""`drivestack replay` end to end on a real clip and on a simulator recording, and its bad input."""

import json
from pathlib import Path

import cv2
import pytest

from drivestack.cli import main

REAL = Path(__file__).resolve().parents[3] / "shared" / "realdata" / "udacity"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Untrained models of the real architectures (replay's plumbing, not accuracy, is under test)."""
    from perception.hydranet import HydraNet, HydraNetConfig
    from perception.yolo import DetectorConfig, YoloDetector

    out = tmp_path_factory.mktemp("models")
    YoloDetector.from_yaml(DetectorConfig(device="cpu")).model.save(str(out / "det.pt"))
    HydraNet(HydraNetConfig()).save(out / "hyd.pt")
    # torch: an ONNX export of these throwaway weights would be most of the run (the backends agree: test_onnx_backend)
    return ["--detector", str(out / "det.pt"), "--hydranet", str(out / "hyd.pt"), "--device", "cpu", "--backend", "torch",
            "--quiet"]


def _frames(path):
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    return n


@pytest.mark.skipif(not REAL.is_dir(), reason="shared/realdata not present")
def test_replay_real_clip(models, tmp_path):
    out = tmp_path / "r"
    assert main(["replay", str(REAL / "videos" / "highway_cars.mp4"), "--out", str(out), "--max-frames", "6", *models]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 6 and summary["error"] is None
    assert summary["far_field"] is False  # off for footage unless asked (--far-field)
    lines = (out / "frames.jsonl").read_text().splitlines()
    assert len(lines) == 6 and json.loads(lines[-1])["image_size"] == [720, 1280]
    assert _frames(out / "annotated.mp4") == 6
    far = tmp_path / "far"
    assert main(["replay", str(REAL / "videos" / "highway_cars.mp4"), "--out", str(far), "--max-frames", "2", "--far-field",
                 *models]) == 0
    assert json.loads((far / "summary.json").read_text())["far_field"] is True


@pytest.mark.slow
def test_replay_sim_recording_is_scored(tmp_path):
    """The shipped models, replayed over a recorded drive, score against its labels as they score on fresh frames."""
    run = tmp_path / "drive"
    assert main(["drive", "--route-length", "60", "--seed", "1", "--perception", "labels", "--out", str(run), "--quiet"]) == 0
    out = tmp_path / "r"
    assert main(["replay", str(run / "episode-000"), "--out", str(out), "--max-frames", "5", "--device", "cpu",
                 "--backend", "torch", "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 5
    acc = summary["accuracy"]
    car = acc["detection"]["per_class"]["car"]
    # measured: lane offset error 0.002 m; cars precision 0.94 (15 of 16), recall 0.60 (15 of 25)
    assert acc["lane_offset_median_abs_error_m"] <= 0.06
    assert car["tp"] + car["fn"] >= 10 and car["precision"] >= 0.9 and car["recall"] >= 0.5


@pytest.mark.parametrize("make, needle", [
    (lambda d: str(d / "missing.mp4"), "no such file"),
    (lambda d: (d / "notes.mp4").write_text("not a video") and str(d / "notes.mp4"), "not a readable video"),
    (lambda d: (d / "empty").mkdir() or str(d / "empty"), "no images"),
])
def test_replay_bad_source(models, tmp_path, capsys, make, needle):
    out = tmp_path / "r"
    assert main(["replay", make(tmp_path), "--out", str(out), *models]) == 2
    err = capsys.readouterr().err
    assert needle in err and not out.exists()


def test_replay_refuses_existing_output_and_missing_weights(models, tmp_path, capsys):
    out = tmp_path / "r"
    out.mkdir()
    assert main(["replay", "x.mp4", "--out", str(out), *models]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["replay", "x.mp4", "--out", str(tmp_path / "q"), "--detector", str(tmp_path / "nope.pt")]) == 2
    assert "do not exist" in capsys.readouterr().err


def _video_shape(path):
    cap = cv2.VideoCapture(str(path))
    return _frames(path), (int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)))


def test_replay_folder_of_mixed_sizes(models, tmp_path):
    """Each image is processed at its own size; the video is filmed at the first one's size, or --size."""
    import numpy as np

    folder = tmp_path / "mixed"
    folder.mkdir()
    sizes = [(160, 320), (360, 640), (100, 100)]  # (H, W)
    for k, (h, w) in enumerate(sizes):
        cv2.imwrite(str(folder / f"f{k}.png"), np.random.default_rng(k).integers(0, 255, (h, w, 3), dtype=np.uint8))
    out = tmp_path / "r"
    assert main(["replay", str(folder), "--out", str(out), *models]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 3 and summary["error"] is None and summary["complete"] is True
    assert [json.loads(line)["image_size"] for line in (out / "frames.jsonl").read_text().splitlines()] == [list(s) for s in sizes]
    assert _video_shape(out / "annotated.mp4") == (3, sizes[0])
    assert not (out / "INCOMPLETE").exists()

    sized = tmp_path / "sized"
    assert main(["replay", str(folder), "--out", str(sized), "--size", "200x120", *models]) == 0
    assert _video_shape(sized / "annotated.mp4") == (3, (120, 200))
    assert json.loads((sized / "summary.json").read_text())["video_size_px"] == [200, 120]


def test_fit_to_keeps_the_aspect_ratio_on_black_bars():
    import numpy as np

    from drivestack.replay import fit_to

    tall = np.full((100, 50, 3), 200, np.uint8)
    fitted = fit_to(tall, 200, 100)
    assert fitted.shape == (100, 200, 3)
    assert (fitted[:, 75:125] == 200).all() and not fitted[:, :75].any() and not fitted[:, 125:].any()
