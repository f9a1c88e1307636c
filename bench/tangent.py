"""Instant tangent: a click on the plot's slider moves the tangent in the browser, with no server round trip.

Plotly's slider steps use the "update" method (the traces and the title's slope), so
the browser redraws the tangent itself. The time is taken in the page, from the
mousedown on the slider rail to the first animation frame after Plotly's
plotly_update event (plotly_restyle for figures made before the title followed); the app's websocket frames
are counted over the same clicks, and must stay at zero.
"""

from bench.common import summary

# Stamps mousedowns and Plotly restyles on the (first) chart in the page.
LISTEN = """() => {
  const gd = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
  window.__tangent = {down: null, restyles: 0, drawn: null, x: null};
  document.addEventListener('mousedown', () => { window.__tangent.down = performance.now(); }, true);
  const moved = () => {
    const t = window.__tangent;
    t.restyles += 1;
    t.x = JSON.stringify(gd.data[1].x);  // the tangent segment's two x values
    requestAnimationFrame(() => { t.drawn = performance.now(); });
  };
  gd.on('plotly_update', moved);
  gd.on('plotly_restyle', moved);
}"""

RESTYLED = """(count) => {
  const t = window.__tangent;
  return t.restyles > count && t.drawn !== null && t.drawn > t.down ? {...t} : false;
}"""

# Fractions of the rail to click, far apart so that every click lands on a new step.
POSITIONS = (0.1, 0.9, 0.3, 0.7, 0.5, 0.2, 0.8, 0.4, 0.6, 0.05)


class FrameCounter:
    """Counts the websocket frames a page sends and receives, from Playwright's side."""

    def __init__(self, page):
        self.sent = 0
        self.received = 0
        page.on("websocket", self._watch)

    def _watch(self, ws):
        ws.on("framesent", lambda _payload: self._count("sent"))
        ws.on("framereceived", lambda _payload: self._count("received"))

    def _count(self, name):
        setattr(self, name, getattr(self, name) + 1)


def click_and_time(page, rail, fraction):
    """Click the slider rail at `fraction` of its width; seconds to the redrawn tangent, and its new x."""
    count = page.evaluate("() => window.__tangent.restyles")
    box = rail.bounding_box()
    page.evaluate("() => { window.__tangent.drawn = null; }")
    page.mouse.click(box["x"] + fraction * box["width"], box["y"] + box["height"] / 2)
    t = page.wait_for_function(RESTYLED, arg=count, polling="raf", timeout=10_000).json_value()
    return (t["drawn"] - t["down"]) / 1000, t["x"]


def measure(page, frames, clicks=20):
    """Slider clicks on an app page that is already drawn; `frames` is the page's FrameCounter."""
    page.evaluate(LISTEN)
    rail = page.locator('[data-testid="stPlotlyChart"] .slider-rail-touch-rect').first
    page.wait_for_timeout(300)
    sent, received = frames.sent, frames.received
    samples, positions = [], set()
    for i in range(clicks):
        seconds, x = click_and_time(page, rail, POSITIONS[i % len(POSITIONS)])
        samples.append(seconds)
        positions.add(x)
        page.wait_for_timeout(100)
    page.wait_for_timeout(500)  # a late frame would still be counted
    return {
        "latency": summary(samples),
        "frames_sent": frames.sent - sent,
        "frames_received": frames.received - received,
        "distinct_tangents": len(positions),
        "clicks": clicks,
    }
