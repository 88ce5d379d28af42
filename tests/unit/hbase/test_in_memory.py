"""flafka.testing.InMemoryHBase: the stand-in users test their interceptors with."""

from __future__ import annotations

import pytest

from flafka.hbase import HBaseLookupError, HBaseUnavailable, LookupStats, RowLookup
from flafka.testing import InMemoryHBase


def test_lookups_and_writes_go_through_the_real_cache() -> None:
    hbase = InMemoryHBase({"customer": {b"k1": {b"c:cn": b"Ada", b"x:other": b"-"}}})
    customers: RowLookup = hbase.table("customer", columns=[b"c"])
    assert customers.get_many([b"k1", b"k2", b"k1"]) == {b"k1": {b"c:cn": b"Ada"}}
    assert customers.get_many([b"k1", b"k2"]) == {b"k1": {b"c:cn": b"Ada"}}
    assert hbase.calls == 1
    customers.put_many({b"k2": {b"c:cn": b"Bob"}})
    assert hbase.tables["customer"][b"k2"] == {b"c:cn": b"Bob"}
    assert customers.get(b"k2") == {b"c:cn": b"Bob"}  # the absent entry became present: no call
    assert hbase.calls == 2
    assert customers.stats == LookupStats(hits=3, misses=2, calls=2, errors=0)
    hbase.tables["customer"][b"k1"][b"c:cn"] = b"changed behind the cache"
    customers.invalidate([b"k1"])
    assert customers.get(b"k1") == {b"c:cn": b"changed behind the cache"}


def test_fail_next_makes_the_next_calls_raise() -> None:
    hbase = InMemoryHBase({"t": {b"k": {b"f:q": b"v"}}})
    table = hbase.table("t", cache_size=0)
    hbase.fail_next(HBaseUnavailable("HBase is down"), times=2)
    for _ in range(2):
        with pytest.raises(HBaseUnavailable, match="HBase is down"):
            table.get(b"k")
    assert table.get(b"k") == {b"f:q": b"v"}
    hbase.fail_next(ConnectionRefusedError(111, "Connection refused"))  # translated as a real one would be
    with pytest.raises(HBaseUnavailable, match=r"in-memory:9090.*ConnectionRefusedError"):
        table.get(b"k")
    assert table.stats.errors == 3


def test_check_and_missing_tables_and_families() -> None:
    hbase = InMemoryHBase({"t": {}, "off": {}}, families={"t": [b"c"]})
    hbase.table("t", columns=[b"c:cn"]).check()
    hbase.table("off").check()
    with pytest.raises(HBaseLookupError, match="has no column family d"):
        hbase.table("t", columns=[b"d"]).check()
    with pytest.raises(HBaseLookupError, match="NoSuchColumnFamilyException"):
        hbase.table("t", columns=[b"d"]).get(b"k")
    with pytest.raises(HBaseLookupError, match=r"'nope'.*does not exist"):
        hbase.table("nope").check()
    with pytest.raises(HBaseLookupError, match="TableNotFoundException"):
        hbase.table("nope").put_many({b"k": {b"c:a": b"1"}})
    hbase.disabled.add("off")
    with pytest.raises(HBaseLookupError, match="disabled"):
        hbase.table("off").check()
    hbase.close()


def test_seed_is_copied() -> None:
    seed = {"t": {b"k": {b"c:a": b"1"}}}
    hbase = InMemoryHBase(seed)
    hbase.table("t").put_many({b"k": {b"c:a": b"2"}})
    assert seed["t"][b"k"] == {b"c:a": b"1"}
