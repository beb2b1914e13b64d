"""A screenshot of the Rerun web viewer on a drive's recording, made headless.

Usage: python docs/rerun_screenshot.py [--rrd RUN/episode-000/recording.rrd] [--seed 3] [--route-length 150]
                                       [--step 199] [--size 1600x900] [--timeout 420] [--out rerun_web.png]

Without ``--rrd`` it first drives the shipped models and policy with ``--rerun`` into a temporary
folder. Then it serves the recording with rerun's own web viewer (``rerun REC.rrd --web-viewer``; the
viewer's wasm ships inside rerun-sdk, nothing is downloaded) on 127.0.0.1 only, opens it in Debian's
Chromium through Playwright, headless, with WebGL in software (SwiftShader), pauses the time cursor
at ``--step``, waits until two captures a few seconds apart are the same picture (every chunk
loaded and drawn) and saves the last one. The servers it started are stopped on the way out.
Chromium's software WebGL draws no images here (no camera, no masks): the README's picture,
docs/img/rerun.png, comes from the native viewer instead (docs/rerun_native_screenshot.py).

Needs the rerun and test extras (``pip install -e ".[rerun,test]"``) and ``apt-get install -y
chromium``. Software rendering is slow: on 2 CPU cores a 500-step drive from the models (about
70 MB) takes 2-4 minutes to load and draw. Not a test: nothing should need a WebGL render to pass.
"""

from __future__ import annotations

import argparse
import base64
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing it

CHROMIUM = "/usr/bin/chromium"
# WebGL through ANGLE on SwiftShader: no GPU and no display here. The viewer picks WebGL by itself
# when WebGPU has no adapter.
CHROMIUM_FLAGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"]
TIME_FIELD = (0.27, 135)  # the time cursor's text field: x as a share of the width, y [px] up from the bottom
SETTLE_EVERY_S = 8.0  # between captures compared to decide that the viewer has finished drawing


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def drive(out: Path, seed: int, route_length_m: float) -> Path:
    subprocess.run([sys.executable, "-m", "drivestack", "drive", "--seed", str(seed), "--route-length", str(route_length_m),
                    "--rerun", "--out", str(out), "--quiet"], check=True)
    return out / "episode-000" / "recording.rrd"


def screenshot_blueprint(path: Path) -> Path:
    """The recordings' own layout with the side panels folded away and playback paused."""
    import rerun.blueprint as rrb

    from drivestack.rerun_log import APPLICATION_ID, default_layout

    rrb.Blueprint(default_layout(), rrb.BlueprintPanel(state="collapsed"), rrb.SelectionPanel(state="collapsed"),
                  rrb.TimePanel(state="expanded", timeline="step", play_state="paused")).save(APPLICATION_ID, path)
    return path


def serve(rrd: Path, blueprint: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """``rerun --web-viewer`` on loopback ports; returns the process and the page that opens the recording."""
    grpc, web = free_port(), free_port()
    env = dict(os.environ, BROWSER="true")  # rerun opens a browser on the address: let it open nothing
    proc = subprocess.Popen(["rerun", str(rrd), str(blueprint), "--web-viewer", "--bind", "127.0.0.1", "--port", str(grpc),
                             "--web-viewer-port", str(web), "--hide-welcome-screen"],
                            stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
    page = f"http://127.0.0.1:{web}/"
    deadline = time.monotonic() + 30.0
    while True:
        try:
            urllib.request.urlopen(page, timeout=2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop(proc)
                raise SystemExit(f"rerun's web viewer did not come up on {page}; its output:\n{log.read_text()[-2000:]}")
            time.sleep(0.5)
    return proc, page + "?url=" + urllib.parse.quote(f"rerun+http://127.0.0.1:{grpc}/proxy", safe="")


def stop(proc: subprocess.Popen) -> None:
    """Stops the server and the viewer binary its launcher started (their own process group)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def capture(url: str, step: int, size: tuple[int, int], timeout_s: float, out: Path) -> float:
    """Opens the viewer at ``step`` and saves the first picture that stays the same; returns the seconds it took."""
    from playwright.sync_api import sync_playwright

    start = time.monotonic()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": size[0], "height": size[1]})
            page.goto(url, timeout=60_000)
            # CDP's capture, not page.screenshot: the latter waits for web fonts the offline page never gets
            cdp = page.context.new_cdp_session(page)
            settle(cdp, out, start, timeout_s)
            # the time panel's cursor field (the viewer is one canvas: no element to find): type the step there.
            # A #when= fragment in the page's url parameter did not move the cursor of a proxied recording.
            page.mouse.click(TIME_FIELD[0] * size[0], size[1] - TIME_FIELD[1])
            page.keyboard.press("Control+A")
            page.keyboard.type(str(step))
            page.keyboard.press("Enter")
            page.mouse.move(size[0] / 2, 5)  # away from the views: no hover highlight in the picture
            settle(cdp, out, start, timeout_s)
            return time.monotonic() - start
        finally:
            browser.close()


def settle(cdp, out: Path, start: float, timeout_s: float) -> None:
    """Captures until two pictures in a row are the same (everything loaded and drawn)."""
    last = None
    while True:
        time.sleep(SETTLE_EVERY_S)
        png = base64.b64decode(cdp.send("Page.captureScreenshot", {"format": "png"})["data"])
        out.write_bytes(png)  # the latest picture stays, for a look, even if it never settles
        if png == last:
            return
        last = png
        if time.monotonic() - start > timeout_s:
            raise SystemExit(f"the viewer was still changing after {timeout_s:.0f} s (its latest picture is in "
                             f"{out}); raise --timeout")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rrd", type=Path, help="a recording to show (default: drive one first)")
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--route-length", type=float, default=150.0)
    p.add_argument("--step", type=int, default=199, help="the time cursor, on the step timeline")
    p.add_argument("--size", default="1600x900", help="the browser's viewport, WIDTHxHEIGHT [px]")
    p.add_argument("--timeout", type=float, default=420.0, help="[s] to load and draw the recording")
    p.add_argument("--out", type=Path, default=Path("rerun_web.png"))
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a plain kill still stops the servers (finally blocks)
    width, height = (int(v) for v in args.size.lower().split("x"))
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"no browser at {CHROMIUM}: apt-get install -y chromium")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rrd = args.rrd or drive(tmp / "drive", args.seed, args.route_length)
        if not rrd.is_file():
            raise SystemExit(f"no recording at {rrd}")
        proc, url = serve(rrd, screenshot_blueprint(tmp / "screenshot.rbl"), tmp / "rerun.log")
        try:
            took = capture(url, args.step, (width, height), args.timeout, args.out)
        finally:
            stop(proc)
    print(f"{args.out}: {width}x{height}, step {args.step} of {rrd}, settled after {took:.0f} s")


if __name__ == "__main__":
    main()
