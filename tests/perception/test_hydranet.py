"""HydraNet at toy size: shapes, flip augmentation, one-epoch training, save/load, resume."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from perception.hydranet import BACKBONES, LANE_CLASSES, REG_NAMES, HydraNet, HydraNetConfig
from perception.hydranet_data import HydraDataset, MultiTaskLoss, hflip, task_losses
from perception.train_hydranet import HydraTrainConfig, train_hydranet

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
    depth = out["log_depth"].exp()
    assert float(depth.min()) >= net.config.min_depth_m * 0.999
    assert float(depth.max()) <= net.config.max_depth_m * 1.001


def test_predict_types_and_other_image_size():
    net = HydraNet(HydraNetConfig(backbone="tiny"))
    images = np.random.default_rng(0).integers(0, 255, (2, 120, 240, 3), dtype=np.uint8)
    out = net.predict(images)
    assert out["drivable"].shape == (2, 120, 240) and out["drivable"].dtype == bool
    assert out["lanes"].dtype == np.uint8 and out["lanes"].max() < len(LANE_CLASSES)
    assert out["depth_m"].shape == (2, 120, 240) and out["depth_m"].dtype == np.float32
    for key in ("lane_offset_m", "heading_error_rad", "curvature_1_m", "lane_width_m"):
        assert out[key].shape == (2,)
    assert out["curvature_ahead_1_m"].shape == (2, 3)
    assert net.predict(images[0])["lanes"].shape == (120, 240)
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
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


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
