"""``drivestack bench``: measure how fast the stack runs, on this machine, beside a peer.

Usage::

    drivestack bench sim [--json] [--seconds S] [--processes 1,2] [--no-peers] [--seed N]
    drivestack bench perception [--json] [--device auto|cpu|cuda]     (drivestack.bench_perception)
    drivestack bench loop [--json] [--seconds S] [--processes 1,2] [--train-steps N]   (drivestack.bench_loop)
    drivestack bench cluster [--json] [--processes 1,2] [--seed N]                  (drivestack.bench_cluster)

``sim`` measures, each for about ``S`` seconds after a warm-up:

- env steps/s of ``drivestack/Town-v0``, ``drivestack/Highway-v0`` and the navigation worlds
  ``drivestack/TownNav-v0`` and ``drivestack/HighwayNav-v0``, camera on (default resolution) and
  camera off (``render_camera=False``), in one process ("per core"), with each navigation world's
  rate as a share of its straight-road counterpart's in the same run;
- the same figures with ``N`` processes stepping at once (one env each; ``--processes``
  lists the counts, 1 being the single-process run): the aggregate and each process's rate;
- dataset export frames/s (``sim.dataset.export_dataset``, tiny exports into a temp dir);
- peers, when the optional ``bench`` extra is installed (highway-env ``highway-fast-v0`` and
  ``highway-v0``, gymnasium ``CarRacing-v3``), timed the same way in one process, with the
  ratios ours / peer.

Timing method, the same for every env: reset with the seed, step for the warm-up, then count
steps until ``S`` seconds of wall clock have passed; an episode end resets the env inside the
timed loop, so resets cost what they cost. Actions are smooth random (an AR(1) process,
seeded) for ``Box`` action spaces and seeded uniform samples otherwise. A step covers a
different span of simulated time in each env, so every figure also carries ``sim_s_per_step``. The
1-process runs also report the process's CPU time per step (``cpu_ms_per_step``, ``time.process_time``),
which a shared machine disturbs less than the wall clock; the navigation worlds' ratios are given in both.

The table goes to stdout, or with ``--json`` one JSON object (device, settings, figures with
units, peers, ratios, notes); progress lines go to stderr. Timings are reported, never judged:
nothing here passes or fails on speed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import math
import multiprocessing as mp
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from common.errors import UsageError
from perception.model_files import DEFAULT_JOINT

#: Our step figures: name -> (gymnasium id, camera on).
SIM_FIGURES: dict[str, tuple[str, bool]] = {
    "town_camera": ("drivestack/Town-v0", True),
    "town_no_camera": ("drivestack/Town-v0", False),
    "highway_camera": ("drivestack/Highway-v0", True),
    "highway_no_camera": ("drivestack/Highway-v0", False),
    "townnav_camera": ("drivestack/TownNav-v0", True),
    "townnav_no_camera": ("drivestack/TownNav-v0", False),
    "highwaynav_camera": ("drivestack/HighwayNav-v0", True),
    "highwaynav_no_camera": ("drivestack/HighwayNav-v0", False),
}
#: The navigation worlds beside the straight-road world they extend: (figure, its reference figure).
NAV_VS_STRAIGHT = (("townnav_camera", "town_camera"), ("townnav_no_camera", "town_no_camera"),
                   ("highwaynav_camera", "highway_camera"), ("highwaynav_no_camera", "highway_no_camera"))

#: Peers: name -> (gymnasium id, module to import first so the id registers, distribution
#: whose version is reported, observation it returns by default).
PEERS: dict[str, tuple[str, str, str, str]] = {
    "highway-fast-v0": ("highway-fast-v0", "highway_env", "highway-env", "kinematics vector, no pixels"),
    "highway-v0": ("highway-v0", "highway_env", "highway-env", "kinematics vector, no pixels"),
    "CarRacing-v3": ("CarRacing-v3", "gymnasium.envs.box2d", "Box2D", "96x96 RGB pixels"),
}

DEFAULT_SECONDS = 5.0
DEFAULT_PROCESSES = "1,2"
EXPORT_SCENES = 2  # scenes per timed export
EXPORT_FRAMES_PER_SCENE = 8  # frames per scene per timed export


def _log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# --- the policy and the timing loop ---------------------------------------------------------


class SmoothRandomActions:
    """Seeded random actions that change smoothly: an AR(1) process in [-1, 1] mapped onto a
    ``Box``'s bounds (``rho`` is the step-to-step correlation); other spaces get seeded samples."""

    def __init__(self, space, seed: int, rho: float = 0.9, sigma: float = 0.5):
        self.space = space
        self.rng = np.random.default_rng(seed)
        self.rho, self.sigma = rho, sigma
        self.is_box = hasattr(space, "low") and hasattr(space, "high") and getattr(space, "shape", None)
        if self.is_box:
            self.x = np.zeros(space.shape, np.float64)
            self.low = np.asarray(space.low, np.float64)
            self.high = np.asarray(space.high, np.float64)
        else:
            space.seed(seed)

    def __call__(self):
        if not self.is_box:
            return self.space.sample()
        noise = self.rng.normal(0.0, self.sigma, self.x.shape)
        self.x = self.rho * self.x + math.sqrt(1.0 - self.rho**2) * noise
        unit = (np.clip(self.x, -1.0, 1.0) + 1.0) * 0.5
        return (self.low + unit * (self.high - self.low)).astype(self.space.dtype)


