"""Distance-range bins and the values binned by them: one set of bins per kind of distance, named once."""

from __future__ import annotations

from typing import Callable

import numpy as np

# ground distance of objects (detections' distance error, road-user recall) and of depth pixels [m]
OBJECT_RANGES_M = ((0.0, 20.0), (20.0, 40.0), (40.0, 80.0))
# the relevant traffic light's stop line ahead of the front bumper (negative: just passed) [m]
STOP_LINE_RANGES_M = ((-3.0, 15.0), (15.0, 30.0), (30.0, 50.0))


def range_key(lo: float, hi: float) -> str:
    """A bin's report key, e.g. ``"0-20m"``, ``"-3-15m"``."""
    return f"{lo:g}-{hi:g}m"


class ByRange:
    """Values binned by the true distance they belong to; a bin holds ``lo <= distance < hi``.
    Values beyond every bin are kept for the overall figures."""

    def __init__(self, ranges: tuple[tuple[float, float], ...]) -> None:
        self.ranges = ranges
        self._true: list[np.ndarray] = []
        self._value: list[np.ndarray] = []

    def add(self, true_m, value) -> None:
        """One value per true distance (scalars or equal-length arrays)."""
        # dtypes are kept: a float32 depth map's medians stay float32 arithmetic
        self._true.append(np.asarray(true_m).reshape(-1))
        self._value.append(np.asarray(value).reshape(-1))

    def values(self) -> tuple[np.ndarray, np.ndarray]:
        """(true distance [m], value), every value added."""
        if not self._true:
            return np.zeros(0), np.zeros(0)
        return np.concatenate(self._true), np.concatenate(self._value)

    def reduce(self, fn: Callable[[np.ndarray], float], decimals: int | None) -> dict[str, float | None]:
        """``fn`` of each bin's values, rounded to ``decimals`` (None: not rounded); None for an empty bin."""
        true, value = self.values()
        out = {}
        for lo, hi in self.ranges:
            m = (true >= lo) & (true < hi)
            v = float(fn(value[m])) if m.any() else None
            out[range_key(lo, hi)] = v if v is None or decimals is None else round(v, decimals)
        return out

    def median_abs(self, decimals: int | None) -> dict[str, float | None]:
        return self.reduce(lambda v: np.median(np.abs(v)), decimals)

    def mean(self, decimals: int | None) -> dict[str, float | None]:
        return self.reduce(np.mean, decimals)

    def counts(self) -> dict[str, int]:
        true, _ = self.values()
        return {range_key(lo, hi): int(((true >= lo) & (true < hi)).sum()) for lo, hi in self.ranges}
