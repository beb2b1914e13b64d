"""``drivestack view``: turn a finished run into a Rerun recording (``.rrd``), or open one in the viewer.

Usage::

    drivestack view runs/drive-x                   # every episode-NNN/ gets its recording.rrd
    drivestack view runs/drive-x/episode-000 --out ep0.rrd
    drivestack view runs/replay-swr                # a replay's frames.jsonl + annotated.mp4
    drivestack view runs/drive-x/episode-000/recording.rrd --spawn    # open the viewer (needs a display)

Reads what drive and replay leave behind: an episode folder (camera.mp4, steps.jsonl with the
ground truth, perception.jsonl, metrics.json with the supervisor's interventions; any of them may
be missing, e.g. after ``--no-video``), a drive run folder (its episode folders), a simulator
recording (camera.mp4 + steps.jsonl) or a replay output (frames.jsonl + annotated.mp4). The
recording holds what ``drive --rerun`` logs (``drivestack.rerun_log``) except the dense masks and
depth, which the run's files do not keep. An existing .rrd is never overwritten. ``--spawn``
opens the viewer on the result where there is a display. Needs the rerun extra.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from common.errors import UsageError

STEPS, PERCEPTION, FRAMES = "steps.jsonl", "perception.jsonl", "frames.jsonl"


def add_parser(sub) -> None:
    p = sub.add_parser("view", help="convert a drive, replay or recording folder to a Rerun .rrd (or open one)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a drive run folder, an episode or recording folder, a replay output folder, or an .rrd")
    p.add_argument("--out", default=None, help="the .rrd to write (one episode or replay only; default: RUN/recording.rrd); "
                                               "must not exist")
    p.add_argument("--spawn", action="store_true", help="open the Rerun viewer on the result (needs a display)")
    p.set_defaults(func=run)


def run(args) -> int:
    from drivestack.rerun_log import RECORDING_FILE, require_rerun

    require_rerun()
    src = Path(args.run)
    if src.is_file() and src.suffix == ".rrd":
        if args.out:
            raise UsageError(f"{str(src)!r} is already a recording; --out applies to run folders")
        written = [src]
    elif src.is_dir():
        folders = _folders(src)
        if args.out and len(folders) > 1:
            raise UsageError(f"{str(src)!r} holds {len(folders)} episodes; --out takes one episode or replay folder")
        targets = [Path(args.out) if args.out else f / RECORDING_FILE for f in folders]
        for t in targets:
            if t.exists():
                raise UsageError(f"{str(t)!r} already exists; choose another --out (recordings are never overwritten)")
            if t.suffix != ".rrd":
                raise UsageError(f"--out {str(t)!r} is not allowed; give a path ending in .rrd")
        written = []
        for folder, target in zip(folders, targets):
            steps = convert(folder, target)
            print(f"{target}: {steps} steps")
            written.append(target)
    else:
        raise UsageError(f"{str(src)!r} is neither a run folder nor an .rrd file")
    if args.spawn:
        _spawn(written)
    return 0


def _folders(src: Path) -> list[Path]:
    """The episode / recording / replay folders under ``src`` (``src`` itself when it is one)."""
    if _convertible(src):
        return [src]
    episodes = sorted(p for p in src.iterdir() if p.is_dir() and _convertible(p))
    if not episodes:
        raise UsageError(f"{str(src)!r} holds no run to view: expected {STEPS}, {PERCEPTION} or {FRAMES}, "
                         "or episode folders that hold them")
    return episodes


def _convertible(folder: Path) -> bool:
    return any((folder / name).is_file() for name in (STEPS, PERCEPTION, FRAMES))


def convert(folder: Path, target: Path) -> int:
    """Write ``folder``'s run to ``target`` (.rrd); the number of steps logged."""
    from drivestack.rerun_log import RerunLog, step_signals
    from perception.types import perception_frame_from_json
    from sim.labels import GroundTruth

    replay = (folder / FRAMES).is_file()
    steps = _jsonl(folder / STEPS)
    perception = _jsonl(folder / (FRAMES if replay else PERCEPTION))
    video = folder / ("annotated.mp4" if replay else "camera.mp4")
    supervised, reasons = _supervisor(folder)
    partial = target.with_name(target.name + ".partial")  # renamed when whole: a failed conversion leaves no .rrd
    log = RerunLog(partial, name=str(folder))
    try:
        frames = _video_frames(video)
        n = max(len(steps), len(perception))
        for k in range(n):
            line = steps[k] if k < len(steps) else None
            pf = perception_frame_from_json(perception[k]) if k < len(perception) else None
            truth = GroundTruth.from_json(line["ground_truth"]) if line and line.get("ground_truth") else None
            camera = next(frames, None)
            time_s = line["time_s"] if line else pf.timestamp_s
            signals = None
            if line is not None:
                # the supervisor's act k chose the action of step k + 1 (line 0 is the reset)
                active = None if supervised is None or line.get("action") is None else (k - 1) in reasons
                signals = step_signals(truth, line.get("action"), line.get("reward_terms"), line.get("events"), active,
                                       reasons.get(k - 1, ""))
            log.log_step(k, time_s, camera, pf, truth, signals)
    except BaseException:
        log.close()
        partial.unlink(missing_ok=True)
        raise
    log.close()
    os.replace(partial, target)
    return log.steps


def _jsonl(path: Path) -> list[dict]:
    """A JSONL file's records; a torn last line (an interrupted run) is dropped; [] when absent."""
    if not path.is_file():
        return []
    out = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, text in enumerate(lines):
        try:
            out.append(json.loads(text))
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                break
            raise UsageError(f"{path}: line {i + 1} is not valid JSON") from None
    return out


def _supervisor(folder: Path) -> tuple[bool | None, dict[int, str]]:
    """Whether a supervisor drove (None: unknown) and its interventions {act step: reason}, from the run's files."""
    supervised = None
    config = folder.parent / "config.yaml"
    if config.is_file():
        import yaml

        supervised = bool((yaml.safe_load(config.read_text()) or {}).get("drive", {}).get("supervisor", False))
    metrics = folder / "metrics.json"
    reasons = {}
    if metrics.is_file():
        for i in json.loads(metrics.read_text()).get("interventions_list", []):
            if i.get("stage") != "warning":  # a warning leaves the action alone: the supervisor was not braking
                reasons[int(i["step"])] = i["reason"]
    return supervised, reasons


def _video_frames(path: Path):
    """The video's frames as RGB arrays (nothing when the file is absent or unreadable)."""
    if not path.is_file():
        return iter(())
    import cv2

    def frames():
        cap = cv2.VideoCapture(str(path))
        try:
            while True:
                ok, bgr = cap.read()
                if not ok:
                    return
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            cap.release()

    return frames()


def _spawn(paths: list[Path]) -> None:
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform in ("win32", "darwin")):
        print("drivestack view: note: --spawn ignored: no display; open the .rrd with `rerun FILE` where there is one",
              file=sys.stderr)
        return
    subprocess.Popen([sys.executable, "-m", "rerun", *map(str, paths)])