@dataclass
class StepRate:
    """What one timed stepping loop measured."""

    steps: int  # env steps in the timed window
    resets: int  # episode resets inside the timed window (their time is included)
    seconds: float  # wall-clock length of the timed window [s]
    steps_per_s: float  # steps / seconds [steps/s]
    cpu_ms_per_step: float  # this process's CPU time in the window / steps [ms]: what the step costs on a shared machine


def time_steps(env, seconds: float, warmup_s: float, seed: int, start: Callable[[], None] | None = None) -> StepRate:
    """Step ``env`` with smooth random actions: ``warmup_s`` untimed, then ``seconds`` timed.

    ``start`` (e.g. a barrier's ``wait``) is called between warm-up and the timed window."""
    policy = SmoothRandomActions(env.action_space, seed)
    env.reset(seed=seed)
    episode = 0

    def step() -> bool:
        _, _, terminated, truncated, _ = env.step(policy())
        return bool(terminated or truncated)

    t0 = time.perf_counter()
    while True:  # warm-up: at least one step
        if step():
            episode += 1
            env.reset(seed=seed + episode)
        if time.perf_counter() - t0 >= warmup_s:
            break
    if start is not None:
        start()
    steps = resets = 0
    t0, cpu0 = time.perf_counter(), time.process_time()
    while True:
        done = step()
        steps += 1
        if done:
            episode += 1
            resets += 1
            env.reset(seed=seed + episode)
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            break
    return StepRate(steps, resets, elapsed, steps / elapsed, 1e3 * (time.process_time() - cpu0) / steps)


def _warmup_s(seconds: float) -> float:
    return min(1.0, max(0.1, 0.2 * seconds))


def _make_ours(env_id: str, camera: bool):
    import gymnasium as gym

    import sim  # noqa: F401  (registers the ids)

    return gym.make(env_id, render_camera=camera)


def _sim_s_per_step(env) -> float | None:
    """Simulated seconds one ``step`` advances, where the env says so."""
    inner = env.unwrapped
    if hasattr(inner, "dt_s"):
        return float(inner.dt_s)
    config = getattr(inner, "config", None)
    if isinstance(config, dict) and config.get("policy_frequency"):
        return 1.0 / float(config["policy_frequency"])
    fps = inner.metadata.get("render_fps")
    return 1.0 / float(fps) if fps else None


# --- the figures ----------------------------------------------------------------------------


