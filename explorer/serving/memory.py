"""Give freed memory back to the operating system, so a burst of large examples does not stay in RSS.

glibc's malloc raises its mmap threshold after large blocks are freed (up to
32 MB), so later tensors of that size come from the heap, and a heap freed in
the middle stays mapped. Fixing the threshold keeps large tensors in mmap
(returned on free), two arenas stop each of the server's threads from
keeping a heap of its own, and malloc_trim hands back what the heap has free
after a heavy request (from a thread of its own, a second later, once the run
that held the request's result has let it go), and again every few seconds for a
while: a closed tab's session, with what it held, is dropped 15 s later
(server.disconnectedSessionTTL), which no code of ours sees. Measured after a burst
of 20 heavy sessions: the server held +148 MB over idle for 90 s; one trim gave 94 MB
of it back. Elsewhere than glibc these are no-ops.

Texts of a megabyte need one more thing: a full garbage collection soon after. A
rerun's texts stay referenced from Streamlit's objects of that rerun, which refer to
one another (its run context, its rerun data), so they are freed only when a
collection reaches them; Python's collector runs a full one rarely (Streamlit's own
after every rerun is off: .streamlit/config.toml). Measured with x = 1 and a megabyte
of spaces, a different length on each rerun: the server's anonymous memory climbed
~9 MB per 100 reruns (172 to 250 MB over 600); with a full collection every 100
reruns (4-7 ms each, its start-up objects frozen out) it stayed at 251-252 MB.
"""

import ctypes
import ctypes.util
import gc
import os
import threading
import time

_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 1 << 17  # a tensor of 32,768 float32 or more is mapped alone, and unmapped when freed
ARENAS = 2  # glibc gives each thread an arena, up to 8 per core, and each keeps what it once held
FOLLOW_UP_EVERY_SECONDS = 5.0  # a trim with nothing to give back costs ~5 ms, off the sessions' threads
FOLLOW_UP_SECONDS = 40.0  # after the last heavy request: its session's TTL (15 s) and then some
COLLECT_AFTER_TEXT_CHARS = 100_000  # x and layers together; the texts any example needs are far shorter
COLLECT_EVERY_SECONDS = 1.0  # at most one full collection (4-15 ms of GIL) a second, however many reruns ask


def _libc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:
        return None


_LIBC = _libc()


_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes():
    """What the server really holds: the resident memory of this process and of its child processes (the
    symbolic workers), from /proc, in about 0.1 ms; None where there is no /proc. A page shared by two
    processes counts twice (as the bench's tree RSS counts it), so this errs high."""
    try:
        pids = {os.getpid()}
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/children") as children:
                pids.update(int(pid) for pid in children.read().split())
    except OSError:
        return None
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as statm:
                total += int(statm.read().split()[1]) * _PAGE_BYTES
        except (OSError, IndexError, ValueError):  # a worker that has just exited
            continue
    return total


def release_free_memory():
    """Return the heap's free pages to the system (glibc only); a few milliseconds."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


_DIRTY = threading.Event()


def trim_soon():
    """Ask for a trim within about a second, off the caller's thread: large results are freed after the
    run that made them ends, which no code of ours sees."""
    _DIRTY.set()


def _trim_when_asked():
    last_asked = None
    while True:
        following_up = last_asked is not None and time.monotonic() - last_asked < FOLLOW_UP_SECONDS
        if _DIRTY.wait(FOLLOW_UP_EVERY_SECONDS if following_up else None):
            _DIRTY.clear()
            last_asked = time.monotonic()
            release_free_memory()
            _DIRTY.wait(1.0)  # a second for more frees to arrive
        elif following_up:
            release_free_memory()



_COLLECT = threading.Event()


def collect_soon():
    """Ask for a full garbage collection, then a trim, off the caller's thread and at most once every
    COLLECT_EVERY_SECONDS: each holds the GIL for a few milliseconds, so a stream of large texts cannot buy more."""
    _COLLECT.set()


def collect_after(*texts):
    """collect_soon() if the texts a rerun was given are large enough to matter."""
    if sum(len(text) for text in texts) >= COLLECT_AFTER_TEXT_CHARS:
        collect_soon()


def _collect_and_trim():
    gc.collect()
    release_free_memory()


def _collect_when_asked():
    while True:
        _COLLECT.wait()
        _COLLECT.clear()
        _collect_and_trim()
        time.sleep(COLLECT_EVERY_SECONDS)


_STARTED = threading.Event()


def start():
    """Set glibc's malloc up and start the two threads that trim and collect; once per process (later calls do
    nothing). Until then trim_soon and collect_soon only ask: nothing runs at import."""
    if _STARTED.is_set():
        return
    _STARTED.set()
    if _LIBC is not None:
        _LIBC.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
        _LIBC.mallopt(_M_ARENA_MAX, ARENAS)
        threading.Thread(target=_trim_when_asked, name="malloc-trim", daemon=True).start()
    threading.Thread(target=_collect_when_asked, name="gc-collect", daemon=True).start()
