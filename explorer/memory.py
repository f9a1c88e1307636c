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
"""

import ctypes
import ctypes.util
import threading
import time

_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 1 << 17  # a tensor of 32,768 float32 or more is mapped alone, and unmapped when freed
ARENAS = 2  # glibc gives each thread an arena, up to 8 per core, and each keeps what it once held
FOLLOW_UP_EVERY_SECONDS = 5.0  # a trim with nothing to give back costs ~5 ms, off the sessions' threads
FOLLOW_UP_SECONDS = 40.0  # after the last heavy request: its session's TTL (15 s) and then some


def _libc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:
        return None


_LIBC = _libc()
if _LIBC is not None:
    _LIBC.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    _LIBC.mallopt(_M_ARENA_MAX, ARENAS)


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


if _LIBC is not None:
    threading.Thread(target=_trim_when_asked, name="malloc-trim", daemon=True).start()
