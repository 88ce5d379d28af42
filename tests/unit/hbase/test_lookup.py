"""LookupTable and its pool against a stand-in happybase connection (the ``connection_factory`` seam): one
Thrift call per get_many for all misses, write-through, failed connections discarded, bounded waits, check(),
and shared_lookup's reference counting."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from thriftpy2.transport import TTransportException

from flafka.hbase import HBaseLookup, HBaseLookupError, HBaseUnavailable, LookupStats, RowLookup, shared_lookup
from flafka.hbase import lookup as lookup_module

HB: Any = sys.modules["Hbase_thrift"]


class FakeHBase:
    """What the stand-in connections reach: rows per table, a log of Thrift calls, failures to raise."""

    def __init__(self, rows: Mapping[bytes, Mapping[bytes, bytes]] | None = None) -> None:
        self.rows = {k: dict(v) for k, v in (rows or {}).items()}
        self.log: list[tuple[Any, ...]] = []
        self.fail: list[BaseException] = []
        self.made: list[FakeConnection] = []
        self.families = [b"c:", b"d:"]
        self.enabled = True
        self.tables = [b"t"]
        self.in_use = 0
        self.max_in_use = 0
        self.hold: threading.Event | None = None  # a call waits for it when set

    def factory(self, host: str, port: int, **kwargs: Any) -> FakeConnection:
        connection = FakeConnection(self, (host, port, kwargs))
        self.made.append(connection)
        return connection

    def call(self, *entry: Any) -> None:
        self.log.append(entry)
        if self.fail:
            raise self.fail.pop(0)


class FakeConnection:
    def __init__(self, hbase: FakeHBase, args: tuple[Any, ...]) -> None:
        self.hbase, self.args = hbase, args
        self.opened = self.closed = False
        self.client = FakeClient(self)

    def open(self) -> None:
        self.opened = True

    def close(self) -> None:
        self.closed = True

    def table(self, name: bytes) -> FakeTable:
        assert self.opened
        assert not self.closed
        return FakeTable(self, name)


class FakeClient:
    def __init__(self, connection: FakeConnection) -> None:
        self.hbase = connection.hbase

    def getTableNames(self) -> list[bytes]:  # noqa: N802  # Thrift's name
        self.hbase.call("getTableNames")
        return self.hbase.tables

    def getColumnDescriptors(self, table: bytes) -> dict[bytes, Any]:  # noqa: N802  # Thrift's name
        self.hbase.call("getColumnDescriptors", table)
        return {f: HB.ColumnDescriptor(name=f) for f in self.hbase.families}

    def isTableEnabled(self, table: bytes) -> bool:  # noqa: N802  # Thrift's name
        self.hbase.call("isTableEnabled", table)
        return self.hbase.enabled


class FakeTable:
    def __init__(self, connection: FakeConnection, name: bytes) -> None:
        self.connection, self.name = connection, name

    def rows(self, rows: list[bytes], columns: list[bytes] | None = None) -> list[tuple[bytes, dict[bytes, bytes]]]:
        hbase = self.connection.hbase
        hbase.in_use += 1
        hbase.max_in_use = max(hbase.max_in_use, hbase.in_use)
        try:
            if hbase.hold is not None:
                hbase.hold.wait(5)
            hbase.call("rows", self.name, list(rows), columns)
            return [(r, dict(hbase.rows[r])) for r in rows if r in hbase.rows]
        finally:
            hbase.in_use -= 1

    def batch(self, wal: bool = True) -> FakeBatch:
        return FakeBatch(self, wal)


class FakeBatch:
    def __init__(self, table: FakeTable, wal: bool) -> None:
        self.table, self.wal = table, wal
        self.puts: dict[bytes, dict[bytes, bytes]] = {}

    def put(self, row: bytes, data: dict[bytes, bytes]) -> None:
        self.puts.setdefault(row, {}).update(data)

    def send(self) -> None:
        hbase = self.table.connection.hbase
        hbase.call("mutateRows", self.table.name, dict(self.puts), self.wal)
        for row, cells in self.puts.items():
            hbase.rows.setdefault(row, {}).update(cells)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def hbase() -> FakeHBase:
    return FakeHBase({b"k1": {b"c:cn": b"Ada", b"d:x": b"1"}, b"k2": {b"c:cn": b"Bob"}})


@pytest.fixture
def lookup(hbase: FakeHBase) -> Iterator[HBaseLookup]:
    made = HBaseLookup("hb.example:9090", pool_size=2, timeout_ms=200, connection_factory=hbase.factory)
    yield made
    made.close()


def _calls(hbase: FakeHBase, name: str) -> list[tuple[Any, ...]]:
    return [entry for entry in hbase.log if entry[0] == name]


# -- get_many ---------------------------------------------------------------------------------------


def test_get_many_fetches_every_miss_in_one_call_and_serves_the_cache_after(
        hbase: FakeHBase, lookup: HBaseLookup) -> None:
    table = lookup.table("t", columns=[b"c"])
    assert hbase.made == []  # lazy: nothing connects before the first call
    got = table.get_many([b"k1", b"k2", b"k1", b"nope"])
    assert got == {b"k1": {b"c:cn": b"Ada", b"d:x": b"1"}, b"k2": {b"c:cn": b"Bob"}}
    assert hbase.log == [("rows", b"t", [b"k1", b"k2", b"nope"], [b"c"])]  # one call, de-duplicated
    assert table.stats == LookupStats(hits=0, misses=3, calls=1, errors=0)
    assert table.get_many([b"k2", b"nope", b"k3"]) == {b"k2": {b"c:cn": b"Bob"}}
    assert hbase.log[1:] == [("rows", b"t", [b"k3"], [b"c"])]  # the absent row is cached as absent
    assert table.stats == LookupStats(hits=2, misses=4, calls=2, errors=0)
    assert table.get(b"nope") is None
    assert table.get(b"k1") == {b"c:cn": b"Ada", b"d:x": b"1"}
    assert len(hbase.log) == 2
    assert hbase.made[0].args == ("hb.example", 9090, {"timeout": 200, "autoconnect": False,
                                                       "transport": "buffered", "protocol": "binary"})


def test_empty_input_or_all_cached_makes_no_call(hbase: FakeHBase, lookup: HBaseLookup) -> None:
    table = lookup.table("t")
    assert table.get_many([]) == {}
    table.get_many([b"k1"])
    table.get_many([b"k1", b"k1"])
    assert len(hbase.log) == 1
    assert table.stats.calls == 1


def test_rows_returned_are_copies(lookup: HBaseLookup) -> None:
    table = lookup.table("t")
    table.get_many([b"k1"])[b"k1"][b"c:cn"] = b"changed"
    row = table.get(b"k1")
    assert row is not None
    assert row[b"c:cn"] == b"Ada"


def test_entries_expire_by_the_lookups_clock(hbase: FakeHBase) -> None:
    clock = Clock()
    with HBaseLookup("h:1", connection_factory=hbase.factory, clock=clock) as lookup:
        table = lookup.table("t", cache_ttl_s=10.0)
        table.get_many([b"k1", b"nope"])
        clock.now = 9.9
        table.get_many([b"k1", b"nope"])
        clock.now = 10.0
        table.get_many([b"k1", b"nope"])
    assert [entry[2] for entry in _calls(hbase, "rows")] == [[b"k1", b"nope"], [b"k1", b"nope"]]


def test_cache_size_zero_asks_hbase_every_time(hbase: FakeHBase, lookup: HBaseLookup) -> None:
    table = lookup.table("t", cache_size=0)
    table.get_many([b"k1"])
    table.get_many([b"k1"])
    assert table.stats == LookupStats(hits=0, misses=2, calls=2, errors=0)


# -- put_many -------------------------------------------------------------------------------------------


def test_put_many_is_one_mutate_rows_call_and_writes_through_the_cache(
        hbase: FakeHBase, lookup: HBaseLookup) -> None:
    table = lookup.table("t", columns=[b"c"])
    table.get_many([b"k1", b"new"])  # k1 cached present, new cached absent
    table.put_many({b"k1": {b"c:n2": b"2", b"e:x": b"other family"}, b"new": {b"c:cn": b"Cy"},
                    b"uncached": {b"c:cn": b"Di"}, b"empty": {}}, wal=False)
    assert _calls(hbase, "mutateRows") == [("mutateRows", b"t", {
        b"k1": {b"c:n2": b"2", b"e:x": b"other family"}, b"new": {b"c:cn": b"Cy"},
        b"uncached": {b"c:cn": b"Di"}}, False)]
    before = len(hbase.log)
    assert table.get_many([b"k1", b"new"]) == {
        b"k1": {b"c:cn": b"Ada", b"d:x": b"1", b"c:n2": b"2"},  # e:x is outside columns: not merged
        b"new": {b"c:cn": b"Cy"}}
    assert len(hbase.log) == before  # served from the cache
    assert table.get(b"uncached") == {b"c:cn": b"Di"}  # not cached by the put: fetched
    assert len(hbase.log) == before + 1
    table.put_many({})
    assert len(hbase.log) == before + 1


# -- failures -------------------------------------------------------------------------------------------


def test_a_connection_that_failed_is_discarded_and_the_next_call_opens_a_new_one(
        hbase: FakeHBase, lookup: HBaseLookup) -> None:
    table = lookup.table("t")
    table.get(b"k1")
    first = hbase.made[0]
    hbase.fail.append(TTransportException(type=TTransportException.END_OF_FILE, message="TSocket read 0 bytes"))
    with pytest.raises(HBaseUnavailable, match=r"get_many of 1 row\(s\) in table 't'.*hb.example:9090.*"
                                                r"TTransportException: TSocket read 0 bytes") as caught:
        table.get(b"k2")
    assert isinstance(caught.value.__cause__, TTransportException)
    assert first.closed
    assert len(hbase.made) == 1
    assert table.get(b"k2") == {b"c:cn": b"Bob"}
    assert len(hbase.made) == 2
    assert not hbase.made[1].closed
    assert table.stats.errors == 1


def test_a_server_error_naming_a_missing_table_is_not_retriable(hbase: FakeHBase, lookup: HBaseLookup) -> None:
    hbase.fail.append(HB.IOError(message="org.apache.hadoop.hbase.TableNotFoundException: t"))
    with pytest.raises(HBaseLookupError, match="TableNotFoundException") as caught:
        lookup.table("t").put_many({b"k": {b"c:a": b"1"}})
    assert caught.value.retriable is False
    assert caught.value.operation == "put_many"


def test_waiting_for_a_free_connection_is_bounded(hbase: FakeHBase) -> None:
    hbase.hold = threading.Event()
    lookup = HBaseLookup("h:1", pool_size=1, timeout_ms=100, connection_factory=hbase.factory)
    table = lookup.table("t", cache_size=0)
    busy = threading.Thread(target=table.get, args=(b"k1",))
    busy.start()
    try:
        while hbase.in_use == 0:
            threading.Event().wait(0.001)
        with pytest.raises(HBaseUnavailable, match=r"no free connection in 100 ms \(all 1 busy"):
            table.get(b"k2")
    finally:
        hbase.hold.set()
        busy.join()
    assert table.get(b"k2") == {b"c:cn": b"Bob"}
    lookup.close()


def test_the_pool_never_hands_one_connection_to_two_threads(hbase: FakeHBase) -> None:
    lookup = HBaseLookup("h:1", pool_size=2, timeout_ms=5000, connection_factory=hbase.factory)
    table = lookup.table("t", cache_size=0)
    used: dict[int, FakeConnection] = {}
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(200):
                table.get_many([b"k1", b"k2"])
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    used.update(enumerate(hbase.made))
    assert errors == []
    assert len(used) <= 2
    assert hbase.max_in_use <= 2
    assert table.stats.calls == 800
    lookup.close()
    assert all(c.closed for c in hbase.made)


def test_a_closed_lookup_refuses_calls(hbase: FakeHBase) -> None:
    lookup = HBaseLookup("h:1", connection_factory=hbase.factory)
    table = lookup.table("t")
    lookup.close()
    lookup.close()  # idempotent
    with pytest.raises(HBaseLookupError, match="closed"):
        table.get(b"k1")


# -- check ------------------------------------------------------------------------------------------


def test_check_passes_for_an_enabled_table_with_the_families(hbase: FakeHBase, lookup: HBaseLookup) -> None:
    table = lookup.table("t", columns=[b"c", b"d:x"])
    table.check()
    assert [e[0] for e in hbase.log] == ["getTableNames", "getColumnDescriptors", "isTableEnabled"]
    assert table.stats.calls == 3


@pytest.mark.parametrize(("change", "columns", "said"), [
    ({"tables": [b"other"]}, [b"c"], "table 't' at Thrift server hb.example:9090 does not exist"),
    ({}, [b"c", b"zz:q"], r"has no column family zz \(it has: c, d\)"),
    ({"enabled": False}, None, "is disabled"),
])
def test_check_says_what_is_wrong(hbase: FakeHBase, lookup: HBaseLookup, change: dict[str, Any],
                                  columns: list[bytes] | None, said: str) -> None:
    for attr, value in change.items():
        setattr(hbase, attr, value)
    table = lookup.table("t", columns=columns)
    with pytest.raises(HBaseLookupError, match=said) as caught:
        table.check()
    assert caught.value.retriable is False
    assert table.stats.errors == 1


def test_check_when_the_server_does_not_answer_is_retriable(hbase: FakeHBase, lookup: HBaseLookup) -> None:
    hbase.fail.append(ConnectionResetError(104, "Connection reset by peer"))
    with pytest.raises(HBaseUnavailable, match="check"):
        lookup.table("t").check()


# -- shared_lookup --------------------------------------------------------------------------------------


def test_shared_lookup_is_one_pool_per_address_closed_with_its_last_handle(
        hbase: FakeHBase, caplog: pytest.LogCaptureFixture) -> None:
    address = "shared.example:9090"
    first = shared_lookup(address, pool_size=3, timeout_ms=1000, connection_factory=hbase.factory)
    with caplog.at_level(logging.WARNING, logger=lookup_module.__name__):
        second = shared_lookup(address, pool_size=5, timeout_ms=1000, connection_factory=hbase.factory)
        third = shared_lookup(address, pool_size=6, timeout_ms=1000, connection_factory=hbase.factory)
    other = shared_lookup(address, transport="framed", connection_factory=hbase.factory)
    assert first.pool is second.pool is third.pool
    assert other.pool is not first.pool
    assert first.pool.size == 3
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "poolSize=3 (asked 5)" in warnings[0].getMessage()

    first.table("t").get(b"k1")
    first.close()
    first.close()  # a second close of the same handle does not release another's reference
    assert not second.closed
    assert not second.pool.closed
    second.close()
    with pytest.raises(HBaseLookupError, match="closed"):
        second.table("t").get(b"k2")  # a closed handle, though its pool serves the others
    pool = third.pool
    assert third.table("t").get(b"k2") == {b"c:cn": b"Bob"}
    third.close()
    assert pool.closed
    assert all(c.closed for c in hbase.made if c.args[2]["transport"] == "buffered")
    other.close()
    fresh = shared_lookup(address, connection_factory=hbase.factory)
    assert fresh.pool is not pool
    assert not fresh.pool.closed
    fresh.close()


def test_tables_satisfy_the_row_lookup_protocol(lookup: HBaseLookup) -> None:
    assert isinstance(lookup.table("t"), RowLookup)
