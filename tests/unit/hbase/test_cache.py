"""The row cache: LRU bound, TTL by an injected clock, negative entries, copies, the write/fetch race."""

from __future__ import annotations

import threading

import pytest

from flafka.hbase.cache import RowCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_their_ttl_and_absent_rows_are_cached_too() -> None:
    clock = Clock()
    cache = RowCache(10, 5.0, clock)
    cache.store({b"k1": {b"c:a": b"1"}, b"gone": None}, cache.epoch)
    clock.now += 4.9
    assert cache.lookup([b"k1", b"gone", b"new"]) == ({b"k1": {b"c:a": b"1"}, b"gone": None}, [b"new"])
    clock.now += 0.1  # exactly ttl after the fetch: stale
    assert cache.lookup([b"k1", b"gone"]) == ({}, [b"k1", b"gone"])
    assert len(cache) == 0  # expired entries are dropped when met


def test_the_least_recently_used_entry_goes_first() -> None:
    cache = RowCache(2, 60.0, Clock())
    cache.store({b"a": {}, b"b": {}}, cache.epoch)
    cache.lookup([b"a"])  # a is now more recent than b
    cache.store({b"c": {}}, cache.epoch)
    found, missing = cache.lookup([b"a", b"b", b"c"])
    assert (sorted(found), missing) == ([b"a", b"c"], [b"b"])


def test_size_zero_caches_nothing() -> None:
    cache = RowCache(0, 60.0, Clock())
    assert not cache.store({b"a": {b"c:x": b"1"}}, cache.epoch)
    assert cache.lookup([b"a"]) == ({}, [b"a"])


def test_what_comes_out_is_a_copy() -> None:
    cache = RowCache(10, 60.0, Clock())
    stored = {b"c:a": b"1"}
    cache.store({b"k": stored}, cache.epoch)
    stored[b"c:a"] = b"changed by the fetcher"
    found, _ = cache.lookup([b"k"])
    row = found[b"k"]
    assert row == {b"c:a": b"1"}
    assert row is not None
    row[b"c:a"] = b"changed by a caller"
    assert cache.lookup([b"k"])[0] == {b"k": {b"c:a": b"1"}}


def test_merge_writes_through_cached_rows_only_and_keeps_their_expiry() -> None:
    clock = Clock()
    cache = RowCache(10, 5.0, clock)
    cache.store({b"k": {b"c:a": b"1"}, b"absent": None}, cache.epoch)
    clock.now += 3
    cache.merge({b"k": {b"c:b": b"2"}, b"absent": {b"c:a": b"new"}, b"uncached": {b"c:a": b"x"}})
    assert cache.lookup([b"k", b"absent", b"uncached"]) == (
        {b"k": {b"c:a": b"1", b"c:b": b"2"}, b"absent": {b"c:a": b"new"}}, [b"uncached"])
    clock.now += 2
    assert cache.lookup([b"k", b"absent"]) == ({}, [b"k", b"absent"])


def test_a_fetch_that_raced_a_write_or_invalidation_is_not_stored() -> None:
    cache = RowCache(10, 60.0, Clock())
    before = cache.epoch
    cache.merge({b"k": {b"c:a": b"written"}})  # a put_many lands while the fetch is in flight
    assert not cache.store({b"k": {b"c:a": b"old"}}, before)
    assert cache.lookup([b"k"]) == ({}, [b"k"])
    before = cache.epoch
    cache.invalidate([b"other"])
    assert not cache.store({b"k": None}, before)
    assert cache.store({b"k": None}, cache.epoch)


def test_invalidate_some_or_all() -> None:
    cache = RowCache(10, 60.0, Clock())
    cache.store({b"a": {}, b"b": {}, b"c": {}}, cache.epoch)
    cache.invalidate([b"a"])
    assert cache.lookup([b"a", b"b"])[1] == [b"a"]
    cache.invalidate()
    assert len(cache) == 0


@pytest.mark.parametrize(("size", "ttl"), [(-1, 1.0), (1, 0.0), (1, -1.0)])
def test_bad_settings_are_refused(size: int, ttl: float) -> None:
    with pytest.raises(ValueError, match="cache"):
        RowCache(size, ttl)


def test_concurrent_use_keeps_the_bound_and_loses_no_entry_structure() -> None:
    cache = RowCache(50, 60.0)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(2000):
                key = b"%d" % ((i * 7 + n) % 200)
                found, missing = cache.lookup([key])
                if missing:
                    cache.store({key: {b"c:v": key}}, cache.epoch)
                elif found[key] is not None:
                    assert found[key] == {b"c:v": key}
                if i % 97 == 0:
                    cache.merge({key: {b"c:v": key}})
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert 0 < len(cache) <= 50
