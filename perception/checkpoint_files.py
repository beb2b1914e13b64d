"""The perception networks' own checkpoint files: one ``.pt`` dict with a format marker and version, the
config, the weights and metadata; written atomically, read with a one-line error naming the file for
anything that is not one. Used by ``HydraNet`` and ``JointNet`` (the detector keeps ultralytics' format)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch


def save_checkpoint(checkpoint: dict[str, Any], path: str | Path) -> None:
    """Write ``checkpoint`` with ``torch.save``, atomically (a temp file, then a rename): an interrupted
    save never leaves a half-written file under the name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(checkpoint, tmp)
    tmp.replace(path)


def read_checkpoint(path: str | Path, fmt: str, version: int, what: str) -> dict[str, Any]:
    """The checkpoint dict in ``path`` whose ``format`` is ``fmt`` at ``version``; ValueError naming the
    file (and ``what`` it should be) for a missing file, a file torch cannot load, or another format."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{what} checkpoint {str(path)!r} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and torch errors all mean "not a model file"
        raise ValueError(f"{str(path)!r} is not a {what} checkpoint (torch.load failed: {exc})") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != fmt:
        raise ValueError(f"{str(path)!r} is not a {what} checkpoint (no {fmt!r} format marker)")
    if ckpt.get("format_version") != version:
        raise ValueError(f"{str(path)!r} holds {what} format {ckpt.get('format_version')!r}; this code reads {version}")
    return ckpt
