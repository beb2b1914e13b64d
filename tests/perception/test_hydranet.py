"""HydraNet at toy size: shapes, flip augmentation, one-epoch training, save/load, resume."""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pytest
import torch

from perception.hydranet import (BACKBONES, LANE_CLASSES, LIGHT_PASSED_M, LIGHT_RANGE_M, LIGHT_STATES, REG_NAMES,
                                  HydraNet, HydraNetConfig, light_outputs, light_target)
from perception.hydranet_data import HydraDataset, MultiTaskLoss, hflip, light_losses, task_losses
from perception.train_hydranet import HydraTrainConfig, train_hydranet, warm_start

TINY_EXPORT = dict(scenes=3, frames_per_scene=2, seed=0, progress=False)


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    from sim.dataset import export_dataset

    out = tmp_path_factory.mktemp("hydra_data") / "ds"
    summary = export_dataset(out, **TINY_EXPORT)
    assert summary["counts"]["train"]["frames"] > 0
    return out


def _train_cfg(data, out, **kw) -> HydraTrainConfig:
    return HydraTrainConfig(data_dir=str(data), out_dir=str(out), epochs=1, batch=2, progress=False,
                            device="cpu", max_train_batches=1, model=HydraNetConfig(width=0.5, neck_channels=16), **kw)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_forward_shapes(backbone):
    torch.manual_seed(0)
    net = HydraNet(HydraNetConfig(backbone=backbone)).eval()
    with torch.no_grad():
        out = net(torch.rand(2, 3, 160, 320))
    assert out["drivable"].shape == (2, 1, 160, 320)
    assert out["lanes"].shape == (2, len(LANE_CLASSES), 160, 320)
    assert out["log_depth"].shape == (2, 1, 160, 320)
    assert out["ego"].shape == (2, len(REG_NAMES))
    assert out["light"].shape == (2, len(LIGHT_STATES) + 1)
    depth = out["log_depth"].exp()
    assert float(depth.min()) >= net.config.min_depth_m * 0.999
    assert float(depth.max()) <= net.config.max_depth_m * 1.001


def test_predict_types_and_other_image_size():
    net = HydraNet(HydraNetConfig(backbone="tiny"))
    images = np.random.default_rng(0).integers(0, 255, (2, 120, 240, 3), dtype=np.uint8)
    out = net.predict(images)
    assert out.drivable.shape == (2, 120, 240) and out.drivable.dtype == bool
    assert out.lanes.dtype == np.uint8 and out.lanes.max() < len(LANE_CLASSES)
    assert out.depth_m.shape == (2, 120, 240) and out.depth_m.dtype == np.float32
    for key in ("lane_offset_m", "heading_error_rad", "curvature_1_m", "lane_width_m"):
        assert getattr(out, key).shape == (2,)
    assert out.curvature_ahead_1_m.shape == (2, 3)
    assert out.light_state.shape == (2,) and set(out.light_state) <= set(LIGHT_STATES)
    assert out.light_probs.shape == (2, 4) and np.allclose(out.light_probs.sum(1), 1.0, atol=1e-5)
    assert out.light_distance_m.shape == (2,) and out.light_distance_m.dtype == np.float32
    one = net.predict(images[0])  # one image: the same record without the batch axis
    assert one.lanes.shape == (120, 240) and one.curvature_ahead_1_m.shape == (3,) and one.light_state in LIGHT_STATES
    np.testing.assert_allclose(one.depth_m, out.image(0).depth_m, rtol=1e-4)  # batch numerics differ in the last bits
    with pytest.raises(ValueError, match="uint8"):
        net.predict(images.astype(np.float32))


def test_flip_swaps_lane_classes_and_negates_regressions(export):
    ds = HydraDataset(export, "train")
    item = ds.read(0)
    item["lanes"][0, :4] = [0, 1, 2, 3]  # make sure every class is present
    item["ego"][:] = [0.3, 0.05, 0.01, 0.02, 0.03, 3.5]
    flipped = hflip(item)
    w = item["lanes"].shape[1]
    np.testing.assert_array_equal(flipped["lanes"][0, w - 4:], [3, 1, 2, 0])
    np.testing.assert_array_equal(flipped["image"], item["image"][:, ::-1])
    np.testing.assert_array_equal(flipped["depth_m"], item["depth_m"][:, ::-1])
    np.testing.assert_allclose(flipped["ego"], [-0.3, -0.05, -0.01, -0.02, -0.03, 3.5])
    back = hflip(flipped)
    np.testing.assert_array_equal(back["lanes"], item["lanes"])
    # the swap is a swap, not a relabel: counts of ego-left and ego-right trade places
    counts, fcounts = np.bincount(item["lanes"].ravel(), minlength=4), np.bincount(flipped["lanes"].ravel(), minlength=4)
    assert (counts[1], counts[2], counts[3]) == (fcounts[2], fcounts[1], fcounts[3])


