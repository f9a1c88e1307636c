"""Freed memory is handed back after a heavy request, and again for a while after it; megabyte texts are
followed by a full collection, at most so often."""

import gc
import time
import weakref
from pathlib import Path

import pytest

from explorer.serving import memory
from tests.app_page import open_link

glibc = pytest.mark.skipif(memory._LIBC is None, reason="glibc's malloc_trim is what is tested")


@pytest.fixture(autouse=True, scope="module")
def started():
    """The threads that trim and collect, as the entry script starts them (explorer.serving.facade.start)."""
    memory.start()


@glibc
def test_a_heavy_request_is_followed_by_trims_that_stop_after_a_while(monkeypatch):
    trims = []
    monkeypatch.setattr(memory, "release_free_memory", lambda: trims.append(time.monotonic()))
    monkeypatch.setattr(memory, "FOLLOW_UP_EVERY_SECONDS", 0.1)
    monkeypatch.setattr(memory, "FOLLOW_UP_SECONDS", 1.5)
    asked = time.monotonic()
    memory.trim_soon()
    time.sleep(2.5)
    done = list(trims)
    assert done and done[0] - asked < 0.5, "the first trim comes at once"
    follow_ups = [t for t in done if t - asked > 1.05]  # after the second the first trim waits for more frees
    assert len(follow_ups) >= 3, "then more, while the request's session may still be dropped"
    assert done[-1] - asked < 1.5 + 0.5, "and they stop"
    time.sleep(0.5)
    assert len(trims) == len(done)


class Held:
    """Stands for a rerun's objects: they refer to one another, and hold a large text."""

    def __init__(self):
        self.text = " " * 1_000_000
        self.me = self


def wait_until(condition, seconds):
    end = time.monotonic() + seconds
    while not condition() and time.monotonic() < end:
        time.sleep(0.02)
    return condition()


def test_collect_soon_frees_objects_in_a_cycle_that_only_a_collection_reaches():
    gc.disable()  # Python's own collector must not be the one that frees it
    try:
        gone = weakref.ref(Held())
        time.sleep(0.1)
        assert gone() is not None, "a cycle outlives its last outside reference"
        memory.collect_soon()
        assert wait_until(lambda: gone() is None, memory.COLLECT_EVERY_SECONDS + 2.0)
    finally:
        gc.enable()


def test_many_asks_get_at_most_one_collection_per_interval(monkeypatch):
    collections = []
    monkeypatch.setattr(memory, "_collect_and_trim", lambda: collections.append(time.monotonic()))
    monkeypatch.setattr(memory, "COLLECT_EVERY_SECONDS", 0.3)
    memory.collect_soon()
    assert wait_until(lambda: collections, 3.0), "the first comes (after any sleep left from an earlier test)"
    start = time.monotonic()
    while time.monotonic() - start < 1.0:  # a stream of large reruns, ~100 a second
        memory.collect_soon()
        time.sleep(0.01)
    time.sleep(0.4)
    spacing = [later - earlier for earlier, later in zip(collections, collections[1:], strict=False)]
    assert 3 <= len(collections) <= 6, collections
    assert min(spacing) >= 0.29


def test_a_rerun_with_a_megabyte_of_text_asks_for_a_collection_and_the_seed_does_not(monkeypatch):
    asked = []
    monkeypatch.setattr(memory, "collect_soon", lambda: asked.append(True))
    app = open_link()
    assert not app.exception and asked == []
    app.text_input(key="x").set_value("1" + " " * 200_000).run()
    assert not app.exception
    assert "tensor(" in "".join(block.value for block in app.code), "the padded 1 is still an x"
    assert asked


RESIDENT_PROBE = """
import json, subprocess, sys
import psutil
from explorer.serving import memory
alone = memory.resident_bytes()
own = psutil.Process().memory_info().rss
ballast = "b = b'x' * 200_000_000; print('ready', flush=True); input()"  # 200 MB, resident
child = subprocess.Popen([sys.executable, "-c", ballast], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
assert child.stdout.readline() == "ready\\n"
with_child = memory.resident_bytes()
child_rss = psutil.Process(child.pid).memory_info().rss
child.kill()
child.wait()
print(json.dumps({"alone": alone, "own": own, "with_child": with_child, "child": child_rss,
                  "after": memory.resident_bytes()}))
"""


def test_resident_bytes_counts_this_process_and_its_children():
    """In a process of its own: the test run's own children (the servers other tests start) would count too."""
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", RESIDENT_PROBE], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    read = json.loads(done.stdout)
    tolerance = 20 * 2**20  # the same pages, read a moment apart
    assert abs(read["alone"] - read["own"]) < tolerance
    assert read["with_child"] - read["alone"] >= 200_000_000
    assert abs(read["with_child"] - read["alone"] - read["child"]) < tolerance
    assert read["after"] - read["alone"] < tolerance  # an exited child is no longer counted
