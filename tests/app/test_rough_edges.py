"""The rough edges a new user hit (issue 15): each command-line error is one line naming the value,
exits 2 and leaves nothing behind; an interrupted run says so on disk; ``--version`` exists."""

from __future__ import annotations

import json
from importlib.metadata import version

import cv2
import numpy as np
import pytest
import torch

from drivestack.cli import main
from drivestack.run_marker import MARKER


def _one_line_error(capsys, needle: str) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert needle in err, err
    return err


def test_version_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"drivestack {version('drivestack')}"


# --- drive / snapshot --seed -----------------------------------------------------------------------------


def test_drive_negative_seed_is_refused_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["drive", "--seed", "-1", "--perception", "labels", "--policy", "rule-based", "--out", str(out), "--quiet"]
    assert main(argv) == 2
    _one_line_error(capsys, "--seed -1 is not allowed")
    assert not out.exists()  # no config.yaml, no empty episode folder: a re-run to the same --out is not refused


def test_snapshot_negative_seed_is_refused_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "new" / "frame.png"
    assert main(["snapshot", "--seed", "-1", "--out", str(out)]) == 2
    _one_line_error(capsys, "--seed -1 is not allowed")
    assert not out.parent.exists()


# --- replay's options, checked before the models load -----------------------------------------------------


class _NoFrames:
    """A stand-in perception stack; replays that use it must never get as far as a frame."""

    backend = "stand-in"

    def __init__(self):
        from perception.pipeline import CameraSetup

        self.camera_setup = CameraSetup()

    def process(self, frame):
        raise KeyboardInterrupt  # as if Ctrl-C came while the first frame was processed


@pytest.fixture
def loads(monkeypatch):
    """Records every model load (``Perception.from_files``) and hands out a stand-in instead."""
    from perception.pipeline import Perception

    calls = []

    def from_files(*args, **kwargs):
        calls.append(kwargs)
        return _NoFrames()

    monkeypatch.setattr(Perception, "from_files", from_files)
    return calls


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for k in range(2):
        cv2.imwrite(str(folder / f"f{k}.png"), np.full((32, 64, 3), 40 * k, np.uint8))
    return folder


@pytest.mark.parametrize("flags, needle", [
    (["--fps", "0"], "--fps 0 is not allowed"),
    (["--fps", "nan"], "--fps nan is not allowed"),
    (["--fps", "-5"], "--fps -5 is not allowed"),
    (["--hfov", "0"], "--hfov 0 is not allowed"),
    (["--hfov", "200"], "--hfov 200 is not allowed; use a horizontal field of view in [20, 150] deg"),
    (["--camera-height", "-1"], "--camera-height -1 is not allowed; use a height above the road in [0.3, 5] m"),
    (["--camera-height", "0"], "--camera-height 0 is not allowed"),
    (["--size", "0x10"], "--size '0x10' is not allowed"),
    (["--size", "wide"], "--size 'wide' is not allowed"),
    (["--device", "bogus"], "device 'bogus' is not allowed"),
    pytest.param(["--device", "cuda"], "no CUDA device is available here",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")),
])
def test_replay_bad_option_is_one_line_before_loading_and_writing(flags, needle, images, loads, tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["replay", str(images), "--out", str(out), "--quiet", *flags]) == 2
    _one_line_error(capsys, needle)
    assert not out.exists() and loads == []


def test_replay_output_folder_that_cannot_be_created_is_one_line(images, loads, capsys):
    assert main(["replay", str(images), "--out", "/proc/x/replay", "--quiet"]) == 2
    _one_line_error(capsys, "cannot create output folder '/proc/x/replay'")


# --- eval / bench perception --device: checked before anything loads -----------------------------------------


@pytest.mark.parametrize("argv", [["eval", "perception"], ["eval", "policy"], ["bench", "perception"]])
def test_bad_device_fails_before_any_work(argv, monkeypatch, capsys):
    import drivestack.bench_perception as bench
    from control import evaluate as control_eval
    from perception.pipeline import Perception

    def no_work(*args, **kwargs):
        raise AssertionError("work started with a bad --device")

    monkeypatch.setattr(Perception, "from_files", no_work)
    monkeypatch.setattr(bench, "bench_perception", no_work)
    monkeypatch.setattr(control_eval, "compare", no_work)
    assert main([*argv, "--device", "bogus"]) == 2
    _one_line_error(capsys, "device 'bogus' is not allowed; choose auto, cpu, cuda or cuda:N")


def test_bench_perception_bad_seconds_is_one_line(capsys):
    assert main(["bench", "perception", "--seconds", "nan", "--device", "cpu"]) == 2
    _one_line_error(capsys, "--seconds nan is not allowed")


# --- runs that did not finish say so --------------------------------------------------------------------------


def test_interrupted_replay_keeps_its_incomplete_marker(images, loads, tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["replay", str(images), "--out", str(out), "--quiet"]) == 130  # Ctrl-C on the first frame
    assert (out / MARKER).is_file() and "drivestack replay started" in (out / MARKER).read_text()
    assert not (out / "summary.json").exists()


def test_replay_whose_source_stops_early_is_incomplete_and_exit_1(loads, tmp_path, capsys):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"not a png")  # a folder of images, none readable: the source fails mid-run
    out = tmp_path / "r"
    assert main(["replay", str(folder), "--out", str(out), "--quiet"]) == 1
    assert "source stopped early" in capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is False and "could be read" in summary["error"]
    assert "Stopped early:" in (out / MARKER).read_text()


def test_interrupted_drive_keeps_its_incomplete_marker(tmp_path, monkeypatch):
    import drivestack.drive_loop as loop

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "drive_episode", interrupted)
    out = tmp_path / "run"
    argv = ["drive", "--perception", "labels", "--policy", "rule-based", "--route-length", "60", "--no-video",
            "--out", str(out), "--quiet"]
    assert main(argv) == 130
    assert (out / MARKER).is_file() and "drivestack drive started" in (out / MARKER).read_text()
    assert not (out / "metrics.json").exists()


def test_the_core_install_brings_what_the_default_backend_needs():
    """`pip install -e .` (the README's first command) must run the default, ONNX Runtime, not PyTorch."""
    import re
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]

    def names(requirements):
        return {re.match(r"[A-Za-z0-9_.-]+", r).group(0).lower() for r in requirements}

    core = names(project["dependencies"])
    assert {"onnxruntime", "onnx", "onnxscript"} <= core
    assert not {"onnxruntime", "onnx", "onnxscript"} & names(project["optional-dependencies"]["test"])  # not test-only
