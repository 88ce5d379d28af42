"""Flume's simple HBase serializer: the body into one column of a new row, plus a counter.

One class stands for Flume's ``org.apache.flume.sink.hbase.SimpleHbaseEventSerializer``,
``org.apache.flume.sink.hbase2.SimpleHBase2EventSerializer`` and
``org.apache.flume.sink.hbase.SimpleAsyncHbaseEventSerializer``: the three read the same keys and
write the same cells (Flume 1.11's ``SimpleHbaseEventSerializer.java`` lines 63-133,
``SimpleAsyncHbaseEventSerializer.java`` lines 69-136). Per event:

* with ``payloadColumn`` set (not empty), one put: row ``rowPrefix`` + the ``suffix`` (see
  :mod:`flafka.sinks.hbase.row_keys`), cell ``payloadColumn`` = the body; headers are not written;
* with ``incrementColumn`` set (not empty), one increment by 1 of the cell ``incrementColumn`` in the
  row ``incrementRow``. This is on by default: every event counts in ``incRow:iCol``.

Stricter than Flume, at configuration time rather than per event: a ``suffix`` other than the four
names (Flume silently uses ``uuid``, also for ``Timestamp``: it compares case-sensitively), and an
empty ``incrementRow`` while increments are on (HBase refuses an empty row, so Flume fails every batch).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flafka.config.params import ComponentConfig, param
from flafka.event import Event
from flafka.sinks.hbase.actions import Actions, BatchActions, Increment, Put
from flafka.sinks.hbase.row_keys import SUFFIXES, SimpleRowKeys
from flafka.sinks.hbase.serializer import HBaseEventSerializer

__all__ = ["SimpleHBaseEventSerializer", "SimpleSerializerConfig"]


def _suffix(text: str) -> str:
    # Exact spelling only: Flume reads "Timestamp" (or a typo) as uuid without a word, so accepting
    # it case-insensitively would write other row keys than Flume does from the same file.
    value = text.strip()
    if value not in SUFFIXES:
        raise ValueError(f"must be one of {', '.join(SUFFIXES)} (lower case), got {text!r}")
    return value


@dataclass(frozen=True, kw_only=True)
class SimpleSerializerConfig(ComponentConfig):
    """The ``serializer.*`` keys of the simple serializers."""

    payload_column: str = param("payloadColumn", default="pCol",
                                doc="Column the body is written to, in a new row per event; empty: no put.")
    increment_column: str = param("incrementColumn", default="iCol",
                                  doc="Counter column incremented by 1 per event in `incrementRow`; empty: no "
                                      "increment.")
    row_prefix: str = param("rowPrefix", default="default", doc="Start of every generated row key.")
    increment_row: str = param("incrementRow", default="incRow", doc="Row of the counter.")
    suffix: str = param("suffix", default="uuid", choices=SUFFIXES, parse=_suffix,
                        doc="End of the row key: `uuid` (a random UUID), `random` (a random signed 64-bit "
                            "number), `timestamp` (milliseconds since 1970) or `nano` (a monotonic nanosecond "
                            "count).")

    def check(self) -> Iterable[tuple[str | None, str]]:
        if self.increment_column and not self.increment_row:
            yield ("incrementRow", "must not be empty while incrementColumn is set (HBase refuses an empty row "
                                   "key; empty incrementColumn turns increments off)")

    def check_warnings(self) -> Iterable[tuple[str | None, str]]:
        if not self.payload_column and not self.increment_column:
            yield (None, "payloadColumn and incrementColumn are both empty: events are taken and nothing is "
                         "written")


class SimpleHBaseEventSerializer(HBaseEventSerializer):
    """Writes the body to ``payloadColumn`` of a new row and counts events in ``incrementRow``."""

    config_class = SimpleSerializerConfig
    config: SimpleSerializerConfig

    def __init__(self, config: SimpleSerializerConfig, *, millis: Callable[[], int] | None = None,
                 nanos: Callable[[], int] | None = None, rng: random.Random | None = None) -> None:
        """``millis``, ``nanos`` and ``rng`` replace the clocks and the randomness of the row keys (tests)."""
        super().__init__(config)
        self._row_key = SimpleRowKeys(config.row_prefix, config.suffix, millis=millis, nanos=nanos, rng=rng)
        # Flume encodes every name as UTF-8 (Charsets.UTF_8); "replace" writes '?' where Java does
        self._payload_column = config.payload_column.encode("utf-8", "replace") if config.payload_column else None
        self._increment_column = (config.increment_column.encode("utf-8", "replace") if config.increment_column
                                  else None)
        self._increment_row = config.increment_row.encode("utf-8", "replace")

    def serialize(self, event: Event, column_family: bytes) -> Actions:
        puts = ([Put(self._row_key(), column_family, {self._payload_column: event.body})]
                if self._payload_column is not None else [])
        increments = ([Increment(self._increment_row, column_family, self._increment_column, 1)]
                      if self._increment_column is not None else [])
        return Actions(puts, increments)

    def serialize_batch(self, events: Iterable[Event], column_family: bytes) -> BatchActions:
        # What the per-event loop makes, in one pass per kind: this serializer refuses no event.
        events = list(events)
        batch = BatchActions()
        column = self._payload_column
        if column is not None:
            row_key = self._row_key
            batch.puts = [Put(row_key(), column_family, {column: event.body}) for event in events]
        if self._increment_column is not None:
            row, counter = self._increment_row, self._increment_column
            batch.increments = [Increment(row, column_family, counter, 1) for _ in events]
        return batch
