"""Small reruns take turns: one runs at a time, in the order the reruns arrived.

Every session is a thread of one process, and the threads share one GIL. Reruns that
run at once share the CPU in 5 ms slices and all finish late, the first as late as the
last; taken in turns, each finishes as soon as the ones ahead of it have. Same work,
a shorter tail (bench/ANALYSIS.md has the class's figures).

One line, ordered by each rerun's arrival:
- a rerun that gives its turn up while it waits for something that is not the CPU (another
  session computing the same input, the symbolic worker, Graphviz) comes back to its old
  place, ahead of every rerun that arrived after it: waiting never sends it to the back;
- a rerun that held its turn longer than limits.TURN_QUANTUM_SECONDS while others waited
  gives it up at the next `checkpoint` (between two views) and queues as if it arrived then,
  behind the reruns already waiting.
So a student's edit (tens of milliseconds) waits behind the reruns that arrived before it,
each for at most one quantum, and a rerun is never overtaken by ones that came after it.

Heavy work (explorer.engine.cost, the one model admission reads too) gives the turn up
for good, so a small rerun never queues behind a large one; and between its pieces (parsing,
the exploration, each view) it defers to the small reruns: it waits while one runs or waits,
at most limits.HEAVY_DEFER_SECONDS each time. A turn is waited for at most
limits.TURN_WAIT_SECONDS; past that the rerun runs anyway, as it would without turns.
"""

import itertools
import threading
import time
from contextlib import contextmanager

from explorer.engine import limits


class Turns:
    def __init__(self, wait_seconds=None):
        self.wait_seconds = limits.TURN_WAIT_SECONDS if wait_seconds is None else wait_seconds
        self._changed = threading.Condition()
        self._line = []  # (place, tie, ident) of the reruns waiting; the lowest place goes next
        self._places = {}  # ident -> the place of the rerun that thread runs: its arrival, or its last preemption
        self._ties = itertools.count()
        self._holder = None  # the ident of the thread whose turn it is
        self._since = 0.0  # when the holder took the turn
        self._last = time.monotonic()  # when a turn was last asked for, taken or given up
        self.late = 0  # turns waited for in vain (the rerun ran anyway): for tests and the bench
        self.deferred = 0  # times heavy work waited for small reruns (for tests and the bench)
        self.preempted = 0  # turns given up at a checkpoint after a quantum (for tests and the bench)

    def holds(self):
        return self._holder == threading.get_ident()

    @contextmanager
    def turn(self):
        """Wait for this thread's turn, and keep it (unless given up) for the with-block. Inside a turn already
        (a fragment the page draws in its full run, which on its own rerun takes a turn of its own), one turn."""
        me = threading.get_ident()
        if me in self._places:
            yield
            return
        self._places[me] = time.monotonic()
        try:
            self._take()
            yield
        finally:
            self.step_aside()
            self._places.pop(me, None)

    def step_aside(self):
        """Give the turn up for the rest of the block: what follows shares the CPU with everyone."""
        with self._changed:
            if self._holder == threading.get_ident():
                self._holder, self._last = None, time.monotonic()
                self._changed.notify_all()

    def wait_quiet(self, seconds):
        """Block until no rerun has held, asked for or given up a turn for `seconds`: the server is idle.
        For work nobody waits for (the warm-up), so that it never shares the CPU with a page being made."""
        with self._changed:
            while True:
                since = time.monotonic() - self._last
                if self._holder is None and not self._queued() and since >= seconds:
                    return
                self._changed.wait(max(seconds - since, 0.05))

    def defer(self, seconds=None):
        """Heavy work, between two pieces: wait while a rerun holds or waits for a turn, so the small reruns go
        first; at most `seconds` (limits.HEAVY_DEFER_SECONDS), so heavy work always moves on. A thread holding a
        turn does not wait for itself."""
        if self.holds():
            return
        deadline = time.monotonic() + (limits.HEAVY_DEFER_SECONDS if seconds is None else seconds)
        with self._changed:
            if self._holder is None and not self._queued():
                return
            self.deferred += 1
            while self._holder is not None or self._queued():
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._changed.wait(left)

    @contextmanager
    def aside(self):
        """Give the turn up while waiting for something else; take it again after, in the rerun's old place."""
        held = self.holds()
        if held:
            self.step_aside()
        try:
            yield
        finally:
            if held:
                self._take()

    def checkpoint(self, quantum=None):
        """Between two views: a turn held longer than `quantum` (limits.TURN_QUANTUM_SECONDS) while others wait
        is given up, and taken again behind the reruns already waiting."""
        quantum = limits.TURN_QUANTUM_SECONDS if quantum is None else quantum
        with self._changed:
            if self._holder != threading.get_ident() or not self._queued():
                return
            if time.monotonic() - self._since < quantum:
                return
            self._holder = None
            self._places[threading.get_ident()] = time.monotonic()
            self.preempted += 1
            self._changed.notify_all()
        self._take()

    def _queued(self):
        return len(self._line)

    def _next(self):
        return min(self._line)[2]

    def _take(self):
        me = threading.get_ident()
        deadline = time.monotonic() + self.wait_seconds
        entry = (self._places.get(me, time.monotonic()), next(self._ties), me)
        with self._changed:
            self._line.append(entry)
            self._last = time.monotonic()
            try:
                while self._holder is not None or self._next() != me:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        self.late += 1
                        return
                    self._changed.wait(left)
                self._holder, self._since = me, time.monotonic()
            finally:
                self._line.remove(entry)
                self._changed.notify_all()  # the next in line may be the one to go now

    @property
    def waiting(self):
        with self._changed:
            return self._queued()


TURNS = Turns()  # the process's one line
