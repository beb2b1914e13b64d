"""``drivestack report``: one self-contained HTML page of a drive or an evaluation (``report.html``).

Usage::

    drivestack report runs/drive-20260101-120000        # -> runs/drive-20260101-120000/report.html
    drivestack report runs/eval-perception --out /tmp/perception.html
    drivestack report runs/drive-20260101-120000 --screenshot report.png   # checked in headless Chromium

A drive's page: the summary table, one row per episode (pass / fail), and per episode its
signals over time (speed against the limit, steering and throttle / brake, the lead vehicle's
time to collision, the supervisor's interventions) with the events marked (collision, off road,
solid line, red light, goal); a failed episode also shows its last seconds from ``hud.mp4``.
A perception evaluation's page: the figures, PR curves per class, errors by distance range and
the example overlays. A policy evaluation's page: the comparison table, pass / fail per row and
seed, and every episode. A safety suite's page (``drivestack.report_suite``): the table, pass rate per
scenario and row, every case, and the last seconds of each failed case.

The plots are plotly figures; plotly.js is embedded once, so the file opens offline in any
browser and fetches nothing. ``drivestack drive`` and ``drivestack eval ... --out`` write the page
at the end of their run when plotly is installed (``pip install -e ".[report]"``). This module is
the only one that imports plotly.
"""

from __future__ import annotations

import argparse
import html
import os
import sys
from pathlib import Path

import numpy as np

from common.errors import UsageError

from .report_data import DriveRun, EpisodeSeries, clip_frames, load_drive, load_eval, run_kind
from .report_page import Page, jpeg_img, key_values, table

REPORT = "report.html"
MISSING = 'the HTML report needs plotly: pip install -e ".[report]"'
PLOT_CONFIG = {"displaylogo": False, "responsive": True}
EVENT_STYLE = {  # event -> (label, marker symbol, colour)
    "collision": ("collision", "x", "#d62728"),
    "off_road": ("off road", "triangle-down", "#8c564b"),
    "solid_line": ("solid line", "line-ns-open", "#ff7f0e"),
    "red_light": ("red light run", "square", "#e31a1c"),
    "goal": ("goal", "star", "#2ca02c"),
}


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="write a run's HTML report (report.html: tables and plots, one file, offline)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a drive run folder or an eval --out folder")
    p.add_argument("--out", default=None, help=f"the HTML file to write (default: RUN/{REPORT})")
    p.add_argument("--screenshot", default=None, metavar="PNG",
                   help="also open the page in headless Chromium, check it and save a full-page screenshot "
                        "(needs playwright and a Chromium)")
    p.set_defaults(func=run)


def run(args) -> int:
    path = write_report(Path(args.run), Path(args.out) if args.out else None)
    print(f"wrote {path}")
    if args.screenshot:
        from .report_browser import check_page

        check = check_page(path, Path(args.screenshot))
        print(f"wrote {args.screenshot}: {check.plots_drawn} of {check.plots} plots drawn, "
              f"{len(check.console_errors)} console errors, {len(check.blocked_requests)} outside requests")
        if check.console_errors or check.blocked_requests or check.plots_drawn < check.plots:
            for line in (*check.console_errors, *check.blocked_requests):
                print(f"  {line}", file=sys.stderr)
            return 1
    return 0


def write_report(folder: Path, out: Path | None = None) -> Path:
    """Build the page of ``folder`` and write it (atomically: a half-written page never looks complete)."""
    plotly = _plotly()
    page = build_page(Path(folder))
    out = Path(out) if out else Path(folder) / REPORT
    if not out.parent.is_dir():
        raise UsageError(f"--out {str(out)!r}: folder {str(out.parent)!r} does not exist")
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(page.html(plotly.offline.get_plotlyjs()), encoding="utf-8")
    os.replace(tmp, out)
    return out


