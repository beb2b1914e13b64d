"""The paired comparison of two policies on the same routes (control.paired)."""

from __future__ import annotations

import pytest

from control.paired import paired_difference, pair_episodes


def episode(seed: int, score: float, success: bool = True, collisions: int = 0, km: float = 1.0,
            length_m: float = 1000.0, row: str = "ppo/labels") -> dict:
    return {"seed": seed, "driving_score": score, "success": success, "route_completion": score,
            "collisions": {"vehicle": collisions, "pedestrian": 0, "static": 0}, "distance_km": km,
            "route_length_m": length_m, "row": row}


def test_a_gain_on_every_route_is_better_and_the_same_driving_shows_no_difference():
    base = [episode(s, 0.7) for s in range(20)]
    better = [episode(s, 0.9) for s in range(20)]
    d = paired_difference(base, better)
    assert d["verdict"] == "better" and d["routes_won"] == 20 and d["routes_lost"] == 0
    assert d["metrics"]["driving_score"]["difference"] == pytest.approx(0.2)
    assert d["metrics"]["driving_score"]["interval"] == pytest.approx([0.2, 0.2])  # every resample: the same gain
    same = paired_difference(base, base)
    assert same["verdict"] == "no difference shown" and same["routes_tied"] == 20
    assert paired_difference(better, base)["verdict"] == "worse"


def test_a_few_flipped_routes_in_many_are_not_a_gain():
    # 3 routes of 50 go from failed (0.5) to driven (1.0) and 2 the other way: +0.01 on the mean, inside the noise
    base = [episode(s, 1.0) for s in range(45)] + [episode(s, 0.5) for s in range(45, 50)]
    cand = [episode(s, 1.0) for s in range(43)] + [episode(43, 0.5), episode(44, 0.5)] + \
           [episode(s, 1.0) for s in range(45, 48)] + [episode(48, 0.5), episode(49, 0.5)]
    d = paired_difference(base, cand)
    assert d["metrics"]["driving_score"]["difference"] == pytest.approx(0.01)
    lo, hi = d["metrics"]["driving_score"]["interval"]
    assert lo < 0 < hi and d["verdict"] == "no difference shown"
    assert (d["routes_won"], d["routes_lost"]) == (3, 2) and d["won_seeds"] == [45, 46, 47]


def test_collisions_per_km_are_totals_over_distance_not_a_mean_of_rates():
    base = [episode(0, 1.0, collisions=2, km=3.0), episode(1, 1.0, collisions=0, km=1.0)]  # 2 / 4 km
    cand = [episode(0, 1.0, collisions=0, km=3.0), episode(1, 1.0, collisions=1, km=1.0)]  # 1 / 4 km
    m = paired_difference(base, cand)["metrics"]["collisions_per_km"]
    assert (m["base"], m["candidate"], m["difference"]) == pytest.approx((0.5, 0.25, -0.25))


def test_only_shared_seeds_on_equal_routes_are_compared():
    a, b = pair_episodes([episode(1, 1.0), episode(2, 1.0)], [episode(3, 1.0), episode(2, 0.5)])
    assert [e["seed"] for e in a] == [2] and b[0]["driving_score"] == 0.5
    with pytest.raises(ValueError, match="share no seed"):
        pair_episodes([episode(1, 1.0)], [episode(2, 1.0)])
    with pytest.raises(ValueError, match="seed 1 was driven on a 1000 m route by one run and a 2000 m"):
        pair_episodes([episode(1, 1.0)], [episode(1, 1.0, length_m=2000.0)])
