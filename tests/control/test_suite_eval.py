"""Which cases ``drivestack eval suite`` runs (``control.suite_eval``): the sweeps, families, values,
and the table's cells from hand-made records."""

import math

import pytest

from common.errors import ConfigError
from control.suite_eval import SuiteCase, parse_values, select_scenarios, suite_cases, summarize_cases, sweep_values
from sim.suite import SCENARIOS


def test_short_sweep_takes_the_ends_and_the_middle_of_each_parameter():
    assert sweep_values((10.0, 15.0, 20.0, 25.0, 30.0), "short", 20.0) == (10.0, 20.0, 30.0)
    assert sweep_values((12.0, 40.0), "short", 12.0) == (12.0, 40.0)
    assert sweep_values((50.0,), "short", 50.0) == (50.0,)
    assert sweep_values((1.0, 2.0), "defaults", 7.0) == (7.0,)
    ccrs = suite_cases(["CCRs"], "short")
    assert {c.params for c in ccrs} == {(("ego_kmh", e), ("overlap_pct", o)) for e in (10.0, 45.0, 80.0)
                                        for o in (100.0, 50.0, -75.0)}
    # every combination of each parameter's short values (96 on the straight track, 45 at junctions)
    assert len(suite_cases(list(SCENARIOS), "short")) == sum(
        math.prod(len(sweep_values(p.sweep, "short", p.default)) for p in d.params) for d in SCENARIOS.values())
    assert len(suite_cases(["ParkedObstacle", "LaneClosure", "MergeSlowTraffic"], "short")) == 4 + 6 + 8
    assert len(suite_cases(list(SCENARIOS), "short")) == 96 + 45  # the straight track's, the junctions'
    assert len(suite_cases(list(SCENARIOS), "full")) == sum(len(list(d.grid())) for d in SCENARIOS.values())
    assert len(suite_cases(list(SCENARIOS), "defaults", seeds_per_scenario=2)) == 2 * len(SCENARIOS)


def test_families_names_and_values():
    assert select_scenarios("cyclist") == ["CBNA-50", "CBLA-50"]
    assert select_scenarios("CutIn,car-to-car") == ["CCRs", "CCRm", "CCRb", "CutIn"]  # the catalog's order
    assert select_scenarios(None) == list(SCENARIOS)
    values = parse_values(["ego_kmh=30,40"], ["CCRm", "CPNA-25"])
    cases = suite_cases(["CCRm", "CPNA-25"], "defaults", 1, values)
    assert [(c.scenario, dict(c.params)["ego_kmh"]) for c in cases] == [
        ("CCRm", 30.0), ("CCRm", 40.0), ("CPNA-25", 30.0), ("CPNA-25", 40.0)]
    with pytest.raises(ConfigError, match="outside what CCRm supports"):
        parse_values(["ego_kmh=20"], ["CCRm", "CPNA-25"])  # CCRm starts at 30 km/h
    with pytest.raises(ConfigError, match="NAME=V1"):
        parse_values(["ego_kmh="], ["CCRm"])
    assert SuiteCase("CCRb", (("headway_m", 12.0), ("decel_m_s2", 6.0)), 3).label() == "CCRb_headway_m12_decel_m_s26_seed3"


def test_a_cell_counts_passes_collisions_and_impact_speeds():
    def rec(passed, collision=None, impact=None, interventions=0):
        return {"passed": passed, "collision": collision, "impact_speed_kmh": impact, "interventions": interventions,
                "supervised": True}

    cell = summarize_cases([rec(True, interventions=5), rec(False, "target", 20.0, 3), rec(False, "target", 30.0),
                            rec(False)])
    assert cell == {"cases": 4, "passed": 1, "pass_rate": 0.25, "collisions": 2, "impact_kmh_mean": 25.0,
                    "impact_kmh_max": 30.0, "interventions": 8, "cases_with_intervention": 2, "infractions": 0}
    unsupervised = summarize_cases([{**rec(True), "supervised": False}])
    assert unsupervised["interventions"] is None and unsupervised["impact_kmh_mean"] is None


def test_drawn_cases_are_held_out_fixed_and_within_each_parameters_range():
    """``--sweep drawn``: N cases per scenario with every parameter drawn over its allowed range, in the test range's
    worlds, the same in every run and whichever other scenarios are chosen."""
    from control.suite_eval import DRAWN_SEED0

    both = suite_cases(["CCRs", "MergeSlowTraffic"], "drawn", seeds_per_scenario=5)
    assert [c.scenario for c in both] == ["CCRs"] * 5 + ["MergeSlowTraffic"] * 5
    assert suite_cases(["MergeSlowTraffic"], "drawn", seeds_per_scenario=5) == both[5:]  # independent of the others
    assert len({c.seed for c in both}) == 10 and min(c.seed for c in both) >= DRAWN_SEED0
    for c in both:
        for p in SCENARIOS[c.scenario].params:
            assert p.lo <= dict(c.params)[p.name] <= p.hi
    assert len({c.params for c in both[:5]}) == 5  # drawn, not a sweep point repeated
    with pytest.raises(ConfigError, match="not allowed with --sweep drawn"):
        suite_cases(["CCRs"], "drawn", values={"ego_kmh": (30.0,)})
    with pytest.raises(ConfigError, match="use 1 to 1000"):
        suite_cases(["CCRs"], "drawn", seeds_per_scenario=1001)
