"""What ``drivestack report`` reads: a run folder's files turned into typed records (no plotting here).

Four kinds of folder are recognised (``run_kind``):

- a drive (``drivestack drive``): ``metrics.json`` with settings, summary and episodes, and per
  episode ``episode-NNN/`` with ``steps.jsonl`` (speed, limit, action, events), ``perception.jsonl``
  (lead TTC) and ``metrics.json`` (the supervisor's interventions); see ``drivestack.drive_output``;
- a perception evaluation (``drivestack eval perception --out``): ``report.json`` with ``detection``,
  and ``pr_curves.json``;
- a policy evaluation (``drivestack eval policy --out``): ``report.json`` with ``rows``;
- a safety suite evaluation (``drivestack eval suite --out``): ``report.json`` with ``suite`` and
  ``cases``, and the failed cases' clips under ``failures/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.errors import UsageError

EVENT_NAMES = ("collision", "off_road", "solid_line", "red_light", "goal")
CLIP_SECONDS = 3.0  # how far back from a failed episode's end its clip starts [s]
CLIP_FRAMES = 6  # frames shown of that clip
CLIP_WIDTH_PX = 320  # each clip frame scaled to this width


@dataclass(frozen=True)
class EpisodeSeries:
    """One episode's signals over time; ``time_s`` is empty when the episode has no steps.jsonl
    (a ``--no-video`` drive), ``ttc_time_s`` when it has no perception.jsonl."""

    name: str  # folder name, e.g. episode-000
    time_s: np.ndarray  # (T,) [s] from the reset
    speed_kmh: np.ndarray  # (T,) ego speed [km/h]
    limit_kmh: np.ndarray  # (T,) speed limit [km/h]; NaN unknown
    steer: np.ndarray  # (T,) steering command [-1, 1]; NaN at the reset
    accel: np.ndarray  # (T,) throttle (+) / brake (-) command [-1, 1]; NaN at the reset
    events: dict[str, np.ndarray]  # event name -> onset times [s] (a run of steps counts once)
    ttc_time_s: np.ndarray  # (P,) [s] of each perception frame
    ttc_s: np.ndarray  # (P,) lead vehicle's time to collision [s]; NaN without a closing lead
    interventions: tuple[tuple[float, str], ...]  # (time [s], reason) of each supervisor override
    complete: bool  # recording.json present: the episode's recording finished


@dataclass(frozen=True)
class DriveRun:
    folder: Path
    settings: dict  # DriveSettings as written
    summary: dict  # control.metrics.summarize over the episodes ({} if the run did not finish)
    episodes: list[dict]  # each episode's metrics.json
    series: list[EpisodeSeries]
    complete: bool  # the run's metrics.json exists: every episode finished


def run_kind(folder: Path) -> str:
    """``drive``, ``perception-eval``, ``policy-eval`` or ``suite-eval``; a UsageError for anything else."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"run {str(folder)!r} is not a folder; give a drive run or an eval --out folder")
    report = _json(folder / "report.json")
    if report is not None and "suite" in report and "cases" in report:
        return "suite-eval"
    if report is not None and "detection" in report:
        return "perception-eval"
    if report is not None and "rows" in report:
        return "policy-eval"
    if (folder / "config.yaml").is_file() and (any(folder.glob("episode-*/")) or (folder / "metrics.json").is_file()):
        return "drive"
    raise UsageError(f"{str(folder)!r} holds no drive run (config.yaml, episode-*/) and no eval report.json; "
                     "give a folder written by drivestack drive or drivestack eval ... --out")


def load_drive(folder: Path) -> DriveRun:
    """A drive run; an interrupted one (no run metrics.json) shows the episodes that have their metrics."""
    folder = Path(folder)
    metrics = _json(folder / "metrics.json")
    episode_dirs = sorted(p for p in folder.glob("episode-*") if p.is_dir())
    if metrics is not None:
        settings, summary, episodes = metrics["settings"], metrics["summary"], metrics["episodes"]
    else:
        import yaml

        settings = (yaml.safe_load((folder / "config.yaml").read_text()) or {}).get("drive", {})
        summary = {}
        episodes = [m for m in (_json(d / "metrics.json") for d in episode_dirs) if m is not None]
    dt_s = 1.0 / _control_hz(folder)
    series = [load_episode(d, episodes[k] if k < len(episodes) else {}, dt_s) for k, d in enumerate(episode_dirs)]
    return DriveRun(folder, settings, summary, episodes, series, metrics is not None)


