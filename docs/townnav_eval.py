"""The navigation town's two numbers: step rate beside Town-v0's, and the rule-based driver's success.

Usage::

    python docs/townnav_eval.py bench [--seconds 10]           # steps/s, camera off, Town-v0 and TownNav-v0
    python docs/townnav_eval.py drive [--seeds 1000:1020] [--route-m 1000]

``bench`` times both ids in the same run, twice each, with ``drivestack.bench``'s smooth random
actions (episodes end early, so resets count) and with ``sim.autopilot`` driving (the step's own
cost). ``drive`` runs ``sim.autopilot.Autopilot`` on the labels (camera off) and prints each
episode's end, its events and the manoeuvres of its route, then the success rate.
"""

from __future__ import annotations

import argparse
import collections
import time

import gymnasium as gym

import sim  # noqa: F401  (registers the ids)
from drivestack.bench import time_steps
from sim.autopilot import Autopilot

EVENTS = ("collision", "off_road", "solid_line", "red_light", "stop_sign", "wrong_lane", "off_route")


def drive(seed: int, route_m: float) -> dict:
    env = gym.make("drivestack/TownNav-v0", render_camera=False, config={"scenario": {"route_length_m": route_m}}).unwrapped
    obs, info = env.reset(seed=seed)
    pilot, counts = Autopilot(), collections.Counter()
    w = env.world
    moves = [(m.command, w.graph.junctions[m.junction].control) for m in w.route.maneuvers if m.junction >= 0]
    while True:
        obs, _, terminated, truncated, info = env.step(pilot.act(info["ground_truth"], float(obs["state"][0])))
        counts.update(k for k in EVENTS if info["events"][k])
        if terminated or truncated:
            ev = info["events"]
            return {"seed": seed, "goal": ev["goal"], "success": ev["goal"] and not counts, "events": dict(counts),
                    "completion": round(info["route_completion"], 4), "time_s": round(w.time_s, 1), "maneuvers": moves}


def pilot_rate(env_id: str, seconds: float, seed: int) -> tuple[float, int]:
    env = gym.make(env_id, render_camera=False).unwrapped
    obs, info = env.reset(seed=seed)
    pilot, steps, resets, t0 = Autopilot(), 0, 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        obs, _, terminated, truncated, info = env.step(pilot.act(info["ground_truth"], float(obs["state"][0])))
        steps += 1
        if terminated or truncated:
            resets += 1
            obs, info = env.reset(seed=seed + resets)
    return steps / (time.perf_counter() - t0), resets


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("what", choices=("bench", "drive"))
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--seeds", default="1000:1020", help="first:end (end excluded)")
    p.add_argument("--route-m", type=float, default=1000.0)
    args = p.parse_args()
    if args.what == "bench":
        for rnd in range(2):
            for env_id in ("drivestack/Town-v0", "drivestack/TownNav-v0"):
                r = time_steps(gym.make(env_id, render_camera=False), args.seconds, 1.0, 0)
                rate, resets = pilot_rate(env_id, args.seconds, 100)
                print(f"round {rnd} {env_id:24s} random actions {r.steps_per_s:6.0f} steps/s ({r.resets} resets)  "
                      f"autopilot {rate:6.0f} steps/s ({resets} resets)", flush=True)
        return
    lo, hi = map(int, args.seeds.split(":"))
    rows = [drive(s, args.route_m) for s in range(lo, hi)]
    for r in rows:
        print(r, flush=True)
    moves = collections.Counter(m for r in rows for m in r["maneuvers"])
    events = sum((collections.Counter(r["events"]) for r in rows), collections.Counter())
    print(f"success {sum(r['success'] for r in rows)}/{len(rows)}  mean completion "
          f"{sum(r['completion'] for r in rows) / len(rows):.4f}  events {dict(events)}  manoeuvres {dict(moves)}")


if __name__ == "__main__":
    main()
