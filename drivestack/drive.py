"""``drivestack drive``: drive simulated routes from the camera and record them.

Usage::

    drivestack drive                                  # one town route, seed 0, into runs/drive-<time>/
    drivestack drive --scenario highway --seed 3 --episodes 2 --out runs/hw3
    drivestack drive --config configs/town.yaml --set scenario.route_length_m=800

Until the learned policy exists the driver is the rule-based ``sim.autopilot.Autopilot`` on
the simulator's labels. Each episode is written to ``OUT/episode-NNN/`` (camera.mp4, hud.mp4,
steps.jsonl, recording.json); ``OUT/metrics.json`` and ``OUT/config.yaml`` describe the run.
An existing run folder is never overwritten.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

# CARLA leaderboard infraction penalties (multiplicative), per event
PENALTY = {"pedestrian": 0.5, "vehicle": 0.6, "static": 0.65, "red_light": 0.7}


def add_parser(sub) -> None:
    p = sub.add_parser("drive", help="drive simulated routes and record them (the main job)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", default="town", help="town or highway (default: town)")
    p.add_argument("--seed", type=int, default=0, help="first episode's scene seed (default: 0)")
    p.add_argument("--episodes", type=int, default=1, help="number of episodes, seeds seed..seed+N-1 (default: 1)")
    p.add_argument("--route-length", type=float, default=None, help="route length [m] (default: 500)")
    p.add_argument("--out", default=None, help="run folder (default: runs/drive-<date>-<time>); must not exist")
    p.add_argument("--config", default=None, help="YAML preset of EnvConfig fields")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one config field")
    p.add_argument("--no-video", action="store_true", help="skip the mp4 files (JSONL and metrics only)")
    p.add_argument("--show", action="store_true", help="show the HUD view in a window (needs a display)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _env_config(args):
    from drivestack.cli import UsageError
    from drivestack.config import apply_overrides, from_dict, load_yaml, merge
    from sim.config import EnvConfig

    if args.scenario not in ("town", "highway"):
        raise UsageError(f"--scenario {args.scenario!r} is not allowed; choose town or highway")
    if args.episodes < 1:
        raise UsageError(f"--episodes {args.episodes} is not allowed; use 1 or more")
    data = load_yaml(args.config) if args.config else {}
    data = merge({"scenario": {"kind": args.scenario, "route_length_m": 500.0}}, data)
    if args.route_length is not None:
        data = merge(data, {"scenario": {"route_length_m": args.route_length}})
    data = apply_overrides(data, args.set)
    return from_dict(EnvConfig, data)


def _episode_metrics(log: list[dict], completion: float, dt_s: float) -> dict:
    events = [s["events"] for s in log]
    collisions = [e["collision"] for e in events if e.get("collision")]
    reds = sum(bool(e.get("red_light")) for e in events)
    solids = sum(bool(e.get("solid_line")) for e in events)
    off = any(e.get("off_road") for e in events)
    distance_km = max(sum(e.get("progress_m", 0.0) for e in events), 0.0) / 1000.0
    penalty = 1.0
    for c in collisions:
        penalty *= PENALTY.get(c, 0.65)
    penalty *= PENALTY["red_light"] ** reds
    speeds = np.array([s["speed_m_s"] for s in log]) if log else np.zeros(1)
    success = bool(events and events[-1].get("goal") and not collisions and not off)
    return {
        "success": success, "route_completion": round(completion, 4), "distance_km": round(distance_km, 4),
        "collisions": {k: collisions.count(k) for k in ("vehicle", "pedestrian", "static")},
        "off_road": off, "solid_line_crossings": solids, "red_lights_run": reds,
        "mean_speed_kmh": round(float(speeds.mean() * 3.6), 2), "duration_s": round(len(log) * dt_s, 2),
        "driving_score": round(completion * penalty, 4),
    }


def run(args) -> int:
    from drivestack.cli import UsageError

    config = _env_config(args)
    out = Path(args.out or time.strftime("runs/drive-%Y%m%d-%H%M%S"))
    if out.exists():
        raise UsageError(f"run folder {str(out)!r} already exists; choose another --out (runs are never overwritten)")
    try:
        out.mkdir(parents=True)
    except OSError as exc:
        raise UsageError(f"cannot create run folder {str(out)!r}: {exc.strerror}") from None

    import gymnasium as gym
    from tqdm import tqdm

    import sim  # noqa: F401  (registers the env ids)
    from drivestack.config import save_yaml
    from sim.autopilot import Autopilot
    from sim.recording import Recorder

    save_yaml(config, out / "config.yaml")
    show = args.show and _can_show()
    results = []
    for k in range(args.episodes):
        seed = args.seed + k
        env = gym.make("drivestack/Town-v0", config=config, render_mode="rgb_array")
        obs, info = env.reset(seed=seed)
        pilot = Autopilot()
        ep_dir = out / f"episode-{k:03d}"
        log: list[dict] = []
        recorder = None if args.no_video else Recorder(ep_dir, fps=config.control_hz, hud=True)
        if recorder:
            recorder.add(obs["image"], info, None, hud_image=env.render(), state=obs["state"])
        bar = tqdm(total=env.unwrapped.max_steps, desc=f"episode {k} (seed {seed})", unit="step",
                   disable=args.quiet, file=sys.stderr)
        start = time.perf_counter()
        while True:
            action = pilot.act(info["ground_truth"], float(obs["state"][0]))
            obs, reward, terminated, truncated, info = env.step(action)
            log.append({"events": info["events"], "speed_m_s": float(obs["state"][0])})
            hud = env.render() if (recorder or show) else None
            if recorder:
                recorder.add(obs["image"], info, action, hud_image=hud, state=obs["state"])
            if show:
                import cv2

                cv2.imshow("drivestack drive", hud[:, :, ::-1])
                cv2.waitKey(1)
            bar.update(1)
            if terminated or truncated:
                break
        bar.close()
        wall = time.perf_counter() - start
        if recorder:
            recorder.close()
        else:
            ep_dir.mkdir(parents=True, exist_ok=True)
        m = _episode_metrics(log, info["route_completion"], env.unwrapped.dt_s)
        m.update({"seed": seed, "scenario": config.scenario.kind, "steps": len(log),
                  "sim_steps_per_s": round(len(log) / max(wall, 1e-9), 1), "end": _end_reason(info, truncated)})
        (ep_dir / "metrics.json").write_text(json.dumps(m, indent=2) + "\n")
        results.append(m)
        env.close()
    summary = _summary(results)
    (out / "metrics.json").write_text(json.dumps({"driver": "rule-based autopilot (ground-truth labels)",
                                                  "summary": summary, "episodes": results}, indent=2) + "\n")
    _print_table(results, summary, out)
    return 0


def _end_reason(info: dict, truncated: bool) -> str:
    ev = info["events"]
    if ev.get("collision"):
        return f"collision ({ev['collision']})"
    if ev.get("off_road"):
        return "off road"
    if ev.get("goal"):
        return "goal"
    return "time limit" if truncated else "stopped"


def _summary(results: list[dict]) -> dict:
    km = sum(r["distance_km"] for r in results)
    n_coll = sum(sum(r["collisions"].values()) for r in results)
    return {
        "episodes": len(results),
        "success_rate": round(float(np.mean([r["success"] for r in results])), 4),
        "route_completion": round(float(np.mean([r["route_completion"] for r in results])), 4),
        "driving_score": round(float(np.mean([r["driving_score"] for r in results])), 4),
        "collisions_per_km": round(n_coll / km, 3) if km > 0 else None,
        "red_lights_run": sum(r["red_lights_run"] for r in results),
        "distance_km": round(km, 3),
    }


def _print_table(results: list[dict], summary: dict, out: Path) -> None:
    print(f"{'ep':>3} {'seed':>5} {'end':<20} {'route':>6} {'score':>6} {'km/h':>6} {'coll':>4} {'red':>3} {'steps/s':>8}")
    for k, r in enumerate(results):
        print(f"{k:>3} {r['seed']:>5} {r['end']:<20} {100 * r['route_completion']:>5.1f}% {r['driving_score']:>6.3f} "
              f"{r['mean_speed_kmh']:>6.1f} {sum(r['collisions'].values()):>4} {r['red_lights_run']:>3} {r['sim_steps_per_s']:>8.1f}")
    print(f"success {100 * summary['success_rate']:.0f}%  route completion {100 * summary['route_completion']:.1f}%  "
          f"driving score {summary['driving_score']:.3f}  -> {out}/")


def _can_show() -> bool:
    if os.environ.get("DISPLAY") or sys.platform in ("win32", "darwin"):
        return True
    print("drivestack drive: --show ignored: no display", file=sys.stderr)
    return False
