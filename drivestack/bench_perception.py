"""``drivestack bench perception``: frames/s and per-stage latency of the perception stack.

Measures, batch 1 at the simulator's 320x160 unless said otherwise: the detector, the multi-task
network, the geometry stage, the whole stack (``Perception.process`` with tracking), and replay of
1280x720 footage (perception, overlay drawing and mp4 encoding, each also on its own). Every
backend the default ("auto") could pick is measured in the same run: PyTorch always, and ONNX
Runtime on the CPU when it is installed (``perception.onnx_backend``; the first run exports the
networks into its cache), in fp32 and as INT8 copies (``perception.int8``; made on the first run).
``--joint WEIGHTS`` adds a joint network (``drivestack train joint``: one pass for boxes and dense
outputs) on the same backends, beside the pair, in the same run; its ``detector_ms`` and
``multitask_ms`` are each the one whole pass. On a GPU it adds batched (8) figures
of the whole predict calls and each network's fp16 batch-1 latency and batch-64 throughput
(``drivestack.bench_gpu``: the pair against the joint network). Medians over repeated calls after warm-up;
the whole stack also as the mean over consecutive frames (``whole_stack_mean_*``: what a video runs at).
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from common.errors import UsageError

REAL_CLIP = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "udacity" / "videos" / "highway_cars.mp4"


def _median_ms(fn, repeats: int, warmup: int = 3) -> float:
    return _median_ms_each({"": fn}, repeats, warmup)[""]


def _median_ms_each(fns: dict, repeats: int, warmup: int = 3) -> dict[str, float]:
    """Median time [ms] of each function, called in turn (round robin) so that a machine whose load
    changes during the run (a shared CPU) weighs on every peer alike."""
    return {k: round(float(np.median(v)), 3) for k, v in _times_ms_each(fns, repeats, warmup).items()}


def _times_ms_each(fns: dict, repeats: int, warmup: int = 3) -> dict[str, list[float]]:
    """Every call's time [ms] of each function, the functions called round robin (see ``_median_ms_each``)."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[k].append((time.perf_counter() - t) * 1e3)
    return times


def _sim_frames(n: int) -> list[np.ndarray]:
    from perception.sources import SimSource

    with SimSource("drivestack/Town-v0", seed=1, steps=n) as src:
        return [f.image for f in src]