def test_augmented_items_are_reproducible(export):
    a = HydraDataset(export, "train", augment=True, seed=3)
    b = HydraDataset(export, "train", augment=True, seed=3)
    for ds in (a, b):
        ds.set_epoch(2)
    for key in ("image", "lanes", "ego"):
        assert torch.equal(a[1][key], b[1][key])


def test_depth_loss_ignores_pixels_without_depth():
    cfg = HydraNetConfig()
    out = {"drivable": torch.zeros(1, 1, 4, 4), "lanes": torch.zeros(1, 4, 4, 4),
           "log_depth": torch.full((1, 1, 4, 4), float(np.log(10.0))), "ego": torch.zeros(1, 6)}
    batch = {"drivable": torch.zeros(1, 4, 4), "lanes": torch.zeros(1, 4, 4, dtype=torch.long),
             "depth_m": torch.zeros(1, 4, 4), "ego": torch.tensor([[0, 0, 0, 0, 0, 3.5]])}
    batch["depth_m"][0, 0, 0] = 10.0  # one pixel with depth, exactly predicted; the rest is sky
    losses = task_losses(out, batch, cfg)
    assert float(losses["depth"]) == pytest.approx(0.0, abs=1e-6)
    assert float(losses["ego"]) == pytest.approx(0.0, abs=1e-6)
    for weighting in ("fixed", "uncertainty"):
        assert torch.isfinite(MultiTaskLoss(weighting)(losses))


@pytest.mark.parametrize("weighting", ["fixed", "uncertainty"])
def test_train_one_epoch(export, tmp_path, weighting):
    metrics = train_hydranet(_train_cfg(export, tmp_path / "run", loss_weighting=weighting))
    run = tmp_path / "run"
    for name in ("best.pt", "last.pt", "config.yaml", "metrics.json"):
        assert (run / name).is_file(), name
    assert list((run / "tb").glob("events.out.tfevents.*"))
    for key in ("drivable_iou", "lane_f1_mean", "lane_f1_ego_left", "lane_f1_ego_right", "lane_f1_other",
                "depth_absrel_mean", "depth_absrel_median", "offset_abs_err_median_m",
                "heading_abs_err_median_rad", "val_score"):
        assert np.isfinite(metrics[key]), key
    assert metrics["epochs_done"] == 1
    assert "loss_weighting: " + weighting in (run / "config.yaml").read_text()
    assert HydraNet.load(run / "best.pt").config.loss_weighting == weighting


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(1)
    net = HydraNet(HydraNetConfig(backbone="tiny", width=0.5)).eval()
    with torch.no_grad():  # make BN statistics non-trivial so they must be saved too
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
    net.save(tmp_path / "m.pt")
    again = HydraNet.load(tmp_path / "m.pt", device="cpu")
    assert again.config == net.config
    images = np.random.default_rng(1).integers(0, 255, (2, 160, 320, 3), dtype=np.uint8)
    a, b = net.predict(images), again.predict(images)
    for key in (f.name for f in fields(a)):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key), err_msg=key)


def test_resume_continues_from_last(export, tmp_path):
    run = tmp_path / "run"
    first = train_hydranet(_train_cfg(export, run, loss_weighting="fixed"))
    assert first["epochs_done"] == 1
    ckpt = HydraNet.read_checkpoint(run / "last.pt")
    assert ckpt["train_state"]["epoch"] == 0
    second = train_hydranet(replace(_train_cfg(export, run, loss_weighting="fixed"), epochs=2))
    assert second["epochs_done"] == 2
    assert HydraNet.read_checkpoint(run / "last.pt")["train_state"]["epoch"] == 1


