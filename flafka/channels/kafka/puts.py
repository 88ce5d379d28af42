"""The put side of the Kafka channel: a put transaction's events as records, produced at its commit.

**Records.** :class:`RecordRules` turns events into records when they are put, so that an event that can never
be a record of the topic is refused at once (:class:`~flafka.errors.EventsRefused`: the source sets it aside and
puts the rest): a ``partitionIdHeader`` value that is not a partition number (Java's ``Integer.parseInt``, 0 to
2^31-1), a ``key`` header that is not text or bytes kept by ``surrogateescape`` (see flafka/kafka/records.py),
another header that is not valid Unicode text (AvroFlumeEvent headers are UTF-8), a record larger than
``max.request.size`` (the same rule librdkafka applies). A ``key`` holding bytes that are not UTF-8 is written
as those bytes; in the AvroFlumeEvent datum its undecodable bytes become U+FFFD, so every reader can decode the
datum, and a take restores the exact key from the record key.

**Commit.** :class:`Producing` queues every record of the transaction in one tight loop (librdkafka batches
them), flushes, and waits for every delivery report (``acks = all`` unless written): the commit returns only
when every record is acknowledged, and fails otherwise, so the source retries. The topic's partition count is
read once (again when a put names a partition past it), so that a record naming a partition the topic does not
have is refused before anything of the transaction is produced. A record librdkafka or the broker refuses
anyway (its delivery report says the record is at fault: too large for the broker, a partition that did not
exist when the put started) fails the commit with :class:`~flafka.errors.EventsRefused` for those records.

**A failed commit writes nothing twice on its retry.** The records of a failed commit that Kafka acknowledged
are remembered, per thread, by the identity of their events; the next commit on that thread produces none of
the remembered events again. The channel processor puts the same event objects again on the same thread (the
batch without the refused events, or the whole batch when the source retries), so a refused record or a broker
that timed out part of a batch costs no duplicates. What is remembered goes at the thread's next successful
commit. A record whose delivery report had not come when the commit gave up (a stop) is produced again.

**Stop.** The producer is created at the first put (a broker that is down at start-up does not stop the agent).
A put waiting on Kafka sees a stop within ``_WAIT_SLICE_S`` and fails (its source was not acknowledged and sends
again); what it had queued is purged so that it is not written behind the source's back.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from flafka.channels.kafka.errors import KafkaChannelError
from flafka.errors import EventsRefused
from flafka.event import Event
from flafka.kafka.avro_event import encode
from flafka.kafka.records import event_partition, key_bytes, partition_number
from flafka.monitoring.counters import KafkaChannelCounter

__all__ = ["RECORD_OVERHEAD", "ProducerFactory", "Producing", "Record", "RecordRules"]

log = logging.getLogger("flafka.channels.kafka")

#: key, partition (-1: the partitioner's, murmur2 of the key), value
Record = tuple[bytes | None, int, bytes]
ProducerFactory = Callable[[dict[str, Any]], Producer]

#: Bytes librdkafka adds to a record's key and value when it checks them against message.max.bytes
#: (RD_KAFKAP_MESSAGE_V2_MAX_OVERHEAD, measured: produce() refuses key + value + 36 > message.max.bytes).
RECORD_OVERHEAD = 36
# How long a waiting put goes without looking at a stop request. Every waiting put flushes the one producer,
# and flush() returns only when every queued record (other threads' too) is answered, or at the slice's end.
_WAIT_SLICE_S = 0.05
_METADATA_WAIT_S = 1.0  # one metadata request's wait; repeated until the put's deadline or a stop
_WAITING, _ACKED, _FAILED = 1, 2, 3  # a record's state in _Delivery.state (0: not produced)

# Delivery errors that are the record's own fault: the event is refused (retrying cannot help).
_RECORD_ERRORS = frozenset({KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.INVALID_MSG_SIZE, KafkaError._UNKNOWN_PARTITION,
                            KafkaError.INVALID_RECORD, KafkaError._INVALID_ARG})


class RecordRules:
    """How events become records of the channel's topic, and why an event cannot become one."""

    __slots__ = ("_default", "_header", "_limit", "_parse", "max_record")

    def __init__(self, *, parse: bool, partition_header: str | None, default_partition: int | None,
                 max_record: int) -> None:
        self._parse = parse
        self._header = partition_header
        self._default = -1 if default_partition is None else default_partition
        self.max_record = max_record  # message.max.bytes: Java's max.request.size
        self._limit = max_record - RECORD_OVERHEAD  # most key + value bytes librdkafka accepts

    @property
    def routes(self) -> bool:
        """Records may name their partition (the topic's partition count matters)."""
        return self._header is not None or self._default >= 0

    def records(self, name: str, events: Sequence[Event]) -> list[Record]:
        """The records of ``events``; raises :class:`EventsRefused` (nothing kept) for events that can never be
        records of the channel's topic."""
        header = self._header
        default = self._default
        parse = self._parse
        limit = self._limit
        out: list[Record] = []
        append = out.append
        try:
            for event in events:
                headers = event.headers
                partition = event_partition(headers, header, default)
                if partition is None:
                    raise ValueError(header)
                key = headers.get("key")
                key_data = None if key is None else key.encode()
                value = encode(headers, event.body) if parse else event.body
                if len(value) + (len(key_data) if key_data is not None else 0) > limit:
                    raise ValueError("too large")
                append((key_data, partition, value))
            return out
        except (ValueError, TypeError):  # UnicodeEncodeError is a ValueError
            pass
        # Off the hot path: judge every event (a key kept as bytes lands here too, and is fine).
        out = []
        refused: dict[int, str] = {}
        for index, event in enumerate(events):
            made = self._record(event)
            if isinstance(made, str):
                refused[index] = made
            else:
                out.append(made)
        if refused:
            raise EventsRefused(name, refused)
        return out

    def _record(self, event: Event) -> Record | str:
        """The record of ``event``, or why it can never be one."""
        headers = event.headers
        partition = self._default
        header = self._header
        if header is not None and headers.get(header) is not None:
            number = partition_number(headers[header])
            if number is None:
                return f"header {header}={headers[header]!r} is not a partition number (partitionIdHeader)"
            partition = number
        key = headers.get("key")
        try:
            key_data = None if key is None else key_bytes(key)
        except UnicodeEncodeError as exc:
            return f"header key is not valid Unicode text: {exc.reason} at character {exc.start}"
        if self._parse:
            if key is not None and key_data is not None and key_data.decode("utf-8", "replace") != key:
                # Bytes that are not UTF-8: the record key keeps them; the datum holds what every reader can decode.
                headers = {**headers, "key": key_data.decode("utf-8", "replace")}
            try:
                value = encode(headers, event.body)
            except (ValueError, TypeError) as exc:
                return f"cannot be written as an AvroFlumeEvent: {type(exc).__name__}: {exc}"
        else:
            value = event.body
        size = len(value) + (len(key_data) if key_data is not None else 0) + RECORD_OVERHEAD
        if size > self.max_record:
            return (f"a record of {size} bytes is larger than max.request.size ({self.max_record}); raise "
                    "kafka.producer.max.request.size (and the broker's message.max.bytes) to keep such events")
        return key_data, partition, value


