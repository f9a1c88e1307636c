"""Shared caches are bounded by the bytes they really hold, keys and objects included."""

import sys
import threading
import time

import torch

from explorer import explore
from explorer.serving.cache import BytesBoundedCache, deep_size


def kept(cache, key):
    """The value the cache holds for key, or None, computing nothing (the cache has no such read of its own:
    the page never needs one)."""
    return cache.get(key, lambda: None, keep=lambda value: False)


def test_evicts_least_recently_used_past_the_budget():
    cache = BytesBoundedCache(300, size_of=len)
    cache.get("a", lambda: "a" * 99)
    cache.get("b", lambda: "b" * 99)
    cache.get("a", lambda: "never computed")  # a is now the most recent
    cache.get("c", lambda: "c" * 99)  # 3 x (1 + 99) = 300 bytes: fits
    cache.get("d", lambda: "d" * 99)  # 400 > 300: b, the least recent, goes
    assert kept(cache, "b") is None and kept(cache, "a") is not None
    assert cache.total_bytes <= 300


def test_a_value_larger_than_the_budget_is_returned_but_not_kept():
    cache = BytesBoundedCache(3, size_of=len)
    assert cache.get("k", lambda: "toolong") == "toolong"
    assert len(cache) == 0


def test_the_key_counts_toward_the_budget():
    """A megabyte of text as a key is a megabyte held, whatever the value."""
    cache = BytesBoundedCache(500_000)
    cache.get("1" + " " * 1_000_000, lambda: 1)
    assert len(cache) == 0


def test_deep_size_counts_strings_containers_and_tensor_storage():
    text = "y" * 10_000
    assert deep_size(text) >= 10_000
    assert deep_size({"a": [text, text]}) < 2 * 10_000  # shared objects count once
    assert deep_size(torch.zeros(100_000)) >= 400_000
    view = torch.zeros(100_000)
    assert deep_size((view, view[:10], view[5:])) < 410_000  # views share one storage


def _tensor_bytes(value):
    """Bytes held in the tensors inside a result, however nested in dataclasses, dicts and tuples."""
    total, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, torch.Tensor):
            total += item.nbytes
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (tuple, list)):
            stack.extend(item)
        elif hasattr(item, "__dataclass_fields__"):
            stack.extend(getattr(item, name) for name in item.__dataclass_fields__)
    return total


def test_deep_size_counts_everything_a_result_holds_not_just_tensors():
    small = explore("[1., 2]", "y = x**2")
    assert deep_size(small) > 10 * _tensor_bytes(small)  # DOT text, reprs, node objects
    large = explore(str([0.5] * 1000), "y = x**2")
    assert deep_size(large) >= _tensor_bytes(large) >= 1000 * 4 * 10
    assert deep_size(large) >= sys.getsizeof(large.dot)


def test_a_key_being_computed_is_computed_once_for_every_caller():
    cache = BytesBoundedCache(1_000_000)
    calls, results = [], []

    def slow():
        calls.append(1)
        time.sleep(0.2)
        return "value"

    threads = [threading.Thread(target=lambda: results.append(cache.get("k", slow))) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and results == ["value"] * 5


def test_an_error_is_not_cached_and_waiters_try_again():
    cache = BytesBoundedCache(1_000_000)
    attempts = []

    def failing():
        attempts.append(1)
        raise ValueError("no")

    for _ in range(2):
        try:
            cache.get("k", failing)
        except ValueError:
            pass
    assert len(attempts) == 2 and len(cache) == 0


def test_a_value_keep_refuses_is_returned_but_not_stored():
    cache = BytesBoundedCache(1_000_000)
    assert cache.get("k", lambda: "busy", keep=lambda value: value != "busy") == "busy"
    assert kept(cache, "k") is None
    assert cache.get("k", lambda: "answer", keep=lambda value: value != "busy") == "answer"
    assert kept(cache, "k") == "answer"


def test_a_cache_of_many_small_entries_keeps_at_most_max_entries():
    cache = BytesBoundedCache(10**6, size_of=len, max_entries=2)
    for key in "abc":
        cache.get(key, lambda key=key: key * 3)
    assert len(cache) == 2 and kept(cache, "a") is None and kept(cache, "c") == "ccc"  # the least recent went
