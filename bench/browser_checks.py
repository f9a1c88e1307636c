"""In-page JavaScript for the browser measures: when an edit was sent, and when the page shows its result.

Times are taken inside the page with performance.now(): from the Ctrl+Enter keydown
(a capture listener, so before Streamlit's own handler) to the first animation frame
in which the whole expected page is there. Playwright's own round trips are not counted.
"""

import re
from dataclasses import dataclass

from bench.common import GRAPH_SVG, IDLE, PLOT_SVG, SEED_X

# Installed before the page loads: stamps every Ctrl+Enter (a capture listener, before the app
# sees it), the first websocket message sent after it, and the latest message received.
STAMPS = """(() => {
  window.__bench = {keydown: null, sent: null, received: null};
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      window.__bench.keydown = performance.now();
      window.__bench.sent = null;
    }
  }, true);
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', () => { window.__bench.received = performance.now(); });
    }
    send(data) {
      if (window.__bench.sent === null) window.__bench.sent = performance.now();
      return super.send(data);
    }
  };
})()"""

# Truthy (the time) once the app is idle and every expected token is on the page.
APP_DRAWN = """([idle, graphSvg, plotSvg, graph, numbers, plot]) => {
  const squash = (text) => text.replace(/[\\s#]+/g, '');  // printed tensors' lines are comments: "# tensor(...)"
  if (!document.querySelector(idle)) return false;
  const svg = document.querySelector(graphSvg);
  if (!svg || !svg.textContent.includes(graph)) return false;
  const chart = document.querySelector(plotSvg)?.closest('[data-testid="stPlotlyChart"]');
  if (!chart || !chart.textContent.includes(plot)) return false;
  const code = [...document.querySelectorAll('[data-testid="stCode"]')].map((el) => el.textContent).join('');
  if (!squash(code).includes(numbers)) return false;
  return {...window.__bench, drawn: performance.now()};
}"""

FLOOR_DRAWN = """([idle, echo]) => {
  const squash = (text) => text.replace(/\\s+/g, '');
  if (!document.querySelector(idle)) return false;
  const code = [...document.querySelectorAll('[data-testid="stCode"]')].map((el) => el.textContent).join('');
  return squash(code).includes(echo) ? {...window.__bench, drawn: performance.now()} : false;
}"""


def squash(text):
    """Without whitespace or "#": the page prints a tensor's lines as comments under its print()."""
    return re.sub(r"[\s#]+", "", text)


def app_expectation(layers_text):
    """What the app must show for the seed x and these layers: computed by the same engine, in this process."""
    from explorer.engine.exploration import explore

    result = explore(SEED_X, layers_text)
    grad = result.grads["sum"]
    graph = layers_text.splitlines()[0]  # the y node's heading: "y = 3*x + c"
    plot = f"slope at the point = {float(grad.flatten()[0]):.6g}"
    return APP_DRAWN, [IDLE, GRAPH_SVG, PLOT_SVG, graph, squash(repr(grad)), plot]


def floor_expectation(layers_text):
    return FLOOR_DRAWN, [IDLE, squash(layers_text)]


@dataclass(frozen=True)
class Edit:
    """One edit's phases, in seconds: browser before sending, websocket until the last message, drawing after it."""

    total: float
    before_send: float
    server: float
    drawing: float


def edit_and_wait(page, layers_text, expectation, timeout_ms=30_000):
    """Type the layers, press Ctrl+Enter, and time it until the page shows the result."""
    script, args = expectation(layers_text)
    area = page.locator(".st-key-layers textarea")
    area.fill(layers_text)
    area.press("Control+Enter")
    t = page.wait_for_function(script, arg=args, polling="raf", timeout=timeout_ms).json_value()
    ms = 1000
    return Edit(
        total=(t["drawn"] - t["keydown"]) / ms,
        before_send=(t["sent"] - t["keydown"]) / ms,
        server=(t["received"] - t["sent"]) / ms,
        drawing=(t["drawn"] - t["received"]) / ms,
    )


def wait_drawn(page, layers_text, expectation, timeout_ms=60_000):
    script, args = expectation(layers_text)
    page.wait_for_function(script, arg=args, polling="raf", timeout=timeout_ms)
