"""``drivestack eval suite`` end to end at toy size (rule-based driver on labels): the JSON's shape,
pass / fail as the suite env's ``info["suite"]`` says, a failed case's clip and report page, and bad
input as one line before any work."""

import json

import cv2
import pytest

from drivestack.cli import main


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_two_scenarios_end_to_end_match_the_suite_env(capsys):
    assert main(["eval", "suite", "--rows", "rule-based/labels", "--scenarios", "CPNA-25,CCRs",
                 "--sweep", "defaults", "--param", "ego_kmh=20", "--json"]) == 0
    r = _json(capsys)
    assert set(r) == {"suite", "table", "totals", "cases", "policy_files"}
    assert r["suite"]["scenarios"] == ["CCRs", "CPNA-25"] and r["suite"]["rows"] == ["rule-based/labels"]
    assert r["suite"]["cases_per_row"] == 2 and len(r["cases"]) == 2  # 2 scenarios x ego 20 km/h x seed 0
    assert [(c["scenario"], c["params"]["ego_kmh"]) for c in r["cases"]] == [("CCRs", 20.0), ("CPNA-25", 20.0)]
    assert all(c["params"].get("overlap_pct") == 100.0 for c in r["cases"] if c["scenario"] == "CCRs")  # the default
    for name in ("CCRs", "CPNA-25"):
        cell = r["table"][name]["rule-based/labels"]
        mine = [c for c in r["cases"] if c["scenario"] == name]
        assert cell["cases"] == 1 and cell["passed"] == sum(c["passed"] for c in mine)
        assert cell["pass_rate"] == cell["passed"] and cell["collisions"] == sum(c["collision"] is not None for c in mine)
        assert cell["interventions"] == sum(c["interventions"] for c in mine)
    assert r["totals"]["rule-based/labels"]["cases"] == 2

    # the same cases driven by hand through the suite env: the records say what info["suite"] said
    from control.envs import make_suite_env
    from control.evaluate import run_episode
    from control.policies import RuleBasedPolicy
    from control.supervisor import SafetySupervisor

    env, policy = make_suite_env(), SafetySupervisor(RuleBasedPolicy())
    for c in r["cases"]:
        last = {}
        m, _ = run_episode(env, policy, c["seed"], lambda o, a, info: last.update(info["suite"]),
                           {"scenario": c["scenario"], "params": c["params"]})
        assert last["done"] and c["passed"] == last["passed"] and c["collision"] == last["collision"]
        overrides = sum(i.stage != "warning" for i in policy.interventions)  # warnings leave the action alone
        assert c["steps"] == m["steps"] and c["interventions"] == m["interventions"] == overrides
        assert c["min_gap_m"] == pytest.approx(last["min_gap_m"], abs=1e-3)


