"""The YOLO detector adapter: the only module of drivestack that imports ultralytics.

ultralytics is imported lazily, inside :func:`ultralytics_offline`, after switching off
everything in it that reaches the network (see that function). Its ``Results`` are converted
into our :class:`~perception.types.Detections` right here, with class ids in OUR index space
(``CLASS_NAMES``); a model trained on other names (COCO) is mapped onto ours by name.

Usage::

    from perception.yolo import DetectorConfig, YoloDetector

    det = YoloDetector.from_yaml(DetectorConfig())            # random weights, our classes
    det = YoloDetector.load("runs/detector/weights/best.pt")  # any ultralytics detection .pt
    det = YoloDetector.load_onnxruntime("perception/models/detector.pt")  # same, run in ONNX Runtime
    dets = det.detect(frame.image)                             # RGB uint8 (H, W, 3) -> Detections
    dets = det.track(frame.image)                              # + persistent track ids
    det.export_onnx("detector.onnx")
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import shutil
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from common.device import resolve_device
from perception.types import CLASS_NAMES, Detections

from .far_field import FarField, merge_rows

__all__ = ["DetectorConfig", "YoloDetector", "OnnxYoloDetector", "DEFAULT_NAME_MAP", "ultralytics_offline", "map_class_names"]

log = logging.getLogger(__name__)

DEFAULT_CONFIG_DIR = Path("~/.cache/drivestack/ultralytics").expanduser()

# Model class name (lower case, '_' and '-' read as spaces) -> our class name; None = known but dropped.
DEFAULT_NAME_MAP: dict[str, str | None] = {
    **{n.replace("_", " "): n for n in CLASS_NAMES},  # our own names map to themselves
    "car": "car",
    "truck": "truck",
    "bus": "bus",
    "motorcycle": "motorcycle",
    "motorbike": "motorcycle",
    "person": "pedestrian",
    "pedestrian": "pedestrian",
    "traffic light": None,  # COCO's light has no state (red / yellow / green): cannot be one of ours
}


def ultralytics_offline():
    """Import ultralytics with nothing that reaches the network, and return the module.

    Before the first import: ``YOLO_OFFLINE=1`` (its ``ONLINE`` flag is False, so no update
    checks, no events, no Sentry), ``YOLO_AUTOINSTALL=false`` (no pip installs from
    ``check_requirements``) and ``YOLO_CONFIG_DIR`` (kept when the caller set one, else
    ``~/.cache/drivestack/ultralytics``; never the repository). Then settings ``sync=False``
    and an empty ``api_key`` (no Platform upload callbacks). ``check_font`` runs on every
    dataset check, plots or not, and sends a HEAD request for Arial.ttf when the font is
    missing: matplotlib's DejaVuSans is placed under that name in the config dir instead.
    The AMP check (downloads yolo26n.pt on a GPU) is avoided by ``amp=False`` when training.
    """
    if "ultralytics" not in sys.modules:
        os.environ["YOLO_OFFLINE"] = "1"
        os.environ["YOLO_AUTOINSTALL"] = "false"
        os.environ.setdefault("YOLO_CONFIG_DIR", str(DEFAULT_CONFIG_DIR))
        Path(os.environ["YOLO_CONFIG_DIR"]).mkdir(parents=True, exist_ok=True)
    elif os.environ.get("YOLO_OFFLINE") != "1":
        log.warning("ultralytics was imported before perception.yolo set YOLO_OFFLINE=1; it may reach the network")
    # the first import creates its settings file and says so on stdout, and its logger's handler keeps
    # the stdout of that moment: stderr, so that stdout carries only a command's own output (--json)
    with contextlib.redirect_stdout(sys.stderr):
        import ultralytics
        from ultralytics.utils import SETTINGS, USER_CONFIG_DIR

    wanted = {"sync": False, "api_key": ""}
    if any(SETTINGS.get(k) != v for k, v in wanted.items()):
        SETTINGS.update(wanted)
    _place_fallback_fonts(Path(USER_CONFIG_DIR))
    return ultralytics


def _place_fallback_fonts(config_dir: Path) -> None:
    try:
        import matplotlib

        src = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    except ImportError:  # pragma: no cover - matplotlib is an ultralytics dependency
        return
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        dst = config_dir / name
        if not dst.exists() and src.is_file():
            try:
                shutil.copyfile(src, dst)
            except OSError as exc:  # a read-only config dir: ultralytics' own check then fails offline, harmlessly
                log.debug("could not place %s: %s", dst, exc)


def _norm(name: str) -> str:
    return " ".join(str(name).lower().replace("_", " ").replace("-", " ").split())


def map_class_names(model_names: Mapping[int, str] | Sequence[str],
                    class_map: Mapping[str, str | None] | None = None) -> tuple[np.ndarray, list[str]]:
    """Map a model's class names onto ours.

    Returns ``(lut, dropped)``: ``lut[model_id]`` is our class id or -1, and the model names
    that map to nothing. ``class_map`` (model name -> our name, or None to drop) takes
    precedence over :data:`DEFAULT_NAME_MAP`; names are compared case-insensitively, with '_'
    and '-' read as spaces. Raises ``ValueError`` for a ``class_map`` value that is not ours.
    """
    names = dict(enumerate(model_names)) if not isinstance(model_names, Mapping) else dict(model_names)
    table = {_norm(k): v for k, v in DEFAULT_NAME_MAP.items()}
    for k, v in (class_map or {}).items():
        if v is not None and v not in CLASS_NAMES:
            raise ValueError(f"class_map maps {k!r} to {v!r}, which is not one of our classes {list(CLASS_NAMES)}")
        table[_norm(k)] = v
    lut = np.full(max(names, default=-1) + 1, -1, np.int64)
    dropped = []
    for i, n in names.items():
        ours = table.get(_norm(n))
        if ours is None:
            dropped.append(n)
        else:
            lut[i] = CLASS_NAMES.index(ours)
    return lut, dropped


def _lapjv_scipy(cost: np.ndarray, extend_cost: bool = True, cost_limit: float = np.inf,
                 return_cost: bool = True):
    """``lap.lapjv`` (rectangular, with ``cost_limit``) on scipy's Hungarian solver.

    Same semantics as lap's ``cost_limit``: the matrix is extended with "unmatched" slots
    costing ``cost_limit / 2`` per side, so a pair is matched only when that is cheaper than
    leaving both ends unmatched. Returns ``(total_cost, x, y)`` with ``x[row] = col`` / ``-1``
    and ``y[col] = row`` / ``-1``.
    """
    from scipy.optimize import linear_sum_assignment

    cost = np.asarray(cost, np.float64)
    n, m = cost.shape
    if np.isfinite(cost_limit):
        big = cost_limit + 1e6 + (np.abs(cost[np.isfinite(cost)]).max() if cost.size else 0.0)
        ext = np.full((n + m, n + m), big)
        ext[:n, :m] = np.where(np.isfinite(cost), cost, big)
        ext[:n, m:][np.diag_indices(n)] = cost_limit / 2
        ext[n:, :m][np.diag_indices(m)] = cost_limit / 2
        ext[n:, m:] = 0.0
        rows, cols = linear_sum_assignment(ext)
        real = (rows < n) & (cols < m)
        rows, cols = rows[real], cols[real]
    else:
        rows, cols = linear_sum_assignment(cost)
    x = np.full(n, -1, np.int64)
    y = np.full(m, -1, np.int64)
    x[rows], y[cols] = cols, rows
    return float(cost[rows, cols].sum()), x, y


def _ensure_lap() -> None:
    """ultralytics' trackers import ``lap`` and pip-install it when missing (impossible offline).

    When it is not installed, register a stand-in module that solves the same assignment with
    scipy (an ultralytics dependency), once per process, with a warning. ``pip install lap``
    makes this a no-op.
    """
    import importlib.util

    if "lap" in sys.modules or importlib.util.find_spec("lap") is not None:
        return
    import types

    log.warning("package 'lap' is not installed: tracking uses a scipy stand-in for lap.lapjv "
                "(pip install 'lap>=0.5.12' for the native one)")
    shim = types.ModuleType("lap", "drivestack stand-in for lap.lapjv on scipy (perception.yolo)")
    shim.__version__ = "0+drivestack.scipy"
    shim.lapjv = _lapjv_scipy
    sys.modules["lap"] = shim


@dataclass(frozen=True)
class DetectorConfig:
    """How the YOLO detector is built and run."""

    model: str = "yolov8n.yaml"  # ultralytics model yaml (bundled), scale in the name: yolov8s.yaml, yolo11n.yaml
    imgsz: int = 320  # inference size, longest side [px], multiple of 32
    conf: float = 0.25  # minimum confidence kept [0, 1]
    iou: float = 0.5  # NMS IoU threshold [0, 1]
    device: str = "auto"  # "auto" (cuda if available, else cpu), "cpu", "cuda:0", ...
    tracker: str = "bytetrack.yaml"  # ultralytics tracker config (bundled name or a path)
    half: bool = False  # FP16 inference (CUDA only)
    max_det: int = 100  # most detections per image
    # a second pass over the band around the horizon enlarged this much, for far small objects
    # (``perception.far_field``); 0: off [-]
    far_zoom: float = 2.0

    def __post_init__(self) -> None:
        if self.far_zoom:
            self.far_field_spec()  # its range check
        if self.imgsz <= 0 or self.imgsz % 32:
            raise ValueError(f"imgsz must be a positive multiple of 32, got {self.imgsz}")
        for name in ("conf", "iou"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.max_det < 1:
            raise ValueError(f"max_det must be >= 1, got {self.max_det}")

    def far_field_spec(self) -> "FarField | None":
        """The far-field pass's window (None: off)."""
        return FarField(zoom=self.far_zoom) if self.far_zoom else None


