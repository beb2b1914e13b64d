"""JointNet (issue 16): one backbone and neck with the YOLO Detect head and the dense heads; built from its
config, warm-started from the shipped detector with the same boxes, saved and loaded, exported to one ONNX
graph that matches PyTorch on sim frames."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from common.config import ConfigError
from common.vocab import CLASS_NAMES, LANE_CLASSES
from perception.hydranet import REG_NAMES
from perception.joint import JointNet, JointNetConfig, warm_start_from_detector
from perception.model_files import DEFAULT_DETECTOR


@pytest.fixture(scope="module")
def net():
    return JointNet(JointNetConfig())


def _sim_frames(n: int = 3) -> np.ndarray:
    from perception.sources import SimSource

    with SimSource("drivestack/Town-v0", seed=3, steps=n) as src:
        return np.stack([f.image for f in src])


def test_builds_from_its_config_with_every_head(net):
    net.train()
    out = net(torch.rand(2, 3, 160, 320))
    assert set(out) == {"det", "drivable", "lanes", "log_depth", "ego", "light"}
    assert out["lanes"].shape == (2, len(LANE_CLASSES), 160, 320) and out["ego"].shape == (2, len(REG_NAMES))
    assert out["light"].shape == (2, 5)
    net.eval()
    with torch.no_grad():
        det = net(torch.rand(1, 3, 160, 320))["det"]
    assert det.shape == (1, 4 + len(CLASS_NAMES), 20 * 40 + 10 * 20 + 5 * 10)  # anchors at strides 8, 16, 32
    with torch.no_grad():
        depth = net(torch.rand(1, 3, 160, 320))["log_depth"].exp()
    assert float(depth.min()) >= 0.5 - 1e-4 and float(depth.max()) <= 80.0 + 1e-3


@pytest.mark.parametrize("change, message", [(dict(input_size=(150, 320)), "input_size"),
                                             (dict(model="no_such_model.yaml"), "no_such_model.yaml"),
                                             (dict(dense_channels=4), "dense_channels")])
def test_bad_configs_are_one_line_errors(change, message):
    with pytest.raises(ConfigError, match=message):
        JointNet(replace(JointNetConfig(), **change))


def test_detection_loss_falls_when_fitting_one_box(net):
    """The training-mode output goes through ultralytics' loss with its batch format, and gradients
    reach the shared backbone: a few steps on one image with one box lower the loss."""
    model = JointNet(JointNetConfig(dense_channels=8))
    model.train()
    x = torch.rand(1, 3, 160, 320)
    boxes = {"batch_idx": torch.zeros(1), "cls": torch.zeros(1), "bboxes": torch.tensor([[0.5, 0.6, 0.2, 0.3]])}
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(8):
        loss, parts = model.detection_loss(model(x)["det"], boxes)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert len(parts) == 3  # box, cls, dfl
    assert losses[-1] < 0.8 * losses[0]
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.det.model[0].parameters())


def test_warm_start_from_the_shipped_detector_gives_its_boxes():
    """Backbone, neck and Detect copied whole: the joint model's boxes are the detector's on sim frames."""
    from perception.yolo import DetectorConfig, YoloDetector

    joint = JointNet(JointNetConfig())
    assert warm_start_from_detector(joint, DEFAULT_DETECTOR) == []
    joint.eval()
    detector = YoloDetector.load(DEFAULT_DETECTOR, cfg=DetectorConfig(device="cpu", conf=0.25)).model.model.eval()
    images = torch.from_numpy(_sim_frames()).permute(0, 3, 1, 2).float() / 255.0
    with torch.no_grad():
        ours, theirs = joint(images)["det"], detector(images)[0]
    # a detector trained before a class was appended has fewer class rows; those it has are copied whole
    assert ours.shape[1] == 4 + len(JointNetConfig().class_names) and theirs.shape[1] <= ours.shape[1]
    torch.testing.assert_close(ours[:, :theirs.shape[1]], theirs)
    rows, outputs = joint.predict(_sim_frames(1)[0])
    assert rows.shape[1] == 6 and len(rows) > 0 and outputs.drivable.shape == (160, 320)


def test_save_load_round_trip(tmp_path, net):
    net.eval()
    path = tmp_path / "joint.pt"
    net.save(path)
    again = JointNet.load(path)
    x = torch.rand(1, 3, 160, 320)
    with torch.no_grad():
        a, b = net(x), again(x)
    for key in ("det", "drivable", "lanes", "log_depth", "ego", "light"):
        torch.testing.assert_close(a[key], b[key])
    (tmp_path / "bad.pt").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="is not a JointNet checkpoint"):
        JointNet.load(tmp_path / "bad.pt")


@pytest.mark.slow  # the dynamo ONNX export of a 3 M-parameter net: about 30 s here
def test_onnx_export_matches_torch_on_sim_frames(tmp_path):
    import onnxruntime as ort

    from perception.joint import export_onnx

    joint = JointNet(JointNetConfig())
    warm_start_from_detector(joint, DEFAULT_DETECTOR)
    joint.eval()
    path = export_onnx(joint, tmp_path / "joint.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["det", "drivable", "lanes", "log_depth", "ego", "light"]
    for image in _sim_frames(2):
        x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0
        with torch.no_grad():
            want = joint(x)
        got = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"images": x.numpy()})))
        for key, value in want.items():
            np.testing.assert_allclose(got[key], value.numpy(), atol=2e-3, rtol=1e-3, err_msg=key)


# --- training ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def export(tmp_path_factory):
    from sim.dataset import export_dataset

    out = tmp_path_factory.mktemp("joint_data") / "ds"
    export_dataset(out, scenes=3, frames_per_scene=2, seed=0, progress=False)
    return out


def _train_cfg(data, out, **kw):
    from perception.train_joint import JointTrainConfig

    kw.setdefault("model", JointNetConfig(dense_channels=8))
    return JointTrainConfig(data_dir=str(data), out_dir=str(out), batch=2, progress=False, device="cpu",
                            max_train_batches=1, **kw)


def test_flip_mirrors_the_boxes_with_the_image(export):
    from perception.hydranet_data import hflip
    from perception.joint_data import JointDataset

    ds = JointDataset(export, "train")
    i = next(k for k in range(len(ds)) if len(ds.boxes(k)))
    item = {**ds.read(i), "boxes": ds.boxes(i)}
    flipped = hflip(item)
    np.testing.assert_allclose(flipped["boxes"][:, 1], 1.0 - item["boxes"][:, 1])
    np.testing.assert_array_equal(flipped["boxes"][:, [0, 2, 3, 4]], item["boxes"][:, [0, 2, 3, 4]])
    h, w = item["image"].shape[:2]
    cls, cx, cy, bw, bh = flipped["boxes"][0]
    x0, x1 = int((cx - bw / 2) * w), int((cx + bw / 2) * w)
    y0, y1 = int((cy - bh / 2) * h), int((cy + bh / 2) * h)
    np.testing.assert_array_equal(flipped["image"][y0:y1, x0:x1], item["image"][y0:y1, w - x1:w - x0][:, ::-1])


@pytest.mark.parametrize("effect", ["camera", "texture"])
def test_image_effects_change_the_pixels_only_and_repeat_with_the_seed(export, effect):
    """augment_camera / augment_texture: the same items with and without the effects have the same targets,
    and their images differ (for a good share of items) in a way the seed and epoch repeat."""
    from perception.joint_data import JointDataset

    plain, cam = JointDataset(export, "train", augment=True), JointDataset(export, "train", augment=True, **{effect: True})
    changed = 0
    for i in range(len(plain)):
        a, b = plain[i], cam[i]
        for key in ("drivable", "lanes", "depth_m", "ego", "boxes"):
            assert torch.equal(a[key], b[key]), key
        changed += not torch.equal(a["image"], b["image"])
        assert torch.equal(b["image"], cam[i]["image"])
    assert changed >= len(plain) // 4


def test_several_exports_are_one_dataset_with_global_indices(export, tmp_path):
    """A mix of exports (here one export twice): item i of the mix is its export's item, carries index i,
    and truth(i) is that item's labels."""
    import shutil

    from perception.joint_data import JointDataset, JointDatasets

    other = tmp_path / "copy"
    shutil.copytree(export, other)
    one, mix = JointDataset(export, "train"), JointDatasets([export, other], "train")
    assert len(mix) == 2 * len(one)
    for i in (0, len(one) - 1, len(one), 2 * len(one) - 1):
        item, j = mix[i], i % len(one)
        assert int(item["index"]) == i and torch.equal(item["image"], one[j]["image"])
        assert np.array_equal(mix.truth(i, (160, 320)).xyxy, one.truth(j, (160, 320)).xyxy)
    spread = JointDatasets([export, other], "train", at_most=3)  # a shorter validation: an even spread
    assert len(spread) == 3
    picks = [int(spread[k]["index"]) for k in range(3)]
    assert picks[0] == 0 and picks[-1] == 2 * len(one) - 1 and picks == sorted(set(picks))
    assert torch.equal(spread[1]["image"], mix[picks[1]]["image"])


