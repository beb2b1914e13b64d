"""Recorder: a short drive becomes a readable mp4 (frame count checked by OpenCV) and a JSONL
that load_recording reads back; an interrupted recording is not taken for a complete one."""

from __future__ import annotations

import json

import cv2
import gymnasium as gym
import numpy as np
import pytest

import sim  # noqa: F401  (registers the env ids)
from sim.recording import Recorder, load_recording

STEPS = 12


def frame_count(path) -> int:
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), path
    n = 0
    while cap.read()[0]:  # decode every frame, not just the container's claim
        n += 1
    cap.release()
    return n


@pytest.fixture(scope="module")
def env():
    env = gym.make("drivestack/Town-v0", config={"scenario": {"route_length_m": 150.0}})
    yield env
    env.close()


def drive(env, rec: Recorder, steps: int, hud: bool) -> list[list[float]]:
    obs, info = env.reset(seed=4)
    rec.add(obs["image"], info, None, hud_image=env.render() if hud else None, state=obs["state"])
    actions = []
    for _ in range(steps - 1):
        action = np.array([0.0, 0.4], np.float32)
        obs, _, terminated, truncated, info = env.step(action)
        rec.add(obs["image"], info, action, hud_image=env.render() if hud else None, state=obs["state"])
        actions.append(action.tolist())
        assert not (terminated or truncated)
    return actions


def test_recording_round_trip(env, tmp_path):
    out = tmp_path / "rec"
    with Recorder(out, fps=20, hud=True) as rec:
        actions = drive(env, rec, STEPS, hud=True)
    assert frame_count(out / "camera.mp4") == STEPS
    assert frame_count(out / "hud.mp4") == STEPS
    cap = cv2.VideoCapture(str(out / "camera.mp4"))
    assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (320, 160)
    cap.release()

    loaded = load_recording(out)
    assert loaded.complete and loaded.summary["steps"] == STEPS and loaded.summary["camera"]["frames"] == STEPS
    assert [s["step"] for s in loaded.steps] == list(range(STEPS))
    assert loaded.steps[0]["action"] is None and np.allclose([s["action"] for s in loaded.steps[1:]], actions)
    assert loaded.steps[3]["time_s"] == pytest.approx(3 / 20)
    last = loaded.steps[-1]
    assert set(last["events"]) >= {"collision", "off_road"} and "progress" in last["reward_terms"]
    assert last["reward"] == pytest.approx(sum(last["reward_terms"].values()))
    assert last["state"][0] > 0  # moving
    assert last["ground_truth"]["ego"]["route_length_m"] == pytest.approx(150.0)
    assert isinstance(last["ground_truth"]["objects"], list)


def test_interrupted_recording_reads_back_as_incomplete(env, tmp_path):
    out = tmp_path / "rec"
    with pytest.raises(KeyboardInterrupt):
        with Recorder(out, fps=20) as rec:
            drive(env, rec, 4, hud=False)
            raise KeyboardInterrupt
    with open(out / "steps.jsonl", "a") as f:  # a line torn by the interruption
        f.write('{"step": 4, "act')
    loaded = load_recording(out)
    assert not loaded.complete and loaded.summary is None and len(loaded.steps) == 4
    assert not (out / "recording.json").exists()


def test_recorder_refuses_misuse(env, tmp_path):
    out = tmp_path / "rec"
    with Recorder(out, hud=True) as rec:
        obs, info = env.reset(seed=1)
        with pytest.raises(ValueError, match="hud_image"):
            rec.add(obs["image"], info, None)
        rec.add(obs["image"], info, None, hud_image=env.render())
        with pytest.raises(ValueError, match="frame size"):
            rec.add(obs["image"][:32], info, None, hud_image=env.render())
    assert json.loads((out / "recording.json").read_text())["steps"] == 1
    with pytest.raises(FileExistsError):
        Recorder(out)
    with pytest.raises(FileNotFoundError):
        load_recording(tmp_path / "nothing")
