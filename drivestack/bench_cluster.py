"""``drivestack bench cluster``: dataset export frames/s and policy-evaluation episodes/s on a local Ray
instance, beside one process and a plain process pool with as many workers, and policy-training rollouts
(env steps/s) through Ray actors beside SB3's ``SubprocVecEnv`` (``drivestack.bench_rollouts``), in the same run.

Usage::

    drivestack bench cluster [--json] [--processes 1,2] [--seed N]

The same work for every figure: an export of ``EXPORT_SCENES`` scenes x ``EXPORT_FRAMES`` frames
(``sim.dataset``, each scene a unit) and ``EVAL_EPISODES`` episodes of the rule-based/labels row on
``EVAL_ROUTE_M`` m town routes (``control.evaluate``, each episode a unit). Figures, per worker count N
of ``--processes``:

- one process (the commands without ``--workers`` / ``--ray``), once;
- a pool of N spawned processes (``common.units.executor_units``; one torch thread each, as
  ``--workers``), kept warm: started, then one untimed run of each job so every worker has imported
  and compiled what it needs;
- a local Ray instance of N worker slots (``drivestack.cluster.RayUnits``), warmed the same way.

Both parallel maps are timed warm, ``ROUNDS`` runs of each job, the two maps in turns (a change in the
machine's load hits both alike), so the comparison is the cost of dispatching units, not of starting
workers; the seconds each took to start and warm up are reported beside them (a command pays them
once per run). On a machine busy with other work the jobs' rates swing from round to round; the
dispatch cost per unit (``DISPATCH_UNITS`` units that do nothing, through each map) is the steadier
measure of what Ray adds to each unit. ``ray_overhead`` is ``1 - ray / pool`` at equal N (the issue's target: under
15 % on 2 cores). Timings are reported, never judged.
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable


ROUNDS = 2  # timed runs of each job per parallel map
DISPATCH_UNITS = 200  # do-nothing units timed per map for its cost per unit
EXPORT_SCENES = 12  # scenes per timed export
EXPORT_FRAMES = 6  # frames per scene
EVAL_EPISODES = 12  # episodes per timed evaluation
EVAL_ROUTE_M = 150.0  # route length of each episode [m]
EVAL_ROW = "rule-based/labels"


def _log(msg: str) -> None:
    print(f"[bench cluster] {msg}", file=sys.stderr, flush=True)


class _Jobs:
    """The two timed jobs, each runnable through any units map (None: this process)."""

    def __init__(self, tmp: Path, seed: int):
        self.tmp, self.seed, self.runs = tmp, seed, 0

    def export(self, units_map) -> tuple[int, float]:
        """(frames, seconds) of one export into a fresh folder."""
        from sim.dataset import export_dataset

        self.runs += 1
        t0 = time.perf_counter()
        summary = export_dataset(self.tmp / f"export{self.runs}", scenes=EXPORT_SCENES, frames_per_scene=EXPORT_FRAMES,
                                 seed=self.seed, progress=False, units_map=units_map)
        seconds = time.perf_counter() - t0
        return sum(c["frames"] for c in summary["counts"].values()), seconds

    def evaluate(self, units_map) -> tuple[int, float]:
        """(episodes, seconds) of one policy evaluation."""
        from control.evaluate import compare

        seeds = tuple(range(self.seed, self.seed + EVAL_EPISODES))
        t0 = time.perf_counter()
        report = compare([EVAL_ROW], seeds, "town", EVAL_ROUTE_M, supervisor=True, device="cpu", progress=False,
                         units_map=units_map)
        return len(report["episodes"]), time.perf_counter() - t0


def _figure(job: Callable[[Any], tuple[int, float]], units_map, unit: str) -> dict:
    count, seconds = job(units_map)
    return {f"{unit}_per_s": count / seconds, unit: count, "seconds": seconds}


def _both(jobs: _Jobs, units_map) -> dict:
    return {"export": _figure(jobs.export, units_map, "frames"), "eval": _figure(jobs.evaluate, units_map, "episodes")}


def _total(rounds: list[dict]) -> dict:
    """Rounds of ``_both`` as one figure per job (all units over all seconds), with each round's rate."""
    out = {}
    for job, unit in (("export", "frames"), ("eval", "episodes")):
        count, seconds = sum(r[job][unit] for r in rounds), sum(r[job]["seconds"] for r in rounds)
        out[job] = {f"{unit}_per_s": count / seconds, unit: count, "seconds": seconds,
                    "rounds_per_s": [round(r[job][f"{unit}_per_s"], 3) for r in rounds]}
    return out


