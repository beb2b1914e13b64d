"""``drivestack report``: the HTML page of a drive, a perception evaluation and a policy evaluation
(tables, plots, the failed episode's clip, plotly.js embedded once), its refusals, and the page
in a real headless Chromium (no console errors, every plot drawn, nothing fetched)."""

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from control.metrics import EpisodeLog, episode_metrics, summarize
from drivestack.cli import main
from drivestack.report import REPORT, write_report
from sim.recording import Recorder

FPS = 20.0
PLOT_DIV = 'class="plotly-graph-div"'


class _Truth:
    """Stands in for sim.labels.GroundTruth in a recording: only what the report reads."""

    def to_json(self):
        return {"ego": {"speed_limit_m_s": 50 / 3.6}, "objects": []}


def _episode(folder: Path, seed: int, steps: int, collide_at: int | None, interventions: list[tuple[int, str]]) -> dict:
    """A recorded episode (the recorder's own files, a small hud.mp4) and its metrics, as drive writes them."""
    log = EpisodeLog(dt_s=1 / FPS)
    perception = []
    with Recorder(folder, fps=FPS, hud=True) as rec:
        for k in range(steps + 1):
            speed = 8.0 + 0.02 * k
            action = None if k == 0 else np.array([0.1 * np.sin(k / 5), 0.3], np.float32)
            events = {"collision": "vehicle" if k == collide_at else None, "off_road": False, "solid_line": 10 <= k < 14,
                      "red_light": False, "goal": collide_at is None and k == steps, "progress_m": 0.4}
            image = np.full((16, 32, 3), (40 + 2 * k) % 255, np.uint8)
            rec.add(image, {"events": events, "reward_terms": {"progress": 0.01}, "ground_truth": _Truth()}, action,
                    hud_image=image, state=np.array([speed, 0.0, 0.0, 0.0], np.float32))
            perception.append({"index": k, "timestamp_s": k / FPS, "lead_ttc_s": 4.0 - 0.05 * k if 20 <= k < 40 else None})
            if k:
                terminated = k == steps
                log.add({"events": events, "route_completion": k / steps}, speed, action, terminated, False)
    (folder / "perception.jsonl").write_text("".join(json.dumps(p) + "\n" for p in perception))
    log.interventions = len(interventions)
    m = episode_metrics(log)
    m.update(seed=seed, interventions_list=[{"step": s, "reason": r} for s, r in interventions], steps_per_s=30.0,
             perception_ms_mean=None, scenario="town", perception="labels", policy="rule-based + supervisor")
    (folder / "metrics.json").write_text(json.dumps(m))
    return m


def _drive_run(root: Path) -> Path:
    """Two episodes: one reaches the goal, one ends in a collision after two interventions."""
    run = root / "drive"
    run.mkdir()
    settings = {"scenario": "town", "seed": 7, "episodes": 2, "perception": "labels", "policy": "rule-based",
                "policy_name": "rule-based + supervisor", "supervisor": True, "device": "auto", "interleave": False,
                "video": True}
    (run / "config.yaml").write_text(yaml.safe_dump({"drive": settings, "env": {"control_hz": FPS}}))
    episodes = [_episode(run / "episode-000", 7, 60, None, []),
                _episode(run / "episode-001", 8, 80, 80, [(30, "obstacle 3 m ahead: brake"), (31, "obstacle 3 m ahead: brake")])]
    (run / "metrics.json").write_text(json.dumps({"settings": settings, "summary": summarize(episodes), "episodes": episodes}))
    return run


RANGES = {"0-20m": 0.02, "20-40m": 0.05, "40-80m": None}


