"""The link visitor (issue 17): a legal link whose default plot runs the whole program once per sample.

x is an N×1 list (`[[0.0], [0.1], ...]`), and the layers are a leaf row of 95 values, `y = x*w`,
`z = sin(y)*y + y`, `q = sum(z)`: N = 4,000 is 1.9 M element-operations, under limits.MAX_WORK. The plot shown
by default moves one element of one leaf, so it runs the program once per sample (explorer.views.plot's
general road); before the plot was sized by explorer.engine.cost.curve_plan and counted in the exploration's
Cost, one such visitor raised the server by 1.9 GB.

The visitors open the page as a link does (the query string holds x and the layers), over the websocket
protocol (bench/protocol.py). One visitor alone, then three at once (x of 3,500 rows, each its own text), each on
a fresh server; meanwhile a small session edits the seed about once a second (bench/public.victim). Recorded:
the server tree's RSS peak over idle (sampled every 50 ms), each visitor's time from the request to
script_finished, what its page showed (the plot drawn, the plot refused with a sentence, "Server busy",
"Queued"), and the small session's edits.
"""

import threading
import time

from bench.common import APP, WARM_LINK, Deadline, streamlit_server, summary, tree_rss_mb
from bench.protocol import Session
from bench.public import RERUN_TIMEOUT, Burst, RssSampler, short, victim
from explorer.engine import limits

LEAF_VALUES = 95
ONE_ROWS, THREE_ROWS = 4_000, 3_500
ONE_PEAK_MB, THREE_PEAK_MB, ONE_SECONDS = 400, 600, 3.0  # the targets, over idle
SMALL_MAX_MS = 2000
PLOT_REFUSED = "No plot for this input"
# The first torch.func.grad call in a process cost 2.4-2.8 s here under load (its lazy imports and set-up), once.
# The server pays it in a delayed warm-up thread after its first page (explorer.serving.facade.warm_up); the bench's
# warm session also opens a small program with a leaf (bench.common.WARM_LINK), so the measure is the link's own.
# `one_cold` in the results (run(cold=True)) is the same visitor on a server whose warm session opened the seed.


def link_x(rows, visitor=0):
    """x as `[[0.0], [0.1], ...]`, `rows` rows; each visitor's text its own (a shared text shares one result)."""
    return "[" + ", ".join(f"[{i / 10 + visitor / 100:g}]" for i in range(rows)) + "]"


def link_layers():
    """The leaf row written compactly: MAX_LINE_CHARS is 400, and 95 values of 3 characters fit."""
    row = ",".join(f"{(i % 9 + 1) / 10:g}" for i in range(LEAF_VALUES))
    layers = f"w = [[{row}]]\ny = x*w\nz = sin(y)*y + y\nq = sum(z)"
    assert max(len(line) for line in layers.splitlines()) <= limits.MAX_LINE_CHARS
    return layers


def outcome(run):
    """What the page showed, in a few words."""
    if run.status is None:
        return "unfinished"
    if any("busy" in alert.lower() for alert in run.alerts):
        return "busy"
    if run.errors:
        return "error: " + short(run.errors[0])
    if run.plots:
        return "plot drawn"
    if any(PLOT_REFUSED in alert for alert in run.alerts):
        return "plot refused"
    return "no plot, no sentence"


def visit(url, rows, visitor, start, results):
    """One visitor opens the link; results[visitor] = what it saw."""
    session = None
    start.wait()
    begun = time.monotonic()
    try:
        session = Session(url, timeout=RERUN_TIMEOUT, link={"x": link_x(rows, visitor), "layers": link_layers()})
        run = session.rerun(within=RERUN_TIMEOUT)
        results[visitor] = {"seconds": time.monotonic() - begun, "outcome": outcome(run),
                            "queued": any(alert.startswith("Queued:") for alert in run.alerts),
                            "refusal": next((short(a) for a in run.alerts if PLOT_REFUSED in a), None)}
    except Exception as error:  # noqa: BLE001 - a dropped socket or a deadline is this visitor's outcome
        results[visitor] = {"seconds": time.monotonic() - begun, "outcome": f"{type(error).__name__}",
                            "queued": False, "refusal": None}
    finally:
        if session:
            session.close()


def visitors(count, rows, env=None, name="link", warm_func=True):
    """`count` visitors at once on a fresh server, and a small session editing meanwhile. `warm_func`: the
    server has drawn one small plot of a program with a leaf first (torch.func's first call, see WARM_LAYERS)."""
    with streamlit_server(APP, name, env=env) as (url, process):
        warm = Session(url, timeout=RERUN_TIMEOUT, link=WARM_LINK if warm_func else None)
        warm.rerun(within=RERUN_TIMEOUT)  # imports and the first run (and torch.func's first call), before idle
        warm.close()
        time.sleep(3)  # the symbolic workers finish warming up
        idle = tree_rss_mb(process.pid)
        tally, finished, results = Burst(), threading.Event(), {}
        start = threading.Barrier(count)
        with RssSampler(process.pid) as sampler:
            small = threading.Thread(target=victim, args=(url, tally, finished, Deadline(4 * RERUN_TIMEOUT)),
                                     daemon=True)
            small.start()
            time.sleep(1.5)  # the small session's page is open and editing
            threads = [threading.Thread(target=visit, args=(url, rows, k, start, results), daemon=True)
                       for k in range(count)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=2 * RERUN_TIMEOUT)
            time.sleep(1.0)  # a last edit after the visitors
            finished.set()
            small.join(timeout=RERUN_TIMEOUT)
    return {
        "visitors": count, "rows": rows, "idle_mb": idle, "peak_mb": sampler.peak,
        "pages": [results.get(k, {"outcome": "never answered"}) for k in range(count)],
        "small": summary(tally.victim), "small_failed": dict(tally.victim_failed),
    }


def run(env=None, label="shipped", cold=False):
    results = {"one": visitors(1, ONE_ROWS, env, f"link_one_{label}"),
               "three": visitors(3, THREE_ROWS, env, f"link_three_{label}")}
    if cold:
        results["one_cold"] = visitors(1, ONE_ROWS, env, f"link_cold_{label}", warm_func=False)
    return results


if __name__ == "__main__":
    import json

    print(json.dumps(run(cold=True), indent=1))
