"""The suite curriculum (control.curriculum): training cases from the suite, drawn by recent failure, never a reported case."""

from collections import Counter

import numpy as np
import pytest

from common.errors import ConfigError
from control.curriculum import TRAIN_SEED0, RecentFailures, SuiteCurriculum
from control.envs import VALIDATION_SEED0, make_stage_env, make_suite_env
from control.policies import RuleBasedPolicy
from control.route_features import LAYOUT_V2_ID


def test_cases_are_drawn_by_recent_failure_from_training_seeds():
    env = SuiteCurriculum(make_suite_env(), scenarios=("CCRs", "CPNA-25"), seed=1, floor=0.1)
    for _ in range(20):
        env._recent.record(0, True)  # CCRs: always passed lately
        env._recent.record(1, False)  # CPNA-25: always failed
    assert env.failure_rates() == {"CCRs": 0.0, "CPNA-25": 1.0}
    draws = [env._draw() for _ in range(400)]
    counts = Counter(case["scenario"] for _, case in draws)
    assert counts["CPNA-25"] > 6 * counts["CCRs"] > 0  # weights 1.1 : 0.1, and the passed one is never dropped
    assert all(TRAIN_SEED0 <= seed < VALIDATION_SEED0 for seed, _ in draws)
    ego = [case["params"]["ego_kmh"] for _, case in draws if case["scenario"] == "CPNA-25"]
    assert len(set(ego)) > 10  # drawn over the range, not the protocol's sweep points
    with pytest.raises(ConfigError, match="unknown scenario"):
        SuiteCurriculum(make_suite_env(), scenarios=("NoSuchCase",))


def test_an_episode_records_its_outcome_and_an_evaluation_case_passes_through():
    env = make_stage_env("suite", 300.0, training_seed=4, layout=LAYOUT_V2_ID)
    curriculum = env
    while not isinstance(curriculum, SuiteCurriculum):
        curriculum = curriculum.env
    curriculum.scenarios = ("CCRs",)
    curriculum._recent = RecentFailures(1)
    driver = RuleBasedPolicy()
    obs, info = env.reset()
    assert info["plan"]["scenario"] == "CCRs" and curriculum.unwrapped.seed_used >= TRAIN_SEED0
    driver.reset()
    while True:
        obs, _, term, trunc, info = env.step(driver.act(obs, info["perception"]))
        if term or trunc:
            break
    assert info["suite"]["passed"] and curriculum.failure_rates() == {"CCRs": 0.0}
    assert np.isfinite(obs).all()
    _, info = env.reset(seed=0, options={"scenario": "CPNA-75", "params": {"ego_kmh": 30}})  # as eval suite asks
    assert info["plan"]["scenario"] == "CPNA-75" and curriculum.unwrapped.seed_used == 0
