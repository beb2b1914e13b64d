"""Regenerate docs/img/gallery.png: town, highway, night and fog frames with their labels.

Usage: python docs/gallery.py
"""

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

IMG = Path(__file__).parent / "img"
SHOTS = [
    ("town", ["--scenario", "town", "--seed", "3", "--steps", "120"]),
    ("highway", ["--scenario", "highway", "--seed", "1", "--steps", "100"]),
    ("night", ["--scenario", "town", "--seed", "8", "--steps", "80", "--randomize", "--set", "randomization.night_prob=1",
               "--set", "randomization.fog_prob=0"]),
    ("fog", ["--scenario", "highway", "--seed", "5", "--steps", "80", "--randomize", "--set", "randomization.fog_prob=1",
             "--set", "randomization.night_prob=0", "--set", "randomization.fog_range_m=[40,60]"]),
]


def main() -> None:
    IMG.mkdir(parents=True, exist_ok=True)
    tiles = []
    for name, args in SHOTS:
        out = IMG / f"{name}.png"
        subprocess.run([sys.executable, "-m", "drivestack.cli", "snapshot", *args, "--out", str(out)], check=True)
        tiles.append(cv2.imread(str(out)))
    gap = np.full((tiles[0].shape[0], 6, 3), 255, np.uint8)
    row = [t for tile in tiles for t in (tile, gap)][:-1]
    cv2.imwrite(str(IMG / "gallery.png"), np.concatenate(row, 1))


if __name__ == "__main__":
    main()
