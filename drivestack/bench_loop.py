"""``drivestack bench loop``: how fast the closed loop drives, and how fast a policy trains.

Usage::

    drivestack bench loop [--json] [--seconds S] [--processes 1,2] [--train-steps N] [--device cpu]

Measures, on this machine:

- closed-loop steps/s of ``drivestack drive``'s loop without its video: the town env renders the
  camera, perception turns it into a ``PerceptionFrame``, ``control.features`` encodes it, the
  policy (the shipped one when control/models/policy.zip exists, else the rule-based driver)
  acts inside the ``SafetySupervisor``, the env steps. Once with the perception models
  (``models``, on ``--device``, CPU by default), once with the two networks taking turns
  (``models-interleaved``: each runs on every other frame, ``Perception(interleave=True)``),
  once without the detector's far-field pass (``models-no-far-field``, ``perception.far_field``),
  once with the networks' INT8 copies (``models-int8``, ``perception.int8``; with ``--joint`` also
  ``models-joint`` and ``models-joint-int8``), and once with the simulator's labels
  (``labels``, ``GroundTruthPerception``, camera still rendered): the peer measured in the same
  run. The model loops are timed round robin in ``LOOP_ROUNDS`` turns of ``--seconds`` / rounds
  each (the machine's speed drifts 10-30 % over a run; in turns every loop meets the drift alike);
  each round's figure is in the report. Per stage, mean ms per step: env step + render, perception,
  features (encoding), policy (+ supervisor). Episode resets inside the timed window count in the time.
- training throughput, env-steps/s, on the fast path training uses (labels with perception
  noise, camera off; ``control.envs.make_env``): stable-baselines3 PPO ``MlpPolicy`` learning
  for ``--train-steps`` env steps with each count of ``--processes`` envs (one: in process, as
  ``control.train`` does; more: ``SubprocVecEnv``), rollouts and gradient updates both counted,
  after one warm-up rollout and update. Measured with torch on one thread in the learner process
  and, as the peer, with torch's default thread count (what ``control.train`` runs with): on a
  busy 2-core machine the default (2 threads) was about 8x slower for this tiny MLP.

The device (CPU model, cores, accelerator) and the load average are reported with the figures.
Timings are reported, never judged: nothing here fails on speed.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
import time

import gymnasium as gym
import numpy as np

from common.errors import UsageError

TARGET_STEPS_PER_S = 60.0  # closed-loop aim on the CPU (3x the 20 Hz control rate)
ROUTE_M = 500.0  # closed-loop route [m]
TRAIN_ROUTE_M = 300.0  # training route, as control.train [m]
LOOP_ROUNDS = 2  # each closed loop is timed in this many turns, the loops round robin
DEFAULT_TRAIN_STEPS = 3000


def _log(msg: str) -> None:
    print(f"[bench loop] {msg}", file=sys.stderr, flush=True)


class _EnvTimer(gym.Wrapper):
    """Times the simulator's own step (physics, traffic, camera render, labels) [s]."""

    def __init__(self, env):
        super().__init__(env)
        self.last_s = 0.0

    def step(self, action):
        t = time.perf_counter()
        out = self.env.step(action)
        self.last_s = time.perf_counter() - t
        return out


def _timed(process):
    """Wraps a perception object's ``process`` so each call's duration is kept in ``.last_s``."""

    @functools.wraps(process)
    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        out = process(*args, **kwargs)
        wrapper.last_s = time.perf_counter() - t
        return out

    wrapper.last_s = 0.0
    return wrapper


def _driver():
    """The shipped policy when it exists, else the rule-based one; inside the supervisor."""
    from control.policies import DEFAULT_POLICY, RuleBasedPolicy, load_policy
    from control.supervisor import SafetySupervisor

    policy = load_policy(DEFAULT_POLICY, device="cpu") if DEFAULT_POLICY.is_file() else RuleBasedPolicy()
    return SafetySupervisor(policy)


