"""The suite's lane cases: LaneClosure's cones close the ego's lane over the length asked and the
labels report them; MergeSlowTraffic builds deterministically, its stream is really dense, and the
outcome fails a run that stands too long."""

import math

import numpy as np
import pytest

from common.vocab import EGO_WIDTH_M
from sim.suite import SCENARIOS, build, plan_scenario
from sim.suite.actors import CONE_CLASS
from sim.suite.leaderboard import MERGE_MAX_STOP_S, stream_spacing_m


def test_lane_closure_cones_close_the_lane_over_its_length():
    for closure in SCENARIOS["LaneClosure"].params[1].sweep:
        plan = plan_scenario("LaneClosure", {"closure_m": closure}, 2)
        cones = [a for a in plan.vehicles if a.kind == "cone"]
        s = np.array([a.trajectory.s0_m for a in cones])
        d = np.array([a.trajectory.d0_m for a in cones])
        assert s.max() - s.min() == pytest.approx(closure, abs=5.0)  # one spacing of slack at the end
        half = plan.scenario.params.lane_width_m / 2
        assert np.all(np.abs(d - plan.ego_d_m) < half)  # all inside the ego's lane ...
        assert d[0] < plan.ego_d_m < d[-1]  # ... from its right side to its left (the taper)
        # no gap wide enough for the ego between the taper's cones and the lane's left edge
        assert (plan.ego_d_m + half) - d.max() < EGO_WIDTH_M
        assert np.all(np.diff(s) <= 5.0 + 1e-9)


def test_the_labels_report_the_cones_as_standing_obstacles():
    import gymnasium as gym

    import sim  # noqa: F401  (registers the envs)

    env = gym.make("drivestack/Suite-v0", scenario="LaneClosure", params={"closure_m": 20}, render_camera=False)
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.array([0.0, 0.0], np.float32))
    cones = [o for o in info["ground_truth"].objects if o.class_id == CONE_CLASS]
    assert len(cones) == sum(a.kind == "cone" for a in env.unwrapped.plan.vehicles)  # all within the labels' reach
    assert all(o.speed_m_s == 0.0 for o in cones)
    env.close()


@pytest.mark.parametrize("params", [{}, {"stream_kmh": 20, "gap_s": 2}, {"ego_kmh": 80, "gap_s": 3}])
def test_merge_builds_deterministically_and_its_stream_is_dense(params):
    a, b = build("MergeSlowTraffic", params, seed=4), build("MergeSlowTraffic", params, seed=4)
    for _ in range(60):
        a.step(0.0, 0.0)
        b.step(0.0, 0.0)
    for attr in ("s", "d", "v"):
        assert np.array_equal(getattr(a.traffic, attr), getattr(b.traffic, attr))
    plan = a.plan
    p = dict(plan.params)
    stream = sorted(v.trajectory.s0_m for v in plan.vehicles if v.kind == "car")
    assert len(stream) >= 8
    v_s = p["stream_kmh"] / 3.6
    spacing = np.diff(stream)
    assert np.allclose(spacing, stream_spacing_m(v_s, p["gap_s"]))
    # dense: bumper to bumper at most 3 s apart, 30 cars or more per km of lane (a 3 s gap at 30 km/h is 34 per
    # km, 1000 an hour; a 2 s gap at 20 km/h, 60 per km)
    gaps_s = (spacing - 4.5) / v_s
    assert np.all(gaps_s <= 3.0 + 1e-9) and 1000.0 / spacing.mean() >= 30.0
    # the stream starts ahead of the ego (in the camera's view) and covers the lane's end from then to the goal
    ego_front = plan.ego_s_m + 2.3
    assert stream[0] > ego_front
    end = min(v.trajectory.s0_m for v in plan.vehicles if v.kind == "cone")
    assert stream[-1] > end and stream[0] + v_s * 10.0 < end  # cars pass the lane's end after the ego gets there
    assert plan.max_stop_s == MERGE_MAX_STOP_S


def test_a_run_that_stands_too_long_fails_the_merge():
    import gymnasium as gym

    import sim  # noqa: F401  (registers the envs)

    env = gym.make("drivestack/Suite-v0", scenario="MergeSlowTraffic", render_camera=False)
    env.reset(seed=0)
    info = {}
    for _ in range(int(math.ceil((MERGE_MAX_STOP_S + 6.0) / 0.05))):  # full brake to a stop, then stand
        _, _, term, trunc, info = env.step(np.array([0.0, -1.0], np.float32))
        if term or trunc:
            break
    assert info["suite"]["longest_stop_s"] > MERGE_MAX_STOP_S and info["suite"]["max_stop_s"] == MERGE_MAX_STOP_S
    env.close()
