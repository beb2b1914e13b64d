"""Rerun recordings: ``drive --rerun`` and ``replay --rerun`` write an .rrd that rerun's own reader
opens, with the expected entity paths at every step; ``drivestack view`` writes the same from a
finished run's files; a missing rerun-sdk is a one-line error naming the extra."""

import dataclasses
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from drivestack.cli import main
from perception.types import Detections, LaneEstimate, PerceptionFrame, perception_frame_from_json, perception_frame_json
from sim.labels import EgoTruth, GroundTruth, ObjectLabel

rerun = pytest.importorskip("rerun", reason="rerun-sdk is in the test extra: pip install -e '.[test]'")

# logged at every step of a sim drive (perception from labels: the masks and depth exist)
EVERY_STEP = {"/camera/image", "/camera/perception/detections", "/camera/perception/drivable", "/camera/perception/lanes",
              "/camera/perception/depth", "/camera/truth/detections", "/camera/truth/drivable", "/camera/truth/lanes",
              "/camera/truth/depth", "/bev/perception/objects", "/bev/perception/lane", "/bev/truth/objects",
              "/bev/truth/lane", "/bev/route", "/signals/speed/ego_m_s", "/signals/speed/limit_m_s"}
# logged at every step after the reset (they need an action)
AFTER_RESET = {"/signals/steer", "/signals/throttle", "/signals/brake", "/signals/supervisor_active", "/reward/progress"}
STATIC = {"/bev", "/bev/ego"}
DENSE = {p for p in EVERY_STEP if p.rsplit("/", 1)[1] in ("drivable", "lanes", "depth")}


def read_rrd(path: Path) -> dict[str, set[int]]:
    """Entity path -> the ``step`` time points it was logged at (empty for static data), by rerun's own reader."""
    from rerun.chunk import RrdReader

    out: dict[str, set[int]] = {}
    for chunk in RrdReader(path).store().stream():
        steps = out.setdefault(chunk.entity_path, set())
        if not chunk.is_static:
            steps.update(chunk.to_record_batch().column("step").to_pylist())
    return out


def _check(contents: dict[str, set[int]], n: int, expect: set[str]) -> None:
    assert STATIC <= set(contents)
    for path in expect & EVERY_STEP:
        assert contents[path] == set(range(n)), path
    for path in expect & AFTER_RESET:
        assert contents[path] == set(range(1, n)), path


@pytest.mark.slow
def test_drive_rerun_recording_and_view(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["drive", "--route-length", "50", "--seed", "2", "--perception", "labels", "--out", str(out), "--quiet",
                 "--rerun"]) == 0
    ep = out / "episode-000"
    n = len((ep / "steps.jsonl").read_text().splitlines())  # the reset frame plus one per step
    assert n > 10
    live = read_rrd(ep / "recording.rrd")
    _check(live, n, EVERY_STEP | AFTER_RESET)
    assert max(live["/camera/image"]) == n - 1

    # view converts the finished run's files: the same entities and steps (no dense maps: the files keep none)
    assert main(["view", str(out)]) == 2  # episode-000/recording.rrd exists already: never overwritten
    assert "already exists" in capsys.readouterr().err
    converted = tmp_path / "view.rrd"
    assert main(["view", str(out), "--out", str(converted)]) == 0
    assert f"{n} steps" in capsys.readouterr().out
    viewed = read_rrd(converted)
    _check(viewed, n, (EVERY_STEP - DENSE) | AFTER_RESET)
    timed = {p for p, steps in viewed.items() if steps}
    assert timed - {"/events"} == {p for p, steps in live.items() if steps} - DENSE - {"/events"}
    assert not list(tmp_path.glob("*.partial"))

    # replay of the episode: perception from the models beside the recording's labels
    rep = tmp_path / "replay"
    assert main(["replay", str(ep), "--out", str(rep), "--max-frames", "3", "--device", "cpu", "--quiet", "--rerun"]) == 0
    replayed = read_rrd(rep / "recording.rrd")
    for path in ("/camera/image", "/camera/perception/detections", "/camera/perception/depth", "/camera/truth/detections",
                 "/bev/perception/objects", "/bev/truth/objects", "/bev/route"):
        assert replayed[path] == {0, 1, 2}, path
    # and view of the replay's output folder (frames.jsonl + annotated.mp4)
    assert main(["view", str(rep), "--out", str(tmp_path / "replay.rrd")]) == 0
    assert read_rrd(tmp_path / "replay.rrd")["/camera/image"] == {0, 1, 2}