def _dispatch_ms(units_map, count: int = DISPATCH_UNITS) -> float:
    """Wall-clock ms per unit of ``count`` units that do nothing: what the map itself costs a unit,
    which, unlike the jobs' rates, hardly moves with other load on the machine."""
    from common.units import in_order

    in_order(units_map(abs, list(range(count))), count)  # warm
    t0 = time.perf_counter()
    in_order(units_map(abs, list(range(count))), count)
    return 1000 * (time.perf_counter() - t0) / count


def _warm(jobs: _Jobs, units_map) -> float:
    """One untimed run of each job (imports, numba, envs built in every worker); its seconds."""
    t0 = time.perf_counter()
    jobs.export(units_map)
    jobs.evaluate(units_map)
    return time.perf_counter() - t0


def bench_cluster(processes: list[int], seed: int) -> dict:
    from drivestack.bench import _load_average, device_info
    from drivestack.bench_rollouts import bench_rollouts
    from drivestack.cluster import RaySpec, RayUnits, ray_session, require_ray

    ray = require_ray()
    report: dict = {"device": {**device_info(), "ray": ray.__version__}, "settings": {
        "export": f"{EXPORT_SCENES} scenes x {EXPORT_FRAMES} frames (town, highway alternated), one unit per scene",
        "eval": f"{EVAL_EPISODES} episodes of {EVAL_ROW}, town, {EVAL_ROUTE_M:g} m routes, supervisor on, one unit per episode",
        "rollouts": "PPO rollouts, the trainer's envs (town stage, labels + perception noise, camera off) and its "
                    "[256, 256] policy in the loop: SubprocVecEnv (DummyVecEnv for 1), Ray actors stepped from the "
                    "learner, rollouts inside the actors; equal env counts, N workers x K envs each",
        "seed": seed, "processes": processes,
        "timing": "wall clock of one whole job; parallel maps timed warm (after one untimed run of each job)"},
        "single": {}, "pool": {}, "ray": {}, "ray_overhead": {}, "notes": []}
    load_before = _load_average()
    with tempfile.TemporaryDirectory(prefix="drivestack-bench-cluster-") as tmp:
        jobs = _Jobs(Path(tmp), seed)
        _log("one process: warm-up, then the export and the evaluation")
        _warm(jobs, None)
        report["single"] = _both(jobs, None)
        for n in processes:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            from common.cores import share_cores
            from common.units import executor_units

            _log(f"{n} worker(s): a pool and a local Ray instance, each started and warmed up, then {ROUNDS} rounds "
                 "of the timed jobs, the two maps in turns")
            t0 = time.perf_counter()
            with ProcessPoolExecutor(n, mp_context=mp.get_context("spawn"), initializer=share_cores) as pool:
                pool_units = executor_units(pool)
                _warm(jobs, pool_units)
                pool_start_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                with RayUnits(RaySpec(cpus=n)) as ray_units:
                    _warm(jobs, ray_units)
                    ray_start_s = time.perf_counter() - t0
                    dispatch = {"pool": _dispatch_ms(pool_units), "ray": _dispatch_ms(ray_units)}
                    rounds: dict[str, list] = {"pool": [], "ray": []}
                    for _ in range(ROUNDS):  # in turns: a change in the machine's load hits both alike
                        rounds["pool"].append(_both(jobs, pool_units))
                        rounds["ray"].append(_both(jobs, ray_units))
            report["pool"][str(n)] = {**_total(rounds["pool"]), "start_and_warmup_s": pool_start_s,
                                      "dispatch_ms_per_unit": dispatch["pool"]}
            report["ray"][str(n)] = {**_total(rounds["ray"]), "start_and_warmup_s": ray_start_s,
                                     "dispatch_ms_per_unit": dispatch["ray"]}
            pool_fig, ray_fig = report["pool"][str(n)], report["ray"][str(n)]
            report["ray_overhead"][str(n)] = {
                "export": 1 - ray_fig["export"]["frames_per_s"] / pool_fig["export"]["frames_per_s"],
                "eval": 1 - ray_fig["eval"]["episodes_per_s"] / pool_fig["eval"]["episodes_per_s"]}
    _log("policy-training rollouts: SubprocVecEnv, Ray actors per step and rollouts in the actors, in turns")
    with ray_session(RaySpec(cpus=max(processes))):
        report["rollouts"] = bench_rollouts(processes, seed)
    load_after = _load_average()
    report["settings"]["load_average_1min"] = {"before": load_before, "after": load_after}
    if load_before is not None and load_before > 0.5:
        report["notes"].append(f"the 1-minute load average was {load_before:.2f} before the run: other processes were "
                               "using the CPU, so the figures may read low and the parallel ones vary")
    if max(processes) > report["device"]["usable_cores"]:
        report["notes"].append(f"{max(processes)} workers on {report['device']['usable_cores']} usable cores: they share cores")
    return report


