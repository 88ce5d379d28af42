"""Component counters with Flume's attribute names (reference §4).

Each component owns one counter object, registered in the agent's
:class:`~flafka.monitoring.registry.MetricsRegistry`; the runtime starts it before the component starts
and stops it after the component stopped. Counts are plain integer attributes, added to once per batch
(not per event) **inside ``with counter.lock:``**: a channel's counter is updated by every source thread
that puts into it and every sink thread that takes, and ``x += n`` is a read and a write another thread
can come between. An uncontended lock costs ~0.1 µs a batch. ``snapshot()`` reads under the same lock and
renders Flume's JSON shape: every value a decimal string. Gauges (``channel_size``) are plain assignments,
atomic on their own. tests/unit/monitoring/test_counter_locking.py checks every ``+=`` on a counter field.
"""

from __future__ import annotations

import threading
import time
from typing import ClassVar


def _now_ms() -> int:
    return int(time.time() * 1000)


class Counter:
    """Base: start/stop times and a snapshot of every counter attribute."""

    type_name: ClassVar[str] = ""
    fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, name: str) -> None:
        self.name = name
        self.lock = threading.Lock()
        self.start_time = 0
        self.stop_time = 0
        for f in self.fields:
            setattr(self, f, 0)

    def start(self) -> None:
        """Zero every count and set ``StartTime`` (Flume resets its counters on every start)."""
        now = _now_ms()
        with self.lock:
            for f in self.fields:
                setattr(self, f, 0)
            self.start_time = now
            self.stop_time = 0

    def stop(self) -> None:
        self.stop_time = _now_ms()

    def values(self) -> dict[str, int]:
        """Every count, by attribute name, read at one instant."""
        with self.lock:
            return {f: getattr(self, f) for f in self.fields}

    def snapshot(self) -> dict[str, str]:
        values = self.values()
        out = {"Type": self.type_name, "StartTime": str(self.start_time), "StopTime": str(self.stop_time)}
        for f, value in values.items():
            out[_camel(f)] = str(value)
        return out


def _camel(snake: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in snake.split("_"))


class SourceCounter(Counter):
    type_name = "SOURCE"
    fields: ClassVar[tuple[str, ...]] = (
        "event_received_count",
        "event_accepted_count",
        "append_received_count",
        "append_accepted_count",
        "append_batch_received_count",
        "append_batch_accepted_count",
        "open_connection_count",
        "event_read_fail",
        "channel_write_fail",
        "generic_processing_fail",
        "event_dead_letter_count",
        "event_drop_count",
    )
    event_received_count: int
    event_accepted_count: int
    append_received_count: int
    append_accepted_count: int
    append_batch_received_count: int
    append_batch_accepted_count: int
    open_connection_count: int
    event_read_fail: int
    channel_write_fail: int
    generic_processing_fail: int
    event_dead_letter_count: int  # flafka: bad events sent to the dead-letter channel (flafka.dead_letters)
    event_drop_count: int  # flafka: bad events dropped (no dead-letter channel, or it refused them)


class ChannelCounter(Counter):
    type_name = "CHANNEL"
    fields: ClassVar[tuple[str, ...]] = (
        "channel_size",
        "channel_capacity",
        "event_put_attempt_count",
        "event_put_success_count",
        "event_take_attempt_count",
        "event_take_success_count",
    )
    channel_size: int
    channel_capacity: int
    event_put_attempt_count: int
    event_put_success_count: int
    event_take_attempt_count: int
    event_take_success_count: int

    def snapshot(self) -> dict[str, str]:
        out = super().snapshot()
        cap, size = int(out["ChannelCapacity"]), int(out["ChannelSize"])
        out["ChannelFillPercentage"] = repr(size * 100.0 / cap) if cap else "1.7976931348623157E308"
        return out


