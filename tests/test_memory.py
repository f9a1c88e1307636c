"""Freed memory is handed back after a heavy request, and again for a while after it."""

import time

import pytest

from explorer import memory

pytestmark = pytest.mark.skipif(memory._LIBC is None, reason="glibc's malloc_trim is what is tested")


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