@pytest.mark.slow  # two one-step epochs of a 3 M-parameter net and a resume: about 40 s here
def test_train_one_toy_epoch_then_resume(export, tmp_path):
    from perception.train_joint import train_joint

    out = tmp_path / "run"
    first = train_joint(_train_cfg(export, out, epochs=1, init_detector=""))
    assert first["epochs_done"] == 1 and (out / "best.pt").is_file() and (out / "tb").is_dir()
    for key in ("map50", "drivable_iou", "lane_f1_mean", "depth_absrel_mean", "val_score"):
        assert key in first
    assert set(first["task_weights"]) == {"det", "drivable", "lanes", "depth", "ego", "light", "light_dist"}
    again = train_joint(_train_cfg(export, out, epochs=2, init_detector=""))  # resumes from last.pt: one more epoch
    assert again["epochs_done"] == 2 and again["last"]["epoch"] == 1
    net = JointNet.load(out / "last.pt")
    assert net.config.dense_channels == 8


@pytest.mark.slow  # one one-step epoch of a narrow net and a resume: about 20 s here
def test_a_time_budget_ends_the_run_with_the_schedule_decayed_and_a_resume_keeps_it(export, tmp_path):
    """time_min: after the first epoch the run sees the budget is spent, lowers its 50 epochs to 1 and
    re-plans the cosine schedule over that one epoch (lr at its floor), and a resume does not train on."""
    from perception.train_joint import train_joint

    out = tmp_path / "run"
    cfg = _train_cfg(export, out, epochs=50, init_detector="", time_min=1e-5, lr=1e-3, min_lr_ratio=0.1,
                     model=JointNetConfig(dense_channels=8, width=0.125))
    first = train_joint(cfg)
    assert first["epochs_done"] == 1 and first["train_seconds"] > 0
    state = JointNet.read_checkpoint(out / "last.pt")["train_state"]
    assert state["epochs"] == 1 and state["scheduler"]["lr_lambdas"][0]["total"] == 1
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(1e-4)
    again = train_joint(cfg)
    assert again["epochs_done"] == 1


