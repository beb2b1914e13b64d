"""JointNet training data: HydraNet's items (``perception.hydranet_data``) plus each frame's boxes.

The boxes are the detector's own labels, the ultralytics ``labels/<split>/<stem>.txt`` the export writes
(rows: class, centre x, centre y, width, height, normalised), so the joint model learns exactly what the
YOLO detector learns from the same frames; the flip augmentation mirrors them with the masks. The val
tally reads the full ground truth (``objects`` of the frame's ``gt`` record) through
``perception.metrics.TrueBoxes``, so the AP is the one ``drivestack eval perception`` reports.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .camera_effects import camera_effects
from .hydranet_data import HydraDataset, augment, to_tensors
from .texture_distractors import texture_distractors
from .metrics.detection import TrueBoxes


class JointDataset(HydraDataset):
    """One split of an exported dataset with its boxes; items add ``boxes`` (N, 5) float32."""

    def __init__(self, root: str | Path, split: str, augment: bool = False, seed: int = 0,
                 input_size: tuple[int, int] | None = None, camera: bool = False, texture: bool = False) -> None:
        super().__init__(root, split, augment, seed, input_size)
        self.camera = camera  # camera effects on the image (perception.camera_effects), with augment
        self.texture = texture  # texture distractors on the image (perception.texture_distractors), with augment
        self.objects: dict[str, list] = {}  # stem -> the frame's labelled objects (for the val AP)
        for path in sorted((self.root / "gt" / split).glob("*.jsonl")):
            for line in path.read_text().splitlines():
                if line.strip():
                    rec = json.loads(line)
                    self.objects[rec["stem"]] = rec["ground_truth"].get("objects", [])

    def boxes(self, i: int) -> np.ndarray:
        """(N, 5) float32 rows of item ``i``'s label file: class, centre x, centre y, width, height (0-1)."""
        path = self.root / "labels" / self.split / f"{self.stems[i]}.txt"
        if not path.is_file():
            raise FileNotFoundError(f"{self.stems[i]}: the label file of split {self.split!r} under {str(self.root)!r} is missing")
        if not path.stat().st_size:  # a frame with no boxes (np.loadtxt would warn)
            return np.zeros((0, 5), np.float32)
        return np.loadtxt(path, dtype=np.float32, ndmin=2).reshape(-1, 5)

    def truth(self, i: int, image_hw: tuple[int, int]) -> TrueBoxes:
        """Item ``i``'s labelled objects as ``TrueBoxes`` in an ``image_hw`` image (the labels are in the
        exported image's pixels)."""
        h, w = self.exported_hw
        return TrueBoxes.from_labels(self.objects[self.stems[i]], (image_hw[1] / w, image_hw[0] / h))

    @property
    def exported_hw(self) -> tuple[int, int]:
        """(height, width) of the exported images [px] (the first one's; an export has one camera)."""
        if not hasattr(self, "_exported_hw"):
            import cv2

            image = cv2.imread(str(self.root / "images" / self.split / f"{self.stems[0]}.jpg"), cv2.IMREAD_COLOR)
            self._exported_hw = image.shape[:2]
        return self._exported_hw

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        item = {**self.read(i), "boxes": self.boxes(i)}
        if self.augment:
            item = augment(item, np.random.default_rng([self.seed, self.epoch, i]))
            if self.texture:  # scene texture before the camera's effects on it
                item["image"] = texture_distractors(item["image"], np.random.default_rng([self.seed, self.epoch, i, 2]))
            if self.camera:
                item["image"] = camera_effects(item["image"], np.random.default_rng([self.seed, self.epoch, i, 1]))
        return {**to_tensors(item), "boxes": torch.from_numpy(np.ascontiguousarray(item["boxes"])),
                "index": torch.tensor(i)}


def collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack the per-image tensors; the boxes concatenate into ultralytics' batch format (``batch_idx``,
    ``cls``, ``bboxes``)."""
    out = {k: torch.stack([it[k] for it in items]) for k in items[0] if k != "boxes"}
    boxes = [it["boxes"] for it in items]
    out["batch_idx"] = torch.cat([torch.full((len(b),), float(k)) for k, b in enumerate(boxes)])
    rows = torch.cat(boxes) if boxes else torch.zeros(0, 5)
    out["cls"], out["bboxes"] = rows[:, 0], rows[:, 1:5]
    return out


class JointDatasets(torch.utils.data.Dataset):
    """The same split of several exports as one dataset (a detector-style mix of worlds): item ``i`` is
    item ``i - offset`` of the export it falls in, with ``index`` = ``i``, so ``truth(i, ...)`` finds its
    labels; ``set_epoch`` reaches every export. ``at_most``: keep an even spread of that many items (their
    ``index`` still the position over every export)."""

    def __init__(self, roots: list[str | Path], split: str, augment: bool = False, seed: int = 0,
                 input_size: tuple[int, int] | None = None, camera: bool = False, texture: bool = False,
                 at_most: int = 0) -> None:
        self.parts = [JointDataset(r, split, augment, seed, input_size, camera, texture) for r in roots]
        self.offsets = np.cumsum([0] + [len(p) for p in self.parts])
        total = int(self.offsets[-1])
        # at_most: an even spread of that many items over every export (a shorter validation), 0 = all
        self.items = (np.linspace(0, total - 1, at_most).round().astype(int) if 0 < at_most < total
                      else np.arange(total))

    def __len__(self) -> int:
        return len(self.items)

    def _where(self, i: int) -> tuple[JointDataset, int]:
        k = int(np.searchsorted(self.offsets, i, side="right")) - 1
        return self.parts[k], i - int(self.offsets[k])

    def set_epoch(self, epoch: int) -> None:
        for p in self.parts:
            p.set_epoch(epoch)

    def truth(self, i: int, image_hw: tuple[int, int]) -> TrueBoxes:
        part, j = self._where(i)
        return part.truth(j, image_hw)

    def __getitem__(self, k: int) -> dict[str, torch.Tensor]:
        i = int(self.items[k])  # the item's index over every export: what truth() takes
        part, j = self._where(i)
        return {**part[j], "index": torch.tensor(i)}
