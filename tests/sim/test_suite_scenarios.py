"""The safety suite's straight-track scenarios: each builds deterministically from its seed, and its
situation really occurs: with the ego holding its test speed, the target meets the ego's front at the
planned time and at the planned point across it (within one step of the target's motion). The junction
cases have their own tests (tests/sim/test_suite_junctions.py)."""

import math

import numpy as np
import pytest

from common.errors import ConfigError
from sim.suite import SCENARIOS, TRACK_SCENARIOS, build, plan_scenario

DT_S = 0.05


def _hold_speed(world, limit_s: float):
    """Step with no steering and no pedal (the ego holds its speed) until the first collision; the
    collision step's events, or None."""
    for _ in range(int(math.ceil(limit_s / DT_S))):
        ev = world.step(0.0, 0.0)
        if ev.collision or ev.off_road:
            return ev
    return None


def _target_across_ego_m(world) -> float:
    """The target's centre left of the ego's centre, in the ego's frame [m]."""
    box, _ = world.target_motion()
    e = world.ego
    dx, dy = box[0] - e.x_m, box[1] - e.y_m
    return -dx * math.sin(e.yaw_rad) + dy * math.cos(e.yaw_rad)


def _extremes(defn):
    """The default point and each parameter's sweep ends (others at their defaults)."""
    points = [{}]
    for p in defn.params:
        points += [{p.name: min(p.sweep)}, {p.name: max(p.sweep)}]
    return points


CASES = [(name, params) for name in TRACK_SCENARIOS for params in _extremes(SCENARIOS[name])]


@pytest.mark.parametrize("name,params", CASES, ids=[f"{n}-{p}" for n, p in CASES])
def test_holding_speed_meets_the_target_as_planned(name, params):
    world = build(name, params, seed=5, dt_s=DT_S)
    plan = world.plan
    ev = _hold_speed(world, plan.time_limit_s)
    assert ev is not None and ev.collision, f"{name} {params}: no collision while holding speed"
    assert ev.collision_id == world.target_id, f"{name}: hit {world.actor_of(ev.collision_id)} first, not the target"
    # first contact: at the planned time (touching counts, so the step at or just after it)
    assert plan.impact_time_s - 1e-6 <= world.time_s <= plan.impact_time_s + DT_S + 1e-6
    # ... and where planned across the front: the target moved at most one step since the planned moment
    _, velocity = world.target_motion()
    step_m = float(np.hypot(*velocity)) * DT_S
    assert abs(_target_across_ego_m(world) - plan.impact_offset_m) <= step_m + 0.02
    assert abs(world.ego.speed_m_s - plan.ego_speed_m_s) < 1e-9  # nobody braked: the impact is at the test speed


@pytest.mark.parametrize("name", sorted(TRACK_SCENARIOS))
def test_same_seed_same_run_and_seeds_vary_the_scene_only(name):
    def run(seed):
        world = build(name, None, seed=seed, dt_s=DT_S)
        for _ in range(40):
            world.step(0.1, 0.3)
        return world

    a, b, other = run(3), run(3), run(4)
    for attr in ("s", "d", "v"):
        assert np.array_equal(getattr(a.traffic, attr), getattr(b.traffic, attr))
    assert np.array_equal(a.peds.s, b.peds.s) and np.array_equal(a.peds.d, b.peds.d)
    assert (a.ego.x_m, a.ego.y_m, a.ego.speed_m_s) == (b.ego.x_m, b.ego.y_m, b.ego.speed_m_s)
    assert a.scenario.props == b.scenario.props
    # another seed: another scene (lane width, buildings or trees), the same planned conflict
    assert a.params.lane_width_m != other.params.lane_width_m
    assert a.plan.impact_time_s == other.plan.impact_time_s or (math.isnan(a.plan.impact_time_s)
                                                                and math.isnan(other.plan.impact_time_s))


def test_every_scenario_starts_the_ego_at_its_test_speed_in_its_lane():
    for name in TRACK_SCENARIOS:
        world = build(name, {}, seed=0)
        assert world.ego.speed_m_s == pytest.approx(world.plan.ego_speed_m_s)
        assert world.frenet.lane_offset_m == pytest.approx(0.0, abs=1e-6)
        assert world.traffic.n + world.peds.n == len(world.plan.vehicles) + len(world.plan.walkers)


def test_ccrb_impact_time_matches_the_closed_form_both_ways():
    # 12 m at 6 m/s^2 from 50 km/h: hit while the target still brakes; 40 m at 6 m/s^2: after it stopped
    fast = plan_scenario("CCRb", {"headway_m": 12, "decel_m_s2": 6}, 0)
    assert fast.impact_time_s == pytest.approx(3.0 + math.sqrt(2 * 12 / 6))
    v = 50 / 3.6
    slow = plan_scenario("CCRb", {"headway_m": 40, "decel_m_s2": 6}, 0)
    assert slow.impact_time_s == pytest.approx(3.0 + (40 + v * v / 12) / v)


def test_grid_is_the_product_of_the_sweeps():
    ccrb = SCENARIOS["CCRb"]
    grid = list(ccrb.grid())
    assert len(grid) == 1 * 2 * 2 * 5
    assert {"ego_kmh": 50.0, "headway_m": 40.0, "decel_m_s2": 2.0, "overlap_pct": -50.0} in grid
    assert [g["ego_kmh"] for g in SCENARIOS["CPNA-25"].grid()] == [10.0 + 5 * k for k in range(11)]


@pytest.mark.parametrize("name,params,says", [
    ("CPNX-25", None, "CCRs, CCRm, CCRb"),
    ("CPNA-25", {"ego_kmh": 90}, "ego_kmh in [10, 60] km/h"),
    ("CPNA-25", {"speed": 40}, "ego_kmh in [10, 60] km/h"),
    ("CCRb", {"headway_m": "far"}, "headway_m in [8, 60] m"),
])
def test_bad_input_is_one_line_naming_what_is_allowed(name, params, says):
    with pytest.raises(ConfigError) as err:
        plan_scenario(name, params, 0)
    assert says in str(err.value) and "\n" not in str(err.value)
