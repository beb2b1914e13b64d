"""`drivestack train` argument handling: several dataset exports for one detector, and bad --data."""

import yaml

from common.vocab import CLASS_NAMES
from drivestack.cli import main
from drivestack.train import _combined_data_yaml
from sim.dataset import export_dataset


def _export(path, seed):
    export_dataset(path, scenes=3, frames_per_scene=2, seed=seed, progress=False)
    return path


def test_several_exports_make_one_data_yaml(tmp_path):
    a, b = _export(tmp_path / "a", 0), _export(tmp_path / "b", 1)
    written = _combined_data_yaml([a, b], tmp_path / "run")
    data = yaml.safe_load(written.read_text())
    assert written == tmp_path / "run" / "data.yaml"
    assert data["train"] == [str((a / "images" / "train").resolve()), str((b / "images" / "train").resolve())]
    assert all(p.endswith("images/val") for p in data["val"]) and data["val"]
    assert data["names"] == yaml.safe_load((a / "data.yaml").read_text())["names"] and data["nc"] == len(CLASS_NAMES)


def test_hydranet_takes_one_dataset_and_bad_folders_are_named(tmp_path, capsys):
    a = _export(tmp_path / "a", 0)
    assert main(["train", "hydranet", "--data", f"{a},{a}", "--out", str(tmp_path / "r")]) == 2
    assert "takes one dataset folder, got 2" in capsys.readouterr().err
    assert main(["train", "detector", "--data", f"{a},{tmp_path / 'nope'}", "--out", str(tmp_path / "r")]) == 2
    assert "'" + str(tmp_path / "nope") + "' is not a dataset" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()  # nothing written for a refused run


def test_an_export_made_before_a_class_was_appended_combines_with_a_newer_one(tmp_path, capsys):
    a, b = _export(tmp_path / "a", 0), _export(tmp_path / "b", 1)
    spec = yaml.safe_load((a / "data.yaml").read_text())
    spec["names"] = dict(enumerate(CLASS_NAMES[:-1]))  # written before the last class existed
    spec["nc"] = len(CLASS_NAMES) - 1
    (a / "data.yaml").write_text(yaml.safe_dump(spec))
    data = yaml.safe_load(_combined_data_yaml([a, b], tmp_path / "run").read_text())
    assert data["names"] == dict(enumerate(CLASS_NAMES)) and data["nc"] == len(CLASS_NAMES)
    spec["names"] = dict(enumerate(["truck", *CLASS_NAMES[1:]]))  # another order: indices would mean other classes
    (a / "data.yaml").write_text(yaml.safe_dump(spec))
    assert main(["train", "detector", "--data", f"{a},{b}", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "one list must begin with the other" in err and len(err.strip().splitlines()) == 1


def test_the_command_line_wins_over_a_preset(tmp_path, monkeypatch):
    # a finished run's config as the next run's preset: its out_dir and data must not win over --out / --data
    import perception.train_detector as td

    a = _export(tmp_path / "a", 0)
    preset = tmp_path / "old_run.yaml"
    preset.write_text(yaml.safe_dump({"out_dir": str(tmp_path / "old"), "data": "/elsewhere/data.yaml", "epochs": 3}))
    seen = []
    monkeypatch.setattr(td, "train_detector", lambda cfg: seen.append(cfg) or {})
    assert main(["train", "detector", "--config", str(preset), "--data", str(a), "--out", str(tmp_path / "new")]) == 0
    assert (seen[0].out_dir, seen[0].data, seen[0].epochs) == (str(tmp_path / "new"), str((a / "data.yaml").resolve()), 3)
    assert main(["train", "detector", "--config", str(preset), "--data", str(a)]) == 0
    assert seen[1].out_dir == str(tmp_path / "old")  # no --out: the preset's folder
