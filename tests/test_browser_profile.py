"""bench/browser_profile.py's bucketing, on a small hand-made CDP profile (no browser)."""

import pytest

from bench.browser_profile import (
    GRAPH,
    OTHER,
    PLOTLY,
    bucket_table,
    charge,
    last_arrival,
    marker_offset,
    network_phases,
    per_edit,
    sample_buckets,
    share_under,
)

BASE = "http://127.0.0.1:8501/static/js/"


def frame(name, url=""):
    return {"functionName": name, "url": url, "scriptId": "0", "lineNumber": 0, "columnNumber": 0}


# root ─ (program) 2, (idle) 3, (garbage collector) 4, an anonymous script with no URL 12
#      └ react-dom 5 ─ GraphVizChart layout 6 ─ wasm-function 7
#                    ├ PlotlyChart 8 ─ getBoundingClientRect (native, no URL) 9
#                    └ emotion 10
#      └ the bench's marker 11
NODES = [
    {"id": 1, "callFrame": frame("(root)"), "children": [2, 3, 4, 5, 11, 12]},
    {"id": 2, "callFrame": frame("(program)")},
    {"id": 3, "callFrame": frame("(idle)")},
    {"id": 4, "callFrame": frame("(garbage collector)")},
    {"id": 5, "callFrame": frame("Ec", BASE + "react-dom.Dzbslgj4.js"), "children": [6, 8, 10]},
    {"id": 6, "callFrame": frame("layout", BASE + "GraphVizChart.CPfH_n-p.js"), "children": [7]},
    {"id": 7, "callFrame": frame("wasm-function[29]", "wasm://wasm/00599be2")},
    {"id": 8, "callFrame": frame("J.attr", BASE + "PlotlyChart.D9Z0_fxz.js"), "children": [9]},
    {"id": 9, "callFrame": frame("getBoundingClientRect")},
    {"id": 10, "callFrame": frame("c", BASE + "emotion-styled.browser.esm.DdOkyKg_.js")},
    {"id": 11, "callFrame": frame("__benchProfileMark")},
    {"id": 12, "callFrame": frame("predicate")},
]


def profile(samples, deltas, start=1_000_000):
    return {"nodes": NODES, "startTime": start, "endTime": start + sum(deltas), "samples": samples,
            "timeDeltas": deltas}


def test_each_sample_goes_to_the_innermost_frame_that_names_a_bucket():
    # Samples at 1000100, 1000200, ... each lasting until the next (100 µs), the last lasting nothing.
    p = profile([7, 9, 10, 5, 2, 3, 4, 12, 7], [100] * 9)
    names = [name for _, _, name in sample_buckets(p)]
    assert names == [GRAPH, PLOTLY, "emotion (CSS-in-JS styling)", "React (react-dom)",
                     "(program): native, no JS on the stack", "(idle)", "GC", OTHER, GRAPH]
    assert [duration for _, duration, _ in sample_buckets(p)] == [100] * 8 + [0]


def test_charge_sums_only_the_samples_inside_the_window_in_ms():
    # times 1000100 .. 1000900; uneven gaps: the wasm sample lasts 400 µs, the plotly one 250 µs
    p = profile([7, 9, 10, 3, 7], [100, 400, 250, 50, 1000])
    samples = sample_buckets(p)
    whole = charge(samples, 1_000_000, 2_000_000)
    assert whole[GRAPH] == pytest.approx(0.4)  # the last sample lasts nothing
    assert whole[PLOTLY] == pytest.approx(0.25)
    assert whole["emotion (CSS-in-JS styling)"] == pytest.approx(0.05)
    assert whole["(idle)"] == pytest.approx(1.0)
    part = charge(samples, 1_000_500, 1_000_760)  # the plotly sample (at 1000500) only
    assert part[PLOTLY] == pytest.approx(0.25) and part[GRAPH] == 0 and part["(idle)"] == 0


def test_the_marker_maps_performance_now_onto_the_profilers_clock():
    # the marker ran from performance.now() 10.0 to 14.0 ms; its samples lie at 1000100 .. 1004100 µs
    p = profile([11] * 5 + [3], [100] + [1000] * 5)
    assert marker_offset(p, [10.0, 14.0]) == pytest.approx(1000100 - 10_000)
    with pytest.raises(RuntimeError):
        marker_offset(profile([3, 3], [100, 100]), [1.0, 2.0])


def test_an_edit_is_cut_by_its_stamps_and_the_drawing_phase_is_its_tail():
    # offset 1,000,000 µs: performance.now() 1 ms is the profiler's 1,001,000 µs.
    # 1001000-1001999: idle (server phase), 1002000-1002999: wasm, 1003000-1003999: plotly, then idle
    deltas = [1000] + [100] * 39
    samples = [3] * 10 + [7] * 10 + [9] * 10 + [3] * 10
    p = profile(samples, deltas)
    edits = per_edit(p, 1_000_000, [{"keydown": 1.0, "sent": 1.5, "received": 2.5, "drawn": 4.0}])
    edit = edits[0]
    assert edit["edit"][GRAPH] == pytest.approx(1.0) and edit["edit"]["(idle)"] == pytest.approx(1.0)
    assert edit["drawing"][GRAPH] == pytest.approx(0.5) and edit["drawing"][PLOTLY] == pytest.approx(1.0)
    assert edit["server"][GRAPH] == pytest.approx(0.5) and edit["server"]["(idle)"] == pytest.approx(0.5)
    assert edit["drawing_ms"] == 1.5
    table = bucket_table(edits)
    assert table[PLOTLY]["drawing_share"] == pytest.approx(1.0 / 1.5)
    assert table["busy (all but idle)"]["edit_ms"] == pytest.approx(2.0)
    assert table["busy (all but idle)"]["server_ms"] == pytest.approx(0.5)
    assert table["busy (all but idle)"]["drawing_share"] == pytest.approx(1.0)


def test_the_last_frame_on_the_network_is_read_on_the_pages_clock():
    # offset 1,000,000 µs: a frame at 1.0105 s on the profiler's clock is performance.now() 10.5 ms
    arrivals = [1.0050, 1.0105, 1.0300]  # the last one belongs to a later edit
    assert last_arrival(arrivals, 1_000_000, 4.0, 20.0) == pytest.approx(10.5)
    assert last_arrival(arrivals, 1_000_000, 40.0, 50.0) != last_arrival(arrivals, 1_000_000, 40.0, 50.0)  # nan
    stamps = [{"sent": 5.0, "arrived": 10.5, "received": 14.0}, {"sent": 1.0, "arrived": float("nan"), "received": 2.0}]
    assert network_phases(stamps) == {"server_p50": 5.5, "backlog_p50": 3.5, "backlog_min": 3.5, "n": 1}


def test_the_share_of_a_bucket_under_a_function_counts_its_stack():
    # plotly's time: getBoundingClientRect twice (under J.attr, under react-dom's Ec), J.attr once, 100 µs each
    p = profile([9, 8, 9, 7, 3], [100] * 5)
    assert share_under(p, PLOTLY, "J.attr") == pytest.approx(1.0)
    assert share_under(p, PLOTLY, "Ec") == pytest.approx(1.0)  # an outer frame counts too
    assert share_under(p, PLOTLY, "getBoundingClientRect") == pytest.approx(2 / 3)
    assert share_under(p, GRAPH, "J.attr") == 0