def _check_rgb(image_rgb: np.ndarray) -> None:
    if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image of shape (H, W, 3), got {image_rgb.dtype} {image_rgb.shape}")


def _nan(n: int, *shape: int) -> np.ndarray:
    return np.full((n, *shape), np.nan, np.float32)


@dataclass
class YoloDetector:
    """An ultralytics YOLO model behind our types. Build with :meth:`from_yaml` or :meth:`load`."""

    model: Any  # ultralytics.YOLO
    cfg: DetectorConfig = field(default_factory=DetectorConfig)
    class_lut: np.ndarray = field(default=None)  # (model classes,) int64: model class id -> our id, -1 dropped
    source: str = ""  # the yaml or .pt it came from

    def __post_init__(self) -> None:
        if self.class_lut is None:
            self.class_lut, _ = map_class_names(self.model.names)
        self._device = resolve_device(self.cfg.device)
        kept = np.flatnonzero(self.class_lut >= 0)
        # filter inside NMS only when some model classes are dropped (keeps max_det for the ones we use)
        self._classes = None if len(kept) == len(self.class_lut) else [int(i) for i in kept]
        self.far_field = self.cfg.far_field_spec()  # the far-field pass (None: off; ``bench perception`` turns it)
        self._rows = BoxRows(self.cfg, self.class_lut)  # the far field's path to the tracker (ultralytics' own else)

    # -- construction ---------------------------------------------------------------------------------------
    @classmethod
    def from_yaml(cls, cfg: DetectorConfig = DetectorConfig(), nc: int = len(CLASS_NAMES),
                  names: Sequence[str] | None = None) -> "YoloDetector":
        """A randomly initialised model from ``cfg.model`` with ``nc`` classes named ``names`` (ours by default)."""
        names = list(CLASS_NAMES if names is None else names)
        if len(names) != nc:
            raise ValueError(f"nc={nc} but {len(names)} class names given: {names}")
        ultralytics_offline()
        from ultralytics import YOLO
        from ultralytics.nn.tasks import DetectionModel

        yolo = YOLO(cfg.model, task="detect")
        built = yolo.model
        if built.yaml.get("nc") != nc:
            model = DetectionModel(built.yaml, nc=nc, verbose=False)
            model.args, model.task = built.args, built.task
            yolo.model = model
        yolo.model.names = dict(enumerate(names))
        lut, dropped = map_class_names(yolo.model.names)
        return cls(yolo, cfg, lut, source=cfg.model)

    @classmethod
    def load(cls, weights_path: str | os.PathLike, class_map: Mapping[str, str | None] | None = None,
             cfg: DetectorConfig = DetectorConfig()) -> "YoloDetector":
        """Load an ultralytics detection checkpoint (``.pt``) and map its class names onto ours.

        Raises ``FileNotFoundError`` for a missing file (nothing is ever downloaded: a bare name
        such as ``yolov8n.pt`` must exist locally), ``ValueError`` naming the file when it is not
        an ultralytics detection model, and ``ValueError`` naming both class lists when none of
        the model's classes maps onto ours. Unmapped classes are dropped, with one warning.
        """
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"detector weights {str(path)!r} do not exist (nothing is downloaded)")
        path = path.resolve()  # absolute: ultralytics never looks the name up online
        if path.suffix.lower() != ".pt":
            raise ValueError(f"{str(path)!r} is not an ultralytics PyTorch checkpoint (.pt); export formats load "
                             f"through their own runtime")
        ultralytics_offline()
        from ultralytics import YOLO

        try:
            yolo = YOLO(str(path))
        except (TypeError, ValueError, RuntimeError, EOFError, KeyError, AttributeError, AssertionError,
                ImportError, pickle.UnpicklingError, OSError) as exc:
            raise ValueError(f"{str(path)!r} is not an ultralytics model checkpoint: {type(exc).__name__}: {exc}") \
                from exc
        if yolo.task != "detect":
            raise ValueError(f"{str(path)!r} is a {yolo.task!r} model; the detector needs a 'detect' model")
        names = dict(yolo.names)
        lut, dropped = map_class_names(names, class_map)
        if not (lut >= 0).any():
            raise ValueError(f"none of the classes of {str(path)!r} maps onto ours: model classes "
                             f"{list(names.values())}, ours {list(CLASS_NAMES)}; pass class_map={{model_name: our_name}}")
        if dropped:
            log.warning("%s: %d model classes have no counterpart among ours and are dropped: %s",
                        path.name, len(dropped), ", ".join(map(str, dropped)))
        return cls(yolo, cfg, lut, source=str(path))

    @classmethod
    def load_onnxruntime(cls, weights_path: str | os.PathLike, class_map: Mapping[str, str | None] | None = None,
                         cfg: DetectorConfig = DetectorConfig(), cache: str | os.PathLike | None = None,
                         int8: bool = False) -> "OnnxYoloDetector":
        """:meth:`load`, then run the network in ONNX Runtime on the CPU (see :class:`OnnxYoloDetector`).

        The checkpoint is exported once (dynamic input size, so each frame keeps the same minimal
        letterbox as in PyTorch) into the cache of :mod:`perception.onnx_backend`; ``int8``: run that
        graph's INT8 copy (``perception.int8``, calibrated at the simulator's frame size). ``cfg.device``
        must be "auto" or "cpu" and ``cfg.half`` False (else ``ValueError``)."""
        from .onnx_backend import cached_export, require_onnxruntime

        require_onnxruntime()
        if cfg.device not in ("auto", "cpu") or cfg.half:
            raise ValueError(f"the ONNX Runtime detector runs on the CPU in FP32; got device={cfg.device!r} "
                             f"half={cfg.half}")
        cfg = replace(cfg, device="cpu")
        torch_det = cls.load(weights_path, class_map, cfg)
        ul = ultralytics_offline()
        onnx_path = cached_export(weights_path, f"yolo-{cfg.imgsz}-dynamic-ul{ul.__version__}",
                                  lambda p: torch_det.export_onnx(p, dynamic=True), cache)
        if int8:
            from .int8 import cached_int8

            # the letterbox of a 2:1 simulator frame at imgsz (320x160 at 320)
            onnx_path = cached_int8(onnx_path, (cfg.imgsz // 2, cfg.imgsz))
        return OnnxYoloDetector(onnx_path, cfg, torch_det.class_lut, dict(torch_det.model.names),
                                "onnxruntime-int8" if int8 else "onnxruntime")

    backend = "torch"

    # -- inference ------------------------------------------------------------------------------------------
    def _kwargs(self) -> dict[str, Any]:
        c = self.cfg
        kw = dict(imgsz=c.imgsz, conf=c.conf, iou=c.iou, device=self._device, max_det=c.max_det,
                  classes=self._classes, verbose=False, save=False)
        if c.half:
            kw["quantize"] = 16  # ultralytics 8.4's spelling of the deprecated half=True
        return kw

    @staticmethod
    def _bgr(image_rgb: np.ndarray) -> np.ndarray:
        import cv2

        _check_rgb(image_rgb)
        # ultralytics reads numpy arrays as BGR (OpenCV); cvtColor copies ~20x faster than a reversed-stride copy
        return cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)

    def _convert(self, result: Any) -> Detections:
        boxes = result.boxes
        if boxes is None or len(boxes) == 0:
            return Detections.empty()
        xyxy = boxes.xyxy.cpu().numpy().astype(np.float32, copy=False)
        score = boxes.conf.cpu().numpy().astype(np.float32, copy=False)
        cls = boxes.cls.cpu().numpy().astype(np.int64)
        ours = self.class_lut[cls]
        ids = boxes.id
        track = np.full(len(cls), -1, np.int64) if ids is None else ids.cpu().numpy().astype(np.int64)
        keep = ours >= 0
        n = int(keep.sum())
        return Detections(xyxy[keep], score[keep], ours[keep], track[keep], _nan(n), _nan(n, 2), _nan(n, 2))

    def _raw(self, image_rgb: np.ndarray, conf: float) -> np.ndarray:
        """(N, 6) float32 rows ``x0, y0, x1, y1, score, model class`` of the frame and the far field
        (``cfg.far_zoom``), one forward pass over both."""
        big, win = self.far_field.enlarge(image_rgb)
        kw = self._kwargs()
        kw["conf"] = conf
        res = self.model.predict([self._bgr(image_rgb), self._bgr(big)], batch=2, **kw)
        frame, far = (np.concatenate([r.boxes.xyxy.cpu().numpy(), r.boxes.conf.cpu().numpy()[:, None],
                                      r.boxes.cls.cpu().numpy()[:, None]], 1).astype(np.float32) for r in res)
        return merge_rows(frame, self.far_field.to_frame(far, win, big.shape[:2]), self.cfg.iou, self.cfg.max_det)

    def detect(self, image_rgb: np.ndarray, far_field: bool = True) -> Detections:
        """Objects in one RGB uint8 image; geometry fields NaN, track ids -1. ``far_field``: with the far-field
        pass where the detector has one (a crop already enlarged, such as the light pass's, gains nothing from it)."""
        if far_field and self.far_field is not None:
            return self._rows.detections(self._raw(image_rgb, self.cfg.conf))
        return self._convert(self.model.predict(self._bgr(image_rgb), **self._kwargs())[0])

    def detect_batch(self, images_rgb: Sequence[np.ndarray]) -> list[Detections]:
        """:meth:`detect` on several images in one forward pass (same order; with the far field, one pass each)."""
        if len(images_rgb) == 0:
            return []
        if self.far_field is not None:
            return [self.detect(im) for im in images_rgb]
        results = self.model.predict([self._bgr(im) for im in images_rgb], batch=len(images_rgb), **self._kwargs())
        return [self._convert(r) for r in results]

    def track(self, image_rgb: np.ndarray) -> Detections:
        """Objects in the next frame of one stream, with ids that persist across calls.

        The tracker sees detections down to ``min(conf, 0.1)`` (ByteTrack's second association
        keeps tracks alive through low-score frames); new tracks start at the tracker yaml's
        ``new_track_thresh``. Call :meth:`reset_tracker` between streams.
        """
        if self.far_field is not None:  # the merged rows through the same tracker (ByteTrack), fed as ultralytics feeds it
            return self._rows.track(self._raw(image_rgb, self._rows.track_conf), image_rgb.shape[:2])
        self._check_tracker()
        _ensure_lap()
        kw = self._kwargs()
        kw["conf"] = min(self.cfg.conf, 0.1)
        results = self.model.track(self._bgr(image_rgb), persist=True, tracker=self.cfg.tracker, **kw)
        dets = self._convert(results[0])
        # a frame without tracks comes back as raw detections (ids -1): hold those to cfg.conf
        return dets.select((dets.track_id >= 0) | (dets.score >= self.cfg.conf))

    def reset_tracker(self) -> None:
        """Forget every track (the next :meth:`track` starts new ids' history; ids keep counting up)."""
        self._rows.reset()
        predictor = getattr(self.model, "predictor", None)
        for tracker in getattr(predictor, "trackers", ()) or ():
            tracker.reset()

    def _check_tracker(self) -> None:
        if getattr(self, "_tracker_ok", False):
            return
        from ultralytics.utils import YAML
        from ultralytics.utils.checks import check_yaml

        t = YAML.load(check_yaml(self.cfg.tracker))
        if t.get("with_reid") and t.get("tracker_type") in {"botsort", "tracktrack", "deepocsort"}:
            reid = str(t.get("model", "auto"))
            end2end = bool(getattr(self.model.model.model[-1], "end2end", False))
            if (reid == "auto" and end2end) or (reid != "auto" and not Path(reid).is_file()):
                raise ValueError(f"tracker {self.cfg.tracker!r} wants a ReID model ({reid!r}) that would be "
                                 f"downloaded; set with_reid: False or point model: at a local file")
        self._tracker_ok = True

    # -- export ---------------------------------------------------------------------------------------------
    def export_onnx(self, path: str | os.PathLike, dynamic: bool = False) -> Path:
        """Export to ONNX at ``cfg.imgsz`` (no onnxslim simplification); returns the written path."""
        try:
            import onnx  # noqa: F401
        except ImportError as exc:
            raise ImportError("ONNX export needs the onnx package: pip install onnx onnxruntime") from exc
        out = Path(path).expanduser().resolve()
        out.parent.mkdir(parents=True, exist_ok=True)
        net = self.model.model
        had, old = hasattr(net, "pt_path"), getattr(net, "pt_path", None)
        net.pt_path = str(out.with_suffix(".pt"))  # ultralytics writes beside this (a yaml model: the cwd)
        from ultralytics.utils import LOGGER

        level = LOGGER.level
        LOGGER.setLevel(logging.ERROR)  # the exporter logs progress and notices to stdout, where JSON reports go
        try:
            written = Path(self.model.export(format="onnx", imgsz=self.cfg.imgsz, simplify=False, dynamic=dynamic,
                                             half=False, device="cpu", verbose=False))
        finally:
            LOGGER.setLevel(level)
            if had:
                net.pt_path = old
            else:
                del net.pt_path
        if written.resolve() != out:
            shutil.move(str(written), out)
        return out

    @property
    def names(self) -> dict[int, str]:
        """The model's own class names (its index space, before mapping onto ours)."""
        return dict(self.model.names)


class OnnxYoloDetector:
    """A YOLO detector exported to ONNX and run by ONNX Runtime on the CPU, behind the same methods as
    :class:`YoloDetector` (build it with :meth:`YoloDetector.load_onnxruntime`).

    Only the network forward changes: the letterbox, box rescaling and class mapping are
    ultralytics' own functions with :class:`YoloDetector`'s settings, NMS is a NumPy copy of
    ultralytics' (``perception.nms``, tested equal), and :meth:`track` feeds the
    detections to ultralytics' tracker (ByteTrack by default) exactly as its predictor's tracking
    callback does, so boxes, scores and track ids match the PyTorch detector's. Calling the session
    directly (not through ultralytics' predictor) skips the predictor's per-call overhead and lets
    the session's idle threads sleep instead of spinning (see ``perception.onnx_backend.cpu_session``).
    """

    def __init__(self, onnx_path: str | os.PathLike, cfg: DetectorConfig, class_lut: np.ndarray,
                 names: Mapping[int, str], backend: str = "onnxruntime"):
        from .onnx_backend import cpu_session

        ultralytics_offline()
        self.backend = backend  # "onnxruntime", or "onnxruntime-int8" for the graph's INT8 copy
        from ultralytics.data.augment import LetterBox

        self.cfg = cfg
        self.class_lut = class_lut  # (model classes,) int64: model class id -> our id, -1 dropped
        self.source = str(onnx_path)
        self._names = dict(names)
        self.session = cpu_session(onnx_path)
        self._input = self.session.get_inputs()[0].name
        self._letterbox = LetterBox((cfg.imgsz, cfg.imgsz), auto=True, stride=32)  # as the predictor, dynamic model
        kept = np.flatnonzero(class_lut >= 0)
        self._classes = None if len(kept) == len(class_lut) else [int(i) for i in kept]
        self.rows = BoxRows(cfg, class_lut)
        self.far_field = cfg.far_field_spec()  # as YoloDetector's

    @property
    def names(self) -> dict[int, str]:
        """The model's own class names (its index space, before mapping onto ours)."""
        return dict(self._names)

    def _raw(self, image_rgb: np.ndarray, conf: float, far_field: bool = True) -> np.ndarray:
        """(N, 6) float32 rows ``x0, y0, x1, y1, score, model class`` in ``image_rgb``'s pixels, the far
        field's (``cfg.far_zoom``) merged in unless ``far_field`` is False."""
        _check_rgb(image_rgb)
        rows = self._pass(image_rgb, conf)
        if self.far_field is None or not far_field:
            return rows
        big, win = self.far_field.enlarge(image_rgb)
        return merge_rows(rows, self.far_field.to_frame(self._pass(big, conf), win, big.shape[:2]), self.cfg.iou,
                          self.cfg.max_det)

    def _pass(self, image_rgb: np.ndarray, conf: float) -> np.ndarray:
        """One network pass: rows as :meth:`_raw`'s."""
        from ultralytics.utils import ops

        from .nms import non_max_suppression

        img = self._letterbox(image=image_rgb)  # grey padding: the same for RGB and BGR
        x = np.ascontiguousarray(img.transpose(2, 0, 1)[None], np.float32) * np.float32(1 / 255)
        pred = self.session.run(None, {self._input: x})[0]
        # ultralytics' NMS, in NumPy (perception.nms): the same rows, without a trip through torch
        det = non_max_suppression(pred[0], conf, self.cfg.iou, self._classes, self.cfg.max_det)
        det[:, :4] = ops.scale_boxes(img.shape[:2], det[:, :4], image_rgb.shape[:2])
        return det

    def detect(self, image_rgb: np.ndarray, far_field: bool = True) -> Detections:
        """Objects in one RGB uint8 image; geometry fields NaN, track ids -1 (``far_field``: as
        :meth:`YoloDetector.detect`)."""
        return self.rows.detections(self._raw(image_rgb, self.cfg.conf, far_field))

    def detect_batch(self, images_rgb: Sequence[np.ndarray]) -> list[Detections]:
        """:meth:`detect` on each image (the CPU gains nothing from batching here)."""
        return [self.detect(im) for im in images_rgb]

    def track(self, image_rgb: np.ndarray) -> Detections:
        """As :meth:`YoloDetector.track`: ids that persist across calls, from the same tracker."""
        return self.rows.track(self._raw(image_rgb, self.rows.track_conf), image_rgb.shape[:2])

    def reset_tracker(self) -> None:
        """Forget every track (ids keep counting up, as with :meth:`YoloDetector.reset_tracker`)."""
        self.rows.reset()


class BoxRows:
    """Box rows ``x0, y0, x1, y1, score, model class`` (after NMS, in the image's pixels) to ``Detections``,
    with the class map, and through ultralytics' tracker (ByteTrack) exactly as its predictor's tracking
    callback feeds it: the part of a detector after its network, shared by every network that gives rows
    (``OnnxYoloDetector``, ``perception.joint_runner``)."""

    def __init__(self, cfg: DetectorConfig, class_lut: np.ndarray):
        self.cfg = cfg
        self.class_lut = class_lut  # (model classes,) int64: model class id -> our id, -1 dropped
        self._tracker = None

    @property
    def track_conf(self) -> float:
        """The confidence the rows fed to :meth:`track` are cut at (ByteTrack uses the low ones too)."""
        return min(self.cfg.conf, 0.1)

    def detections(self, rows: np.ndarray, track: np.ndarray | None = None) -> Detections:
        cls = rows[:, 5].astype(np.int64)
        ours = self.class_lut[cls]
        track = np.full(len(rows), -1, np.int64) if track is None else track.astype(np.int64)
        keep = ours >= 0
        n = int(keep.sum())
        return Detections(rows[keep, :4].astype(np.float32), rows[keep, 4].astype(np.float32), ours[keep], track[keep],
                          _nan(n), _nan(n, 2), _nan(n, 2))

    def track(self, rows: np.ndarray, image_hw: tuple[int, int]) -> Detections:
        """One frame's rows (cut at :attr:`track_conf`) through the tracker: ids that persist across calls."""
        from ultralytics.engine.results import Boxes

        if self._tracker is None:
            self._tracker = self._make_tracker()
        tracks = self._tracker.update(Boxes(rows, image_hw), None)  # ByteTrack never reads the pixels
        if len(tracks) == 0:  # what ultralytics' tracking callback does with a frame without tracks
            if any(not t.is_activated for t in self._tracker.tracked_stracks):
                rows = rows[:0]
            dets = self.detections(rows)
        else:  # rows x0, y0, x1, y1, id, score, class, detection index; boxes clipped as Results.update does
            h, w = image_hw
            rows = tracks[:, [0, 1, 2, 3, 5, 6]].astype(np.float32)
            rows[:, [0, 2]] = rows[:, [0, 2]].clip(0, w)
            rows[:, [1, 3]] = rows[:, [1, 3]].clip(0, h)
            dets = self.detections(rows, tracks[:, 4])
        return dets.select((dets.track_id >= 0) | (dets.score >= self.cfg.conf))

    def _make_tracker(self):
        from ultralytics.trackers.track import TRACKER_MAP
        from ultralytics.utils import YAML, IterableSimpleNamespace
        from ultralytics.utils.checks import check_yaml

        _ensure_lap()
        cfg = IterableSimpleNamespace(**YAML.load(check_yaml(self.cfg.tracker)))
        if cfg.tracker_type != "bytetrack":
            raise ValueError(f"the ONNX Runtime detector tracks with ByteTrack only; tracker {self.cfg.tracker!r} is "
                             f"{cfg.tracker_type!r} (use backend='torch' for it)")
        cfg.device = "cpu"
        return TRACKER_MAP[cfg.tracker_type](args=cfg)

    def reset(self) -> None:
        """Forget every track (ids keep counting up)."""
        if self._tracker is not None:
            self._tracker.reset()