def _perception_eval(root: Path, curves: bool = True) -> Path:
    """An eval perception --out folder in the format perception.evaluate writes (figures made up)."""
    out = root / "eval-perception"
    out.mkdir()
    classes = ("car", "truck", "pedestrian", "traffic_light_red")
    report = {
        "frames": 20, "light_only_frames": 12, "seeds": [10000, 10001], "kinds": ["town", "highway"], "randomized": False,
        "detection": {"ap50": {"car": 0.71, "truck": 0.85, "pedestrian": 0.8, "traffic_light_red": None},
                      "ap50_95": {"car": 0.5, "truck": 0.6, "pedestrian": 0.55, "traffic_light_red": None},
                      "at_score_0.25": {c: {"precision": 0.9, "recall": 0.8, "n_true": 0 if c == "traffic_light_red" else 10}
                                        for c in classes}},
        "drivable_iou": 0.989, "lane_f1": {"ego_left": 0.99, "ego_right": 0.98, "other": 0.89},
        "depth_abs_rel_median_by_range": RANGES, "distance_median_rel_error_by_range": RANGES,
        "road_user_recall_by_range": {"0-20m": 0.98, "20-40m": 0.95, "40-80m": 0.7},
        "lane_offset_median_abs_error_m": 0.011,
        "light": {"source": "auto", "state_accuracy": 0.9, "state_accuracy_by_range": {"-3-15m": 0.92, "15-30m": 0.94},
                  "distance_median_abs_error_m_by_range": {"-3-15m": 0.3, "15-30m": 0.6}},
    }
    (out / "report.json").write_text(json.dumps(report))
    if curves:
        from perception.evaluate import pr_curves_json

        r = np.linspace(0, 0.9, 1000)
        pr = pr_curves_json({"car": (r, 1 - 0.5 * r), "truck": (r, 1 - 0.3 * r), "pedestrian": (np.zeros(0), np.zeros(0))})
        assert len(pr["car"]["recall"]) == 200 and pr["car"]["recall"][-1] == 0.9 and pr["pedestrian"]["recall"] == []
        (out / "pr_curves.json").write_text(json.dumps(pr))
    import cv2

    cv2.imwrite(str(out / "example_0.png"), np.full((48, 96, 3), 120, np.uint8))
    return out


def _policy_eval(root: Path) -> Path:
    """An eval policy --out folder (control.evaluate.compare's format): two rows, three seeds, one failure."""
    out = root / "eval-policy"
    out.mkdir()
    episodes = []
    for row in ("ppo/labels", "rule-based/labels"):
        for seed in (900000, 900001, 900002):
            log = EpisodeLog(dt_s=0.05)
            fail = row == "ppo/labels" and seed == 900001
            for k in range(20):
                last = k == 19
                events = {"collision": "pedestrian" if fail and last else None, "goal": last and not fail, "progress_m": 1.0}
                log.add({"events": events, "route_completion": (k + 1) / 20}, 8.0, (0.0, 0.2), last, False)
            episodes.append({**episode_metrics(log), "seed": seed, "row": row})
    rows = {row: summarize([e for e in episodes if e["row"] == row]) for row in ("ppo/labels", "rule-based/labels")}
    report = {"scenario": "town", "seeds": [900000, 900001, 900002], "route_length_m": 500.0, "supervisor": True,
              "interleave": False, "rows": rows, "perception_gap": {}, "episodes": episodes}
    (out / "report.json").write_text(json.dumps(report))
    return out


def _figures(html: str) -> list[tuple[list, dict]]:
    """(traces, layout) of every Plotly.newPlot call on the page, parsed back from its JSON."""
    decoder = json.JSONDecoder()
    out = []
    for m in re.finditer(r'Plotly\.newPlot\(\s*"[^"]+",\s*', html):
        traces, end = decoder.raw_decode(html, m.end())
        layout, _ = decoder.raw_decode(html, end + html[end:].index("{"))
        out.append((traces, layout))
    return out


def _cells(html: str, cls: str) -> list[str]:
    return re.findall(rf'<td class="{cls}">([^<]*)</td>', html)


