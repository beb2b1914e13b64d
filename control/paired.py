"""Whether one policy drives better than another on the same routes: paired differences with a bootstrap
confidence interval.

Why: on 50 navigation routes a policy's driving score moves by +-0.03-0.04 when anything about it changes at all
(session 23: the rule-based driver with a *random* correction of a trained policy's size scored 0.959 on the test
routes, the trained one 0.932, the driver itself 0.919): a route's outcome flips on a small difference in timing.
So "A beats B" is read from the routes both drove: the difference per route, and how far it moves when the routes
are redrawn (a percentile bootstrap over routes, Efron & Tibshirani 1993; the routes are the sampling unit, both
policies' results on a route stay together). A gain is shown only when the interval excludes 0.

The metrics are ``control.metrics``' own (``summarize``): the means over routes, and collisions per km as total
collisions over total km (recomputed on each resample, not averaged per route).
"""

from __future__ import annotations

import numpy as np

from .metrics import COLLISION_KINDS

PAIRED_METRICS = ("driving_score", "success_rate", "route_completion", "collisions_per_km")
VERDICT_METRIC = "driving_score"  # the and CARLA's headline figure decides
RESAMPLES = 10_000
LEVEL = 0.95
TIE = 0.01  # driving-score differences below this are a tie when routes are counted won / lost (completion jitter)


def _columns(episodes: list[dict]) -> dict[str, np.ndarray]:
    """Per-route arrays of what the paired metrics are made of."""
    return {
        "driving_score": np.array([e["driving_score"] for e in episodes], float),
        "success_rate": np.array([float(e["success"]) for e in episodes], float),
        "route_completion": np.array([e["route_completion"] for e in episodes], float),
        "collisions": np.array([sum(e["collisions"][k] for k in COLLISION_KINDS) for e in episodes], float),
        "distance_km": np.array([e["distance_km"] for e in episodes], float),
    }


def _metric(cols: dict[str, np.ndarray], name: str, idx: np.ndarray) -> np.ndarray:
    """``name`` over the routes ``idx`` ([..., n] route indices): one value per leading index."""
    if name == "collisions_per_km":
        km = cols["distance_km"][idx].sum(-1)
        return np.divide(cols["collisions"][idx].sum(-1), km, out=np.zeros_like(km), where=km > 0)
    return cols[name][idx].mean(-1)


def pair_episodes(base: list[dict], candidate: list[dict]) -> tuple[list[dict], list[dict]]:
    """The two runs' episodes on the seeds both drove, in seed order; a ValueError when there are none or when a
    shared seed was driven on routes of different lengths (then they are different routes)."""
    a = {int(e["seed"]): e for e in base}
    b = {int(e["seed"]): e for e in candidate}
    seeds = sorted(a.keys() & b.keys())
    if not seeds:
        raise ValueError("the two runs share no seed: drive the same --seeds with both")
    for s in seeds:
        la, lb = a[s].get("route_length_m"), b[s].get("route_length_m")
        if la is not None and lb is not None and abs(float(la) - float(lb)) > 1e-6:
            raise ValueError(f"seed {s} was driven on a {la:g} m route by one run and a {lb:g} m route by the other: "
                             "use the same --route-length")
    return [a[s] for s in seeds], [b[s] for s in seeds]


def paired_difference(base: list[dict], candidate: list[dict], resamples: int = RESAMPLES, level: float = LEVEL,
                      seed: int = 0) -> dict:
    """Candidate minus base on the routes both drove (``pair_episodes``): each metric's two values, the difference
    and its ``level`` bootstrap interval; routes won / lost / tied on the driving score; the verdict ("better",
    "worse" or "no difference shown": the driving score's interval excludes 0 or not). ``seed`` fixes the
    resampling, so the same reports give the same interval."""
    base, candidate = pair_episodes(base, candidate)
    n = len(base)
    ca, cb = _columns(base), _columns(candidate)
    idx = np.random.default_rng(seed).integers(0, n, size=(int(resamples), n))
    everything = np.arange(n)
    tail = 100 * (1 - level) / 2
    metrics = {}
    for name in PAIRED_METRICS:
        va, vb = float(_metric(ca, name, everything)), float(_metric(cb, name, everything))
        boot = _metric(cb, name, idx) - _metric(ca, name, idx)
        lo, hi = np.percentile(boot, [tail, 100 - tail])
        metrics[name] = {"base": round(va, 4), "candidate": round(vb, 4), "difference": round(vb - va, 4),
                         "interval": [round(float(lo), 4), round(float(hi), 4)]}
    d = cb["driving_score"] - ca["driving_score"]
    won, lost = int(np.sum(d >= TIE)), int(np.sum(d <= -TIE))
    lo, hi = metrics[VERDICT_METRIC]["interval"]
    # collisions per km: fewer is better, so its interval is read the other way round (not part of the verdict)
    verdict = "better" if lo > 0 else "worse" if hi < 0 else "no difference shown"
    return {"routes": n, "seeds": [int(e["seed"]) for e in base], "level": level, "resamples": int(resamples),
            "metrics": metrics, "routes_won": won, "routes_lost": lost, "routes_tied": n - won - lost,
            "won_seeds": [int(base[i]["seed"]) for i in np.flatnonzero(d >= TIE)],
            "lost_seeds": [int(base[i]["seed"]) for i in np.flatnonzero(d <= -TIE)], "verdict": verdict}
