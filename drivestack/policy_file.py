"""``drivestack policy random-correction SRC --out DST``: the control a residual policy's gain is judged against.

Writes a copy of the residual (or knob) policy ``SRC`` whose correction (knobs) is random but of the same size
(``control.random_correction``): drive both with ``eval policy`` on the same seeds, then ``eval compare`` the
rule-based driver, the control and the policy. A gain that the control also shows is not learning.

Usage::

    drivestack policy random-correction runs/policy/best.zip --out runs/control.zip [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common.errors import UsageError

ACTIONS = ("random-correction",)


def add_parser(sub) -> None:
    p = sub.add_parser("policy", help="tools for a driving policy file: its random-correction control",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", help="random-correction")
    p.add_argument("source", help="a residual or knob policy saved by `drivestack train policy` (.zip)")
    p.add_argument("--out", required=True, help="where to write the control (.zip)")
    p.add_argument("--seed", type=int, default=0, help="which random permutation (default 0)")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.action not in ACTIONS:
        raise UsageError(f"policy action {args.action!r} is not allowed; choose {', '.join(ACTIONS)}")
    out = Path(args.out)
    if out.suffix != ".zip":
        raise UsageError(f"--out {args.out!r} is not allowed; give a .zip path for the control policy")
    if out.resolve() == Path(args.source).resolve():
        raise UsageError(f"--out {args.out!r} is the source itself; write the control beside it")
    from control.policies import PolicyError, load_policy, save_policy
    from control.random_correction import STATE_ROUTE_M, STATE_SEEDS, randomise_correction, visited_states

    try:
        policy = load_policy(args.source, device="cpu")
        states = visited_states(args.source, STATE_SEEDS, STATE_ROUTE_M)
    except PolicyError as exc:
        raise UsageError(str(exc)) from None
    model = policy.learned.model
    size = randomise_correction(model, states, seed=args.seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_policy(model, out, model.drivestack_observation, getattr(model, "drivestack_residual_scale", None))
    print(f"states: {size.states} (the policy's own drives of training-range routes {', '.join(map(str, STATE_SEEDS))}, "
          f"{STATE_ROUTE_M:g} m)")
    from control.knob_policy import KnobsPolicy

    outputs = ("gap knob", "speed knob") if isinstance(policy, KnobsPolicy) else ("steer", "accel")
    for i, command in enumerate(outputs):
        print(f"{command}: mean |correction| learnt {size.learnt_mean_abs[i]:.4f}, control {size.control_mean_abs[i]:.4f}, "
              f"correlation {size.correlation[i]:+.2f}")
    print(f"wrote {out}")
    return 0