class _Delivery:
    """What the delivery reports of one commit said. The reports may be served on any thread that flushes the
    producer, so each one writes only its own slot."""

    __slots__ = ("errors", "state")

    def __init__(self, size: int) -> None:
        self.state = bytearray(size)
        self.errors: dict[int, KafkaError] = {}

    def report(self, index: int, error: KafkaError | None, message: Message) -> None:
        if error is None:
            self.state[index] = _ACKED
        else:
            self.errors[index] = error
            self.state[index] = _FAILED

    @property
    def waiting(self) -> int:
        return self.state.count(_WAITING)


class Producing:
    """The channel's producer, created at the first put, and what a put commit does with it. Thread-safe."""

    def __init__(self, name: str, *, topic: str, conf: dict[str, Any], factory: ProducerFactory,
                 rules: RecordRules, counter: KafkaChannelCounter, send_timeout: float) -> None:
        self._name = name
        self._topic = topic
        self._conf = conf
        self._factory = factory
        self._rules = rules
        self._counter = counter
        self._send_timeout = send_timeout
        self._producer: Producer | None = None
        self._lock = threading.Lock()  # guards _producer, _stopping and _sending
        self._idle = threading.Condition(self._lock)  # notified when no put waits on Kafka
        self._stopping = False
        self._sending = 0  # events of commits in progress
        self._abandoned = 0  # events of commits that gave up because of a stop
        self._partitions: int | None = None  # the topic's partition count, once known
        self._local = threading.local()  # .acked: events Kafka acknowledged in this thread's failed commits

    def restart(self) -> None:
        with self._lock:
            self._stopping = False
            self._abandoned = 0
            self._local = threading.local()

    # -- a commit -------------------------------------------------------------------------------------

    def send(self, records: list[Record], events: Sequence[Event]) -> None:
        """Produce ``records`` (of ``events``, index for index) and wait for every acknowledgement; raises
        :class:`KafkaChannelError` or :class:`EventsRefused` when any record was not acknowledged."""
        with self._lock:
            if self._stopping:
                raise KafkaChannelError(f"Kafka channel {self._name} is stopped", retriable=False)
            self._sending += len(records)
        started = time.monotonic()
        stopped = False
        try:
            self._send(records, events, started + self._send_timeout)
        except _Stopped:
            stopped = True
            raise
        finally:
            with self._lock:
                self._sending -= len(records)
                if stopped:
                    self._abandoned += len(records)
                if not self._sending:
                    self._idle.notify_all()
            elapsed_ms = int((time.monotonic() - started) * 1000)
            with self._counter.lock:
                self._counter.kafka_event_send_timer += elapsed_ms

    def _send(self, records: list[Record], events: Sequence[Event], deadline: float) -> None:
        producer = self._producer or self._create()
        acked: dict[int, Event] | None = getattr(self._local, "acked", None)
        if self._rules.routes:
            self._refuse_unknown_partitions(producer, records, deadline)
        delivery = _Delivery(len(records))
        state = delivery.state
        report = delivery.report
        produce = producer.produce
        topic = self._topic
        failure: KafkaError | None = None
        refused: dict[int, str] = {}
        done = False
        for index, (key, partition, value) in enumerate(records):
            if acked is not None and id(events[index]) in acked:
                continue  # acknowledged in this thread's last failed commit: never written twice
            state[index] = _WAITING
            while True:
                try:
                    produce(topic, value, key, partition, on_delivery=functools.partial(report, index))
                    break
                except BufferError:
                    # librdkafka's queue is full: serve delivery reports until there is room.
                    self._check(deadline)
                    producer.poll(_WAIT_SLICE_S)
                except KafkaException as exc:
                    state[index] = 0
                    error = _error_of(exc)
                    if error.code() in _RECORD_ERRORS:
                        refused[index] = self._reason(producer, error, partition, deadline)
                    else:
                        failure = error
                    break
            if failure is not None:
                break
        try:
            while delivery.waiting:
                self._check(deadline)
                producer.flush(min(_WAIT_SLICE_S, max(0.0, deadline - time.monotonic())))
            done = failure is None and not refused and not delivery.errors
        finally:
            self._remember(events, delivery, acked, done)
        for index, error in delivery.errors.items():
            if error.code() in _RECORD_ERRORS:
                refused[index] = self._reason(producer, error, records[index][1], deadline)
            else:
                failure = error
        if failure is not None:
            # Not the records' fault (the broker, the cluster, a timeout): the source retries.
            if failure.fatal() or failure.code() == KafkaError._FATAL:
                self._replace(producer)
            raise KafkaChannelError(f"Kafka channel {self._name} could not write {len(records)} events to topic "
                                    f"{self._topic}: {failure.name()}: {failure.str()}")
        if refused:
            raise EventsRefused(self._name, refused)

    def _check(self, deadline: float) -> None:
        if self._stopping:
            raise _Stopped(self._name)
        if time.monotonic() >= deadline:
            raise KafkaChannelError(f"Kafka channel {self._name} got no answer from Kafka for a put within "
                                    f"{self._send_timeout:g} s; the put fails and is retried")

    def _remember(self, events: Sequence[Event], delivery: _Delivery, acked: dict[int, Event] | None,
                  done: bool) -> None:
        """After a commit: forget what was remembered when it succeeded, else remember every event of it that
        Kafka acknowledged, now or in the thread's failed commit before (those were skipped: state 0)."""
        if done:
            self._local.acked = None
            return
        kept: dict[int, Event] = {}
        for index, state in enumerate(delivery.state):
            event = events[index]
            if state == _ACKED or (state == 0 and acked is not None and id(event) in acked):
                kept[id(event)] = event  # the event is held too, so that its id cannot be reused
        self._local.acked = kept or None

    def _refuse_unknown_partitions(self, producer: Producer, records: list[Record], deadline: float) -> None:
        """Raise :class:`EventsRefused` for records naming a partition the topic does not have, before any record
        is produced (librdkafka would refuse them one by one, after queueing the records before them)."""
        highest = max(partition for _, partition, _ in records)
        count = self._partitions
        if highest < 0 or (count is not None and highest < count):
            return
        count = self._partitions = self._partition_count(producer, deadline)
        if count is None:
            return  # not known yet (a topic Kafka creates on first write): the delivery reports decide
        refused = {index: self._unknown(partition, count) for index, (_, partition, _) in enumerate(records)
                   if partition >= count}
        if refused:
            raise EventsRefused(self._name, refused)

    def _partition_count(self, producer: Producer, deadline: float) -> int | None:
        while True:
            try:
                metadata = producer.list_topics(self._topic, timeout=_METADATA_WAIT_S)
            except KafkaException as exc:
                error = _error_of(exc)
                if error.code() != KafkaError._TIMED_OUT and not error.retriable():
                    raise KafkaChannelError(f"Kafka channel {self._name} cannot read the partitions of topic "
                                            f"{self._topic}: {error.str()}", retriable=False) from exc
                self._check(deadline)
                continue
            topic = metadata.topics.get(self._topic)
            if topic is None or topic.error is not None or not topic.partitions:
                return None
            return len(topic.partitions)

    def _unknown(self, partition: int, count: int) -> str:
        return f"partition {partition} is not a partition of topic {self._topic} (it has {count})"

    def _reason(self, producer: Producer, error: KafkaError, partition: int, deadline: float) -> str:
        if error.code() == KafkaError._UNKNOWN_PARTITION:
            count = self._partitions
            if count is None or partition < count:
                try:
                    count = self._partitions = self._partition_count(producer, deadline)
                except KafkaChannelError:
                    count = None
            if count is not None:
                return self._unknown(partition, count)
        return f"Kafka refused the record: {error.name()}: {error.str()}"

    def _replace(self, producer: Producer) -> None:
        """``producer`` failed for good (an idempotent producer's fatal error fails every record after it): the
        next put gets a new one."""
        with self._lock:
            if self._producer is not producer:
                return  # another put replaced it already
            self._producer = None
        log.warning("Kafka channel %s drops its producer after a fatal error; the next put makes a new one. topic=%s",
                    self._name, self._topic)
        producer.purge()
        producer.flush(0)

    def _create(self) -> Producer:
        with self._lock:
            if self._stopping:
                raise KafkaChannelError(f"Kafka channel {self._name} is stopped", retriable=False)
            if self._producer is None:
                try:
                    self._producer = self._factory(self._conf)
                except KafkaException as exc:
                    raise KafkaChannelError(f"Kafka channel {self._name} cannot create its producer: {exc}",
                                            retriable=False) from exc
                log.info("Kafka channel %s created its producer. topic=%s", self._name, self._topic)
            return self._producer

    # -- stop -----------------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Waiting puts fail from now on, and new ones are refused."""
        with self._lock:
            self._stopping = True

    def stop(self, deadline: float) -> None:
        """Make waiting puts fail, wait for them until ``deadline``, drop the producer (what the failed puts had
        queued is purged: their sources send them again); log what could not finish."""
        with self._lock:
            self._stopping = True
            while self._sending and deadline > time.monotonic():
                self._idle.wait(deadline - time.monotonic())
            producer, self._producer = self._producer, None
            sending, abandoned = self._sending, self._abandoned
        if producer is not None and producer.flush(0):
            producer.purge()
            producer.flush(0)
        if sending or abandoned:
            log.warning("Kafka channel %s stopped while puts were still waiting for Kafka; they are not committed, "
                        "so their sources were not acknowledged and send them again. events=%d", self._name,
                        sending + abandoned)


class _Stopped(KafkaChannelError):
    """A put gave up because the channel is stopping."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Kafka channel {name} stopped while a put waited for Kafka; the put fails and its source "
                         "sends again", retriable=False)


def _error_of(exc: KafkaException) -> KafkaError:
    if exc.args and isinstance(exc.args[0], KafkaError):
        return exc.args[0]
    return KafkaError(KafkaError._FAIL, str(exc))
