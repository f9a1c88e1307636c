"""Where an edit's time goes in the browser: the renderer's main thread, sampled through CDP, per bucket.

On a real `streamlit run` of the app (started as `make run` starts it) in headless Chromium, N uncached seed
edits are made while V8's sampling profiler runs on the page's main thread (100 µs). Each sample's self time is
charged to a bucket by the innermost frame on its stack that names one (BUCKETS): the graph's layout (Streamlit's
GraphVizChart chunk, which bundles the Graphviz WebAssembly, and every wasm:// frame), plotly (its PlotlyChart
chunk), markdown / code / KaTeX (their chunks), react-dom, emotion (CSS-in-JS), and Streamlit's other chunks; then
V8's own entries: the garbage collector, "(program)" (native work with no JavaScript on the stack: Blink's style,
layout and paint, message dispatch) and "(idle)". The chunk names were read off a profile of this app
(Streamlit 1.67), not guessed; `result["chunks"]` lists the heaviest URLs of each run so a renamed chunk shows up.

Each edit is cut out of the one profile by the page's own stamps (bench/browser_checks.py: keydown, first
message sent, last message received, drawn), mapped onto the profiler's clock by a marker function that spins
for a few milliseconds at a known performance.now(). Per edit it also reads Blink's own counters
(Performance.getMetrics: style, layout and script time, from before the edit to PAUSE_MS after it is drawn), the
DOM nodes under the app, the Streamlit element containers, the websocket frames and bytes, CDP's timestamp of the
last frame (Network events; it turned out to be taken when the main thread handles the frame), and whether the
plot is a new chart element (Plotly then builds it from scratch: st.plotly_chart's element id includes the
figure, key or not, in Streamlit 1.67). The same
number of edits is first timed without the profiler, and the floor app's edits in the same run, so the
profiler's own cost and the ratio to the floor can be read.

    python -m bench.browser_profile [edits]      prints the table; `python -m bench.run --only browser_profile`
"""

import json
import re

from bench.browser_checks import STAMPS, app_expectation, edit_and_wait, wait_drawn
from bench.common import (
    APP,
    OUT,
    fresh_layers,
    launch_chromium,
    ms,
    new_page,
    percentile,
    seed_layers,
    streamlit_server,
    table,
)
from bench.edit_latency import measure_floor, phases, timed_edits

SAMPLING_US = 100
PAUSE_MS = 250
WARMUP_EDITS = 2

# (bucket, what names it), in the order a stack is searched from its innermost frame outwards.
BUCKETS = (
    ("graph layout (Graphviz wasm)", re.compile(r"^wasm://|/GraphVizChart\.[^/]*\.js$")),
    ("plotly", re.compile(r"/PlotlyChart\.[^/]*\.js$")),
    ("markdown, code, KaTeX", re.compile(r"/(StreamlitMarkdown|StreamlitSyntaxHighlighter|katex|rehype-katex)"
                                         r"\.[^/]*\.js$")),
    ("React (react-dom)", re.compile(r"/static/js/react-dom\.[^/]*\.js$")),
    ("emotion (CSS-in-JS styling)", re.compile(r"/static/js/(emotion|styled-components)[^/]*\.js$")),
    ("Streamlit (main bundle, other chunks)", re.compile(r"/static/js/[^/]*\.js$")),
)
GRAPH, PLOTLY = BUCKETS[0][0], BUCKETS[1][0]  # for tests and readers
V8_ENTRIES = {"(garbage collector)": "GC", "(program)": "(program): native, no JS on the stack",
              "(idle)": "(idle)"}
OTHER = "other (Playwright's polling, anonymous)"
ORDER = (*(name for name, _ in BUCKETS), *V8_ENTRIES.values(), OTHER)
NOT_BUSY = {"(idle)"}

BLINK = ("TaskDuration", "ScriptDuration", "RecalcStyleDuration", "LayoutDuration")  # seconds, cumulative

MARK = """() => {
  function __benchProfileMark() {
    const start = performance.now();
    let now = start;
    while (now - start < 4) now = performance.now();
    return [start, now];
  }
  return __benchProfileMark();
}"""

