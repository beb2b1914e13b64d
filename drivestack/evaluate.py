"""``drivestack eval``: measure the perception stack or a driving policy on held-out simulator seeds.

Usage::

    drivestack eval policy --json                          # the comparison table on town seeds 900000-900009
    drivestack eval policy --rows ppo/labels,rule-based/labels --seeds 900000-900049 --scenario highway
    drivestack eval policy --rows rule-based/labels --scenario townnav --seeds 900000-900049 --route-length 1000-2500

    drivestack eval suite                                  # the safety scenarios (sim.suite), every row, short sweep
    drivestack eval suite --rows rule-based/labels --scenarios pedestrian,CCRs --sweep full --out runs/suite

    drivestack eval perception --json                      # shipped models, default held-out seeds
    drivestack eval perception --seeds 10000-10019 --out runs/eval --detector runs/detector/weights/best.pt

    drivestack eval compare runs/teacher runs/candidate      # paired: better on the same routes, or chance?

    drivestack eval policy --seeds 900000-900999 --ray auto   # on the Ray cluster running here (docs/cluster.md)
    drivestack eval suite --sweep full --ray HEAD:6379 --out /shared/runs/suite

``eval policy`` drives the same held-out seeds with each row's policy and perception source
(ppo/labels, ppo/models, rule-based/labels, rule-based/models, pixels/camera; labels are exact, and
ppo/noisy-labels, rule-based/noisy-labels, driven only when named, add the models' measured errors; ppo/model-noise,
rule-based/model-noise the same errors correlated in time as the models' are, with track speeds, sure range and light
confusion) and reports success
rate, route completion, collisions per km by kind, off-road and solid-line events per km, red
lights run, mean speed, jerk, supervisor interventions (override steps) and its AEB activations per km
(warnings, partial and full brakes: ``control.metrics``), the CARLA-style driving score, plus
the perception gap (models minus labels) per policy.

``eval suite`` drives every case of the safety suite (scenario x parameter point x seed; Euro NCAP
AEB and leaderboard cases, ``sim.suite``, docs/suite.md) with each row and prints one table,
scenario x row: pass rate, collisions, impact speed where there was one, supervisor interventions
(``drivestack.eval_suite``); ``--json`` prints the JSON instead (one record per case, and the table);
``--out`` writes it as report.json with report.html, and an mp4 of the last seconds of every failed
case under failures/.

``eval compare BASE CANDIDATE [...]`` reads ``eval policy`` reports and tells whether each candidate drives better
than the base on the routes both drove: the difference of driving score, success, completion and collisions per km
with a 95 % bootstrap interval over routes, routes won and lost, and a verdict (``drivestack.eval_compare``).

``eval perception`` prints a JSON report on stdout (per-class AP50 / AP50-95, drivable IoU, lane-marking F1, depth and
distance errors by range, lane offset error) and, with ``--out``, writes it with PR curves and
example overlays; ``--light-as-driven`` adds the light as the drive reads it (``light_as_driven``: the pipeline in its
driving configuration on every frame, scored on the same frames). With ``--out`` both also write ``report.json`` and ``report.html`` (``drivestack report``).

``--ray [ADDRESS]`` (after the target) runs the units as Ray tasks (``drivestack.cluster``): the episodes
of ``eval policy``, the cases of ``eval suite`` and each seed of each kind of ``eval perception``; no
address starts a local Ray instance (``--ray-cpus N`` slots), ``auto`` or HOST:PORT joins a cluster. The
report is the one-machine run's, whatever the number of workers. With ``--out`` (``eval policy`` and ``eval suite``
with or without ``--ray``), each finished unit's result is kept under OUT/.units until the report is written: the
same command run again after an interruption runs only the units that had not finished.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common.errors import UsageError

from drivestack.cluster import add_ray_arguments, finish, spec_from_args, units_on
from perception.model_files import BACKENDS, DEFAULT_JOINT


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="evaluate perception or a driving policy on held-out simulator seeds",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", help="perception, policy, suite or compare")
    p.add_argument("reports", nargs="*", metavar="RUN[:ROW]",
                   help="compare: `eval policy` runs (folders or report.json), the first the base (drivestack.eval_compare)")
    p.add_argument("--seeds", default=None, help="held-out seeds: 'A-B' or 'A,B,C' (default perception 10000-10009, policy 900000-900009)")
    p.add_argument("--rows", default=None, help="policy: comma-separated rows (default: all whose policy files exist)")
    p.add_argument("--policy", default=None, help="policy: PPO/SAC policy file for the ppo rows (default: shipped)")
    p.add_argument("--pixels-policy", default=None, help="policy: end-to-end policy file (default: shipped)")
    p.add_argument("--scenario", default="town", help="policy: town, highway or townnav (default town)")
    p.add_argument("--route-length", default="500",
                   help="policy: route length [m] (default 500), or a range 'LO-HI' drawn per seed on a 250 m grid")
    p.add_argument("--no-supervisor", action="store_true", help="policy, suite: no safety supervisor around the policies")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="policy: override one env config field for every row, e.g. scenario.right_on_red=true (repeatable)")
    p.add_argument("--scenarios", default=None,
                   help="suite: scenario names or families, comma-separated (default: all; families car-to-car, "
                        "pedestrian, cyclist, leaderboard, junction: the last only for the rule-based rows)")
    p.add_argument("--sweep", default="short",
                   help="suite: short (default: each parameter's first, middle and last sweep value, all combinations), "
                        "full (the protocol's test matrix), defaults (one point per scenario) or drawn (held-out cases: "
                        "--seeds-per-scenario N per scenario, parameters drawn over their allowed range, worlds 900000+)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=V1[,V2]",
                   help="suite: these values of one parameter instead of its sweep, e.g. ego_kmh=30,40 (repeatable)")
    p.add_argument("--seeds-per-scenario", type=int, default=1,
                   help="suite: scene seeds 0..N-1 per parameter point (default 1); with --sweep drawn, N drawn cases per scenario")
    p.add_argument("--interleave", action="store_true",
                   help="policy: the models rows run the detector and the multi-task network in turns, each every other frame")
    p.add_argument("--workers", type=int, default=1, help="policy, suite: episodes in parallel processes (default 1)")
    p.add_argument("--kinds", default="town,highway", help="perception: scenario kinds, comma-separated: town, highway, townnav, highwaynav (default town,highway)")
    p.add_argument("--frames-per-seed", type=int, default=10)
    p.add_argument("--randomize", action="store_true", help="score on randomised visuals (default: the evaluation look)")
    p.add_argument("--no-map-prior", action="store_true",
                   help="perception, navigation worlds: do not tell perception where the map puts the next signal (as with no map)")
    p.add_argument("--light-as-driven", action="store_true",
                   help="perception: also score the light as the drive reads it (the pipeline with tracking and the "
                        "detector's own threshold on every frame; report light_as_driven); the town ~3x slower")
    p.add_argument("--detector", default=None, help="detector weights (default: shipped): perception, and the models rows of "
                                                    "policy and suite")
    p.add_argument("--hydranet", default=None, help="multi-task weights (default: shipped): as --detector")
    p.add_argument("--joint", nargs="?", const=str(DEFAULT_JOINT), default=None, metavar="WEIGHTS",
                   help="one joint network (`drivestack train joint`; alone: the shipped joint.pt) for boxes and dense "
                        "outputs, in place of the pair (--detector and --hydranet): perception, and the models rows of "
                        "policy and suite")
    p.add_argument("--device", default="auto")
    p.add_argument("--backend", default="auto", choices=BACKENDS,
                   help="the networks' runtime for perception and the models rows of policy and suite (default auto: "
                        "ONNX Runtime on the CPU, else PyTorch; perception scores the pair's detector in PyTorch then); "
                        "onnxruntime-int8: every network's INT8 copy (perception.int8)")
    p.add_argument("--out", default=None, help="folder for report.json and report.html (perception: also PR curves and overlays)")
    p.add_argument("--json", action="store_true", help="print only the JSON report on stdout")
    add_ray_arguments(p)
    p.set_defaults(func=run)


def parse_seeds(text: str) -> tuple[int, ...]:
    try:
        if "-" in text.strip("-"):
            lo, hi = (int(v) for v in text.split("-", 1))
            seeds = tuple(range(lo, hi + 1))
        else:
            seeds = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise UsageError(f"--seeds {text!r} is not allowed; use 'A-B' or 'A,B,C' with integers") from None
    if not seeds or min(seeds) < 0:
        raise UsageError(f"--seeds {text!r} is not allowed; give at least one seed >= 0")
    return seeds


def run(args) -> int:
    if args.target == "compare":
        from drivestack.eval_compare import run_compare

        return run_compare(args)
    if args.reports:
        raise UsageError(f"eval {args.target} takes no runs ({' '.join(args.reports)}); only `eval compare` does")
    from common.device import resolve_device

    resolve_device(args.device)  # up front: an unknown name, or CUDA where there is none, before any loading
    args.ray_spec = spec_from_args(args)  # --ray: checked (and Ray found) before any loading too
    if args.joint:
        if not Path(args.joint).is_file():
            raise UsageError(f"joint network weights {args.joint!r} do not exist; train one (`drivestack train joint`) or "
                             "pass its path")
        if args.interleave:
            raise UsageError("--joint runs one network once a frame; --interleave (two networks in turns) does not apply")
        args.joint = str(Path(args.joint).resolve())  # workers (and a cluster's) load it from anywhere
    if args.joint and (args.detector or args.hydranet):
        raise UsageError("--joint replaces --detector and --hydranet; give either --joint or those two")
    args.pair = None  # the models rows' (detector, multi-task) weights when not the shipped ones
    if args.detector or args.hydranet:
        from perception.pipeline import model_paths

        try:
            args.pair = tuple(str(p.resolve()) for p in model_paths(args.detector, args.hydranet))
        except FileNotFoundError as exc:
            raise UsageError(str(exc)) from None
    if args.target == "policy":
        return _run_policy(args)
    if args.target == "suite":
        from drivestack.eval_suite import run_suite

        return run_suite(args)
    if args.target != "perception":
        raise UsageError(f"eval target {args.target!r} is not allowed; choose perception, policy, suite or compare")
    args.seeds = args.seeds or "10000-10009"
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    from sim import SCENARIO_KINDS

    if not kinds or any(k not in SCENARIO_KINDS for k in kinds):
        raise UsageError(f"--kinds {args.kinds!r} is not allowed; use a comma-separated list of {', '.join(SCENARIO_KINDS)}")
    if args.frames_per_seed < 1:
        raise UsageError(f"--frames-per-seed {args.frames_per_seed} is not allowed; use 1 or more")
    seeds = parse_seeds(args.seeds)
    from perception.evaluate import EvalConfig, EvalModels, evaluate
    from perception.pipeline import model_paths

    try:
        det_path, hyd_path = model_paths(args.detector, args.hydranet)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    models = EvalModels(str(det_path), str(hyd_path), args.device, joint=args.joint, backend=args.backend)
    try:
        perception = models.build()  # here too: bad weights are a one-line error before any worker loads them
        driving = models.build_driving() if args.light_as_driven else None
    except (ValueError, FileNotFoundError) as exc:
        raise UsageError(str(exc)) from None
    with units_on(args.ray_spec, out=args.out) as units_map:
        report = evaluate(perception, EvalConfig(seeds=seeds, kinds=kinds, frames_per_seed=args.frames_per_seed,
                                                 randomize=args.randomize, map_prior=not args.no_map_prior,
                                                 light_as_driven=args.light_as_driven), args.out,
                          progress=not args.json, units_map=units_map, models=models, driving=driving)
    report["models"] = {"joint": str(args.joint)} if args.joint else {"detector": str(det_path), "hydranet": str(hyd_path)}
    report["models"]["backend"] = perception.backend
    print(json.dumps(report, indent=None if args.json else 2))
    if not args.json and args.out:
        print(f"wrote {args.out}/report.json, pr_curves.png, example_*.png", file=sys.stderr)
    if args.out:
        write_html(args.out)
        finish(args.out)
    return 0


def select_rows(args, scenario: str):
    """``(rows, ppo policy file, pixels policy file)`` from ``--rows`` / ``--policy`` / ``--pixels-policy``:
    the rows asked for, or every row whose policy file exists (a navigation world: only drivers that
    read the route); the policy files are loaded once to check them, before hours of driving."""
    from control.envs import NAV_KINDS
    from control.evaluate import DEFAULT_SOURCES, ROWS
    from control.pixels import DEFAULT_PIXEL_POLICY
    from control.policies import DEFAULT_POLICY, PolicyError, layout_mismatch, load_policy

    policy = Path(args.policy) if args.policy else DEFAULT_POLICY
    pixels = Path(args.pixels_policy) if args.pixels_policy else DEFAULT_PIXEL_POLICY
    if args.rows:
        rows = list(dict.fromkeys(r.strip() for r in args.rows.split(",") if r.strip()))
        bad = [r for r in rows if r not in ROWS]
        if bad or not rows:
            raise UsageError(f"--rows {args.rows!r} is not allowed; choose from {', '.join(ROWS)}")
    else:  # every row whose policy exists and reads this world's observation (a navigation town: the route)
        rows = [r for r, (kind, source) in ROWS.items() if source in DEFAULT_SOURCES
                and (kind == "rule-based" or (kind == "ppo" and policy.is_file() and _reads(policy, scenario))
                     or (kind == "pixels" and scenario not in NAV_KINDS and pixels.is_file()))]
    learned = [r for r in rows if ROWS[r][0] == "pixels"]
    if scenario in NAV_KINDS and learned:
        raise UsageError(f"--rows {','.join(learned)}: the pixels baseline reads no route and cannot follow a "
                         "navigation world's route; use the rule-based or ppo rows")
    try:  # check the files before hours of driving
        if any(ROWS[r][0] == "ppo" for r in rows):
            mismatch = layout_mismatch(load_policy(policy), scenario)
            if mismatch:
                raise UsageError(f"--policy {str(policy)!r}: {mismatch}")
        if any(ROWS[r][0] == "pixels" for r in rows):
            load_policy(pixels)
    except PolicyError as exc:
        raise UsageError(str(exc)) from None
    return rows, policy, pixels


def _reads(path, scenario: str) -> bool:
    """Whether the policy file reads the observation ``scenario``'s world gives (an unreadable file is
    left in, for the check after it to name)."""
    from control.policies import PolicyError, layout_mismatch, load_policy

    try:
        return layout_mismatch(load_policy(path), scenario) is None
    except PolicyError:
        return True


def parse_route_length(text: str) -> float | tuple[float, float]:
    """``--route-length``: one length [m] or a ``LO-HI`` range, each 50..20000 m."""
    bad = UsageError(f"--route-length {text!r} is not allowed; use a length or a range 'LO-HI' within 50..20000 m")
    try:
        values = [float(v) for v in str(text).split("-")] if "-" in str(text).strip("-") else [float(text)]
    except ValueError:
        raise bad from None
    if len(values) > 2 or not all(50 <= v <= 20000 for v in values) or (len(values) == 2 and values[0] > values[1]):
        raise bad
    return values[0] if len(values) == 1 else (values[0], values[1])


def check_overrides(scenario: str, route_length_m: float, items: list[str]) -> tuple[str, ...]:
    """``--set`` items, checked against ``EnvConfig`` before anything drives (a bad key or value is one line)."""
    from common.config import apply_overrides, from_dict
    from control.envs import env_config
    from sim.config import EnvConfig

    from_dict(EnvConfig, apply_overrides(env_config(scenario, route_length_m), list(items)))
    return tuple(items)


def check_routes(scenario: str, seeds, route_length, overrides: tuple[str, ...], text: str) -> None:
    """Navigation worlds: draw every seed's world (no driving; 0.1-0.5 s a seed) so that a route length no town of
    that seed can hold is one line before the evaluation starts, not an error hours into it."""
    if scenario not in ("townnav", "highwaynav"):
        return
    from common.config import ConfigError, apply_overrides, from_dict
    from control.envs import env_config
    from control.evaluate import route_lengths_m
    from sim.config import EnvConfig
    from sim.nav_scenario import generate_nav

    bad = []
    for seed, length in zip(seeds, route_lengths_m(seeds, route_length)):
        config = from_dict(EnvConfig, apply_overrides(env_config(scenario, length), list(overrides)))
        try:
            generate_nav(config.scenario, seed)
        except ConfigError as exc:
            bad.append((seed, str(exc)))
    if bad:
        seed, why = bad[0]
        more = f" (and {len(bad) - 1} more seeds)" if len(bad) > 1 else ""
        raise UsageError(f"--route-length {text}: seed {seed}{more}: {why}")


def make_out(out: str | None) -> None:
    """Create the ``--out`` folder (before hours of driving, not after); a UsageError when it cannot be."""
    if out:
        try:
            Path(out).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"--out {out!r}: cannot create the folder: {exc.strerror}") from None


def _run_policy(args) -> int:
    from control.evaluate import compare

    from sim import SCENARIO_KINDS

    if args.scenario not in SCENARIO_KINDS:
        raise UsageError(f"--scenario {args.scenario!r} is not allowed; choose one of {', '.join(SCENARIO_KINDS)}")
    if args.workers < 1:
        raise UsageError(f"--workers {args.workers} is not allowed; use 1 or more")
    route_length = parse_route_length(args.route_length)
    seeds = parse_seeds(args.seeds or "900000-900009")
    overrides = check_overrides(args.scenario, route_length if isinstance(route_length, float) else route_length[1],
                                args.set)
    rows, policy, pixels = select_rows(args, args.scenario)
    check_routes(args.scenario, seeds, route_length, overrides, args.route_length)
    make_out(args.out)
    with units_on(args.ray_spec, out=args.out, workers=args.workers) as units_map:
        report = compare(rows, seeds, args.scenario, route_length, policy, pixels, not args.no_supervisor,
                         args.device, args.workers, progress=not args.json, interleave=args.interleave,
                         units_map=units_map, overrides=overrides, joint=args.joint, pair=args.pair,
                         backend=args.backend)
    report["policy_files"] = {"ppo": str(policy), "pixels": str(pixels)}
    print(json.dumps(report, indent=None if args.json else 2))
    if not args.json:
        _print_table(report)
    if args.out:
        (Path(args.out) / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        write_html(args.out)
        finish(args.out)
    return 0


def write_html(out) -> None:
    """OUT/report.html beside report.json (a note instead when plotly is not installed)."""
    from drivestack.report import report_after_run

    report_after_run(Path(out), "eval")


def _print_table(report: dict) -> None:
    cols = ("success_rate", "route_completion", "driving_score", "collisions_per_km", "red_lights_run", "mean_speed_kmh",
            "interventions", "interventions_red_light", "warnings_per_km", "full_brakes_per_km")
    heads = ("success", "completion", "score", "collisions/km", "red lights", "km/h", "interventions", "of them red hold",
             "warnings/km", "full brakes/km")
    if report.get("scenario") in ("townnav", "highwaynav"):  # the navigation worlds' own events
        cols += ("stop_signs_run_per_km", "off_route_per_km", "wrong_lane_share")
        heads += ("stop signs/km", "off route/km", "wrong-lane share")
    print(f"{'row':<20}" + "".join(f"{h:>17}" for h in heads), file=sys.stderr)
    for row, s in report["rows"].items():
        print(f"{row:<20}" + "".join(f"{'-' if s.get(c) is None else s[c]:>17}" for c in cols), file=sys.stderr)
