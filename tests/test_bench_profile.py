"""bench/server_profile.py: what a py-spy sample is charged to, and the CPU read from the kernel."""

import os
import time

from bench import server_profile
from bench.report import profile_details

SERVER = 4242
PREFIX = f'process {SERVER}:"python -m streamlit run streamlit_app.py"'
LOOP = "BaseEventLoop._run_once (asyncio/base_events.py:1922)"
SCRIPT = "ScriptRunner._run_script (streamlit/runtime/scriptrunner/script_runner.py:961)"
TANGENT = "tangent (explorer/page/pass_view.py:60)"


def stack(*frames, count):
    return ";".join((PREFIX, *frames)) + f" {count}"


def test_waits_are_left_out_and_the_rest_is_charged_by_section(tmp_path):
    raw = tmp_path / "profile.txt"
    raw.write_text("\n".join([
        stack(LOOP, "EpollSelector.select (selectors.py:468)", count=40),  # idle: the event loop waits
        stack(SCRIPT, "Condition.wait (threading.py:331)", count=30),  # idle: a thread waits
        stack(LOOP, "_SelectorSocketTransport.write (asyncio/selector_events.py:1071)", count=4),
        stack(SCRIPT, TANGENT, count=6),
    ]))
    summary = server_profile.summarise(raw, reruns=2, server_pid=SERVER)
    per_sample = 1000 / server_profile.RATE / 2
    assert dict(summary["sections"]) == {"page/pass_view.py:tangent": 6 * per_sample,
                                         "Streamlit: server (event loop, websocket, protobuf)": 4 * per_sample}
    assert summary["sampled_ms"] == 10 * per_sample


def test_the_trees_cpu_grows_with_work_done():
    before = server_profile.tree_cpu_seconds(os.getpid())
    end = time.process_time() + 0.2
    while time.process_time() < end:
        pass
    assert server_profile.tree_cpu_seconds(os.getpid()) - before >= 0.15


def test_the_report_says_the_kernels_cpu_and_that_samples_are_shares():
    profile = {"reruns": 20, "cached": False, "cpu_ms": 21.4, "sampled_ms": 30.0, "raw": "bench/out/p.txt",
               "sections": [("page/editor.py:compute", 5.2)], "hot": [("engine/dot.py:plain_dot", 0.5)]}
    text = profile_details(profile)
    assert "21.4 CPU ms per edit" in text and "30.0 sampled ms per edit" in text
    assert "shares, not CPU time" in text
