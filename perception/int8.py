"""INT8 copies of the perception networks' ONNX graphs for ONNX Runtime on the CPU (post-training static
quantization, ``onnxruntime.quantization``), made once per exported graph and kept in the ONNX cache.

Why: on a CPU with VNNI / AMX integer units the convolutions run faster in int8 than in fp32 (measured by
``drivestack bench perception``, which times both backends in the same run); the accuracy each costs is
measured by ``drivestack eval perception --backend onnxruntime-int8`` (docs/benchmarks.md).

What is quantized: the trunk, every op of it (convolutions, their SiLU / ReLU, the C2f concatenations,
upsampling), weights per output channel (int8), activations per tensor (uint8), QDQ format so ONNX Runtime
fuses each into an integer kernel and the activations stay int8 from one convolution to the next. What stays
float: each network's **final layers** (every weighted layer from which an output is reached without another
weighted layer: the detection head's box and class convolutions, its distribution-to-box convolution, the
dense heads' last convolutions) and everything downstream of them: one int8 scale over a tensor that holds
box pixels (0-320) beside class scores (0-1), or a logit map whose threshold sits at 0, would round away what
the network says. (Quantizing only the convolutions, as ultralytics' ONNX int8 export does, kept the same
accuracy and ran the joint network 8.9 ms a frame where this runs it in 7.1 (fp32 10.3): every SiLU between
two convolutions then went back to float and each convolution's input was quantized again.)

Calibration: ``CALIBRATION_FRAMES`` simulator frames from training seeds (never an evaluation seed), the town,
the navigation town and the highway in turn, at the network's input size; min-max ranges. The same frames
every time, so the same fp32 graph always gives the same int8 graph.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

INT8_TAG = "int8q1"  # in the cached file's name: bump when the recipe below changes (old copies are then not reused)
WEIGHTED_OPS = frozenset({"Conv", "Gemm", "MatMul"})
CALIBRATION_FRAMES = 96  # [frames] (48 lost 0.085 of green-light AP50 on validation seeds 30000-30019, 96 none; 192 as 96)
# (env id, seed, frames): a seed no perception evaluation range holds (`eval perception`: 10000-10009, test
# 20000-20019, validation 30000-30019), a frame every CALIBRATION_STRIDE steps so the drive moves between them
CALIBRATION_DRIVES = (("drivestack/Town-v0", 7, 32), ("drivestack/TownNav-v0", 7, 32), ("drivestack/Highway-v0", 7, 32))
CALIBRATION_STRIDE = 10  # [steps]


def calibration_images(input_hw: tuple[int, int]) -> np.ndarray:
    """(CALIBRATION_FRAMES, 3, H, W) float32 RGB in [0, 1]: the simulator frames every quantization calibrates on."""
    import cv2

    from .sources import SimSource

    h, w = input_hw
    out = []
    for env_id, seed, n in CALIBRATION_DRIVES:
        with SimSource(env_id, seed=seed, steps=n * CALIBRATION_STRIDE, stride=CALIBRATION_STRIDE) as src:
            for frame in src:
                img = frame.image if frame.image.shape[:2] == (h, w) else cv2.resize(frame.image, (w, h),
                                                                                      interpolation=cv2.INTER_AREA)
                out.append(img.transpose(2, 0, 1).astype(np.float32) / np.float32(255))
    return np.stack(out[:CALIBRATION_FRAMES])


def _consumers(graph) -> dict[str, list]:
    """tensor name -> the nodes that read it."""
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    return consumers


def final_layers(graph) -> list[str]:
    """Names of the weighted nodes from whose output some graph output is reached through no other weighted node."""
    consumers = _consumers(graph)
    outputs = {o.name for o in graph.output}
    reaches: dict[str, bool] = {}  # tensor -> reaches an output through unweighted nodes only

    def reaches_output(tensor: str) -> bool:
        if tensor not in reaches:
            reaches[tensor] = False  # a cycle cannot occur in an ONNX graph; this only guards revisits
            reaches[tensor] = tensor in outputs or any(
                reaches_output(t) for c in consumers.get(tensor, []) if c.op_type not in WEIGHTED_OPS for t in c.output)
        return reaches[tensor]

    return [n.name for n in graph.node if n.op_type in WEIGHTED_OPS and any(reaches_output(t) for t in n.output)]


def float_nodes(graph) -> list[str]:
    """The nodes that stay float: the final layers (``final_layers``) and every node downstream of them (the
    detection head's decode, the dense heads' last activations)."""
    consumers = _consumers(graph)
    names = set(final_layers(graph))
    todo = [n for n in graph.node if n.name in names]
    while todo:
        for tensor in todo.pop().output:
            for c in consumers.get(tensor, []):
                if c.name not in names:
                    names.add(c.name)
                    todo.append(c)
    return [n.name for n in graph.node if n.name in names]


def quantize_int8(fp32_path: str | os.PathLike, out_path: str | os.PathLike, images: np.ndarray) -> Path:
    """Write the INT8 (QDQ) copy of the ONNX graph at ``fp32_path`` to ``out_path``, calibrated on ``images``
    ((N, 3, H, W) float32, the graph's input)."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    out_path = Path(out_path)
    with tempfile.TemporaryDirectory(dir=out_path.parent) as tmp:
        prepared = Path(tmp) / "prepared.onnx"  # shapes inferred and graph optimised: what the quantizer expects
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
        model = onnx.load(str(prepared))
        input_name = model.graph.input[0].name

        class Frames(CalibrationDataReader):
            def __init__(self):
                self._it = iter(images)

            def get_next(self):
                x = next(self._it, None)
                return None if x is None else {input_name: np.ascontiguousarray(x[None], np.float32)}

        quantize_static(str(prepared), str(out_path), Frames(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        nodes_to_exclude=float_nodes(model.graph))
    return out_path


def cached_int8(fp32_path: str | os.PathLike, input_hw: tuple[int, int]) -> Path:
    """The INT8 copy of a cached fp32 export (``perception.onnx_backend.cached_export``), made once beside it:
    ``<fp32 name>-int8q1.onnx``. Nothing half-written is left if quantizing fails."""
    fp32_path = Path(fp32_path)
    final = fp32_path.with_name(f"{fp32_path.stem}-{INT8_TAG}.onnx")
    if final.is_file():
        return final
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.stem}-", dir=final.parent))
    try:
        written = quantize_int8(fp32_path, tmp / final.name, calibration_images(input_hw))
        os.replace(written, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
