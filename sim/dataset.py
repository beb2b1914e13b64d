"""Export labelled camera frames as a dataset ultralytics trains on directly, plus dense labels.

Layout under ``out_dir`` (``<stem>`` = ``<scene>_f<frame>``, e.g. ``scene_00003_f0001``)::

    data.yaml                         ultralytics detection dataset (absolute ``path``); written last
    dataset.json                      manifest: format, arguments, class names, counts, "complete"
    images/{train,val,test}/<stem>.jpg
    labels/{split}/<stem>.txt         YOLO: ``class cx cy w h``, normalised to [0, 1]
    masks/{split}/<stem>_drivable.png 0 / 255
    masks/{split}/<stem>_lanes.png    0 none, 1 ego-left, 2 ego-right, 3 other marking
    depth/{split}/<stem>.png          uint16, metres * 256 (KITTI), 0 = no depth (sky)
    gt/{split}/<scene>.jsonl          one line per frame: stem, step, world seed, ground truth
    scenes/<scene>.json               completion marker of one scene (written after its files)

A scene is one seeded world driven by the autopilot; its split comes from a hash of its seed,
so no world ever spans two splits (frames of one drive are near-duplicates: a split by frame
would leak train frames into val). Every file is written under a temporary name and renamed,
a scene counts only once its marker exists, and the manifest says ``"complete": true`` and
``data.yaml`` is written only after the last scene (so an interrupted export holds no data.yaml
for a trainer to pick up): an interrupted export is resumed by running the same call again.

Usage::

    from sim.dataset import export_dataset
    summary = export_dataset("data/drive", scenes=200, frames_per_scene=40, seed=0)
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import cv2
import numpy as np

from common.config import ConfigError, from_dict, merge
from common.units import UnitsMap

from .autopilot import Autopilot
from .config import EnvConfig
from . import ENV_ID_OF_KIND, SUITE_ENV_ID
from .labels import CLASS_NAMES, GroundTruth
from .suite.catalog import scenario_def
from .suite.sampling import SUITE_KIND, sample_case

FORMAT_VERSION = 1
SPLITS = ("train", "val", "test")
SPLIT_PERCENT = (80, 10, 10)  # share of scenes per split [%], decided by the scene seed's hash
MIN_VISIBLE_PX = 10  # objects with fewer visible pixels get no YOLO box (not learnable)
MIN_BOX_HEIGHT_PX = 4  # nor do boxes lower than this
DEPTH_SCALE = 256.0  # KITTI depth PNG: uint16 = metres * 256, so the range is < 256 m
JPEG_QUALITY = 95
MAX_WORLDS_PER_SCENE = 20  # a scene whose drive keeps ending early gives up after this many worlds
MANIFEST = "dataset.json"
EXPORT_KINDS = (*ENV_ID_OF_KIND, SUITE_KIND)  # the random worlds' kinds, and the safety suite's scenarios


@dataclass(frozen=True)
class ExportArgs:
    """What defines a dataset: two exports with equal args hold the same frames (resume relies on it)."""

    scenes: int  # number of scenes (seeded worlds)
    frames_per_scene: int  # frames saved per scene
    seed: int  # master seed; scene i's seed derives from (seed, i)
    scenario_kinds: tuple[str, ...] = ("town", "highway")  # alternated scene by scene
    every_n_steps: int = 5  # save one frame every this many control steps
    randomize: bool = True  # visual randomisation (colours, light, fog, noise, camera jitter)
    overrides: dict | None = None  # EnvConfig fields as a nested dict (e.g. camera size, route length)
    weave_m: float = 0.6  # std of the driver's wandering lateral target [m]: frames off the lane centre teach lane offset
    # rare-class oversampling: while one of these classes has a learnable box, a frame is saved every
    # boost_every_n_steps steps instead of every_n_steps (stop signs and cyclists are in view for a
    # few seconds of a drive; sampled evenly, a detector sees too few of them to learn)
    boost_classes: tuple[str, ...] = ()
    boost_every_n_steps: int = 1
    # the safety suite's scenarios a "suite" scene plays (``sim.suite.sampling``: one drawn per world)
    suite_scenarios: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("scenes", "frames_per_scene", "every_n_steps", "boost_every_n_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}={value!r} is not allowed; use an integer >= 1")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed={self.seed!r} is not allowed; use an integer >= 0")
        if not self.scenario_kinds:
            raise ConfigError(f"scenario_kinds is empty; choose from {', '.join(ENV_ID_OF_KIND)}")
        for kind in self.scenario_kinds:
            if kind not in EXPORT_KINDS:
                raise ConfigError(f"scenario kind {kind!r} is not allowed; choose from {', '.join(EXPORT_KINDS)}")
        if (SUITE_KIND in self.scenario_kinds) != bool(self.suite_scenarios):
            raise ConfigError(f"scenario kind {SUITE_KIND!r} and suite_scenarios go together; "
                              f"got kinds {', '.join(self.scenario_kinds)} and suite_scenarios {list(self.suite_scenarios)}")
        for name in self.suite_scenarios:
            scenario_def(name)  # a ConfigError listing the scenarios
        for name in self.boost_classes:
            if name not in CLASS_NAMES:
                raise ConfigError(f"boost class {name!r} is not allowed; choose from {', '.join(CLASS_NAMES)}")
        if not 0.0 <= self.weave_m <= 2.0:
            raise ConfigError(f"weave_m={self.weave_m!r} is not allowed; use 0 to 2 metres")
        if self.overrides is not None and not isinstance(self.overrides, dict):
            raise ConfigError(f"overrides={self.overrides!r} is not allowed; use a nested dict of EnvConfig fields")
        if "kind" in ((self.overrides or {}).get("scenario") or {}):
            raise ConfigError("overrides scenario.kind is not allowed; pass scenario_kinds instead")

    def as_json(self) -> dict:
        return {"scenes": self.scenes, "frames_per_scene": self.frames_per_scene, "seed": self.seed,
                "scenario_kinds": list(self.scenario_kinds), "every_n_steps": self.every_n_steps,
                "randomize": self.randomize, "overrides": self.overrides or {}, "weave_m": self.weave_m,
                # only when set, so the manifests of exports made before the option still match theirs on resume
                **({"boost_classes": list(self.boost_classes), "boost_every_n_steps": self.boost_every_n_steps}
                   if self.boost_classes else {}),
                **({"suite_scenarios": list(self.suite_scenarios)} if self.suite_scenarios else {})}

    def env_config(self, kind: str) -> dict:
        """The env config of one scenario kind, as the nested dict ``gym.make(config=...)`` takes."""
        base = {"randomization": {"enabled": self.randomize}, "render_camera": True, "dense_labels": True}
        if kind == SUITE_KIND:  # a suite world sets its own road from the scenario's plan
            return merge(base, self.overrides or {})
        return merge(merge(base, self.overrides or {}), {"scenario": {"kind": kind}})

    def reset_options(self, kind: str, world_seed: int) -> dict | None:
        """What ``env.reset`` is given for one world of a scene of ``kind``: a suite scene's drawn case."""
        return sample_case(self.suite_scenarios, world_seed) if kind == SUITE_KIND else None