def _worker(names: list[str], seconds: float, seed: int, barrier, queue) -> None:
    """One process of a parallel run: for each figure, warm up, wait for the others, time."""
    try:
        import sim.raster

        sim.raster.warmup()
        for name in names:
            env_id, camera = SIM_FIGURES[name]
            env = _make_ours(env_id, camera)
            rate = time_steps(env, seconds, _warmup_s(seconds), seed, start=barrier.wait)
            env.close()
            queue.put((name, asdict(rate)))
    except BaseException as exc:  # report and release the others rather than hang them
        barrier.abort()
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


def measure_parallel(n: int, names: list[str], seconds: float, seed: int) -> dict[str, list[dict]]:
    """Run ``n`` processes (one env each) stepping each figure at the same time.

    Children are forked where the OS allows (they inherit the compiled kernels and need no
    ``if __name__ == "__main__"`` guard in the caller's script), spawned elsewhere."""
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    barrier = ctx.Barrier(n)
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(names, seconds, seed + 1000 * i, barrier, queue), daemon=True) for i in range(n)]
    for p in procs:
        p.start()
    results: dict[str, list[dict]] = {name: [] for name in names}
    error = None
    pending = n * len(names)
    try:
        while pending and error is None:
            try:
                name, payload = queue.get(timeout=1.0)
            except Exception:  # queue.Empty: check that nobody died without a word
                dead = [p for p in procs if p.exitcode not in (None, 0)]
                if dead or all(p.exitcode is not None for p in procs):
                    codes = [p.exitcode for p in procs]
                    error = f"worker processes exited early (exit codes {codes})"
                continue
            if name == "error":
                error = payload
            else:
                results[name].append(payload)
                pending -= 1
    finally:
        for p in procs:
            p.join(timeout=10.0)
            if p.is_alive():
                p.terminate()
                p.join()
    if error:
        raise RuntimeError(f"parallel run with {n} processes failed: {error}")
    return results


def measure_export(seconds: float, seed: int) -> dict:
    """Frames/s of ``sim.dataset.export_dataset``: repeated tiny exports until ``seconds`` pass."""
    from sim.dataset import export_dataset  # ImportError: the caller notes it as unavailable

    with tempfile.TemporaryDirectory(prefix="drivestack-bench-") as tmp:
        export_dataset(Path(tmp) / "warmup", scenes=1, frames_per_scene=2, seed=seed, progress=False)
        frames = exports = 0
        t0 = time.perf_counter()
        while True:
            out = Path(tmp) / f"export{exports}"
            summary = export_dataset(out, scenes=EXPORT_SCENES, frames_per_scene=EXPORT_FRAMES_PER_SCENE,
                                     seed=seed + 1 + exports, progress=False)
            exports += 1
            counts = summary.get("counts") if isinstance(summary, dict) else None
            frames += (sum(c["frames"] for c in counts.values()) if counts
                       else EXPORT_SCENES * EXPORT_FRAMES_PER_SCENE)
            elapsed = time.perf_counter() - t0
            if elapsed >= seconds:
                break
        nbytes = sum(f.stat().st_size for f in Path(tmp).rglob("*") if f.is_file() and "warmup" not in f.parts)
    return {
        "unit": "frames/s",
        "frames_per_s": frames / elapsed,
        "frames": frames,
        "exports": exports,
        "scenes_per_export": EXPORT_SCENES,
        "frames_per_scene": EXPORT_FRAMES_PER_SCENE,
        "seconds": elapsed,
        "bytes_per_frame": nbytes / frames,  # on disk: image, labels, masks, depth, ground truth [bytes]
        "export_args": summary.get("args") if isinstance(summary, dict) else None,
    }


