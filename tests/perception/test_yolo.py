"""The YOLO adapter at toy size: build, detect, track, train one epoch, load, map names; offline."""

import itertools
import json
import logging
import socket
from pathlib import Path

import numpy as np
import pytest
import torch

from perception.types import CLASS_NAMES, Detections
from perception.yolo import DetectorConfig, YoloDetector, _lapjv_scipy, map_class_names

REPO = Path(__file__).resolve().parents[2]


class NetworkBlocked(OSError):
    pass


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Every test here runs with sockets unable to connect or resolve names. Each attempt is also kept,
    and fails the test afterwards: ultralytics catches many errors (an online check, a font fetch), so a
    refused connection alone could pass unseen."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args[1:] or kwargs)
        raise NetworkBlocked(f"network access attempted in a test: {args[1:] or kwargs}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield attempts
    assert not attempts, f"network access attempted: {attempts}"


def test_the_block_stops_ultralytics_own_downloads(no_network, tmp_path):
    """ultralytics downloads through requests / urllib3, not through a socket of ours: the block holds there too."""
    from ultralytics.utils.downloads import safe_download

    url = "https://github.com/ultralytics/assets/releases/download/v8.3.0/yolov8n.pt"
    with pytest.raises(ConnectionError, match="Download failure"):
        safe_download(url, file=tmp_path / "yolov8n.pt", retry=1, progress=False)
    assert no_network and not (tmp_path / "yolov8n.pt").exists()
    no_network.clear()  # refused on purpose


def frame(seed: int = 0, h: int = 160, w: int = 320) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def check_detections(d: Detections, nc: int = len(CLASS_NAMES)) -> None:
    n = len(d)
    assert d.xyxy.shape == (n, 4) and d.xyxy.dtype == np.float32
    assert d.score.shape == (n,) and d.score.dtype == np.float32
    assert d.class_id.dtype == np.int64 and d.track_id.dtype == np.int64
    assert d.distance_m.shape == (n,) and d.position_m.shape == (n, 2) and d.velocity_m_s.shape == (n, 2)
    assert np.isnan(d.distance_m).all() and np.isnan(d.position_m).all() and np.isnan(d.velocity_m_s).all()
    assert ((d.class_id >= 0) & (d.class_id < nc)).all()
    assert ((d.score >= 0) & (d.score <= 1)).all()


@pytest.fixture(scope="module")
def random_detector():
    torch.manual_seed(0)
    return YoloDetector.from_yaml(DetectorConfig(imgsz=320, conf=0.0, device="cpu"))


def test_config_stays_out_of_the_repo(random_detector):
    from ultralytics.utils import USER_CONFIG_DIR

    assert REPO not in Path(USER_CONFIG_DIR).resolve().parents
    assert not (REPO / "runs").exists() or not any((REPO / "runs").glob("**/*.pt"))


def test_from_yaml_detect_shapes(random_detector):
    assert random_detector.names == dict(enumerate(CLASS_NAMES))
    d = random_detector.detect(frame())
    check_detections(d)
    assert (d.track_id == -1).all()
    assert len(d) > 0  # conf=0: a random net still proposes boxes
    assert (d.xyxy[:, [0, 2]] <= 320 + 1e-3).all() and (d.xyxy[:, [1, 3]] <= 160 + 1e-3).all()


def test_detect_batch_matches_detect(random_detector):
    """The shipped detector on sim frames (a random one at conf 0 keeps dozens of near-tied boxes, and float
    noise between a batch and a single pass flips one of them through NMS)."""
    from perception.model_files import DEFAULT_DETECTOR
    from perception.sources import SimSource

    with SimSource("drivestack/Town-v0", seed=3, steps=3) as src:
        images = [f.image for f in src][1:]
    detector = YoloDetector.load(DEFAULT_DETECTOR, cfg=DetectorConfig(device="cpu"))
    batch = detector.detect_batch(images)
    assert len(batch) == 2 and random_detector.detect_batch([]) == []
    assert sum(len(d) for d in batch) > 0
    for im, d in zip(images, batch):
        check_detections(d)
        single = detector.detect(im)
        assert len(single) == len(d)
        np.testing.assert_allclose(single.xyxy, d.xyxy, atol=1e-2)


def test_rejects_non_rgb_uint8(random_detector):
    with pytest.raises(ValueError, match="RGB uint8"):
        random_detector.detect(np.zeros((160, 320), np.uint8))


def test_track_ids_persist(tmp_path):
    tracker = tmp_path / "eager_bytetrack.yaml"  # start tracks at any score: a random net scores low
    tracker.write_text("tracker_type: bytetrack\ntrack_high_thresh: 0.0\ntrack_low_thresh: 0.0\n"
                       "new_track_thresh: 0.0\ntrack_buffer: 30\nmatch_thresh: 0.8\nfuse_score: False\n")
    torch.manual_seed(0)
    det = YoloDetector.from_yaml(DetectorConfig(conf=0.0, device="cpu", tracker=str(tracker)))
    im = frame(3)
    ids = [det.track(im) for _ in range(3)]
    for d in ids:
        check_detections(d)
    assert (ids[-1].track_id >= 0).any()
    assert set(ids[1].track_id[ids[1].track_id >= 0]) == set(ids[2].track_id[ids[2].track_id >= 0])
    det.reset_tracker()
    check_detections(det.track(im))


def test_lapjv_stand_in_matches_brute_force():
    rng = np.random.default_rng(0)
    for n, m in [(3, 3), (2, 4), (4, 2)]:
        cost = rng.random((n, m))
        limit = 0.5
        _, x, y = _lapjv_scipy(cost, extend_cost=True, cost_limit=limit)
        for i, j in enumerate(x):
            if j >= 0:
                assert y[j] == i and cost[i, j] <= limit
        # brute force: any partial matching costs pairs + limit/2 for each unmatched end
        def total(assign):
            used = [(i, j) for i, j in enumerate(assign) if j >= 0]
            return sum(cost[i, j] for i, j in used) + limit / 2 * ((n - len(used)) + (m - len(used)))
        best = min(total(a) for a in itertools.product(range(-1, m), repeat=n)
                   if len([j for j in a if j >= 0]) == len({j for j in a if j >= 0}))
        assert total(x) == pytest.approx(best)


def test_name_map():
    lut, dropped = map_class_names({0: "person", 1: "Car", 2: "traffic light", 3: "motorbike", 4: "giraffe"})
    assert lut.tolist() == [4, 0, -1, 3, -1] and dropped == ["traffic light", "giraffe"]
    lut, _ = map_class_names(["giraffe"], class_map={"giraffe": "pedestrian"})
    assert lut.tolist() == [4]
    with pytest.raises(ValueError, match="not one of our classes"):
        map_class_names(["giraffe"], class_map={"giraffe": "animal"})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from perception.train_detector import DetectorTrainConfig, train_detector
    from sim.dataset import export_dataset

    root = tmp_path_factory.mktemp("det")
    export_dataset(root / "ds", scenes=3, frames_per_scene=2, seed=0, progress=False)
    cfg = DetectorTrainConfig(data=str(root / "ds" / "data.yaml"), epochs=1, imgsz=64, batch=4, workers=0,
                              device="cpu", out_dir=str(root / "run"), verbose=False)
    return cfg, train_detector(cfg)


@pytest.mark.slow
def test_train_one_epoch(trained):
    from common.config import from_dict, load_yaml
    from perception.train_detector import DetectorTrainConfig

    cfg, result = trained
    run = Path(result["run_dir"])
    assert run == Path(cfg.out_dir) and Path(result["best"]).is_file()
    resolved = from_dict(DetectorTrainConfig, load_yaml(run / "drivestack_config.yaml"))
    assert resolved.epochs == 1 and Path(resolved.data).is_absolute() and resolved.device == "cpu"
    m = result["metrics"]
    assert 0.0 <= m["mAP50"] <= 1.0 and 0.0 <= m["mAP50-95"] <= m["mAP50"] + 1e-9
    assert set(m["per_class_AP50"]) == set(CLASS_NAMES)
    assert result["epochs_run"] == 1 and result["train_images"] > 0 and result["train_images_per_s"] > 0
    assert json.loads((run / "metrics.json").read_text()) == result  # the run's record says what it returned


@pytest.mark.slow
def test_train_refuses_an_occupied_run_dir(trained):
    from common.config import ConfigError
    from perception.train_detector import train_detector

    with pytest.raises(ConfigError, match="already holds"):
        train_detector(trained[0])


@pytest.mark.slow
def test_load_round_trip(trained):
    det = YoloDetector.load(trained[1]["best"], cfg=DetectorConfig(imgsz=64, conf=0.0, device="cpu"))
    assert det.names == dict(enumerate(CLASS_NAMES))
    assert det.class_lut.tolist() == list(range(len(CLASS_NAMES)))
    check_detections(det.detect(frame()))


def test_coco_named_model_maps_and_drops(tmp_path, caplog):
    path = tmp_path / "coco_like.pt"
    names = ["person", "car", "traffic light", "dog"]
    YoloDetector.from_yaml(DetectorConfig(), nc=len(names), names=names).model.save(path)
    with caplog.at_level(logging.WARNING, logger="perception.yolo"):
        det = YoloDetector.load(path, cfg=DetectorConfig(imgsz=64, conf=0.0, device="cpu"))
    assert det.class_lut.tolist() == [CLASS_NAMES.index("pedestrian"), CLASS_NAMES.index("car"), -1, -1]
    warnings = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(warnings) == 1 and "traffic light" in warnings[0].getMessage()
    d = det.detect(frame())
    check_detections(d)
    assert set(d.names()) <= {"pedestrian", "car"}


def test_unmappable_model_raises(tmp_path):
    path = tmp_path / "zoo.pt"
    YoloDetector.from_yaml(DetectorConfig(), nc=2, names=["giraffe", "zebra"]).model.save(path)
    with pytest.raises(ValueError, match=r"giraffe.*zebra.*car"):
        YoloDetector.load(path)
    det = YoloDetector.load(path, class_map={"zebra": "pedestrian"})  # an explicit map rescues it
    assert det.class_lut.tolist() == [-1, CLASS_NAMES.index("pedestrian")]


@pytest.mark.parametrize("content", [b"not a checkpoint at all", b"", "pickle"])
def test_not_a_model_raises(tmp_path, content):
    path = tmp_path / "weights.pt"
    if content == "pickle":
        torch.save({"hello": 1}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match="weights.pt"):
        YoloDetector.load(path)


def test_missing_or_wrong_suffix(tmp_path):
    with pytest.raises(FileNotFoundError, match="yolov8n.pt"):
        YoloDetector.load(tmp_path / "yolov8n.pt")  # never looked up online
    (tmp_path / "model.onnx").write_bytes(b"x")
    with pytest.raises(ValueError, match="model.onnx"):
        YoloDetector.load(tmp_path / "model.onnx")


def test_export_onnx(random_detector, tmp_path):
    out = random_detector.export_onnx(tmp_path / "det.onnx")
    assert out.is_file() and out.stat().st_size > 0


def test_export_onnx_missing_package_is_clear(random_detector, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx -> ImportError
    with pytest.raises(ImportError, match="pip install onnx onnxruntime"):
        random_detector.export_onnx(tmp_path / "det.onnx")