def format_table(r: dict) -> str:
    d = r["device"]
    lines = [f"drivestack bench cluster on {d['cpu']} ({d['usable_cores']} usable of {d['cores']} cores), Ray {d['ray']}",
             f"export: {r['settings']['export']}", f"eval:   {r['settings']['eval']}", "",
             f"{'':<24}{'export frames/s':>16}{'eval episodes/s':>17}{'start+warm-up s':>17}"]
    s = r["single"]
    lines.append(f"{'one process':<24}{s['export']['frames_per_s']:>16.1f}{s['eval']['episodes_per_s']:>17.2f}{'-':>17}")
    for n in r["pool"]:
        p, y, o = r["pool"][n], r["ray"][n], r["ray_overhead"][n]
        lines.append(f"{f'pool, {n} process(es)':<24}{p['export']['frames_per_s']:>16.1f}{p['eval']['episodes_per_s']:>17.2f}"
                     f"{p['start_and_warmup_s']:>17.1f}")
        lines.append(f"{f'Ray local, {n} slot(s)':<24}{y['export']['frames_per_s']:>16.1f}{y['eval']['episodes_per_s']:>17.2f}"
                     f"{y['start_and_warmup_s']:>17.1f}")
        lines.append(f"{f'  Ray overhead vs pool':<24}{o['export']:>16.1%}{o['eval']:>17.1%}")
        lines.append(f"  dispatch per unit: pool {p['dispatch_ms_per_unit']:.2f} ms, Ray {y['dispatch_ms_per_unit']:.2f} ms; "
                     f"a unit here takes {1000 * y['export']['seconds'] / (y['export']['frames'] / EXPORT_FRAMES):.0f} ms "
                     f"(a scene) to {1000 * y['eval']['seconds'] / y['eval']['episodes']:.0f} ms (an episode) of wall clock")
    lines += ["", f"rollouts: {r['settings']['rollouts']}",
              f"{'workers x envs each':<22}{'SubprocVecEnv':>14}{'Ray, per step':>15}{'Ray, in actors':>16}"
              f"{'overhead':>10}{'in actors':>11}  (env steps/s; overhead vs SubprocVecEnv)"]
    for n, f in r.get("rollouts", {}).items():
        lines.append(f"{n:<22}{f['subproc']:>14.1f}{f['ray']:>15.1f}{f['ray_actors']:>16.1f}{f['ray_overhead']:>10.1%}"
                     f"{f['ray_actors_overhead']:>11.1%}")
    if r["notes"]:
        lines += ["", "notes:"] + [f"  - {n}" for n in r["notes"]]
    return "\n".join(lines)


def run(args) -> int:
    from drivestack.bench import parse_counts

    processes = parse_counts(getattr(args, "processes", "1,2"), "worker", 64)
    with contextlib.redirect_stdout(sys.stderr):  # libraries' chatter off the report
        report = bench_cluster(processes, getattr(args, "seed", 0))
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    return 0
