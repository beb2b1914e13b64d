"""``drivestack replay``: run the perception stack over recorded video and write what it saw.

Usage::

    drivestack replay ../shared/realdata/udacity/videos/solidWhiteRight.mp4 --out runs/replay-swr
    drivestack replay runs/drive-x/episode-000          # a simulator recording: also scored against its labels
    drivestack replay frames/ --fps 10                   # a folder of images; also webcam "0" or rtsp:// URLs
    drivestack replay mixed/ --size 1280x720             # images of any sizes, filmed at 1280x720

Writes ``OUT/annotated.mp4`` (boxes with class, track id and distance; drivable area and lane
markings; lead time to collision; a bird's-eye inset), ``OUT/frames.jsonl`` (one
``PerceptionFrame`` per line, flushed as written) and ``OUT/summary.json`` (frames, fps, counts,
per-stage timings, and accuracy when labels exist), written last. The output folder must not
exist yet; while the replay runs it holds an ``INCOMPLETE`` file, removed at the end (it stays
when the replay was interrupted or the source stopped early: then the exit status is 1).

Images of different sizes are each processed at their own size; the annotated video is filmed
at the first frame's size (or ``--size``), other frames fitted into it with black bars.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from common.errors import UsageError
from common.vocab import HFOV_RANGE_DEG, MOUNT_HEIGHT_RANGE_M
from drivestack.run_marker import mark_complete, note_incomplete, start_run_folder
from perception.model_files import BACKENDS

MAX_FPS = 1000.0  # [Hz] an image folder's frame rate, for timestamps and the video
MIN_VIDEO_PX, MAX_VIDEO_PX = 16, 8192  # --size bounds, each side [px]


def add_parser(sub) -> None:
    p = sub.add_parser("replay", help="run perception over a video, image folder, webcam, stream or sim recording",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", help="video file, image folder or glob, webcam index, stream URL, or a drive recording folder")
    p.add_argument("--out", default=None, help="output folder (default: runs/replay-<time>); must not exist")
    p.add_argument("--detector", default=None, help="detector weights (default: the shipped model)")
    p.add_argument("--hydranet", default=None, help="multi-task network weights (default: the shipped model)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda")
    p.add_argument("--backend", default="auto", choices=BACKENDS,
                   help="network runtime: auto (default: ONNX Runtime on the CPU when installed), torch, onnxruntime, "
                        "onnxruntime-int8 (INT8 copies of the ONNX graphs, perception.int8)")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    p.add_argument("--fps", type=float, default=10.0, help="frame rate of an image folder (default 10)")
    p.add_argument("--far-field", action="store_true",
                   help="add the detector's second pass over the band round the horizon, enlarged 2x (the simulated "
                        "drive's default; off here: on real footage it doubled the boxes, mostly phantoms near the horizon)")
    p.add_argument("--hfov", type=float, default=None, help="camera horizontal field of view [deg] (default: the simulator's 80)")
    p.add_argument("--camera-height", type=float, default=None, help="camera height above the road [m] (default 1.4)")
    p.add_argument("--size", default=None, metavar="WxH", help="annotated video size [px] (default: the first frame's)")
    p.add_argument("--show", action="store_true", help="show the annotated frames in a window (needs a display)")
    p.add_argument("--rerun", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="record for the Rerun viewer: OUT/recording.rrd, or stream to a viewer at ADDRESS "
                        "(rerun+http://HOST:PORT/proxy); needs the rerun extra")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _video_size(text: str | None) -> tuple[int, int] | None:
    """``--size WxH`` -> (W, H) [px], None for the first frame's size."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m or not all(MIN_VIDEO_PX <= int(v) <= MAX_VIDEO_PX for v in m.groups()):
        raise UsageError(f"--size {text!r} is not allowed; use WxH in pixels, each {MIN_VIDEO_PX}..{MAX_VIDEO_PX}, "
                         "e.g. 1280x720")
    return int(m.group(1)), int(m.group(2))


def _check_options(args) -> None:
    """Every plain option value, before anything is loaded or written."""
    from common.device import resolve_device

    if args.max_frames is not None and args.max_frames < 1:
        raise UsageError(f"--max-frames {args.max_frames} is not allowed; use 1 or more")
    if not (math.isfinite(args.fps) and 0 < args.fps <= MAX_FPS):
        raise UsageError(f"--fps {args.fps:g} is not allowed; use a frame rate in (0, {MAX_FPS:g}] Hz")
    lo, hi = HFOV_RANGE_DEG
    if args.hfov is not None and not lo <= args.hfov <= hi:  # NaN fails too
        raise UsageError(f"--hfov {args.hfov:g} is not allowed; use a horizontal field of view in [{lo:g}, {hi:g}] deg")
    lo, hi = MOUNT_HEIGHT_RANGE_M
    if args.camera_height is not None and not lo <= args.camera_height <= hi:
        raise UsageError(f"--camera-height {args.camera_height:g} is not allowed; use a height above the road in "
                         f"[{lo:g}, {hi:g}] m")
    resolve_device(args.device)  # a ConfigError naming the value: unknown, or CUDA where there is none


