"""Carry a trained detector onto a longer class list: fine-tuning after a class was appended.

``common.vocab.CLASS_NAMES`` only grows at its end (cyclist and stop sign came with the navigation towns,
the traffic cone with the safety suite). Fine-tuning a checkpoint that knows the first N classes on data
that names N + k, ultralytics builds a fresh head for N + k and keeps only the weights whose shapes still
match: the last 1x1 convolution of each class branch (``Detect.cv3[i][-1]``, one output per class) is
reinitialised, and every old class has to be learnt again from scratch. ``widen_classes`` instead writes a
checkpoint whose class convolutions keep the old classes' rows as they were and give each new class a fresh
row, its bias at ultralytics' own prior (``Detect.bias_init``: about 0.01 of a box per cell), so that a
fine-tune only has to learn what is new. Everything else (backbone, neck, box branch) is untouched; the
box branch never depended on the class count.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Sequence

import torch

from .yolo import ultralytics_offline

__all__ = ["checkpoint_names", "extends", "name_list", "widen_classes"]


def name_list(names) -> list[str]:
    """Class names in index order, from ultralytics' ``{index: name}`` or a sequence."""
    return [names[k] for k in sorted(names)] if isinstance(names, dict) else list(names)


def extends(names: Sequence[str], known: Sequence[str]) -> bool:
    """Whether ``names`` is ``known`` with classes appended (at least one): what ``widen_classes`` carries."""
    return len(names) > len(known) and list(names[:len(known)]) == list(known)


def checkpoint_names(weights_path: str | os.PathLike) -> list[str]:
    """The class names an ultralytics detection checkpoint was trained on, in index order."""
    ultralytics_offline()
    from ultralytics.nn.tasks import load_checkpoint

    model, _ = load_checkpoint(str(weights_path), device="cpu")
    return name_list(model.names)


def widen_classes(weights_path: str | os.PathLike, names: Sequence[str], out_path: str | os.PathLike) -> Path:
    """Write ``out_path``: the checkpoint at ``weights_path`` with its classes extended to ``names``.

    ``names`` must begin with the checkpoint's own names (appended classes only); raises ``ValueError``
    otherwise. The new classes' rows are initialised as a fresh ultralytics head initialises them.
    """
    ultralytics_offline()
    from ultralytics.nn.tasks import DetectionModel
    from ultralytics.utils import LOGGER
    from ultralytics.utils.patches import torch_load

    ckpt = torch_load(str(weights_path), map_location="cpu", weights_only=False)
    old = (ckpt.get("ema") or ckpt["model"]).float()
    old_names, names = name_list(old.names), list(names)
    if not extends(names, old_names):
        raise ValueError(f"{str(weights_path)!r} knows classes {old_names}; {names} does not extend them at the end")
    nc_old, nc = len(old_names), len(names)

    level = LOGGER.level  # its "Overriding model.yaml nc=10 with nc=11" notice is ours to expect
    LOGGER.setLevel(logging.WARNING)
    try:
        new = DetectionModel(old.yaml, nc=nc, verbose=False)
    finally:
        LOGGER.setLevel(level)
    state = new.state_dict()
    for key, value in old.state_dict().items():
        if key not in state:
            raise ValueError(f"{str(weights_path)!r}: layer {key} has no place in a {nc}-class model of its yaml")
        if state[key].shape == value.shape:
            state[key] = value
        elif state[key].shape[1:] == value.shape[1:] and value.shape[0] == nc_old:  # a class conv: rows per class
            state[key][:nc_old] = value
        else:
            raise ValueError(f"{str(weights_path)!r}: layer {key} is {tuple(value.shape)}, "
                             f"a {nc}-class model has {tuple(state[key].shape)}")
    new.load_state_dict(state)
    head = new.model[-1]
    for i, branch in enumerate(head.cv3):  # the new rows' prior, as Detect.bias_init sets a fresh head's
        branch[-1].bias.data[nc_old:] = math.log(5 / nc / (640 / float(head.stride[i])) ** 2)
    new.names = dict(enumerate(names))
    new.args = getattr(old, "args", {})

    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    widened = dict(ckpt)
    widened.update(model=new.half(), ema=None, optimizer=None, updates=None, epoch=-1, best_fitness=None)
    torch.save(widened, out)
    return out
