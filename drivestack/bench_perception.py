"""``drivestack bench perception``: frames/s and per-stage latency of the perception stack.

Measures, batch 1 at the simulator's 320x160 unless said otherwise: the detector, the multi-task
network, the geometry stage, the whole stack (``Perception.process`` with tracking), and replay of
1280x720 footage (perception, overlay drawing and mp4 encoding). Both networks are also exported
to ONNX and timed in ONNX Runtime when ``onnx`` and ``onnxruntime`` are installed. On a GPU it
adds batched (8) and half-precision figures. Medians over repeated calls after warm-up.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

REAL_CLIP = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "udacity" / "videos" / "highway_cars.mp4"


def _median_ms(fn, repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return round(float(np.median(times)), 3)


def _sim_frames(n: int) -> list[np.ndarray]:
    from perception.sources import SimSource

    with SimSource("drivestack/Town-v0", seed=1, steps=n) as src:
        return [f.image for f in src]


def _onnx_figures(perception, frame: np.ndarray, repeats: int, tmp: Path) -> dict:
    try:
        import onnxruntime as ort
    except ImportError:
        return {"note": "onnxruntime not installed: pip install onnx onnxruntime"}
    out = {}
    opts = ort.SessionOptions()
    det_path = perception.detector.export_onnx(tmp / "detector.onnx")
    sess = ort.InferenceSession(str(det_path), opts, providers=["CPUExecutionProvider"])
    size = perception.detector.cfg.imgsz
    x = np.random.default_rng(0).random((1, 3, size, size), dtype=np.float32)
    name = sess.get_inputs()[0].name
    out["detector_onnxruntime_ms"] = _median_ms(lambda: sess.run(None, {name: x}), repeats)

    from perception.hydranet import export_onnx

    net = perception.hydranet
    h, w = net.config.input_size
    path = export_onnx(net, tmp / "hydranet.onnx")
    xin = np.random.default_rng(1).random((1, 3, h, w), dtype=np.float32)
    sess2 = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    out["multitask_onnxruntime_ms"] = _median_ms(lambda: sess2.run(None, {"images": xin}), repeats)
    out["onnxruntime"] = ort.__version__
    return out


def bench_perception(detector: str | None, hydranet: str | None, device: str, repeats: int) -> dict:
    import cv2
    import torch

    from drivestack.bench import device_info
    from perception.pipeline import Perception, model_paths
    from perception.types import Frame

    det_path, hyd_path = model_paths(detector, hydranet)
    perception = Perception.from_files(det_path, hyd_path, device=device)
    frames = _sim_frames(max(repeats, 20))
    img = frames[len(frames) // 2]
    report: dict = {"device": device_info(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                    "models": {"detector": str(det_path), "hydranet": str(hyd_path)},
                    "resolution_px": [img.shape[1], img.shape[0]], "repeats": repeats}
    report["accelerator"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU)"
    stages = {
        "detector_ms": _median_ms(lambda: perception.detector.detect(img), repeats),
        "multitask_ms": _median_ms(lambda: perception.hydranet.predict(img), repeats),
    }
    pf = perception.process(Frame(img, 0.0, 0, "bench"))
    stages["geometry_ms"] = round(pf.timings_ms["geometry"], 3)
    k = iter(range(10**9))
    stages["whole_stack_ms"] = _median_ms(lambda: perception.process(Frame(frames[next(k) % len(frames)], 0.05 * next(k), 0, "bench")), repeats)
    stages["whole_stack_fps"] = round(1000.0 / stages["whole_stack_ms"], 1)
    report["stages"] = stages
    if REAL_CLIP.is_file():
        from perception.overlay import draw
        from perception.sources import open_source

        with open_source(str(REAL_CLIP)) as src:
            hd = [f for f in src]
        perception.reset()
        with tempfile.TemporaryDirectory() as tmp:
            writer = cv2.VideoWriter(str(Path(tmp) / "r.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (1280, 720))
            cam = perception.camera_setup.model(1280, 720)

            def replay_one(i=iter(range(10**9))):
                f = hd[next(i) % len(hd)]
                writer.write(cv2.cvtColor(draw(f.image, perception.process(f), cam), cv2.COLOR_RGB2BGR))

            ms = _median_ms(replay_one, min(repeats, len(hd)))
            writer.release()
        report["replay_1280x720"] = {"ms_per_frame": ms, "fps": round(1000.0 / ms, 1),
                                     "includes": "decode excluded; perception + overlay + mp4 encode"}
    if torch.cuda.is_available():
        batch = np.stack([frames[i % len(frames)] for i in range(8)])
        report["gpu"] = {"multitask_batch8_ms_per_image": round(_median_ms(lambda: perception.hydranet.predict(batch), repeats) / 8, 3),
                         "detector_batch8_ms_per_image": round(_median_ms(lambda: perception.detector.detect_batch(list(batch)), repeats) / 8, 3)}
        half = perception.hydranet.half()
        x = torch.rand(1, 3, *half.config.input_size, device=half.device).half()
        with torch.no_grad():
            report["gpu"]["multitask_fp16_forward_ms"] = _median_ms(lambda: (half(x), torch.cuda.synchronize()), repeats)
        perception.hydranet.float()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            report["onnx"] = _onnx_figures(perception, img, repeats, Path(tmp))
        except Exception as exc:  # an exporter gap must not hide the PyTorch figures
            report["onnx"] = {"note": f"ONNX export failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}"}
    return report


def run(args) -> int:
    from drivestack.cli import UsageError

    repeats = max(5, int(args.seconds * 10)) if hasattr(args, "seconds") else 30
    try:
        report = bench_perception(getattr(args, "detector", None), getattr(args, "hydranet", None),
                                  getattr(args, "device", "auto"), repeats)
    except FileNotFoundError as exc:
        raise UsageError(f"{exc}; train the models (`drivestack train`) or pass --detector / --hydranet") from None
    if args.json:
        print(json.dumps(report))
    else:
        print(json.dumps(report, indent=2))
    return 0
