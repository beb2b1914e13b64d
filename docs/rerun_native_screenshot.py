"""A screenshot of the native Rerun viewer on a drive's recording (docs/img/rerun.png), made headless.

Usage: python docs/rerun_native_screenshot.py [--rrd RUN/episode-000/recording.rrd] [--seed 3] [--route-length 150]
                                              [--step 199] [--size 1600x900] [--timeout 300] [--out docs/img/rerun.png]

Without ``--rrd`` it first drives the shipped models and policy with ``--rerun`` into a temporary
folder. Then it starts rerun-sdk's native viewer with no window (``rerun --headless``: the viewer
paints offscreen, no X display needed) on 127.0.0.1, drives it through its gRPC control API
(``rerun.experimental.ViewerClient``): opens the recording, folds the blueprint and selection panels
away and the time panel down to its bar, pauses the time cursor at ``--step`` and takes screenshots
until two in a row are the same (every chunk loaded and drawn); the last one is saved, recompressed.
The viewer it started is stopped on the way out.

Needs the rerun extra (``pip install -e ".[rerun]"``, rerun-sdk >= 0.41 for ViewerClient) and a
Vulkan driver; with no GPU, Mesa's software one: ``apt-get install -y mesa-vulkan-drivers``
(lavapipe, "llvmpipe" in the viewer's log). Unlike the web viewer in software WebGL
(docs/rerun_screenshot.py), this draws the camera image and the segmentation masks. On 2 CPU cores
a 526-step drive from the models (70 MB) loads and settles in about 15 s (the drive before it takes
30-60 s). Not a test.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing it
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rerun_screenshot import drive, free_port, stop  # noqa: E402  (docs/, beside this file)

SETTLE_EVERY_S = 4.0  # between screenshots compared to decide that the viewer has finished drawing
# command-palette ids (ViewerClient.list_commands): the side panels start expanded, the time panel with its streams
PANELS_OFF = ("ui.toggle_blueprint_panel", "ui.toggle_selection_panel", "recording.toggle_time_panel")


def start_viewer(size: str, renderer: str, log: Path) -> tuple[subprocess.Popen, str]:
    """``rerun --headless`` on a loopback port; returns the process and its gRPC address."""
    port = free_port()
    proc = subprocess.Popen(["rerun", "--headless", "--bind", "127.0.0.1", "--port", str(port), "--hide-welcome-screen",
                             "--window-size", size, "--renderer", renderer],
                            stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    return proc, f"rerun+http://127.0.0.1:{port}/proxy"


def connect(proc: subprocess.Popen, url: str, log: Path, timeout_s: float = 60.0):
    from rerun.experimental import ViewerClient

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            client = ViewerClient.connect(url)
            client.get_state()
            return client
        except Exception as e:  # noqa: BLE001  (not up yet: refused, unavailable)
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the viewer did not answer on {url} ({e}); its output:\n{log.read_text()[-3000:]}")
            time.sleep(1.0)


def capture(client, rrd: Path, step: int, timeout_s: float, out: Path) -> float:
    """Shows ``rrd`` at ``step`` and saves the first picture that stays the same; returns the seconds it took."""
    start = time.monotonic()
    client.open(str(rrd.resolve()))
    while True:
        state = client.get_state()
        if state.recordings and not state.loading:
            break
        if time.monotonic() - start > timeout_s:
            raise SystemExit(f"the viewer did not load {rrd} in {timeout_s:.0f} s: {state}")
        time.sleep(1.0)
    rec = state.recordings[0]
    client.set_location(rec.location)  # the recording itself, not its dataset's page in the viewer catalog
    if "step" not in {t.name for t in rec.timelines}:
        raise SystemExit(f"{rrd} has no step timeline: {rec.timelines}")
    for command in PANELS_OFF:
        client.run_command(command)
    client.set_time("step", sequence=step, play_state="paused", recording=rec.store_id)
    last = None
    while True:
        time.sleep(SETTLE_EVERY_S)
        png = client.take_screenshot()
        out.write_bytes(png)  # the latest picture stays, for a look, even if it never settles
        if png == last:
            recompress(out)
            return time.monotonic() - start
        last = png
        if time.monotonic() - start > timeout_s:
            raise SystemExit(f"the viewer was still changing after {timeout_s:.0f} s (its latest picture is in "
                             f"{out}); raise --timeout")


def recompress(path: Path) -> None:
    """The same pixels at PNG's strongest compression (the viewer's PNG is about a third larger)."""
    import cv2

    cv2.imwrite(str(path), cv2.imread(str(path), cv2.IMREAD_UNCHANGED), [cv2.IMWRITE_PNG_COMPRESSION, 9])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rrd", type=Path, help="a recording to show (default: drive one first)")
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--route-length", type=float, default=150.0)
    p.add_argument("--step", type=int, default=199, help="the time cursor, on the step timeline")
    p.add_argument("--size", default="1600x900", help="the viewer's size, WIDTHxHEIGHT [px]")
    p.add_argument("--renderer", default="vulkan", choices=("vulkan", "gl"), help="the viewer's wgpu backend")
    p.add_argument("--timeout", type=float, default=300.0, help="[s] to load and draw the recording")
    p.add_argument("--out", type=Path, default=Path("docs/img/rerun.png"))
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a plain kill still stops the viewer (finally blocks)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rrd = args.rrd or drive(tmp / "drive", args.seed, args.route_length)
        if not rrd.is_file():
            raise SystemExit(f"no recording at {rrd}")
        log = tmp / "rerun.log"
        proc, url = start_viewer(args.size, args.renderer, log)
        try:
            took = capture(connect(proc, url, log), rrd, args.step, args.timeout, args.out)
        finally:
            stop(proc)
    print(f"{args.out}: {args.size}, step {args.step} of {rrd}, settled after {took:.0f} s")


if __name__ == "__main__":
    main()