def _frame(index: int) -> tuple[PerceptionFrame, GroundTruth]:
    dets = Detections(np.array([[10, 20, 40, 50]], np.float32), np.array([0.9], np.float32), np.array([0]), np.array([7]),
                      np.array([12.0], np.float32), np.array([[12.0, 0.5]], np.float32), np.array([[-1.0, 0.0]], np.float32))
    h, w = 16, 32
    pf = PerceptionFrame(index, 0.05 * index, "test", (h, w), dets, LaneEstimate(0.1, 0.01, 0.002, 3.5, 0.9),
                         lead_index=0, lead_ttc_s=12.0, drivable=np.ones((8, 16), bool), lane_mask=np.zeros((8, 16), np.uint8),
                         depth_m=np.full((8, 16), 20.0, np.float32), timings_ms={"total": 3.0})
    ego = EgoTruth(0.1, 0.01, (0.0, 0.001, 0.002), 0, 2, 3.5, 13.9, "none", math.inf, 5.0 * index, 100.0, 8.0)
    gt = GroundTruth(ego, [ObjectLabel(3, 0, "car", (10, 20, 40, 50), 300, 1.0, 12.0, 14.0, 0.5, 0.1, 7.0)],
                     drivable=np.ones((h, w), bool), lanes=np.zeros((h, w), np.uint8), depth_m=np.full((h, w), 20.0, np.float32))
    return pf, gt


def test_rerun_log_writes_what_it_is_given(tmp_path):
    from drivestack.rerun_log import RerunLog, step_signals

    log = RerunLog(tmp_path / "x.rrd", name="test")
    for k in range(4):
        pf, gt = _frame(k)
        if k == 1:  # a lead closing at walking pace 2 km away: no threat, and a spike that would flatten the plot
            pf = dataclasses.replace(pf, lead_ttc_s=5000.0)
        action = None if k == 0 else np.array([0.1, -0.5], np.float32)
        signals = step_signals(gt, action, {"progress": 0.1} if k else {}, {"collision": "car" if k == 2 else None,
                                                                           "collision_id": -1, "goal": False, "progress_m": 0.3},
                               supervisor_active=True if k == 3 else None, supervisor_reason="lead too close" if k == 3 else "")
        log.log_step(k, 0.05 * k, np.zeros((16, 32, 3), np.uint8), pf, gt, signals)
    log.close()
    c = read_rrd(tmp_path / "x.rrd")
    _check(c, 4, EVERY_STEP | {"/signals/steer", "/signals/brake", "/reward/progress"})
    assert c["/signals/lead_ttc_s"] == {0, 2, 3} and c["/signals/perception_ms"] == set(range(4))
    assert c["/events"] == {2, 3}  # the collision, the supervisor's override; numbers and ids are not events
    assert c["/signals/supervisor_active"] == {3}


def test_route_ahead_follows_the_lane():
    from drivestack.rerun_log import route_ahead_m

    straight = route_ahead_m(0.5, 0.0, (0.0, 0.0, 0.0), 30.0)
    assert straight[0].tolist() == [0.0, -0.5] and np.allclose(straight[:, 1], -0.5) and straight[-1, 0] == pytest.approx(30.0)
    r = 50.0  # a left curve of radius 50 m from the start: the centre line is a circle through the ego
    arc = route_ahead_m(0.0, 0.0, (1 / r, 1 / r, 1 / r), 40.0, step_m=0.5)
    assert np.allclose(np.hypot(arc[:, 0], arc[:, 1] - r), r, atol=0.02)
    assert len(route_ahead_m(0.0, 0.0, (0.0, 0.0, 0.0), 0.0)) == 1  # at the goal: nothing ahead


def test_perception_frame_and_ground_truth_read_back_from_json():
    pf, gt = _frame(2)  # timestamp 0.1 s: perception.jsonl keeps 4 decimals
    back = perception_frame_from_json(perception_frame_json(pf))
    assert back == PerceptionFrame(pf.index, pf.timestamp_s, pf.source, pf.image_size, pf.detections, pf.lane,
                                   lead_index=0, lead_ttc_s=12.0)
    empty = PerceptionFrame(0, 0.0, "t", (4, 4), Detections.empty(), LaneEstimate.unknown())
    assert perception_frame_from_json(perception_frame_json(empty)) == empty  # NaN lane, inf TTC / light distance
    g = GroundTruth.from_json(gt.to_json())
    assert g.ego == gt.ego and g.objects == gt.objects and g.drivable is None


def test_rerun_refusals_leave_nothing(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    assert main(["drive", "--rerun", "localhost:9876", "--out", str(out)]) == 2
    assert "--rerun 'localhost:9876' is not allowed" in capsys.readouterr().err and not out.exists()
    monkeypatch.setitem(sys.modules, "rerun", None)  # as if rerun-sdk were not installed
    for argv in (["drive", "--rerun", "--out", str(out)], ["view", str(tmp_path)],
                 ["replay", str(tmp_path), "--rerun", "--out", str(tmp_path / "rep")]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.endswith('need the rerun extra: pip install -e ".[rerun]"') and "\n" not in err
    assert not out.exists() and not (tmp_path / "rep").exists()
