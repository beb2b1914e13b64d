"""Every source of frames as one iterator of ``Frame``s.

``open_source(spec, **kw)`` picks the source from ``spec``:

=====================================  ===============================================
spec                                   source
=====================================  ===============================================
an existing video file (mp4 avi mov    ``VideoSource`` (OpenCV/FFmpeg; a gif that OpenCV
mkv gif webm m4v mpg ...)              cannot open falls back to Pillow)
an existing image file                 ``ImageSource`` over that one file
an existing folder, or a glob pattern  ``ImageSource`` over its jpg/jpeg/png/bmp/webp files,
                                       naturally sorted (``img2`` before ``img10``)
``"0"``, ``"1"``, ... or an ``int``    ``CaptureSource`` on that webcam
``rtsp://``, ``http(s)://``, ...       ``CaptureSource`` on that stream
``"sim:town"``, ``"sim:highway:7"``    ``SimSource`` on the simulator's camera (seed 7)
=====================================  ===============================================

Usage::

    from perception.sources import open_source

    with open_source("../shared/realdata/udacity/videos/solidWhiteRight.mp4", stride=2) as src:
        for frame in src:          # Frame(image (H, W, 3) uint8 RGB, timestamp_s, index, source)
            ...

Every source is a context manager (``close()`` releases captures and envs), is iterable, and
has ``name``, ``fps`` (None when unknown), ``frame_count`` (frames the iteration is expected to
yield after ``stride`` / ``max_frames``; None when unknown) and ``size`` ((H, W), None until
known). ``stride=k`` keeps every k-th frame of the source, ``max_frames=n`` stops after n
yielded frames. ``Frame.index`` is the frame's position in the source (so with ``stride=2``
the indices are 0, 2, 4, ...), and ``Frame.timestamp_s`` is

- files: ``index / fps`` (the file's fps; 30 when the header has none),
- image folders: ``index / fps`` (``fps`` parameter, default 10),
- webcams and streams: wall-clock seconds since the iteration started,
- the simulator: ``step * dt``.

Pixels are normalised to (H, W, 3) uint8 RGB: OpenCV's BGR is swapped, grayscale is
repeated to 3 channels, an alpha channel is dropped, 16-bit is scaled to 8-bit (``>> 8``,
rounded) and float images in [0, 1] are scaled by 255.

Bad input, and what happens:

- errors (``SourceError``, a ``ValueError``): a missing path (``SourceNotFound``, also a
  ``FileNotFoundError``, naming the path); a file that is not a readable video or image
  (empty files included); a video with no readable frame; a folder or glob with no images
  (the message names the folder and the extensions looked for); a folder whose images are
  all unreadable (raised at the end of the iteration); a webcam or stream that does not open;
  an unsupported spec.
- not an error: images of different sizes in one folder are each yielded at their own size
  (``Frame.image.shape`` varies, ``size`` follows the last frame); ``resize_to_first=True``
  resizes them to the first image's size instead (one logged warning per source).
- logged warnings, iteration continues: an unreadable image inside a folder is skipped.
- logged warnings, iteration ends cleanly (the frames yielded so far are valid): a video that
  ends before its header's frame count (truncated file: "read N of M expected frames"); a
  webcam or stream that drops and does not come back within ``reconnect_s`` (default 2 s).

OpenCV quirks met here (opencv 5.0, FFmpeg backend):

- A truncated mp4 whose ``moov`` atom sits at the front (``solidWhiteRight.mp4``) still
  opens, reports the full header count (221) and decodes only the frames whose bytes are
  present (89 of 221 for the first 40 % of the file): that is the "ends cleanly with a
  warning" case. A truncated mp4 with ``moov`` at the end does not open ("moov atom not
  found"): a ``SourceError``.
- FFmpeg opens a JPEG renamed ``.mp4`` as a one-frame video (frame count reported as a huge
  negative number: treated as unknown); it is not an error, since the pixels are readable.
- ``CAP_PROP_FRAME_COUNT`` is an estimate for some containers; a shortfall against it is only
  ever a warning.
- Streams are opened with ``CAP_PROP_OPEN_TIMEOUT_MSEC`` / ``CAP_PROP_READ_TIMEOUT_MSEC``
  so an unreachable host fails within ``open_timeout_s`` instead of FFmpeg's 30 s default; a
  refused connection fails at once.
- OpenCV and FFmpeg print their own warnings to stderr (e.g. ``[h264 @ ...] Invalid NAL
  unit size`` on truncated files). This module does not silence them (that is process-global
  state: ``OPENCV_FFMPEG_LOGLEVEL`` / ``cv2.setLogLevel`` belong to the application).
- Images are read with ``IMREAD_ANYDEPTH | IMREAD_ANYCOLOR`` so EXIF orientation is applied,
  16-bit and grayscale survive to the normaliser, and alpha is dropped by the decoder.
"""