COUNTS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  const count = (selector) => app.querySelectorAll(selector).length;
  return {
    dom_nodes: count('*'),
    element_containers: count('[data-testid="stElementContainer"]'),
    graph_svg_nodes: count('[data-testid="stGraphVizChart"] svg *'),
    plot_nodes: count('[data-testid="stPlotlyChart"] *'),
    code_blocks: count('[data-testid="stCode"]'),
  };
}"""

# Counts Plotly's redraws (plotly_afterplot: Plotly.react, a resize, a relayout) on the page's chart, and how many
# chart elements it has seen: a replaced chart counts again, and its redraws before the next call are missed.
PLOTS = """() => {
  const gd = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
  const seen = window.__benchPlots || (window.__benchPlots = {redraws: 0, charts: 0});
  if (gd && gd.on && !gd.__benchCounted) {
    gd.__benchCounted = true;
    seen.charts += 1;
    gd.on('plotly_afterplot', () => { seen.redraws += 1; });
  }
  return {...seen};
}"""


# ---------------------------------------------------------------- the profile, as a pure function


def bucket_of(frame):
    """The bucket a call frame names, or None: V8's own entries by name, chunks by URL."""
    if frame["functionName"] in V8_ENTRIES and not frame["url"]:
        return V8_ENTRIES[frame["functionName"]]
    for name, pattern in BUCKETS:
        if pattern.search(frame["url"]):
            return name
    return None


def sample_buckets(profile):
    """(time in µs on the profiler's clock, duration in µs, bucket) for every sample of a CDP Profiler profile.

    A sample lasts until the next one (as DevTools draws it; the last lasts nothing). Its bucket is the one named
    by the innermost frame of its stack that names one, so a native call (getBBox, setAttribute) is charged to the
    chunk that made it, and a shared helper chunk to the component that called it.
    """
    nodes = {node["id"]: node for node in profile["nodes"]}
    parent = {child: node["id"] for node in profile["nodes"] for child in node.get("children", ())}
    named = {}

    def bucket(node_id):
        if node_id not in named:
            own = bucket_of(nodes[node_id]["callFrame"])
            up = parent.get(node_id)
            named[node_id] = own or (bucket(up) if up is not None else OTHER)
        return named[node_id]

    return [(t, duration, bucket(node)) for t, duration, node in _timed(profile)]


def _timed(profile):
    """(time µs, duration µs, node id) per sample: a sample lasts until the next one (the last lasts nothing)."""
    times, now = [], profile["startTime"]
    for delta in profile["timeDeltas"]:
        now += delta
        times.append(now)
    ends = [*times[1:], times[-1]] if times else []
    return [(t, end - t, node) for t, end, node in zip(times, ends, profile["samples"], strict=True)]


def charge(samples, start_us, end_us):
    """{bucket: ms} of the samples whose time falls in [start_us, end_us)."""
    totals = dict.fromkeys(ORDER, 0.0)
    for t, duration, name in samples:
        if start_us <= t < end_us:
            totals[name] += duration / 1000
    return totals


def marker_offset(profile, marks):
    """µs to add to a performance.now() (in ms) to land on the profiler's clock, from the marker's samples.

    `marks` is the [start, end] the marker function returned; its samples span about the same interval.
    """
    ids = {node["id"] for node in profile["nodes"] if node["callFrame"]["functionName"] == "__benchProfileMark"}
    inside = [t for t, _, node in _timed(profile) if node in ids]
    if not inside:
        raise RuntimeError("the profile holds no sample of the marker function")
    start, end = marks
    return ((inside[0] - 1000 * start) + (inside[-1] - 1000 * end)) / 2


def per_edit(profile, offset_us, stamps):
    """For each edit's stamps (performance.now() ms: keydown, sent, received, drawn): {bucket: ms} over the whole
    edit, over the server phase (first message sent to the last one handled) and over the drawing phase (the last
    message handled to drawn)."""
    samples = sample_buckets(profile)

    def between(start_ms, end_ms):
        return charge(samples, offset_us + 1000 * start_ms, offset_us + 1000 * end_ms)

    return [{"edit": between(s["keydown"], s["drawn"]), "server": between(s["sent"], s["received"]),
             "drawing": between(s["received"], s["drawn"]), "drawing_ms": s["drawn"] - s["received"],
             "total_ms": s["drawn"] - s["keydown"]} for s in stamps]


