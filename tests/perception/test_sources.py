"""perception.sources: every kind of source on tiny inputs, real clips included, and bad input."""

from __future__ import annotations

import functools
import http.server
import logging
import shutil
import socket
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from perception.sources import (CaptureSource, ImageSource, SimSource, SourceError, SourceNotFound, VideoSource,
                                natural_key, open_source, to_rgb_uint8)
from perception.types import Frame

REALDATA = Path(__file__).resolve().parents[3] / "shared" / "realdata"
UDACITY = REALDATA / "udacity"
needs_realdata = pytest.mark.skipif(not (UDACITY / "videos" / "solidWhiteRight.mp4").exists(),
                                    reason=f"real clips not found under {REALDATA}")


def _bgr_frame(i: int, h: int = 48, w: int = 64) -> np.ndarray:
    """A BGR frame whose colour tells its index and whose channels are distinguishable."""
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :, 2] = 200  # red in BGR
    img[:, :, 0] = 20 * i  # blue grows with the index
    return img


def _write_video(path: Path, fourcc: str, n: int = 6, fps: float = 12.0) -> Path:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (64, 48))
    assert w.isOpened(), f"cannot write {path.suffix} with {fourcc}"
    for i in range(n):
        w.write(_bgr_frame(i))
    w.release()
    return path


# --- real clips ------------------------------------------------------------------------------------
@needs_realdata
@pytest.mark.parametrize("name,hw,fps", [("solidWhiteRight.mp4", (540, 960), 25.0),
                                         ("highway_cars.mp4", (720, 1280), 25.0)])
def test_real_video_size_timestamps_and_rgb_order(name, hw, fps):
    path = UDACITY / "videos" / name
    cap = cv2.VideoCapture(str(path))
    ref = [cap.read()[1] for _ in range(3)]
    cap.release()
    with open_source(path, max_frames=3) as src:
        assert isinstance(src, VideoSource) and src.fps == fps and src.size == hw and src.frame_count == 3
        frames = list(src)
    assert [f.index for f in frames] == [0, 1, 2]
    assert [f.timestamp_s for f in frames] == pytest.approx([0.0, 1 / fps, 2 / fps])
    for f, bgr in zip(frames, ref):
        assert isinstance(f, Frame) and f.image.shape == (*hw, 3) and f.image.dtype == np.uint8
        assert f.source == str(path)
        np.testing.assert_array_equal(f.image, bgr[:, :, ::-1])  # RGB = OpenCV's BGR reversed
        y, x = hw[0] // 2, hw[1] // 3
        assert tuple(f.image[y, x]) == tuple(bgr[y, x, ::-1])


@needs_realdata
def test_real_video_stride_frame_count_and_reiteration():
    src = open_source(str(UDACITY / "videos" / "highway_cars.mp4"), stride=10)
    assert src.frame_count == 4  # 38 frames, every 10th
    first = [(f.index, f.timestamp_s) for f in src]
    assert first == [(0, 0.0), (10, 0.4), (20, 0.8), (30, 1.2)]
    assert [(f.index, f.timestamp_s) for f in src] == first  # a second pass starts again
    src.close()
    src.close()


