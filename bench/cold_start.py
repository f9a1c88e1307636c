"""Cold start: from `streamlit run` to the first complete page in Chromium, for the app and the floor.

The browser is launched beforehand (its own start-up is not the app's). The clock starts
when the server process is spawned; the page is opened as soon as /_stcore/health answers,
and it stops when the page is drawn: for the app the graph, the plot, the numbers and the
idle state, for the floor the echo.
"""

import statistics
import time

from bench.browser_checks import app_expectation, floor_expectation, wait_drawn
from bench.common import (
    APP,
    FLOOR,
    OUT,
    free_port,
    launch_chromium,
    new_page,
    seed_layers,
    start_streamlit,
    stop,
    streamlit_command,
    wait_healthy,
)


def one_start(browser, app, expectation, name):
    """Seconds to health and to the drawn page, for one fresh server."""
    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(OUT / f"{name}.log", "w") as log:
        start = time.monotonic()
        process = start_streamlit(streamlit_command(app, port), stdout=log)
        try:
            wait_healthy(url, seconds=120)
            healthy = time.monotonic() - start
            page = new_page(browser, timeout_ms=120_000)
            page.goto(url)
            wait_drawn(page, seed_layers(2), expectation, timeout_ms=120_000)
            drawn = time.monotonic() - start
            page.context.close()
        finally:
            stop(process)
    return healthy, drawn


def run(repeats=3):
    from playwright.sync_api import sync_playwright

    times = {"app": [], "floor": []}
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            for i in range(repeats):
                times["floor"].append(one_start(browser, FLOOR, floor_expectation, f"cold_floor_{i}"))
                times["app"].append(one_start(browser, APP, app_expectation, f"cold_app_{i}"))
        finally:
            browser.close()
    return {
        name: {
            "health_s": statistics.median(h for h, _ in samples),
            "drawn_s": statistics.median(d for _, d in samples),
            "all_drawn_s": [round(d, 2) for _, d in samples],
        }
        for name, samples in times.items()
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(repeats=1), indent=1))