class _Replay:
    """Replay of 1280x720 footage by one stack: perception, overlay drawing and mp4 encoding per
    frame (decode excluded), each part timed too."""

    def __init__(self, perception, hd: list, folder: Path):
        import cv2

        self.perception, self.hd, self.i = perception, hd, 0
        perception.reset()
        self.writer = cv2.VideoWriter(str(folder / f"{id(self)}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (1280, 720))
        self.cam = perception.camera_setup.model(1280, 720)
        self.parts: dict[str, list[float]] = {"perception_ms": [], "overlay_ms": [], "encode_ms": []}

    def __call__(self) -> None:
        import cv2

        from perception.overlay import draw

        f = self.hd[self.i % len(self.hd)]
        self.i += 1
        t0 = time.perf_counter()
        pf = self.perception.process(f)
        t1 = time.perf_counter()
        annotated = draw(f.image, pf, self.cam)
        t2 = time.perf_counter()
        self.writer.write(cv2.cvtColor(annotated, cv2.COLOR_RGB2BGR))
        t3 = time.perf_counter()
        for k, a, b in (("perception_ms", t0, t1), ("overlay_ms", t1, t2), ("encode_ms", t2, t3)):
            self.parts[k].append((b - a) * 1e3)

    def figures(self, ms: float, timed: int) -> dict:
        self.writer.release()
        out = {"ms_per_frame": ms, "fps": round(1000.0 / ms, 1)}
        out.update({k: round(float(np.median(v[-timed:])), 3) for k, v in self.parts.items()})
        out["includes"] = "decode excluded; perception + overlay + mp4 encode"
        return out


def _backend_figures(stacks: dict, frames: list[np.ndarray], hd: list | None, repeats: int) -> dict:
    """Per backend: stage latencies, whole stack and 720p replay, every figure measured round robin."""
    from perception.types import Frame

    img = frames[len(frames) // 2]
    out = {name: {"stages": {}} for name in stacks}
    for stage, call in (("detector_ms", lambda p: p.detector.detect(img)), ("multitask_ms", lambda p: p.hydranet.predict(img))):
        for name, ms in _median_ms_each({n: (lambda p=p: call(p)) for n, p in stacks.items()}, repeats).items():
            out[name]["stages"][stage] = ms
    for name, p in stacks.items():
        p.reset()
        out[name]["stages"]["geometry_ms"] = round(p.process(Frame(img, 0.0, 0, "bench")).timings_ms["geometry"], 3)

    def whole(p, k=None):
        k = k if k is not None else iter(range(10**9))
        return lambda: p.process(Frame(frames[(i := next(k)) % len(frames)], 0.05 * i, i, "bench"))

    # the median frame, and the mean over consecutive frames: the rate a video is processed at, with the
    # passes that run on some frames only (the zoomed light pass, at most every 0.2 s) counted
    for name, ms in _times_ms_each({n: whole(p) for n, p in stacks.items()}, repeats).items():
        median, mean = float(np.median(ms)), float(np.mean(ms))
        out[name]["stages"]["whole_stack_ms"] = round(median, 3)
        out[name]["stages"]["whole_stack_fps"] = round(1000.0 / median, 1)
        out[name]["stages"]["whole_stack_mean_ms"] = round(mean, 3)
        out[name]["stages"]["whole_stack_mean_fps"] = round(1000.0 / mean, 1)
    # the pipeline's switches, each measured against the default above: without the zoomed light
    # pass (the light selector's light_zoom), without the detector's far-field pass (perception.far_field; the
    # pair's detector only), and with the two networks taking turns (the Interleave stage's enabled; not for a
    # joint network, which runs once per frame anyway)
    for label, part, attr, value in (("no_light_zoom", "light", "light_zoom", False),
                                     ("no_far_field", "detector", "far_field", None),
                                     ("interleaved", "interleave", "enabled", True)):
        switchable = {n: p for n, p in stacks.items() if not (label == "interleaved" and p.detector is p.hydranet)
                      and not (label == "no_far_field" and getattr(p.detector, "far_field", None) is None)}
        saved = {n: getattr(getattr(p, part), attr) for n, p in switchable.items()}
        for p in switchable.values():
            p.reset()
            setattr(getattr(p, part), attr, value)
        for name, ms in _median_ms_each({n: whole(p) for n, p in switchable.items()}, repeats).items():
            out[name]["stages"][f"whole_stack_{label}_ms"] = ms
            out[name]["stages"][f"whole_stack_{label}_fps"] = round(1000.0 / ms, 1)
        for n, p in switchable.items():
            p.reset()
            setattr(getattr(p, part), attr, saved[n])
    if hd:
        timed = min(repeats, len(hd))
        with tempfile.TemporaryDirectory() as tmp:
            replays = {n: _Replay(p, hd, Path(tmp)) for n, p in stacks.items()}
            for name, ms in _median_ms_each(replays, timed).items():
                out[name]["replay_1280x720"] = replays[name].figures(ms, timed)
    return out


def bench_perception(detector: str | None, hydranet: str | None, device: str, repeats: int,
                     joint: str | None = None) -> dict:
    import torch

    from drivestack.bench import device_info
    from perception.onnx_backend import onnxruntime_available
    from perception.pipeline import Perception, model_paths, resolve_backend

    det_path, hyd_path = model_paths(detector, hydranet)
    frames = _sim_frames(max(repeats, 20))
    hd = None
    if REAL_CLIP.is_file():
        from perception.sources import open_source

        with open_source(str(REAL_CLIP)) as src:
            hd = [f for f in src]
    report: dict = {"device": device_info(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                    "models": {"detector": str(det_path), "hydranet": str(hyd_path),
                               **({"joint": str(joint)} if joint else {})},
                    "resolution_px": [frames[0].shape[1], frames[0].shape[0]], "repeats": repeats}
    report["accelerator"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU)"
    report["default_backend"] = resolve_backend("auto", device)
    backends = ["torch"]
    if onnxruntime_available() and report["default_backend"] == "onnxruntime":
        import onnxruntime

        report["onnxruntime"] = onnxruntime.__version__
        backends += ["onnxruntime", "onnxruntime-int8"]  # fp32, and the INT8 copies (perception.int8)
    elif not onnxruntime_available():
        report["onnxruntime"] = "not installed: pip install onnx onnxscript onnxruntime"
    report["backends"], stacks = {}, {}
    for name in backends:  # the peers, measured in the same run, round robin
        try:
            stacks[name] = Perception.from_files(det_path, hyd_path, device=device, backend=name)
        except Exception as exc:  # an exporter gap must not hide the PyTorch figures
            report["backends"][name] = {"note": f"could not load: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}"}
        if joint:  # the one-pass network on the same backend, measured beside the pair
            try:
                stacks[f"joint-{name}"] = Perception.from_files(joint=joint, device=device, backend=name)
            except (FileNotFoundError, ValueError):
                raise
            except Exception as exc:  # noqa: BLE001 - as above
                report["backends"][f"joint-{name}"] = {"note": f"could not load: {type(exc).__name__}: "
                                                               f"{str(exc).splitlines()[0][:300]}"}
    report["backends"].update(_backend_figures(stacks, frames, hd, repeats))
    torch_stack = stacks.get("torch")
    if torch.cuda.is_available() and torch_stack is not None:
        perception = torch_stack
        batch = np.stack([frames[i % len(frames)] for i in range(8)])
        report["gpu"] = {"multitask_batch8_ms_per_image": round(_median_ms(lambda: perception.hydranet.predict(batch), repeats) / 8, 3),
                         "detector_batch8_ms_per_image": round(_median_ms(lambda: perception.detector.detect_batch(list(batch)), repeats) / 8, 3)}
        from drivestack.bench_gpu import gpu_network_figures

        nets = {"detector": perception.detector.model.model, "hydranet": perception.hydranet}
        if joint:
            from perception.joint import JointNet

            nets["joint"] = JointNet.load(joint, device="cuda")
        report["gpu"]["fp16"] = gpu_network_figures(nets, tuple(perception.hydranet.config.input_size), repeats)
    return report


def run(args) -> int:
    from common.device import resolve_device

    resolve_device(getattr(args, "device", "auto"))  # up front: a bad --device is an error before anything is measured
    seconds = getattr(args, "seconds", 3.0)
    if not (math.isfinite(seconds) and seconds > 0):
        raise UsageError(f"--seconds {seconds:g} is not allowed; use a positive number of seconds")
    repeats = max(5, int(seconds * 10))
    try:
        report = bench_perception(getattr(args, "detector", None), getattr(args, "hydranet", None),
                                  getattr(args, "device", "auto"), repeats, getattr(args, "joint", None))
    except FileNotFoundError as exc:
        raise UsageError(f"{exc}; train the models (`drivestack train`) or pass --detector / --hydranet") from None
    if args.json:
        print(json.dumps(report))
    else:
        print(json.dumps(report, indent=2))
    return 0
