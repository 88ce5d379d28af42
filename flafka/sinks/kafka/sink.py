"""Flume's Kafka sink (``org.apache.flume.sink.kafka.KafkaSink``, reference §3.3, §6.3).

Each ``process()`` takes up to ``flumeBatchSize`` events in one channel transaction, queues them all
in one librdkafka producer (confluent-kafka: kafka-python's producer tops out near 80k records/s here,
see docs/design-notes.md), flushes, and checks every record's delivery report; the take commits only
when every record is acknowledged or set aside as bad (see "A failed batch" below). Both property
generations are accepted: Flume 1.6 (``brokerList``, ``topic``, ``batchSize``, ``requiredAcks``,
``kafka.<0.8 producer key>``) with a deprecation warning each, and Flume 1.7 to 1.11
(``kafka.bootstrap.servers``, ``kafka.topic``, ``flumeBatchSize``, ``kafka.producer.*``, ``header.*``,
``timestampHeader`` …).

Per event: the record key is the ``key`` header (UTF-8), the partition is the integer in the header
named by ``partitionIdHeader`` when present, else ``defaultPartitionId``, else the producer's
partitioner (murmur2 of the key, as Java); the record timestamp comes from ``timestampHeader``;
``header.<flumeHeader> = <kafkaHeader>`` copies headers into Kafka record headers; the value is the
body, or the AvroFlumeEvent datum of headers and body with ``useFlumeEventFormat``.

**A failed batch** never writes an acknowledged record twice. Flume (and flafka before) rolled the whole
take back on any failure, and the next attempt sent again the records Kafka had already acknowledged:
one topic (or partition) refusing writes for a while duplicated every other record of each batch on
each retry. The choices, and why:

* A take cannot be committed in part (a channel transaction is all or nothing), and a rollback gives
  the events back without anything that identifies them across attempts (a file or Kafka channel
  hands out new objects; equal content does not mean the same event). So the sink keeps the take
  open instead: when a record fails for a reason that is not its own (broker or partition leader
  unavailable, not enough in-sync replicas, timeout) while other records of the batch (or their dead
  letters) are acknowledged, it *holds* the batch and produces again only the records whose delivery
  report failed, with back-off (1 s doubling to 5 s; librdkafka already retried each one for
  ``delivery.timeout.ms``), until all are acknowledged. A record still waiting for its report is
  never produced again; a fatal producer error gets a new producer once nothing is in flight.
* When nothing of the batch was acknowledged, the take is rolled back at once, as before: nothing can
  be duplicated, and a failover sink group still moves to its next sink while Kafka is down.
* A held batch gives up when the sink is asked to stop: ``Sink.request_stop()`` (which the sink
  runner calls before it joins its thread, and ``stop()`` also sets) wakes the back-off and the
  delivery wait (which waits in 0.2 s slices), and the take is rolled back. Only then are acknowledged
  records sent again, after the restart: the one remaining at-least-once case.
* Bad events are judged once per take, before anything is produced: a held batch does not judge,
  count or dead-letter them again.

Every per-event value is judged before it reaches the client, in the per-event loop with cheap checks,
so that no value can make ``produce()`` raise for the whole batch: a partition header outside 0 to
2^31-1 (Kafka's int32), a ``key`` or ``header.*`` value (or, with ``useFlumeEventFormat``, any header)
that is not valid Unicode text (a lone surrogate, which the HTTP source accepts) are bad events. A
timestamp header that is not a whole number from 0 to 2^63-1 (Kafka's int64; Java refuses negative
ones) gets the producer's time and a warning once, as a non-numeric one (Flume 1.11 does that for
text it cannot parse): the timestamp is metadata, the event is still good. Anything else
``produce()`` raises for one record (TypeError, ValueError, OverflowError) sets that record aside too.
When each event names its topic (``%{header}`` topics, ``allowTopicOverride``), a topic Kafka refuses
(TOPIC_EXCEPTION, e.g. a name colliding with an existing one; unknown; not authorized) is that record's
own fault: it is a bad event, not a reason to hold the batch. With one topic for every record the same
errors are the configuration's or the cluster's, and are retried.

Differences from Flume:

* **The topic header does not pick the topic unless asked to.** Flume's Kafka source sets header
  ``topic`` to the topic it read, and Flume's sink (1.6 always, 1.7+ because ``allowTopicOverride``
  defaults to true) sends each event to the topic in that header: ``Kafka source (topic A) → Kafka
  sink (kafka.topic = B)`` silently writes everything back into A, a loop. In flafka
  ``allowTopicOverride`` is false when it is not written in the configuration; only an explicit
  ``allowTopicOverride = true`` gives Flume's behaviour (the ``topicHeader`` header, when present,
  chooses the topic). When the setting is absent and events carry a different topic header, a
  warning says so once.
* ``kafka.topic`` may hold ``%{header}`` escapes, expanded per event from the event's headers (a
  missing header becomes the empty string). Flume expands them only when ``allowTopicOverride`` is
  true; otherwise it sends to a topic literally named ``…%{header}…``, which Kafka refuses. The time
  escapes (``%Y`` …) are not expanded here (a configuration error names the supported form).
* Bad data never stalls the sink: an event whose partition header is not a partition number (or names
  a partition the topic does not have), whose topic is empty or not a legal Kafka topic name, whose key
  or mapped header is not valid Unicode text, or that is larger than ``max.request.size`` (or that the
  broker refuses as a record), is counted in ``EventWriteFail``, logged once per kind, and
  sent to ``deadLetterTopic`` when that flafka extension is set (value as it would have been sent,
  every event header as a Kafka record header, plus ``flafka.error`` saying why; counted in
  ``EventDeadLetterCount``). Without it, or when that topic refuses the dead letter as a record, the
  event goes to ``deadLetterChannel`` when set, else is dropped with an ERROR log giving the count
  (``EventDropCount``). Dead-letter text is encoded with ``surrogatepass``: valid text is plain UTF-8,
  and a lone surrogate keeps its exact code point (decode with the same handler to get it back) instead
  of failing the dead letter too, while a reader that replaces bad bytes (Java, ``errors="replace"``)
  still reads the record (``backslashreplace`` would write a lone surrogate as the same bytes as the
  six characters of its escape, so the original could not be told apart). The rest of the batch is
  delivered normally. Flume fails the whole batch, forever.
* The producer is created at start, and asks for metadata (waiting up to ``max.block.ms``, 30 s when
  unset) so that an unreachable broker is known at once. That does not fail the start: the connection
  is retried with each batch (each fails and rolls back until the broker answers). A producer that hit
  a non-retriable error in a batch that is rolled back is dropped (its queued records purged) and a new
  one made for the next batch.
* ``linger.ms`` defaults to 0 as in Java's client (librdkafka's own default is 5 ms); every batch is
  flushed anyway.
* A Flume 1.6 ``kafka.<key>`` Kafka 0.8 producer setting that has a modern equivalent
  (``kafka.request.required.acks``, ``kafka.compression.codec`` …) is used, with a warning; Flume
  1.7+ ignores them silently. ``kafka.flumeBatchSize`` (the user guide's wrong spelling) is read as a
  deprecated name of ``flumeBatchSize``; Flume ignores it.
* ``kafka.producer.transactional.id`` is refused (Flume accepts it and then every send fails).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Container, Iterable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from flafka.errors import DeliveryError
from flafka.escapes import compile_header_escapes, has_header_escapes
from flafka.event import Event
from flafka.kafka.avro_event import encode
from flafka.kafka.client_config import int_setting
from flafka.kafka.client_logs import client_log_settings
from flafka.kafka.records import event_partition, key_bytes, topic_problem
from flafka.logging_once import OncePerKind
from flafka.monitoring.counters import KafkaSinkCounter
from flafka.sinks.base import BatchSink
from flafka.sinks.kafka.batch import (
    RECORD_ERRORS,
    TOPIC_ERRORS,
    Batch,
    Headers,
    Stopped,
    bad_record,
    by_kind,
    header_name,
    not_unicode,
    reason_of,
)
from flafka.sinks.kafka.config import DEFAULT_DELIVERY_TIMEOUT_MS, KafkaSinkConfig

log = logging.getLogger("flafka.sinks.kafka")

_CLOSE_TIMEOUT_S = 5.0
_ERROR_HEADER = "flafka.error"
_INT64_MAX = 2**63 - 1  # record timestamps are int64
_HOLD_BACKOFF_MAX_S = 5.0  # longest wait between two retries of a held batch's failed records
_FLUSH_SLICE_S = 0.2  # a stop request is seen within this while waiting for delivery reports


class KafkaSink(BatchSink):
    """See the module docstring."""

    config_class = KafkaSinkConfig
    config: KafkaSinkConfig
    counter: KafkaSinkCounter

    def __init__(self, name: str, config: KafkaSinkConfig, *,
                 producer_factory: Callable[[dict[str, Any]], Producer] = Producer) -> None:
        super().__init__(name, config)
        self.counter = KafkaSinkCounter(name)
        self._producer_factory = producer_factory
        self.batch_size = config.batch_size
        self._producer_config = {**config.client_config().conf, "bootstrap.servers": ",".join(config.servers())}
        self._producer_config.setdefault("linger.ms", 0)  # Java's (and kafka-python's) default; each batch flushes
        self._acks = self._producer_config["acks"]
        # Java's producer waits up to max.block.ms for the topic's metadata before a send fails; the sink
        # makes the same bounded check when it creates a producer, so an unreachable broker fails a batch in
        # max.block.ms rather than after delivery.timeout.ms.
        self._connect_timeout = config.max_block_ms() / 1000.0
        delivery_s = int_setting(self._producer_config, "delivery.timeout.ms", DEFAULT_DELIVERY_TIMEOUT_MS) / 1000
        # librdkafka fails every record still unsent after delivery.timeout.ms; the extra second lets its
        # own error (naming the cause) arrive before flafka's deadline.
        self._flush_timeout = delivery_s + 1.0
        self._producer: Producer | None = None
        self._topic_of = compile_header_escapes(config.topic)
        self._dynamic_topic = has_header_escapes(config.topic)
        self._override = config.allow_topic_override is True
        per_event_topics = self._dynamic_topic or self._override
        self._record_errors: Container[int] = (
            {**RECORD_ERRORS, **TOPIC_ERRORS} if per_event_topics else RECORD_ERRORS)
        self._header_pairs = tuple(config.header_map.items())
        self._topic_problems: dict[str, str] = {}  # topic → "" when legal, else why not
        self._once = OncePerKind(log)
        self._trap_noted = config.allow_topic_override is not None  # explicit setting: nothing to point out

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        try:
            self._connect()
        except DeliveryError as exc:
            log.warning("Kafka sink %s cannot reach Kafka yet; each batch retries until it can. %s", self.name,
                        str(exc))
        log.info("Kafka sink %s started. topic=%s brokers=%s acks=%s", self.name, self.config.topic,
                 ",".join(self.config.servers()), self._acks)

    def stop(self) -> None:
        self.stopping.set()  # a batch held in process() (another thread) gives up
        producer, self._producer = self._producer, None
        if producer is not None:
            self._close(producer, _CLOSE_TIMEOUT_S)
        log.info("Kafka sink %s stopped. events_sent=%d bad_events=%d", self.name,
                 self.counter.event_drain_success_count, self.counter.event_write_fail)

    def _connect(self) -> Producer:
        try:
            producer = self._producer_factory({**self._producer_config,
                                               **client_log_settings(f"Kafka sink {self.name}")})
        except KafkaException as exc:
            with self.counter.lock:
                self.counter.connection_failed_count += 1
            raise DeliveryError(f"Kafka sink {self.name} cannot create its producer: {reason_of(exc)}",
                                retriable=False) from exc
        try:
            # librdkafka connects lazily (as Java): ask for metadata to know now whether a broker answers.
            producer.list_topics(timeout=self._connect_timeout)
        except KafkaException as exc:
            self._close(producer, 0.0)
            # The error's traceback keeps this frame alive (pytest, a logged exc_info): it must not keep the client
            # and its native threads.
            del producer
            with self.counter.lock:
                self.counter.connection_failed_count += 1
            raise DeliveryError(
                f"Kafka sink {self.name} cannot connect to {','.join(self.config.servers())}: {reason_of(exc)}",
                retriable=True) from exc
        with self.counter.lock:
            self.counter.connection_created_count += 1
        self._producer = producer
        return producer

    def _close(self, producer: Producer, timeout: float) -> None:
        if producer.flush(timeout):
            # Records of a failed batch still queued for a broker that is down: drop them (the batch was
            # rolled back and is sent again), so that nothing is written behind the channel's back later.
            producer.purge()
            producer.flush(0)
        with self.counter.lock:
            self.counter.connection_closed_count += 1

    # -- the batch ------------------------------------------------------------------------------

    def deliver(self, events: list[Event]) -> None:
        started = time.monotonic()
        try:
            self._send(events)
        except BaseException:
            with self.counter.lock:
                self.counter.rollback_count += 1
            raise
        finally:
            elapsed_ms = int((time.monotonic() - started) * 1000)
            with self.counter.lock:
                self.counter.kafka_event_send_timer += elapsed_ms

    def _send(self, events: list[Event]) -> None:
        """Deliver ``events``: every record acknowledged or set aside as bad (see "A failed batch" above)."""
        producer = self._producer if self._producer is not None else self._connect()
        if not self._trap_noted:
            self._note_topic_trap(events)
        batch = Batch(self.stopping, self._record_errors)
        retry: list[int] = []
        attempts = 0
        try:
            while True:
                if attempts == 0:
                    self._produce(producer, batch, events, range(len(events)))
                else:
                    self._produce(producer, batch, events, [n for n in retry if n >= 0])
                    for number in retry:
                        if number < 0:
                            self._produce_letter(producer, batch, ~number)
                self._wait(producer, batch)
                while batch.refused:  # refused by the broker (or librdkafka) per record, after the batch was sent
                    refused, batch.refused = batch.refused, []
                    for index, error, partition in refused:
                        self._set_aside(producer, batch, events[index], *bad_record(error, partition))
                    self._wait(producer, batch)
                if batch.failure is None and not batch.outstanding:
                    break
                failure = batch.failure or KafkaError(
                    KafkaError._TIMED_OUT, f"{batch.outstanding} records were not acknowledged in time",
                    retriable=True)
                if not batch.acked:
                    # Nothing of this batch reached Kafka: rolling it back sends nothing twice, and lets a
                    # failover sink group try another sink.
                    raise self._failed(producer, failure, len(events))
                retry, batch.failed, batch.failure = batch.failed, [], None
                attempts += 1
                delay = min(float(2 ** (attempts - 1)), _HOLD_BACKOFF_MAX_S)
                self._once.log(logging.WARNING, "hold",
                               f"Kafka sink {self.name} holds a batch whose other records are acknowledged and "
                               f"retries only the records that failed, so that none is written twice. "
                               f"events={len(events)} acknowledged={batch.acked} retrying={len(retry)} "
                               f"in_flight={batch.outstanding} retry_in={delay:g}s reason={reason_of(failure)}")
                if self.stopping.wait(delay):
                    raise Stopped
                if failure.fatal() and not batch.outstanding:
                    producer = self._reconnect(producer)
        except Stopped:
            raise self._given_up(batch, len(events)) from None
        self._account(batch, attempts)

    def _reconnect(self, producer: Producer) -> Producer:
        """A new producer for a held batch (a fatal error left the old one unusable), retried until stopped."""
        self._producer = None
        self._close(producer, 0.0)
        delay = 1.0
        while True:
            try:
                return self._connect()
            except DeliveryError as exc:
                self._once.log(logging.WARNING, "hold:connect", f"{exc}; the held batch waits for it. "
                                                                 f"retry_in={delay:g}s")
            if self.stopping.wait(delay):
                raise Stopped
            delay = min(delay * 2, _HOLD_BACKOFF_MAX_S)

    def _produce(self, producer: Producer, batch: Batch, events: list[Event], indices: Iterable[int]) -> None:
        """Queue the records of ``events[indices]``; events whose values cannot make a record are set aside.

        Every per-event value is judged here, before it reaches the client, with cheap checks in one loop.
        """
        config = self.config
        static_topic = config.topic
        topic_of = self._topic_of
        dynamic = self._dynamic_topic
        override = self._override
        checked = dynamic or override
        topic_header = config.topic_header
        topic_problems = self._topic_problems
        partition_header = config.partition_id_header
        default_partition = -1 if config.default_partition_id is None else config.default_partition_id
        timestamp_header = config.timestamp_header
        header_pairs = self._header_pairs
        flume_format = config.use_flume_event_format
        produce = batch.produce
        for index in indices:
            event = events[index]
            headers = event.headers
            if override:
                topic = headers.get(topic_header)
                if topic is None:
                    topic = topic_of(headers)
            elif dynamic:
                topic = topic_of(headers)
            else:
                topic = static_topic
            if checked:
                problem = topic_problems.get(topic)
                if problem is None:
                    if len(topic_problems) > 10_000:  # topics come from data: keep the cache bounded
                        topic_problems.clear()
                    problem = topic_problems[topic] = topic_problem(topic) or ""
                if problem:
                    self._set_aside(producer, batch, event, "topic", f"topic {topic!r} {problem}")
                    continue
            partition = (default_partition if partition_header is None
                         else event_partition(headers, partition_header, default_partition))
            if partition is None:
                self._set_aside(producer, batch, event, "partition",
                                f"header {partition_header}={headers.get(partition_header or '')!r} is not a "
                                "partition number")
                continue
            timestamp = 0  # librdkafka: the producer's time
            if timestamp_header is not None:
                raw = headers.get(timestamp_header)
                if raw is not None:
                    try:
                        timestamp = int(raw)
                    except ValueError:
                        timestamp = -1
                    if not 0 <= timestamp <= _INT64_MAX:
                        timestamp = 0
                        self._once.log(logging.WARNING, "timestamp",
                                       f"Kafka sink {self.name} found a timestamp header that is not epoch ms "
                                       f"(a whole number from 0 to 2^63-1); the producer's time is used. "
                                       f"{timestamp_header}={raw!r}")
            key = headers.get("key")
            try:
                record_key = None if key is None else key_bytes(key)
                record_headers: Headers | None = [(kafka_name, headers[flume_name].encode())
                                                   for flume_name, kafka_name in header_pairs
                                                   if flume_name in headers] if header_pairs else None
                value = encode(headers, event.body) if flume_format else event.body
            except UnicodeEncodeError:
                self._set_aside(producer, batch, event, "unicode", not_unicode(headers))
                continue
            try:
                refused = produce(producer, index, topic, value, key=record_key, partition=partition,
                                  timestamp=timestamp, headers=record_headers)
            except (TypeError, ValueError, OverflowError) as exc:  # a value the client cannot take (UnicodeError too)
                self._set_aside(producer, batch, event, "record", f"{type(exc).__name__}: {exc}")
                continue
            if refused is not None:
                self._set_aside(producer, batch, event, *bad_record(refused, partition))

    def _set_aside(self, producer: Producer, batch: Batch, event: Event, kind: str, reason: str) -> None:
        """A bad event: queued for the dead-letter topic when there is one, else dropped when the batch ends."""
        with self.counter.lock:
            self.counter.event_write_fail += 1
        if self.config.dead_letter_topic is None:
            batch.dropped.append((event, kind, reason))
            return
        batch.letters.append((event, kind, reason))
        self._produce_letter(producer, batch, len(batch.letters) - 1)

    def _produce_letter(self, producer: Producer, batch: Batch, number: int) -> None:
        """Queue dead letter ``number``: the value as it would have been sent, every event header as a record
        header, plus flafka.error. Text is encoded with ``surrogatepass``: a lone surrogate (which some sources
        let through) cannot make the dead letter fail too, and comes back exactly with the same handler."""
        event, _, reason = batch.letters[number]
        topic = self.config.dead_letter_topic
        assert topic is not None
        headers = event.headers
        key = headers.get("key")
        try:
            record_headers: Headers = [(header_name(k), v.encode("utf-8", "surrogatepass"))
                                        for k, v in headers.items()]
            record_headers.append((_ERROR_HEADER, reason.encode("utf-8", "surrogatepass")))
            value = (encode(headers, event.body, "surrogatepass") if self.config.use_flume_event_format
                     else event.body)
            refused = batch.produce(producer, ~number, topic, value,
                                    key=None if key is None else key.encode("utf-8", "surrogatepass"),
                                    partition=-1, timestamp=0, headers=record_headers)
        except (TypeError, ValueError, OverflowError) as exc:
            refused = KafkaError(KafkaError._INVALID_ARG, f"{type(exc).__name__}: {exc}")
        if refused is not None:
            batch.letter_refused(number, refused)

    def _wait(self, producer: Producer, batch: Batch) -> None:
        """Serve delivery reports until every queued record has one, the batch's time is up, or a stop."""
        deadline = time.monotonic() + self._flush_timeout
        while True:
            left = deadline - time.monotonic()
            # In slices, so that a stop request is seen within a fraction of a second. What flush() leaves
            # is what this batch has in flight: the producer serves one batch at a time.
            batch.outstanding = producer.flush(max(0.0, min(left, _FLUSH_SLICE_S)))
            if not batch.outstanding or left <= 0:
                return
            if self.stopping.is_set():
                raise Stopped

    def _account(self, batch: Batch, attempts: int) -> None:
        """The batch is done: count and log its dead letters and dropped events, once per kind."""
        if attempts:
            self._once.log(logging.INFO, "held", f"Kafka sink {self.name} delivered the held records. "
                                                  f"retries={attempts}")
        if batch.sent_letters:
            letters = [batch.letters[n] for n in batch.sent_letters]
            with self.counter.lock:
                self.counter.event_dead_letter_count += len(letters)
            for kind, (n, reason) in by_kind(letters).items():
                self._once.log(logging.WARNING, f"bad:{kind}",
                               f"Kafka sink {self.name} sent events it cannot write to dead-letter topic "
                               f"{self.config.dead_letter_topic}. kind={kind} events={n} reason={reason}")
        dropped = batch.dropped
        if not dropped:
            return
        if self.dead_letters.channel is not None:
            # deadLetterChannel is set: what has no dead-letter topic (or the topic refused) goes there; it counts
            # and logs.
            self.dead_letters.set_aside(dropped)
            return
        with self.counter.lock:
            self.counter.event_drop_count += len(dropped)
        hint = "" if self.config.dead_letter_topic else " (set deadLetterTopic to keep them)"
        for kind, (n, reason) in by_kind(dropped).items():
            self._once.log(logging.ERROR, f"drop:{kind}",
                           f"Kafka sink {self.name} dropped events it cannot write{hint}. kind={kind} events={n} "
                           f"dropped_total={self.counter.event_drop_count} reason={reason}")

    def _note_topic_trap(self, events: list[Event]) -> None:
        """Point out once that events name another topic in a header Flume would have obeyed."""
        header = self.config.topic_header
        for event in events:
            named = event.headers.get(header)
            if named is not None and named != self._topic_of(event.headers):
                self._trap_noted = True
                log.warning("Kafka sink %s writes events to kafka.topic although their header %s names topic %s; "
                            "Flume would have written them to %s (set allowTopicOverride = true for that, or = false "
                            "to silence this). topic=%s", self.name, header, named, named,
                            self._topic_of(event.headers))
                return

    def _given_up(self, batch: Batch, size: int) -> DeliveryError:
        return DeliveryError(
            f"Kafka sink {self.name} was stopped while it retried records of a batch; the batch is rolled back "
            f"(its acknowledged records will be written again when it is taken again). events={size} "
            f"acknowledged={batch.acked}", retriable=True)

    def _failed(self, producer: Producer, error: KafkaError, batch: int) -> DeliveryError:
        retriable = bool(error.retriable()) and not error.fatal()
        if not retriable:
            # The producer may be unusable (a fatal idempotence error is): start afresh with the next batch.
            self._producer = None
            self._close(producer, 0.0)
        return DeliveryError(
            f"Kafka sink {self.name} could not deliver a batch of {batch} events; the batch is rolled back and sent "
            f"again. {reason_of(error)}", retriable=retriable)


