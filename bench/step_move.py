"""A step move in Chromium: the step slider's arrow key to the page showing that step, its text and its orange node.

The step slider and the graph's toggles are a Streamlit fragment (streamlit_app.step_and_graph): a move reruns the
step, the graph and the sidebar's link alone. Measured on an app page already drawn (edit_latency's, after its
edits), through every step of the pass and back, with the websocket frames the page received per move.
"""

import time

from bench.common import summary

SLIDER = ".st-key-backward_step input[type='range']"

# The step's text says "step k of n", and the graph has its one orange (current) node, and the script is idle.
SHOWN = """(k) => document.body.innerText.includes(`step ${k} of `)
    && document.querySelector("[data-testid='stGraphVizChart'] svg polygon[fill='#ffb347']") !== null
    && !document.querySelector("[data-testid='stStatusWidget']")"""

WHOLE_PASS = """() => document.querySelector("[data-testid='stGraphVizChart'] svg polygon[fill='#ffb347']") === null"""


def steps(page):
    """The number of steps of the shown pass, from the slider's end."""
    return int(page.locator(SLIDER).get_attribute("max"))


def measure(page, frames, moves=20):
    """Seconds per step move and frames received per move; `frames` is the page's FrameCounter."""
    slider = page.locator(SLIDER)
    slider.scroll_into_view_if_needed()
    slider.focus()
    slider.press("Home")
    page.wait_for_timeout(500)
    last = steps(page)
    samples, received = [], []
    step = 0
    for _ in range(moves):
        if step == last:  # back to the whole pass, untimed
            slider.press("Home")
            page.wait_for_function(WHOLE_PASS, polling="raf", timeout=10_000)
            step = 0
        before = frames.received
        start = time.perf_counter()
        slider.press("ArrowRight")
        step += 1
        page.wait_for_function(SHOWN, arg=step, polling="raf", timeout=10_000)
        samples.append(time.perf_counter() - start)
        page.wait_for_timeout(150)  # a late frame of this move is still its own
        received.append(frames.received - before)
    return {"latency": summary(samples), "frames_received": sorted(received)[len(received) // 2], "moves": moves,
            "steps": last}
