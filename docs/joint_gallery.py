"""Regenerate docs/img/joint_vs_pair.jpg and print a box count on the real footage: the shipped pair (YOLO
detector + HydraNet) beside a joint network (one pass), on the real clips and images in ../shared/realdata
(no labels: a person looks) and on one simulator frame.

Usage: python docs/joint_gallery.py --joint perception/models/joint.pt [--out docs/img/joint_vs_pair.jpg]

The count (``--count``) runs every real image and every frame of the two clips through both stacks and
prints, per stack, boxes per class and the frames with a light box: cars boxed, and no lights in trees,
is what this footage can tell without labels.
"""

import argparse
import json
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from common.vocab import CLASS_NAMES
from perception.overlay import draw
from perception.pipeline import Perception
from perception.sources import SimSource, open_source

REAL = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "udacity"
OUT = Path(__file__).parent / "img" / "joint_vs_pair.jpg"
TILE = (480, 270)
SHOWN = ((REAL / "videos" / "solidWhiteRight.mp4", 40), (REAL / "videos" / "highway_cars.mp4", 20),
         (REAL / "images" / "test1.jpg", 0), (REAL / "images" / "test4.jpg", 0))


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    out = tile.copy()
    cv2.rectangle(out, (0, 0), (len(text) * 9 + 10, 22), (0, 0, 0), -1)
    cv2.putText(out, text, (5, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def _tile(perception: Perception, spec: Path, index: int) -> np.ndarray:
    perception.reset()
    with open_source(str(spec), max_frames=index + 1) as src:
        for frame in src:  # every frame up to the one shown, so tracks have history
            pf = perception.process(frame)
    cam = perception.camera_setup.model(frame.image.shape[1], frame.image.shape[0])
    return cv2.resize(draw(frame.image, pf, cam), TILE, interpolation=cv2.INTER_AREA)


def _sim_tile(perception: Perception) -> np.ndarray:
    perception.reset()
    with SimSource("drivestack/Town-v0", seed=10_003, steps=80) as src:
        for frame in src:
            pf = perception.process(frame)
    big = cv2.resize(frame.image, TILE, interpolation=cv2.INTER_LINEAR)
    return draw(big, pf, perception.camera_setup.model(*TILE))


def count(perception: Perception) -> dict:
    """Boxes per class over every real image and clip frame, and the frames with any light box."""
    boxes, light_frames, frames = Counter(), 0, 0
    specs = sorted((REAL / "images").glob("*.jpg")) + sorted((REAL / "videos").glob("*.mp4"))
    for spec in specs:
        perception.reset()
        with open_source(str(spec)) as src:
            for frame in src:
                pf = perception.process(frame)
                names = [CLASS_NAMES[int(c)] for c in pf.detections.class_id]
                boxes.update(names)
                light_frames += any(n.startswith("traffic_light") for n in names)
                frames += 1
    return {"frames": frames, "boxes_per_class": dict(sorted(boxes.items())), "frames_with_a_light_box": light_frames}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--joint", required=True, help="joint network weights (drivestack train joint)")
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--count", action="store_true", help="also print the box count over all the real footage")
    args = ap.parse_args()
    stacks = {"pair (detector + HydraNet)": Perception.from_files(), f"joint ({Path(args.joint).name})": Perception.from_files(joint=args.joint)}
    rows = []
    for spec, index in SHOWN:
        rows.append(np.concatenate([_label(_tile(p, spec, index), name) for name, p in stacks.items()], 1))
    rows.append(np.concatenate([_label(_sim_tile(p), name + ", sim") for name, p in stacks.items()], 1))
    cv2.imwrite(args.out, cv2.cvtColor(np.concatenate(rows, 0), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {args.out}")
    if args.count:
        print(json.dumps({name: count(p) for name, p in stacks.items()}, indent=1))


if __name__ == "__main__":
    main()
