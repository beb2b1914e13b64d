"""Which weights and which runtime the perception stack's two networks load with.

``model_paths`` finds the weights (the shipped ones by default); ``resolve_backend`` picks PyTorch
or ONNX Runtime (``perception.onnx_backend``) for a device; ``load_networks`` loads the detector
and the multi-task network, falling back from ONNX Runtime to PyTorch under "auto".
"""

from __future__ import annotations

import logging
from pathlib import Path

from common.device import resolve_device

log = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).parent / "models"
DEFAULT_DETECTOR = MODELS_DIR / "detector.pt"
DEFAULT_HYDRANET = MODELS_DIR / "hydranet.pt"
DEFAULT_JOINT = MODELS_DIR / "joint.pt"  # the one-pass joint network (joint_card.md); not the default stack (the pair is)
BACKENDS = ("auto", "torch", "onnxruntime", "onnxruntime-int8")  # see load_networks
ONNX_BACKENDS = ("onnxruntime", "onnxruntime-int8")  # the CPU runtimes: fp32, and the int8 copies (perception.int8)


def model_paths(detector: str | Path | None = None, hydranet: str | Path | None = None) -> tuple[Path, Path]:
    """The detector and multi-task weights to use (the shipped ones by default); a missing file is a
    ``FileNotFoundError`` that says how to get one."""
    paths = (Path(detector) if detector else DEFAULT_DETECTOR, Path(hydranet) if hydranet else DEFAULT_HYDRANET)
    for what, path in zip(("detector", "multi-task network"), paths):
        if not path.is_file():
            raise FileNotFoundError(f"{what} weights {str(path)!r} do not exist; train one (`drivestack train`) or pass its path")
    return paths


def resolve_backend(backend: str, device: str = "auto") -> str:
    """"torch", "onnxruntime" or "onnxruntime-int8" for a requested ``backend`` (see ``load_networks``).

    ``ValueError`` for an unknown name or ONNX Runtime on a non-CPU device; ``ImportError`` naming
    the packages when ONNX Runtime is asked for and not installed."""
    from .onnx_backend import onnxruntime_available, require_onnxruntime

    if backend not in BACKENDS:
        raise ValueError(f"backend {backend!r} is not one of {', '.join(BACKENDS)}")
    if backend == "auto":
        return "onnxruntime" if onnxruntime_available() and resolve_device(device) == "cpu" else "torch"
    if backend in ONNX_BACKENDS:
        if str(device).lower() not in ("auto", "cpu") or resolve_device(device) != "cpu":
            raise ValueError(f"backend {backend!r} runs on the CPU; device {device!r} needs backend 'torch'")
        require_onnxruntime()
    return backend


def load_networks(detector: str | Path | None, hydranet: str | Path | None, device: str = "auto", backend: str = "auto",
                  onnx_cache: str | Path | None = None):
    """The detector (``perception.yolo.YoloDetector``) and multi-task network (``HydraNet`` or ``OnnxHydraNet``)
    from their weights; either path may be None (that network is then None).

    ``backend``: "torch", "onnxruntime" (CPU only; both networks exported once into ``onnx_cache``,
    see ``perception.onnx_backend``), "onnxruntime-int8" (the same, each graph's INT8 copy, made once
    beside it: ``perception.int8``) or "auto": ONNX Runtime (fp32) when it is installed and the device
    is the CPU, else PyTorch; under "auto" a failed export falls back to PyTorch with a warning."""
    chosen = resolve_backend(backend, device)
    if chosen in ONNX_BACKENDS:
        try:
            return _load(detector, hydranet, device, chosen, onnx_cache)
        except (FileNotFoundError, ValueError):
            raise  # the weights themselves are wrong: the same under PyTorch
        except Exception as exc:  # noqa: BLE001 - any exporter or runtime gap: "auto" still gets a working stack
            if backend != "auto":
                raise
            log.warning("ONNX Runtime backend unavailable (%s: %s); using PyTorch", type(exc).__name__, exc)
    return _load(detector, hydranet, device, "torch", None)


def _load(detector, hydranet, device: str, backend: str, onnx_cache):
    det = hyd = None
    if detector is not None:
        from .yolo import DetectorConfig, YoloDetector

        if backend in ONNX_BACKENDS:
            det = YoloDetector.load_onnxruntime(detector, cfg=DetectorConfig(device="cpu"), cache=onnx_cache,
                                                int8=backend == "onnxruntime-int8")
        else:
            det = YoloDetector.load(detector, cfg=DetectorConfig(device=device))
    if hydranet is not None:
        if backend in ONNX_BACKENDS:
            from .onnx_backend import OnnxHydraNet

            hyd = OnnxHydraNet.load(hydranet, cache=onnx_cache, int8=backend == "onnxruntime-int8")
        else:
            from .hydranet import HydraNet

            hyd = HydraNet.load(hydranet, device=resolve_device(device))
    return det, hyd