@needs_realdata
def test_image_folder_from_real_images(tmp_path):
    names = ["solidWhiteCurve.jpg", "solidWhiteRight.jpg", "solidYellowLeft.jpg"]
    for i, n in zip([10, 2, 1], names):  # natural order: img1, img2, img10
        shutil.copy(UDACITY / "images" / n, tmp_path / f"img{i}.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    with open_source(tmp_path, fps=5) as src:
        assert isinstance(src, ImageSource) and src.frame_count == 3 and src.fps == 5
        frames = list(src)
    assert [Path(p).name for p in src.paths] == ["img1.jpg", "img2.jpg", "img10.jpg"]
    assert [f.timestamp_s for f in frames] == pytest.approx([0.0, 0.2, 0.4])
    assert src.size == (540, 960)
    bgr = cv2.imread(str(tmp_path / "img1.jpg"))
    np.testing.assert_array_equal(frames[0].image, bgr[:, :, ::-1])


@needs_realdata
def test_glob_and_single_image(tmp_path):
    for n in ["test1.jpg", "test2.jpg", "straight_lines1.jpg"]:
        shutil.copy(UDACITY / "images" / n, tmp_path / n)
    with open_source(str(tmp_path / "test*.jpg")) as src:
        frames = list(src)
    assert [Path(p).name for p in src.paths] == ["test1.jpg", "test2.jpg"]
    assert [f.image.shape for f in frames] == [(720, 1280, 3)] * 2 and src.name.endswith("test*.jpg")
    with open_source(tmp_path / "test1.jpg") as one:
        [f] = list(one)
    assert f.index == 0 and f.timestamp_s == 0.0 and f.image.shape == (720, 1280, 3)


@needs_realdata
def test_truncated_mp4_ends_cleanly_with_a_warning(tmp_path, caplog):
    # solidWhiteRight.mp4 keeps its moov atom at the front, so OpenCV opens the first 40 % of
    # the file, reports the full 221 frames and decodes what is there. (A file with moov at the
    # end would not open at all: SourceError.) Either way: no crash, only valid frames.
    data = (UDACITY / "videos" / "solidWhiteRight.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(0.4 * len(data))])
    try:
        src = open_source(cut)
    except SourceError:
        return
    with caplog.at_level(logging.WARNING, logger="perception.sources"), src:
        frames = list(src)
    assert 0 < len(frames) < 221
    assert all(f.image.shape == (540, 960, 3) for f in frames)
    assert [f.index for f in frames] == list(range(len(frames)))
    assert f"read {len(frames)} of 221 expected frames" in caplog.text


# --- generated files ---------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix,fourcc", [(".avi", "MJPG"), (".mkv", "FFV1"), (".mp4", "mp4v")])
def test_generated_videos(tmp_path, suffix, fourcc):
    path = _write_video(tmp_path / f"clip{suffix}", fourcc, n=6, fps=12.0)
    with open_source(path) as src:
        assert src.fps == 12.0 and src.frame_count == 6 and src.size == (48, 64)
        frames = list(src)
    assert len(frames) == 6
    assert frames[3].timestamp_s == pytest.approx(0.25)
    r, g, b = frames[3].image[24, 32].astype(int)
    assert abs(r - 200) <= 6 and abs(b - 60) <= 6 and g <= 6  # BGR was swapped to RGB


def test_gif_animation(tmp_path):
    path = tmp_path / "anim.gif"
    imgs = [Image.fromarray(np.full((20, 30, 3), (200, 10 * i, 40 * i), np.uint8)) for i in range(5)]
    imgs[0].save(path, save_all=True, append_images=imgs[1:], duration=100, loop=0)
    with open_source(path) as src:
        frames = list(src)
        assert src.fps == pytest.approx(10.0)
    assert len(frames) == 5 and frames[0].image.shape == (20, 30, 3)
    assert frames[2].timestamp_s == pytest.approx(0.2)
    r, g, b = frames[2].image[5, 5].astype(int)
    assert abs(r - 200) <= 8 and abs(g - 20) <= 8 and abs(b - 80) <= 8


def test_gif_pillow_fallback(tmp_path, monkeypatch):
    path = tmp_path / "anim.gif"
    # distinct frames: Pillow merges identical consecutive frames when it writes a gif
    imgs = [Image.fromarray(np.full((8, 8, 3), (255, 0, 50 * i), np.uint8)) for i in range(3)]
    imgs[0].save(path, save_all=True, append_images=imgs[1:], duration=50)

    class Closed:
        def __init__(self, *a, **k): pass
        def isOpened(self): return False
        def release(self): pass

    monkeypatch.setattr(cv2, "VideoCapture", Closed)
    with VideoSource(path) as src:
        frames = list(src)
    assert len(frames) == 3 and src.fps == pytest.approx(20.0)
    assert tuple(frames[1].image[0, 0]) == (255, 0, 50)


def test_grayscale_rgba_and_16bit_pngs(tmp_path):
    gray = np.arange(48 * 64, dtype=np.uint32).reshape(48, 64) % 256
    cv2.imwrite(str(tmp_path / "a_gray.png"), gray.astype(np.uint8))
    bgra = np.zeros((48, 64, 4), np.uint8)
    bgra[..., 2], bgra[..., 3] = 255, 80  # red, mostly transparent
    cv2.imwrite(str(tmp_path / "b_rgba.png"), bgra)
    cv2.imwrite(str(tmp_path / "c_16bit.png"), np.full((48, 64, 3), (0, 0, 65535), np.uint16))
    frames = list(open_source(tmp_path))
    assert all(f.image.shape == (48, 64, 3) and f.image.dtype == np.uint8 for f in frames)
    np.testing.assert_array_equal(frames[0].image[..., 1], gray.astype(np.uint8))
    assert tuple(frames[1].image[0, 0]) == (255, 0, 0)  # alpha dropped, still red
    assert tuple(frames[2].image[0, 0]) == (255, 0, 0)  # 16-bit scaled to 8-bit


def test_to_rgb_uint8_shapes_and_dtypes():
    assert to_rgb_uint8(np.zeros((4, 5), np.uint8)).shape == (4, 5, 3)
    assert to_rgb_uint8(np.zeros((4, 5, 1), np.uint8)).shape == (4, 5, 3)
    rgba = np.zeros((4, 5, 4), np.uint8)
    rgba[..., 0] = 255
    assert tuple(to_rgb_uint8(rgba, bgr=False)[0, 0]) == (255, 0, 0)
    assert tuple(to_rgb_uint8(rgba, bgr=True)[0, 0]) == (0, 0, 255)
    assert to_rgb_uint8(np.full((2, 2), 65535, np.uint16))[0, 0, 0] == 255
    assert to_rgb_uint8(np.full((2, 2, 3), 0.5, np.float32))[0, 0, 0] == 128
    with pytest.raises(SourceError):
        to_rgb_uint8(np.zeros((4, 5, 2), np.uint8))
    with pytest.raises(SourceError):
        to_rgb_uint8(np.zeros((4, 5), np.int32))


def test_natural_key():
    assert sorted(["f10.png", "F2.png", "f1.png"], key=natural_key) == ["f1.png", "F2.png", "f10.png"]


# --- simulator --------------------------------------------------------------------------------------
def test_sim_source_yields_frames_and_ground_truth():
    with open_source("sim:town:3", steps=5) as src:
        assert isinstance(src, SimSource) and src.size == (160, 320) and src.frame_count == 5
        frames = list(src)
        gt = src.last_ground_truth
    assert len(frames) == 5
    assert all(f.image.shape == (160, 320, 3) and f.image.dtype == np.uint8 for f in frames)
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert frames[4].timestamp_s == pytest.approx(4 * src.dt_s)
    assert frames[0].source == "sim:drivestack/Town-v0:3"
    assert gt is not None and hasattr(gt, "ego")
    assert src.env is None  # closed


def test_sim_source_is_deterministic_and_spec_parsing():
    a = [f.image for f in SimSource(seed=1, steps=3)]
    b = [f.image for f in SimSource(seed=1, steps=3)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    src = open_source("sim:highway", steps=1)
    assert src.env_id == "drivestack/Highway-v0" and src.seed == 0
    src.close()
    for bad in ["sim:", "sim:moon", "sim:town:x", "sim:town:1:2"]:
        with pytest.raises(SourceError):
            open_source(bad)


# --- webcams and streams ---------------------------------------------------------------------------------
def test_capture_spec_parsing(monkeypatch):
    seen = []

    def fake_init(self, target, **kw):
        seen.append((target, kw))

    monkeypatch.setattr(CaptureSource, "__init__", fake_init)
    monkeypatch.setattr(CaptureSource, "close", lambda self: None)
    for spec in ["0", 2, "rtsp://cam.local/live", "http://x/y.mjpg", "https://x/y"]:
        assert isinstance(open_source(spec, reconnect_s=0.5), CaptureSource)
    assert [t for t, _ in seen] == [0, 2, "rtsp://cam.local/live", "http://x/y.mjpg", "https://x/y"]
    assert all(kw == {"reconnect_s": 0.5} for _, kw in seen)
    with pytest.raises(SourceError, match="unsupported URL scheme"):
        open_source("ftp://example.invalid/a.mp4")


def test_unreachable_stream_raises_quickly():
    t = time.monotonic()
    with pytest.raises(SourceError, match="could not open stream"):
        open_source("rtsp://127.0.0.1:9/x", open_timeout_s=1.0)
    assert time.monotonic() - t < 3.0


def test_silent_server_hits_the_open_timeout():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    conns = []

    def accept():
        while True:
            try:
                conns.append(srv.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        t = time.monotonic()
        with pytest.raises(SourceError):
            CaptureSource(f"rtsp://127.0.0.1:{srv.getsockname()[1]}/x", open_timeout_s=0.5)
        assert time.monotonic() - t < 3.0
    finally:
        srv.close()
        for c in conns:
            c.close()


def test_http_stream_of_a_finite_file_ends(tmp_path):
    _write_video(tmp_path / "clip.avi", "MJPG", n=5)
    handler = functools.partial(type("Quiet", (http.server.SimpleHTTPRequestHandler,),
                                     {"log_message": lambda *a: None}), directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/clip.avi"
        with open_source(url, open_timeout_s=2.0) as src:
            frames = list(src)
        assert len(frames) == 5 and frames[0].source == url and frames[0].image.shape == (48, 64, 3)
        assert all(b.timestamp_s >= a.timestamp_s for a, b in zip(frames, frames[1:]))
    finally:
        server.shutdown()
        server.server_close()


class _FakeCap:
    """Reads ``n`` frames, then fails like a dropped stream."""

    def __init__(self, n):
        self.n = n

    def isOpened(self):
        return True

    def get(self, prop):
        return {cv2.CAP_PROP_FPS: 15.0, cv2.CAP_PROP_FRAME_WIDTH: 8, cv2.CAP_PROP_FRAME_HEIGHT: 6}.get(prop, 0.0)

    def read(self):
        if self.n <= 0:
            return False, None
        self.n -= 1
        return True, np.zeros((6, 8, 3), np.uint8)

    def grab(self):
        return self.read()[0]

    def release(self):
        pass


def test_dropped_stream_reconnects_then_ends(monkeypatch, caplog):
    opens = iter([_FakeCap(3), _FakeCap(2)])  # first connection, one successful reconnect, then nothing
    monkeypatch.setattr(CaptureSource, "_open", lambda self: next(opens, None))
    src = CaptureSource("rtsp://user:secret@127.0.0.1:9/live", reconnect_s=0.3)
    assert src.name == "rtsp://user:***@127.0.0.1:9/live" and src.fps == 15.0 and src.size == (6, 8)
    assert src.frame_count is None
    t = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="perception.sources"):
        frames = list(src)
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert "stream ended, 5 frames read" in caplog.text and "secret" not in caplog.text
    assert time.monotonic() - t < 2.0


def test_webcam_that_does_not_exist(monkeypatch):
    monkeypatch.setattr(CaptureSource, "_open", lambda self: None)
    with pytest.raises(SourceError, match="could not open webcam 7"):
        open_source("7")


# --- bad input -----------------------------------------------------------------------------------------
def test_missing_path(tmp_path):
    missing = tmp_path / "nope.mp4"
    with pytest.raises(FileNotFoundError, match="nope.mp4"):
        open_source(missing)
    with pytest.raises(SourceNotFound):
        open_source(str(tmp_path / "nowhere" / "frames"))


@pytest.mark.parametrize("name,content", [("empty.mp4", b""), ("text.mp4", b"hello, not a video\n" * 20),
                                          ("text.jpg", b"not a jpeg"), ("notes.txt", b"plain text")])
def test_not_a_video_or_image(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SourceError, match="not a readable video or image") as e:
        open_source(path)
    assert name in str(e.value)


def test_empty_folder_and_glob(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(SourceError, match=r"no images in folder .*\.jpg.*\.png"):
        open_source(tmp_path)
    with pytest.raises(SourceError, match="no images match"):
        open_source(str(tmp_path / "*.png"))


def test_unsupported_specs():
    for bad in ["", "   ", 1.5, None, True]:
        with pytest.raises(SourceError):
            open_source(bad)
    with pytest.raises(TypeError):
        open_source("sim:town", fps=3)  # a keyword the chosen source does not take


def test_mixed_sizes_each_at_its_own_size_or_resize_to_first(tmp_path, caplog):
    cv2.imwrite(str(tmp_path / "f1.png"), _bgr_frame(1, 48, 64))
    cv2.imwrite(str(tmp_path / "f2.png"), _bgr_frame(2, 30, 40))
    cv2.imwrite(str(tmp_path / "f3.png"), _bgr_frame(3, 20, 20))
    src = open_source(tmp_path)
    frames = list(src)
    assert [f.image.shape for f in frames] == [(48, 64, 3), (30, 40, 3), (20, 20, 3)]
    assert [f.index for f in frames] == [0, 1, 2] and src.size == (20, 20)
    assert np.array_equal(frames[1].image, _bgr_frame(2, 30, 40)[:, :, ::-1])  # untouched pixels, RGB
    with caplog.at_level(logging.WARNING, logger="perception.sources"):
        frames = list(open_source(tmp_path, resize_to_first=True))
    assert [f.image.shape for f in frames] == [(48, 64, 3)] * 3
    assert caplog.text.count("differ in size") == 1


def test_unreadable_image_in_folder_is_skipped(tmp_path, caplog):
    cv2.imwrite(str(tmp_path / "f1.png"), _bgr_frame(1))
    (tmp_path / "f2.png").write_bytes(b"broken")
    cv2.imwrite(str(tmp_path / "f3.png"), _bgr_frame(3))
    with caplog.at_level(logging.WARNING, logger="perception.sources"):
        frames = list(open_source(tmp_path))
    assert [f.index for f in frames] == [0, 2]
    assert "f2.png" in caplog.text and "skipping" in caplog.text


def test_all_images_unreadable_is_an_error(tmp_path):
    (tmp_path / "a.png").write_bytes(b"broken")
    (tmp_path / "b.jpg").write_bytes(b"")
    with pytest.raises(SourceError, match="none of the 2 images"):
        list(open_source(tmp_path))


def test_bad_parameters(tmp_path):
    path = _write_video(tmp_path / "c.avi", "MJPG", n=2)
    for kw in [{"stride": 0}, {"stride": 1.5}, {"max_frames": -1}]:
        with pytest.raises(ValueError):
            open_source(path, **kw)
    assert list(open_source(path, max_frames=0)) == []


def test_video_with_zero_frames(tmp_path):
    # A zero-frame MJPG avi opens in OpenCV but yields no frame: "empty video". (A zero-frame
    # mp4 or mkv written by OpenCV does not even open: "not a readable video or image".)
    path = tmp_path / "zero.avi"
    cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48)).release()
    with pytest.raises(SourceError, match="empty video"):
        open_source(path)
