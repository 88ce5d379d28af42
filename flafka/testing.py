"""Helpers for testing components and custom interceptors without a running agent.

::

    from flafka.testing import build, intercept

    mask = build(MyMaskingInterceptor, {"field": "card"})
    out = intercept([mask], [Event(b"4556899046304500|...")])

``build`` parses properties exactly as the agent does (so a bad value raises the same
:class:`~flafka.errors.ConfigError`); ``wired_source`` connects a source to channels through a real
:class:`~flafka.runtime.channel_processor.ChannelProcessor`. ``InMemoryHBase`` stands in for an HBase
that an interceptor looks rows up in (:mod:`flafka.hbase`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from flafka.channels.base import Channel
from flafka.channels.memory import MemoryChannel
from flafka.config.diagnostics import Location
from flafka.config.properties import Prop
from flafka.errors import ConfigError
from flafka.event import Event
from flafka.hbase import HBaseLookup, LookupTable
from flafka.hbase.errors import HBASE_THRIFT
from flafka.interceptors.base import Interceptor
from flafka.monitoring.counters import SourceCounter
from flafka.runtime.channel_processor import ChannelProcessor
from flafka.selectors import ChannelSelector, ReplicatingSelector
from flafka.sinks.base import Sink
from flafka.sinks.base import Status as SinkStatus
from flafka.sources.base import Source

T = TypeVar("T")


def props(values: Mapping[str, str], file: str = "<test>") -> dict[str, Prop]:
    """Properties as the agent passes them to a component (locations are line 0 of ``file``)."""
    return {k: Prop(v, Location(file, 0)) for k, v in values.items()}


def parse_config(cls: type[Any], values: Mapping[str, str], name: str = "test") -> Any:
    """The parsed ``cls.config_class`` for ``values``; raises :class:`ConfigError` on any error."""
    config, diagnostics = cls.config_class.parse(props(values), name)
    if config is None:
        raise ConfigError([d for d in diagnostics if d.is_error])
    return config


def build(cls: type[T], values: Mapping[str, str] | None = None, name: str = "test") -> T:
    """An instance of component ``cls`` configured from ``values`` as the agent would."""
    return cls(name, parse_config(cls, values or {}, name))  # type: ignore[call-arg]


def memory_channel(name: str = "c1", capacity: int = 100_000, transaction_capacity: int = 10_000) -> MemoryChannel:
    """A started memory channel."""
    channel = build(MemoryChannel, {"capacity": str(capacity), "transactionCapacity": str(transaction_capacity)}, name)
    channel.start()
    return channel


def wired_source(
    source: Source,
    channels: Sequence[Channel],
    interceptors: Iterable[Interceptor] = (),
    selector: ChannelSelector | None = None,
) -> ChannelProcessor:
    """Give ``source`` a channel processor writing to ``channels`` (replicating unless given)."""
    chosen = selector if selector is not None else build(ReplicatingSelector, {}, source.name)
    chosen.bind(channels)
    processor = ChannelProcessor(source.name, [(i.name, i) for i in interceptors], chosen, source.counter)
    processor.initialize()
    source.channel_processor = processor
    return processor


def intercept(chain: Sequence[Interceptor], events: list[Event]) -> list[Event]:
    """Run ``events`` through ``chain`` as a source's channel processor does."""
    processor = ChannelProcessor("test", [(i.name, i) for i in chain], ReplicatingSelector("test", None),
                                 SourceCounter("test"))
    return processor.intercept(events)


def put(channel: Channel, events: Sequence[Event], batch: int = 1000) -> None:
    """Put ``events`` into ``channel``, in committed transactions of at most ``batch`` events."""
    for start in range(0, len(events), batch):
        with channel.transaction() as tx:
            tx.put_batch(list(events[start:start + batch]))


def drive(sink: Sink, limit: int = 10_000) -> int:
    """Call ``sink.process()`` until it backs off (its channel is empty); the number of batches delivered."""
    for delivered in range(limit):
        if sink.process() is not SinkStatus.READY:
            return delivered
    raise AssertionError(f"sink {sink.name} never backed off in {limit} calls")


