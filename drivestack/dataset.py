"""``drivestack dataset``: export simulator frames with labels for YOLO and the dense heads.

Usage::

    drivestack dataset --out DIR --scenes N --frames-per-scene M --seed S
                       [--kinds town,highway] [--every N] [--boost CLASS,CLASS --boost-every N]
                       [--kinds suite --suite-scenarios LaneClosure,CPLA-25,...]
                       [--no-randomize] [--set key=value ...]

Writes ``DIR/data.yaml`` (train with ``yolo detect train data=DIR/data.yaml``), images, YOLO
labels, drivable / lane masks, depth PNGs and per-scene ground-truth JSONL; see
``sim.dataset`` for the layout. Running the same command again resumes an interrupted export;
a folder that holds another dataset is refused. ``--set`` overrides env config fields, e.g.
``--set camera.width_px=640 --set scenario.route_length_m=300``.

The kind ``suite`` plays the safety suite's scenarios named by ``--suite-scenarios`` (``drivestack eval
suite --list`` names them): each world draws one of them and every parameter uniformly over its allowed
range (``sim.suite.sampling``), so a detector sees cones, walkers from behind and children between parked
cars; the exported worlds' seeds are never the suite's own (0, 1, ...).

``--ray [ADDRESS]`` exports the scenes as Ray tasks (``drivestack.cluster``, docs/cluster.md): no address
starts a local Ray instance, ``auto`` or HOST:PORT joins a cluster, whose nodes must all mount DIR at the
same path (a shared filesystem); each scene is written by one worker, byte for byte what one process
writes, and a rerun resumes scene by scene as without ``--ray``.
"""

from __future__ import annotations

import argparse

from common.config import merge, parse_override
from common.errors import UsageError

from drivestack.cluster import add_ray_arguments, spec_from_args, units_on


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("dataset", help="export labelled frames (YOLO layout + masks + depth)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="dataset folder (new, empty, or an interrupted export to resume)")
    p.add_argument("--scenes", type=int, required=True, help="number of scenes (seeded worlds)")
    p.add_argument("--frames-per-scene", type=int, required=True, help="frames saved per scene")
    p.add_argument("--seed", type=int, required=True, help="master seed (scene seeds derive from it)")
    p.add_argument("--kinds", default="town,highway", help="scenario kinds, alternated per scene: town, highway, townnav, "
                                                           "highwaynav, suite (default: town,highway)")
    p.add_argument("--suite-scenarios", default="", metavar="NAMES",
                   help="with --kinds suite: the safety suite's scenarios its scenes play, e.g. LaneClosure,CPLA-25")
    p.add_argument("--every", type=int, default=5, help="save a frame every N control steps (default: 5)")
    p.add_argument("--boost", default="", metavar="CLASSES",
                   help="rare classes to oversample, e.g. cyclist,stop_sign: while one is boxed, a frame is saved "
                        "every --boost-every steps instead of every --every")
    p.add_argument("--boost-every", type=int, default=1, help="save interval while a --boost class is boxed (default 1)")
    p.add_argument("--no-randomize", action="store_true", help="turn visual randomisation off")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="env config override, e.g. camera.width_px=640 (repeatable)")
    p.add_argument("--weave", type=float, default=0.6,
                   help="std of the driver's wandering offset from the lane centre [m] (default 0.6; 0 = centred)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_ray_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for flag, value in (("--scenes", args.scenes), ("--frames-per-scene", args.frames_per_scene), ("--every", args.every),
                        ("--boost-every", args.boost_every)):
        if value < 1:
            raise UsageError(f"{flag} {value} is not allowed; use an integer >= 1")
    if args.seed < 0:
        raise UsageError(f"--seed {args.seed} is not allowed; use an integer >= 0")
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    from sim import SCENARIO_KINDS

    allowed = (*SCENARIO_KINDS, "suite")
    if not kinds or any(k not in allowed for k in kinds):
        raise UsageError(f"--kinds {args.kinds!r} is not allowed; use a comma-separated list of {', '.join(allowed)}")
    suite = tuple(n.strip() for n in args.suite_scenarios.split(",") if n.strip())
    if ("suite" in kinds) != bool(suite):
        raise UsageError("--kinds suite and --suite-scenarios go together: give both or neither")
    # an unknown scenario name: sim.dataset.ExportArgs's one-line ConfigError, before anything is written
    boost = tuple(c.strip() for c in args.boost.split(",") if c.strip())
    from common.vocab import CLASS_NAMES

    if any(c not in CLASS_NAMES for c in boost):
        raise UsageError(f"--boost {args.boost!r} is not allowed; use a comma-separated list of {', '.join(CLASS_NAMES)}")
    overrides: dict = {}
    for text in args.set:
        overrides = merge(overrides, parse_override(text))

    spec = spec_from_args(args)
    from sim.dataset import export_dataset  # heavy (numba, the simulator): only once the input is valid

    with units_on(spec, args.out) as units_map:  # the workers write the scenes straight into --out
        summary = export_dataset(args.out, scenes=args.scenes, frames_per_scene=args.frames_per_scene, seed=args.seed,
                                 weave_m=args.weave, boost_classes=boost, boost_every_n_steps=args.boost_every,
                                 scenario_kinds=kinds, every_n_steps=args.every, randomize=not args.no_randomize,
                                 overrides=overrides or None, progress=not args.quiet, units_map=units_map,
                                 suite_scenarios=suite)
    counts = summary["counts"]
    parts = ", ".join(f"{s} {c['scenes']} scenes / {c['frames']} frames / {c['boxes']} boxes" for s, c in counts.items())
    print(f"dataset written to {summary['out_dir']}: {parts}")
    print(f"train with: yolo detect train data={summary['out_dir']}/data.yaml")
    for warning in summary["warnings"]:
        print(f"warning: {warning}")
    return 0