def run(args) -> int:
    from perception.pipeline import CameraSetup, Perception, model_paths
    from perception.sources import SourceError, open_source

    from drivestack.rerun_log import check_target

    _check_options(args)
    check_target(args.rerun)
    video_size = _video_size(args.size)
    spec = args.source
    labels = None
    rec = Path(spec)
    if rec.is_dir() and (rec / "steps.jsonl").is_file() and (rec / "camera.mp4").is_file():
        from sim.recording import load_recording

        labels = [s.get("ground_truth") for s in load_recording(rec).steps]
        spec = str(rec / "camera.mp4")
    out = Path(args.out or time.strftime("runs/replay-%Y%m%d-%H%M%S"))
    if out.exists():
        raise UsageError(f"output folder {str(out)!r} already exists; choose another --out")
    try:
        det_path, hyd_path = model_paths(args.detector, args.hydranet)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    # `is None`, not `or`: 0 is a value (refused above), never "use the default"
    setup = CameraSetup(**{k: v for k, v in (("hfov_deg", args.hfov), ("height_m", args.camera_height)) if v is not None})
    try:
        source = open_source(spec, **({"fps": args.fps} if Path(spec).is_dir() or any(ch in spec for ch in "*?[") else {}),
                             **({"max_frames": args.max_frames} if args.max_frames else {}))
    except SourceError as exc:
        raise UsageError(str(exc)) from None
    try:
        perception = Perception.from_files(det_path, hyd_path, device=args.device, camera=setup, backend=args.backend,
                                           far_field=args.far_field)
    except (ValueError, FileNotFoundError, ImportError) as exc:
        raise UsageError(str(exc)) from None
    start_run_folder(out, "replay")
    with source:
        summary = _replay(source, perception, out, labels, args, video_size)
    print(json.dumps({k: summary[k] for k in ("frames", "fps_processed", "detections_per_class", "accuracy") if k in summary}, indent=2))
    if summary["error"]:
        note_incomplete(out, summary["error"])
        return 1
    mark_complete(out)
    return 0


def fit_to(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` scaled to fit (width, height) [px] with its aspect ratio kept, centred on black bars."""
    import cv2

    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    scale = min(width / w, height / h)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    canvas = np.zeros((height, width, 3), np.uint8)
    x0, y0 = (width - new_w) // 2, (height - new_h) // 2
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    canvas[y0:y0 + new_h, x0:x0 + new_w] = cv2.resize(image, (new_w, new_h), interpolation=interp)
    return canvas


def _rerun_log(target: str | None, out: Path, name: str):
    """The replay's ``RerunLog`` (``--rerun``): OUT/recording.rrd, or a stream to the viewer at ``target``."""
    if target is None:
        return None
    from drivestack.rerun_log import RECORDING_FILE, RerunLog

    return RerunLog(target or out / RECORDING_FILE, name=f"replay {name}")


def _replay(source, perception, out: Path, labels, args, video_size: tuple[int, int] | None = None) -> dict:
    import cv2
    from tqdm import tqdm

    from perception.overlay import draw
    from perception.scoring import RecordingScores
    from perception.sources import SourceError
    from perception.types import perception_frame_json
    from sim.labels import GroundTruth

    writer = None
    counts: Counter = Counter()
    timings: dict[str, list[float]] = {}
    scores = RecordingScores() if labels is not None else None
    frames = 0
    error = None
    start = time.perf_counter()
    bar = tqdm(total=source.frame_count, unit="frame", disable=args.quiet, file=sys.stderr, desc="replay")
    jsonl = open(out / "frames.jsonl", "w", encoding="utf-8")
    rerun = _rerun_log(args.rerun, out, source.name)
    try:
        for frame in source:
            pf = perception.process(frame)
            if rerun is not None:
                truth = labels[frame.index] if labels is not None and frame.index < len(labels) else None
                rerun.log_step(frames, frame.timestamp_s, frame.image, pf, truth and GroundTruth.from_json(truth))
            cam = perception.camera_setup.model(frame.image.shape[1], frame.image.shape[0])
            annotated = draw(frame.image, pf, cam)
            if writer is None:
                video_size = video_size or (annotated.shape[1], annotated.shape[0])
                writer = cv2.VideoWriter(str(out / "annotated.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), source.fps or 10.0, video_size)
            writer.write(cv2.cvtColor(fit_to(annotated, *video_size), cv2.COLOR_RGB2BGR))
            jsonl.write(json.dumps(perception_frame_json(pf)) + "\n")
            jsonl.flush()
            counts.update(pf.detections.names())
            for k, v in pf.timings_ms.items():
                timings.setdefault(k, []).append(v)
            if scores is not None and frame.index < len(labels) and labels[frame.index]:
                scores.add(pf, labels[frame.index])
            if args.show:
                cv2.imshow("drivestack replay", cv2.cvtColor(annotated, cv2.COLOR_RGB2BGR))
                cv2.waitKey(1)
            frames += 1
            bar.update(1)
    except SourceError as exc:  # a stream that cannot go on: keep what was written, report it
        error = str(exc)
    finally:
        bar.close()
        jsonl.close()
        if rerun is not None:
            rerun.close()
        if writer is not None:
            writer.release()  # finalises the mp4 index, so what was written stays playable
    wall = time.perf_counter() - start
    summary = {
        "source": source.name, "backend": perception.backend,
        "far_field": getattr(getattr(perception, "detector", None), "far_field", None) is not None, "frames": frames, "wall_s": round(wall, 2), "fps_processed": round(frames / max(wall, 1e-9), 2),
        "detections_per_class": dict(counts), "timings_ms_mean": {k: round(float(np.mean(v)), 2) for k, v in timings.items()},
        "video_size_px": list(video_size) if video_size else None, "error": error, "complete": error is None,
    }
    if scores is not None:
        summary["accuracy"] = scores.summary()
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if error:
        print(f"drivestack replay: source stopped early: {error}", file=sys.stderr)
    return summary
