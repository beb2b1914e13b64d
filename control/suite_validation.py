"""Held-out safety-suite cases for a training run's validation, and the score that picks ``best.zip``.

A run that trains on the suite beside the town (``suite_envs``) was picked by the town alone: the town
validation of sessions 23-24 never rose above step 0 (the teacher), so ``best.zip`` was the zero
correction even when the suite pass rate had gone from 138 to 141 of 141. With ``suite_eval_cases`` the
validation also drives that many suite cases and the selection score is the mean of the town's driving
score and the suite's pass rate (each 0..1, so one suite case in 40 weighs as much as 0.05 of town score
over 30 routes).

The cases are held out from both sides: every scenario in the catalog's order, in turn, its parameters
drawn uniformly over the allowed range from a fixed generator (``draw_params``, as the training curriculum
draws them), in worlds ``VALIDATION_SEED0 + k``. Training's suite worlds lie in ``[TRAIN_SEED0,
VALIDATION_SEED0)`` and the suite's reported cases use seeds 0, 1, ... at the protocol's sweep points.
"""

from __future__ import annotations

import numpy as np

from sim.suite.catalog import SCENARIOS
from sim.suite.sampling import draw_params

from .envs import VALIDATION_SEED0
from .suite_eval import SuiteCase

_CASES_SEED = 0x5A11D  # the parameter draws' generator: the same cases in every run


def validation_cases(n: int) -> list[SuiteCase]:
    """``n`` held-out suite cases: the scenarios in turn, drawn parameters, worlds from ``VALIDATION_SEED0``."""
    rng = np.random.default_rng(_CASES_SEED)
    names = list(SCENARIOS)
    cases = []
    for k in range(n):
        name = names[k % len(names)]
        cases.append(SuiteCase(name, tuple(draw_params(name, rng).items()), VALIDATION_SEED0 + k))
    return cases


def suite_summary(records: list[dict]) -> dict:
    """Pass rate and what failed, from ``control.suite_eval.run_case`` records."""
    failed = [r["case"] for r in records if not r["passed"]]
    return {"cases": len(records), "pass_rate": round(1.0 - len(failed) / len(records), 4) if records else None,
            "collisions": sum(r["collision"] is not None for r in records), "failed": failed}


def selection_score(town: dict, suite: dict | None) -> tuple[float, float]:
    """What ``best.zip`` maximises: (the town's driving score, or its mean with the suite's pass rate when the
    run validates on the suite; the town's success rate to break ties)."""
    score = town["driving_score"] if suite is None else 0.5 * (town["driving_score"] + suite["pass_rate"])
    return (round(float(score), 6), float(town["success_rate"]))
