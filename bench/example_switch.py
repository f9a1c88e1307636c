"""Example switch: from choosing an example in the Example box to the page idle and its graph drawn, in Chromium.

A real `streamlit run` as `make run` starts it. Every example (explorer/page/presets.py) is chosen in turn,
twice round: the first round is cold for each example (no cache has seen it), the second finds the server's
caches warm. Then the neuron example with the chain rule and the check open (`chain=true&verify=true`) takes
edits of its bias b, each a value not seen before.

Times are taken in the page with performance.now(): from the pointerdown on the option (or the Ctrl+Enter of
an edit), a capture listener that runs before Streamlit's, to the first animation frame in which the script
has run since, is idle again (data-test-script-state notRunning) and the graph shows the example's own
heading. The phases are the same as bench/browser_checks.py's: before the first websocket message is sent,
until the last message arrives, and drawing after it.
"""

import itertools
import sys
from urllib.parse import urlencode

from bench.common import APP, GRAPH_SVG, IDLE, launch_chromium, new_page, streamlit_server, summary

ROUNDS = 2
_biases = itertools.count(1)  # every bias edit a value no server in this run has seen
PAUSE_MS = 250  # between switches, so each one starts from a settled page

# Installed before the page loads: stamps the choice (pointerdown on an option, or Ctrl+Enter), whether the
# script ran after it, the first websocket message sent after it and the latest one received.
STAMPS = """(() => {
  const b = window.__switch = {start: null, ran: false, sent: null, received: null};
  const begin = () => { b.start = performance.now(); b.ran = false; b.sent = null; };
  document.addEventListener('pointerdown', (event) => {
    if (event.target.closest && event.target.closest('[role="option"]')) begin();
  }, true);
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) begin();
  }, true);
  // A record's old value says "running" even when the state flipped back before the callback ran.
  new MutationObserver((records) => {
    if (b.start === null) return;
    for (const r of records) {
      if (r.oldValue === 'running' || r.target.getAttribute('data-test-script-state') === 'running') b.ran = true;
    }
  }).observe(document, {subtree: true, attributes: true, attributeOldValue: true,
                        attributeFilter: ['data-test-script-state']});
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', () => { b.received = performance.now(); });
    }
    send(data) {
      if (b.start !== null && b.sent === null) b.sent = performance.now();
      return super.send(data);
    }
  };
})()"""

# The graph's text without whitespace, or null when there is no graph.
GRAPH_TEXT = """(graphSvg) => {
  const svg = document.querySelector(graphSvg);
  return svg ? svg.textContent.replace(/\\s+/g, '') : null;
}"""

# Truthy (the stamps) once the script has run since the choice (its state seen running, or a message answered
# the one sent: a fast rerun can flip the state back before any observer runs), is idle, and the graph shows
# `heading` and, unless `before` is null, differs from the graph before the choice.
DRAWN = """([idle, graphSvg, heading, before]) => {
  const b = window.__switch;
  const answered = b.sent !== null && b.received !== null && b.received > b.sent;
  if (!(b.ran || answered) || !document.querySelector(idle)) return false;
  const svg = document.querySelector(graphSvg);
  const text = svg ? svg.textContent.replace(/\\s+/g, '') : '';
  if (!text.includes(heading) || (before !== null && text === before)) return false;
  return {...b, drawn: performance.now()};
}"""


def heading(preset):
    """What the graph must show for this example: its last layer's formula (the output node's heading), without
    spaces and up to any list literal (the graph prints those as torch does: `0.` becomes `0.0`)."""
    return "".join(preset.layers.splitlines()[-1].split()).split("[")[0]


def phases(stamps):
    """One switch's total and phases in seconds, from the page's stamps (milliseconds of performance.now())."""
    sent = stamps["sent"] if stamps["sent"] is not None else stamps["start"]
    received = stamps["received"] if stamps["received"] is not None else sent
    return {
        "total": (stamps["drawn"] - stamps["start"]) / 1000,
        "before_send": (sent - stamps["start"]) / 1000,
        "server": (received - sent) / 1000,
        "drawing": (stamps["drawn"] - received) / 1000,
    }