@pytest.mark.slow  # one one-step epoch: about 10 s here
def test_freeze_trunk_trains_the_dense_side_alone(export, tmp_path):
    """freeze_trunk: the backbone, neck and Detect head (weights and BatchNorm statistics) leave the run as
    they came; the dense heads move."""
    from perception.train_joint import train_joint

    start = tmp_path / "start.pt"
    net = JointNet(JointNetConfig(dense_channels=8, width=0.125))
    net.save(start)
    cfg = _train_cfg(export, tmp_path / "run", epochs=1, init_from=str(start), freeze_trunk=True, lr=1e-2,
                     model=JointNetConfig(dense_channels=8, width=0.125))
    train_joint(cfg)
    before, after = net.state_dict(), JointNet.load(tmp_path / "run" / "last.pt").state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("det."))
    assert not all(torch.equal(before[k], after[k]) for k in before if k.startswith("lanes_head."))


def test_epochs_in_budget_fits_the_mean_epoch_time():
    from perception.train_loop import epochs_in_budget

    assert epochs_in_budget(30, 2, 20.0, 0) == 30  # no budget
    assert epochs_in_budget(30, 2, 20.0, 100.0) == 10  # 10 s an epoch, 100 s
    assert epochs_in_budget(30, 2, 20.0, 1000.0) == 30  # never more than asked
    assert epochs_in_budget(30, 2, 20.0, 5.0) == 2  # never fewer than done