class SinkCounter(Counter):
    type_name = "SINK"
    fields: ClassVar[tuple[str, ...]] = (
        "connection_created_count",
        "connection_closed_count",
        "connection_failed_count",
        "batch_empty_count",
        "batch_underflow_count",
        "batch_complete_count",
        "event_drain_attempt_count",
        "event_drain_success_count",
        "event_write_fail",
        "channel_read_fail",
        "event_dead_letter_count",
        "event_drop_count",
    )
    connection_created_count: int
    connection_closed_count: int
    connection_failed_count: int
    batch_empty_count: int
    batch_underflow_count: int
    batch_complete_count: int
    event_drain_attempt_count: int
    event_drain_success_count: int
    event_write_fail: int
    channel_read_fail: int
    event_dead_letter_count: int  # flafka: bad events sent to the dead-letter channel (flafka.dead_letters)
    event_drop_count: int  # flafka: bad events dropped (no dead-letter channel, or it refused them)

    def count_batch(self, taken: int, batch_size: int) -> None:
        """Flume's batch classification: empty, underflow (< batch size) or complete."""
        with self.lock:
            if taken == 0:
                self.batch_empty_count += 1
            elif taken < batch_size:
                self.batch_underflow_count += 1
            else:
                self.batch_complete_count += 1


class KafkaSourceCounter(SourceCounter):
    """Flume's KafkaSourceCounter keys (timers in cumulative ms), plus the base failure counters."""

    fields: ClassVar[tuple[str, ...]] = (
        *SourceCounter.fields, "kafka_event_get_timer", "kafka_commit_timer", "kafka_empty_count")
    kafka_event_get_timer: int
    kafka_commit_timer: int
    kafka_empty_count: int


class KafkaChannelCounter(ChannelCounter):
    """Flume's KafkaChannelCounter keys. ChannelSize/Capacity stay 0: a topic's backlog is not known here."""

    fields: ClassVar[tuple[str, ...]] = (
        *ChannelCounter.fields, "kafka_event_get_timer", "kafka_event_send_timer", "kafka_commit_timer",
        "rollback_count", "event_read_fail", "commit_fail_count")
    event_read_fail: int  # flafka: records that are not AvroFlumeEvents (skipped)
    commit_fail_count: int  # flafka: offset commits that failed (retried; duplicates possible)
    kafka_event_get_timer: int
    kafka_event_send_timer: int
    kafka_commit_timer: int
    rollback_count: int


class KafkaSinkCounter(SinkCounter):
    """Flume's KafkaSinkCounter keys, plus the base failure counters."""

    fields: ClassVar[tuple[str, ...]] = (*SinkCounter.fields, "kafka_event_send_timer", "rollback_count")
    kafka_event_send_timer: int
    rollback_count: int


# -- flafka's own component kinds (Flume's MonitoredCounterGroup.Type names where it has one) ------------


class InterceptorCounter(Counter):
    """One interceptor of one source: events in and out of ``intercept_batch``, failures, time spent in it."""

    type_name = "INTERCEPTOR"
    fields: ClassVar[tuple[str, ...]] = ("event_received_count", "event_emitted_count", "fail_count", "time_nanos")
    event_received_count: int
    event_emitted_count: int  # fewer than received: filtered; more: the interceptor split events
    fail_count: int  # calls that raised (each bad event isolated from a batch counts its own call)
    time_nanos: int  # shown as TimeMillis: a fast interceptor spends far less than a millisecond a batch

    def snapshot(self) -> dict[str, str]:
        out = super().snapshot()
        out["TimeMillis"] = str(int(out.pop("TimeNanos")) // 1_000_000)
        return out


class SelectorCounter(Counter):
    """A source's channel selector: events routed to at least one channel, to none, optional writes failed."""

    type_name = "SELECTOR"
    fields: ClassVar[tuple[str, ...]] = ("event_routed_count", "event_unrouted_count", "optional_write_fail")
    event_routed_count: int
    event_unrouted_count: int
    optional_write_fail: int  # batches an optional channel refused (dropped for that channel only)


class SinkProcessorCounter(Counter):
    """A sink group's processor: sink failures, switches of the serving sink, back-offs."""

    type_name = "SINK_PROCESSOR"
    fields: ClassVar[tuple[str, ...]] = ("sink_fail_count", "failover_count", "sink_backoff_count")
    sink_fail_count: int  # process() calls of a member sink that raised
    failover_count: int  # failover: times another sink took over delivery
    sink_backoff_count: int  # a failed sink penalised (failover) or excluded (load_balance with backoff)
