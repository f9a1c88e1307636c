"""Admission control: how much heavy work runs at once in the one process every session shares.

Each request's peak memory is estimated before it runs, in one cost model
(explorer.engine.cost: parsing from the texts' length, an exploration, its check
and its plot from the elements and the operations), which also gives its lane:
- small requests run at once, never behind a heavy one;
- heavy requests share limits.HEAVY_MEMORY_BYTES: they run together while their
  estimates fit, in arrival order, and wait otherwise. A waiting request is told
  its place in the queue, so the page can say "queued". Past
  limits.MAX_HEAVY_QUEUE waiting, or limits.HEAVY_WAIT_SECONDS of waiting, it is
  refused with ServerBusy: a clear answer beats a page that hangs.
- on a set memory budget (limits.MEMORY_CEILING_BYTES), a heavy request also
  starts only while the memory the server really holds, measured
  (explorer.serving.memory.resident_bytes, its workers included), with the
  estimates of the heavy work running and its own, stays under the budget. The
  estimates size the shares; this holds the total when the server is larger
  than they assume. It counts running work twice (measured, and estimated), so
  it errs toward waiting.

A session never holds two places: Streamlit stops a session's run (at its next
on_wait, which draws) before the session's next run can ask for one.
"""

import threading
import time

from explorer.engine import limits
from explorer.serving import memory


class ServerBusy(Exception):
    """Too much heavy work is running or waiting; the message says what to do."""


class Admission:
    def __init__(self, memory_budget=None, max_queue=None, wait_seconds=None, ceiling=None, resident=None):
        """`ceiling` (bytes, None for none) bounds what `resident()` measures plus the heavy estimates."""
        self.memory_budget = limits.HEAVY_MEMORY_BYTES if memory_budget is None else memory_budget
        self.ceiling = ceiling
        self.resident = resident or memory.resident_bytes
        self.max_queue = limits.MAX_HEAVY_QUEUE if max_queue is None else max_queue
        self.wait_seconds = limits.HEAVY_WAIT_SECONDS if wait_seconds is None else wait_seconds
        self._changed = threading.Condition()
        self._queue = []  # tickets waiting, in arrival order
        self._running_bytes = 0
        self.running = 0  # heavy requests running now (for tests and the bench)

    def reserve(self, cost, on_wait=None):
        """Wait until a request of explorer.engine.cost.Cost `cost` may run, and hold its share of the budget
        (its estimated peak bytes) until the returned reservation is released. A small one runs at once and
        holds nothing. on_wait(place) is called while it waits, at once and then about every half second,
        with the number of requests ahead of it; it may raise to give up (a Streamlit rerun does). Raises
        ServerBusy when the request is refused."""
        if cost.small:
            return Reservation(self, 0)
        ticket = _Ticket(max(1, min(cost.bytes, self.memory_budget)))  # one request alone always fits
        self._enter(ticket, on_wait)
        return Reservation(self, ticket.cost)

    def _release(self, cost):
        with self._changed:
            self._running_bytes -= cost
            self.running -= 1
            self._changed.notify_all()

    def _enter(self, ticket, on_wait):
        deadline = time.monotonic() + self.wait_seconds
        with self._changed:
            if not self._queue and self._fits(ticket):
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
                    if not self._may_start(ticket):
                        self._changed.wait(min(0.5, max(0.0, deadline - time.monotonic())))
        except BaseException:
            with self._changed:
                if ticket in self._queue:
                    self._queue.remove(ticket)
                    self._changed.notify_all()
            raise

    def _may_start(self, ticket):
        return self._queue[0] is ticket and self._fits(ticket)

    def _fits(self, ticket):
        """The ticket's estimate fits beside the running ones in the heavy share and, under a ceiling, beside
        what the server holds now."""
        if self._running_bytes + ticket.cost > self.memory_budget:
            return False
        held = self._held()
        return held is None or held + self._running_bytes + ticket.cost <= self.ceiling

    def _held(self):
        """Bytes the server holds now, or None when there is no ceiling (or nothing to measure it with)."""
        return None if self.ceiling is None else self.resident()

    def _try_start(self, ticket, deadline):
        """True once the ticket runs; raises ServerBusy when it never will."""
        with self._changed:
            if self._may_start(ticket):
                self._queue.pop(0)
                self._start(ticket)
                return True
            if time.monotonic() >= deadline:
                held = self._held()
                if held is not None and held + ticket.cost > self.ceiling:
                    raise ServerBusy(self._busy(f"it holds {held / 1e6:.0f} MB of its {self.ceiling / 1e6:.0f} MB, "
                                                f"and this one needs about {ticket.cost / 1e6:.0f} MB more"))
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

    @staticmethod
    def _busy(reason):
        return f"the server is busy with large examples ({reason}); try again in a moment, or use a smaller x"

    @property
    def waiting(self):
        with self._changed:
            return len(self._queue)


class Reservation:
    """A heavy request's share of the memory budget; release() gives it back, once."""

    def __init__(self, admission, cost):
        self._admission = admission
        self._cost = cost
        self._held = cost > 0
        self._lock = threading.Lock()

    @property
    def held(self):
        return self._held

    def release(self):
        with self._lock:
            held, self._held = self._held, False
        if held:
            self._admission._release(self._cost)


class _Ticket:
    def __init__(self, cost):
        self.cost = cost


ADMISSION = Admission(ceiling=limits.MEMORY_CEILING_BYTES)  # the process's one gate
