"""Dataset export at toy size: layout, label format, split by scene, ultralytics' own loader,
resume after an interruption, and refusal of folders that hold something else."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from common.config import ConfigError
from sim import dataset as ds
from sim.labels import CLASS_NAMES

TINY = dict(scenes=3, frames_per_scene=2, seed=0, every_n_steps=3, progress=False,
            overrides={"scenario": {"route_length_m": 150.0}})


def stems(root: Path, folder: str, pattern: str) -> set[str]:
    return {p.name for p in (root / folder).glob(pattern)}


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("export") / "ds"
    return out, ds.export_dataset(out, **TINY)


def test_layout_and_manifest(exported):
    out, summary = exported
    manifest = json.loads((out / "dataset.json").read_text())
    assert manifest["complete"] is True and manifest["class_names"] == list(CLASS_NAMES)
    assert manifest["args"]["scenes"] == 3 and manifest["args"]["randomize"] is True
    assert sum(c["frames"] for c in manifest["counts"].values()) == 6
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert Path(data["path"]) == out.absolute() and data["train"] == "images/train"
    assert data["nc"] == len(CLASS_NAMES) and data["names"] == dict(enumerate(CLASS_NAMES))
    for split, counts in manifest["counts"].items():
        images = sorted((out / "images" / split).glob("*.jpg"))
        assert len(images) == counts["frames"]
        for img in images:
            stem = img.stem
            assert (out / "labels" / split / f"{stem}.txt").is_file()
            drivable = cv2.imread(str(out / "masks" / split / f"{stem}_drivable.png"), cv2.IMREAD_UNCHANGED)
            lanes = cv2.imread(str(out / "masks" / split / f"{stem}_lanes.png"), cv2.IMREAD_UNCHANGED)
            depth = cv2.imread(str(out / "depth" / split / f"{stem}.png"), cv2.IMREAD_UNCHANGED)
            assert drivable.shape == lanes.shape == depth.shape == (160, 320)
            assert set(np.unique(drivable)) <= {0, 255} and drivable.any()
            assert lanes.max() <= 3 and depth.dtype == np.uint16 and depth.max() > 0
    assert not list(out.rglob("*.tmp"))


def test_yolo_labels_are_valid(exported):
    out, _ = exported
    n_boxes = 0
    for txt in out.glob("labels/*/*.txt"):
        for line in txt.read_text().splitlines():
            cls, *xywh = line.split()
            assert 0 <= int(cls) < len(CLASS_NAMES)
            cx, cy, w, h = map(float, xywh)
            assert 0 < w <= 1 and 0 < h <= 1 and h * 160 >= ds.MIN_BOX_HEIGHT_PX - 1e-6
            assert 0 <= cx - w / 2 + 1e-6 and cx + w / 2 <= 1 + 1e-6 and 0 <= cy - h / 2 + 1e-6 and cy + h / 2 <= 1 + 1e-6
            n_boxes += 1
    assert n_boxes > 0


def test_splits_are_disjoint_by_scene_and_gt_matches(exported):
    out, _ = exported
    seen: dict[str, str] = {}
    for split in ds.SPLITS:
        for img in (out / "images" / split).glob("*.jpg"):
            scene = img.stem.rsplit("_f", 1)[0]
            assert seen.setdefault(scene, split) == split
    assert len(seen) == 3
    for i in range(3):  # the split is a function of the scene seed alone
        marker = json.loads((out / "scenes" / f"{ds.scene_name(i)}.json").read_text())
        assert marker["split"] == ds.split_of(ds.scene_seed(0, i)) == seen[ds.scene_name(i)]
        assert marker["kind"] == ("town", "highway")[i % 2]
        lines = [json.loads(x) for x in (out / "gt" / marker["split"] / f"{ds.scene_name(i)}.jsonl").read_text().splitlines()]
        assert [x["stem"] for x in lines] == [f"{ds.scene_name(i)}_f0000", f"{ds.scene_name(i)}_f0001"]
        assert {"ego", "objects"} <= set(lines[0]["ground_truth"])


def test_split_shares_are_roughly_80_10_10():
    splits = [ds.split_of(ds.scene_seed(7, i)) for i in range(2000)]
    shares = {s: splits.count(s) / len(splits) for s in ds.SPLITS}
    assert abs(shares["train"] - 0.8) < 0.04 and abs(shares["val"] - 0.1) < 0.03 and abs(shares["test"] - 0.1) < 0.03


def test_loads_through_ultralytics(exported, tmp_path, monkeypatch):
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    monkeypatch.setenv("YOLO_AUTOINSTALL", "false")
    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path / "yolo_config"))
    from ultralytics.cfg import get_cfg
    from ultralytics.data.build import build_yolo_dataset
    from ultralytics.data.utils import check_det_dataset

    out, summary = exported
    data = check_det_dataset(str(out / "data.yaml"))
    split = next(s for s in ds.SPLITS if summary["counts"][s]["frames"])
    cfg = get_cfg(overrides={"imgsz": 320, "plots": False, "cache": False, "workers": 0})
    dataset = build_yolo_dataset(cfg, data[split], batch=2, data=data, mode="val", stride=32)
    assert len(dataset) == summary["counts"][split]["frames"]
    for i in range(len(dataset)):
        item = dataset[i]
        stem = Path(item["im_file"]).stem
        expected = (out / "labels" / split / f"{stem}.txt").read_text().splitlines()
        assert item["img"].shape[0] == 3 and len(item["bboxes"]) == len(item["cls"]) == len(expected)


def test_resume_after_interruption(tmp_path, monkeypatch):
    out = tmp_path / "ds"
    real_write = ds._write_frame
    written = []

    def write_then_die(*args):  # Ctrl-C right after the first frame of the second scene
        boxes = real_write(*args)
        written.append(args[2])
        if len(written) == TINY["frames_per_scene"] + 1:
            raise KeyboardInterrupt
        return boxes

    monkeypatch.setattr(ds, "_write_frame", write_then_die)
    with pytest.raises(KeyboardInterrupt):
        ds.export_dataset(out, **TINY)
    manifest = json.loads((out / "dataset.json").read_text())
    assert manifest["complete"] is False
    assert not (out / "data.yaml").exists()  # nothing a trainer would pick up from a torn export
    assert [p.name for p in (out / "scenes").iterdir()] == ["scene_00000.json"]
    assert list(out.glob("images/*/scene_00001_f0000.jpg"))  # a torn scene is on disk, not marked

    monkeypatch.undo()
    first = (next(out.glob("images/*/scene_00000_f0000.jpg"))).stat().st_mtime_ns
    summary = ds.export_dataset(out, **TINY)
    assert summary["complete"] is True and sum(c["frames"] for c in summary["counts"].values()) == 6
    assert yaml.safe_load((out / "data.yaml").read_text())["path"] == str(out.absolute())
    assert next(out.glob("images/*/scene_00000_f0000.jpg")).stat().st_mtime_ns == first  # skipped, not redone
    assert len(list(out.glob("images/*/*.jpg"))) == 6 and len(list(out.glob("labels/*/*.txt"))) == 6
    # and again: everything is complete, nothing changes
    assert ds.export_dataset(out, **TINY)["counts"] == summary["counts"]


def test_same_arguments_give_same_labels(exported, tmp_path):
    out, _ = exported
    again = tmp_path / "again"
    ds.export_dataset(again, **{**TINY, "scenes": 1})
    for txt in again.glob("labels/*/*.txt"):
        assert txt.read_text() == (out / txt.relative_to(again)).read_text()


def test_different_dataset_in_folder_is_refused(exported):
    out, _ = exported
    before = sorted((p, p.stat().st_mtime_ns) for p in out.rglob("*"))
    with pytest.raises(ConfigError, match=r"different dataset.*seed=0 there, 1 asked"):
        ds.export_dataset(out, **{**TINY, "seed": 1})
    with pytest.raises(ConfigError, match="frames_per_scene"):
        ds.export_dataset(out, **{**TINY, "frames_per_scene": 5})
    assert sorted((p, p.stat().st_mtime_ns) for p in out.rglob("*")) == before


def test_unrelated_files_are_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match=f"{tmp_path}.*not empty.*notes.txt"):
        ds.export_dataset(tmp_path, **TINY)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_unwritable_folder_is_refused(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="a_file"):
        ds.export_dataset(blocker / "ds", **TINY)
    with pytest.raises(ConfigError, match="is a file"):
        ds.export_dataset(blocker, **TINY)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_is_refused(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(ConfigError, match="not writable"):
            ds.export_dataset(ro / "ds", **TINY)
    finally:
        ro.chmod(0o700)


@pytest.mark.parametrize("bad", [{"scenes": 0}, {"frames_per_scene": -1}, {"every_n_steps": 0}, {"seed": -3},
                                 {"scenario_kinds": ("town", "desert")},
                                 {"overrides": {"scenario": {"kind": "town"}}},
                                 {"overrides": {"camera": {"width_px": 100}}},
                                 {"overrides": {"camra": {}}}])
def test_bad_arguments_are_refused_before_writing(tmp_path, bad):
    with pytest.raises(ConfigError):
        ds.export_dataset(tmp_path / "ds", **{**TINY, **bad})
    assert not (tmp_path / "ds").exists()


def test_cli_exports_and_rejects_bad_values(tmp_path, capsys, monkeypatch):
    from drivestack import cli
    from drivestack.cli import main

    monkeypatch.setattr(cli, "COMMANDS", {"dataset": "drivestack.dataset"})  # independent of the other commands

    assert main(["dataset", "--out", str(tmp_path / "bad"), "--scenes", "0", "--frames-per-scene", "2", "--seed", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--scenes 0" in err
    assert main(["dataset", "--out", str(tmp_path / "bad"), "--scenes", "1", "--frames-per-scene", "1", "--seed", "0",
                 "--kinds", "town,moon"]) == 2
    assert "moon" in capsys.readouterr().err
    assert main(["dataset", "--out", str(tmp_path / "bad"), "--scenes", "1", "--frames-per-scene", "1", "--seed", "0",
                 "--kinds", "suite", "--suite-scenarios", "LaneClosure,CPXX"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "CPXX" in err and "LaneClosure" in err
    assert main(["dataset", "--out", str(tmp_path / "bad"), "--scenes", "1", "--frames-per-scene", "1", "--seed", "0",
                 "--kinds", "suite"]) == 2
    assert "--suite-scenarios" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()

    out = tmp_path / "cli"
    assert main(["dataset", "--out", str(out), "--scenes", "1", "--frames-per-scene", "1", "--seed", "3", "--kinds", "highway",
                 "--no-randomize", "--quiet", "--set", "scenario.route_length_m=150"]) == 0
    assert "dataset written to" in capsys.readouterr().out
    manifest = json.loads((out / "dataset.json").read_text())
    assert manifest["complete"] and manifest["args"]["randomize"] is False
    assert manifest["args"]["overrides"] == {"scenario": {"route_length_m": 150}}
    # a different dataset in that folder: one line, exit 2
    assert main(["dataset", "--out", str(out), "--scenes", "2", "--frames-per-scene", "1", "--seed", "3", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(out) in err and "different dataset" in err


def test_weave_puts_the_ego_off_centre(tmp_path):
    """With weave the exported frames show lane offsets a lane-offset regressor can learn from."""
    import json as _json

    from sim.dataset import export_dataset as _export

    def offsets(folder, weave):
        _export(folder, scenes=2, frames_per_scene=8, seed=3, every_n_steps=8, progress=False, weave_m=weave,
                overrides={"scenario": {"route_length_m": 200}})
        values = []
        for f in (folder / "gt").rglob("*.jsonl"):
            values += [_json.loads(line)["ground_truth"]["ego"]["lane_offset_m"] for line in f.read_text().splitlines()]
        return np.abs(values)

    assert offsets(tmp_path / "woven", 0.8).max() > 0.15
    assert offsets(tmp_path / "centred", 0.0).max() < 0.1


def test_boosted_classes_are_sampled_more_often(tmp_path):
    """Between the regular frames, a frame is saved at the boost interval only while a boosted class is boxed."""
    out = tmp_path / "boost"
    ds.export_dataset(out, scenes=1, frames_per_scene=6, seed=3, every_n_steps=40, progress=False,
                      scenario_kinds=("highway",), boost_classes=("car",), boost_every_n_steps=2,
                      overrides={"scenario": {"route_length_m": 300.0}})
    rows = [json.loads(line) for f in (out / "gt").rglob("*.jsonl") for line in f.read_text().splitlines()]
    split = next(p.parent.name for p in (out / "gt").rglob("*.jsonl"))
    extra = [r for r in rows if r["step"] % 40]
    assert extra and all(r["step"] % 2 == 0 for r in extra)
    car = str(CLASS_NAMES.index("car"))
    for r in extra:
        lines = (out / "labels" / split / f"{r['stem']}.txt").read_text().splitlines()
        assert any(line.split()[0] == car for line in lines)
    assert json.loads((out / "dataset.json").read_text())["args"]["boost_classes"] == ["car"]
    with pytest.raises(ConfigError, match="unicorn"):
        ds.export_dataset(tmp_path / "bad", **{**TINY, "boost_classes": ("unicorn",)})
    assert not (tmp_path / "bad").exists()


def test_suite_scenes_play_drawn_cases_and_box_their_cones(tmp_path):
    """A "suite" scene plays one of the named scenarios with parameters drawn from its whole range (the
    manifest's scene record says which); a lane closure's cones are boxed as the labels class them."""
    from sim.suite import scenario_def
    from sim.suite.actors import CONE_CLASS

    out = tmp_path / "suite"
    ds.export_dataset(out, scenes=2, frames_per_scene=6, seed=11, every_n_steps=30, progress=False,
                      scenario_kinds=("suite",), suite_scenarios=("LaneClosure",), boost_classes=("motorcycle",),
                      boost_every_n_steps=3)
    records = [json.loads(p.read_text()) for p in sorted((out / "scenes").glob("*.json"))]
    ranges = {p.name: (p.lo, p.hi) for p in scenario_def("LaneClosure").params}
    cases = [c for r in records for c in r["cases"]]
    assert {c["scenario"] for c in cases} == {"LaneClosure"} and len({repr(c["params"]) for c in cases}) == len(cases)
    assert all(ranges[k][0] <= v <= ranges[k][1] for c in cases for k, v in c["params"].items())
    labels = [line.split() for p in (out / "labels").rglob("*.txt") for line in p.read_text().splitlines()]
    assert sum(int(line[0]) == CONE_CLASS for line in labels) >= 3
    assert json.loads((out / "dataset.json").read_text())["args"]["suite_scenarios"] == ["LaneClosure"]


@pytest.mark.parametrize("bad", [{"scenario_kinds": ("suite",)}, {"suite_scenarios": ("LaneClosure",)},
                                 {"scenario_kinds": ("suite",), "suite_scenarios": ("CPXX",)}])
def test_suite_kind_needs_known_scenarios(tmp_path, bad):
    with pytest.raises(ConfigError, match="suite|CPXX"):
        ds.export_dataset(tmp_path / "ds", **{**TINY, **bad})
    assert not (tmp_path / "ds").exists()