def bucket_table(edits):
    """Per bucket: ms p50 over the edit, its server phase and its drawing phase, and its share of the drawing
    phase (p50 of each edit's share); then the same for every bucket but (idle)."""
    def busy(ms):
        return sum(value for name, value in ms.items() if name not in NOT_BUSY)

    rows = {}
    for name, pick in [*((name, lambda ms, name=name: ms[name]) for name in ORDER), ("busy (all but idle)", busy)]:
        rows[name] = {"edit_ms": percentile([pick(e["edit"]) for e in edits], 50),
                      "server_ms": percentile([pick(e["server"]) for e in edits], 50),
                      "drawing_ms": percentile([pick(e["drawing"]) for e in edits], 50),
                      "drawing_share": percentile([pick(e["drawing"]) / e["drawing_ms"] for e in edits
                                                   if e["drawing_ms"] > 0], 50)}
    return rows


def share_under(profile, bucket, function_name):
    """The share of `bucket`'s sampled time spent with `function_name` on the stack (e.g. plotly's
    drawMarginPushers, which draws the slider, the legend and the title; its name survives minification)."""
    nodes = {node["id"]: node for node in profile["nodes"]}
    parent = {child: node["id"] for node in profile["nodes"] for child in node.get("children", ())}
    under, total = 0.0, 0.0
    for (_, duration, node), (_, _, name) in zip(_timed(profile), sample_buckets(profile), strict=True):
        if name != bucket:
            continue
        total += duration
        i = node
        while i is not None and nodes[i]["callFrame"]["functionName"] != function_name:
            i = parent.get(i)
        under += duration if i is not None else 0.0
    return under / total if total else float("nan")


def heaviest_urls(profile, top=12):
    """[(url's file name or V8 entry, self ms)], heaviest first: the chunk names as this run's profile saw them."""
    nodes = {node["id"]: node["callFrame"] for node in profile["nodes"]}
    totals = {}
    for _, duration, node in _timed(profile):
        frame = nodes[node]
        key = frame["url"].rsplit("/", 1)[-1] if frame["url"] else frame["functionName"] or "(anonymous)"
        totals[key] = totals.get(key, 0.0) + duration / 1000
    return sorted(totals.items(), key=lambda item: -item[1])[:top]


# ---------------------------------------------------------------- the browser


class SocketBytes:
    """Websocket frames and bytes a page sends and receives, counted from Playwright's side."""

    def __init__(self, page):
        self.counts = {"frames_received": 0, "bytes_received": 0, "frames_sent": 0, "bytes_sent": 0}
        page.on("websocket", self._watch)

    def _watch(self, ws):
        ws.on("framereceived", lambda payload: self._add("received", payload))
        ws.on("framesent", lambda payload: self._add("sent", payload))

    def _add(self, way, payload):
        self.counts[f"frames_{way}"] += 1
        self.counts[f"bytes_{way}"] += len(payload.encode() if isinstance(payload, str) else payload)

    def snapshot(self):
        return dict(self.counts)


def blink_metrics(cdp):
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}


