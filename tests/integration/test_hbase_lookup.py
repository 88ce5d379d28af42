"""flafka.hbase against devstack's real HBase 2.6 through its Thrift1 server: one round trip for a batch of
lookups, absent rows, write-through, check()'s errors, and HBaseUnavailable when nothing listens, when the
server stalls and when connections are cut, with the pool recovering afterwards (outages made by the HBase sink
tests' TCP relay in front of the real Thrift server)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import happybase
import pytest

from flafka.hbase import HBaseLookup, HBaseLookupError, HBaseUnavailable
from tests.integration.conftest import HbaseStack
from tests.integration.hbase_tools import Relay, closed_port, fresh_table

pytestmark = pytest.mark.hbase


@pytest.fixture
def table(hbase: happybase.Connection) -> Iterator[str]:
    with fresh_table(hbase, "lookup", ["c", "d"]) as name:
        yield name


@pytest.fixture
def lookup(hbase_stack: HbaseStack) -> Iterator[HBaseLookup]:
    made = HBaseLookup(hbase_stack.thrift, pool_size=2, timeout_ms=10_000)
    yield made
    made.close()


def test_a_thousand_rows_in_one_round_trip_absent_rows_absent(
        hbase: happybase.Connection, table: str, lookup: HBaseLookup) -> None:
    with hbase.table(table).batch() as batch:
        for i in range(0, 1000, 2):  # even rows exist
            batch.put(b"row%04d" % i, {b"c:cn": b"name%d" % i, b"d:x": b"other"})
    customers = lookup.table(table, columns=[b"c"])
    keys = [b"row%04d" % i for i in range(1000)]
    got = customers.get_many(keys)
    assert customers.stats.calls == 1
    assert got == {b"row%04d" % i: {b"c:cn": b"name%d" % i} for i in range(0, 1000, 2)}
    assert customers.get_many(keys) == got  # absent rows cached as absent too
    assert customers.stats.calls == 1
    assert (customers.stats.hits, customers.stats.misses) == (1000, 1000)
    assert lookup.table(table).get(b"row0000") == {b"c:cn": b"name0", b"d:x": b"other"}  # whole row


def test_put_many_writes_through_and_the_cache_agrees_with_hbase(
        hbase: happybase.Connection, table: str, lookup: HBaseLookup) -> None:
    hbase.table(table).put(b"k1", {b"c:cn": b"Ada"})
    customers = lookup.table(table, columns=[b"c"])
    assert customers.get_many([b"k1", b"k2"]) == {b"k1": {b"c:cn": b"Ada"}}
    customers.put_many({b"k1": {b"c:n2": b"x"}, b"k2": {b"c:cn": b"Bob"}, b"k3": {b"c:cn": b"Cy"}}, wal=True)
    assert customers.stats.calls == 2
    cached = customers.get_many([b"k1", b"k2"])
    assert customers.stats.calls == 2  # served from the cache
    assert cached == dict(hbase.table(table).rows([b"k1", b"k2"]))
    assert cached == {b"k1": {b"c:cn": b"Ada", b"c:n2": b"x"}, b"k2": {b"c:cn": b"Bob"}}
    assert customers.get(b"k3") == {b"c:cn": b"Cy"}


def test_check_passes_and_says_what_is_missing(table: str, lookup: HBaseLookup) -> None:
    lookup.table(table, columns=[b"c", b"d:x"]).check()
    with pytest.raises(HBaseLookupError, match=r"has no column family zz \(it has: c, d\)"):
        lookup.table(table, columns=[b"c", b"zz"]).check()
    missing = f"{table}_missing"
    with pytest.raises(HBaseLookupError, match=f"table '{missing}' at Thrift server .* does not exist"):
        lookup.table(missing).check()


def test_a_missing_table_or_family_at_lookup_time_is_not_retriable(table: str, lookup: HBaseLookup) -> None:
    with pytest.raises(HBaseLookupError, match="TableNotFoundException") as caught:
        lookup.table(f"{table}_missing").get_many([b"k"])
    assert not caught.value.retriable
    with pytest.raises(HBaseLookupError, match="NoSuchColumnFamilyException"):
        lookup.table(table, columns=[b"zz"]).get_many([b"k"])
    assert lookup.table(table).get(b"k") is None  # the pool recovered


def test_nothing_listening_is_hbase_unavailable() -> None:
    with HBaseLookup(f"127.0.0.1:{closed_port()}", timeout_ms=2000) as lookup:
        table = lookup.table("t")
        with pytest.raises(HBaseUnavailable, match=r"get_many of 2 row\(s\) in table 't' through Thrift server "
                                                    r"127\.0\.0\.1:\d+") as caught:
            table.get_many([b"a", b"b"])
        assert caught.value.retriable
        assert isinstance(caught.value.__cause__, Exception)
        assert table.stats.errors == 1


def test_a_stalled_server_times_out_in_about_timeout_ms(table: str, relay: Relay) -> None:
    relay.drop_replies = True  # requests reach HBase, no answer comes back
    with HBaseLookup(relay.address, timeout_ms=500) as lookup:
        customers = lookup.table(table)
        started = time.monotonic()
        with pytest.raises(HBaseUnavailable, match=r"did not answer in time.*timed out"):
            customers.get_many([b"a"])
        took = time.monotonic() - started
        assert 0.4 < took < 3.0
        relay.drop_replies = False
        assert customers.get_many([b"a"]) == {}  # a fresh connection: the stalled one was discarded


def test_the_pool_recovers_after_connections_are_cut(table: str, relay: Relay) -> None:
    with HBaseLookup(relay.address, pool_size=1, timeout_ms=5000) as lookup:
        customers = lookup.table(table, cache_size=0)
        customers.put_many({b"k": {b"c:cn": b"Ada"}})
        relay.cut()  # the pooled connection is reset, and new ones are refused
        for _ in range(2):
            with pytest.raises(HBaseUnavailable) as caught:
                customers.get(b"k")
            assert caught.value.retriable
        relay.resume()
        assert customers.get(b"k") == {b"c:cn": b"Ada"}
        assert customers.stats.errors == 2
