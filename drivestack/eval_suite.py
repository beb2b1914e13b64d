"""``drivestack eval suite``: the safety scenarios (``sim.suite``) driven by each row of ``eval policy``.

Usage::

    drivestack eval suite                                            # every scenario, every row, short sweep
    drivestack eval suite --rows rule-based/labels,ppo/labels --scenarios pedestrian,CCRs --json
    drivestack eval suite --rows ppo/labels --sweep full --seeds-per-scenario 3 --workers 2 --out runs/suite
    drivestack eval suite --rows rule-based/models --scenarios CPNA-25 --param ego_kmh=20,40 --no-supervisor

Every case (scenario x parameter point of ``--sweep`` x seeds 0..N-1; ``control.suite_eval``) is
driven by each row as ``eval policy`` drives its episodes (the junction cases only by the rule-based
rows, whose driver reads the route block they need; ``control.suite_eval.drives``): the same rows (policy x perception source:
labels read the simulator's labels with the camera off, models run the shipped networks on the
camera), the same policy loading, the ``SafetySupervisor`` around the policy unless
``--no-supervisor``, the same worker pool (``control.evaluate``). A case passes by the scenario's own
criterion (``info["suite"]["passed"]``: no collision before the time limit; the leaderboard's route
cases also need the goal).

Output: the table, scenario x row (cases, pass rate, collisions, mean / max impact speed of the cases
that collided, supervisor interventions: overridden steps, and the cases with any, the cases with a
junction infraction: a red light, failing to yield, a blocked junction, a wrong turn), on stdout; with
``--json`` the JSON instead: ``suite`` (what ran), ``table`` ({scenario: {row: cell}}), ``totals``
({row: cell}) and ``cases`` (one record per case and row, ``control.suite_eval.run_case``). With
``--out DIR``: DIR/report.json (that JSON), DIR/report.html (``drivestack report``) and
DIR/failures/CASE_ROW.mp4, the last 4 s of each failed case as the drive view (camera, what
perception reported, the HUD; ``drivestack.suite_clips``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from common.errors import ConfigError, UsageError

FAILURES = "failures"  # the clips' folder under --out


def run_suite(args) -> int:
    from control.evaluate import ROWS, SUITE, run_tasks
    from control.policies import load_policy
    from control.suite_eval import drives, parse_values, select_scenarios, suite_cases, suite_table

    from drivestack.cluster import finish, units_on
    from drivestack.evaluate import write_html, make_out, select_rows

    if args.workers < 1:
        raise UsageError(f"--workers {args.workers} is not allowed; use 1 or more")
    if args.seeds is not None:
        raise UsageError(f"--seeds {args.seeds!r} is not allowed for eval suite; use --seeds-per-scenario N (scene seeds 0..N-1)")
    try:
        scenarios = select_scenarios(args.scenarios)
        values = parse_values(args.param, scenarios)
        cases = suite_cases(scenarios, args.sweep, args.seeds_per_scenario, values)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    rows, policy, pixels = select_rows(args, SUITE)
    make_out(args.out)
    out = Path(args.out).resolve() if args.out else None
    options = (str(policy), str(pixels), not args.no_supervisor, args.device, args.interleave, args.joint, args.pair,
               args.backend)
    ppo_layout = load_policy(policy).layout if any(ROWS[r][0] == "ppo" for r in rows) else None
    tasks = [(row, case, out, options) for row in rows for case in cases if drives(row, case, ppo_layout)]
    skipped = sorted({f"{row} x {case.scenario}" for row in rows for case in cases if not drives(row, case, ppo_layout)})
    if skipped:
        print(f"drivestack eval: the junction cases need a driver that reads the route (the rule-based rows, or a ppo "
              f"policy on layout v2); not run: {', '.join(skipped)}", file=sys.stderr)
    with units_on(getattr(args, "ray_spec", None), out, out, workers=args.workers) as units_map:  # the workers write the failure clips under --out
        records = run_tasks(_case_task, tasks, args.workers, not args.json, "eval suite", unit="case", units_map=units_map)
    table, totals = suite_table(records, rows, scenarios)
    report = {"suite": {"scenarios": scenarios, "rows": rows, "sweep": args.sweep, "params": {k: list(v) for k, v in values.items()},
                        "seeds_per_scenario": args.seeds_per_scenario, "cases_per_row": len(cases),
                        "supervisor": not args.no_supervisor, "interleave": args.interleave, "joint": args.joint,
                        "backend": args.backend,
                        "pair": None if args.pair is None else list(args.pair)},
              "table": table, "totals": totals, "cases": records,
              "policy_files": {"ppo": str(policy), "pixels": str(pixels)}}
    if args.json:
        print(json.dumps(report))
    else:
        print_table(report)
    if out is not None:
        (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        failed = sum(not r["passed"] for r in records)
        print(f"drivestack eval: wrote {out / 'report.json'}; {failed} failed case(s), their clips in {out / FAILURES}",
              file=sys.stderr)
        write_html(out)
        finish(out)
    return 0


def _case_task(task: tuple) -> dict:
    """One case with one row (in a worker process: the row's env and policy are built once per process)."""
    from control.evaluate import ROWS, row_objects
    from control.suite_eval import run_case

    from drivestack.suite_clips import ClipTap, clip_steps

    row, case, out, (policy_path, pixels_path, supervisor, device, interleave, joint, pair, backend) = task
    # no route length: the case sets the track; a junction case's env carries the route block (layout v2)
    env, policy = row_objects(row, case.env_kind, 0.0, policy_path, pixels_path, supervisor, device, interleave,
                              joint=joint, pair=pair, backend=backend)
    kind, source = ROWS[row]
    dt_s = env.unwrapped.dt_s
    camera = env.unwrapped.config.render_camera

    def tap(from_step: int = 0) -> ClipTap:
        return ClipTap(env, policy, source, dt_s, from_step, overlay=kind != "pixels")

    clip = tap() if out is not None and camera else None  # the camera is on anyway: keep its last seconds
    record = run_case(env, policy, case, clip)
    record["row"] = row
    if out is not None and not record["passed"]:
        if clip is None:  # no camera (labels): replay the case, which is deterministic, drawing only its end
            clip = tap(from_step=record["steps"] - clip_steps(dt_s) + 1)
            again = run_case(env, policy, case, clip)
            if (again["steps"], again["collision"], again["passed"]) != (record["steps"], record["collision"], record["passed"]):
                record["clip_note"] = f"the replay drawn differed from the run: it ended {again['end']} after {again['steps']} steps"
        path = out / FAILURES / f"{case.label()}_{row.replace('/', '-')}.mp4"
        record["clip_frames"] = clip.write(path)
        record["clip"] = str(path.relative_to(out))
    return record


COLUMNS = (("cases", "cases"), ("pass_rate", "pass rate"), ("collisions", "collisions"),
           ("impact_kmh_mean", "impact km/h mean"), ("impact_kmh_max", "max"), ("interventions", "interventions"),
           ("cases_with_intervention", "in cases"), ("infractions", "infractions"))


def table_lines(report: dict) -> list[str]:
    """The table as text, one line per scenario and row, then each row's total."""
    width = max(len(r) for r in report["suite"]["rows"]) + 2
    first = max([16, *(len(n) + 2 for n in report["table"])])
    head = f"{'scenario':<{first}}{'row':<{width}}" + "".join(f"{h:>18}" for _, h in COLUMNS)
    lines = [head]

    def line(name: str, row: str, cell: dict) -> str:
        return f"{name:<{first}}{row:<{width}}" + "".join(f"{_fmt(cell.get(k)):>18}" for k, _ in COLUMNS)

    for name, by_row in report["table"].items():
        lines += [line(name, row, cell) for row, cell in by_row.items()]
    lines += [line("all", row, cell) for row, cell in report["totals"].items()]
    return lines


def print_table(report: dict) -> None:
    s = report["suite"]
    print(f"safety suite: {s['cases_per_row']} cases per row ({s['sweep']} sweep, {s['seeds_per_scenario']} seed(s) per "
          f"point), supervisor {'on' if s['supervisor'] else 'off'}")
    print("\n".join(table_lines(report)))


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
