"""Evaluate the perception stack on held-out simulator seeds against exact labels.

Reports per-class AP50 and AP50-95 (COCO-style, 101-point interpolated precision), drivable-area
IoU, lane-marking F1 (ego-left / ego-right / other, pixel level with a 1-pixel tolerance),
depth abs-rel by range, object distance and lateral place errors by range, lane offset / heading errors, and the
relevant traffic light (``light``: state accuracy and per-state recall on frames whose light's stop
line is within ``LIGHT_RANGE_M``, the "none" false-alarm rate on frames without one, and the
stop-line distance error by range); writes PR curves and example overlays as PNGs.

The networks are scored as AP needs them (the detector down to confidence 0.001, no tracking, one frame
at a time). The light as the drive reads it differs: ``light_as_driven`` also runs the pipeline in its
driving configuration (``Perception.from_files``: tracking, the detector's own threshold, the zoomed pass's
schedule) on every frame of the drive and scores its light on the same frames (``light_as_driven`` in the
report): the figure the light target is about.

Light frames: every scored frame, plus in the town (the only kind with lights)
``light_frames_per_seed`` more frames farther along the drive (the regular frames stop about 15 m
short of the first stop line), scored for the light only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from common.units import UnitsMap, in_order
from common.vocab import LIGHT_STATES

from .metrics import (IOU_MATCH, OBJECT_RANGES_M, ByRange, DetectionTally, FrameMatches, LaneF1, LightTally, MaskIoU,
                      TrueBoxes, distance_errors, iou_matrix, lateral_errors, match_greedy)
from .types import ROAD_USER_CLASSES, Frame, SignalPrior

DISPLAY_SCORE = 0.25  # the pipeline's usual detection threshold: operating point, box edges, road-user recall, overlays
ROAD_USERS = sorted(ROAD_USER_CLASSES)
PR_POINTS = 200  # points kept per class in pr_curves.json


@dataclass(frozen=True)
class EvalConfig:
    seeds: tuple[int, ...] = tuple(range(10_000, 10_010))  # held out: exports use seeds derived far from these
    kinds: tuple[str, ...] = ("town", "highway")  # each seed is run in every kind
    frames_per_seed: int = 10  # frames scored per seed and kind
    every_n_steps: int = 8  # control steps between scored frames
    randomize: bool = False  # evaluation look by default (the convention)
    route_length_m: float = 400.0
    examples: int = 4  # overlay PNGs written
    light_frames_per_seed: int = 12  # extra town frames per seed after the regular ones, scored for the light only
    light_every_n_steps: int = 16  # control steps between those frames
    # navigation worlds: perception is told where the map puts the next signal (``SignalPrior``), as the
    # drive loop tells it; False scores the map-less light selection there too
    map_prior: bool = True
    # also score the light as the drive reads it: the driving configuration on every frame (see the module)
    light_as_driven: bool = False


class _Scores:
    """Every figure of the report, accumulated frame by frame (definitions in ``perception.metrics``)."""

    def __init__(self) -> None:
        self.detections = DetectionTally()
        self.distance = ByRange(OBJECT_RANGES_M)  # matched detections: (predicted - true) / true distance
        self.lateral = ByRange(OBJECT_RANGES_M)  # matched road users: predicted - true lateral of the body's centre [m]
        self.edge_px: list[float] = []  # box edge displacement of matched detections scoring >= DISPLAY_SCORE [px]
        self.road_users = ByRange(OBJECT_RANGES_M)  # 1 / 0: a demanded vehicle or pedestrian found
        self.drivable = MaskIoU()
        self.lanes = LaneF1()
        self.depth = ByRange(OBJECT_RANGES_M)  # per pixel: |predicted - true| / true depth
        self.offset_err: list[float] = []  # lane offset [m]
        self.heading_err: list[float] = []  # heading error [rad]
        self.light = LightTally()
        self.light_as_driven = LightTally()  # the same frames' light from the driving configuration, when run

    def add(self, pf, gt) -> None:
        """A regular frame: everything but the light (``add_light``)."""
        d = pf.detections
        truth = TrueBoxes.from_labels(gt.objects)
        matches = self.detections.add(d.xyxy, d.score, d.class_id, truth)
        self.distance.add(*distance_errors(matches, truth, d.distance_m))
        self.lateral.add(*lateral_errors(matches, truth, d.position_m, ROAD_USERS))
        self._add_edge_errors(d, truth, matches)
        self._add_road_users(d, truth)
        if pf.drivable is not None:
            self.drivable.add(pf.drivable, gt.drivable)
            self.lanes.add(pf.lane_mask, gt.lanes)
            valid = gt.depth_m > 0
            t = gt.depth_m[valid]
            self.depth.add(t, np.abs(pf.depth_m[valid] - t) / t)
        if np.isfinite(pf.lane.offset_m):
            self.offset_err.append(abs(pf.lane.offset_m - gt.ego.lane_offset_m))
            self.heading_err.append(abs(pf.lane.heading_error_rad - gt.ego.heading_error_rad))

    def add_light(self, pf, gt, tally: LightTally | None = None) -> None:
        """Any frame: the relevant light (truth as the light head is trained, ``light_target``), into
        ``tally`` (default ``self.light``)."""
        from .hydranet import light_target

        t, d_true = light_target(gt.ego.light_state, gt.ego.light_stop_distance_m)
        p = LIGHT_STATES.index(pf.light_state) if pf.light_state in LIGHT_STATES else 0
        (self.light if tally is None else tally).add(t, d_true, p, float(pf.light_distance_m))

    def _add_edge_errors(self, d, truth: TrueBoxes, matches: FrameMatches) -> None:
        """Box-edge displacement of detections scoring at least DISPLAY_SCORE matched to a demanded object."""
        i = np.flatnonzero(matches.true_index >= 0)
        j = matches.true_index[i]
        ok = truth.demanded[j] & (d.score[i] >= DISPLAY_SCORE)
        self.edge_px.extend((d.xyxy[i[ok]] - truth.xyxy[j[ok]]).ravel().tolist())

    def _add_road_users(self, d, truth: TrueBoxes) -> None:
        """Class-agnostic: is a demanded vehicle or pedestrian found by any road-user detection scoring at
        least DISPLAY_SCORE (the greedy matcher at IOU_MATCH, every road-user class as one)."""
        users = truth.demanded & np.isin(truth.class_id, ROAD_USERS)
        if not users.any():
            return
        k = np.flatnonzero((d.score >= DISPLAY_SCORE) & np.isin(d.class_id, ROAD_USERS))
        k = k[np.argsort(-d.score[k], kind="stable")]
        match = match_greedy(iou_matrix(d.xyxy[k], truth.xyxy[users]), IOU_MATCH)
        found = np.zeros(int(users.sum()), bool)
        found[match[match >= 0]] = True
        self.road_users.add(truth.distance_m[users], found)

    def merge(self, other: "_Scores") -> None:
        """Append ``other``'s frames after this one's: every tally is integer counts (they add) and
        per-frame lists (they concatenate), so tallies of units merged in unit order equal one pass
        over every frame, to the bit."""
        _merge_into(self, other)

    def report(self) -> tuple[dict, dict]:
        """(the report's figures, PR curves per class)."""
        ap, curves = self.detections.average_precision()
        at_display = {name: {"precision": None if c.precision is None else round(c.precision, 4),
                             "recall": None if c.recall is None else round(c.recall, 4), "n_true": c.tp + c.fn}
                      for name, c in self.detections.counts(DISPLAY_SCORE).items()}
        iou = self.drivable.value()
        _, rel_err = self.distance.values()
        median = lambda v: round(float(np.median(v)), 4) if v else None  # noqa: E731
        return {
            "detection": {**ap, "at_score_0.25": at_display},
            "drivable_iou": None if iou is None else round(iou, 4),
            "lane_f1": {name: round(f1, 4) for name, f1 in self.lanes.f1().items()},
            "depth_abs_rel_median_by_range": self.depth.median_abs(4) if self.depth.values()[0].size else {},
            "distance_median_rel_error_by_range": self.distance.median_abs(4),
            # where a road user stands across the road, what the driver's corridor test reads; the tail is the
            # parked car beside the path read inside it (seen at an angle, its box's middle is not its body's)
            "lateral_median_abs_error_m_by_range": self.lateral.median_abs(3),
            "lateral_p90_abs_error_m_by_range": self.lateral.reduce(lambda v: np.percentile(np.abs(v), 90), 3),
            "box_edge_error_std_robust_px": round(float(1.4826 * np.median(np.abs(self.edge_px))), 3) if self.edge_px else None,
            # MAD-based std, for GroundTruthPerception's noise model
            "distance_rel_error_std_robust": round(float(1.4826 * np.median(np.abs(rel_err))), 4) if rel_err.size else None,
            # class-agnostic: is a vehicle or pedestrian found at all (any road-user class, IoU >= 0.5, score >= 0.25)
            "road_user_recall_by_range": self.road_users.mean(4),
            "road_user_counts_by_range": self.road_users.counts(),
            "lane_offset_median_abs_error_m": median(self.offset_err),
            "heading_median_abs_error_rad": median(self.heading_err),
        }, curves


def _merge_into(mine, theirs) -> None:
    """``mine`` += ``theirs`` field by field (``_Scores.merge``)."""
    for name, value in vars(theirs).items():
        current = getattr(mine, name)
        if isinstance(value, (int, np.integer, np.ndarray)) and not isinstance(value, bool):
            if isinstance(value, np.ndarray) and value.dtype.kind not in "iu":
                raise TypeError(f"{type(mine).__name__}.{name}: only integer counts add exactly")
            setattr(mine, name, current + value)
        elif isinstance(value, list):
            if value and all(isinstance(v, list) for v in value):  # one list per class
                for mine_part, their_part in zip(current, value, strict=True):
                    mine_part.extend(their_part)
            else:
                current.extend(value)
        elif hasattr(value, "__dict__"):
            _merge_into(current, value)
        elif value != current:  # settings such as range edges: equal in every unit
            raise TypeError(f"{type(mine).__name__}.{name}: {value!r} and {current!r} do not merge")


@dataclass(frozen=True)
class EvalModels:
    """The networks ``drivestack eval perception`` scores, as files: what a cluster worker loads."""

    detector: str  # detector weights
    hydranet: str  # multi-task weights
    device: str = "auto"
    joint: str | None = None  # a joint network's weights, scored in place of the two above
    # "auto": the pair's detector in PyTorch, the multi-task network (and a joint network) as
    # ``perception.model_files.load_networks`` picks; any other: every network in that runtime
    backend: str = "auto"

    def build(self):
        """The ``Perception`` that scores them: no tracking, and the detector at a near-zero confidence
        threshold (AP needs the whole score range)."""
        from .model_files import ONNX_BACKENDS, resolve_backend
        from .pipeline import Perception
        from .yolo import DetectorConfig, YoloDetector

        resolve_backend(self.backend, self.device)  # a bad name or device: ValueError before any loading
        if self.joint is not None:
            from .joint_runner import load_joint

            net = load_joint(self.joint, self.device, backend=self.backend, conf=0.001)
            return Perception(net, net, track=False)

        perception = Perception.from_files(None, self.hydranet, device=self.device, track=False, backend=self.backend)
        if self.backend in ONNX_BACKENDS:  # "auto" keeps the PyTorch detector the reports were always made with
            perception.detector = YoloDetector.load_onnxruntime(self.detector, cfg=DetectorConfig(device="cpu", conf=0.001),
                                                                int8=self.backend == "onnxruntime-int8")
        else:
            perception.detector = YoloDetector.load(self.detector, cfg=DetectorConfig(device=self.device, conf=0.001))
        return perception

    def build_driving(self):
        """The same networks as the drive loads them (``Perception.from_files``): tracking on, the
        detector's own confidence threshold, the runtime ``backend`` picks."""
        from .pipeline import Perception

        if self.joint is not None:
            return Perception.from_files(joint=self.joint, device=self.device, backend=self.backend)
        return Perception.from_files(self.detector, self.hydranet, device=self.device, backend=self.backend)


@dataclass(frozen=True)
class SeedUnit:
    """One seed of one kind: the unit ``evaluate`` splits its work into."""

    kind: str
    seed: int
    config: EvalConfig
    examples: int  # overlay PNGs wanted from this unit at most (0: none)


def evaluate(perception, config: EvalConfig = EvalConfig(), out_dir: str | Path | None = None, progress: bool = True,
             units_map: UnitsMap | None = None, models: EvalModels | None = None, driving=None) -> dict:
    """Score ``perception`` (a ``perception.pipeline.Perception``) on fresh simulator drives.

    ``driving`` (with ``config.light_as_driven``): the same networks in the driving configuration
    (``EvalModels.build_driving``), run on every frame for ``light_as_driven``.

    ``units_map`` (``common.units``; with ``models``, the files of ``perception``): score each seed of
    each kind as one unit there (a cluster's workers, each loading ``models`` once) and merge the
    tallies in unit order: the same report as here."""
    from tqdm import tqdm

    out = Path(out_dir) if out_dir else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    scores = _Scores()
    extra = {kind: config.light_frames_per_seed if kind == "town" else 0 for kind in config.kinds}
    total = sum(len(config.seeds) * (config.frames_per_seed + extra[kind]) for kind in config.kinds)
    bar = tqdm(total=total, unit="frame", disable=not progress, desc="eval perception")
    wanted = config.examples if out is not None else 0
    units = [SeedUnit(kind, seed, config, wanted) for kind in config.kinds for seed in config.seeds]
    pngs: list[bytes] = []
    if units_map is None:
        if config.light_as_driven and driving is None:
            raise ValueError("evaluate(config.light_as_driven) needs driving: the pipeline as the drive runs it")
        envs: dict[str, Any] = {}
        for unit in units:
            if unit.kind not in envs:
                envs[unit.kind] = _make_env(unit.kind, config)
            pngs += score_seed(perception, envs[unit.kind], replace(unit, examples=wanted - len(pngs)), scores, bar,
                               driving if config.light_as_driven else None)
        for env in envs.values():
            env.close()
    else:
        if models is None:
            raise ValueError("evaluate(units_map=...) needs models: the files each worker loads")
        frames = {kind: config.frames_per_seed + extra[kind] for kind in config.kinds}
        parts = in_order(units_map(score_seed_unit, [(models, unit) for unit in units]), len(units),
                         lambda part: bar.update(part[2]))
        for part, _, _ in parts:
            scores.merge(part)
        pngs = [png for _, unit_pngs, _ in parts for png in unit_pngs]
        assert sum(n for _, _, n in parts) == sum(frames[u.kind] for u in units)
    bar.close()
    if out is not None:
        for i, png in enumerate(pngs[:config.examples]):
            (out / f"example_{i}.png").write_bytes(png)
    figures, curves = scores.report()
    regular = len(config.seeds) * len(config.kinds) * config.frames_per_seed
    report = {
        "frames": regular, "light_only_frames": total - regular, "seeds": list(config.seeds), "kinds": list(config.kinds),
        "randomized": config.randomize, **figures,
        "light": {"source": perception.light.light_source, "map_prior": config.map_prior, **scores.light.report()},
    }
    if config.light_as_driven:  # every frame, tracking on, the detector's own threshold
        report["light_as_driven"] = {"map_prior": config.map_prior, **scores.light_as_driven.report()}
    if out is not None:
        (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        _plot_pr(curves, out / "pr_curves.png")
        (out / "pr_curves.json").write_text(json.dumps(pr_curves_json(curves)) + "\n")  # for the HTML report
    return report


def _make_env(kind: str, config: EvalConfig):
    import gymnasium as gym

    from sim import ENV_ID_OF_KIND

    return gym.make(ENV_ID_OF_KIND[kind], config={"scenario": {"route_length_m": config.route_length_m},
                                                  "randomization": {"enabled": config.randomize}})


def score_seed(perception, env, unit: SeedUnit, scores: _Scores, bar=None, driving=None) -> list[bytes]:
    """Drive ``unit``'s seed with the autopilot, scoring its frames into ``scores``; the overlay PNGs of
    its first ``unit.examples`` frames with at least 3 objects. ``driving``: a second pipeline that sees
    every frame of the drive, its light scored on the scored frames (``scores.light_as_driven``)."""
    from sim.autopilot import Autopilot

    config, kind, seed = unit.config, unit.kind, unit.seed
    prior = (lambda gt: SignalPrior.from_labels(gt.ego)) if config.map_prior else (lambda gt: None)  # noqa: E731
    extra = config.light_frames_per_seed if kind == "town" else 0
    pngs: list[bytes] = []
    obs, info = env.reset(seed=seed)
    pilot = Autopilot()
    perception.reset()
    if driving is not None:
        driving.reset()
    frames, step, light_frames, regular_end = 0, 0, 0, None
    while frames < config.frames_per_seed or light_frames < extra:
        gt = info["ground_truth"]
        frame = Frame(obs["image"], step * env.unwrapped.dt_s, step, f"sim:{kind}:{seed}")
        driven = None if driving is None else driving.process(frame, prior=prior(gt))
        scored = False
        if frames >= config.frames_per_seed:  # light-only frames, farther along the drive
            regular_end = step if regular_end is None else regular_end
            if (step - regular_end) % config.light_every_n_steps == 0:
                pf = perception.process(frame, prior=prior(gt))
                scores.add_light(pf, gt)
                scored = True
                light_frames += 1
                if bar is not None:
                    bar.update(1)
        elif step % config.every_n_steps == 0:
            pf = perception.process(frame, prior=prior(gt))
            scores.add(pf, gt)
            scores.add_light(pf, gt)
            scored = True
            if len(pngs) < unit.examples and len(gt.objects) >= 3:
                pngs.append(_example_png(obs["image"], pf, env.unwrapped.config.camera))
            frames += 1
            if bar is not None:
                bar.update(1)
        if scored and driven is not None:
            scores.add_light(driven, gt, scores.light_as_driven)
        obs, _, term, trunc, info = env.step(pilot.act(gt, float(obs["state"][0])))
        step += 1
        if term or trunc:
            obs, info = env.reset(seed=seed + 7919 * (step + 1))
            if driving is not None:  # a new drive: its tracks and carried light do not carry over
                driving.reset()
    return pngs


_UNIT_CACHE: dict = {}  # per process: models -> Perception, (kind, config) -> env


def score_seed_unit(task: tuple[EvalModels, SeedUnit]) -> tuple[_Scores, list[bytes], int]:
    """One unit in a worker: ``(its tallies, its overlay PNGs, frames scored)``; the networks and the
    env are built once per process."""
    models, unit = task
    if models not in _UNIT_CACHE:
        _UNIT_CACHE[models] = models.build()
    if unit.config.light_as_driven and (models, "driving") not in _UNIT_CACHE:
        _UNIT_CACHE[models, "driving"] = models.build_driving()
    env_key = (unit.kind, unit.config)
    if env_key not in _UNIT_CACHE:
        _UNIT_CACHE[env_key] = _make_env(unit.kind, unit.config)
    scores = _Scores()
    pngs = score_seed(_UNIT_CACHE[models], _UNIT_CACHE[env_key], unit, scores,
                      driving=_UNIT_CACHE[models, "driving"] if unit.config.light_as_driven else None)
    frames = unit.config.frames_per_seed + (unit.config.light_frames_per_seed if unit.kind == "town" else 0)
    return scores, pngs, frames


def pr_curves_json(curves: dict, points: int = PR_POINTS) -> dict:
    """PR curves as plain data, ``{class: {"recall": [...], "precision": [...]}}``, each thinned to at most
    ``points`` points evenly along the curve (the last kept) so the report stays small."""
    out = {}
    for name, (r, p) in curves.items():
        keep = np.unique(np.linspace(0, len(r) - 1, min(points, len(r))).round().astype(int)) if len(r) else []
        out[name] = {"recall": [round(float(r[k]), 4) for k in keep], "precision": [round(float(p[k]), 4) for k in keep]}
    return out


def _plot_pr(curves: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=110)
    for name, (r, p) in curves.items():
        ax.plot(r, p, label=name)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title("PR curves at IoU 0.5 (held-out sim seeds)")
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _example_png(image: np.ndarray, pf, camera_config) -> bytes:
    """The overlay of one frame (3x, the detections scoring at least DISPLAY_SCORE), PNG-encoded."""
    import dataclasses

    import cv2

    from .geometry import lead_vehicle

    dets = pf.detections.select(pf.detections.score >= DISPLAY_SCORE)
    lead, ttc = lead_vehicle(dets, pf.lane)
    pf = dataclasses.replace(pf, detections=dets, lead_index=lead, lead_ttc_s=ttc)

    from .geometry import CameraModel
    from .overlay import draw

    big = cv2.resize(image, None, fx=3, fy=3, interpolation=cv2.INTER_LINEAR)
    annotated = draw(big, pf, CameraModel.from_sim(camera_config).scaled(big.shape[1], big.shape[0]))
    ok, buf = cv2.imencode(".png", cv2.cvtColor(annotated, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("OpenCV could not encode an example overlay")
    return buf.tobytes()
