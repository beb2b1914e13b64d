"""ONNX Runtime backend for the perception networks: an on-disk export cache and the multi-task
network behind an ONNX Runtime session.

On this project's 2-core CPU, ONNX Runtime runs both networks in about half PyTorch's time (see
docs/benchmarks.md), so ``Perception.from_files(backend="auto")`` uses it on the CPU whenever
``onnxruntime`` (and ``onnx`` / ``onnxscript``, needed to export) are installed.

Exports are made once per weights file and input size and kept in :func:`cache_dir`
(``$DRIVESTACK_ONNX_CACHE`` or ``~/.cache/drivestack/onnx``), named by the weights' SHA-256, the
input size and the exporter's version, so later runs load them directly. A file is exported into a
temporary folder beside its final name and renamed into place: a crash never leaves half a file
under the final name, and two processes exporting at once each rename a whole file.

Usage::

    from perception.onnx_backend import OnnxHydraNet
    net = OnnxHydraNet.load("perception/models/hydranet.pt")   # exports on first use
    out = net.predict(image_uint8)                              # same contract as HydraNet.predict
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from common.cores import cores_shared

from .types import MultitaskOutputs

DEFAULT_CACHE_DIR = Path("~/.cache/drivestack/onnx")
CACHE_ENV = "DRIVESTACK_ONNX_CACHE"  # environment variable overriding the cache folder
_HASH_CHUNK_BYTES = 1 << 20


def onnxruntime_available() -> bool:
    """Whether ONNX Runtime and the exporters' packages (onnx, onnxscript) can be imported."""
    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx", "onnxscript"))


def require_onnxruntime() -> None:
    """ImportError naming the missing packages and the pip command, when any is missing."""
    missing = [m for m in ("onnxruntime", "onnx", "onnxscript") if importlib.util.find_spec(m) is None]
    if missing:
        raise ImportError(f"the onnxruntime backend needs {', '.join(missing)}: pip install onnx onnxscript onnxruntime")


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """The export cache folder: ``override``, else ``$DRIVESTACK_ONNX_CACHE``, else ``~/.cache/drivestack/onnx``."""
    return Path(override or os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR).expanduser()


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_HASH_CHUNK_BYTES), b""):
            h.update(chunk)
    return h.hexdigest()