def drain(channel: Channel, limit: int = 10_000_000) -> list[Event]:
    """Take and commit every event currently in ``channel`` (at most ``limit``)."""
    out: list[Event] = []
    while len(out) < limit:
        with channel.transaction() as tx:
            batch = tx.take_batch(min(1000, limit - len(out)), 0.0)
        if not batch:
            break
        out.extend(batch)
    return out


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.01,
               message: str = "condition") -> Any:
    """Poll ``predicate`` until it returns a truthy value (returned) or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


# -- HBase lookups without HBase ----------------------------------------------------------------------------


class InMemoryHBase:
    """An HBase of dicts behind the real :class:`~flafka.hbase.LookupTable` (cache, pool, error translation):
    only the Thrift server is replaced, so a table from :meth:`table` behaves as one on HBase does::

        hbase = InMemoryHBase({"customer": {b"k1": {b"c:cn": b"Ada"}}})
        customers = hbase.table("customer", columns=[b"c"])
        assert customers.get_many([b"k1", b"k2"]) == {b"k1": {b"c:cn": b"Ada"}}
        hbase.fail_next(HBaseUnavailable("down"))   # the next call that reaches HBase raises it

    ``tables`` holds the rows (table name -> row -> ``{b"family:qualifier": value}``), what ``put_many`` wrote
    included. A table not in it does not exist (``TableNotFoundException``, as HBase says). ``families`` names a
    table's column families (``check()`` and a lookup of another family fail as on HBase); a table without an
    entry there accepts every family. ``calls`` counts the Thrift calls that reached this HBase (cache hits
    do not). An exception given to :meth:`fail_next` is raised from inside the Thrift call, so it goes through
    the same translation: a flafka error as given, an ``OSError`` or thriftpy2 error as
    :class:`~flafka.hbase.HBaseUnavailable`.
    """

    ADDRESS = "in-memory:9090"  #: the address errors name

    def __init__(self, tables: Mapping[str, Mapping[bytes, Mapping[bytes, bytes]]] | None = None, *,
                 families: Mapping[str, Iterable[bytes]] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.tables: dict[str, dict[bytes, dict[bytes, bytes]]] = {
            name: {row: dict(cells) for row, cells in rows.items()} for name, rows in (tables or {}).items()}
        self.families: dict[str, set[bytes]] = {name: set(fs) for name, fs in (families or {}).items()}
        self.disabled: set[str] = set()  #: tables check() reports as disabled
        self.calls = 0
        self._failures: list[BaseException] = []
        self._lock = threading.RLock()
        self._lookup = HBaseLookup(self.ADDRESS, connection_factory=self._connect, clock=clock)

    def table(self, name: str, columns: Sequence[bytes] | None = None, *, cache_size: int = 10_000,
              cache_ttl_s: float = 60.0) -> LookupTable:
        """As :meth:`flafka.hbase.HBaseLookup.table`."""
        return self._lookup.table(name, columns, cache_size=cache_size, cache_ttl_s=cache_ttl_s)

    def fail_next(self, exc: BaseException, times: int = 1) -> None:
        """Make the next ``times`` Thrift calls raise ``exc`` (cache hits make no call)."""
        with self._lock:
            self._failures.extend([exc] * times)

    def close(self) -> None:
        self._lookup.close()

    # -- the Thrift server's side: what happybase's Connection, Table and Batch do -------------------------

    def _connect(self, *_args: Any, **_kwargs: Any) -> Any:
        return _MemoryConnection(self)

    def _call(self, table: bytes) -> dict[bytes, dict[bytes, bytes]]:
        """One Thrift call on ``table``: counted, failed if asked, the table's rows."""
        with self._lock:
            self.calls += 1
            if self._failures:
                raise self._failures.pop(0)
            name = table.decode()
            if name not in self.tables:
                raise HBASE_THRIFT.IOError(message=f"org.apache.hadoop.hbase.TableNotFoundException: {name}")
            return self.tables[name]

    def _check_families(self, table: bytes, columns: Iterable[bytes]) -> None:
        known = self.families.get(table.decode())
        for column in columns:
            family = column.split(b":", 1)[0]
            if known is not None and family not in known:
                raise HBASE_THRIFT.IOError(message=f"org.apache.hadoop.hbase.regionserver."
                                                   f"NoSuchColumnFamilyException: Column family "
                                                   f"{family.decode(errors='replace')} does not exist in "
                                                   f"table {table.decode()}")


class _MemoryConnection:
    def __init__(self, hbase: InMemoryHBase) -> None:
        self._hbase = hbase
        self.client = _MemoryClient(hbase)

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def table(self, name: bytes) -> _MemoryTable:
        return _MemoryTable(self._hbase, name)


class _MemoryClient:
    def __init__(self, hbase: InMemoryHBase) -> None:
        self._hbase = hbase

    def getTableNames(self) -> list[bytes]:  # noqa: N802  # the Thrift method's name
        with self._hbase._lock:
            self._hbase.calls += 1
            if self._hbase._failures:
                raise self._hbase._failures.pop(0)
            return [name.encode() for name in self._hbase.tables]

    def getColumnDescriptors(self, table: bytes) -> dict[bytes, Any]:  # noqa: N802  # the Thrift method's name
        with self._hbase._lock:
            rows = self._hbase._call(table)
            known = self._hbase.families.get(table.decode())
            if known is None:
                known = {column.split(b":", 1)[0] for cells in rows.values() for column in cells}
            return {family + b":": HBASE_THRIFT.ColumnDescriptor(name=family + b":") for family in known}

    def isTableEnabled(self, table: bytes) -> bool:  # noqa: N802  # the Thrift method's name
        with self._hbase._lock:
            self._hbase._call(table)
            return table.decode() not in self._hbase.disabled


class _MemoryTable:
    def __init__(self, hbase: InMemoryHBase, name: bytes) -> None:
        self._hbase, self._name = hbase, name

    def rows(self, rows: list[bytes], columns: list[bytes] | None = None) -> list[tuple[bytes, dict[bytes, bytes]]]:
        with self._hbase._lock:
            stored = self._hbase._call(self._name)
            self._hbase._check_families(self._name, columns or ())
            out = []
            for row in rows:
                cells = stored.get(row)
                if cells is None:
                    continue
                if columns is not None:
                    cells = {c: v for c, v in cells.items() if c in columns or c.split(b":", 1)[0] in columns}
                if cells:
                    out.append((row, dict(cells)))
            return out

    def batch(self, wal: bool = True) -> _MemoryBatch:
        return _MemoryBatch(self._hbase, self._name)


class _MemoryBatch:
    def __init__(self, hbase: InMemoryHBase, name: bytes) -> None:
        self._hbase, self._name = hbase, name
        self._puts: dict[bytes, dict[bytes, bytes]] = {}

    def put(self, row: bytes, data: Mapping[bytes, bytes]) -> None:
        self._puts.setdefault(row, {}).update(data)

    def send(self) -> None:
        with self._hbase._lock:
            stored = self._hbase._call(self._name)
            self._hbase._check_families(self._name, (c for cells in self._puts.values() for c in cells))
            for row, cells in self._puts.items():
                stored.setdefault(row, {}).update(cells)
