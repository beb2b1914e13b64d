"""The rule-based driver through a permitted left where it once gridlocked the town (control.junction_gaps): on
training route 108167 (500 m, labels with the measured noise, no supervisor, as ``eval policy`` drives it) it took
the gap in front of the oncoming queue's first car as the light turned, braked in the box in that car's path, and
both stood until the time limit (step 5400). It now waits for that car and reaches the goal."""

import pytest

from control.evaluate import row_objects, run_episode


@pytest.mark.slow
def test_the_teacher_waits_for_the_oncoming_car_pulling_off_and_reaches_the_goal():
    env, policy = row_objects("rule-based/labels", "townnav", 500.0, None, None, False, "cpu")
    metrics, _ = run_episode(env, policy, 108167, None)
    assert metrics["end"] == "goal" and metrics["collisions"]["vehicle"] == 0
    assert metrics["steps"] < 3000  # it was 5400: the time limit
