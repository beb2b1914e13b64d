"""A town gridlock released (sim.roadgraph.gridlock), driven as ``eval policy`` drives it (rule-based driver, labels
with the measured noise, no supervisor, 500 m): on training route 242204 the car stood behind a car that stood for
3.5 minutes in a lock-up of the town's traffic until the time limit (step 5400); with the release (the default, 90 s)
that car is moved on and the route reaches its goal."""

import pytest

from control.evaluate import row_objects, run_episode


@pytest.mark.slow
@pytest.mark.parametrize("release", [True, False])
def test_the_driver_gets_out_of_a_gridlock_only_when_the_town_releases_it(release):
    overrides = () if release else ("scenario.gridlock_release_s=0",)
    env, policy = row_objects("rule-based/labels", "townnav", 500.0, None, None, False, "cpu", overrides=overrides)
    metrics, _ = run_episode(env, policy, 242204, None)
    if release:
        assert metrics["end"] == "goal" and metrics["steps"] < 4500
    else:
        assert metrics["end"] == "time limit"
        assert env.unwrapped.world.traffic.released == 0
