"""``drivestack drive``: drive simulated routes from the camera and record them (the main job).

Usage::

    drivestack drive                                   # shipped models + shipped policy + supervisor, one town route
    drivestack drive --scenario highway --seed 3 --episodes 2 --out runs/hw3
    drivestack drive --scenario townnav --route-length 1000     # a street grid: the route turns at junctions
    drivestack drive --perception labels --policy rule-based --no-video
    drivestack drive --config configs/town.yaml --set scenario.route_length_m=800
    drivestack drive --rerun                           # also episode-NNN/recording.rrd for the Rerun viewer
    drivestack replay runs/hw3/episode-000             # re-run perception on a drive, scored against its labels

Each step the simulator renders the forward camera; the perception models turn the pixels into
a ``PerceptionFrame`` (``--perception labels``: the simulator's exact labels instead, the camera
still rendered for the video); ``control.features`` encodes it; the policy (``--policy``:
``shipped`` = control/models/policy.zip, the rule-based driver until that file exists;
``rule-based``; or a policy .zip) acts, wrapped in the ``SafetySupervisor`` unless
``--no-supervisor``.

The run folder (``--out``, default ``runs/drive-<date>-<time>``) must not exist; it is created
only after every input has been checked. While the drive runs it holds an ``INCOMPLETE`` file,
removed once the run's ``metrics.json`` is written (``drivestack.run_marker``): a folder that
keeps it was interrupted. It holds ``config.yaml`` (the drive settings and the
resolved env config; ``--config`` reads it back), ``metrics.json`` (``control.metrics.summarize``
over the episodes, and each episode's metrics) and per episode ``episode-NNN/`` as described in
``drivestack.drive_output`` (camera.mp4, hud.mp4, steps.jsonl, recording.json, perception.jsonl,
metrics.json with the supervisor's interventions), and ``report.html`` (``drivestack report``; needs the
report extra).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from common.config import apply_overrides, from_dict, load_yaml, merge, to_dict
from common.errors import UsageError
from drivestack.run_marker import mark_complete, start_run_folder
from perception.model_files import BACKENDS, DEFAULT_JOINT
from sim import SCENARIO_KINDS

PERCEPTION_SOURCES = ("models", "labels")
SCENARIOS = SCENARIO_KINDS
DEVICES = ("auto", "cpu", "cuda")
DEFAULT_ROUTE_M = 500.0


@dataclass(frozen=True)
class DriveSettings:
    """The drive's own choices (the world's are the env config beside them in config.yaml)."""

    scenario: str = "town"  # town | highway | townnav
    seed: int = 0  # scene seed of the first episode; episode k uses seed + k
    episodes: int = 1
    perception: str = "models"  # models (from pixels) | labels (GroundTruthPerception, exact)
    policy: str = "shipped"  # as asked: shipped | rule-based | a policy .zip
    policy_name: str = ""  # what actually drove
    supervisor: bool = True  # SafetySupervisor around the policy
    device: str = "auto"  # perception device: auto | cpu | cuda
    interleave: bool = False  # the two networks in turns, each on every other frame
    far_field: bool = True  # the detector's second pass over the band round the horizon, enlarged (perception.far_field)
    joint: str = ""  # a joint network's weights in place of the pair ("" = the pair)
    backend: str = ""  # the networks' runtime that ran: torch | onnxruntime | onnxruntime-int8 ("" from labels)
    video: bool = True  # camera.mp4 / hud.mp4 (and the replayable recording)


def add_parser(sub) -> None:
    p = sub.add_parser("drive", help="drive simulated routes from the camera and record them (the main job)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", default="town", help="town, highway or townnav (a street grid whose routes turn) (default: town)")
    p.add_argument("--seed", type=int, default=0, help="first episode's scene seed (default: 0)")
    p.add_argument("--episodes", type=int, default=1, help="number of episodes, seeds seed..seed+N-1 (default: 1)")
    p.add_argument("--route-length", type=float, default=None, help=f"route length [m] (default: {DEFAULT_ROUTE_M:g})")
    p.add_argument("--perception", default="models", help="models (from the camera, default) or labels (the simulator's exact labels)")
    p.add_argument("--policy", default="shipped", help="shipped (default), rule-based, or the path of a policy .zip")
    p.add_argument("--no-supervisor", action="store_true", help="drive without the safety supervisor")
    p.add_argument("--interleave", action="store_true",
                   help="run the detector and the multi-task network in turns, each on every other frame (faster; objects "
                        "are predicted from their tracks in between)")
    p.add_argument("--no-far-field", action="store_true",
                   help="skip the detector's second pass over the band round the horizon, enlarged 2x (faster; cones "
                        "and walkers are then boxed from about half the range)")
    p.add_argument("--device", default="auto", help="perception device: auto (default), cpu, cuda")
    p.add_argument("--backend", default="auto", choices=BACKENDS,
                   help="the networks' runtime: auto (default: ONNX Runtime on the CPU, else PyTorch), torch, onnxruntime, "
                        "onnxruntime-int8 (INT8 copies of the ONNX graphs, made once: faster on CPUs with VNNI/AMX)")
    p.add_argument("--joint", nargs="?", const=str(DEFAULT_JOINT), default=None, metavar="WEIGHTS",
                   help="perception from one joint network (boxes and dense outputs in one pass) instead of the shipped "
                        "detector and multi-task network; alone: the shipped joint.pt (perception/models/joint_card.md)")
    p.add_argument("--out", default=None, help="run folder (default: runs/drive-<date>-<time>); must not exist")
    p.add_argument("--config", default=None, help="YAML preset of EnvConfig fields, or a drive run's config.yaml")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one env config field")
    p.add_argument("--no-video", action="store_true", help="skip the mp4 files (perception.jsonl and metrics only)")
    p.add_argument("--show", action="store_true", help="show the drive view in a window (needs a display)")
    p.add_argument("--rerun", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="record each episode for the Rerun viewer: episode-NNN/recording.rrd, or stream to a viewer at "
                        "ADDRESS (rerun+http://HOST:PORT/proxy); needs the rerun extra")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


# --- checking the inputs (nothing is written before all of this has passed) ------------------


def _env_config(args):
    """The resolved env config; also checks the drive's plain option values (before anything loads)."""
    from control.envs import env_config
    from sim.config import EnvConfig

    if args.scenario not in SCENARIOS:
        raise UsageError(f"--scenario {args.scenario!r} is not allowed; choose one of {', '.join(SCENARIOS)}")
    if args.seed < 0:
        raise UsageError(f"--seed {args.seed} is not allowed; use an integer >= 0")
    if args.episodes < 1:
        raise UsageError(f"--episodes {args.episodes} is not allowed; use 1 or more")
    if args.perception not in PERCEPTION_SOURCES:
        raise UsageError(f"--perception {args.perception!r} is not allowed; choose models or labels")
    if args.device not in DEVICES:
        raise UsageError(f"--device {args.device!r} is not allowed; choose auto, cpu or cuda")
    data = env_config(args.scenario, DEFAULT_ROUTE_M, render_camera=True)
    if args.config:
        preset = load_yaml(args.config)
        if set(preset) == {"drive", "env"}:  # a drive run's config.yaml
            preset = preset["env"]
        data = merge(data, preset)
    if args.route_length is not None:
        data = merge(data, {"scenario": {"route_length_m": args.route_length}})
    data = apply_overrides(data, args.set)
    config = from_dict(EnvConfig, data)
    if not config.render_camera:
        raise UsageError("render_camera=false is not allowed for drive: it drives (and films) from the camera")
    return config


