"""Four moments of one `drivestack drive` run, tiled 2x2 from its hud.mp4 (docs/img/drive.png).

Usage: python docs/drive_gallery.py [--seed 900003] [--route-length 150] [--out docs/img/drive.png]

Drives the shipped models and policy (the main job's defaults) on a held-out town seed into a
temporary run folder and picks frames at 20 / 40 / 60 / 80 % of the drive.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=900003)
    p.add_argument("--route-length", type=float, default=150.0)
    p.add_argument("--out", default="docs/img/drive.png")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "drive"
        subprocess.run([sys.executable, "-m", "drivestack", "drive", "--seed", str(args.seed), "--route-length",
                        str(args.route_length), "--out", str(run), "--quiet"], check=True)
        video = cv2.VideoCapture(str(run / "episode-000" / "hud.mp4"))
        frames = []
        while True:
            ok, frame = video.read()
            if not ok:
                break
            frames.append(frame)
    if len(frames) < 5:
        raise SystemExit(f"the drive's hud.mp4 has {len(frames)} frames; expected a longer drive")
    picks = [frames[int(f * (len(frames) - 1))] for f in (0.2, 0.4, 0.6, 0.8)]
    grid = np.vstack([np.hstack(picks[:2]), np.hstack(picks[2:])])
    cv2.imwrite(args.out, grid)
    print(f"{args.out}: {grid.shape[1]}x{grid.shape[0]} from {len(frames)} frames")


if __name__ == "__main__":
    main()