def test_drive_page_has_the_tables_the_plots_and_the_failed_episodes_clip(tmp_path):
    run = _drive_run(tmp_path)
    path = write_report(run)
    assert path == run / REPORT
    html = path.read_text()
    # one copy of plotly.js, inline; nothing loaded from elsewhere
    assert html.count("plotly.js v") >= 1 and html.count("<script>") == 1 + html.count(PLOT_DIV)
    assert not re.search(r"<script[^>]+src=", html) and not re.search(r"https?://", html.split("</head>")[1])
    # summary and one row per episode, pass and fail marked
    assert "driving_score" in html and "success_rate" in html
    assert _cells(html, "pass") == ["pass"] and _cells(html, "fail") == ["fail"]
    # the per-episode bars and one time-series figure per episode
    assert html.count(PLOT_DIV) == 3
    figures = _figures(html)
    assert len(figures) == 3
    failed = {t.get("name"): t for t in figures[2][0]}  # episode-001's series
    assert {"speed", "limit", "steer", "throttle / brake", "lead TTC", "collision", "solid line",
            "interventions (2)"} == set(failed)
    assert failed["interventions (2)"]["hovertext"] == ["obstacle 3 m ahead: brake"] * 2
    assert "goal" in {t.get("name") for t in figures[1][0]}
    # the collision episode's last seconds from its hud.mp4, embedded; the passing one has none
    strip = html.split('id="episode-001"')[1]
    assert strip.count("data:image/jpeg;base64,") == 6 and 'href="episode-001/hud.mp4"' in strip
    assert html.split('id="episode-001"')[0].count("data:image/jpeg") == 0


def test_drive_series_follow_the_recording(tmp_path):
    from drivestack.report_data import load_drive

    run = load_drive(_drive_run(tmp_path))
    e = run.series[1]
    assert run.complete and e.complete and len(e.time_s) == 81
    assert e.speed_kmh[0] == pytest.approx(8.0 * 3.6) and np.allclose(e.limit_kmh, 50.0)
    assert np.isnan(e.steer[0]) and e.accel[1] == pytest.approx(0.3)
    assert e.events["solid_line"].tolist() == [0.5]  # steps 10-13: one onset
    assert e.events["collision"].tolist() == [4.0] and e.events["goal"].size == 0
    assert [t for t, _ in e.interventions] == pytest.approx([31 / FPS, 32 / FPS])  # policy call k -> step k + 1
    assert np.isfinite(e.ttc_s).sum() == 20


def test_an_interrupted_drive_still_reports_its_finished_episodes(tmp_path):
    run = _drive_run(tmp_path)
    (run / "metrics.json").unlink()
    (run / "episode-001" / "metrics.json").unlink()
    (run / "episode-001" / "recording.json").unlink()
    html = write_report(run).read_text()
    assert "did not finish" in html and "recording incomplete" in html
    assert _cells(html, "pass") == ["pass"] and html.count(PLOT_DIV) == 2  # both episodes' series, no bars


def test_perception_eval_page(tmp_path):
    html = write_report(_perception_eval(tmp_path)).read_text()
    assert html.count(PLOT_DIV) == 2  # PR curves, errors by range
    assert "PR curves at IoU 0.5" in html and "road users found" in html and "stop-line distance error" in html
    assert re.search(r"<td>car</td><td>0.71</td><td>0.5</td>", html)
    assert "traffic_light_red</td>" not in html  # a class with no objects gets no row
    assert "drivable_iou" in html and html.count("data:image/jpeg;base64,") == 1  # the example overlay

    bare = _perception_eval(tmp_path / "old", curves=False) if (tmp_path / "old").mkdir() is None else None
    html = write_report(bare).read_text()
    assert html.count(PLOT_DIV) == 1 and "no pr_curves.json" in html


def test_policy_eval_page(tmp_path):
    html = write_report(_policy_eval(tmp_path)).read_text()
    assert html.count(PLOT_DIV) == 2  # rows bar chart, pass / fail per seed
    grid = _figures(html)[1][0][0]
    assert grid["y"] == ["ppo/labels", "rule-based/labels"] and grid["x"] == ["900000", "900001", "900002"]
    assert grid["text"] == [["pass", "fail", "pass"], ["pass", "pass", "pass"]]
    assert grid["hovertext"][0][1] == "ppo/labels, seed 900001: collision (pedestrian), score 0.5"
    assert len(_cells(html, "pass")) == 5 and len(_cells(html, "fail")) == 1