def _policy(spec: str, supervised: bool, scenario: str = "town"):
    """The driver: the shipped policy (rule-based until it exists), rule-based, or a policy file.

    A policy drives only the worlds whose observation it reads (``control.policies.layout_mismatch``):
    the navigation towns give the route block (layout v2). Where the shipped policy does not read
    the world's observation (v1 in a navigation town), "shipped" drives with the rule-based policy."""
    from control.policies import DEFAULT_POLICY, PolicyError, RuleBasedPolicy, layout_mismatch, load_policy
    from control.supervisor import SafetySupervisor

    if spec == "rule-based":
        policy = RuleBasedPolicy()
    elif spec == "shipped" and not DEFAULT_POLICY.is_file():
        print(f"drivestack drive: note: no shipped policy at {DEFAULT_POLICY} yet; driving with the rule-based policy",
              file=sys.stderr)
        policy = RuleBasedPolicy()
    else:
        path = DEFAULT_POLICY if spec == "shipped" else Path(spec)
        try:
            policy = load_policy(path, device="cpu")  # an MLP acts faster on the CPU than through a GPU
        except PolicyError as exc:
            raise UsageError(f"--policy {spec!r}: {exc} (use shipped, rule-based or a policy .zip)") from None
        if policy.observation != "features":
            raise UsageError(f"--policy {spec!r}: a {policy.observation} policy; drive runs policies on perception features")
        mismatch = layout_mismatch(policy, scenario)
        if mismatch and spec == "shipped":
            print(f"drivestack drive: note: the shipped policy reads {policy.layout}, the {scenario} world gives "
                  "another layout; driving with the rule-based policy", file=sys.stderr)
            policy = RuleBasedPolicy()
        elif mismatch:
            raise UsageError(f"--policy {spec!r}: {mismatch}")
    return SafetySupervisor(policy) if supervised else policy


