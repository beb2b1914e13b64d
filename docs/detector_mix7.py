"""The frame mix the shipped detector's last CPU fine-tune trained on (perception/models/detector_card.md).

    python docs/detector_mix7.py DATA_ROOT OUT_DIR    # DATA_ROOT holds the exports nav1 nav2 nav3 nav6 straight5

All train frames of nav6 (cyclist-rich navigation export) and straight5 (the straight worlds, so they are not
forgotten); from nav3, nav2 and nav1 up to 1,400 / 1,400 / 700 frames, those with a cyclist or a stop sign first,
the rest drawn at random (seed 7). Validation: the val splits of nav3 and straight5. Writes OUT_DIR/train.txt,
val.txt, data.yaml and a dataset.json that `drivestack train detector --data OUT_DIR/data.yaml` accepts.
"""

import glob
import json
import os
import random
import sys

import yaml

CYCLIST, STOP_SIGN = 8, 9


def frames(root: str, export: str, split: str = "train") -> list[tuple[str, list[int]]]:
    out = []
    for img in sorted(glob.glob(f"{root}/{export}/images/{split}/*.jpg")):
        label = img.replace("/images/", "/labels/").rsplit(".", 1)[0] + ".txt"
        classes = [int(line.split()[0]) for line in open(label)] if os.path.exists(label) else []
        out.append((img, classes))
    return out


def main(root: str, out: str) -> None:
    random.seed(7)
    pick = frames(root, "nav6") + frames(root, "straight5")
    for export, k in (("nav3", 1400), ("nav2", 1400), ("nav1", 700)):
        fr = frames(root, export)
        rare = [f for f in fr if CYCLIST in f[1] or STOP_SIGN in f[1]]
        other = [f for f in fr if not (CYCLIST in f[1] or STOP_SIGN in f[1])]
        take = rare[:k] if len(rare) >= k else rare + random.sample(other, k - len(rare))
        random.shuffle(take)
        pick += take[:k]
    os.makedirs(out, exist_ok=True)
    with open(f"{out}/train.txt", "w") as fh:
        fh.write("\n".join(p for p, _ in pick) + "\n")
    with open(f"{out}/val.txt", "w") as fh:
        fh.write("\n".join(p for e in ("nav3", "straight5") for p, _ in frames(root, e, "val")) + "\n")
    names = yaml.safe_load(open(f"{root}/nav3/data.yaml"))["names"]
    yaml.safe_dump({"path": "/", "train": f"{os.path.abspath(out)}/train.txt", "val": f"{os.path.abspath(out)}/val.txt",
                    "nc": len(names), "names": names}, open(f"{out}/data.yaml", "w"), sort_keys=False)
    manifest = json.load(open(f"{root}/nav3/dataset.json"))
    manifest.update(args={"note": "frame mix of nav6, straight5, nav3, nav2, nav1 (docs/detector_mix7.py)"}, counts={})
    json.dump(manifest, open(f"{out}/dataset.json", "w"), indent=1)
    print(f"{len(pick)} train frames -> {out}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
