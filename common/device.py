"""One device resolver for every caller: "auto", "cpu", "cuda" or "cuda:N" -> the device to use.

``resolve_device`` answers with torch's spelling ("cpu", "cuda:0"); an unknown name, or CUDA
asked for where there is none, is a ``ConfigError`` naming the value and what is allowed, so the
command line prints one line instead of a traceback deep inside torch.
"""

from __future__ import annotations

import re

from .errors import ConfigError

ALLOWED = "auto, cpu, cuda or cuda:N"


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` -> ``"cuda:0"`` when CUDA is available, else ``"cpu"``; ``"cuda"`` -> ``"cuda:0"``.

    torch is imported only when the answer depends on it (CPU-only callers stay light)."""
    name = str(device).strip().lower()
    if name == "cpu":
        return "cpu"
    if name != "auto" and not re.fullmatch(r"cuda(:\d+)?", name):
        raise ConfigError(f"device {device!r} is not allowed; choose {ALLOWED}")
    import torch

    if not torch.cuda.is_available():
        if name == "auto":
            return "cpu"
        raise ConfigError(f"device {device!r}: no CUDA device is available here; use auto or cpu")
    if name in ("auto", "cuda"):
        return "cuda:0"
    index = int(name.split(":")[1])
    if index >= torch.cuda.device_count():
        raise ConfigError(f"device {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return name