from __future__ import annotations

import glob as globlib
import logging
import math
import os
import re
import time
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from .types import Frame

__all__ = ["IMAGE_EXTENSIONS", "VIDEO_EXTENSIONS", "STREAM_SCHEMES", "SourceError", "SourceNotFound",
           "FrameSource", "VideoSource", "ImageSource", "CaptureSource", "SimSource", "open_source",
           "to_rgb_uint8", "natural_key"]

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".gif", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv",
                    ".ts", ".mts", ".3gp", ".ogv")
STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "tcp", "srt")
SIM_KINDS = {"town": "drivestack/Town-v0", "highway": "drivestack/Highway-v0"}
DEFAULT_VIDEO_FPS = 30.0  # [Hz] used for timestamps when a file's header has no frame rate
_GLOB_CHARS = re.compile(r"[*?\[]")
_URL = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")


class SourceError(ValueError):
    """A source that cannot be opened or read."""


class SourceNotFound(SourceError, FileNotFoundError):
    """A path that does not exist."""


# --- pixels -----------------------------------------------------------------------------------
def to_rgb_uint8(image: np.ndarray, *, bgr: bool = True) -> np.ndarray:
    """(H, W, 3) uint8 RGB from a gray, 1/3/4-channel, uint8/uint16/float image.

    ``bgr``: the channels are in OpenCV's order (BGR / BGRA) rather than RGB / RGBA.
    """
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (3, 4)):
        raise SourceError(f"cannot use an image of shape {img.shape}: "
                          "expected (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)")
    if img.dtype == np.uint16:
        img = ((img.astype(np.uint32) + 128) >> 8).clip(0, 255).astype(np.uint8)
    elif img.dtype.kind == "f":
        img = (np.nan_to_num(img, nan=0.0).clip(0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise SourceError(f"cannot use an image of dtype {img.dtype}: expected uint8, uint16 or float")
    if img.ndim == 2:
        out = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    elif img.shape[2] == 4:
        out = cv2.cvtColor(img, cv2.COLOR_BGRA2RGB if bgr else cv2.COLOR_RGBA2RGB)
    else:
        out = cv2.cvtColor(img, cv2.COLOR_BGR2RGB) if bgr else np.ascontiguousarray(img)
    return out


def natural_key(s: str | os.PathLike) -> list:
    """Sort key that orders ``frame2`` before ``frame10`` (case-insensitive)."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", str(s))]


def _read_image(path: Path) -> np.ndarray | None:
    """BGR/gray image as stored (any depth), or None when OpenCV cannot decode it."""
    try:
        return cv2.imread(str(path), cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    except cv2.error:
        return None


def _redact(url: str) -> str:
    """``url`` with any password replaced by ``***`` (frame names end up in logs and reports)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


# --- the common shape -------------------------------------------------------------------------
class FrameSource:
    """Base of all sources: iteration with ``stride`` / ``max_frames``, context management.

    Subclasses implement ``_frames()``, yielding ``(index, image RGB uint8, timestamp_s)`` for
    every frame they read (``_skip()`` tells them to skip decoding a frame that ``stride``
    drops), and ``close()``.
    """

    name: str

    def __init__(self, *, max_frames: int | None = None, stride: int = 1):
        if max_frames is not None and (int(max_frames) != max_frames or max_frames < 0):
            raise ValueError(f"max_frames must be a non-negative integer or None, got {max_frames!r}")
        if int(stride) != stride or stride < 1:
            raise ValueError(f"stride must be a positive integer, got {stride!r}")
        self.max_frames = None if max_frames is None else int(max_frames)
        self.stride = int(stride)
        self.fps: float | None = None
        self.size: tuple[int, int] | None = None
        self._source_count: int | None = None  # frames in the source, before stride / max_frames

    @property
    def frame_count(self) -> int | None:
        """Frames the iteration is expected to yield (after stride and max_frames); None when unknown."""
        n = None if self._source_count is None else -(-self._source_count // self.stride)
        if self.max_frames is not None:
            n = self.max_frames if n is None else min(n, self.max_frames)
        return n

    def _keep(self, index: int) -> bool:
        return index % self.stride == 0

    def _frames(self) -> Iterator[tuple[int, np.ndarray, float]]:
        raise NotImplementedError

    def __iter__(self) -> Iterator[Frame]:
        if self.max_frames == 0:
            return
        yielded = 0
        frames = self._frames()
        try:
            for index, image, t in frames:
                self.size = (int(image.shape[0]), int(image.shape[1]))
                yield Frame(image=image, timestamp_s=float(t), index=int(index), source=self.name)
                yielded += 1
                if self.max_frames is not None and yielded >= self.max_frames:
                    return
        finally:
            frames.close()

    def close(self) -> None:
        """Release what the source holds; safe to call twice."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, fps={self.fps}, frame_count={self.frame_count}, "
                f"size={self.size})")


# --- files --------------------------------------------------------------------------------------
class VideoSource(FrameSource):
    """A video file through OpenCV (FFmpeg); a gif OpenCV cannot open is read with Pillow.

    Raises ``SourceNotFound`` for a missing file and ``SourceError`` for a file that is not a
    readable video (empty, text, truncated before the first frame). A file that ends before its
    header's frame count ends the iteration with a logged warning. Timestamps are
    ``index / fps``, with ``fps`` from the file (``DEFAULT_VIDEO_FPS`` when it has none).
    Iterating again re-reads from the start.
    """

    def __init__(self, path: str | os.PathLike, *, max_frames: int | None = None, stride: int = 1):
        super().__init__(max_frames=max_frames, stride=stride)
        self.path = Path(path)
        self.name = str(path)
        if not self.path.exists():
            raise SourceNotFound(f"video not found: {self.path}")
        if not self.path.is_file():
            raise SourceError(f"{self.path} is not a file")
        if self.path.stat().st_size == 0:
            raise SourceError(f"{self.path} is empty (0 bytes): not a readable video or image")
        self._cap: cv2.VideoCapture | None = None
        self._pil_frames: list[np.ndarray] | None = None
        self._first: np.ndarray | None = None  # first frame, decoded at open to prove the file is readable
        self._open()
        self.size = (int(self._first.shape[0]), int(self._first.shape[1]))

    def _open(self) -> None:
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            cap.release()
            if self.path.suffix.lower() == ".gif" and self._open_gif_with_pillow():
                return
            raise SourceError(f"{self.path}: not a readable video or image")
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if math.isfinite(fps) and 0 < fps < 10_000 else None
        count = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        self._source_count = int(round(count)) if math.isfinite(count) and 0 < count < 2**31 else None
        ok, first = cap.read()
        if not ok or first is None:
            cap.release()
            said = "unknown" if self._source_count is None else self._source_count
            raise SourceError(f"{self.path}: empty video, no frame could be read (header says {said} frames)")
        self._cap, self._first = cap, first

    def _open_gif_with_pillow(self) -> bool:
        from PIL import Image, ImageSequence, UnidentifiedImageError

        try:
            with Image.open(self.path) as im:
                frames = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)]
                duration_ms = im.info.get("duration") or 0
        except (UnidentifiedImageError, OSError, ValueError):
            return False
        if not frames:
            return False
        self._pil_frames = frames
        self._source_count = len(frames)
        self.fps = 1000.0 / duration_ms if duration_ms else None
        self._first = frames[0][:, :, ::-1]  # BGR, like OpenCV, so both paths normalise alike
        return True

    def _frames(self) -> Iterator[tuple[int, np.ndarray, float]]:
        if self._pil_frames is not None:
            fps = self.fps or DEFAULT_VIDEO_FPS
            for i, img in enumerate(self._pil_frames):
                if self._keep(i):
                    yield i, np.ascontiguousarray(img), i / fps
            return
        if self._first is None:  # a second iteration: start again from the top
            if self._cap is not None:
                self._cap.release()
            self._open()
        cap, first = self._cap, self._first
        self._first = None
        fps = self.fps or DEFAULT_VIDEO_FPS
        yield 0, to_rgb_uint8(first), 0.0
        i = 1
        while True:
            if self._keep(i):
                ok, img = cap.read()
            else:
                ok, img = cap.grab(), None
            if not ok:
                break
            if img is not None:
                yield i, to_rgb_uint8(img), i / fps
            i += 1
        if self._source_count is not None and i < self._source_count:
            log.warning("%s: video ended early, read %d of %d expected frames (truncated or damaged file)",
                        self.path, i, self._source_count)

    def close(self) -> None:
        cap, self._cap = getattr(self, "_cap", None), None
        if cap is not None:
            cap.release()


class ImageSource(FrameSource):
    """Still images: one file, a folder or a glob pattern, naturally sorted.

    Timestamps are ``index / fps`` (``fps`` default 10 [Hz]). Images are decoded lazily.

    Errors (``SourceError``): no images found (naming the folder / pattern and the extensions
    looked for); every file unreadable (at the end of the iteration).
    Images of different sizes: each yielded at its own size, or with ``resize_to_first``
    resized to the first one's (one warning logged per source).
    Logged skip: an unreadable file among readable ones (a warning naming it).
    """

    def __init__(self, paths: list[str | os.PathLike], *, name: str | None = None, fps: float = 10.0,
                 resize_to_first: bool = False, max_frames: int | None = None, stride: int = 1):
        super().__init__(max_frames=max_frames, stride=stride)
        if not paths:
            raise SourceError(f"{name or 'ImageSource'}: no images given")
        if not (fps > 0 and math.isfinite(fps)):
            raise ValueError(f"fps must be a positive number [Hz], got {fps!r}")
        self.paths = [Path(p) for p in paths]
        self.name = name if name is not None else str(self.paths[0])
        self.fps = float(fps)
        self.resize_to_first = bool(resize_to_first)
        self._source_count = len(self.paths)

    @classmethod
    def from_folder(cls, folder: str | os.PathLike, **kw: Any) -> "ImageSource":
        folder = Path(folder)
        if not folder.is_dir():
            raise SourceNotFound(f"image folder not found: {folder}")
        paths = sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS),
                       key=lambda p: natural_key(p.name))
        if not paths:
            raise SourceError(f"no images in folder {folder} (looked for {', '.join(IMAGE_EXTENSIONS)})")
        return cls(paths, name=str(folder), **kw)

    @classmethod
    def from_glob(cls, pattern: str, **kw: Any) -> "ImageSource":
        hits = [Path(p) for p in globlib.glob(os.path.expanduser(pattern), recursive=True)]
        paths = sorted((p for p in hits if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS), key=natural_key)
        if not paths:
            raise SourceError(f"no images match {pattern!r} (looked for {', '.join(IMAGE_EXTENSIONS)}; "
                              f"{len(hits)} other paths matched)")
        return cls(paths, name=pattern, **kw)

    def _frames(self) -> Iterator[tuple[int, np.ndarray, float]]:
        first_size: tuple[int, int] | None = None
        first_path: Path | None = None
        warned_resize = False
        read = 0
        for i, path in enumerate(self.paths):
            if not self._keep(i):
                continue
            raw = _read_image(path)
            if raw is None:
                log.warning("%s: skipping unreadable image %s", self.name, path)
                continue
            img = to_rgb_uint8(raw)
            hw = (int(img.shape[0]), int(img.shape[1]))
            if first_size is None:
                first_size, first_path = hw, path
            elif hw != first_size and self.resize_to_first:
                if not warned_resize:
                    log.warning("%s: images differ in size (first %s is %dx%d, %s is %dx%d); resizing to the first",
                                self.name, first_path, first_size[1], first_size[0], path, hw[1], hw[0])
                    warned_resize = True
                img = cv2.resize(img, (first_size[1], first_size[0]), interpolation=cv2.INTER_AREA)
            read += 1
            yield i, img, i / self.fps
        if read == 0:
            raise SourceError(f"{self.name}: none of the {len(self.paths)} images could be read")


# --- live captures --------------------------------------------------------------------------------
class CaptureSource(FrameSource):
    """A webcam (``int`` index) or a stream URL through OpenCV.

    Timestamps are wall-clock seconds since the iteration started. Raises ``SourceError`` when
    the capture does not open (within ``open_timeout_s`` for URLs). When reads fail mid-run it
    tries to reopen for ``reconnect_s`` seconds, then ends the iteration with a logged warning
    (the frames yielded so far are valid). A URL that reports a frame count (a finite file over
    http) is not reopened: its end is the end, with a warning if it came early.
    ``Frame.index`` counts frames read from the capture.
    """

    def __init__(self, target: int | str, *, reconnect_s: float = 2.0, open_timeout_s: float = 5.0,
                 read_timeout_s: float = 5.0, max_frames: int | None = None, stride: int = 1):
        super().__init__(max_frames=max_frames, stride=stride)
        if isinstance(target, str) and target.isdigit():
            target = int(target)
        self.target = target
        self.is_webcam = isinstance(target, int)
        self.name = f"webcam:{target}" if self.is_webcam else _redact(str(target))
        self.reconnect_s = float(reconnect_s)
        self.open_timeout_s = float(open_timeout_s)
        self.read_timeout_s = float(read_timeout_s)
        self._read = 0
        self._cap = self._open()
        if self._cap is None:
            what = f"webcam {target}" if self.is_webcam else f"stream {self.name}"
            raise SourceError(f"could not open {what}" + ("" if self.is_webcam else
                              f" (within {self.open_timeout_s:g} s; check the URL and that the server is up)"))
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if math.isfinite(fps) and 0 < fps < 1000 else None
        count = self._cap.get(cv2.CAP_PROP_FRAME_COUNT)
        if not self.is_webcam and math.isfinite(count) and 0 < count < 2**31:
            self._source_count = int(round(count))  # a finite file served over http(s): its end is the end
        w, h = self._cap.get(cv2.CAP_PROP_FRAME_WIDTH), self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)
        if w > 0 and h > 0:
            self.size = (int(h), int(w))

    def _open(self) -> cv2.VideoCapture | None:
        if self.is_webcam:
            cap = cv2.VideoCapture(self.target)
        else:
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(self.open_timeout_s * 1000),
                      cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self.read_timeout_s * 1000)]
            cap = cv2.VideoCapture(str(self.target), cv2.CAP_FFMPEG, params)
        if not cap.isOpened():
            cap.release()
            return None
        return cap

    def _reconnect(self) -> bool:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        deadline = time.monotonic() + self.reconnect_s
        while time.monotonic() < deadline:
            cap = self._open()
            if cap is not None:
                self._cap = cap
                return True
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        return False

    def _frames(self) -> Iterator[tuple[int, np.ndarray, float]]:
        t0 = time.monotonic()
        while True:
            if self._cap is None:
                return
            ok = False
            keep = self._keep(self._read)
            if keep:
                ok, img = self._cap.read()
            else:
                ok, img = self._cap.grab(), None
            if not ok and self._source_count is not None:  # a finite file: no reconnect (it would restart)
                if self._read < self._source_count:
                    log.warning("%s: stream ended early, read %d of %d expected frames",
                                self.name, self._read, self._source_count)
                return
            if not ok:
                log.warning("%s: read failed after %d frames; reconnecting for up to %g s",
                            self.name, self._read, self.reconnect_s)
                if self._reconnect():
                    continue
                log.warning("%s: stream ended, %d frames read (of an unknown number expected); "
                            "no reconnect within %g s", self.name, self._read, self.reconnect_s)
                return
            i = self._read
            self._read += 1
            if img is not None:
                yield i, to_rgb_uint8(img), time.monotonic() - t0

    def close(self) -> None:
        cap, self._cap = getattr(self, "_cap", None), None
        if cap is not None:
            cap.release()


# --- the simulator ----------------------------------------------------------------------------------
class SimSource(FrameSource):
    """The simulator's forward camera, driven by ``sim.autopilot.Autopilot``.

    Each iteration resets ``gymnasium.make(env_id, config=config)`` with ``seed`` (so it is
    deterministic) and yields the reset frame as step 0, then one frame per ``env.step``:
    ``Frame.index`` is the step, ``timestamp_s = step * dt``. ``steps``: how many frames
    (= steps, counting the reset as step 0) to yield; None runs until the episode terminates
    or truncates. ``last_ground_truth`` is the ``info["ground_truth"]`` of the frame yielded
    last (for scoring replays), ``last_info`` that step's whole ``info``.
    """

    def __init__(self, env_id: str = "drivestack/Town-v0", seed: int = 0, steps: int | None = None,
                 config: Any = None, *, max_frames: int | None = None, stride: int = 1):
        super().__init__(max_frames=max_frames, stride=stride)
        import gymnasium as gym

        import sim  # noqa: F401  (registers the drivestack/* ids)
        from sim.autopilot import Autopilot

        if steps is not None and (int(steps) != steps or steps < 0):
            raise ValueError(f"steps must be a non-negative integer or None, got {steps!r}")
        if env_id not in gym.registry:
            raise SourceError(f"unknown simulator env {env_id!r}; registered: {sorted(sim.ENV_IDS)}")
        self.env_id, self.seed, self.steps = env_id, int(seed), None if steps is None else int(steps)
        self.name = f"sim:{env_id}:{self.seed}"
        kwargs = {} if config is None else {"config": config}
        self.env = gym.make(env_id, **kwargs)
        image_space = self.env.observation_space.spaces.get("image")
        if image_space is None:
            self.env.close()
            raise SourceError(f"{env_id}: the camera is off (render_camera=False in the config); no frames to yield")
        self.size = (int(image_space.shape[0]), int(image_space.shape[1]))
        self.dt_s = float(self.env.unwrapped.dt_s)
        self.fps = 1.0 / self.dt_s
        self._source_count = self.steps
        self.autopilot = Autopilot()
        self.last_ground_truth = None
        self.last_info: dict | None = None

    def _frames(self) -> Iterator[tuple[int, np.ndarray, float]]:
        obs, info = self.env.reset(seed=self.seed)
        step = 0
        while self.steps is None or step < self.steps:
            if self._keep(step):
                self.last_ground_truth, self.last_info = info["ground_truth"], info
                yield step, np.ascontiguousarray(obs["image"]), step * self.dt_s
            if self.steps is not None and step + 1 >= self.steps:
                return
            action = self.autopilot.act(info["ground_truth"], float(obs["state"][0]))
            obs, _, terminated, truncated, info = self.env.step(action)
            step += 1
            if terminated or truncated:
                if self._keep(step):
                    self.last_ground_truth, self.last_info = info["ground_truth"], info
                    yield step, np.ascontiguousarray(obs["image"]), step * self.dt_s
                return

    def close(self) -> None:
        env, self.env = getattr(self, "env", None), None
        if env is not None:
            env.close()


# --- the dispatcher -----------------------------------------------------------------------------------
def _parse_sim(spec: str, kw: dict) -> SimSource:
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[1]:
        raise SourceError(f"bad simulator spec {spec!r}: use 'sim:town', 'sim:highway' or 'sim:town:SEED'")
    kind = parts[1].lower()
    env_id = SIM_KINDS.get(kind)
    if env_id is None:
        raise SourceError(f"unknown simulator {parts[1]!r} in {spec!r}: use one of {sorted(SIM_KINDS)}")
    if len(parts) == 3:
        if not re.fullmatch(r"-?\d+", parts[2]):
            raise SourceError(f"bad seed {parts[2]!r} in {spec!r}: expected an integer")
        if "seed" in kw:
            raise SourceError(f"seed given twice: in {spec!r} and as seed={kw['seed']!r}")
        kw = {**kw, "seed": int(parts[2])}
    return SimSource(env_id, **kw)


def open_source(spec: str | int | os.PathLike, **kw: Any) -> FrameSource:
    """The ``FrameSource`` for ``spec`` (see the module docstring); ``kw`` go to its constructor.

    Raises ``SourceNotFound`` for a path that does not exist, ``SourceError`` for anything that
    is not a source, and ``TypeError`` for a keyword the chosen source does not take.
    """
    if isinstance(spec, bool):
        raise SourceError(f"unsupported source spec {spec!r}")
    if isinstance(spec, int):
        return CaptureSource(spec, **kw)
    if not isinstance(spec, (str, os.PathLike)):
        raise SourceError(f"unsupported source spec {spec!r} of type {type(spec).__name__}")
    s = os.fspath(spec)
    if not isinstance(spec, os.PathLike):
        if s.strip() == "":
            raise SourceError("empty source spec")
        if s.isdigit():
            return CaptureSource(int(s), **kw)
        if s.lower().startswith("sim:"):
            return _parse_sim(s, kw)
        m = _URL.match(s)
        if m:
            scheme = m.group(1).lower()
            if scheme == "file":
                s = urlsplit(s).path
            elif scheme in STREAM_SCHEMES:
                return CaptureSource(s, **kw)
            else:
                raise SourceError(f"unsupported URL scheme {scheme!r} in {_redact(s)!r}; "
                                  f"use one of {', '.join(STREAM_SCHEMES)}")
    path = Path(s).expanduser()
    if path.is_dir():
        return ImageSource.from_folder(path, **kw)
    if path.is_file():
        ext = path.suffix.lower()
        if ext in VIDEO_EXTENSIONS:
            return VideoSource(path, **kw)
        if _read_image(path) is not None:
            return ImageSource([path], **kw)
        if ext in IMAGE_EXTENSIONS:
            raise SourceError(f"{path}: not a readable video or image")
        return VideoSource(path, **kw)  # unknown extension: FFmpeg may still know it, else SourceError
    if path.exists():
        raise SourceError(f"{path} is neither a file nor a folder")
    if _GLOB_CHARS.search(s):
        return ImageSource.from_glob(s, **kw)
    raise SourceNotFound(f"no such file or folder: {path}")
