"""The command line end to end at toy size, presets, and its one-line errors."""

import json
from pathlib import Path

import cv2
import pytest

from drivestack.cli import main
from common.config import ConfigError, from_dict, load_yaml, parse_override
from sim.config import EnvConfig

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.mark.parametrize("preset", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_presets_load(preset, monkeypatch):
    from control.train import PolicyTrainConfig

    monkeypatch.chdir(CONFIGS.parent)  # presets name files relative to the repository root, where they are run
    # policy*.yaml configure `drivestack train policy`; the others the simulator env
    from_dict(PolicyTrainConfig if preset.name.startswith("policy") else EnvConfig, load_yaml(preset))


def test_override_parsing_and_typo():
    assert parse_override("camera.width_px=384") == {"camera": {"width_px": 384}}
    with pytest.raises(ConfigError, match="unknown config key scenario.lanes"):
        from_dict(EnvConfig, {"scenario": {"lanes": 2}})


def test_exponent_numbers_are_numbers():
    """PyYAML reads YAML 1.1, where 5e-4 (no dot) is a string; a float field takes it as the number it is,
    from --set and from a preset alike, and a word is still an error naming the field."""
    from control.train import PolicyTrainConfig

    assert from_dict(PolicyTrainConfig, parse_override("learning_rate=5e-4")).learning_rate == 5e-4
    assert from_dict(PolicyTrainConfig, {"learning_rate": "2.5E-4"}).learning_rate == 2.5e-4
    with pytest.raises(ConfigError, match="learning_rate: expected a number, got 'fast'"):
        from_dict(PolicyTrainConfig, {"learning_rate": "fast"})


def test_drive_end_to_end(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["drive", "--route-length", "80", "--seed", "2", "--perception", "labels", "--out", str(out), "--quiet"])
    assert rc == 0
    metrics = json.loads((out / "metrics.json").read_text())
    ep = metrics["episodes"][0]
    assert ep["success"] and ep["route_completion"] == 1.0 and sum(ep["collisions"].values()) == 0
    cap = cv2.VideoCapture(str(out / "episode-000" / "camera.mp4"))
    frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    assert frames == ep["steps"] + 1  # the reset frame plus one per step
    assert "success 100%" in capsys.readouterr().out
    assert not (out / "INCOMPLETE").exists()  # removed once the run finished
    # the run folder is never overwritten
    assert main(["drive", "--out", str(out), "--quiet"]) == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("argv, needle", [
    (["drive", "--scenario", "mars"], "--scenario 'mars' is not allowed"),
    (["drive", "--episodes", "0"], "--episodes 0"),
    (["drive", "--set", "camera.width_px=-5"], "camera.width_px=-5"),
    (["drive", "--set", "camera.fov=90"], "unknown config key camera.fov"),
    (["drive", "--perception", "pixels"], "--perception 'pixels' is not allowed"),
    (["drive", "--policy", "no-such-policy"], "--policy 'no-such-policy'"),
    (["drive", "--device", "tpu"], "--device 'tpu' is not allowed"),
    (["snapshot", "--out", "x.jpg"], "must end in .png"),
])
def test_bad_input_is_one_line_and_exit_2(argv, needle, tmp_path, capsys):
    argv = argv + (["--out", str(tmp_path / "r")] if argv[0] == "drive" else [])
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
    assert not (tmp_path / "r").exists()  # nothing half-written


def test_snapshot_writes_png(tmp_path):
    out = tmp_path / "snap.png"
    assert main(["snapshot", "--scenario", "highway", "--steps", "5", "--out", str(out)]) == 0
    img = cv2.imread(str(out))
    assert img is not None and img.shape[0] == 3 * img.shape[1] // 2  # three stacked 2x views of 320x160
