"""``drivestack drive`` end to end at toy size: the run folder it writes, replay reading it back,
and its refusals (a bad policy file, an existing run folder) leaving nothing behind."""

import json
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from drivestack.cli import main

EPISODE_FILES = {"camera.mp4", "hud.mp4", "steps.jsonl", "recording.json", "perception.jsonl", "metrics.json"}


def _frames(path: Path) -> tuple[int, int, int]:
    cap = cv2.VideoCapture(str(path))
    out = (int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    cap.release()
    return out


def _check_run(out: Path, source: str) -> dict:
    assert {p.name for p in out.iterdir()} == {"config.yaml", "metrics.json", "episode-000", "report.html"}
    ep_dir = out / "episode-000"
    assert {p.name for p in ep_dir.iterdir()} == EPISODE_FILES
    run = json.loads((out / "metrics.json").read_text())
    assert run["settings"]["perception"] == source and run["settings"]["supervisor"]
    assert run["summary"]["episodes"] == 1 and "interventions" in run["summary"] and run["summary"]["steps_per_s"] > 0
    ep = json.loads((ep_dir / "metrics.json").read_text())
    assert ep == run["episodes"][0]
    assert ep["route_completion"] > 0.5 and ep["steps"] > 10 and ep["perception"] == source
    # the list holds every override and every warning; ``interventions`` counts the overrides
    overrides = [i for i in ep["interventions_list"] if i["stage"] != "warning"]
    assert isinstance(ep["interventions_list"], list) and len(overrides) == ep["interventions"]
    n = ep["steps"] + 1  # the reset frame plus one per step
    assert _frames(ep_dir / "camera.mp4") == (n, 320, 160)
    assert _frames(ep_dir / "hud.mp4") == (n, 928, 320)  # the drive view: camera x2 + the side panel
    lines = [json.loads(t) for t in (ep_dir / "perception.jsonl").read_text().splitlines()]
    assert len(lines) == n and [d["index"] for d in lines[:3]] == [0, 1, 2]
    assert len((ep_dir / "steps.jsonl").read_text().splitlines()) == n
    assert json.loads((ep_dir / "recording.json").read_text())["complete"]
    page = (out / "report.html").read_text()  # the HTML report, from this run's own files
    assert 'id="episode-000"' in page and page.count('class="plotly-graph-div"') == 1
    return ep


@pytest.mark.slow
def test_drive_from_labels_writes_a_replayable_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["drive", "--route-length", "60", "--seed", "2", "--perception", "labels", "--out", str(out), "--quiet"]) == 0
    ep = _check_run(out, "labels")
    assert ep["success"] and ep["end"] == "goal"
    table = capsys.readouterr().out
    assert "route" in table and "interv" in table and "steps/s" in table and "success 100%" in table

    # drivestack replay reads the episode as a sim recording and scores perception against its labels
    rep = tmp_path / "replay"
    assert main(["replay", str(out / "episode-000"), "--out", str(rep), "--quiet"]) == 0
    summary = json.loads((rep / "summary.json").read_text())
    assert summary["frames"] == ep["steps"] + 1 and "accuracy" in summary
    assert summary["accuracy"]["lane_offset_median_abs_error_m"] is not None

    # the run's config.yaml is a preset: the same drive again, without video
    again = tmp_path / "again"
    assert main(["drive", "--config", str(out / "config.yaml"), "--seed", "2", "--perception", "labels", "--no-video",
                 "--out", str(again), "--quiet"]) == 0
    assert {p.name for p in (again / "episode-000").iterdir()} == {"perception.jsonl", "metrics.json"}
    ep2 = json.loads((again / "metrics.json").read_text())["episodes"][0]
    assert ep2["steps"] == ep["steps"] and ep2["driving_score"] == ep["driving_score"]


@pytest.mark.slow
def test_drive_from_the_models(tmp_path):
    out = tmp_path / "run"
    assert main(["drive", "--route-length", "60", "--device", "cpu", "--out", str(out), "--quiet"]) == 0
    ep = _check_run(out, "models")
    assert ep["perception_ms_mean"] > 0
    first = json.loads((out / "episode-000" / "perception.jsonl").read_text().splitlines()[0])
    assert {"detector", "multitask", "total"} <= set(first["timings_ms"])


def test_drive_without_the_far_field_says_so_and_runs_the_plain_detector(tmp_path):
    from drivestack.drive import _perception

    assert _perception("models", "cpu").detector.far_field is not None  # on by default
    assert _perception("models", "cpu", far_field=False).detector.far_field is None
    out = tmp_path / "run"
    assert main(["drive", "--route-length", "50", "--device", "cpu", "--no-far-field", "--no-video", "--out", str(out),
                 "--quiet"]) == 0
    assert yaml.safe_load((out / "config.yaml").read_text())["drive"]["far_field"] is False


def _not_a_policy(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / "policy.zip"
    if kind == "text":
        path.write_text("not a policy")
    else:  # a zip, but not one stable-baselines3 saved
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("weights.bin", b"\0" * 16)
    return path


@pytest.mark.parametrize("kind", ["text", "zip"])
def test_a_file_that_is_not_a_policy_is_refused_and_leaves_no_folder(kind, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["drive", "--policy", str(_not_a_policy(tmp_path, kind)), "--perception", "labels", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "--policy" in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_an_existing_run_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["drive", "--perception", "labels", "--route-length", "60", "--out", str(out), "--quiet"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_non_finite_observations_are_a_safe_stop_not_a_crash(tmp_path):
    import gymnasium as gym

    from control.envs import make_env
    from control.policies import RuleBasedPolicy
    from control.supervisor import SafetySupervisor
    from drivestack.drive_loop import DriveTap, drive_episode
    from drivestack.drive_output import EpisodeOutput

    class Blind(gym.ObservationWrapper):  # perception fails (NaN everywhere) on steps 5-9
        def __init__(self, env):
            super().__init__(env)
            self.t = 0

        def reset(self, **kw):
            self.t = 0
            return super().reset(**kw)

        def step(self, action):
            self.t += 1
            return super().step(action)

        def observation(self, obs):
            return np.full_like(obs, np.nan) if 5 <= self.t < 10 else obs

    policy = SafetySupervisor(RuleBasedPolicy())
    tap = DriveTap(Blind(make_env("town", 60.0, render_camera=True)), policy, "labels", show=False)
    m = drive_episode(tap, policy, 2, EpisodeOutput(tmp_path / "ep", fps=20.0))
    reasons = [i["reason"] for i in m["interventions_list"]]
    assert sum("non-finite" in r for r in reasons) == 5
    assert m["steps"] > 10 and (tmp_path / "ep" / "recording.json").is_file()


def test_hud_draws_non_finite_values():
    from drivestack.hud import HudState, compose
    from perception.types import Detections, LaneEstimate, PerceptionFrame

    pf = PerceptionFrame(0, 0.0, "test", (160, 320), Detections.empty(), LaneEstimate(np.nan, np.nan, np.nan, np.nan, 0.0))
    hud = HudState(np.nan, np.nan, np.nan, np.inf, supervisor_active=True)
    view = compose(np.zeros((160, 320, 3), np.uint8), pf, hud)
    assert view.shape == (320, 928, 3) and view.dtype == np.uint8  # 2x the camera + the side panel