def closed_loop(perception, seconds: float, warmup_s: float, seed: int) -> dict:
    """Steps/s and per-stage ms of the loop; ``perception`` None means the simulator's labels."""
    from control.envs import env_config, with_route_block
    from control.features import LAYOUT_ID
    from control.observation import PerceptionObservation
    from perception.ground_truth import GroundTruthPerception

    import sim  # noqa: F401  (registers the env ids)

    policy = _driver()
    layout = getattr(policy.policy, "layout", None) or LAYOUT_ID  # a v2 policy reads the follow-the-lane route block
    config = with_route_block(env_config("town", ROUTE_M, render_camera=True), layout)
    timer = _EnvTimer(gym.make("drivestack/Town-v0", config=config))
    perception = perception if perception is not None else GroundTruthPerception()
    perception.process = _timed(perception.process)  # instance attribute: the object's type is unchanged
    env = PerceptionObservation(timer, perception, layout)
    episode = 0
    obs, info = env.reset(seed=seed)
    policy.reset()
    parts = {"env_step_render": [], "perception": [], "features": [], "policy": []}
    steps = resets = 0
    t_end_warmup = time.perf_counter() + warmup_s
    timing = False
    start = 0.0
    while True:
        now = time.perf_counter()
        if not timing and now >= t_end_warmup:
            timing, start, steps, resets = True, now, 0, 0
            parts = {k: [] for k in parts}
        elif timing and now - start >= seconds:
            break
        t0 = time.perf_counter()
        action = policy.act(obs, info.get("perception"))  # the frame: the supervisor's tracks read it, as when driving
        t1 = time.perf_counter()
        obs, _, terminated, truncated, info = env.step(action)
        t2 = time.perf_counter()
        parts["policy"].append(t1 - t0)
        parts["env_step_render"].append(timer.last_s)
        parts["perception"].append(perception.process.last_s)
        parts["features"].append(max(t2 - t1 - timer.last_s - perception.process.last_s, 0.0))
        steps += 1
        if terminated or truncated:
            episode += 1
            obs, info = env.reset(seed=seed + episode)
            policy.reset()
            resets += 1
    elapsed = time.perf_counter() - start
    env.close()
    del perception.process  # the timing wrapper: a later round wraps the method afresh
    ms = {k: round(1e3 * float(np.mean(v)), 3) for k, v in parts.items()}
    ms["features_policy"] = round(ms["features"] + ms["policy"], 3)
    rate = steps / elapsed
    return {"unit": "steps/s", "steps_per_s": round(rate, 2), "steps": steps, "resets": resets,
            # to the microsecond: the pooled figure of short rounds (tests run 0.3 s) is summed from these
            "seconds": round(elapsed, 6),
            "stages_ms": ms, "policy": policy.name, "target_steps_per_s": TARGET_STEPS_PER_S,
            "meets_target": bool(rate >= TARGET_STEPS_PER_S)}


def pooled_rounds(parts: list[dict]) -> dict:
    """One figure from the rounds of one closed loop (``closed_loop`` records): steps/s over all their timed
    steps, each stage's mean per step."""
    steps = sum(p["steps"] for p in parts)
    seconds = sum(p["seconds"] for p in parts)
    rate = steps / seconds
    ms = {k: round(sum(p["stages_ms"][k] * p["steps"] for p in parts) / steps, 3) for k in parts[0]["stages_ms"]}
    return {**parts[0], "steps_per_s": round(rate, 2), "steps": steps, "resets": sum(p["resets"] for p in parts),
            "seconds": round(seconds, 3), "stages_ms": ms, "rounds": len(parts),
            "steps_per_s_each_round": [p["steps_per_s"] for p in parts], "meets_target": bool(rate >= TARGET_STEPS_PER_S)}


def _training_env(rank: int, seed: int):
    """One training env (module level, so ``SubprocVecEnv`` can pickle it under spawn)."""
    from control.envs import make_env
    from perception.ground_truth import PerceptionNoise

    s = seed * 1000 + rank
    return make_env("town", TRAIN_ROUTE_M, training_seed=s, noise=PerceptionNoise(), noise_seed=s, monitor=True)


