"""Releasing gridlocks: a vehicle that has stood too long is moved to a free street lane out of the ego's sight.

Road-graph traffic can lock up for good: cars granted crossing connectors stand in each other's way (or in the
path of a box the ego stands in), and the cars queued behind them never move again (the rule-based driver's
training routes 49976, 763413, 242204, session 29: at the time limit every vehicle within 30 m of the ego had stood
for 1.5-3.5 minutes). No driver that cannot reverse gets out, so the route's time limit then measured the town, not
the driver.

SUMO meets the same with its "time-to-teleport": a vehicle whose speed stays below 0.1 m/s longer than a threshold
(300 s by default) is taken to be in a grid-lock and moved on along its route. Here the threshold is
``ScenarioConfig.gridlock_release_s`` (90 s: 1.5x the longest signal cycle, ~55 s, so that a vehicle first at its
line is not moved while it waits one cycle for its light; a 500-m route has 270 s; in traffic denser than the
navigation town's a left turner that misses its arrow for several cycles is moved too, as SUMO's would be), and the
vehicle is put at rest on a
random street lane at least ``AWAY_FROM_EGO_M`` from the ego (beyond the labels' and the detector's range, so no
car appears from nothing in the camera's view) with room ahead and behind. Parked cars never move and are never
released; the safety suite's junction world keeps the release off (its scripted vehicles stand on purpose).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .traffic import GraphTraffic

STOOD_M_S = 0.1  # slower than this is standing (SUMO's waiting-time speed) [m/s]
AWAY_FROM_EGO_M = 150.0  # a released vehicle is placed at least this far from the ego [m]
FREE_AHEAD_M = 15.0  # ... with nothing on its lane this far ahead of its centre [m]
FREE_BEHIND_M = 40.0  # ... nor this far behind (a follower at 50 km/h stops in ~15 m at 6.5 m/s^2) [m]
LINE_CLEAR_M = 10.0  # ... and not this close to its lane's stop line (nor the lane's start) [m]
TRIES = 40  # random spots tried per release and step; none free: it waits for the next step


def release_gridlocks(traffic: "GraphTraffic", dt_s: float, ego_xy: tuple[float, float]) -> int:
    """Count each moving vehicle's standing time (``traffic.stood_s``) and move those that have stood longer than
    ``traffic.gridlock_release_s``; returns how many moved this step (``traffic.released`` counts them all)."""
    moving = ~traffic.parked
    traffic.stood_s = np.where(moving & (traffic.v < STOOD_M_S), traffic.stood_s + dt_s, 0.0)
    stuck = np.flatnonzero(traffic.stood_s > traffic.gridlock_release_s)
    moved = 0
    for i in stuck:
        spot = _free_spot(traffic, int(i), ego_xy)
        if spot is None:
            continue
        g, p = spot
        traffic.lane[i], traffic.p[i], traffic.lat[i], traffic.v[i] = g, p, 0.0, 0.0
        traffic.held[i] = -1  # its grant goes back: the connector it held is free for the others
        traffic.next_conn[i] = traffic._choose_exit(g)
        traffic.stopped_at_s[i], traffic.heading_offset[i], traffic.stood_s[i] = math.inf, 0.0, 0.0
        moved += 1
    if moved:
        traffic.released += moved
        traffic._sync()
    return moved


def _free_spot(traffic: "GraphTraffic", i: int, ego_xy: tuple[float, float]) -> tuple[int, float] | None:
    """A (street lane, progress [m]) where vehicle ``i`` fits at rest, far from the ego, or None."""
    t, rng = traffic.table, traffic.rng
    streets = np.flatnonzero(~t.is_connector & (t.stop_p > 2 * LINE_CLEAR_M))
    if streets.size == 0:
        return None
    others = np.flatnonzero(~traffic.parked)
    others = others[others != i]
    occ_lane, occ_p, _ = traffic._parked_occ
    half = traffic.dims[:, 0] / 2
    for _ in range(TRIES):
        g = int(streets[rng.integers(streets.size)])
        p = float(rng.uniform(LINE_CLEAR_M, t.stop_p[g] - LINE_CLEAR_M))
        direction = traffic._lane_dir[g]
        s = p if direction > 0 else t.length_m[g] - p
        x, y, _ = traffic.graph.packed.pose(np.array([traffic._lane_road[g]]), np.array([s]),
                                            np.array([traffic._lane_d[g]]))
        if math.hypot(float(x[0]) - ego_xy[0], float(y[0]) - ego_xy[1]) < AWAY_FROM_EGO_M:
            continue
        on_lane = others[traffic.lane[others] == g]
        ahead = traffic.p[on_lane] - p
        if np.any((ahead > -FREE_BEHIND_M - half[on_lane]) & (ahead < FREE_AHEAD_M + half[on_lane] + half[i])):
            continue
        if np.any((occ_lane == g) & (np.abs(occ_p - p) < FREE_AHEAD_M)):
            continue  # a parked car reaching into the lane there
        return g, p
    return None
