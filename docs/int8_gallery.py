"""Regenerate docs/img/int8_vs_fp32.jpg: the pair's ONNX graphs in fp32 (left) and their INT8 copies (right,
``perception.int8``) on real footage (Udacity, ../shared/realdata) and a held-out simulator frame; and print how
far fp32 and INT8 agree on all the real images and every 25th frame of the two clips (the pair and the joint network).

    python docs/int8_gallery.py
"""

from pathlib import Path

import cv2
import numpy as np

from perception.overlay import draw
from perception.pipeline import Perception
from perception.sources import SimSource
from perception.types import Frame

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "realdata" / "udacity" / "images"
WIDTH = 640  # [px] of each panel


def frames() -> list[Frame]:
    out = [Frame(cv2.cvtColor(cv2.imread(str(REAL / name)), cv2.COLOR_BGR2RGB), 0.0, i, name)
           for i, name in enumerate(("test1.jpg", "test4.jpg", "solidWhiteRight.jpg"))]
    with SimSource("drivestack/Town-v0", seed=20003, steps=41, stride=40) as src:  # a test seed of eval perception
        out.append(list(src)[-1])
    return out


def panel(perception: Perception, frame: Frame, label: str) -> np.ndarray:
    perception.reset()
    pf = perception.process(frame)
    h, w = frame.image.shape[:2]
    img = draw(frame.image, pf, perception.camera_setup.model(w, h), bev=False)
    img = cv2.resize(img, (WIDTH, round(WIDTH * h / w)), interpolation=cv2.INTER_AREA)
    cv2.putText(img, label, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)
    return img


def real_frames() -> list[Frame]:
    from perception.sources import open_source

    out = [Frame(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB), 0.0, i, p.name)
           for i, p in enumerate(sorted(REAL.glob("*.jpg")))]
    for clip in sorted((REAL.parent / "videos").glob("*.mp4")):
        with open_source(str(clip), stride=25) as src:
            out += list(src)
    return out


def agreement(joint: str | None = None) -> str:
    """Boxes above 0.4 in fp32 that have an INT8 box of their class within 3 % of the image width; masks' agreement."""
    kw = {"joint": joint} if joint else {}
    fp32 = Perception.from_files(**kw, device="cpu", backend="onnxruntime", track=False)
    int8 = Perception.from_files(**kw, device="cpu", backend="onnxruntime-int8", track=False)
    frames = real_frames()
    n32 = n8 = matched = 0
    drivable, lanes = [], []
    for f in frames:
        a, b = fp32.process(f), int8.process(f)
        ka, kb = a.detections.score > 0.4, b.detections.score > 0.4
        n32, n8 = n32 + int(ka.sum()), n8 + int(kb.sum())
        for box, cls in zip(a.detections.xyxy[ka], a.detections.class_id[ka]):
            near = np.abs(b.detections.xyxy[kb] - box).max(axis=1) < 0.03 * f.image.shape[1]
            matched += bool((near & (b.detections.class_id[kb] == cls)).any())
        drivable.append((a.drivable == b.drivable).mean())
        lanes.append(((a.lane_mask > 0) == (b.lane_mask > 0)).mean())
    return (f"{'joint' if joint else 'pair'} on {len(frames)} real frames: boxes above 0.4 fp32 {n32}, INT8 {n8}; "
            f"{matched} of the fp32 ones matched; drivable pixels agree {np.mean(drivable):.2%}, lane pixels {np.mean(lanes):.2%}")


def main() -> None:
    fp32 = Perception.from_files(device="cpu", backend="onnxruntime")
    int8 = Perception.from_files(device="cpu", backend="onnxruntime-int8")
    rows = []
    for f in frames():
        a, b = panel(fp32, f, "fp32"), panel(int8, f, "int8")
        h = max(a.shape[0], b.shape[0])
        rows.append(np.hstack([cv2.copyMakeBorder(x, 0, h - x.shape[0], 0, 4, cv2.BORDER_CONSTANT) for x in (a, b)]))
    sheet = np.vstack(rows)
    out = ROOT / "docs" / "img" / "int8_vs_fp32.jpg"
    cv2.imwrite(str(out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
    print(f"wrote {out}")
    for joint in (None, str(ROOT / "perception" / "models" / "joint.pt")):
        print(agreement(joint))


if __name__ == "__main__":
    main()
