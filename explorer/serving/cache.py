"""Caches shared by every session, each bounded by the bytes it really holds.

Explorations differ in size by five orders of magnitude (a scalar against
10^5 elements times every node of three graphs), so a count of entries bounds
nothing, and counting tensor bytes alone missed most of it: 300 entries that
counted 3.9 MB of tensors held 772 MB (the keys were the whole input text, and
DOT, repr strings and Python objects were not counted). `deep_size` counts all
of it: keys, strings, containers, dataclass instances, tensor storage, numpy
arrays. Values must be treated as immutable: every session shares them.

`get` computes a missing key once: a second caller asking for a key that is
being computed waits for the first, so a class loading one example runs it once.
"""

import functools
import sys
import threading
from collections import OrderedDict
from dataclasses import fields, is_dataclass

import numpy as np

from explorer.engine import limits
from explorer.serving.turns import TURNS

_ATOMS = (str, bytes, bytearray, int, float, complex, bool, type(None))

# What a tensor costs beyond sys.getsizeof and its data: the C++ TensorImpl and StorageImpl and the
# allocator's headers. Measured: explorations of 73 to 3,233 tensors held 411-430 bytes a tensor more
# than getsizeof and storage nbytes counted.
TENSOR_OVERHEAD_BYTES = 440
ALLOCATION_ALIGNMENT = 64  # torch's CPU allocator rounds each storage up to this


def _tensor_bytes(value, seen_storage):
    """A torch tensor: its Python and C++ objects plus its storage, counted once however many views share it."""
    own = sys.getsizeof(value) + TENSOR_OVERHEAD_BYTES
    storage = value.untyped_storage()
    key = storage.data_ptr()
    if key in seen_storage or storage.nbytes() == 0:
        return own
    seen_storage.add(key)
    return own + -(-storage.nbytes() // ALLOCATION_ALIGNMENT) * ALLOCATION_ALIGNMENT


_ATOM, _ARRAY, _TENSOR, _MAPPING, _COLLECTION, _OBJECT, _OPAQUE = range(7)


@functools.lru_cache(maxsize=1024)  # the program's types, never the user's: parsing makes no classes
def _kind(kind_type):
    """How deep_size walks an instance of this type (decided once per type: a cached exploration is thousands of
    Nodes, Steps, tuples and tensors, and asking each its type's questions again was most of the walk's time)."""
    if issubclass(kind_type, _ATOMS):
        return _ATOM
    if issubclass(kind_type, np.ndarray):
        return _ARRAY
    if kind_type.__module__.startswith("torch") and hasattr(kind_type, "untyped_storage"):
        return _TENSOR
    if issubclass(kind_type, dict):
        return _MAPPING
    if issubclass(kind_type, (list, tuple, set, frozenset)):
        return _COLLECTION
    if is_dataclass(kind_type) and not issubclass(kind_type, type):
        return tuple(f.name for f in fields(kind_type))  # its fields, walked by name
    instances_callable = any("__call__" in vars(base) for base in kind_type.__mro__)
    if not issubclass(kind_type, type) and not instances_callable:
        return _OBJECT  # walked through its __dict__, if it has one
    return _OPAQUE


def deep_size(value):
    """The bytes a value holds: containers, their contents, strings and numbers, tensor storage and arrays.

    Shared objects are counted once. Types, functions and modules are not walked: they belong to
    the program, not to the entry.
    """
    seen, seen_storage = set(), set()
    total, stack = 0, [value]
    getsize = sys.getsizeof
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        kind = _kind(type(item))
        if kind == _ATOM:
            total += getsize(item)
        elif kind == _TENSOR:
            total += _tensor_bytes(item, seen_storage)
        elif kind == _COLLECTION:
            total += getsize(item)
            stack.extend(item)
        elif kind == _MAPPING:
            total += getsize(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif type(kind) is tuple:  # a dataclass: its fields, and its __dict__ unless it has slots
            total += getsize(item) + (getsize(item.__dict__) if hasattr(item, "__dict__") else 0)
            stack.extend(getattr(item, name) for name in kind)
        elif kind == _ARRAY:
            total += getsize(item)  # includes the data when the array owns it
            if item.base is not None:
                stack.append(item.base)
        elif kind == _OBJECT and hasattr(item, "__dict__"):
            total += getsize(item) + getsize(item.__dict__)
            stack.extend(item.__dict__.values())
        else:
            total += getsize(item)
    return total


class BytesBoundedCache:
    """A least-recently-used cache whose entries (key and value) add up to at most `budget_bytes`, and that holds
    at most `max_entries` of them if given."""

    def __init__(self, budget_bytes, size_of=deep_size, max_entries=None):
        self.budget = budget_bytes
        self.max_entries = max_entries
        self.size_of = size_of
        self._entries = OrderedDict()  # key -> (value, size)
        self._total = 0
        self._lock = threading.Lock()
        self._running = {}  # key -> Event set when its first caller is done

    def get(self, key, compute, keep=None):
        """The cached value for key, or compute() stored for next time. compute() runs outside the lock,
        once per key at a time: other callers of the same key wait for it. If it raises, or `keep(value)`
        says the value is not worth keeping, each waiting caller tries again itself."""
        while True:
            with self._lock:
                if key in self._entries:
                    self._entries.move_to_end(key)
                    return self._entries[key][0]
                running = self._running.get(key)
                if running is None:
                    running = self._running[key] = threading.Event()
                    break
            with TURNS.aside():  # the thread computing it may be waiting for the turn this one holds
                running.wait()
        try:
            value = compute()
            if keep is None or keep(value):
                self._put(key, value)
            return value
        finally:
            with self._lock:
                del self._running[key]
            running.set()

    def _put(self, key, value):
        size = self.size_of(key) + self.size_of(value)
        with self._lock:
            if key in self._entries or size > self.budget:
                return
            self._entries[key] = (value, size)
            self._total += size
            while self._total > self.budget or (self.max_entries and len(self._entries) > self.max_entries):
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


# Every cache in the process, by name, with its share of limits.CACHE_BYTES. The page keeps nothing
# in Streamlit's st.cache_data or st.cache_resource: those bound entries, not bytes.
CACHES = {name: BytesBoundedCache(budget, max_entries=limits.CACHE_MAX_ENTRIES.get(name))
          for name, budget in limits.CACHE_BUDGETS.items()}


def cached(name, key, compute, keep=None):
    """compute() through the shared cache `name`; `keep(value)` may refuse to store an answer."""
    return CACHES[name].get((name, key), compute, keep)



def clear():
    """Empty every shared cache (the tests start each test from empty caches)."""
    for cache in CACHES.values():
        cache.clear()
