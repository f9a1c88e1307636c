"""Scale: the two-layer seed on x with 10 ... MAX_X_ELEMENTS elements.

For each size, a fresh subprocess (so peak memory is its own) times the engine (explore and
the tangent figure, uncached), the script body under AppTest, and reads its peak RSS. Then
one real server times the whole rerun for each size through the websocket protocol.
Growth is the log-log slope of time against size between 10^3 and 10^5 elements.
"""

import json
import math
import statistics
import subprocess
import sys
import time

from bench.common import APP, ROOT, seed_layers, streamlit_server, unseen
from bench.protocol import Session

SIZES = (10, 1_000, 3_000, 10_000, 30_000, 100_000)
LAYERS = seed_layers(2)


def sizes():
    from explorer.engine.limits import MAX_X_ELEMENTS

    return sorted({n for n in SIZES if n <= MAX_X_ELEMENTS} | {MAX_X_ELEMENTS})


def x_text(n):
    """A flat list of n short numbers: 10^5 of them fit under MAX_X_CHARS."""
    return "[" + ", ".join(f"{(i % 97) / 10:g}" for i in range(n)) + "]"


def slope(points, low=1_000, high=100_000):
    """The growth exponent: a least-squares fit of log(seconds) against log(size) over every size from `low` to
    `high` (five sizes, each the median of its repeats); 1 is linear."""
    fitted = [(math.log(n), math.log(v)) for n, v in points.items() if low <= n <= high and v > 0]
    if len(fitted) < 5:
        return math.nan
    mean_x = sum(x for x, _ in fitted) / len(fitted)
    mean_y = sum(y for _, y in fitted) / len(fitted)
    return sum((x - mean_x) * (y - mean_y) for x, y in fitted) / sum((x - mean_x) ** 2 for x, _ in fitted)


# ---------------------------------------------------------------- one size, in a subprocess


def peak_rss_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return math.nan


def reset_peak_rss():
    """Linux: writing 5 to clear_refs resets VmHWM to the current RSS."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def median_seconds(action, repeats):
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def measure_one(n, repeats):
    """Runs inside the subprocess: engine and AppTest times, and peak RSS, for x of n elements."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from explorer.engine.exploration import explore
    from explorer.views.plot import tangent_curve, tangent_figure

    text = x_text(n)
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.run()  # imports and the default example: the baseline
    baseline = peak_rss_mb()
    reset_peak_rss()

    def engine():
        result = explore(text, LAYERS)
        tangent_figure(tangent_curve(result, 0, "sum"), "sum")

    def rerun():
        st.cache_resource.clear()
        st.cache_data.clear()
        app.text_input(key="x").set_value(text)
        app.text_area(key="layers").set_value(LAYERS)
        app.run()
        if app.exception:
            raise RuntimeError(app.exception[0].value)

    engine_s = median_seconds(engine, repeats)
    apptest_s = median_seconds(rerun, repeats)
    return {"engine_ms": 1000 * engine_s, "apptest_ms": 1000 * apptest_s,
            "baseline_rss_mb": baseline, "peak_rss_mb": peak_rss_mb(), "x_chars": len(text)}


def in_subprocess(n, repeats):
    command = [sys.executable, "-m", "bench.scale", "--one", str(n), str(repeats)]  # from ROOT: imports bench, explorer
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"scale worker for n={n} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- the real server


def real_reruns(all_sizes, repeats):
    """{n: {"uncached": ms, "cached": ms, "bytes": sent to the page}} on one real server."""
    out = {}
    with streamlit_server(APP, "scale") as (url, _):
        session = Session(url, timeout=120)
        try:
            session.rerun()
            for n in all_sizes:
                out[n] = real_size(session, x_text(n), repeats)
        finally:
            session.close()
    return out


def real_size(session, text, repeats):
    uncached, cached, sent = [], [], 0
    for _ in range(repeats):
        x_new = unseen(text)  # uncached: a text no cache has, then cached: the same again
        for samples in (uncached, cached):
            time.sleep(0.3)
            run = session.rerun({"x": x_new, "layers": LAYERS})
            if not run.ok:
                raise RuntimeError(f"rerun of {len(text)} chars failed: {run.status} {run.errors[:2]}")
            samples.append(run.seconds)
            sent = run.bytes
    return {"uncached": 1000 * statistics.median(uncached), "cached": 1000 * statistics.median(cached),
            "bytes": sent}


def run(repeats=3):
    all_sizes = sizes()
    local = {n: in_subprocess(n, repeats) for n in all_sizes}
    real = real_reruns(all_sizes, repeats)
    rows = {n: {**local[n], "real_uncached_ms": real[n]["uncached"], "real_cached_ms": real[n]["cached"],
                "bytes": real[n]["bytes"]} for n in all_sizes}
    growth = {
        "engine": slope({n: r["engine_ms"] for n, r in rows.items()}),
        "apptest": slope({n: r["apptest_ms"] for n, r in rows.items()}),
        "real": slope({n: r["real_uncached_ms"] for n, r in rows.items()}),
        "rss": slope({n: max(r["peak_rss_mb"] - r["baseline_rss_mb"], 1e-3) for n, r in rows.items()}),
    }
    return {"rows": rows, "growth": growth}


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(measure_one(int(sys.argv[2]), int(sys.argv[3]))))
    else:
        print(json.dumps(run(repeats=2), indent=1))
