"""A town lock-up, driven as ``eval policy`` drives it (rule-based driver, labels with the measured noise, no
supervisor, 500 m): on training route 242204 the car queues behind a left turner at a permitted left whose oncoming
stream always has a car in the junction box. Without the drivers' patience (``scenario.yield_patience_s``) the turners
wait for a gap that never comes and the car stands until the time limit (step 5400; the gridlock release, which
freed this route until session 39, only moves the next turner into the first one's place); with it (the default, 30 s)
a turner refused that long takes its turn, the stream's next car waits at its line, and the route reaches its goal."""

import pytest

from control.evaluate import row_objects, run_episode


@pytest.mark.slow
@pytest.mark.parametrize("patience", [True, False])
def test_the_driver_gets_out_of_a_starved_left_turn_queue_only_with_the_towns_patience(patience):
    overrides = () if patience else ("scenario.yield_patience_s=0", "scenario.gridlock_release_s=0")
    env, policy = row_objects("rule-based/labels", "townnav", 500.0, None, None, False, "cpu", overrides=overrides)
    metrics, _ = run_episode(env, policy, 242204, None)
    if patience:
        assert metrics["end"] == "goal"
    else:
        assert metrics["end"] == "time limit"
        assert env.unwrapped.world.traffic.released == 0