def measure_peer(name: str, seconds: float, seed: int) -> dict:
    """One peer, one process, the same loop as ours. Raises ImportError when not installed."""
    env_id, module, dist, observation = PEERS[name]
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import gymnasium as gym

    __import__(module)
    if module == "gymnasium.envs.box2d":
        import Box2D  # noqa: F401  (gymnasium registers CarRacing even without it; fail here instead)
    env = gym.make(env_id)
    rate = time_steps(env, seconds, _warmup_s(seconds), seed)
    sim_s = _sim_s_per_step(env)
    env.close()
    return {
        "env": env_id,
        "package": f"{dist} {importlib.metadata.version(dist)}",
        "observation": observation,
        "action_space": str(env.action_space),
        "processes": 1,
        "unit": "steps/s",
        "sim_s_per_step": sim_s,
        **asdict(rate),
    }


# --- the report -----------------------------------------------------------------------------


def device_info() -> dict:
    cpu = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()

    def version(dist: str) -> str | None:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return None

    return {
        "kind": "cpu",
        "cpu": cpu or platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": version("numba"),
        "gymnasium": version("gymnasium"),
    }


def _load_average() -> float | None:
    """The OS's 1-minute load average (how busy the machine was besides us), where it has one."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


@dataclass
class SimReport:
    device: dict
    settings: dict
    figures: dict = field(default_factory=dict)
    export: dict | None = None
    peers: dict = field(default_factory=dict)
    ratios: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


def bench_sim(seconds: float, processes: list[int], peers: bool, seed: int) -> SimReport:
    import sim.raster

    report = SimReport(
        device=device_info(),
        settings={
            "seconds_per_figure": seconds,
            "warmup_s_per_figure": _warmup_s(seconds),
            "processes": processes,
            "seed": seed,
            "policy": "smooth random actions (AR(1), rho 0.9) on Box spaces, seeded uniform samples otherwise",
            "timing": "wall clock over the timed window; episode resets inside it are counted in the time",
        },
    )
    if max(processes) > report.device["usable_cores"]:
        report.notes.append(f"{max(processes)} processes on {report.device['usable_cores']} usable cores: they share cores")

    load_before = _load_average()
    _log("warming up the numba kernels")
    sim.raster.warmup()
    for name, (env_id, camera) in SIM_FIGURES.items():
        _log(f"{name}: {env_id}, camera {'on' if camera else 'off'}, {seconds:g} s, 1 process")
        env = _make_ours(env_id, camera)
        cam = env.unwrapped.config.camera
        rate = time_steps(env, seconds, _warmup_s(seconds), seed)
        report.figures[name] = {
            "env": env_id,
            "camera": camera,
            "resolution_px": [cam.width_px, cam.height_px] if camera else None,
            "unit": "steps/s",
            "sim_s_per_step": _sim_s_per_step(env),
            "runs": [{"processes": 1, "steps_per_s": rate.steps_per_s, "per_process_steps_per_s": [rate.steps_per_s],
                      "steps": rate.steps, "resets": rate.resets, "seconds": rate.seconds,
                      "cpu_ms_per_step": rate.cpu_ms_per_step}],
        }
        env.close()

    for n in (n for n in processes if n > 1):
        _log(f"all figures with {n} processes in parallel, {seconds:g} s each")
        results = measure_parallel(n, list(SIM_FIGURES), seconds, seed)
        for name, runs in results.items():
            rates = [r["steps_per_s"] for r in runs]
            report.figures[name]["runs"].append({
                "processes": n,
                "steps_per_s": float(sum(rates)),  # aggregate
                "per_process_steps_per_s": rates,
                "steps": sum(r["steps"] for r in runs),
                "resets": sum(r["resets"] for r in runs),
                "seconds": max(r["seconds"] for r in runs),
            })

    _log(f"dataset export, {seconds:g} s")
    try:
        report.export = measure_export(seconds, seed)
    except ImportError as exc:
        report.notes.append(f"dataset export: unavailable ({exc})")

    if peers:
        for name in PEERS:
            _log(f"peer {name}, {seconds:g} s, 1 process")
            try:
                with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the report
                    report.peers[name] = measure_peer(name, seconds, seed)
            except ImportError as exc:
                report.notes.append(f"peer {name}: not installed ({exc}); pip install 'drivestack[bench]'")
    else:
        report.notes.append("peers: skipped (--no-peers)")

    load_after = _load_average()
    report.settings["load_average_1min"] = {"before": load_before, "after": load_after}
    if load_before is not None and load_before > 0.5:
        report.notes.append(f"the 1-minute load average was {load_before:.2f} before the run: other processes "
                            "were using the CPU, so the figures (the parallel ones most) may read low or noisy")
    for name, fig in report.figures.items():
        ours = fig["runs"][0]["steps_per_s"]
        report.ratios[name] = {peer: ours / p["steps_per_s"] for peer, p in report.peers.items()}
    return report


def format_table(report: SimReport) -> str:
    d = report.device
    lines = [
        f"drivestack bench sim on {d['cpu']} ({d['usable_cores']} usable of {d['cores']} cores), "
        f"Python {d['python']}, numpy {d['numpy']}, numba {d['numba']}, gymnasium {d['gymnasium']}",
        f"{report.settings['seconds_per_figure']:g} s per figure after {report.settings['warmup_s_per_figure']:g} s warm-up; "
        "random smooth actions; resets counted in the time",
        "",
    ]
    counts = [1] + [n for n in report.settings["processes"] if n > 1]
    head = f"{'figure':<21}{'env':<26}{'camera':<10}{'sim s/step':>11}" + "".join(
        f"{'1 proc' if n == 1 else f'{n} procs (each)':>28}" for n in counts)
    lines += [head, "-" * len(head)]
    for name, fig in report.figures.items():
        cam = "x".join(map(str, fig["resolution_px"])) if fig["camera"] else "off"
        cells = []
        for run in fig["runs"]:
            each = ", ".join(f"{r:.0f}" for r in run["per_process_steps_per_s"])
            cells.append(f"{run['steps_per_s']:.1f} steps/s" if run["processes"] == 1 else f"{run['steps_per_s']:.1f} ({each}) steps/s")
        lines.append(f"{name:<21}{fig['env']:<26}{cam:<10}{fig['sim_s_per_step']:>11.3f}" + "".join(f"{c:>28}" for c in cells))
    if report.export:
        e = report.export
        lines.append(f"{'dataset export':<21}{'sim.dataset':<26}{'':<10}{'':>11}{e['frames_per_s']:>20.1f} frames/s"
                     f"   ({e['frames']} frames in {e['exports']} exports, {e['bytes_per_frame'] / 1024:.0f} KiB/frame)")
    pairs = [(a, b) for a, b in NAV_VS_STRAIGHT if a in report.figures and b in report.figures]
    if pairs:
        lines += ["", "navigation worlds / the straight-road world, 1 process: steps/s, and in CPU time per step "
                  "(the straight world's / the navigation world's; steadier on a shared machine):"]
        for a, b in pairs:
            fa, fb = report.figures[a]["runs"][0], report.figures[b]["runs"][0]
            lines.append(f"{a:<21}/ {b:<20}{fa['steps_per_s'] / fb['steps_per_s']:>8.2f}   CPU "
                         f"{fb['cpu_ms_per_step'] / fa['cpu_ms_per_step']:.2f} (navigation {fa['cpu_ms_per_step']:.2f} ms, "
                         f"straight {fb['cpu_ms_per_step']:.2f} ms per step)")
    if report.peers:
        lines += ["", "peers (1 process, same loop)"]
        for name, p in report.peers.items():
            sim_s = f"{p['sim_s_per_step']:.3f}" if p["sim_s_per_step"] else "?"
            lines.append(f"{name:<20}{p['package']:<22}{p['observation']:<32}{sim_s:>10}{p['steps_per_s']:>12.1f} steps/s")
        peer_names = list(report.peers)
        lines += ["", "ratios, ours (1 process) / peer, steps/s:", f"{'':<20}" + "".join(f"{n:>18}" for n in peer_names)]
        for name, row in report.ratios.items():
            lines.append(f"{name:<20}" + "".join(f"{row[n]:>18.2f}" for n in peer_names))
    if report.notes:
        lines += ["", "notes:"] + [f"  - {n}" for n in report.notes]
    return "\n".join(lines)


# --- the command ----------------------------------------------------------------------------


def parse_counts(text, unit: str, most: int) -> list[int]:
    """``--processes`` ("1,2") as sorted distinct counts in 1..``most``; a UsageError naming the value otherwise
    (``unit``: what is counted, for the message)."""
    try:
        counts = sorted({int(p) for p in str(text).split(",") if p.strip()})
    except ValueError:
        raise UsageError(f"--processes {text!r}: expected {unit} counts like 1,2") from None
    if not counts or counts[0] < 1 or counts[-1] > most:
        raise UsageError(f"--processes {text!r}: each count must be between 1 and {most}")
    return counts


def _run_sim(args) -> int:
    if not (math.isfinite(args.seconds) and args.seconds > 0):
        raise UsageError(f"--seconds {args.seconds:g}: must be a positive number of seconds")
    processes = parse_counts(args.processes, "process", 256)
    report = bench_sim(args.seconds, processes, peers=not args.no_peers, seed=args.seed)
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        print(format_table(report))
    return 0


#: Bench targets: name -> (help, function taking the parsed args); each lives in its own module.
TARGETS: dict[str, tuple[str, Callable[[Any], int]]] = {
    "sim": ("simulator steps/s (camera on and off), dataset export, parallel processes, peers", _run_sim),
    "perception": ("per-stage latency and frames/s of the perception stack, 720p replay, ONNX Runtime",
                   lambda args: __import__("drivestack.bench_perception", fromlist=["run"]).run(args)),
    "loop": ("closed-loop steps/s from pixels (models) and from labels, per stage; PPO training env-steps/s with 1..N envs",
             lambda args: __import__("drivestack.bench_loop", fromlist=["run"]).run(args)),
    "cluster": ("export frames/s and eval episodes/s: one process, a pool of N processes, a local Ray instance of N "
                "slots (needs the cluster extra)",
                lambda args: __import__("drivestack.bench_cluster", fromlist=["run"]).run(args)),
}


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("bench", help="measure speed on this machine, beside peers",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", choices=list(TARGETS), help="what to measure: " + "; ".join(f"{k}: {h}" for k, (h, _) in TARGETS.items()))
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout instead of the table")
    p.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help=f"timed seconds per figure, after warm-up (default {DEFAULT_SECONDS:g})")
    p.add_argument("--processes", default=DEFAULT_PROCESSES, help=f"process counts to run in parallel, comma-separated (default {DEFAULT_PROCESSES})")
    p.add_argument("--no-peers", action="store_true", help="skip the peer simulators (highway-env, CarRacing)")
    p.add_argument("--seed", type=int, default=0, help="seed of the scenes and the random actions (default 0)")
    p.add_argument("--detector", default=None, help="perception: detector weights (default: shipped)")
    p.add_argument("--hydranet", default=None, help="perception: multi-task weights (default: shipped)")
    p.add_argument("--joint", nargs="?", const=str(DEFAULT_JOINT), default=None, metavar="WEIGHTS",
                   help="perception, loop: also a joint network (`drivestack train joint`; alone: the shipped joint.pt), "
                        "beside the pair in the same run")
    p.add_argument("--device", default="auto", help="perception, loop: auto (default; loop: cpu), cpu, cuda")
    p.add_argument("--train-steps", type=int, default=3000, help="loop: PPO env steps per training figure (default 3000)")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    return TARGETS[args.target][1](args)


def main(argv: list[str] | None = None) -> int:
    from drivestack.cli import main as cli_main

    return cli_main(["bench", *(argv if argv is not None else sys.argv[1:])])


if __name__ == "__main__":
    sys.exit(main())