def test_a_failed_case_writes_its_clip_and_the_report(tmp_path, capsys):
    # without the supervisor the rule-based driver alone enters on green in front of a car running its red at
    # 79 km/h (it passes the pedestrian cases alone since it yields to crossers, control.crossers)
    out = tmp_path / "suite"
    assert main(["eval", "suite", "--rows", "rule-based/labels", "--scenarios", "RedLightRunner", "--sweep", "defaults",
                 "--param", "ego_kmh=47", "--param", "runner_kmh=79", "--no-supervisor", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "RedLightRunner" in text and "rule-based/labels" in text
    r = json.loads((out / "report.json").read_text())
    (case,) = r["cases"]
    assert not case["passed"] and case["collision"] == "target" and case["end"] == "collision (vehicle)"
    assert case.get("clip_note") is None
    assert case["clip"] == "failures/RedLightRunner_ego_kmh47_runner_kmh79_seed0_rule-based-labels.mp4"
    video = cv2.VideoCapture(str(out / case["clip"]))
    # the last 4 s at 20 Hz, or the whole run where it was shorter
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == case["clip_frames"] == min(80, case["steps"]) > 40
    ok, frame = video.read()
    video.release()
    assert ok and frame.shape[0] == 320 and frame.shape[1] > 640  # the camera x2 and the HUD panel
    pytest.importorskip("plotly")
    page = (out / "report.html").read_text()
    assert "safety suite" in page and case["clip"] in page and 'class="strip"' in page


@pytest.mark.parametrize("flags, needle", [
    (["--scenarios", "CPNA-99"], "unknown scenario or family 'CPNA-99'; scenarios: CCRs, CCRm"),
    (["--scenarios", "pedestrian", "--param", "ego_kmh=70"], "--param ego_kmh=70 is outside what CPNA-25 supports; use ego_kmh in [10, 60] km/h"),
    (["--scenarios", "CCRs", "--param", "gap_s=1"], "no chosen scenario takes 'gap_s'; they take ego_kmh, overlap_pct"),
    (["--seeds-per-scenario", "0"], "--seeds-per-scenario 0 is not allowed; use 1 or more"),
    (["--sweep", "huge"], "--sweep 'huge' is not allowed; choose one of short, full, defaults, drawn"),
    (["--scenarios", "CCRs", "--sweep", "drawn", "--param", "ego_kmh=30"], "is not allowed with --sweep drawn"),
    (["--rows", "ppo/lidar"], "--rows 'ppo/lidar' is not allowed; choose from ppo/labels"),
    (["--workers", "0"], "--workers 0 is not allowed"),
    (["--seeds", "1-3"], "use --seeds-per-scenario N"),
    (["--detector", "/nope/det.pt"], "detector weights '/nope/det.pt' do not exist"),
    (["--joint", "--hydranet", "perception/models/hydranet.pt"], "--joint replaces --detector and --hydranet"),
])
def test_bad_input_is_one_line_before_any_work(flags, needle, monkeypatch, capsys, tmp_path):
    from control import evaluate as control_eval

    def no_work(*args, **kwargs):
        raise AssertionError("work started on bad input")

    monkeypatch.setattr(control_eval, "run_tasks", no_work)
    out = tmp_path / "never"
    assert main(["eval", "suite", *flags, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err, err
    assert not out.exists()


def test_a_row_with_the_camera_keeps_the_last_seconds_while_it_drives(tmp_path):
    from control.envs import make_suite_env
    from control.policies import RuleBasedPolicy
    from control.suite_eval import SuiteCase, run_case
    from drivestack.suite_clips import ClipTap, clip_steps

    env, policy = make_suite_env(render_camera=True), RuleBasedPolicy()
    tap = ClipTap(env, policy, "labels", env.unwrapped.dt_s)
    record = run_case(env, policy, SuiteCase("CPNA-25", (("ego_kmh", 10.0),), 0), tap)
    assert record["steps"] > clip_steps(0.05) == len(tap.frames) == 80 and record["supervised"] is False
    assert tap.frames[-1][2].time_s == pytest.approx(record["duration_s"])  # the last kept step is the last one
    assert tap.write(tmp_path / "clip.mp4") == 80
    assert int(cv2.VideoCapture(str(tmp_path / "clip.mp4")).get(cv2.CAP_PROP_FRAME_COUNT)) == 80


def test_the_models_rows_see_through_the_detector_given(monkeypatch, capsys, tmp_path):
    """--detector (and --hydranet) reach the models rows of eval suite, as they do eval perception: a retrained
    detector is judged on the suite by the same command (before, they were taken and the shipped pair ran)."""
    from control import evaluate as control_eval
    from perception.model_files import DEFAULT_DETECTOR, DEFAULT_HYDRANET
    from perception.pipeline import Perception

    det = tmp_path / "det.pt"
    det.write_bytes(DEFAULT_DETECTOR.read_bytes())
    seen = {}

    def tasks_seen(fn, tasks, *args, **kwargs):
        seen["options"] = tasks[0][-1]
        raise SystemExit(0)

    monkeypatch.setattr(control_eval, "run_tasks", tasks_seen)
    with pytest.raises(SystemExit):
        main(["eval", "suite", "--rows", "rule-based/models", "--scenarios", "CCRs", "--sweep", "defaults",
              "--detector", str(det)])
    assert seen["options"][-2:] == ((str(det.resolve()), str(DEFAULT_HYDRANET.resolve())), "auto")  # pair, backend

    def loads(cls, *args, **kwargs):
        seen["loaded"] = args
        raise RuntimeError("loaded")

    monkeypatch.setattr(Perception, "from_files", classmethod(loads))
    with pytest.raises(RuntimeError, match="loaded"):
        control_eval.row_objects("rule-based/models", control_eval.SUITE, 0.0, None, None, True, "cpu",
                                 pair=seen["options"][-2])
    assert seen["loaded"] == seen["options"][-2]