# --- scene plan ----------------------------------------------------------------------------------
def scene_seed(seed: int, index: int, world: int = 0) -> int:
    """Seed of scene ``index`` (and of its ``world``-th retry), independent of the scene count."""
    return int(np.random.SeedSequence([seed, index, world]).generate_state(1)[0] & 0x7FFFFFFF)


def split_of(seed: int) -> str:
    """Split of a scene from a hash of its seed: stable, and the same whatever else is exported."""
    bucket = int.from_bytes(hashlib.sha256(f"drivestack-scene-{seed}".encode()).digest()[:8], "little") % 100
    edge = 0
    for split, percent in zip(SPLITS, SPLIT_PERCENT):
        edge += percent
        if bucket < edge:
            return split
    return SPLITS[-1]


def scene_name(index: int) -> str:
    return f"scene_{index:05d}"


# --- label encoding ------------------------------------------------------------------------------
def yolo_lines(gt: GroundTruth, width_px: int, height_px: int) -> list[str]:
    """YOLO detection lines ``class cx cy w h`` (normalised) for the learnable objects of a frame."""
    lines = []
    for ob in gt.objects:
        if ob.box_xyxy is None or ob.visible_px < MIN_VISIBLE_PX:
            continue
        x0, y0, x1, y1 = ob.box_xyxy  # x1, y1 exclusive: width = x1 - x0
        if y1 - y0 < MIN_BOX_HEIGHT_PX or x1 <= x0:
            continue
        cx, cy = (x0 + x1) / 2 / width_px, (y0 + y1) / 2 / height_px
        lines.append(f"{ob.class_id} {cx:.6f} {cy:.6f} {(x1 - x0) / width_px:.6f} {(y1 - y0) / height_px:.6f}")
    return lines