def report_after_run(folder: Path, command: str) -> Path | None:
    """The end-of-run hook of drive / eval: write the page, or say why not (plotly missing) and go on."""
    try:
        path = write_report(folder)
    except UsageError as exc:
        print(f"drivestack {command}: note: no {REPORT}: {exc}", file=sys.stderr)
        return None
    print(f"drivestack {command}: report {path}", file=sys.stderr)
    return path


def build_page(folder: Path) -> Page:
    """The page of a run folder, whichever kind it is."""
    kind = run_kind(folder)
    if kind == "drive":
        return drive_page(load_drive(folder))
    report, curves = load_eval(folder)
    if kind == "suite-eval":
        from .report_suite import suite_page

        return suite_page(folder, report)
    return perception_page(folder, report, curves) if kind == "perception-eval" else policy_page(folder, report)


def _plotly():
    try:
        import plotly
        import plotly.offline  # noqa: F401  (get_plotlyjs)
    except ImportError:
        raise UsageError(MISSING) from None
    return plotly


def _figure_html(fig) -> str:
    # plotly.js is in the page's head once; each figure brings only its data and a newPlot call
    return fig.to_html(full_html=False, include_plotlyjs=False, config=PLOT_CONFIG)


# --- a drive ----------------------------------------------------------------------------------

EPISODE_COLUMNS = ["episode", "seed", "result", "end", "route %", "driving score", "km/h", "collisions", "off road",
                   "solid line", "red lights", "interventions", "steps/s"]


def drive_page(run: DriveRun) -> Page:
    s = run.settings
    page = Page(f"drive: {run.folder.name}",
                f"{s.get('scenario', '?')}, perception from {s.get('perception', '?')}, policy {s.get('policy_name', '?')}, "
                f"{len(run.episodes)} episode(s), folder {run.folder}")
    if not run.complete:
        page.note("This run did not finish (no metrics.json at its top): the episodes below are those that did.")
    if run.summary:
        page.heading("Summary")
        page.add(key_values(run.summary))
    page.heading("Episodes")
    rows, classes = [], []
    for k, m in enumerate(run.episodes):
        rows.append([f"episode-{k:03d}", m["seed"], "pass" if m["success"] else "fail", m["end"],
                     round(100 * m["route_completion"], 1), m["driving_score"], m["mean_speed_kmh"],
                     sum(m["collisions"].values()), m["off_road"], m["solid_line_crossings"], m["red_lights_run"],
                     m["interventions"], m.get("steps_per_s")])
        classes.append(["", "", "pass" if m["success"] else "fail"] + [""] * (len(EPISODE_COLUMNS) - 3))
    page.add(table(EPISODE_COLUMNS, rows, classes))
    if len(run.episodes) > 1:
        page.add(_figure_html(_episode_bars(run.episodes)))
    fps = 1.0 / _dt(run.series)
    for k, series in enumerate(run.series):
        m = run.episodes[k] if k < len(run.episodes) else None
        verdict = "unfinished" if m is None else ("pass" if m["success"] else f"fail: {m['end']}")
        page.heading(f"{series.name} (seed {m['seed'] if m else '?'}): {verdict}", 3, anchor=series.name)
        if not series.complete and (run.folder / series.name / "steps.jsonl").is_file():
            page.note("recording incomplete (no recording.json): the episode was interrupted")
        if not series.time_s.size:
            page.note("no steps.jsonl (a --no-video drive): speed, steering and events are not recorded; "
                      "TTC and interventions only")
        page.add(_figure_html(episode_figure(series, supervised=s.get("supervisor", True))))
        if m is not None and not m["success"]:
            _failure_clip(page, run.folder / series.name, m, fps)
    return page


