"""Step time of a graph town's pedestrians beside the straight town's, in the same run.

Usage::

    python docs/pedestrians_bench.py [--n 300] [--seconds 120] [--seed 3]

Builds about ``--n`` pedestrians in each: ``sim.pedestrians.Pedestrians`` on a Town-v0 world's
main road (numba kernel) and ``sim.roadgraph.pedestrians.GraphPedestrians`` on a TownNav town
(grid 5, its parked cars, 30 vehicles to look out for), steps both at 20 Hz for ``--seconds``
of simulated time, alternating, and prints the median and mean of ``step`` + ``poses`` per step.
The lights' own clocks are stepped outside the timed part. Warm-up steps (numba compile) are
not counted.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from sim.config import ScenarioConfig
from sim.nav_scenario import generate_nav
from sim.pedestrians import Pedestrians
from sim.roadgraph.pedestrians import GraphPedestrians
from sim.world import World

DT_S = 0.05


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()

    world = World(ScenarioConfig(kind="town"), args.seed, DT_S)
    straight = Pedestrians(world.net, world.lights, args.n / (world.net.main.length_m / 1000.0),
                           np.random.default_rng(args.seed))
    nav = generate_nav(ScenarioConfig(kind="townnav", town_grid=5, route_length_m=500.0), args.seed)
    street_km = sum(r.length_m for r in nav.graph.roads[:nav.graph.n_streets]) / 1000.0
    graph = GraphPedestrians(nav.graph, nav.signals, args.n / street_km, np.random.default_rng(args.seed), nav.parked)
    rng = np.random.default_rng(args.seed)
    x0, y0, x1, y1 = nav.graph.bounds()
    vehicles = np.stack([rng.uniform(x0, x1, 30), rng.uniform(y0, y1, 30), rng.uniform(0, 14, 30)], 1)

    times = {"straight": [], "graph": []}
    steps = int(args.seconds / DT_S)
    for k in range(steps + 20):
        world.lights.step(DT_S)
        nav.signals.step(DT_S)
        t0 = time.perf_counter()
        straight.step(DT_S, world.ego_s)
        straight.poses()
        t1 = time.perf_counter()
        graph.step(DT_S, (0.0, 0.0), vehicles)
        graph.poses()
        t2 = time.perf_counter()
        if k >= 20:
            times["straight"].append(t1 - t0)
            times["graph"].append(t2 - t1)
    print(f"{platform.processor() or platform.machine()}, {steps} steps of {DT_S} s, one process, alternating")
    for name, peds in (("straight (sim.pedestrians, Town-v0)", straight), ("graph (sim.roadgraph.pedestrians)", graph)):
        t = np.array(times[name.split()[0]]) * 1e3
        print(f"{name:40s} n={peds.n:4d}  step+poses median {np.median(t):.3f} ms  mean {t.mean():.3f} ms  "
              f"p99 {np.percentile(t, 99):.3f} ms")
    print(f"graph town: {graph.step_outs} step-outs from between parked cars, "
          f"{int(np.sum(graph.mode == 1))} crossing at the end")


if __name__ == "__main__":
    main()
