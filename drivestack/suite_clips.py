"""The last seconds of a failed suite case as an mp4 of the drive view (``drivestack eval suite --out``).

``ClipTap`` is an ``on_step`` hook (``control.suite_eval.run_case``): it keeps what the drive view of
each of the last ``CLIP_S`` seconds needs (the camera image, what perception reported, the HUD's
state) and composes the frames (``drivestack.hud.compose``) only when the clip is written, so a case
that passes costs a copy of its camera images and nothing more. A row that runs without the camera
(labels) replays the failed case instead, which is deterministic, and renders only its last seconds
(``from_step``): the camera is drawn by a view of its own (``sim.env.make_view``), so the labels the
policy reads are those of the first run (with the camera on they would drop hidden objects).
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np

CLIP_S = 4.0  # how much of a failed case's end the clip holds [s]


def clip_steps(dt_s: float) -> int:
    """How many steps of ``dt_s`` the clip holds."""
    return max(1, int(round(CLIP_S / dt_s)))


class ClipTap:
    def __init__(self, env, policy, source: str, dt_s: float, from_step: int = 0, overlay: bool = True):
        self.env = env.unwrapped
        self.policy, self.source = policy, source
        self.overlay = overlay  # draw what perception reported (not for the pixels policy, which reads no boxes)
        self.from_step = from_step  # first step kept (a replay: the last seconds only)
        self.frames: deque = deque(maxlen=clip_steps(dt_s))
        self.fps = 1.0 / dt_s
        self._step = 0
        self._view = None  # a view of our own when the env renders no camera
        self._world = None

    def __call__(self, obs, action, info: dict) -> None:
        from drivestack.drive_loop import hud_state

        self._step += 1
        if self._step < self.from_step:
            return
        pf = info.get("perception") if self.overlay else None
        self.frames.append((self._camera().copy(), pf, hud_state(self.env, self.policy, self.source, info, action)))

    def _camera(self) -> np.ndarray:
        u = self.env
        if u.config.render_camera:
            return u.view.last.rgb
        if self._view is None or self._world is not u.world:
            from sim.env import make_view

            self._view, self._world = make_view(u.world, u.config, u.seed_used), u.world
        return self._view.render().rgb

    def write(self, path: Path) -> int:
        """The kept frames as an mp4 (OpenCV 'mp4v') at ``path``; the number of frames written."""
        import cv2

        from drivestack.hud import compose

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = None
        try:
            for rgb, pf, hud in self.frames:
                view = compose(rgb, pf, hud)
                if writer is None:
                    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (view.shape[1], view.shape[0]))
                    if not writer.isOpened():
                        raise RuntimeError(f"OpenCV cannot write {path} (mp4v codec unavailable or folder not writable)")
                writer.write(cv2.cvtColor(view, cv2.COLOR_RGB2BGR))
        finally:
            if writer is not None:
                writer.release()
        return len(self.frames)
