"""What the demo reads back: each transaction's input and output records in Kafka, and its line in HDFS.

Latency is measured as the post measured it, per event from input append to output append: both topics are
created with ``message.timestamp.type = LogAppendTime``, so each record carries the time the broker appended
it, on one clock, in milliseconds.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import OFFSET_END, Consumer, TopicPartition

__all__ = ["Collector", "Outcome", "hdfs_ids", "percentile"]

_LOG_APPEND_TIME = 2  # confluent_kafka.TIMESTAMP_LOG_APPEND_TIME


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values (nan when there are none)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class Outcome:
    """What came back for the transactions of one run."""

    input_ms: dict[str, int] = field(default_factory=dict)  #: txn id → input append time
    scored_ms: dict[str, int] = field(default_factory=dict)  #: txn id → output append time (first copy)
    dead_lettered: set[str] = field(default_factory=set)
    declined: set[str] = field(default_factory=set)
    alerts: set[str] = field(default_factory=set)
    duplicates: int = 0  #: output records beyond the first for a transaction (at-least-once redelivery)
    append_times: bool = True  #: every record carried LogAppendTime

    def latencies_ms(self, skip: set[str] | frozenset[str] = frozenset()) -> list[int]:
        """Sorted latencies of the scored transactions, but those in ``skip``."""
        inputs = self.input_ms
        return sorted(out - inputs[txn] for txn, out in self.scored_ms.items() if txn in inputs and txn not in skip)

    def latencies_of_ms(self, txn_ids: set[str]) -> list[int]:
        inputs = self.input_ms
        return sorted(self.scored_ms[t] - inputs[t] for t in txn_ids if t in self.scored_ms and t in inputs)


class Collector:
    """Reads the input, output and dead-letter topics from given offsets in a thread, into an :class:`Outcome`."""

    def __init__(self, bootstrap: str, input_topic: str, output_topic: str, dead_letter_topic: str,
                 start: Iterable[tuple[str, int, int]]) -> None:
        self.outcome = Outcome()
        self._topics = (input_topic, output_topic, dead_letter_topic)
        self._consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "flafka-fraud-demo-reader",
                                   "enable.auto.commit": False, "fetch.wait.max.ms": 100,
                                   "enable.partition.eof": False})
        self._consumer.assign([TopicPartition(t, p, o) for t, p, o in start])
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-reader", daemon=True)
        self.error: str | None = None

    @staticmethod
    def end_offsets(bootstrap: str, topics: Sequence[str]) -> list[tuple[str, int, int]]:
        """(topic, partition, end offset) for every partition of ``topics``."""
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "flafka-fraud-demo-reader"})
        try:
            out = []
            for topic in topics:
                metadata = consumer.list_topics(topic, timeout=30).topics[topic]
                for partition in sorted(metadata.partitions):
                    _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)
                    out.append((topic, partition, high if high >= 0 else OFFSET_END))
            return out
        finally:
            consumer.close()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self._consumer.close()

    def snapshot(self) -> tuple[int, int, int]:
        """(scored, dead-lettered, inputs seen) so far."""
        with self._lock:
            o = self.outcome
            return len(o.scored_ms), len(o.dead_lettered), len(o.input_ms)

    def answered(self, txn_ids: set[str]) -> bool:
        """Every one of ``txn_ids`` was scored or dead-lettered."""
        with self._lock:
            o = self.outcome
            return all(t in o.scored_ms or t in o.dead_lettered for t in txn_ids)

    def latencies_ms(self, skip: set[str] | frozenset[str] = frozenset()) -> list[int]:
        with self._lock:
            return self.outcome.latencies_ms(skip)

    def _run(self) -> None:
        input_topic, output_topic, _ = self._topics
        try:
            while not self._stop.is_set():
                messages = self._consumer.consume(10_000, 0.1)
                with self._lock:
                    for message in messages:
                        if message.error() is None:
                            self._record(message, input_topic, output_topic)
        except Exception as exc:  # reported by the demo: a reader that died must not look like lost data
            self.error = f"{type(exc).__name__}: {exc}"

    def _record(self, message: Any, input_topic: str, output_topic: str) -> None:
        outcome = self.outcome
        kind, when = message.timestamp()
        if kind != _LOG_APPEND_TIME:
            outcome.append_times = False
        value: bytes = message.value() or b""
        topic = message.topic()
        if topic == input_topic:
            outcome.input_ms.setdefault(value.split(b"|", 1)[0].decode(errors="replace"), when)
        elif topic == output_topic:
            txn, authorised, alert = _decision(value)
            if txn in outcome.scored_ms:
                outcome.duplicates += 1
                return
            outcome.scored_ms[txn] = when
            if not authorised:
                outcome.declined.add(txn)
            if alert:
                outcome.alerts.add(txn)
        else:
            outcome.dead_lettered.add(value.split(b"|", 1)[0].decode(errors="replace"))


def _decision(value: bytes) -> tuple[str, bool, bool]:
    """(txn id, authorised, alert) of a scored record, CSV or JSON."""
    if value.startswith(b"{"):
        record = json.loads(value)
        return str(record["txn_id"]), record["authorised"] == "Y", record["alert"] == "Y"
    fields = value.split(b",")
    return fields[0].decode(errors="replace"), fields[14:15] != [b"N"], fields[15:16] == [b"Y"]


def hdfs_ids(client: Any, directory: str, wanted: set[str], *, include_open: bool) -> tuple[set[str], int]:
    """The ids of ``wanted`` found in the files under ``directory`` (an ``hdfs_native.Client``), and how many
    lines they had in all (a line written twice counts twice). ``include_open``: read in-use ``.tmp`` files too."""
    found: set[str] = set()
    lines = 0
    try:
        statuses = list(client.list_status(directory, recursive=True))
    except FileNotFoundError:
        return found, 0
    for status in statuses:
        if status.isdir or (status.path.endswith(".tmp") and not include_open):
            continue
        try:
            with client.read(status.path) as reader:
                data = reader.read()
        except FileNotFoundError:  # an in-use file renamed since the listing: the caller reads again
            continue
        for line in data.splitlines():
            txn = line.split(b"|", 1)[0].decode(errors="replace")
            if txn in wanted:
                found.add(txn)
                lines += 1
    return found, lines
