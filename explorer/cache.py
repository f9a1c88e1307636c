"""A least-recently-used cache bounded by bytes, not entries.

Explorations differ in size by five orders of magnitude (a scalar against
10^5 elements times every node of three graphs), so a count of entries bounds
nothing. Every session shares one instance; values must be treated as immutable.
"""

import threading
from collections import OrderedDict


class BytesBoundedCache:
    def __init__(self, budget_bytes, size_of):
        self.budget = budget_bytes
        self.size_of = size_of
        self._entries = OrderedDict()  # key -> (value, size)
        self._total = 0
        self._lock = threading.Lock()

    def get(self, key, compute):
        """The cached value for key, or compute() stored for next time. compute() runs outside the lock."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key][0]
        value = compute()
        self._put(key, value)
        return value

    def _put(self, key, value):
        size = self.size_of(value)
        with self._lock:
            if key in self._entries or size > self.budget:
                return
            self._entries[key] = (value, size)
            self._total += size
            while self._total > self.budget:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._total -= evicted

    @property
    def total_bytes(self):
        return self._total

    def __len__(self):
        return len(self._entries)

    def clear(self):
        with self._lock:
            self._entries.clear()
            self._total = 0