def episode_figure(e: EpisodeSeries, supervised: bool = True):
    """Four rows on one time axis: speed vs limit (events marked), steer / accel, lead TTC, interventions."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=4, cols=1, shared_xaxes=True, vertical_spacing=0.04, row_heights=[0.34, 0.26, 0.24, 0.16],
                        subplot_titles=("speed [km/h]", "steering and throttle (+) / brake (-) commands", "lead TTC [s]",
                                        "supervisor interventions" if supervised else "no supervisor (--no-supervisor)"))
    line = dict(width=1.4)
    if e.time_s.size:
        fig.add_trace(go.Scatter(x=e.time_s, y=e.speed_kmh, name="speed", line=line), 1, 1)
        fig.add_trace(go.Scatter(x=e.time_s, y=e.limit_kmh, name="limit", line=dict(width=1.2, dash="dash", color="#444")), 1, 1)
        fig.add_trace(go.Scatter(x=e.time_s, y=e.steer, name="steer", line=line), 2, 1)
        fig.add_trace(go.Scatter(x=e.time_s, y=e.accel, name="throttle / brake", line=line), 2, 1)
        for name, times in e.events.items():
            if times.size:
                label, symbol, colour = EVENT_STYLE[name]
                y = np.interp(times, e.time_s, np.nan_to_num(e.speed_kmh))
                fig.add_trace(go.Scatter(x=times, y=y, mode="markers", name=label,
                                         marker=dict(symbol=symbol, size=11, color=colour, line=dict(width=2, color=colour))), 1, 1)
                if name in ("collision", "off_road", "goal"):  # the episode's end: a line through every row
                    for t in times:  # (the rows share one x axis; y in paper units spans them all)
                        fig.add_shape(type="line", xref="x", yref="paper", x0=float(t), x1=float(t), y0=0, y1=1,
                                      line=dict(color=colour, width=1, dash="dot"))
    fig.add_trace(go.Scatter(x=e.ttc_time_s, y=e.ttc_s, name="lead TTC", mode="lines+markers", marker=dict(size=3),
                             line=line, connectgaps=False), 3, 1)
    t = [i[0] for i in e.interventions]
    fig.add_trace(go.Scatter(x=t, y=[1] * len(t), mode="markers", name=f"interventions ({len(t)})",
                             marker=dict(symbol="line-ns-open", size=14, color="#9467bd", line=dict(width=2)),
                             hovertext=[i[1] for i in e.interventions], hoverinfo="x+text"), 4, 1)
    fig.update_yaxes(range=[-1.05, 1.05], row=2, col=1)
    fig.update_yaxes(range=[0, 10], row=3, col=1)  # a TTC beyond 10 s is no threat
    fig.update_yaxes(visible=False, range=[0, 2], row=4, col=1)
    fig.update_xaxes(title_text="time [s]", row=4, col=1)
    fig.update_layout(height=640, margin=dict(l=50, r=20, t=40, b=40), legend=dict(orientation="h", y=-0.08),
                      hovermode="x unified", template="plotly_white")
    return fig


def _episode_bars(episodes: list[dict]):
    import plotly.graph_objects as go

    names = [f"{k} (seed {m['seed']})" for k, m in enumerate(episodes)]
    fig = go.Figure([go.Bar(x=names, y=[m["route_completion"] for m in episodes], name="route completion"),
                     go.Bar(x=names, y=[m["driving_score"] for m in episodes], name="driving score")])
    fig.update_layout(barmode="group", height=300, yaxis=dict(range=[0, 1.05]), title="per episode",
                      margin=dict(l=50, r=20, t=40, b=40), template="plotly_white")
    return fig


def _failure_clip(page: Page, folder: Path, m: dict, fps: float) -> None:
    """A failed episode's last seconds as a strip of frames, with a link to the whole video."""
    video = next((folder / f for f in ("hud.mp4", "camera.mp4") if (folder / f).is_file()), None)
    if video is None:
        return
    frames = clip_frames(video, m["duration_s"], fps)
    if not frames:
        page.note(f"{video.name} cannot be read (an interrupted recording?)")
        return
    imgs = "".join(jpeg_img(f, f"{folder.name} before the end, frame {i}") for i, f in enumerate(frames))
    link = html.escape(f"{folder.name}/{video.name}")
    page.add(f'<p>The last seconds before "{html.escape(m["end"])}" ({video.name}; the whole video: '
             f'<a href="{link}">{link}</a>):</p><div class="strip">{imgs}</div>')


