"""Shared test setup: no network for ultralytics, no writes outside temporary folders."""

import os
import tempfile

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "false")
os.environ.setdefault("YOLO_CONFIG_DIR", tempfile.mkdtemp(prefix="yolo-cfg-"))
# ONNX exports of the session's models (random ones differ every run) stay out of ~/.cache/drivestack/onnx
os.environ.setdefault("DRIVESTACK_ONNX_CACHE", tempfile.mkdtemp(prefix="onnx-cache-"))
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
