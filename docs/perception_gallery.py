"""Regenerate docs/img/perception.png: the shipped perception stack on real footage and on a sim frame.

Usage: python docs/perception_gallery.py [--detector PATH]
"""

import argparse
from pathlib import Path

import cv2
import numpy as np

from perception.overlay import draw
from perception.pipeline import DEFAULT_DETECTOR, DEFAULT_HYDRANET, Perception
from perception.sources import SimSource, open_source

REAL = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "udacity"
OUT = Path(__file__).parent / "img" / "perception.png"
TILE = (640, 360)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--detector", default=str(DEFAULT_DETECTOR))
    ap.add_argument("--hydranet", default=str(DEFAULT_HYDRANET))
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    perception = Perception.from_files(args.detector, args.hydranet)
    tiles = []
    for spec, index in ((REAL / "videos" / "solidWhiteRight.mp4", 40), (REAL / "videos" / "highway_cars.mp4", 20),
                        (REAL / "images" / "test1.jpg", 0)):
        perception.reset()
        with open_source(str(spec), max_frames=index + 1) as src:
            for frame in src:  # run every frame up to the one shown, so tracks have history
                pf = perception.process(frame)
        cam = perception.camera_setup.model(frame.image.shape[1], frame.image.shape[0])
        tiles.append(cv2.resize(draw(frame.image, pf, cam), TILE, interpolation=cv2.INTER_AREA))
    perception.reset()
    with SimSource("drivestack/Town-v0", seed=10_003, steps=80) as src:
        for frame in src:
            pf = perception.process(frame)
    big = cv2.resize(frame.image, TILE, interpolation=cv2.INTER_LINEAR)
    tiles.append(draw(big, pf, perception.camera_setup.model(*TILE)))
    grid = np.concatenate([np.concatenate(tiles[:2], 1), np.concatenate(tiles[2:], 1)], 0)
    cv2.imwrite(args.out, cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
