"""Evaluate the perception stack on held-out simulator seeds against exact labels.

Reports per-class AP50 and AP50-95 (COCO-style, 101-point interpolated precision), drivable-area
IoU, lane-marking F1 (ego-left / ego-right / other, pixel level with a 1-pixel tolerance),
depth abs-rel by range, object distance error by range, lane offset / heading errors, and the
relevant traffic light (``light``: state accuracy and per-state recall on frames whose light's stop
line is within ``LIGHT_RANGE_M``, the "none" false-alarm rate on frames without one, and the
stop-line distance error by range); writes PR curves and example overlays as PNGs.

Light frames: every scored frame, plus in the town (the only kind with lights)
``light_frames_per_seed`` more frames farther along the drive (the regular frames stop about 15 m
short of the first stop line), scored for the light only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .scoring import MIN_GT_PX, iou_matrix
from .types import CLASS_NAMES, PEDESTRIAN_CLASS, VEHICLE_CLASSES, Frame

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RANGES_M = ((0.0, 20.0), (20.0, 40.0), (40.0, 80.0))
LIGHT_DIST_RANGES_M = ((-3.0, 15.0), (15.0, 30.0), (30.0, 50.0))  # stop-line distance bins [m]


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


class _LightTally:
    """Relevant-light results: a confusion matrix over ``LIGHT_STATES`` (truth "none" beyond
    ``LIGHT_RANGE_M`` or passed, as the light head is trained) and distance errors where both the
    truth and the prediction have a light."""

    def __init__(self) -> None:
        from .hydranet import LIGHT_STATES

        self.states = LIGHT_STATES
        self.conf = np.zeros((len(LIGHT_STATES), len(LIGHT_STATES)), np.int64)  # [true, predicted]
        self.dist: list[tuple[float, float]] = []  # (true, predicted) stop-line distance [m]
        self.hits: list[tuple[float, bool]] = []  # per frame with a light: (true distance [m], state right)

    def add(self, pf, gt) -> None:
        from .hydranet import light_target

        t, d_true = light_target(gt.ego.light_state, gt.ego.light_stop_distance_m)
        p = self.states.index(pf.light_state) if pf.light_state in self.states else 0
        self.conf[t, p] += 1
        if t:
            self.hits.append((d_true, t == p))
        if t and p and np.isfinite(pf.light_distance_m):
            self.dist.append((d_true, float(pf.light_distance_m)))

    def report(self) -> dict:
        conf, names = self.conf, self.states
        lit = conf[1:].sum()
        out = {"frames_with_light": int(lit), "frames_without": int(conf[0].sum()),
               "state_accuracy": round(float(np.trace(conf[1:, 1:]) / lit), 4) if lit else None,
               "recall": {n: (round(float(conf[c, c] / conf[c].sum()), 4) if conf[c].sum() else None)
                          for c, n in enumerate(names) if c},
               "precision": {n: (round(float(conf[c, c] / conf[:, c].sum()), 4) if conf[:, c].sum() else None)
                             for c, n in enumerate(names) if c},
               "missed_as_none": round(float(conf[1:, 0].sum() / lit), 4) if lit else None,
               "none_false_alarm_rate": round(float(conf[0, 1:].sum() / conf[0].sum()), 4) if conf[0].sum() else None,
               "confusion_true_by_predicted": {n: conf[c].tolist() for c, n in enumerate(names)}}
        h = np.array(self.hits, np.float64).reshape(-1, 2)
        out["state_accuracy_by_range"] = {
            f"{lo:g}-{hi:g}m": (round(float(h[m, 1].mean()), 4) if m.any() else None)
            for lo, hi in LIGHT_DIST_RANGES_M for m in [(h[:, 0] >= lo) & (h[:, 0] < hi)]}
        a = np.array(self.dist, np.float64).reshape(-1, 2)
        err = np.abs(a[:, 1] - a[:, 0])
        out["distance_median_abs_error_m_by_range"] = {
            f"{lo:g}-{hi:g}m": (round(float(np.median(err[m])), 2) if m.any() else None)
            for lo, hi in LIGHT_DIST_RANGES_M for m in [(a[:, 0] >= lo) & (a[:, 0] < hi)]}
        out["distance_counts_by_range"] = {f"{lo:g}-{hi:g}m": int(((a[:, 0] >= lo) & (a[:, 0] < hi)).sum())
                                           for lo, hi in LIGHT_DIST_RANGES_M}
        return out


@dataclass
class _DetRecords:
    """Per class: detection scores with their match flags at each IoU threshold, and GT counts."""

    scores: dict[int, list[float]] = field(default_factory=lambda: {c: [] for c in range(len(CLASS_NAMES))})
    matched: dict[int, list[np.ndarray]] = field(default_factory=lambda: {c: [] for c in range(len(CLASS_NAMES))})
    n_gt: dict[int, int] = field(default_factory=lambda: {c: 0 for c in range(len(CLASS_NAMES))})

    def add(self, xyxy: np.ndarray, score: np.ndarray, cls: np.ndarray, gt_objects: list) -> None:
        for c in range(len(CLASS_NAMES)):
            g = [o for o in gt_objects if o.class_id == c and o.box_xyxy is not None]
            demand = np.array([o.visible_px >= MIN_GT_PX for o in g], bool)
            g_boxes = np.array([o.box_xyxy for o in g], np.float64).reshape(-1, 4)
            self.n_gt[c] += int(demand.sum())
            d = np.flatnonzero(cls == c)
            if d.size == 0:
                continue
            d = d[np.argsort(-score[d])]
            iou = iou_matrix(xyxy[d], g_boxes) if len(g) else np.zeros((len(d), 0))
            flags = np.zeros((len(d), len(IOU_THRESHOLDS)), bool)
            keep = np.ones(len(d), bool)
            for t, thr in enumerate(IOU_THRESHOLDS):
                used = np.zeros(len(g), bool)
                for i in range(len(d)):  # greedy by score, COCO style
                    if iou.shape[1] == 0:
                        break
                    cand = np.where(used, -1.0, iou[i])
                    j = int(np.argmax(cand))
                    if cand[j] >= thr:
                        used[j] = True
                        flags[i, t] = True
                        if t == 0 and not demand[j]:
                            keep[i] = False  # matched a too-small object: neither true nor false
            self.scores[c] += score[d][keep].tolist()
            self.matched[c].append(flags[keep])

    def operating_point(self, min_score: float) -> dict:
        """Precision and recall per class at IoU 0.5 for detections scoring at least ``min_score``."""
        out = {}
        for c, name in enumerate(CLASS_NAMES):
            scores = np.array(self.scores[c])
            flags = np.concatenate(self.matched[c])[:, 0] if self.matched[c] else np.zeros(0, bool)
            kept = scores >= min_score
            tp = int(flags[kept].sum())
            out[name] = {"precision": round(tp / kept.sum(), 4) if kept.any() else None,
                         "recall": round(tp / self.n_gt[c], 4) if self.n_gt[c] else None, "n_true": self.n_gt[c]}
        return out

    def average_precision(self) -> tuple[dict, dict]:
        ap50, ap5095, curves = {}, {}, {}
        for c, name in enumerate(CLASS_NAMES):
            if self.n_gt[c] == 0:
                ap50[name] = ap5095[name] = None
                continue
            scores = np.array(self.scores[c])
            flags = np.concatenate(self.matched[c]) if self.matched[c] else np.zeros((0, len(IOU_THRESHOLDS)), bool)
            order = np.argsort(-scores, kind="stable")
            flags = flags[order]
            aps = []
            for t in range(len(IOU_THRESHOLDS)):
                tp = np.cumsum(flags[:, t])
                fp = np.cumsum(~flags[:, t])
                recall = tp / self.n_gt[c]
                precision = tp / np.maximum(tp + fp, 1)
                aps.append(_ap(recall, precision))
                if t == 0:
                    curves[name] = (recall, precision)
            ap50[name] = round(float(aps[0]), 4)
            ap5095[name] = round(float(np.mean(aps)), 4)
        return {"ap50": ap50, "ap50_95": ap5095}, curves


def _ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """COCO 101-point interpolated average precision."""
    if recall.size == 0:
        return 0.0
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.flip(np.maximum.accumulate(np.flip(mpre)))
    x = np.linspace(0, 1, 101)
    idx = np.searchsorted(mrec, x, side="left")
    return float(np.mean(np.where(idx < len(mpre), mpre[np.minimum(idx, len(mpre) - 1)], 0.0)))


def _dilate(mask: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)


def evaluate(perception, config: EvalConfig = EvalConfig(), out_dir: str | Path | None = None, progress: bool = True) -> dict:
    """Score ``perception`` (a ``perception.pipeline.Perception``) on fresh simulator drives."""
    import gymnasium as gym
    from tqdm import tqdm

    import sim  # noqa: F401
    from sim.autopilot import Autopilot

    out = Path(out_dir) if out_dir else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    records = _DetRecords()
    inter = union = 0
    lane_tp = {1: 0, 2: 0, 3: 0}
    lane_pred = {1: 0, 2: 0, 3: 0}
    lane_true = {1: 0, 2: 0, 3: 0}
    depth_err: list[tuple[np.ndarray, np.ndarray]] = []
    dist_err: list[tuple[float, float]] = []
    edge_err: list[float] = []  # box edge displacement of matched detections [px]
    offset_err, heading_err = [], []
    found_by_range = np.zeros((len(RANGES_M), 2), np.int64)  # road users: [found, visible] per range
    lights = _LightTally()
    examples = 0
    extra = {kind: config.light_frames_per_seed if kind == "town" else 0 for kind in config.kinds}
    total = sum(len(config.seeds) * (config.frames_per_seed + extra[kind]) for kind in config.kinds)
    bar = tqdm(total=total, unit="frame", disable=not progress, desc="eval perception")
    for kind in config.kinds:
        env = gym.make(f"drivestack/{kind.capitalize()}-v0",
                       config={"scenario": {"route_length_m": config.route_length_m},
                               "randomization": {"enabled": config.randomize}})
        for seed in config.seeds:
            obs, info = env.reset(seed=seed)
            pilot = Autopilot()
            perception.reset()
            frames, step, light_frames, regular_end = 0, 0, 0, None
            while frames < config.frames_per_seed or light_frames < extra[kind]:
                gt = info["ground_truth"]
                if frames >= config.frames_per_seed:  # light-only frames, farther along the drive
                    regular_end = step if regular_end is None else regular_end
                    if (step - regular_end) % config.light_every_n_steps == 0:
                        pf = perception.process(Frame(obs["image"], step * env.unwrapped.dt_s, step, f"sim:{kind}:{seed}"))
                        lights.add(pf, gt)
                        light_frames += 1
                        bar.update(1)
                elif step % config.every_n_steps == 0:
                    pf = perception.process(Frame(obs["image"], step * env.unwrapped.dt_s, step, f"sim:{kind}:{seed}"))
                    _score_frame(pf, gt, records, dist_err, edge_err)
                    _tally_recall(pf, gt, found_by_range)
                    lights.add(pf, gt)
                    if pf.drivable is not None:
                        p, t = pf.drivable, gt.drivable
                        inter += int((p & t).sum())
                        union += int((p | t).sum())
                        for code in (1, 2, 3):
                            pm, tm = pf.lane_mask == code, gt.lanes == code
                            lane_tp[code] += int((pm & _dilate(tm)).sum())
                            lane_pred[code] += int(pm.sum())
                            lane_true[code] += int(tm.sum())
                        valid = gt.depth_m > 0
                        depth_err.append((gt.depth_m[valid], pf.depth_m[valid]))
                    if np.isfinite(pf.lane.offset_m):
                        offset_err.append(abs(pf.lane.offset_m - gt.ego.lane_offset_m))
                        heading_err.append(abs(pf.lane.heading_error_rad - gt.ego.heading_error_rad))
                    if out is not None and examples < config.examples and len(gt.objects) >= 3:
                        _save_example(out / f"example_{examples}.png", obs["image"], pf, env.unwrapped.config.camera)
                        examples += 1
                    frames += 1
                    bar.update(1)
                obs, _, term, trunc, info = env.step(pilot.act(gt, float(obs["state"][0])))
                step += 1
                if term or trunc:
                    obs, info = env.reset(seed=seed + 7919 * (step + 1))
        env.close()
    bar.close()
    ap, curves = records.average_precision()
    lane_f1 = {}
    for code, name in ((1, "ego_left"), (2, "ego_right"), (3, "other")):
        prec = lane_tp[code] / max(lane_pred[code], 1)
        rec = min(lane_tp[code] / max(lane_true[code], 1), 1.0)
        lane_f1[name] = round(2 * prec * rec / max(prec + rec, 1e-9), 4)
    report = {
        "frames": len(config.seeds) * len(config.kinds) * config.frames_per_seed,
        "light_only_frames": total - len(config.seeds) * len(config.kinds) * config.frames_per_seed, "seeds": list(config.seeds), "kinds": list(config.kinds), "randomized": config.randomize,
        "detection": {**ap, "at_score_0.25": records.operating_point(DISPLAY_SCORE)},
        "drivable_iou": round(inter / union, 4) if union else None,
        "lane_f1": lane_f1,
        "depth_abs_rel_median_by_range": _depth_by_range(depth_err),
        "distance_median_rel_error_by_range": _dist_by_range(dist_err),
        "box_edge_error_std_robust_px": round(float(1.4826 * np.median(np.abs(edge_err))), 3) if edge_err else None,
        "distance_rel_error_std_robust": round(float(1.4826 * np.median(np.abs(np.array(dist_err).reshape(-1, 2)[:, 1]))), 4)
        if dist_err else None,  # MAD-based std, for GroundTruthPerception's noise model
        # class-agnostic: is a vehicle or pedestrian found at all (any road-user class, IoU >= 0.5, score >= 0.25)
        "road_user_recall_by_range": {f"{lo:.0f}-{hi:.0f}m": (round(float(f / t), 4) if t else None)
                                      for (lo, hi), (f, t) in zip(RANGES_M, found_by_range)},
        "road_user_counts_by_range": {f"{lo:.0f}-{hi:.0f}m": int(t) for (lo, hi), (_, t) in zip(RANGES_M, found_by_range)},
        "lane_offset_median_abs_error_m": round(float(np.median(offset_err)), 4) if offset_err else None,
        "heading_median_abs_error_rad": round(float(np.median(heading_err)), 4) if heading_err else None,
        "light": {"source": getattr(perception, "light_source", None), **lights.report()},
    }
    if out is not None:
        (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        _plot_pr(curves, out / "pr_curves.png")
    return report


def _tally_recall(pf, gt, found_by_range: np.ndarray) -> None:
    """Per distance range: visible vehicles and pedestrians, and how many any road-user detection found."""
    users = [o for o in gt.objects if o.box_xyxy is not None and o.visible_px >= MIN_GT_PX
             and (o.class_id in VEHICLE_CLASSES or o.class_id == PEDESTRIAN_CLASS)]
    if not users:
        return
    d = pf.detections
    keep = (d.score >= DISPLAY_SCORE) & np.isin(d.class_id, list(VEHICLE_CLASSES) + [PEDESTRIAN_CLASS])
    boxes = np.array([o.box_xyxy for o in users], np.float64)
    hit = (iou_matrix(d.xyxy[keep], boxes).max(axis=0) >= 0.5) if keep.any() else np.zeros(len(users), bool)
    for o, h in zip(users, hit):
        for r, (lo, hi) in enumerate(RANGES_M):
            if lo <= o.distance_m < hi:
                found_by_range[r] += (int(h), 1)


def _score_frame(pf, gt, records: _DetRecords, dist_err: list, edge_err: list) -> None:
    d = pf.detections
    records.add(d.xyxy, d.score, d.class_id, gt.objects)
    big = [o for o in gt.objects if o.box_xyxy is not None and o.visible_px >= MIN_GT_PX]
    if len(d) and big:
        iou = iou_matrix(d.xyxy, np.array([o.box_xyxy for o in big], np.float64))
        for i in range(len(d)):
            j = int(np.argmax(iou[i]))
            if iou[i, j] >= 0.5 and big[j].class_id == d.class_id[i] and d.score[i] >= DISPLAY_SCORE:
                edge_err.extend((d.xyxy[i] - np.array(big[j].box_xyxy, np.float64)).tolist())
            if iou[i, j] >= 0.5 and big[j].class_id == d.class_id[i] and np.isfinite(d.distance_m[i]):
                dist_err.append((big[j].distance_m, (float(d.distance_m[i]) - big[j].distance_m) / big[j].distance_m))


def _depth_by_range(pairs) -> dict:
    if not pairs:
        return {}
    t = np.concatenate([p[0] for p in pairs])
    p = np.concatenate([p[1] for p in pairs])
    out = {}
    for lo, hi in RANGES_M:
        m = (t >= lo) & (t < hi)
        out[f"{lo:g}-{hi:g}m"] = round(float(np.median(np.abs(p[m] - t[m]) / t[m])), 4) if m.any() else None
    return out


def _dist_by_range(pairs) -> dict:
    a = np.array(pairs).reshape(-1, 2)
    out = {}
    for lo, hi in RANGES_M:
        m = (a[:, 0] >= lo) & (a[:, 0] < hi)
        out[f"{lo:g}-{hi:g}m"] = round(float(np.median(np.abs(a[m, 1]))), 4) if m.any() else None
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


DISPLAY_SCORE = 0.25  # example overlays show detections at the pipeline's usual threshold, not AP's 0.001


def _save_example(path: Path, image: np.ndarray, pf, camera_config) -> None:
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
    cv2.imwrite(str(path), cv2.cvtColor(annotated, cv2.COLOR_RGB2BGR))