def _perception(source: str, device: str, interleave: bool = False, joint: str | None = None, far_field: bool = True,
                backend: str = "auto"):
    """The models (``Perception.from_files``: the pair, or ``joint``) or None for the simulator's labels."""

    if source == "labels":
        if joint:
            raise UsageError("--joint is a model; it is not allowed with --perception labels")
        if backend != "auto":
            raise UsageError(f"--backend {backend} runs the models; it is not allowed with --perception labels")
        return None
    if joint and interleave:
        raise UsageError("--interleave needs the two networks; a joint network (--joint) runs once per frame")
    from perception.pipeline import Perception, model_paths

    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--device cuda: no CUDA device is available here; use auto or cpu")
    try:
        if joint:
            return Perception.from_files(joint=joint, device=device, backend=backend)
        return Perception.from_files(*model_paths(), device=device, interleave=interleave, far_field=far_field,
                                     backend=backend)
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def run(args) -> int:
    from drivestack.rerun_log import check_target

    config = _env_config(args)
    rerun_target = check_target(args.rerun)
    out = Path(args.out or time.strftime("runs/drive-%Y%m%d-%H%M%S"))
    if out.exists():
        raise UsageError(f"run folder {str(out)!r} already exists; choose another --out (runs are never overwritten)")
    policy = _policy(args.policy, not args.no_supervisor, config.scenario.kind)
    perception = _perception(args.perception, args.device, args.interleave, args.joint, not args.no_far_field,
                             args.backend)
    show = args.show and _can_show()
    start_run_folder(out, "drive", "run folder")  # INCOMPLETE until the last act below: a folder that keeps it was interrupted

    import yaml
    from tqdm import tqdm

    from control.envs import make_env
    from control.metrics import summarize
    from drivestack.drive_loop import DriveTap, drive_episode
    from drivestack.drive_output import EpisodeOutput
    from drivestack.rerun_log import RECORDING_FILE, RerunLog

    settings = DriveSettings(scenario=config.scenario.kind, seed=args.seed, episodes=args.episodes, perception=args.perception,
                             policy=args.policy, policy_name=policy.name, supervisor=not args.no_supervisor,
                             device=args.device, interleave=args.interleave, joint=args.joint or "",
                             far_field=not args.no_far_field, video=not args.no_video,
                             backend=perception.backend if perception is not None else "")
    (out / "config.yaml").write_text(yaml.safe_dump({"drive": asdict(settings), "env": to_dict(config)}, sort_keys=False))
    driver = getattr(policy, "policy", policy)  # under the supervisor
    env = make_env(config.scenario.kind, config.scenario.route_length_m, perception=perception, render_camera=True,
                   config=to_dict(config), layout=getattr(driver, "layout", None))  # a learned policy's layout
    tap = DriveTap(env, policy, args.perception, show)
    episodes = []
    try:
        for k in range(args.episodes):
            seed = args.seed + k
            output = EpisodeOutput(out / f"episode-{k:03d}", fps=config.control_hz, video=not args.no_video)
            rerun = None if rerun_target is None else RerunLog(rerun_target or output.folder / RECORDING_FILE,
                                                               name=f"{out.name} episode {k} (seed {seed})")
            with tqdm(desc=f"episode {k} (seed {seed})", unit="step", disable=args.quiet, file=sys.stderr) as bar:
                m = drive_episode(tap, policy, seed, output, bar, rerun)
            m.update({"scenario": config.scenario.kind, "perception": args.perception, "policy": policy.name})
            (output.folder / "metrics.json").write_text(json.dumps(m, indent=2) + "\n")
            episodes.append(m)
    finally:
        env.close()
    summary = summarize(episodes)
    summary["steps_per_s"] = round(float(np.mean([m["steps_per_s"] for m in episodes])), 2)
    (out / "metrics.json").write_text(json.dumps({"settings": asdict(settings), "summary": summary, "episodes": episodes},
                                                 indent=2) + "\n")
    from drivestack.report import report_after_run

    report_after_run(out, "drive")  # out/report.html, or a note naming the extra when plotly is missing
    mark_complete(out)  # the last act: a run without it is incomplete
    print(format_table(episodes, summary, settings, out))
    return 0


def format_table(episodes: list[dict], summary: dict, settings: DriveSettings, out: Path) -> str:
    """The one-screen summary printed at the end."""
    seen = settings.perception + (f" ({settings.backend})" if settings.backend else "")
    lines = [f"drive: {settings.scenario}, perception from {seen}, policy {settings.policy_name}",
             f"{'ep':>3} {'seed':>7} {'end':<20} {'route':>6} {'score':>6} {'km/h':>6} {'coll':>4} {'red':>3} "
             f"{'interv':>6} {'steps/s':>8}"]
    for k, m in enumerate(episodes):
        lines.append(f"{k:>3} {m['seed']:>7} {m['end']:<20} {100 * m['route_completion']:>5.1f}% {m['driving_score']:>6.3f} "
                     f"{m['mean_speed_kmh']:>6.1f} {sum(m['collisions'].values()):>4} {m['red_lights_run']:>3} "
                     f"{m['interventions']:>6} {m['steps_per_s']:>8.1f}")
    lines.append(f"success {100 * summary['success_rate']:.0f}%  route completion {100 * summary['route_completion']:.1f}%  "
                 f"driving score {summary['driving_score']:.3f}  interventions {summary['interventions']}  -> {out}/")
    return "\n".join(lines)


def _can_show() -> bool:
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform in ("win32", "darwin"):
        return True
    print("drivestack drive: note: --show ignored: no display", file=sys.stderr)
    return False
