"""Open a report page in a real headless Chromium (Playwright), check it and optionally screenshot it.

Used by ``drivestack report RUN --screenshot PNG`` and by the browser test. Playwright drives the
system's Chromium (``executable_path``; Debian: ``apt-get install chromium``): its own browser
download is never used. Every request other than the page itself is refused, so a page that
needs the network shows up as a blocked request instead of quietly loading a CDN.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from common.errors import UsageError

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_ENV = "DRIVESTACK_CHROMIUM"  # a Chromium executable to use instead of the one on PATH
PLOTS_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
                 .map(p => p.querySelectorAll('svg.main-svg').length > 0 && p.querySelectorAll('.trace, .bars, .hm').length > 0)"""


@dataclass(frozen=True)
class BrowserCheck:
    """What the browser saw."""

    console_errors: tuple[str, ...]  # console messages of type error, and uncaught page errors
    blocked_requests: tuple[str, ...]  # URLs the page asked for beyond itself (refused)
    plots: int  # plotly figures on the page (.js-plotly-plot)
    plots_drawn: int  # ... of them with an SVG holding at least one trace
    title: str


def find_chromium() -> str | None:
    """The Chromium executable: ``$DRIVESTACK_CHROMIUM`` or the first of ``CHROMIUM_NAMES`` on PATH."""
    env = os.environ.get(CHROMIUM_ENV)
    if env:
        return env if Path(env).is_file() else None
    return next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)


def check_page(page_path: Path, screenshot: Path | None = None, width_px: int = 1200) -> BrowserCheck:
    """Load ``page_path`` (a local HTML file), wait for it, and report; ``screenshot``: a full-page PNG."""
    return check_pages([(page_path, screenshot)], width_px)[0]


def check_pages(pages: list[tuple[Path, Path | None]], width_px: int = 1200) -> list[BrowserCheck]:
    """``check_page`` for each (page, screenshot or None), in one browser (a launch costs seconds)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise UsageError('the browser check needs playwright: pip install -e ".[test]"') from None
    chromium = find_chromium()
    if chromium is None:
        raise UsageError(f"no Chromium found (tried {', '.join(CHROMIUM_NAMES)} and ${CHROMIUM_ENV}); "
                         "install one: apt-get install chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True)
        try:
            return [_check(browser, Path(path), shot, width_px) for path, shot in pages]
        finally:
            browser.close()


def _check(browser, path: Path, screenshot: Path | None, width_px: int) -> BrowserCheck:
    url = path.resolve().as_uri()
    errors, blocked = [], []
    page = browser.new_page(viewport={"width": width_px, "height": 900})
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))

    def route(r):
        if r.request.url == url:
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(url, wait_until="load")
    drawn = page.evaluate(PLOTS_JS)
    if screenshot is not None:
        page.screenshot(path=str(screenshot), full_page=True)
    title = page.title()
    page.close()
    return BrowserCheck(tuple(errors), tuple(blocked), len(drawn), sum(drawn), title)