def profiled_edits(page, cdp, sockets, edits):
    """N fresh edits under the profiler: (profile, offset, per-edit stamps, Blink deltas, counts, socket deltas)."""
    arrivals = []  # when each websocket frame reached the renderer's network stack, in s on the profiler's clock
    cdp.on("Network.webSocketFrameReceived", lambda event: arrivals.append(event["timestamp"]))
    cdp.send("Network.enable")
    cdp.send("Performance.enable")
    cdp.send("Profiler.enable")
    cdp.send("Profiler.setSamplingInterval", {"interval": SAMPLING_US})
    cdp.send("Profiler.start")
    marks = page.evaluate(MARK)
    stamps, blink, counts, sockets_per_edit, timed = [], [], [], [], []
    for _ in range(edits):
        before, sent_before, plots_before = blink_metrics(cdp), sockets.snapshot(), page.evaluate(PLOTS)
        edit = edit_and_wait(page, fresh_layers(), app_expectation)
        bench = page.evaluate("() => ({...window.__bench})")
        page.wait_for_timeout(PAUSE_MS)  # a late redraw still counts
        after, sent_after, plots_after = blink_metrics(cdp), sockets.snapshot(), page.evaluate(PLOTS)
        stamps.append({"keydown": bench["keydown"], "sent": bench["sent"],
                       "received": bench["sent"] + 1000 * edit.server, "drawn": bench["keydown"] + 1000 * edit.total})
        blink.append({name: 1000 * (after[name] - before[name]) for name in BLINK})
        counts.append({**page.evaluate(COUNTS), "plotly_redraws": plots_after["redraws"] - plots_before["redraws"],
                       "plot_charts_new": plots_after["charts"] - plots_before["charts"]})
        sockets_per_edit.append({k: sent_after[k] - sent_before[k] for k in sent_after})
        timed.append(edit)
    profile = cdp.send("Profiler.stop")["profile"]
    cdp.send("Profiler.disable")
    offset = marker_offset(profile, marks)
    for s in stamps:
        s["arrived"] = last_arrival(arrivals, offset, s["keydown"], s["drawn"])
    return profile, offset, stamps, blink, counts, sockets_per_edit, timed


def last_arrival(arrivals_s, offset_us, start_ms, end_ms):
    """The last websocket frame's arrival in [start_ms, end_ms] as a performance.now() (ms), or nan.

    CDP's network timestamps are seconds on the same monotonic clock as the profiler's microseconds (both
    base::TimeTicks); the page's "received" stamp is later by however long the main thread was busy.
    """
    inside = [(1e6 * t - offset_us) / 1000 for t in arrivals_s]
    inside = [t for t in inside if start_ms <= t <= end_ms]
    return max(inside) if inside else float("nan")


def network_phases(stamps):
    """ms, p50 and min: the server as the network saw it (first message sent to the last frame's arrival), and
    the page's backlog (that arrival to the page's handling of it, the "received" stamp)."""
    server = [s["arrived"] - s["sent"] for s in stamps if s["arrived"] == s["arrived"]]
    backlog = [s["received"] - s["arrived"] for s in stamps if s["arrived"] == s["arrived"]]
    return {"server_p50": percentile(server, 50), "backlog_p50": percentile(backlog, 50),
            "backlog_min": min(backlog, default=float("nan")), "n": len(server)}


def p50s(dicts):
    return {key: percentile([d[key] for d in dicts], 50) for key in dicts[0]} if dicts else {}


def measure_app(browser, edits):
    with streamlit_server(APP, "browser_profile") as (url, _):
        page = new_page(browser)
        sockets = SocketBytes(page)
        page.add_init_script(STAMPS)
        page.goto(url)
        wait_drawn(page, seed_layers(2), app_expectation)
        timed_edits(page, [fresh_layers() for _ in range(WARMUP_EDITS)], app_expectation)
        plain = timed_edits(page, [fresh_layers() for _ in range(edits)], app_expectation)
        cdp = page.context.new_cdp_session(page)
        profile, offset, stamps, blink, counts, socket_deltas, profiled = profiled_edits(page, cdp, sockets, edits)
        page.context.close()
    OUT.mkdir(parents=True, exist_ok=True)
    raw = OUT / "browser_profile.cpuprofile"  # opens in DevTools' Performance panel
    raw.write_text(json.dumps(profile))
    (OUT / "browser_profile.windows.json").write_text(json.dumps({"offset_us": offset, "stamps": stamps}))
    cut = per_edit(profile, offset, stamps)
    return {
        "edits": edits,
        "sampling_us": SAMPLING_US,
        "plain": phases(plain),
        "profiled": phases(profiled),
        "buckets": bucket_table(cut),
        "blink_ms": p50s(blink),
        "elements": p50s(counts),
        "websocket": p50s(socket_deltas),
        "network": network_phases(stamps),
        "chunks": heaviest_urls(profile),
        "plotly_margin_pushers_share": share_under(profile, PLOTLY, "e.drawMarginPushers"),
        "raw": str(raw.relative_to(OUT.parent.parent)),
    }


