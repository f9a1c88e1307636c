"""Server time per rerun, for every preset, uncached and cached, measured two ways.

- On a real `streamlit run`, through Streamlit's websocket protocol (bench/protocol.py): from
  the rerun request to script_finished. This is the whole rerun as a user's edit costs it,
  including what Streamlit does after the script.
  Uncached runs send x with trailing spaces never sent before (common.unseen): the same work,
  a new key for every cache. (The page menu's "Clear cache" would also clear session state,
  and the app's init_state would then show the default example instead of the edit.)
- Under AppTest, in this process: the script body alone;
  uncached after st.cache_resource.clear() and st.cache_data.clear().

The floor app is timed the same two ways. Each number is the median of a few repetitions.
Reruns are spaced by PAUSE, as a person's edits are.

Back to back (`back_to_back`): one session's fresh seed edits sent the moment the last page is in, against the
same edits 0.4 s apart. On a plain Streamlit 1.67 server (the floor app) the quick ones wait ~45 ms: its
websockets keep Nagle's algorithm on, and the client's TCP stack, once the exchange looks interactive, delays
the acknowledgement the server's next small message waits for. The app turns Nagle off
(explorer.serving.network); the server was idle during the wait (py-spy), so it was never the script thread.
"""

import statistics
import time

from bench.common import APP, FLOOR, SEED_X, fresh_layers, streamlit_server, unseen
from bench.protocol import Session

PAUSE = 0.3


def preset_inputs():
    from explorer.page import presets

    return [(p.key, p.x, p.layers) for p in presets.PRESETS]


def ms_median(samples):
    return 1000 * statistics.median(samples)


# ---------------------------------------------------------------- real server


def timed_rerun(session, x_text, layers_text):
    time.sleep(PAUSE)
    run = session.rerun({"x": x_text, "layers": layers_text})
    if not run.ok:
        raise RuntimeError(f"rerun failed for {layers_text!r}: status {run.status}, {run.errors[:2]}")
    return run.seconds


def real_preset_times(session, x_text, layers_text, repeats):
    uncached, cached = [], []
    for _ in range(repeats):
        x_new = unseen(x_text)
        uncached.append(timed_rerun(session, x_new, layers_text))
        cached.append(timed_rerun(session, x_new, layers_text))
    return {"uncached": ms_median(uncached), "cached": ms_median(cached)}


def real_server(app, name, inputs, repeats, env=None):
    """{preset: {"uncached": ms, "cached": ms}} on a real server of `app`."""
    with streamlit_server(app, name, env=env) as (url, _):
        session = Session(url)
        try:
            session.rerun()  # the first page load: imports, caches the default preset
            return {key: real_preset_times(session, x, layers, repeats) for key, x, layers in inputs}
        finally:
            session.close()


def back_to_back(app, name, edits=30, spaced=0.4):
    """p50 ms of fresh seed edits sent back to back, and of the same kind of edits `spaced` seconds apart."""
    with streamlit_server(app, name) as (url, _):
        session = Session(url)
        try:
            session.rerun()
            p50 = {}
            for label, pause in (("back_to_back", 0.0), ("spaced", spaced)):
                seconds = []
                for _ in range(edits):
                    time.sleep(pause)
                    seconds.append(session.rerun({"x": SEED_X, "layers": fresh_layers()}).seconds)
                p50[label] = ms_median(seconds)
            return {**p50, "edits": edits, "spaced_s": spaced}
        finally:
            session.close()


# ---------------------------------------------------------------- AppTest


def apptest_times(app_path, inputs, repeats):
    """{preset: {"uncached": ms, "cached": ms}} of the script body under AppTest."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(app_path), default_timeout=60)
    app.run()  # imports and first-run work, not timed
    times = {}
    for key, x_text, layers_text in inputs:
        app.text_input(key="x").set_value(x_text)
        app.text_area(key="layers").set_value(layers_text)
        app.run()
        uncached, cached = [], []
        for _ in range(repeats):
            st.cache_resource.clear()
            st.cache_data.clear()
            uncached.append(timed_apptest_run(app))
            cached.append(timed_apptest_run(app))
        times[key] = {"uncached": ms_median(uncached), "cached": ms_median(cached)}
    return times


def timed_apptest_run(app):
    start = time.perf_counter()
    app.run()
    seconds = time.perf_counter() - start
    if app.exception:
        raise RuntimeError(f"AppTest run raised: {app.exception[0].value}")
    return seconds


# ---------------------------------------------------------------- all


def worst(times, case):
    return max(t[case] for t in times.values())


def run(repeats=3):
    inputs = preset_inputs()
    seed = inputs[:1]
    return {
        "real": real_server(APP, "server_time_app", inputs, repeats),
        "real_floor": real_server(FLOOR, "server_time_floor", seed, repeats),
        "apptest": apptest_times(APP, inputs, repeats),
        "apptest_floor": apptest_times(FLOOR, seed, repeats),
        "back_to_back": back_to_back(APP, "back_to_back_app"),
        "back_to_back_floor": back_to_back(FLOOR, "back_to_back_floor"),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(repeats=2), indent=1))