def _dt(series: list[EpisodeSeries]) -> float:
    for e in series:
        if e.time_s.size > 1:
            return float(e.time_s[1] - e.time_s[0])
    return 0.05


# --- a perception evaluation ------------------------------------------------------------------


def perception_page(folder: Path, r: dict, curves: dict) -> Page:
    page = Page(f"perception evaluation: {folder.name}",
                f"{r['frames']} frames (+{r.get('light_only_frames', 0)} light-only) on seeds "
                f"{_seed_span(r['seeds'])}, {', '.join(r['kinds'])}, randomised look: {'yes' if r['randomized'] else 'no'}")
    det = r["detection"]
    page.heading("Detection")
    classes = [c for c in det["ap50"] if det["ap50"][c] is not None or det["at_score_0.25"][c]["n_true"]]
    page.add(table(["class", "AP50", "AP50-95", "precision @0.25", "recall @0.25", "objects"],
                   [[c, det["ap50"][c], det["ap50_95"][c], det["at_score_0.25"][c]["precision"],
                     det["at_score_0.25"][c]["recall"], det["at_score_0.25"][c]["n_true"]] for c in classes]))
    if curves:
        page.add(_figure_html(_pr_figure(curves)))
    else:
        page.note("no pr_curves.json in this folder (written by drivestack eval perception --out since the HTML report)")
    page.heading("Errors by distance range")
    page.add(_figure_html(_range_figure(r)))
    page.heading("All figures")
    page.add(key_values({k: v for k, v in r.items() if k not in ("detection", "seeds")}))
    examples = sorted(folder.glob("example_*.png"))
    if examples:
        import cv2

        page.heading("Examples")
        imgs = "".join(jpeg_img(cv2.imread(str(p))[..., ::-1], p.name) for p in examples)
        page.add(f'<div class="examples">{imgs}</div>')
    return page


def _pr_figure(curves: dict):
    import plotly.graph_objects as go

    fig = go.Figure([go.Scatter(x=c["recall"], y=c["precision"], name=name, mode="lines")
                     for name, c in curves.items() if c["recall"]])
    fig.update_layout(title="PR curves at IoU 0.5", xaxis=dict(title="recall", range=[0, 1]),
                      yaxis=dict(title="precision", range=[0, 1.02]), height=420, template="plotly_white",
                      margin=dict(l=50, r=20, t=40, b=40))
    return fig


RANGE_PANELS = (  # (title, path into report.json) of the per-range figures
    ("object distance error (median relative)", ("distance_median_rel_error_by_range",)),
    ("road user lateral place error [m] (90th percentile)", ("lateral_p90_abs_error_m_by_range",)),
    ("depth abs-rel (median)", ("depth_abs_rel_median_by_range",)),
    ("road users found (recall)", ("road_user_recall_by_range",)),
    ("light state right (accuracy, by stop-line distance)", ("light", "state_accuracy_by_range")),
    ("light state right as driven (every frame, tracking)", ("light_as_driven", "state_accuracy_by_range")),
    ("stop-line distance error [m] (median)", ("light", "distance_median_abs_error_m_by_range")),
)


def _range_figure(r: dict):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    panels = [(title, _get(r, path)) for title, path in RANGE_PANELS if _get(r, path)]
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[t for t, _ in panels], horizontal_spacing=0.06)
    for j, (title, by_range) in enumerate(panels, start=1):
        fig.add_trace(go.Bar(x=list(by_range), y=[np.nan if v is None else v for v in by_range.values()], name=title,
                             text=["-" if v is None else f"{v:.3g}" for v in by_range.values()], textposition="auto"), 1, j)
    fig.update_layout(height=360, showlegend=False, template="plotly_white", margin=dict(l=40, r=20, t=60, b=40))
    fig.update_annotations(font_size=11)
    return fig


def _get(d: dict, path: tuple[str, ...]):
    for key in path:
        d = d.get(key) if isinstance(d, dict) else None
    return d


def _seed_span(seeds: list[int]) -> str:
    return f"{seeds[0]}-{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 1 else \
        ", ".join(map(str, seeds))