def test_width_narrows_the_backbone():
    narrow = JointNet(JointNetConfig(width=0.125))
    assert sum(p.numel() for p in narrow.parameters()) < 0.4 * sum(p.numel() for p in JointNet().parameters())
    assert narrow(torch.zeros(1, 3, 160, 320))["drivable"].shape == (1, 1, 160, 320)


def test_warm_started_joint_model_keeps_the_detectors_ap_on_val(export, tmp_path):
    """Evaluated before any step, the joint model warm-started from the shipped detector scores the
    detector's boxes: mAP50 on the tiny export's val frames well above a random net's."""
    from perception.train_joint import _loader, evaluate
    from perception.joint_data import JointDataset

    cfg = _train_cfg(export, tmp_path / "x")
    ds = JointDataset(export, "val", input_size=cfg.model.input_size)
    warm = JointNet(cfg.model)
    warm_start_from_detector(warm, DEFAULT_DETECTOR)
    cold = JointNet(cfg.model)
    scores = [evaluate(n, _loader(ds, cfg, False, 0, torch.device("cpu")), torch.device("cpu"))["map50"] for n in (warm, cold)]
    assert scores[0] > 0.3 and scores[1] < 0.05


def test_train_joint_bad_input_is_one_line(export, tmp_path, capsys):
    from drivestack.cli import main

    assert main(["train", "joint", "--data", str(export), "--out", str(tmp_path / "r"), "--set", "init_detector=/no/such.pt"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "init_detector='/no/such.pt' does not exist" in err[0]
    assert main(["train", "joint", "--data", str(tmp_path / "nothing")]) == 2
    assert "is not a dataset written by `drivestack dataset`" in capsys.readouterr().err


# --- in the perception pipeline ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def joint_file(tmp_path_factory):
    """A JointNet with the shipped detector's backbone, neck and Detect head (dense heads untrained)."""
    joint = JointNet(JointNetConfig())
    warm_start_from_detector(joint, DEFAULT_DETECTOR)
    path = tmp_path_factory.mktemp("joint") / "joint.pt"
    joint.save(path)
    return path


def _sim_stream(steps: int = 8):
    from perception.sources import SimSource

    with SimSource("drivestack/Town-v0", seed=1, steps=steps) as src:
        return list(src)


def test_pipeline_runs_a_joint_network_once_per_frame_with_the_detectors_tracks(joint_file, monkeypatch):
    """The joint network serves both seams in one pass; with the shipped detector's weights it finds and
    tracks what the shipped detector does (same boxes, classes and track ids)."""
    from perception.pipeline import Perception

    joint = Perception.from_files(joint=joint_file, device="cpu", backend="torch")
    pair = Perception.from_files(device="cpu", backend="torch", far_field=False)  # the joint network has no far field
    assert joint.detector is joint.hydranet and joint.backend == "torch"
    passes = []
    forward = joint.detector._forward
    monkeypatch.setattr(joint.detector, "_forward", lambda x: passes.append(1) or forward(x))
    frames = _sim_stream()
    tracked = 0
    for f in frames:
        a, b = joint.process(f), pair.process(f)
        assert np.array_equal(a.detections.class_id, b.detections.class_id)
        assert np.array_equal(a.detections.track_id, b.detections.track_id)
        np.testing.assert_allclose(a.detections.xyxy, b.detections.xyxy, atol=0.5)
        assert a.drivable.shape == f.image.shape[:2] and a.timings_ms["multitask"] == 0.0
        tracked += int((a.detections.track_id >= 0).sum())
    assert tracked > 0 and len(passes) >= len(frames)  # the zoomed light pass may add detector calls
    with pytest.raises(ValueError, match="interleave needs two networks"):
        Perception(joint.detector, joint.detector, interleave=True)


@pytest.mark.slow  # one ONNX export (about 30 s) and two passes over 8 frames
def test_joint_network_in_onnxruntime_matches_torch(joint_file, tmp_path):
    from perception.pipeline import Perception

    torch_stack = Perception.from_files(joint=joint_file, device="cpu", backend="torch")
    ort_stack = Perception.from_files(joint=joint_file, device="cpu", backend="onnxruntime", onnx_cache=tmp_path)
    assert ort_stack.backend == "onnxruntime" and len(list(tmp_path.glob("*.onnx"))) == 1
    for f in _sim_stream():
        a, b = torch_stack.process(f), ort_stack.process(f)
        assert np.array_equal(a.detections.class_id, b.detections.class_id)
        assert np.array_equal(a.detections.track_id, b.detections.track_id)
        np.testing.assert_allclose(b.detections.xyxy, a.detections.xyxy, atol=0.5)
        assert (a.drivable != b.drivable).mean() < 1e-3 and (a.lane_mask != b.lane_mask).mean() < 1e-3
        np.testing.assert_allclose(b.depth_m, a.depth_m, rtol=1e-3)


@pytest.mark.slow  # two evaluations of 12 frames: about 40 s here
def test_eval_perception_scores_a_joint_network(joint_file, capsys, monkeypatch):
    """``eval perception --joint``: the boxes of a joint network with the shipped detector's weights score
    the shipped detector's AP (the same boxes; the pair's detector without its far-field pass, which the joint
    network lacks), and the dense heads are scored too."""
    import functools
    import json

    from drivestack.cli import main
    from perception import yolo

    args = ["eval", "perception", "--seeds", "10000", "--frames-per-seed", "3", "--json", "--device", "cpu"]
    assert main(args + ["--joint", str(joint_file)]) == 0
    joint = json.loads(capsys.readouterr().out)
    monkeypatch.setattr(yolo, "DetectorConfig", functools.partial(yolo.DetectorConfig, far_zoom=0))
    assert main(args) == 0
    pair = json.loads(capsys.readouterr().out)
    assert joint["detection"]["ap50"] == pair["detection"]["ap50"] and joint["models"]["joint"] == str(joint_file)
    assert joint["drivable_iou"] is not None


def test_eval_perception_joint_bad_input_is_one_line(joint_file, tmp_path, capsys):
    from drivestack.cli import main

    assert main(["eval", "perception", "--joint", str(joint_file), "--detector", str(DEFAULT_DETECTOR)]) == 2
    assert "--joint replaces --detector and --hydranet" in capsys.readouterr().err
    assert main(["eval", "perception", "--joint", str(tmp_path / "none.pt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "none.pt' do not exist" in err[0]


@pytest.mark.slow  # one short drive from the models: about 20 s here
def test_eval_policy_drives_its_models_rows_through_a_joint_network(joint_file, capsys):
    import json

    from drivestack.cli import main

    assert main(["eval", "policy", "--rows", "rule-based/models", "--seeds", "900000", "--route-length", "60",
                 "--joint", str(joint_file), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["joint"] == str(joint_file.resolve()) and report["rows"]["rule-based/models"]["episodes"] == 1


def test_eval_joint_with_interleave_is_one_line(joint_file, capsys):
    from drivestack.cli import main

    assert main(["eval", "policy", "--joint", str(joint_file), "--interleave"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--interleave" in err[0]


@pytest.mark.slow  # the pair and the joint network on every backend, a short window each: about 90 s here
def test_bench_perception_measures_the_joint_network_beside_the_pair(joint_file, monkeypatch):
    from drivestack import bench_perception

    monkeypatch.setattr(bench_perception, "REAL_CLIP", joint_file.parent / "no_clip.mp4")  # no 720p replay part
    report = bench_perception.bench_perception(None, None, "cpu", repeats=5, joint=str(joint_file))
    assert report["models"]["joint"] == str(joint_file)
    pairs = [b for b in report["backends"] if not b.startswith("joint-")]
    assert {f"joint-{b}" for b in pairs} <= set(report["backends"])
    for name, figures in report["backends"].items():
        stages = figures["stages"]
        assert stages["whole_stack_fps"] > 0 and stages["detector_ms"] > 0
        assert 0 < stages["whole_stack_mean_fps"] and stages["whole_stack_mean_ms"] >= 0.5 * stages["whole_stack_ms"]
        assert ("whole_stack_interleaved_fps" in stages) == (not name.startswith("joint-"))
        assert ("whole_stack_no_far_field_fps" in stages) == (not name.startswith("joint-"))  # the pair's detector only


@pytest.mark.slow  # a 50 m drive from pixels through the joint network: about 30 s here
def test_drive_with_a_joint_network(joint_file, tmp_path, capsys):
    import json

    import yaml

    from drivestack.cli import main

    out = tmp_path / "run"
    assert main(["drive", "--route-length", "50", "--device", "cpu", "--joint", str(joint_file), "--no-video",
                 "--out", str(out), "--quiet"]) == 0
    settings = yaml.safe_load((out / "config.yaml").read_text())["drive"]
    assert settings["joint"] == str(joint_file) and settings["backend"] == "onnxruntime"  # the runtime that ran
    frames = [json.loads(line) for line in (out / "episode-000" / "perception.jsonl").read_text().splitlines()]
    assert frames and all(f["timings_ms"]["multitask"] == 0.0 and f["timings_ms"]["detector"] > 0 for f in frames)
    for extra, message in ((["--interleave"], "--interleave needs the two networks"),
                           (["--perception", "labels"], "--joint is a model")):
        assert main(["drive", "--joint", str(joint_file), "--out", str(tmp_path / "x"), "--quiet", *extra]) == 2
        assert message in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_building_prints_nothing_on_stdout(capsys):
    """stdout may carry a --json report (bench / eval perception --joint): ultralytics' "Overriding
    model.yaml nc=80" notice must not land there."""
    JointNet(JointNetConfig(width=0.125))
    assert capsys.readouterr().out == ""


def test_dense_outputs_come_at_the_network_size_and_boxes_in_the_frame_pixels(joint_file):
    """A frame four times the network size (1280x640) through the pipeline's one pass: the dense maps at 320x160 (as the pair's
    multi-task network gives them; upsampling six maps to 720p cost more than the network), the boxes in the
    frame's pixels, the same boxes as the frame shrunk to the network size finds, scaled."""
    import cv2

    from perception.joint_runner import load_joint

    net = load_joint(joint_file, device="cpu", backend="torch")
    small = _sim_frames(1)[0]
    big = cv2.resize(small, (1280, 640), interpolation=cv2.INTER_NEAREST)  # 4x: shrinking it back is exact
    (boxes_big, dense_big), (boxes_small, dense_small) = net.infer(big, track=False), net.infer(small, track=False)
    assert dense_big.drivable.shape == dense_big.lanes.shape == dense_big.depth_m.shape == (160, 320)
    np.testing.assert_array_equal(dense_big.lanes, dense_small.lanes)
    assert len(boxes_big) == len(boxes_small) > 0
    np.testing.assert_allclose(boxes_big.xyxy, boxes_small.xyxy * 4, atol=1e-2)


@pytest.mark.slow  # two ONNX exports: about 20 s here
@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_detection_only_pass_gives_the_full_pass_boxes(joint_file, tmp_path, backend):
    """detect() (the zoomed light crop's call) runs the backbone, neck and Detect alone and finds the boxes
    the whole pass finds."""
    from perception.joint_runner import load_joint

    net = load_joint(joint_file, device="cpu", backend=backend, cache=tmp_path)
    for image in _sim_frames(2):
        alone, (both, _) = net.detect(image), net.infer(image, track=False)
        assert len(alone) == len(both) > 0
        np.testing.assert_allclose(alone.xyxy, both.xyxy, atol=1e-3)
        np.testing.assert_array_equal(alone.class_id, both.class_id)
    if backend == "onnxruntime":
        assert len(list(tmp_path.glob("*boxes*"))) == 1  # the detection-only graph, exported into the cache
