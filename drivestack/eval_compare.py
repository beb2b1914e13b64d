"""``drivestack eval compare BASE CANDIDATE [...]``: does a policy drive better than another on the same routes?

Each argument is an ``eval policy`` run (its folder or report.json), optionally ``:ROW`` to pick one of its rows
(``runs/test:ppo/labels``); a run with several rows and no ``:ROW`` stands for each of them in turn. Runs joined by
``+`` are pooled (``runs/a+runs/b:ppo/labels``: the routes of both, e.g. a test range driven in two parts; same
world and supervisor, no seed twice). The first is the
base; every other is compared with it on the seeds both drove (``control.paired``): driving score, success,
completion and collisions per km with a 95 % bootstrap interval of the difference, routes won and lost, and the
verdict (better / worse / no difference shown). ``--json`` prints the records instead of the table.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from common.errors import UsageError


def _read_report(spec: str, path_text: str) -> dict:
    path = Path(path_text)
    report_file = path / "report.json" if path.is_dir() else path
    if not report_file.is_file():
        raise UsageError(f"{spec!r}: no report.json there; give an `eval policy --out` folder or its report.json")
    try:
        report = json.loads(report_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{str(report_file)!r} is not a readable JSON report: {exc}") from None
    if not isinstance(report, dict) or "episodes" not in report or "rows" not in report or "route_length_m" not in report:
        raise UsageError(f"{str(report_file)!r} is not an `eval policy` report (suite and perception reports hold no routes)")
    return report


def load_runs(spec: str) -> list[tuple[str, dict, list[dict]]]:
    """``PATH[+PATH...][:ROW]`` -> [(label, the report, the row's episodes)] (every row when no ``:ROW``); runs
    joined by ``+`` are pooled into one."""
    path_text, _, row = spec.partition(":") if not Path(spec).exists() else (spec, "", "")
    parts = [path_text] if Path(path_text).exists() else path_text.split("+")
    reports = [_read_report(spec, part) for part in parts]
    first = reports[0]
    for key in ("scenario", "supervisor"):
        if any(r.get(key) != first.get(key) for r in reports[1:]):
            raise UsageError(f"{spec!r}: pooled runs differ in {key} ({', '.join(str(r.get(key)) for r in reports)}); "
                             "pool runs of one world and one supervisor setting")
    rows = [row] if row else [r for r in first["rows"] if all(r in rep["rows"] for rep in reports)]
    for rep in reports:
        if row and row not in rep["rows"]:
            raise UsageError(f"{spec!r}: row {row!r} is not in that report; it holds {', '.join(rep['rows'])}")
    out = []
    for r in rows:
        episodes = [e for rep in reports for e in rep["episodes"] if e.get("row") == r]
        twice = sorted(seed for seed, n in Counter(e["seed"] for e in episodes).items() if n > 1)
        if twice:
            raise UsageError(f"{spec!r}: seed {twice[0]} is in more than one of the pooled runs; pool disjoint seed ranges")
        out.append((f"{path_text}:{r}", first, episodes))
    return out


def compare_runs(specs: list[str]) -> dict:
    """The base (the first spec's first row) against every other row named."""
    if len(specs) < 1:
        raise UsageError("eval compare needs at least two runs (or one run with two rows): BASE CANDIDATE [...]")
    from control.paired import paired_difference

    runs = [r for spec in specs for r in load_runs(spec)]
    if len(runs) < 2:
        raise UsageError(f"eval compare: {' '.join(specs)} names one row only; give a base and at least one candidate")
    (base_label, base_report, base_eps), *others = runs
    results = []
    for label, report, eps in others:
        if report.get("scenario") != base_report.get("scenario"):
            raise UsageError(f"{label} drove {report.get('scenario')!r}, {base_label} {base_report.get('scenario')!r}: "
                             "compare runs of one world")
        try:
            diff = paired_difference(base_eps, eps)
        except ValueError as exc:
            raise UsageError(f"{base_label} vs {label}: {exc}") from None
        notes = [f"supervisor {'on' if r.get('supervisor') else 'off'} in {lab}" for lab, r in
                 ((base_label, base_report), (label, report))] if report.get("supervisor") != base_report.get("supervisor") else []
        if len(diff["seeds"]) < max(len(base_eps), len(eps)):
            notes.append(f"only the {len(diff['seeds'])} seeds both drove are compared")
        results.append({"base": base_label, "candidate": label, **diff, "notes": notes})
    return {"scenario": base_report.get("scenario"), "comparisons": results}


def print_table(result: dict) -> None:
    from control.paired import TIE

    for c in result["comparisons"]:
        print(f"{c['candidate']}  vs  {c['base']}  ({result['scenario']}, {c['routes']} routes, "
              f"{int(100 * c['level'])} % bootstrap interval of the difference, {c['resamples']} resamples)")
        print(f"  {'metric':<20}{'base':>10}{'candidate':>12}{'difference':>12}   interval")
        for name, m in c["metrics"].items():
            lo, hi = m["interval"]
            print(f"  {name:<20}{m['base']:>10.4f}{m['candidate']:>12.4f}{m['difference']:>+12.4f}   [{lo:+.4f}, {hi:+.4f}]")
        print(f"  routes won {c['routes_won']}, lost {c['routes_lost']}, tied {c['routes_tied']} (driving score, a tie within {TIE})")
        for note in c["notes"]:
            print(f"  note: {note}")
        print(f"  verdict: {c['verdict']}\n")


def run_compare(args) -> int:
    result = compare_runs(list(args.reports))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "compare.json").write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {out / 'compare.json'}", file=sys.stderr)
    return 0
