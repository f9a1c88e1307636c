"""Admission control: how much heavy work runs at once in the one process every session shares.

Each request's cost is estimated before it runs, from the parsed input alone:
x's elements times the layers' operations (forward.check_work's measure), and
from that its peak memory (limits.BYTES_PER_WORK, measured). Two lanes:

- small requests (at most limits.SMALL_WORK) run at once, never behind a heavy one;
- heavy requests share limits.HEAVY_MEMORY_BYTES: they run together while their
  estimates fit, in arrival order, and wait otherwise. A waiting request is told
  its place in the queue, so the page can say "queued". Past
  limits.MAX_HEAVY_QUEUE waiting, or limits.HEAVY_WAIT_SECONDS of waiting, it is
  refused with ServerBusy: a clear answer beats a page that hangs.

One session holds at most one place in the heavy queue: its newer request
takes the place of its older one, which is refused.
"""

import threading
import time
from contextlib import contextmanager

from . import limits


class ServerBusy(Exception):
    """Too much heavy work is running or waiting; the message says what to do."""


def estimated_bytes(work):
    return work * limits.BYTES_PER_WORK


class Admission:
    def __init__(self, memory_budget=None, max_queue=None, wait_seconds=None, small_work=None):
        self.memory_budget = limits.HEAVY_MEMORY_BYTES if memory_budget is None else memory_budget
        self.max_queue = limits.MAX_HEAVY_QUEUE if max_queue is None else max_queue
        self.wait_seconds = limits.HEAVY_WAIT_SECONDS if wait_seconds is None else wait_seconds
        self.small_work = limits.SMALL_WORK if small_work is None else small_work
        self._changed = threading.Condition()
        self._queue = []  # tickets waiting, in arrival order
        self._running_bytes = 0
        self.running = 0  # heavy requests running now (for tests and the bench)

    def is_small(self, work):
        return work <= self.small_work

    @contextmanager
    def admit(self, work, owner=None, on_wait=None):
        """Run the with-block when `work` may run. on_wait(place) is called while queued, with the number of
        requests ahead (0: next), about every half second; it may raise to give up (a Streamlit rerun does)."""
        if self.is_small(work):
            yield
            return
        cost = min(estimated_bytes(work), self.memory_budget)  # one request alone always fits
        ticket = _Ticket(owner, cost)
        self._enter(ticket, on_wait)
        try:
            yield
        finally:
            with self._changed:
                self._running_bytes -= cost
                self.running -= 1
                self._changed.notify_all()

    def _enter(self, ticket, on_wait):
        deadline = time.monotonic() + self.wait_seconds
        with self._changed:
            self._supersede(ticket.owner)
            if not self._queue and self._running_bytes + ticket.cost <= self.memory_budget:
                self._start(ticket)
                return
            if len(self._queue) >= self.max_queue:
                raise ServerBusy(self._busy(f"{len(self._queue)} large examples are already waiting"))
            self._queue.append(ticket)
        try:
            while not self._try_start(ticket, deadline):
                if on_wait is not None:  # outside the lock: it draws, and Streamlit may stop the run there
                    on_wait(self._place(ticket))
                with self._changed:
                    if not ticket.refused and not self._may_start(ticket):
                        self._changed.wait(min(0.5, max(0.0, deadline - time.monotonic())))
        except BaseException:
            with self._changed:
                if ticket in self._queue:
                    self._queue.remove(ticket)
                    self._changed.notify_all()
            raise

    def _may_start(self, ticket):
        return self._queue[0] is ticket and self._running_bytes + ticket.cost <= self.memory_budget

    def _try_start(self, ticket, deadline):
        """True once the ticket runs; raises ServerBusy when it never will."""
        with self._changed:
            if ticket.refused:
                raise ServerBusy(self._busy("a newer edit from this page replaced this one"))
            if self._may_start(ticket):
                self._queue.pop(0)
                self._start(ticket)
                return True
            if time.monotonic() >= deadline:
                raise ServerBusy(self._busy(f"this one waited {self.wait_seconds:g} s"))
            return False

    def _start(self, ticket):
        self._running_bytes += ticket.cost
        self.running += 1
        self._changed.notify_all()

    def _place(self, ticket):
        """How many requests are ahead of the ticket, counting those running."""
        with self._changed:
            return (self._queue.index(ticket) if ticket in self._queue else 0) + self.running

    def _supersede(self, owner):
        if owner is None:
            return
        for waiting in self._queue:
            if waiting.owner == owner:
                waiting.refused = True
                self._queue.remove(waiting)
                self._changed.notify_all()
                return

    @staticmethod
    def _busy(reason):
        return f"the server is busy with large examples ({reason}); try again in a moment, or use a smaller x"

    @property
    def waiting(self):
        with self._changed:
            return len(self._queue)


class _Ticket:
    def __init__(self, owner, cost):
        self.owner = owner
        self.cost = cost
        self.refused = False


ADMISSION = Admission()  # the process's one gate
