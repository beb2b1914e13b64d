"""The HTML around the report's plots: one self-contained page (styles, tables, embedded images), no plotting.

``Page`` collects sections in order; ``Page.html(script)`` returns the whole document with
``script`` (plotly.js, given by ``drivestack.report``) inlined once in the head, so the file
opens offline and carries nothing it has to fetch.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field

import numpy as np

STYLE = """
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1200px;
       padding: 16px 24px; color: #1d1d1f; }
h1 { font-size: 22px; margin: 8px 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.meta { color: #555; margin-bottom: 12px; }
table { border-collapse: collapse; margin: 6px 0 12px; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f4f4f6; } td:first-child, th:first-child { text-align: left; }
td.pass { background: #dff3e3; } td.fail { background: #fbe0e0; }
.note { color: #8a5a00; background: #fff6e0; padding: 6px 10px; border-radius: 4px; display: inline-block; }
.strip { display: grid; grid-template-columns: repeat(6, 1fr); gap: 4px; } .strip img { width: 100%; border: 1px solid #ccc; }
.kv { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: 0 28px; margin: 6px 0 12px;
      font-variant-numeric: tabular-nums; }
.kv div { display: flex; justify-content: space-between; border-bottom: 1px solid #eee; padding: 2px 0; }
.kv span:first-child { color: #444; margin-right: 12px; }
.examples img { max-width: 48%; margin: 2px; border: 1px solid #ccc; }
"""


@dataclass
class Page:
    """A report being assembled: ``add`` HTML fragments in reading order."""

    title: str
    meta: str = ""  # one line under the title (what ran, where)
    parts: list[str] = field(default_factory=list)

    def add(self, fragment: str) -> None:
        self.parts.append(fragment)

    def heading(self, text: str, level: int = 2, anchor: str | None = None) -> None:
        ident = f' id="{html.escape(anchor)}"' if anchor else ""
        self.add(f"<h{level}{ident}>{html.escape(text)}</h{level}>")

    def note(self, text: str) -> None:
        self.add(f'<p class="note">{html.escape(text)}</p>')

    def html(self, script: str) -> str:
        # a literal "</script" inside the library would end the tag early
        script = script.replace("</script", "<\\/script")
        return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                f"<title>{html.escape(self.title)}</title>\n<style>{STYLE}</style>\n"
                f"<script>{script}</script>\n</head>\n<body>\n<h1>{html.escape(self.title)}</h1>\n"
                f"<div class=\"meta\">{html.escape(self.meta)}</div>\n" + "\n".join(self.parts) + "\n</body>\n</html>\n")


def table(headers: list[str], rows: list[list], classes: list[list[str]] | None = None, caption: str = "") -> str:
    """An HTML table; cells are formatted by ``cell``; ``classes[i][j]`` styles cell (i, j) (e.g. pass / fail)."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        tds = []
        for j, value in enumerate(row):
            cls = classes[i][j] if classes and classes[i][j] else ""
            tds.append(f'<td class="{cls}">{html.escape(cell(value))}</td>' if cls else f"<td>{html.escape(cell(value))}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def key_values(data: dict, prefix: str = "") -> str:
    """A (nested) dict as name / value pairs in as many columns as the page is wide; nested keys joined with '.'."""
    items = "".join(f"<div><span>{html.escape(k)}</span><span>{html.escape(cell(v))}</span></div>"
                    for k, v in flatten(data, prefix).items())
    return f'<div class="kv">{items}</div>'



def flatten(data: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def cell(value) -> str:
    """How a value reads in a table: floats to 4 significant digits, None as '-', bools as yes / no."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "-" if not np.isfinite(value) else f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v) for v in value)
    return str(value)


def jpeg_img(rgb: np.ndarray, alt: str, quality: int = 80) -> str:
    """An <img> holding ``rgb`` as an inline JPEG (data URI): the page needs no file beside it."""
    import cv2

    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return f'<img alt="{html.escape(alt)}" src="data:image/jpeg;base64,{base64.b64encode(data.tobytes()).decode()}">'
