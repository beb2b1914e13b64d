"""The relevant traffic light: state confusion over ``LIGHT_STATES`` and the stop-line distance error.

States are indices into ``LIGHT_STATES``; 0 ("none") is no relevant light (truth: none within the
light head's range, as ``perception.hydranet.light_target`` labels it; prediction: none reported).
"""

from __future__ import annotations

import numpy as np

from common.vocab import LIGHT_STATES

from .ranges import STOP_LINE_RANGES_M, ByRange

# the light target's span (issue 16: the state right on >= 95 % of frames whose stop line is this near): from
# the nearest bin's start (just past the line) to here [m]
LIGHT_TARGET_RANGE_M = 30.0


class LightConfusion:
    """Frame counts ``matrix[true, predicted]`` over ``LIGHT_STATES``, and the rates derived from it."""

    def __init__(self) -> None:
        self.matrix = np.zeros((len(LIGHT_STATES), len(LIGHT_STATES)), np.int64)

    def add(self, true_state, pred_state) -> None:
        """State indices: ints or equal-length arrays."""
        np.add.at(self.matrix, (np.asarray(true_state, np.int64), np.asarray(pred_state, np.int64)), 1)

    def accuracy(self) -> float | None:
        """Right states over all frames, "none" included."""
        n = self.matrix.sum()
        return float(np.trace(self.matrix) / n) if n else None

    def lit_accuracy(self) -> float | None:
        """Right states over the frames whose truth has a light."""
        lit = self.matrix[1:].sum()
        return float(np.trace(self.matrix[1:, 1:]) / lit) if lit else None

    def recall(self, state: int) -> float | None:
        n = self.matrix[state].sum()
        return float(self.matrix[state, state] / n) if n else None

    def precision(self, state: int) -> float | None:
        n = self.matrix[:, state].sum()
        return float(self.matrix[state, state] / n) if n else None

    def balanced_accuracy(self) -> float | None:
        """Mean recall over the states that occur in the truth."""
        recalls = [r for s in range(len(LIGHT_STATES)) if (r := self.recall(s)) is not None]
        return float(np.mean(recalls)) if recalls else None

    def missed_as_none(self) -> float | None:
        """Frames with a light reported as "none", over the frames with a light."""
        lit = self.matrix[1:].sum()
        return float(self.matrix[1:, 0].sum() / lit) if lit else None

    def none_false_alarm_rate(self) -> float | None:
        """Frames without a light reported with one, over the frames without."""
        n = self.matrix[0].sum()
        return float(self.matrix[0, 1:].sum() / n) if n else None


class LightTally:
    """The confusion matrix, the state's rightness by true stop-line distance (frames with a light),
    and the stop-line distance error where both the truth and the prediction have a light."""

    def __init__(self) -> None:
        self.confusion = LightConfusion()
        self.right_by_range = ByRange(STOP_LINE_RANGES_M)  # 1 / 0 per frame with a light
        self.distance_error = ByRange(STOP_LINE_RANGES_M)  # predicted - true stop-line distance [m]

    def add(self, true_state, true_distance_m, pred_state, pred_distance_m) -> None:
        """One frame (scalars) or a batch (arrays): state indices and stop-line distances [m] (NaN unknown)."""
        t, p = np.atleast_1d(np.asarray(true_state, np.int64)), np.atleast_1d(np.asarray(pred_state, np.int64))
        dt, dp = np.atleast_1d(true_distance_m), np.atleast_1d(pred_distance_m)
        self.confusion.add(t, p)
        lit = t > 0
        self.right_by_range.add(dt[lit], t[lit] == p[lit])
        both = lit & (p > 0) & np.isfinite(dp)
        self.distance_error.add(dt[both], dp[both] - dt[both])

    def accuracy_within(self, far_m: float) -> float | None:
        """The state right over frames whose stop line lies from the first bin's start (just past it) to
        ``far_m`` ahead; None without such frames."""
        true, right = self.right_by_range.values()
        m = (true >= STOP_LINE_RANGES_M[0][0]) & (true < far_m)
        return float(np.mean(right[m])) if m.any() else None

    def report(self) -> dict:
        """The figures ``drivestack eval perception`` prints under ``light``."""
        c = self.confusion
        r4 = lambda v: None if v is None else round(v, 4)  # noqa: E731
        return {"frames_with_light": int(c.matrix[1:].sum()), "frames_without": int(c.matrix[0].sum()),
                "state_accuracy": r4(c.lit_accuracy()),
                "recall": {n: r4(c.recall(s)) for s, n in enumerate(LIGHT_STATES) if s},
                "precision": {n: r4(c.precision(s)) for s, n in enumerate(LIGHT_STATES) if s},
                "missed_as_none": r4(c.missed_as_none()),
                "none_false_alarm_rate": r4(c.none_false_alarm_rate()),
                "confusion_true_by_predicted": {n: c.matrix[s].tolist() for s, n in enumerate(LIGHT_STATES)},
                "state_accuracy_by_range": self.right_by_range.mean(4),
                "state_accuracy_within_30m": r4(self.accuracy_within(LIGHT_TARGET_RANGE_M)),
                "distance_median_abs_error_m_by_range": self.distance_error.median_abs(2),
                "distance_counts_by_range": self.distance_error.counts()}
