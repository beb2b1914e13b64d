"""End-to-end observation: the camera image itself, for the pixels baseline policy."""

from __future__ import annotations

PIXEL_LAYOUT_ID = "drivestack-pixels-v1"

from pathlib import Path

DEFAULT_PIXEL_POLICY = Path(__file__).parent / "models" / "pixels_policy.zip"