def depth_png(depth_m: np.ndarray) -> np.ndarray:
    """KITTI-style uint16 depth: metres * 256, 0 where there is no depth; far values saturate."""
    scaled = np.rint(np.clip(depth_m, 0.0, 65535 / DEPTH_SCALE) * DEPTH_SCALE)
    return scaled.astype(np.uint16)


# --- file helpers --------------------------------------------------------------------------------
def _write_bytes(path: Path, data: bytes) -> None:
    """Write then rename, so a file with its final name is always whole."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _write_image(path: Path, image: np.ndarray, params: Iterable[int] = ()) -> None:
    ok, buf = cv2.imencode(path.suffix, image, list(params))
    if not ok:
        raise RuntimeError(f"OpenCV could not encode {path}")
    _write_bytes(path, buf.tobytes())


def _write_json(path: Path, data: Any) -> None:
    _write_bytes(path, (json.dumps(data, indent=2) + "\n").encode())


def _prepare_folder(out: Path, args: ExportArgs) -> None:
    """Refuse a folder that holds something else, or that cannot be written; write nothing then."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"dataset folder {str(out)!r} is a file, not a folder")
    manifest = out / MANIFEST
    if manifest.is_file():
        try:
            old = json.loads(manifest.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"dataset folder {str(out)!r} has an unreadable {MANIFEST}: {exc}") from exc
        if old.get("format_version") != FORMAT_VERSION:
            raise ConfigError(f"dataset folder {str(out)!r} holds dataset format {old.get('format_version')!r}, "
                              f"this exporter writes {FORMAT_VERSION}; use another folder")
        mine, theirs = args.as_json(), old.get("args", {})
        diff = [f"{k}={theirs.get(k)!r} there, {mine[k]!r} asked" for k in mine if theirs.get(k) != mine[k]]
        if diff:
            raise ConfigError(f"dataset folder {str(out)!r} holds a different dataset ({'; '.join(diff)}); "
                              "use another folder or the same arguments to resume")
    elif out.is_dir() and any(out.iterdir()):
        found = sorted(p.name for p in out.iterdir())[:3]
        raise ConfigError(f"dataset folder {str(out)!r} is not empty and holds no {MANIFEST} "
                          f"(found {', '.join(found)}); use an empty or new folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write_probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"dataset folder {str(out)!r} is not writable: {exc.strerror or exc}") from exc


def _clear_scene(out: Path, split: str, name: str) -> None:
    """Remove what an interrupted run left of one scene (its marker is missing, so none of it counts)."""
    for folder in ("images", "labels", "masks", "depth", "gt"):
        for path in (out / folder / split).glob(f"{name}[_.]*"):
            path.unlink()


# --- export --------------------------------------------------------------------------------------
def export_dataset(out_dir: str | os.PathLike, scenes: int, frames_per_scene: int, seed: int,
                   scenario_kinds: Iterable[str] = ("town", "highway"), every_n_steps: int = 5,
                   randomize: bool = True, overrides: dict | None = None, progress: bool = True,
                   weave_m: float = 0.6, boost_classes: Iterable[str] = (), boost_every_n_steps: int = 1,
                   units_map: UnitsMap | None = None, suite_scenarios: Iterable[str] = ()) -> dict:
    """Export (or finish exporting) a dataset; returns the summary also stored in ``dataset.json``.

    ``units_map`` (``common.units``): export the missing scenes, one unit each, through it (another
    process, a cluster's workers writing to ``out_dir`` on a shared filesystem) instead of here; the
    scenes' files are the same bytes whichever process wrote them.

    Raises ``ConfigError`` for bad arguments, a folder holding another dataset or unrelated
    files, or an unwritable folder; nothing is written in those cases.
    """
    args = ExportArgs(scenes, frames_per_scene, seed, tuple(scenario_kinds), every_n_steps, randomize,
                      dict(overrides) if overrides else None, weave_m, tuple(boost_classes), boost_every_n_steps,
                      tuple(suite_scenarios))
    configs = {kind: from_dict(EnvConfig, args.env_config(kind), "config") for kind in set(args.scenario_kinds)}
    out = Path(out_dir).expanduser().absolute()
    _prepare_folder(out, args)

    cam = next(iter(configs.values())).camera
    manifest = {"format_version": FORMAT_VERSION, "complete": False, "args": args.as_json(),
                "class_names": list(CLASS_NAMES), "image_size_px": [cam.width_px, cam.height_px]}
    _write_json(out / MANIFEST, manifest)  # first, so a resumed run recognises the folder as its own
    for folder in ("images", "labels", "masks", "depth", "gt"):
        for split in SPLITS:  # every split folder exists, even empty, so data.yaml always resolves
            (out / folder / split).mkdir(parents=True, exist_ok=True)
    (out / "scenes").mkdir(exist_ok=True)
    # data.yaml is what training tools pick up, so it exists only beside a complete export: gone while
    # this (resumed) export runs, written last
    (out / "data.yaml").unlink(missing_ok=True)

    plan = [(i, scene_name(i), scene_seed(seed, i), args.scenario_kinds[i % len(args.scenario_kinds)])
            for i in range(scenes)]
    todo = [p for p in plan if not (out / "scenes" / f"{p[1]}.json").is_file()]
    bar = _progress_bar(total=scenes * frames_per_scene, initial=(scenes - len(todo)) * frames_per_scene,
                        enabled=progress)
    try:
        if units_map is None:
            envs: dict[str, Any] = {}
            try:
                for index, name, s_seed, kind in todo:
                    if kind not in envs:
                        envs[kind] = _make_env(kind, configs[kind])
                    _write_scene(envs[kind], out, index, name, s_seed, kind, args, bar)
            finally:
                for env in envs.values():
                    env.close()
        else:  # each scene a unit wherever the map runs it; the bar counts finished scenes' frames
            units = [SceneUnit(str(out), args, configs[kind], index, name, s_seed, kind) for index, name, s_seed, kind in todo]
            for _ in units_map(export_scene_unit, units):
                bar.update(frames_per_scene)
    finally:
        bar.close()

    records = [json.loads((out / "scenes" / f"{p[1]}.json").read_text()) for p in plan]
    counts = {s: {"scenes": 0, "frames": 0, "boxes": 0} for s in SPLITS}
    for r in records:
        c = counts[r["split"]]
        c["scenes"] += 1
        c["frames"] += r["frames"]
        c["boxes"] += r["boxes"]
    warnings = [f"split {s!r} has no scenes; export more scenes" for s in SPLITS if not counts[s]["scenes"]]
    manifest.update(complete=True, counts=counts, warnings=warnings,
                    drivers=sorted({r["driver"] for r in records}))
    _write_json(out / MANIFEST, manifest)  # "complete" only once every scene is on disk
    _write_data_yaml(out)  # last: a folder with a data.yaml is a finished dataset
    return {"out_dir": str(out), **manifest}


@dataclass(frozen=True)
class SceneUnit:
    """One scene to export, as a unit of work for any process that sees ``out_dir``."""

    out_dir: str  # absolute dataset folder
    args: ExportArgs
    config: EnvConfig  # the scene's kind's env config
    index: int
    name: str
    seed: int  # the scene's seed (``scene_seed(args.seed, index)``)
    kind: str  # its scenario kind (one of ``EXPORT_KINDS``)


_UNIT_ENVS: dict[str, Any] = {}  # per process: env config (repr) -> env, reused by the units it runs


def export_scene_unit(unit: SceneUnit) -> dict:
    """Export one scene (its files, then its marker) in this process; its record."""
    key = repr((unit.kind, unit.config))
    if key not in _UNIT_ENVS:
        _UNIT_ENVS[key] = _make_env(unit.kind, unit.config)
    return _write_scene(_UNIT_ENVS[key], Path(unit.out_dir), unit.index, unit.name, unit.seed, unit.kind, unit.args,
                        _NoBar())


def _make_env(kind: str, config: EnvConfig):
    import gymnasium as gym

    import sim  # noqa: F401  (registers the env ids)

    return gym.make(SUITE_ENV_ID if kind == SUITE_KIND else ENV_ID_OF_KIND[kind], config=config).unwrapped


def _write_scene(env, out: Path, index: int, name: str, s_seed: int, kind: str, args: ExportArgs, bar) -> dict:
    """Clear what an interrupted run left of the scene, drive and write it, then its completion marker."""
    split = split_of(s_seed)
    _clear_scene(out, split, name)
    record = _export_scene(env, Autopilot().act, out, split, name, index, s_seed, kind, args, bar)
    record["driver"] = "autopilot"
    _write_json(out / "scenes" / f"{name}.json", record)
    return record


def _export_scene(env, driver, out: Path, split: str, name: str, index: int, s_seed: int, kind: str,
                  args: ExportArgs, bar) -> dict:
    """Drive one scene and write its frames; a drive that ends early continues in a fresh world."""
    lines, boxes, frame, world, cases = [], 0, 0, 0, []
    while frame < args.frames_per_scene:
        if world >= MAX_WORLDS_PER_SCENE:
            raise RuntimeError(f"{name}: the driver ended {world} drives before {args.frames_per_scene} frames; "
                               "check the driver or lower every_n_steps")
        w_seed = s_seed if world == 0 else scene_seed(args.seed, index, world)
        options = args.reset_options(kind, w_seed)
        obs, info = env.reset(seed=w_seed, options=options)
        cases.append(options)
        step, done = 0, False
        weave = _Weave(args.weave_m, env.dt_s, w_seed)
        while frame < args.frames_per_scene and not done:
            if _saves(step, info["ground_truth"], obs["image"].shape, args):
                stem = f"{name}_f{frame:04d}"
                boxes += _write_frame(out, split, stem, obs["image"], info["ground_truth"])
                lines.append(json.dumps({"stem": stem, "step": step, "world_seed": w_seed,
                                         "ground_truth": info["ground_truth"].to_json()}))
                frame += 1
                bar.update(1)
            if frame < args.frames_per_scene:
                gt = info["ground_truth"]
                action = driver(gt, float(obs["state"][0]), weave.next(gt.ego.lane_width_m))
                obs, _, terminated, truncated, info = env.step(action)
                step += 1
                done = terminated or truncated
        world += 1
    _write_bytes(out / "gt" / split / f"{name}.jsonl", ("\n".join(lines) + "\n").encode())
    return {"scene": name, "index": index, "seed": s_seed, "kind": kind, "split": split,
            "frames": frame, "boxes": boxes, "worlds": world,
            **({"cases": cases} if kind == SUITE_KIND else {})}


def _saves(step: int, gt: GroundTruth, image_shape: tuple[int, ...], args: ExportArgs) -> bool:
    """Whether this step's frame is saved: every ``every_n_steps``, more often while a boosted class is boxed."""
    if step % args.every_n_steps == 0:
        return True
    if not args.boost_classes or step % args.boost_every_n_steps:
        return False
    boosted = {CLASS_NAMES.index(name) for name in args.boost_classes}
    return any(int(line.split()[0]) in boosted for line in yolo_lines(gt, image_shape[1], image_shape[0]))


class _Weave:
    """A slowly wandering lateral target (Ornstein-Uhlenbeck, 3 s time constant), so exported
    frames show the ego off its lane centre and at small heading errors, not only centred."""

    TAU_S = 3.0

    def __init__(self, std_m: float, dt_s: float, seed: int):
        self.std = std_m
        self.keep = float(np.exp(-dt_s / self.TAU_S))
        self.rng = np.random.default_rng([seed, 0x3EA7E])
        self.value = 0.0

    def next(self, lane_width_m: float) -> float:
        if self.std <= 0:
            return 0.0
        noise = self.rng.normal(0.0, self.std * np.sqrt(1 - self.keep**2))
        limit = max(lane_width_m / 2 - 1.0, 0.0)  # keep the wheels inside the lane
        self.value = float(np.clip(self.keep * self.value + noise, -limit, limit))
        return self.value


def _write_frame(out: Path, split: str, stem: str, rgb: np.ndarray, gt: GroundTruth) -> int:
    h, w = rgb.shape[:2]
    lines = yolo_lines(gt, w, h)
    # full-resolution chroma (4:4:4): with the default 4:2:0 a traffic light's 1-2 px lit lamp loses its colour
    _write_image(out / "images" / split / f"{stem}.jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                 (cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444))
    _write_bytes(out / "labels" / split / f"{stem}.txt", "".join(line + "\n" for line in lines).encode())
    _write_image(out / "masks" / split / f"{stem}_drivable.png", gt.drivable.astype(np.uint8) * 255)
    _write_image(out / "masks" / split / f"{stem}_lanes.png", gt.lanes.astype(np.uint8))
    _write_image(out / "depth" / split / f"{stem}.png", depth_png(gt.depth_m))
    return len(lines)


def _write_data_yaml(out: Path) -> None:
    # ultralytics resolves a relative ``path`` against the working directory or its datasets
    # folder, not the yaml's: write the absolute path (re-export or edit it after a move)
    import yaml

    data = {"path": str(out), "train": "images/train", "val": "images/val", "test": "images/test",
            "nc": len(CLASS_NAMES), "names": dict(enumerate(CLASS_NAMES))}
    _write_bytes(out / "data.yaml", yaml.safe_dump(data, sort_keys=False).encode())


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int, initial: int, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="frame", desc="export", dynamic_ncols=True)