# --- a policy evaluation ----------------------------------------------------------------------

ROW_COLUMNS = ("success_rate", "route_completion", "driving_score", "collisions_per_km", "off_road_per_km",
               "solid_line_per_km", "red_lights_run", "mean_speed_kmh", "mean_abs_jerk_m_s3", "interventions")


def _route_m(length) -> str:
    """A report's route length [m]: one value, or a per-seed range ``[lo, hi]``."""
    return f"{length[0]:g}-{length[1]:g}" if isinstance(length, list) else f"{length:g}"


def policy_page(folder: Path, r: dict) -> Page:
    page = Page(f"policy evaluation: {folder.name}",
                f"{r['scenario']}, {len(r['seeds'])} seeds ({_seed_span(r['seeds'])}), route {_route_m(r['route_length_m'])} m, "
                f"supervisor {'on' if r['supervisor'] else 'off'}")
    page.heading("Comparison")
    page.add(table(["row", *(c.replace("_", " ") for c in ROW_COLUMNS)],
                   [[row, *(s.get(c) for c in ROW_COLUMNS)] for row, s in r["rows"].items()]))
    if r.get("perception_gap"):
        page.heading("Perception gap (models minus labels)", 3)
        page.add(table(["policy", *next(iter(r["perception_gap"].values()))],
                       [[k, *v.values()] for k, v in r["perception_gap"].items()]))
    page.add(_figure_html(_rows_figure(r["rows"])))
    page.heading("Pass / fail per seed")
    page.add(_figure_html(_pass_fail_figure(r)))
    page.heading("Episodes")
    eps = r["episodes"]
    page.add(table(["row", "seed", "result", "end", "route %", "driving score", "km/h", "collisions", "red lights",
                    "interventions"],
                   [[e["row"], e["seed"], "pass" if e["success"] else "fail", e["end"], round(100 * e["route_completion"], 1),
                     e["driving_score"], e["mean_speed_kmh"], sum(e["collisions"].values()), e["red_lights_run"],
                     e["interventions"]] for e in eps],
                   [["", "", "pass" if e["success"] else "fail"] + [""] * 7 for e in eps]))
    return page


def _rows_figure(rows: dict):
    import plotly.graph_objects as go

    names = list(rows)
    fig = go.Figure([go.Bar(x=names, y=[rows[n][k] for n in names], name=k.replace("_", " "))
                     for k in ("success_rate", "route_completion", "driving_score")])
    fig.update_layout(barmode="group", height=340, yaxis=dict(range=[0, 1.05]), template="plotly_white",
                      margin=dict(l=50, r=20, t=30, b=40))
    return fig


def _pass_fail_figure(r: dict):
    """Rows x seeds: green pass, red fail; the hover names the episode's end."""
    import plotly.graph_objects as go

    rows, seeds = list(r["rows"]), [int(s) for s in r["seeds"]]
    z = np.full((len(rows), len(seeds)), np.nan)
    text = [["" for _ in seeds] for _ in rows]
    hover = [["" for _ in seeds] for _ in rows]
    for e in r["episodes"]:
        i, j = rows.index(e["row"]), seeds.index(int(e["seed"]))
        z[i, j] = 1.0 if e["success"] else 0.0
        text[i][j] = "pass" if e["success"] else "fail"
        hover[i][j] = f"{e['row']}, seed {e['seed']}: {e['end']}, score {e['driving_score']}"
    fig = go.Figure(go.Heatmap(z=z, x=[str(s) for s in seeds], y=rows, text=text, texttemplate="%{text}", hovertext=hover,
                               hoverinfo="text", zmin=0, zmax=1, colorscale=[[0, "#e45756"], [1, "#54a24b"]],
                               showscale=False, xgap=2, ygap=2))
    fig.update_layout(height=120 + 40 * len(rows), xaxis=dict(title="seed", type="category"),
                      yaxis=dict(autorange="reversed"), template="plotly_white", margin=dict(l=130, r=20, t=20, b=50))
    return fig