def summarise(switches):
    """p50/p95/max (ms) of the total and of each phase, over a list of `phases` dicts."""
    names = ("total", "before_send", "server", "drawing")
    return {name: summary([s[name] for s in switches]) for name in names}


def wait_drawn(page, text, before, timeout_ms=60_000):
    try:
        stamps = page.wait_for_function(DRAWN, arg=[IDLE, GRAPH_SVG, text, before], polling="raf",
                                        timeout=timeout_ms)
    except Exception:
        seen = page.evaluate("() => ({...window.__switch, url: location.search})")
        print(f"!! not drawn: expected {text!r}; stamps {seen}", file=sys.stderr, flush=True)
        raise
    return phases(stamps.json_value())


def choose(page, preset, changes_graph=True):
    """Choose `preset` and time it; `changes_graph` False when the graph before shows the same program."""
    before = page.evaluate(GRAPH_TEXT, GRAPH_SVG) if changes_graph else None
    box = page.locator(".st-key-preset input[role='combobox']")
    box.click()
    box.fill(preset.title)  # the list is virtualised: filter it so that the option is rendered
    page.get_by_role("option", name=preset.title, exact=True).click()
    return wait_drawn(page, heading(preset), before)


def open_page(browser, url):
    page = new_page(browser)
    page.add_init_script(STAMPS)
    page.goto(url)
    page.wait_for_selector(IDLE)
    page.wait_for_selector(GRAPH_SVG)
    return page


def switch_rounds(browser, url, examples):
    """Seconds per switch, round by round: each example chosen in turn, the default (shown first) last."""
    page = open_page(browser, url)
    order = examples[1:] + examples[:1]
    rounds = []
    for _ in range(ROUNDS):
        switches = []
        shown = examples[0]
        for preset in order:
            timed = choose(page, preset, (preset.x, preset.layers) != (shown.x, shown.layers))
            shown = preset
            switches.append({"example": preset.key, **timed})
            page.wait_for_timeout(PAUSE_MS)
        rounds.append(switches)
    page.context.close()
    return rounds


def bias_edits(browser, url, edits):
    """Edits of the neuron's bias with the chain rule and the check open, each to a value not seen before."""
    from explorer.page import presets

    neuron = presets.BY_KEY["neuron"]
    page = open_page(browser, url + "/?" + urlencode({"preset": neuron.title, "chain": "true", "verify": "true"}))
    area = page.locator(".st-key-layers textarea")
    timed = []
    for _ in range(edits):
        layers = neuron.layers.replace("b = 6.8813735870195432", f"b = {6.5 + next(_biases) / 64}")
        before = page.evaluate(GRAPH_TEXT, GRAPH_SVG)  # the new bias changes the values the graph shows
        area.fill(layers)
        area.press("Control+Enter")
        timed.append(wait_drawn(page, heading(neuron), before))
        page.wait_for_timeout(PAUSE_MS)
    page.context.close()
    return timed


def run(edits=10, examples=None):
    from playwright.sync_api import sync_playwright

    from explorer.page import presets

    examples = list(examples or presets.PRESETS)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            with streamlit_server(APP, "example_switch") as (url, _):
                rounds = switch_rounds(browser, url, examples)
                bias = bias_edits(browser, url, edits)
        finally:
            browser.close()
    every = [s for switches in rounds for s in switches]
    return {
        "all": summarise(every),
        "first": summarise(rounds[0]),
        "second": summarise(rounds[-1]),
        "bias": summarise(bias),
        "switches": [[{k: (round(v * 1000) if k != "example" else v) for k, v in s.items()} for s in r]
                     for r in rounds],
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(edits=int(sys.argv[1]) if len(sys.argv) > 1 else 3), indent=1))
