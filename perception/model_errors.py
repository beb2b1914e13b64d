"""The models' errors that change a driver's decisions, as state carried from frame to frame.

``PerceptionNoise``'s first errors (perception.ground_truth) are drawn afresh every frame: a miss lasts one
frame, a range error is gone 50 ms later and speeds are exact. The models' are not (session 32's error
statistics, validation perception seeds 30000-30019, navigation town): a car missed 20-60 m off stays missed 5-6
frames on average; a box foot off by a fraction of a pixel row stays off for about a second, which at 35 m is
several metres of range and, through the track's fitted velocity, metres per second of speed; a light is read
wrong for runs of frames. A teacher driving labels with independent per-frame errors never meets the states it
meets from the models (session 33: it waited at a permitted left for a far parked car read as oncoming), so a
policy trained there never learns them. Each error here is an AR(1) process or a two-state Markov chain per
labelled object, with the stationary size the models show and a correlation time.
"""

from __future__ import annotations

import math

import numpy as np

# what the models read (columns) for each true light state (rows) within 60 m of the stop line, in frames,
# session 32's error statistics (the pair, fp32 ONNX Runtime, the map prior) with session 33's lamp fix applied to
# red read green (23 of 1,044 frames before, about 60 % of that after: light state within 10 m 0.838 -> 0.940)
LIGHT_READ_P = {
    "red": {"red": 0.980, "green": 0.014, "none": 0.006},
    "green": {"green": 0.815, "none": 0.108, "red": 0.065, "yellow": 0.012},
    "yellow": {"yellow": 0.940, "red": 0.060},
}


def ar1_step(prev: float, std: float, dt_s: float, corr_s: float, rng: np.random.Generator) -> float:
    """One step of a zero-mean AR(1) process of stationary std ``std`` and correlation time ``corr_s`` [s]."""
    a = math.exp(-dt_s / corr_s) if corr_s > 0 else 0.0
    return a * prev + math.sqrt(1.0 - a * a) * std * float(rng.normal())


def miss_switch_probs(miss_prob: float, mean_run_frames: float) -> tuple[float, float]:
    """(P(seen -> missed), P(missed -> seen)) per frame of a two-state chain that misses ``miss_prob`` of the frames
    in runs of ``mean_run_frames`` on average; a run is at least the independent draw's 1 / (1 - miss_prob)."""
    if miss_prob <= 0.0:
        return 0.0, 1.0
    if miss_prob >= 1.0:
        return 1.0, 0.0
    run = max(mean_run_frames, 1.0 / (1.0 - miss_prob))
    back = 1.0 / run
    return miss_prob * back / (1.0 - miss_prob), back


class ObjectErrors:
    """Per labelled object (its instance id): the foot-row error [px], the lateral error [m] and whether it is
    being missed, stepped once a frame; objects not in view this frame are forgotten (a new sighting starts a fresh
    error drawn from the stationary size, as a new track would)."""

    def __init__(self):
        self.state: dict[int, tuple[float, float, float, bool]] = {}  # id -> (time [s], row err [px], lat err [m], missed)

    def reset(self) -> None:
        self.state = {}

    def step(self, t_s: float, ids: list[int], miss_probs: np.ndarray, run_frames: np.ndarray, row_std_px: float,
             lateral_std_m: float, corr_s: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row error [px], lateral error [m], missed) of each id at time ``t_s``; ``miss_probs`` and ``run_frames``
        per id (by its range)."""
        n = len(ids)
        rows, lats, missed = np.zeros(n), np.zeros(n), np.zeros(n, bool)
        new = {}
        for k, oid in enumerate(ids):
            old = self.state.get(oid)
            p_miss, run = float(miss_probs[k]), float(run_frames[k])
            if old is None:
                row = row_std_px * float(rng.normal()) if row_std_px else 0.0
                lat = lateral_std_m * float(rng.normal()) if lateral_std_m else 0.0
                miss = bool(rng.random() < p_miss)
            else:
                t0, row0, lat0, miss0 = old
                dt = max(t_s - t0, 0.0)
                row = ar1_step(row0, row_std_px, dt, corr_s, rng) if row_std_px else 0.0
                lat = ar1_step(lat0, lateral_std_m, dt, corr_s, rng) if lateral_std_m else 0.0
                to_miss, to_seen = miss_switch_probs(p_miss, run)
                miss = (rng.random() >= to_seen) if miss0 else bool(rng.random() < to_miss)
            rows[k], lats[k], missed[k] = row, lat, miss
            new[oid] = (t_s, row, lat, bool(miss))
        self.state = new
        return rows, lats, missed


class LightConfusion:
    """The light state as the models read it: a reading drawn from ``LIGHT_READ_P`` for the true state, kept for
    ``run_frames`` frames on average (redrawn at once when the true state changes), confusions scaled by ``scale``
    (1: as measured; 0: always right)."""

    def __init__(self, scale: float, run_frames: float):
        self.scale = scale
        self.redraw_p = 1.0 / max(run_frames, 1.0)
        self.truth = None
        self.reading = None

    def reset(self) -> None:
        self.truth = self.reading = None

    def read(self, truth: str, rng: np.random.Generator) -> str:
        if self.scale <= 0.0 or truth not in LIGHT_READ_P:
            self.truth = self.reading = truth
            return truth
        if truth != self.truth or rng.random() < self.redraw_p:
            table = LIGHT_READ_P[truth]
            wrong = {s: p * self.scale for s, p in table.items() if s != truth}
            states = [truth, *wrong]
            probs = np.array([max(1.0 - sum(wrong.values()), 0.0), *wrong.values()])
            self.reading = states[int(rng.choice(len(states), p=probs / probs.sum()))]
            self.truth = truth
        return self.reading