def load_episode(folder: Path, metrics: dict, dt_s: float) -> EpisodeSeries:
    """An episode folder's time series (``metrics``: its metrics.json, for the interventions)."""
    steps = _jsonl(folder / "steps.jsonl")
    frames = _jsonl(folder / "perception.jsonl")
    nan = float("nan")

    def column(get) -> np.ndarray:
        return np.array([_num(get(s)) for s in steps], np.float64)

    time_s = column(lambda s: s["time_s"])
    speed = column(lambda s: s["state"][0] if s.get("state") else nan) * 3.6
    limit = column(lambda s: (s.get("ground_truth") or {}).get("ego", {}).get("speed_limit_m_s")) * 3.6
    steer = column(lambda s: s["action"][0] if s.get("action") else nan)
    accel = column(lambda s: s["action"][1] if s.get("action") else nan)
    events = {}
    for name in EVENT_NAMES:
        fired = np.array([bool(s.get("events", {}).get(name)) for s in steps], bool)
        onset = fired & ~np.concatenate([[False], fired[:-1]])
        events[name] = time_s[onset]
    ttc_time = np.array([_num(f.get("timestamp_s")) for f in frames], np.float64)
    ttc = np.array([_num(f.get("lead_ttc_s")) for f in frames], np.float64)
    # the supervisor counts policy calls from 0; call k produced the action of step k + 1
    # (runs from before the staged supervisor have no stage)
    interventions = tuple(((i["step"] + 1) * dt_s, f"{i['stage']}: {i['reason']}" if "stage" in i else i["reason"])
                          for i in metrics.get("interventions_list", ()))
    return EpisodeSeries(folder.name, time_s, speed, limit, steer, accel, events, ttc_time, ttc, interventions,
                         (folder / "recording.json").is_file())


def load_eval(folder: Path) -> tuple[dict, dict]:
    """An evaluation's report.json and its PR curves (``{class: {"recall": [...], "precision": [...]}}``, {} if none)."""
    folder = Path(folder)
    return _json(folder / "report.json"), _json(folder / "pr_curves.json") or {}


def clip_frames(video: Path, end_s: float, fps: float) -> list[np.ndarray]:
    """Up to ``CLIP_FRAMES`` RGB frames of ``video`` evenly over the ``CLIP_SECONDS`` before ``end_s``
    (a failed episode's last moments), ``CLIP_WIDTH_PX`` wide; [] when the video cannot be read
    (an interrupted recording's mp4 has no index)."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    try:
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        if not cap.isOpened() or count <= 0:
            return []
        last = min(count - 1, int(round(end_s * fps)))
        first = max(0, last - int(round(CLIP_SECONDS * fps)))
        wanted = set(np.linspace(first, last, CLIP_FRAMES).round().astype(int).tolist())
        frames = []
        cap.set(cv2.CAP_PROP_POS_FRAMES, first)
        for index in range(first, last + 1):  # read through: seeking every frame in mp4v is no faster
            ok, bgr = cap.read()
            if not ok:
                break
            if index in wanted:
                h, w = bgr.shape[:2]
                small = cv2.resize(bgr, (CLIP_WIDTH_PX, round(h * CLIP_WIDTH_PX / w)), interpolation=cv2.INTER_AREA)
                frames.append(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
        return frames
    finally:
        cap.release()


def _control_hz(folder: Path) -> float:
    import yaml

    config = yaml.safe_load((folder / "config.yaml").read_text()) or {}
    return float(config.get("env", {}).get("control_hz", 20.0))


def _json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _jsonl(path: Path) -> list[dict]:
    """Every whole line (an interrupted run's torn last line is dropped)."""
    if not path.is_file():
        return []
    out = []
    for text in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(text))
        except json.JSONDecodeError:
            break
    return out


def _num(value) -> float:
    return float("nan") if value is None else float(value)
