"""The report page of a safety suite evaluation (``drivestack eval suite --out``): the table (scenario
x row), a pass-rate map, every case, and a strip of each failed case's last seconds with a link to its
clip. Built by ``drivestack.report`` (which owns plotly and the page's assembly)."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from .report_data import clip_frames
from .report_page import Page, jpeg_img, table

CELL_COLUMNS = ("cases", "pass_rate", "collisions", "impact_kmh_mean", "impact_kmh_max", "interventions",
                "cases_with_intervention", "infractions")
FPS = 20.0  # the clips' frame rate (the simulator's control rate)


def suite_page(folder: Path, r: dict) -> Page:
    from .report import _figure_html

    s = r["suite"]
    page = Page(f"safety suite: {folder.name}",
                f"{len(s['scenarios'])} scenarios, {s['cases_per_row']} cases per row ({s['sweep']} sweep, "
                f"{s['seeds_per_scenario']} seed(s) per point), rows {', '.join(s['rows'])}, "
                f"supervisor {'on' if s['supervisor'] else 'off'}")
    page.heading("Table")
    heads = ["scenario", "row", *(c.replace("_", " ") for c in CELL_COLUMNS)]
    cells = [(n, row, c) for n, by_row in r["table"].items() for row, c in by_row.items()]
    cells += [("all", row, c) for row, c in r["totals"].items()]
    page.add(table(heads, [[n, row, *(c.get(k) for k in CELL_COLUMNS)] for n, row, c in cells],
                   [["", "", "", "pass" if c["pass_rate"] == 1 else "fail"] + [""] * (len(CELL_COLUMNS) - 2)
                    for _, _, c in cells]))
    page.add(_figure_html(_pass_rate_figure(r)))
    page.heading("Cases")
    cases = r["cases"]
    page.add(table(["scenario", "params", "seed", "row", "result", "collision", "impact km/h", "min gap m", "min TTC s",
                    "end", "interventions", "first at s"],
                   [[c["scenario"], _params(c["params"]), c["seed"], c["row"], "pass" if c["passed"] else "fail",
                     c["collision"], c["impact_speed_kmh"], c["min_gap_m"], c["min_ttc_s"], c["end"], c["interventions"],
                     c["first_intervention_s"]] for c in cases],
                   [["", "", "", "", "pass" if c["passed"] else "fail"] + [""] * 7 for c in cases]))
    failed = [c for c in cases if not c["passed"]]
    if failed:
        page.heading("Failed cases: the last seconds")
    for c in failed:
        page.heading(f"{c['scenario']} {_params(c['params'])}, seed {c['seed']}, {c['row']}: "
                     f"{c['collision'] and 'hit ' + c['collision'] or c['end']}", 3)
        _clip(page, folder, c)
    return page


def _clip(page: Page, folder: Path, c: dict) -> None:
    if not c.get("clip"):
        page.note("no clip (written only with --out)")
        return
    video = folder / c["clip"]
    frames = clip_frames(video, c.get("clip_frames", 0) / FPS, FPS) if video.is_file() else []
    if not frames:
        page.note(f"{c['clip']} cannot be read")
        return
    imgs = "".join(jpeg_img(f, f"{c['case']} frame {i}") for i, f in enumerate(frames))
    link = html.escape(c["clip"])
    note = f" ({html.escape(c['clip_note'])})" if c.get("clip_note") else ""
    page.add(f'<p>The whole clip: <a href="{link}">{link}</a>{note}</p><div class="strip">{imgs}</div>')


def _params(params: dict) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in params.items())


def _pass_rate_figure(r: dict):
    """Scenarios x rows, coloured by pass rate (red 0 .. green 1)."""
    import plotly.graph_objects as go

    names, rows = list(r["table"]), list(r["suite"]["rows"])
    z = np.array([[np.nan if r["table"][n][row]["pass_rate"] is None else r["table"][n][row]["pass_rate"] for row in rows]
                  for n in names])
    text = [[f"{r['table'][n][row]['passed']}/{r['table'][n][row]['cases']}" for row in rows] for n in names]
    fig = go.Figure(go.Heatmap(z=z, x=rows, y=names, text=text, texttemplate="%{text}", zmin=0, zmax=1,
                               colorscale=[[0, "#e45756"], [1, "#54a24b"]], showscale=False, xgap=2, ygap=2))
    fig.update_layout(height=120 + 28 * len(names), yaxis=dict(autorange="reversed"), template="plotly_white",
                      margin=dict(l=130, r=20, t=20, b=50), title="pass rate (passed / cases)")
    return fig
