"""Flume's HBase sinks (``hbase``, ``hbase2``, ``asynchbase``; reference §3.7), one sink on HBase's Thrift1 server.

Each transaction takes up to ``batchSize`` events and turns them into puts and increments with the
serializer, then

* sends every put of the batch in one Thrift call (``mutateRows``, through a happybase batch; with
  ``enableWal = false`` the puts skip the write-ahead log);
* sends every increment of the batch in one Thrift call (``incrementRows``), merged per cell first when
  ``coalesceIncrements`` is true. The Thrift server applies them one by one (one HBase RPC each), but the
  sink waits for one round trip, not one per increment as ``counter_inc`` would;
* commits the take only once HBase accepted both. Any failure (the Thrift server unreachable, a call
  longer than ``timeout`` ms, HBase refusing the batch, the table gone) rolls the take back
  (:class:`~flafka.errors.DeliveryError`, retriable: the runner backs off and retries) and the next batch
  connects afresh.

Redelivery: a rolled-back batch is written again in full. Its puts land on the same rows and cells (a
put is idempotent; the simple serializer's generated row keys are drawn again, so a retried batch with
``suffix = uuid`` writes new rows beside any the failed attempt wrote), but its **increments are counted
again** wherever the failed attempt had applied them: increments are not idempotent, in Flume either.
A Thrift server started with ``hbase.regionserver.thrift.coalesceIncrement = true`` queues increments
and acknowledges them before HBase has them (lost if it dies): leave it off.

An event the serializer refuses (a regex that does not match, a row key too long) is a bad event:
dead-lettered to ``deadLetterChannel`` or dropped, counted, logged once per kind, and only once the
batch's good events are written (so a retried batch does not set it aside twice).

At start the sink checks that ``table`` exists, is enabled and has ``columnFamily``; if not (or if the
Thrift server does not answer) the start fails with a message saying which, and the agent retries it
with a backoff, as Flume's sink does.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable
from typing import Any

import happybase
from thriftpy2.thrift import TException

from flafka.errors import DeliveryError
from flafka.event import Event
from flafka.sinks.base import BatchSink, Status
from flafka.sinks.hbase.actions import Increment, Put
from flafka.sinks.hbase.config import HBaseSinkConfig

__all__ = ["HBaseSink", "coalesce"]

log = logging.getLogger(__name__)

# happybase loads HBase's Thrift1 definitions under this module name when it is imported; TIncrement is
# not re-exported by happybase, and incrementRows (one round trip for many increments) needs it.
_HBASE_THRIFT: Any = sys.modules["Hbase_thrift"]

# What a Thrift call fails with: TException covers the server's IOError/IllegalArgument and thriftpy2's
# transport errors; OSError covers refused connections, resets and socket timeouts.
_CALL_ERRORS = (TException, OSError)


def coalesce(increments: Iterable[Increment]) -> list[Increment]:
    """One increment per cell, its amount the sum of the batch's (Flume's ``coalesceIncrements``), in the
    order each cell first appears."""
    merged: dict[tuple[bytes, bytes, bytes], Increment] = {}
    for inc in increments:
        key = (inc.row, inc.family, inc.column)
        seen = merged.get(key)
        if seen is None:
            merged[key] = Increment(inc.row, inc.family, inc.column, inc.amount)
        else:
            seen.amount += inc.amount
    return list(merged.values())


class HBaseSink(BatchSink):
    """See the module docstring."""

    config_class = HBaseSinkConfig
    config: HBaseSinkConfig

    def __init__(self, name: str, config: HBaseSinkConfig) -> None:
        super().__init__(name, config)
        self.batch_size = config.batch_size
        self._host, self._port = config.thrift_host_port()
        self._table = config.table.encode()
        self._family = config.column_family.encode()
        self._serializer = config.serializer.build()
        self._connection: Any = None  # a happybase.Connection while connected
        self._lock = threading.Lock()  # process() and stop(): stop() may come from another thread

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        try:
            self._check_table()
        except DeliveryError:
            self._disconnect()
            raise
        log.info("HBase sink %s started. table=%s columnFamily=%s thrift=%s:%d batchSize=%d", self.name,
                 self.config.table, self.config.column_family, self._host, self._port, self.batch_size)

    def stop(self) -> None:
        with self._lock:
            self._disconnect()
            self._serializer.close()
        log.info("HBase sink %s stopped. events_written=%d bad_events=%d", self.name,
                 self.counter.event_drain_success_count,
                 self.counter.event_dead_letter_count + self.counter.event_drop_count)

    def process(self) -> Status:
        with self._lock:
            return super().process()

    def _check_table(self) -> None:
        """Fail clearly when the table or its family is missing or the table is disabled (Flume fails its
        start the same way; the agent retries it)."""
        where = f"{self.config.table!r} at Thrift server {self._host}:{self._port}"
        try:
            client = self._connect().client
            if self._table not in client.getTableNames():
                raise DeliveryError(f"HBase sink {self.name} cannot start: table {where} does not exist (Flume's "
                                    f"sink does not create it either: create it with family "
                                    f"{self.config.column_family!r})")
            families = client.getColumnDescriptors(self._table)
            if self._family + b":" not in families:
                have = ", ".join(sorted(f.decode(errors="replace").rstrip(":") for f in families))
                raise DeliveryError(f"HBase sink {self.name} cannot start: table {where} has no column family "
                                    f"{self.config.column_family!r} (it has: {have})")
            if not client.isTableEnabled(self._table):
                raise DeliveryError(f"HBase sink {self.name} cannot start: table {where} is disabled")
        except _CALL_ERRORS as exc:
            with self.counter.lock:
                self.counter.connection_failed_count += 1
            raise DeliveryError(f"HBase sink {self.name} cannot start: checking table {where} failed. "
                                f"{type(exc).__name__}: {exc}") from exc

    # -- connection -------------------------------------------------------------------------------

    def _connect(self) -> Any:
        if self._connection is None:
            config = self.config
            connection = happybase.Connection(self._host, self._port, timeout=config.timeout_ms,
                                              autoconnect=False, transport=config.thrift_transport,
                                              protocol=config.thrift_protocol)
            connection.open()  # raises (counted by the caller) before the connection is kept
            self._connection = connection
            with self.counter.lock:
                self.counter.connection_created_count += 1
        return self._connection

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except _CALL_ERRORS as exc:  # a dead socket: nothing left to release
                log.debug("HBase sink %s: closing the Thrift connection failed. %s", self.name, exc)
            with self.counter.lock:
                self.counter.connection_closed_count += 1

    # -- the batch --------------------------------------------------------------------------------

    def deliver(self, events: list[Event]) -> None:
        actions = self._serializer.serialize_batch(events, self._family)
        increments = coalesce(actions.increments) if self.config.coalesce_increments else actions.increments
        try:
            connection = self._connect()
            self._put(connection, actions.puts)
            self._increment(connection, increments)
        except _CALL_ERRORS as exc:
            with self.counter.lock:
                self.counter.connection_failed_count += 1
            self._disconnect()  # the socket may hold half a reply: the next batch connects afresh
            raise DeliveryError(f"HBase sink {self.name} could not write a batch of {len(events)} events "
                                f"({len(actions.puts)} puts, {len(increments)} increments) to table "
                                f"{self.config.table!r} through {self._host}:{self._port}; the batch is rolled "
                                f"back. {type(exc).__name__}: {exc}", retriable=True) from exc
        log.debug("HBase sink %s wrote a batch. events=%d puts=%d increments=%d", self.name, len(events),
                  len(actions.puts), len(increments))
        if actions.unwritable:
            self.set_aside([(event, "serializer", reason) for event, reason in actions.unwritable])

    def _put(self, connection: Any, puts: list[Put]) -> None:
        """One ``mutateRows`` call: what a happybase batch sends (a row's cells together, in order), built
        here without its per-put bookkeeping."""
        if not puts:
            return
        mutation, wal = _HBASE_THRIFT.Mutation, self.config.enable_wal
        rows: dict[bytes, list[Any]] = {}
        for put in puts:
            if not put.columns:  # HBase refuses a put without cells, which would fail every retry
                continue
            prefix = put.family + b":"
            cells = [mutation(isDelete=False, column=prefix + column, value=value, writeToWAL=wal)
                     for column, value in put.columns.items()]
            existing = rows.get(put.row)
            if existing is None:
                rows[put.row] = cells
            else:
                existing.extend(cells)
        if rows:
            batch = _HBASE_THRIFT.BatchMutation
            connection.client.mutateRows(self._table, [batch(row=row, mutations=cells) for row, cells in rows.items()],
                                         {})

    def _increment(self, connection: Any, increments: list[Increment]) -> None:
        if not increments:
            return
        table = self._table
        connection.client.incrementRows([
            _HBASE_THRIFT.TIncrement(table=table, row=inc.row, column=inc.family + b":" + inc.column,
                                     ammount=inc.amount)  # sic: the Thrift1 field's spelling
            for inc in increments])
