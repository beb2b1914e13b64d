"""The networks alone on a GPU, half precision: batch-1 latency and batched throughput (``bench perception``).

What a GPU deployment would run: each network's forward pass in fp16 on CUDA, timed with the device
synchronised, for the pair (the YOLO detector and HydraNet, one after the other) and the joint network
(one pass). Batch 1 is the closed loop's case (one camera, one frame at a time); the batched figure is the
throughput of offline work (dataset labelling, replay of recorded drives). Medians over repeated calls
after warm-up; pre- and post-processing (resize, NMS, tracking) are the whole-stack figures' business.
"""

from __future__ import annotations

import time

import numpy as np

BATCH = 64  # images per batched call


def _median_ms(fn, repeats: int, sync, warmup: int = 5) -> float:
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t) * 1e3)
    return float(np.median(times))


def gpu_network_figures(networks: dict, input_hw: tuple[int, int], repeats: int, device: str = "cuda",
                        half: bool = True, batch: int = BATCH) -> dict:
    """``networks``: name -> a torch module taking (B, 3, H, W) images in [0, 1] at ``input_hw``. Each is
    timed in fp16 (``half``) on ``device`` (a copy; the module itself is left as it was); with both
    ``detector`` and ``hydranet`` the pair's figures are added (the two passes one after the other). The
    tests run it on the CPU in fp32."""
    import copy

    import torch

    dtype = torch.float16 if half else torch.float32
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    figures = {}
    for name, net in networks.items():
        model = copy.deepcopy(net).eval().to(device=device, dtype=dtype)
        with torch.no_grad():
            one = torch.rand(1, 3, *input_hw, device=device, dtype=dtype)
            many = torch.rand(batch, 3, *input_hw, device=device, dtype=dtype)
            b1 = _median_ms(lambda: model(one), repeats, sync)
            bn = _median_ms(lambda: model(many), max(5, repeats // 4), sync)
        figures[name] = {"batch1_ms": round(b1, 3), f"batch{batch}_ms": round(bn, 3),
                         "images_per_s": round(1e3 * batch / bn, 1)}
    if "detector" in figures and "hydranet" in figures:
        d, h = figures["detector"], figures["hydranet"]
        bn = d[f"batch{batch}_ms"] + h[f"batch{batch}_ms"]
        figures["pair"] = {"batch1_ms": round(d["batch1_ms"] + h["batch1_ms"], 3), f"batch{batch}_ms": round(bn, 3),
                           "images_per_s": round(1e3 * batch / bn, 1)}
    return {"precision": "fp16" if half else "fp32", "device": device, "batch": batch, "input_hw": list(input_hw),
            "networks": figures}
