"""The shared result cache is bounded by bytes, evicting the least recently used."""

from explorer import explore
from explorer.cache import BytesBoundedCache


def test_evicts_least_recently_used_past_the_budget():
    cache = BytesBoundedCache(10, size_of=len)
    cache.get("a", lambda: "aaaa")
    cache.get("b", lambda: "bbbb")
    cache.get("a", lambda: "never computed")  # a is now the most recent
    cache.get("c", lambda: "cccc")  # 12 bytes > 10: b goes
    assert cache.get("b", lambda: "BBBB") == "BBBB"
    assert cache.total_bytes <= 10


def test_a_value_larger_than_the_budget_is_returned_but_not_kept():
    cache = BytesBoundedCache(3, size_of=len)
    assert cache.get("k", lambda: "toolong") == "toolong"
    assert len(cache) == 0


def test_exploration_size_counts_every_tensor():
    small = explore("[1., 2]", "y = x**2").nbytes
    large = explore(str([0.5] * 1000), "y = x**2").nbytes
    assert 0 < small < large and large >= 1000 * 4 * 10  # grads, layers and node values, three passes
