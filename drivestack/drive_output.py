"""What ``drivestack drive`` writes for one episode, step by step.

``EPISODE/``::

    camera.mp4        the forward camera as the car saw it          (sim.recording.Recorder)
    hud.mp4           the drive view: camera x2 with detections, lanes, drivable area, and a
                      side panel with gauges and a bird's-eye view  (drivestack.hud.compose)
    steps.jsonl       per step: action, state, events, reward terms, ground truth (Recorder)
    recording.json    written last: the recording is complete        (Recorder)
    perception.jsonl  per step: ``perception.types.perception_frame_json`` of what the policy saw
    metrics.json      the episode's driving metrics (written by the caller)

camera.mp4 + steps.jsonl make the folder a simulator recording, so ``drivestack replay EPISODE``
re-runs perception on it and scores it against the ground truth. Without video only
perception.jsonl (and metrics.json) are written. Every JSONL line is flushed as written.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

PERCEPTION = "perception.jsonl"


class EpisodeOutput:
    """Writes one episode's files under ``folder``; ``video=False`` keeps only the JSONL."""

    def __init__(self, folder: Path, fps: float, video: bool = True):
        from sim.recording import Recorder

        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=False)
        self.recorder = Recorder(self.folder, fps=fps, hud=True) if video else None
        self._perception = open(self.folder / PERCEPTION, "w", encoding="utf-8")
        self.steps = 0

    def add(self, pf, info: dict, action: np.ndarray | None, camera_rgb: np.ndarray | None = None,
            view_rgb: np.ndarray | None = None, state: np.ndarray | None = None) -> None:
        """One reset or step: what perception reported, the env's info, the action that led here (None after reset)."""
        from perception.types import perception_frame_json

        if self.recorder is not None:
            self.recorder.add(camera_rgb, info, action, hud_image=view_rgb, state=state)
        if pf is not None:
            self._perception.write(json.dumps(perception_frame_json(pf)) + "\n")
            self._perception.flush()
        self.steps += 1

    def close(self) -> None:
        """Finalise the videos (playable from here on) and the recording summary."""
        if self.recorder is not None:
            self.recorder.close()
        self._perception.close()

    def abort(self) -> None:
        """Close without marking the recording complete (an interrupted episode)."""
        if self.recorder is not None:
            self.recorder.__exit__(RuntimeError, None, None)
        self._perception.close()