def run(edits=10):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            floor = measure_floor(browser, edits)["uncached"]
            app = measure_app(browser, edits)
        finally:
            browser.close()
    return {**app, "floor": floor}


# ---------------------------------------------------------------- the tables


def details(result):
    """The markdown tables of one run (bench/report.py's section "browser_profile")."""
    rows = [(name, ms(r["edit_ms"]), ms(r.get("server_ms", float("nan"))), ms(r["drawing_ms"]),
             _share(r["drawing_share"])) for name, r in result["buckets"].items()]
    text = table(("bucket (renderer main thread, self time)", "ms per edit p50", "in sent→last message p50",
                  "in last message→drawn p50", "share of the drawing phase p50"), rows)
    phase_rows = [(label, ms(p["total"]["p50"]), ms(p["before_send"]["p50"]), ms(p["server"]["p50"]),
                   ms(p["drawing"]["p50"]), p["total"]["n"])
                  for label, p in (("app, profiler off", result["plain"]), ("app, profiler on", result["profiled"]),
                                   ("floor app, profiler off", result["floor"]))]
    text += "\n\n" + table(("edits (uncached seed)", "total p50", "keydown→sent", "sent→last message",
                            "last message→drawn", "n"), phase_rows)
    blink, el, ws = result["blink_ms"], result["elements"], result["websocket"]
    net = result.get("network")
    if net:
        text += (f"\n\nCDP's websocket frame timestamps put the last frame {ms(net['server_p50'])} after the first "
                 f"message sent (p50), and the page's handler {ms(net['backlog_p50'])} later (min "
                 f"{ms(net['backlog_min'])}): near zero means Chromium stamps a frame when the main thread takes it, "
                 f"so these cannot tell the server's time from a busy main thread; the bucket table's middle column "
                 f"shows how busy the main thread is meanwhile.")
    text += (f"\n\nBlink's counters per edit (p50, Performance.getMetrics): task {ms(blink['TaskDuration'])}, script "
             f"{ms(blink['ScriptDuration'])}, style recalculation {ms(blink['RecalcStyleDuration'])}, layout "
             f"{ms(blink['LayoutDuration'])}. After each edit the app holds {el['dom_nodes']:,.0f} DOM nodes in "
             f"{el['element_containers']:.0f} element containers (the graph's SVG {el['graph_svg_nodes']:,.0f} "
             f"nodes, the plot {el['plot_nodes']:,.0f}, {el['code_blocks']:.0f} code blocks); Plotly redraws the "
             f"chart {el.get('plotly_redraws', float('nan')):.0f} times per edit (plotly_afterplot events, p50), "
             f"on {el.get('plot_charts_new', float('nan')):.0f} new chart elements. Websocket per edit: "
             f"{ws['frames_received']:.0f} frames, {ws['bytes_received'] / 1024:,.1f} KiB received; "
             f"{ws['frames_sent']:.0f} frames, {ws['bytes_sent'] / 1024:,.1f} KiB sent. Of plotly's time, "
             f"{_share(result.get('plotly_margin_pushers_share', float('nan')))} is under drawMarginPushers (the "
             f"slider, the legend, the title). Sampling every "
             f"{result['sampling_us']} µs; the profile is `{result['raw']}`; heaviest files by self time: "
             + ", ".join(f"{name} {value:,.0f} ms" for name, value in result["chunks"][:8]) + ".")
    return text


def _share(value):
    return "n/a" if value != value else f"{100 * value:.0f}%"


if __name__ == "__main__":
    import sys

    result = run(edits=int(sys.argv[1]) if len(sys.argv) > 1 else 10)
    (OUT / "browser_profile.json").write_text(json.dumps(result, indent=1))
    print(details(result))