def test_report_command(tmp_path, capsys):
    run = _policy_eval(tmp_path)
    other = tmp_path / "elsewhere.html"
    assert main(["report", str(run), "--out", str(other)]) == 0
    assert other.is_file() and not (run / REPORT).exists() and str(other) in capsys.readouterr().out


@pytest.mark.parametrize("what, needle", [("missing", "is not a folder"), ("empty", "holds no drive run"),
                                          ("bad-out", "does not exist")])
def test_report_refusals_are_one_line(what, needle, tmp_path, capsys):
    folder = tmp_path / "run"
    argv = ["report", str(folder)]
    if what == "empty":
        folder.mkdir()
    if what == "bad-out":
        folder = _policy_eval(tmp_path)
        argv = ["report", str(folder), "--out", str(tmp_path / "no" / "such" / "page.html")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
    assert not list(tmp_path.rglob("*.html*"))


def test_without_plotly_the_command_names_the_extra_and_drive_goes_on(tmp_path, capsys, monkeypatch):
    from drivestack.report import report_after_run

    monkeypatch.setitem(sys.modules, "plotly", None)  # import plotly -> ImportError
    run = _policy_eval(tmp_path)
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'pip install -e ".[report]"' in err
    assert report_after_run(run, "drive") is None
    assert "note: no report.html" in capsys.readouterr().err and not (run / REPORT).exists()


@pytest.mark.slow
def test_pages_in_headless_chromium(tmp_path):
    """Each kind of page in a real browser: loads without console errors, draws every plot, fetches nothing."""
    from drivestack.report_browser import check_pages, find_chromium

    if find_chromium() is None:
        pytest.skip("no Chromium executable (apt-get install chromium, or set DRIVESTACK_CHROMIUM); .ci/run installs it")
    folders = (_drive_run(tmp_path), _perception_eval(tmp_path), _policy_eval(tmp_path))
    checks = check_pages([(write_report(f), f / "page.png") for f in folders])
    for folder, check in zip(folders, checks):
        assert check.console_errors == () and check.blocked_requests == (), folder.name
        assert check.plots == (folder / REPORT).read_text().count(PLOT_DIV) and check.plots_drawn == check.plots, folder.name
        assert check.title.endswith(folder.name) and (folder / "page.png").stat().st_size > 20_000


@pytest.mark.slow
def test_the_browser_check_catches_a_broken_page(tmp_path):
    """The check itself: a page whose script fails and which asks for a CDN is not passed."""
    from drivestack.report_browser import check_page, find_chromium

    if find_chromium() is None:
        pytest.skip("no Chromium executable (apt-get install chromium, or set DRIVESTACK_CHROMIUM); .ci/run installs it")
    page = tmp_path / "broken.html"
    page.write_text('<html><head><script src="https://cdn.plot.ly/plotly-2.0.0.min.js"></script></head><body>'
                    '<div class="plotly-graph-div"></div><script>Plotly.newPlot("x", [])</script></body></html>')
    check = check_page(page)
    assert check.blocked_requests == ("https://cdn.plot.ly/plotly-2.0.0.min.js",)
    assert any("Plotly is not defined" in e for e in check.console_errors) and check.plots == 0


def test_a_no_video_drive_plots_what_it_has(tmp_path):
    """--no-video leaves perception.jsonl and metrics.json only: TTC and interventions, and a note for the rest."""
    run = _drive_run(tmp_path)
    for ep in run.glob("episode-*"):
        for name in ("steps.jsonl", "recording.json", "camera.mp4", "hud.mp4"):
            (ep / name).unlink()
    html = write_report(run).read_text()
    assert html.count("no steps.jsonl (a --no-video drive)") == 2 and "data:image/jpeg" not in html
    failed = {t.get("name"): t for t in _figures(html)[2][0]}
    assert set(failed) == {"lead TTC", "interventions (2)"}
