"""Record a drive: the camera as mp4 (optionally the HUD view too) and every step as JSONL.

Files under ``out_dir``::

    camera.mp4      the forward camera, ``fps`` frames/s (OpenCV 'mp4v')
    hud.mp4         with ``hud=True``: ``env.render()``'s view
    steps.jsonl     one line per ``add()``: step, time_s, action, state, events, reward_terms,
                    reward, ground_truth (``GroundTruth.to_json()``)
    recording.json  written by ``close()``: fps, frame count, image sizes, "complete": true

Each JSONL line is flushed as it is written, so an interrupted recording still reads back up
to its last step; ``recording.json`` is written last, so its absence marks the recording as
incomplete (the mp4 of an interrupted run is usually unreadable: its index is written on close).

Usage::

    with Recorder("runs/drive1", fps=20, hud=True) as rec:
        obs, info = env.reset(seed=0)
        rec.add(obs["image"], info, None, hud_image=env.render(), state=obs["state"])
        ...
    rec = load_recording("runs/drive1")   # rec.steps[i]["ground_truth"]["ego"]["speed_limit_m_s"]
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

FORMAT_VERSION = 1
SUMMARY = "recording.json"
STEPS = "steps.jsonl"


def _plain(value: Any) -> Any:
    """numpy scalars and arrays, non-finite floats → JSON-safe values (None for NaN / inf)."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    return value


class _Video:
    """One mp4 stream; the frame size is fixed by the first frame."""

    def __init__(self, path: Path, fps: float):
        self.path, self.fps = path, fps
        self.writer: cv2.VideoWriter | None = None
        self.size: tuple[int, int] | None = None  # (width, height) [px]
        self.frames = 0

    def check(self, rgb: np.ndarray) -> None:
        """Raise ValueError for a frame this stream cannot take (before anything is written)."""
        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"{self.path.name}: expected an (H, W, 3) uint8 RGB image, got {rgb.shape} {rgb.dtype}")
        if self.size is not None and (rgb.shape[1], rgb.shape[0]) != self.size:
            raise ValueError(f"{self.path.name}: frame size {(rgb.shape[1], rgb.shape[0])} differs from the first frame's {self.size}")

    def write(self, rgb: np.ndarray) -> None:
        self.check(rgb)
        size = (rgb.shape[1], rgb.shape[0])
        if self.writer is None:
            self.writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, size)
            if not self.writer.isOpened():
                raise RuntimeError(f"OpenCV cannot write {self.path} (mp4v codec unavailable or folder not writable)")
            self.size = size
        self.writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None


class Recorder:
    """Writes a drive to ``out_dir`` step by step; ``close()`` (or leaving the ``with``) finalises it.

    ``fps`` should equal the env's ``control_hz`` so the video plays in real time; ``time_s`` in
    the JSONL is ``step / fps``.
    """

    def __init__(self, out_dir: str | os.PathLike, fps: float = 20.0, hud: bool = False):
        if not fps > 0:
            raise ValueError(f"fps={fps!r} is not allowed; use a positive number")
        self.out = Path(out_dir)
        if (self.out / SUMMARY).exists() or (self.out / STEPS).exists():
            raise FileExistsError(f"{str(self.out)!r} already holds a recording; choose a new folder")
        self.out.mkdir(parents=True, exist_ok=True)
        self.fps, self.hud = float(fps), hud
        self.camera = _Video(self.out / "camera.mp4", self.fps)
        self.hud_video = _Video(self.out / "hud.mp4", self.fps) if hud else None
        self._steps = open(self.out / STEPS, "w", encoding="utf-8")
        self.count = 0
        self.closed = False

    def add(self, obs_image: np.ndarray, info: dict, action: np.ndarray | None, hud_image: np.ndarray | None = None,
            state: np.ndarray | None = None) -> None:
        """One step: the camera image, ``info`` from reset/step, the action that led here (None after reset)."""
        if self.closed:
            raise RuntimeError("Recorder.add() after close()")
        self.camera.check(obs_image)  # both streams checked first: they must never differ in length
        if self.hud_video is not None:
            if hud_image is None:
                raise ValueError("this Recorder has hud=True: pass hud_image=env.render()")
            self.hud_video.check(hud_image)
            self.hud_video.write(hud_image)
        self.camera.write(obs_image)
        terms = info.get("reward_terms") or {}
        gt = info.get("ground_truth")
        line = {
            "step": self.count,
            "time_s": self.count / self.fps,
            "action": _plain(action),
            "state": _plain(state),  # obs["state"]: speed m/s, yaw rate rad/s, previous steer, previous accel
            "events": _plain(info.get("events") or {}),
            "reward_terms": _plain(terms),
            "reward": float(sum(terms.values())),
            "ground_truth": gt.to_json() if gt is not None else None,
        }
        self._steps.write(json.dumps(line) + "\n")
        self._steps.flush()  # line by line: an interrupted run still reads back
        self.count += 1

    def close(self) -> dict:
        """Finalise the videos and write ``recording.json``; returns its contents."""
        if self.closed:
            return self.summary
        self.camera.close()
        if self.hud_video is not None:
            self.hud_video.close()
        self._steps.close()
        self.summary = {
            "format_version": FORMAT_VERSION, "complete": True, "steps": self.count, "fps": self.fps,
            "camera": {"file": self.camera.path.name, "frames": self.camera.frames, "size_px": self.camera.size},
            "hud": None if self.hud_video is None else
            {"file": self.hud_video.path.name, "frames": self.hud_video.frames, "size_px": self.hud_video.size},
        }
        tmp = self.out / (SUMMARY + ".tmp")
        tmp.write_text(json.dumps(self.summary, indent=2) + "\n")
        os.replace(tmp, self.out / SUMMARY)
        self.closed = True
        return self.summary

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:  # leave no recording.json: the run did not finish
            self.camera.close()
            if self.hud_video is not None:
                self.hud_video.close()
            self._steps.close()
            self.closed = True


@dataclass(frozen=True)
class Recording:
    """A recording read back: its steps (dicts as written) and summary."""

    path: Path
    steps: list[dict]
    complete: bool  # recording.json present: the run finished
    summary: dict | None  # recording.json's contents, None when incomplete

    @property
    def camera_video(self) -> Path:
        return self.path / "camera.mp4"


def load_recording(path: str | os.PathLike) -> Recording:
    """Read ``steps.jsonl`` (and ``recording.json`` when present); a torn last line is dropped."""
    path = Path(path)
    steps_file = path / STEPS
    if not steps_file.is_file():
        raise FileNotFoundError(f"{str(path)!r} holds no {STEPS}; not a recording")
    lines = steps_file.read_text(encoding="utf-8").splitlines()
    steps = []
    for i, text in enumerate(lines):
        try:
            steps.append(json.loads(text))
        except json.JSONDecodeError:
            if i == len(lines) - 1:  # an interrupted write: everything before it is whole
                break
            raise ValueError(f"{steps_file}: line {i + 1} is not valid JSON") from None
    summary = json.loads((path / SUMMARY).read_text()) if (path / SUMMARY).is_file() else None
    return Recording(path, steps, summary is not None, summary)
