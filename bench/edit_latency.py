"""Edit latency: from Ctrl+Enter in the layers box to the fully redrawn page, in headless Chromium.

Uncached: every edit is a seed variant no server has seen (the constant changes), so the
engine runs in full. Cached: edits alternate between two texts the server already has.
The floor app gets the same edits and must only echo them back.
"""

from bench.browser_checks import STAMPS, app_expectation, edit_and_wait, floor_expectation, wait_drawn
from bench.common import APP, FLOOR, fresh_layers, launch_chromium, new_page, seed_layers, streamlit_server, summary
from bench.tangent import FrameCounter

PAUSE_MS = 250  # between edits, so each one starts from a settled page
WARMUP_EDITS = 2


def open_page(browser, url, expectation):
    """A drawn page of the app at url, with its stamps installed and its websocket frames counted."""
    page = new_page(browser)
    frames = FrameCounter(page)
    page.add_init_script(STAMPS)
    page.goto(url)
    wait_drawn(page, seed_layers(2), expectation)
    return page, frames


def timed_edits(page, texts, expectation):
    edits = []
    for text in texts:
        edits.append(edit_and_wait(page, text, expectation))
        page.wait_for_timeout(PAUSE_MS)
    return edits


def phases(edits):
    """Total latency and its three phases, each as p50/p95 in ms."""
    return {name: summary([getattr(e, name) for e in edits]) for name in ("total", "before_send", "server", "drawing")}


def uncached_and_cached(page, edits, expectation):
    """Seconds per edit: fresh texts, then two warmed texts in turn."""
    timed_edits(page, [fresh_layers() for _ in range(WARMUP_EDITS)], expectation)
    uncached = timed_edits(page, [fresh_layers() for _ in range(edits)], expectation)
    pair = [fresh_layers(), fresh_layers()]
    timed_edits(page, pair, expectation)  # now both are in the server's caches
    cached = timed_edits(page, [pair[i % 2] for i in range(edits)], expectation)
    return uncached, cached


def measure_app(browser, edits, after=None):
    """Edit latency of the app; `after(page, frames)` runs on the same page before it closes (the tangent bench)."""
    with streamlit_server(APP, "edit_app") as (url, _):
        page, frames = open_page(browser, url, app_expectation)
        uncached, cached = uncached_and_cached(page, edits, app_expectation)
        extra = after(page, frames) if after else None
        page.context.close()
    return {"uncached": phases(uncached), "cached": phases(cached)}, extra


def measure_floor(browser, edits):
    with streamlit_server(FLOOR, "edit_floor") as (url, _):
        page, _ = open_page(browser, url, floor_expectation)
        uncached, cached = uncached_and_cached(page, edits, floor_expectation)
        page.context.close()
    return {"uncached": phases(uncached), "cached": phases(cached)}


def run(edits=20, after=None):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            floor = measure_floor(browser, edits)
            app, extra = measure_app(browser, edits, after)
        finally:
            browser.close()
    return {"app": app, "floor": floor, "after": extra}


if __name__ == "__main__":
    import json

    from bench import tangent

    print(json.dumps(run(edits=8, after=tangent.measure)))