def training_throughput(n_envs: int, train_steps: int, seed: int, torch_threads: int | None = None) -> dict:
    """Env-steps/s of PPO learning ``train_steps`` steps with ``n_envs`` envs (rollouts + updates);
    ``torch_threads``: torch's intra-op threads in this process meanwhile (None: torch's default)."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    fns = [functools.partial(_training_env, k, seed) for k in range(n_envs)]
    venv = SubprocVecEnv(fns, start_method="spawn") if n_envs > 1 else DummyVecEnv(fns)
    n_steps = int(min(1024, max(16, train_steps // n_envs)))  # one rollout per env at toy sizes, control.train's 1024 otherwise
    batch = int(min(256, n_steps * n_envs))
    default_threads = torch.get_num_threads()
    torch.set_num_threads(torch_threads or default_threads)
    try:
        model = PPO("MlpPolicy", venv, n_steps=n_steps, batch_size=batch, n_epochs=5, seed=seed, device="cpu", verbose=0,
                    policy_kwargs={"net_arch": {"pi": [128, 128], "vf": [128, 128]}})
        model.learn(total_timesteps=1)  # warm-up: one rollout and update (first resets, torch's first calls)
        before = int(model.num_timesteps)
        t = time.perf_counter()
        model.learn(total_timesteps=train_steps, reset_num_timesteps=False)
        elapsed = time.perf_counter() - t
        done = int(model.num_timesteps) - before
        threads = torch.get_num_threads()
    finally:
        torch.set_num_threads(default_threads)
        venv.close()
    return {"envs": n_envs, "vec_env": type(venv).__name__, "torch_threads": threads, "env_steps_per_s": round(done / elapsed, 1),
            "env_steps": done, "seconds": round(elapsed, 3), "n_steps_per_env": n_steps, "batch_size": batch, "n_epochs": 5}


def bench_loop(seconds: float, processes: list[int], train_steps: int, device: str, seed: int,
               joint: str | None = None) -> dict:
    import torch

    from drivestack.bench import _load_average, _warmup_s, device_info
    from perception.pipeline import Perception, model_paths
    from sim.raster import warmup

    dev = device_info()
    dev["accelerator"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU)"
    dev["torch"] = torch.__version__
    dev["torch_threads"] = torch.get_num_threads()
    report: dict = {"device": dev, "settings": {}, "closed_loop": {}, "training": {}, "notes": []}
    load_before = _load_average()
    _log("warming up the numba kernels")
    warmup()
    perception = Perception.from_files(*model_paths(), device=device)
    report["settings"] = {
        "seconds_per_figure": seconds, "warmup_s_per_figure": _warmup_s(seconds), "seed": seed, "route_length_m": ROUTE_M,
        "scenario": "town", "perception_device": device, "perception_backend": perception.backend,
        "train_steps": train_steps, "train_route_length_m": TRAIN_ROUTE_M, "processes": processes,
        "timing": "wall clock over the timed window, after warm-up; episode resets inside it are counted",
    }
    interleaved = Perception.from_files(*model_paths(), device=device, interleave=True)
    loops = [("models", perception), ("models-interleaved", interleaved)]
    if getattr(perception.detector, "far_field", None) is not None:  # the detector's far-field pass: what it costs
        loops.append(("models-no-far-field", Perception.from_files(*model_paths(), device=device, far_field=False)))
    with_int8 = perception.backend == "onnxruntime"  # the INT8 copies (perception.int8) beside the fp32 graphs
    if with_int8:
        loops.append(("models-int8", Perception.from_files(*model_paths(), device=device, backend="onnxruntime-int8")))
    if joint:  # the one-pass network beside the pair, in the same run
        loops.append(("models-joint", Perception.from_files(joint=joint, device=device)))
        if with_int8:
            loops.append(("models-joint-int8", Perception.from_files(joint=joint, device=device, backend="onnxruntime-int8")))
        report["settings"]["joint"] = str(joint)
    rounds: dict[str, list[dict]] = {name: [] for name, _ in loops}
    for k in range(LOOP_ROUNDS):  # round robin: a machine whose speed drifts weighs on every loop alike
        for name, p in loops:
            _log(f"closed loop from {name}, {seconds / LOOP_ROUNDS:g} s (round {k + 1} of {LOOP_ROUNDS})")
            rounds[name].append(closed_loop(p, seconds / LOOP_ROUNDS, _warmup_s(seconds), seed))
    report["closed_loop"] = {name: pooled_rounds(parts) for name, parts in rounds.items()}
    _log(f"closed loop from labels, {seconds:g} s")
    report["closed_loop"]["labels"] = closed_loop(None, seconds, _warmup_s(seconds), seed)
    report["closed_loop"]["models"]["perception_backend"] = perception.backend
    report["closed_loop"]["models-interleaved"]["perception_backend"] = interleaved.backend
    report["closed_loop"]["models-interleaved"]["note"] = ("the detector and the multi-task network take turns, each on "
                                                           "every other frame (Perception(interleave=True))")
    if "models-no-far-field" in report["closed_loop"]:
        report["closed_loop"]["models-no-far-field"]["note"] = ("the detector without its far-field pass (the band round "
                                                                "the horizon enlarged 2x, perception.far_field)")
    if joint:
        report["closed_loop"]["models-joint"]["note"] = "one joint network, one pass per frame for boxes and dense outputs"
    for name in ("models-int8", "models-joint-int8"):
        if name in report["closed_loop"]:
            report["closed_loop"][name]["note"] = "the same networks' INT8 copies in ONNX Runtime (perception.int8)"
    report["training"] = {"unit": "env-steps/s", "algo": "PPO MlpPolicy (stable-baselines3), 128x128",
                          "env": "control.envs.make_env: town, labels + PerceptionNoise, camera off", "runs": []}
    for n in processes:
        _log(f"training: PPO, {train_steps} env steps, {n} env(s), torch 1 thread")
        report["training"]["runs"].append(training_throughput(n, train_steps, seed, torch_threads=1))
    if dev["torch_threads"] > 1:  # the peer: what control.train gets with torch's default threads
        _log(f"training: PPO, {train_steps} env steps, 1 env, torch {dev['torch_threads']} threads (default)")
        report["training"]["runs"].append(training_throughput(1, train_steps, seed))
    load_after = _load_average()
    report["settings"]["load_average_1min"] = {"before": load_before, "after": load_after}
    if load_before is not None and load_before > 0.5:
        report["notes"].append(f"the 1-minute load average was {load_before:.2f} before the run: other processes were "
                               "using the CPU, so the figures may read low")
    if max(processes) > dev["usable_cores"]:
        report["notes"].append(f"{max(processes)} envs on {dev['usable_cores']} usable cores: they share cores")
    return report


def format_table(r: dict) -> str:
    d = r["device"]
    lines = [f"drivestack bench loop on {d['cpu']} ({d['usable_cores']} usable of {d['cores']} cores), accelerator "
             f"{d['accelerator']}, perception on {r['settings']['perception_device']} ({r['settings']['perception_backend']})", "",
             f"{'closed loop':<20}{'steps/s':>9}{'env+render':>12}{'perception':>12}{'features':>10}{'policy':>9}   (ms per step)"]
    for name, f in r["closed_loop"].items():
        s = f["stages_ms"]
        lines.append(f"{name:<20}{f['steps_per_s']:>9.1f}{s['env_step_render']:>12.2f}{s['perception']:>12.2f}"
                     f"{s['features']:>10.2f}{s['policy']:>9.2f}")
    lines.append(f"(target {TARGET_STEPS_PER_S:g} steps/s from pixels; policy {r['closed_loop']['models']['policy']})")
    lines += ["", f"training, {r['training']['algo']}, {r['training']['env']}"]
    for run in r["training"]["runs"]:
        lines.append(f"  {run['envs']} env(s) ({run['vec_env']}, torch {run['torch_threads']} thread(s)): "
                     f"{run['env_steps_per_s']:.0f} env-steps/s "
                     f"({run['env_steps']} steps in {run['seconds']:.1f} s)")
    if r["notes"]:
        lines += ["", "notes:"] + [f"  - {n}" for n in r["notes"]]
    return "\n".join(lines)


def run(args) -> int:
    import math

    seconds = getattr(args, "seconds", 5.0)
    if not (math.isfinite(seconds) and seconds > 0):
        raise UsageError(f"--seconds {seconds:g}: must be a positive number of seconds")
    from drivestack.bench import parse_counts

    processes = parse_counts(getattr(args, "processes", "1,2"), "env", 64)
    train_steps = getattr(args, "train_steps", DEFAULT_TRAIN_STEPS)
    if train_steps < 1:
        raise UsageError(f"--train-steps {train_steps}: use 1 or more")
    device = getattr(args, "device", "auto")
    device = "cpu" if device == "auto" else device
    if device not in ("cpu", "cuda"):
        raise UsageError(f"--device {device!r} is not allowed; choose auto, cpu or cuda")
    try:
        with contextlib.redirect_stdout(sys.stderr):  # libraries' chatter (ultralytics' first-run notes) off the report
            report = bench_loop(seconds, processes, train_steps, device, getattr(args, "seed", 0), getattr(args, "joint", None))
    except FileNotFoundError as exc:
        raise UsageError(f"{exc}; train the models (`drivestack train`)") from None
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    return 0
