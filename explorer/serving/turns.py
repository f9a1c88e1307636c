"""Small reruns take turns: one runs at a time, first come, first served.

Every session is a thread of one process, and the threads share one GIL. Reruns that
run at once share the CPU in 5 ms slices and all finish late, the first as late as the
last; taken in turns, each finishes as soon as the ones ahead of it have. Same work,
a shorter tail (bench/ANALYSIS.md has the class's figures).

A rerun gives its turn up while it waits for something that is not the CPU (another
session computing the same input, the symbolic worker, Graphviz), and takes a new one
after. Heavy work (explorer.engine.cost, the one model admission reads too) gives it up
for good and shares the CPU as before, so a small rerun never queues behind a large one. A turn is waited for at most
limits.TURN_WAIT_SECONDS; past that the rerun runs anyway, as it would without turns.
"""

import threading
import time
from collections import deque
from contextlib import contextmanager

from explorer.engine import limits


class Turns:
    def __init__(self, wait_seconds=None):
        self.wait_seconds = limits.TURN_WAIT_SECONDS if wait_seconds is None else wait_seconds
        self._changed = threading.Condition()
        self._waiting = deque()  # thread idents, in arrival order
        self._holder = None  # the ident of the thread whose turn it is
        self.late = 0  # turns waited for in vain (the rerun ran anyway): for tests and the bench

    def holds(self):
        return self._holder == threading.get_ident()

    @contextmanager
    def turn(self):
        """Wait for this thread's turn, and keep it (unless given up) for the with-block."""
        self._take()
        try:
            yield
        finally:
            self.step_aside()

    def step_aside(self):
        """Give the turn up for the rest of the block: what follows shares the CPU with everyone."""
        with self._changed:
            if self._holder == threading.get_ident():
                self._holder = None
                self._changed.notify_all()

    @contextmanager
    def aside(self):
        """Give the turn up while waiting for something else; take a new one (at the back) after."""
        held = self.holds()
        if held:
            self.step_aside()
        try:
            yield
        finally:
            if held:
                self._take()

    def _take(self):
        me = threading.get_ident()
        deadline = time.monotonic() + self.wait_seconds
        with self._changed:
            self._waiting.append(me)
            try:
                while self._holder is not None or self._waiting[0] != me:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        self.late += 1
                        return
                    self._changed.wait(left)
                self._holder = me
            finally:
                self._waiting.remove(me)
                self._changed.notify_all()  # the next in line may be the one to go now

    @property
    def waiting(self):
        with self._changed:
            return len(self._waiting)


TURNS = Turns()  # the process's one line