def cached_export(weights: str | os.PathLike, tag: str, export: Callable[[Path], Path],
                  cache: str | os.PathLike | None = None) -> Path:
    """The ONNX file for ``weights`` under ``tag`` (input size, exporter version), exported once.

    ``export(path)`` writes an ONNX file at ``path`` (or returns where it wrote one). Returns the
    cached file's path; raises whatever the exporter raises, leaving nothing behind.
    """
    weights = Path(weights)
    folder = cache_dir(cache)
    final = folder / f"{weights.stem}-{file_sha256(weights)[:16]}-{tag}.onnx"
    if final.is_file():
        return final
    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.stem}-", dir=folder))
    try:
        written = Path(export(tmp / final.name))
        if list(tmp.glob("*.data")):  # external weights would not survive the rename
            raise RuntimeError(f"the exporter wrote external data beside {written.name}; export with external_data=False")
        os.replace(written, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def cpu_session(path: str | os.PathLike):
    """An ONNX Runtime inference session on the CPU (all optimisations on; worker threads spin during a run
    and stop when it returns)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Spinning workers pick up each operator's share without a wake-up: the joint network's INT8 pass
    # took 6.1 ms with spinning against 7.5 ms without (2-core AMD EPYC, 2026-12-07). Left spinning after
    # the run returns, they would burn the core the simulator and the policy need between frames (one
    # process used 2.0 cores against 1.2); force_spinning_stop parks them as the run returns (1.5).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1")
    opts.add_session_config_entry("session.force_spinning_stop", "1")
    if cores_shared():  # a pool worker (common.cores): one thread, no second one to spin on a sibling's core
        opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


class OnnxHydraNet:
    """A :class:`~perception.hydranet.HydraNet` exported to ONNX, run by ONNX Runtime on the CPU.

    ``predict`` keeps ``HydraNet.predict``'s contract (inputs, output names, shapes, dtypes); images
    at another size than ``config.input_size`` are resized with OpenCV (bilinear) rather than
    torch, so those outputs differ from PyTorch's by resampling detail only.
    """

    def __init__(self, session, config, reg_scale: np.ndarray, reg_bias: np.ndarray, path: Path,
                 backend: str = "onnxruntime"):
        self.backend = backend  # "onnxruntime", or "onnxruntime-int8" for the graph's INT8 copy
        self.session = session
        self.config = config  # HydraNetConfig
        self.reg_scale = reg_scale  # (6,) float32
        self.reg_bias = reg_bias  # (6,) float32
        self.path = path  # the ONNX file

    @classmethod
    def load(cls, weights: str | os.PathLike, cache: str | os.PathLike | None = None, int8: bool = False) -> "OnnxHydraNet":
        """Export ``weights`` (a HydraNet checkpoint) once into the cache and open it (``int8``: its INT8 copy,
        ``perception.int8``)."""
        import torch

        from .hydranet import REG_BIAS, REG_SCALE, HydraNet, export_onnx

        require_onnxruntime()
        net = HydraNet.load(weights, device="cpu")
        h, w = net.config.input_size
        path = cached_export(weights, f"hydranet-{h}x{w}-torch{torch.__version__.split('+')[0]}",
                             lambda p: export_onnx(net, p), cache)
        if int8:
            from .int8 import cached_int8

            path = cached_int8(path, (h, w))
        return cls(cpu_session(path), net.config, np.asarray(REG_SCALE, np.float32), np.asarray(REG_BIAS, np.float32),
                   path, "onnxruntime-int8" if int8 else "onnxruntime")

    def predict(self, images_rgb: np.ndarray) -> MultitaskOutputs:
        """As ``HydraNet.predict``: uint8 RGB (B, H, W, 3) or (H, W, 3) -> ``MultitaskOutputs``."""
        from .hydranet import image_batch

        arr, single = image_batch(images_rgb)
        h, w = arr.shape[1:3]
        net_h, net_w = self.config.input_size
        resize = (h, w) != (net_h, net_w)
        results = []
        for img in arr:  # exported for batch 1
            if resize:
                img = cv2.resize(img, (net_w, net_h), interpolation=cv2.INTER_LINEAR)
            x = (img.transpose(2, 0, 1)[None].astype(np.float32)) * np.float32(1 / 255)
            drivable, lanes, log_depth, ego, *light = self.session.run(None, {"images": x})  # light: newer nets only
            results.append(numpy_multitask_outputs(drivable[0], lanes[0], log_depth[0], ego[0] * self.reg_scale + self.reg_bias,
                                                   light[0][0] if light else None, (h, w)))
        result = stack_outputs(results)
        return result.image(0) if single else result


def numpy_multitask_outputs(drivable: np.ndarray, lanes: np.ndarray, log_depth: np.ndarray, ego: np.ndarray,
                            light_raw: np.ndarray | None, image_hw: tuple[int, int]) -> MultitaskOutputs:
    """One image's raw dense-head outputs at the network's size (``drivable`` (1, h, w) logits, ``lanes`` (4, h,
    w) logits, ``log_depth`` (1, h, w)), ``ego`` (6,) in ``REG_NAMES`` units and the light head's raw (5,) → a
    batch-of-one ``MultitaskOutputs`` at ``image_hw``. NumPy and OpenCV: on the CPU about 8 ms less per frame
    than the same steps in PyTorch at 320x160 (thread start-up on small tensors). Shared by the ONNX HydraNet
    and the joint network's runner."""
    from .hydranet import multitask_outputs

    dense = np.concatenate([drivable, lanes, log_depth], 0)  # (6, h, w)
    if dense.shape[1:] != tuple(image_hw):  # one resize for all dense maps
        dense = cv2.resize(dense.transpose(1, 2, 0), (image_hw[1], image_hw[0]), interpolation=cv2.INTER_LINEAR).transpose(2, 0, 1)
    return multitask_outputs(dense[None, 0] > 0, _argmax_classes(dense[None, 1:5]), np.exp(dense[None, 5]).astype(np.float32),
                             np.asarray(ego, np.float32)[None], None if light_raw is None else np.asarray(light_raw)[None])


def stack_outputs(results: list[MultitaskOutputs]) -> MultitaskOutputs:
    """Batch-of-one ``MultitaskOutputs`` → one batch."""
    from dataclasses import fields

    return MultitaskOutputs(**{f.name: np.concatenate([getattr(r, f.name) for r in results], 0)
                               for f in fields(MultitaskOutputs)})


def _argmax_classes(scores: np.ndarray) -> np.ndarray:
    """``scores.argmax(1)`` as uint8 for (B, C, H, W) class scores, by C - 1 elementwise comparisons:
    about 2x faster than NumPy's argmax over a short, strided axis (ties go to the lower class, as there)."""
    best = np.zeros((scores.shape[0], *scores.shape[2:]), np.uint8)
    top = scores[:, 0].copy()
    for c in range(1, scores.shape[1]):
        better = scores[:, c] > top
        best[better] = c
        np.maximum(top, scores[:, c], out=top)
    return best