def test_load_rejects_non_model_files(tmp_path):
    text = tmp_path / "notes.pt"
    text.write_text("not a model")
    with pytest.raises(ValueError, match="notes.pt"):
        HydraNet.load(text)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(ValueError, match="other.pt"):
        HydraNet.load(other)
    with pytest.raises(ValueError, match="missing.pt"):
        HydraNet.load(tmp_path / "missing.pt")


def test_light_target_range_and_outputs():
    assert light_target("red", 12.0) == (1, 12.0)
    assert light_target("green", -LIGHT_PASSED_M + 0.5) == (3, -LIGHT_PASSED_M + 0.5)
    for state, dist in (("red", LIGHT_RANGE_M + 1), ("yellow", -LIGHT_PASSED_M - 1), ("none", 10.0), ("red", None)):
        cls, d = light_target(state, dist)
        assert cls == 0 and np.isnan(d)
    raw = np.array([[0.0, 5.0, 0.0, 0.0, np.log(20.0 + 5.0)], [9.0, 0.0, 0.0, 0.0, 1.0]], np.float32)
    out = light_outputs(raw)
    assert list(out["light_state"]) == ["red", "none"]
    assert out["light_distance_m"][0] == pytest.approx(20.0, rel=1e-5) and np.isinf(out["light_distance_m"][1])


def test_light_losses_ignore_distance_without_light():
    raw = torch.zeros(2, 5, requires_grad=True)
    losses = light_losses(raw, torch.tensor([0, 0]), torch.tensor([float("nan"), float("nan")]))
    assert float(losses["light_dist"].detach()) == 0.0 and torch.isfinite(losses["light"])
    losses = light_losses(raw, torch.tensor([1, 0]), torch.tensor([20.0, float("nan")]))
    assert float(losses["light_dist"].detach()) > 0  # log(25) away from 0
    (losses["light"] + losses["light_dist"]).backward()
    assert torch.isfinite(raw.grad).all()


def test_old_checkpoint_without_light_head_loads_and_reports_no_light(tmp_path):
    """A file saved before the light head (no ``light_head`` in its config, no head weights)."""
    torch.manual_seed(0)
    old = HydraNet(HydraNetConfig(width=0.5, neck_channels=16, light_head=False))
    ckpt = old.checkpoint()
    del ckpt["config"]["light_head"]
    torch.save(ckpt, tmp_path / "old.pt")
    net = HydraNet.load(tmp_path / "old.pt")
    assert not net.config.light_head and net.light_head is None
    out = net.predict(np.zeros((2, 160, 320, 3), np.uint8))
    assert list(out.light_state) == ["none", "none"] and np.isinf(out.light_distance_m).all()
    # warm start: the old weights go into a net with the head, which starts from random init
    new = HydraNet(HydraNetConfig(width=0.5, neck_channels=16))
    missing = warm_start(new, tmp_path / "old.pt")
    assert missing and all(k.startswith("light_head.") for k in missing)
    assert torch.equal(new.ego_head.mlp[1].weight, old.ego_head.mlp[1].weight)


def test_train_reports_light_metrics(export, tmp_path):
    metrics = train_hydranet(_train_cfg(export, tmp_path / "run"))
    recalls = [v for k, v in metrics.items() if k.startswith("light_recall_") and v is not None and np.isfinite(v)]  # states present
    assert recalls and metrics["light_balanced_acc"] == pytest.approx(np.mean(recalls), abs=1e-3)
    assert "light_recall_red" in metrics and "light_dist_abs_err_median_m" in metrics


def test_train_only_the_light_head_leaves_the_rest_untouched(export, tmp_path):
    torch.manual_seed(0)
    base = HydraNet(HydraNetConfig(width=0.5, neck_channels=16, light_head=False))
    base.save(tmp_path / "base.pt")
    train_hydranet(_train_cfg(export, tmp_path / "run", init_from=str(tmp_path / "base.pt"), train_only="light_head"))
    trained = HydraNet.load(tmp_path / "run" / "last.pt")
    before, after = base.state_dict(), trained.state_dict()
    for name, value in before.items():  # weights and BatchNorm statistics of every other module
        assert torch.equal(value, after[name]), name
    assert any(k.startswith("light_head.") for k in after)


def test_train_only_names_a_module(export, tmp_path):
    from common.config import ConfigError

    with pytest.raises(ConfigError, match="train_only"):
        train_hydranet(_train_cfg(export, tmp_path / "run", train_only="no_such_head"))
