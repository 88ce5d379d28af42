"""Flume's Kafka sink (``org.apache.flume.sink.kafka.KafkaSink``, reference §3.3, §6.3).

Each ``process()`` takes up to ``flumeBatchSize`` events in one channel transaction, sends them all
with one thread-safe ``KafkaProducer``, flushes, and waits for every record's acknowledgement; the
take commits only then. Any Kafka failure rolls the take back (the events go back to the head of the
channel and the whole batch is sent again later, so a record acked before the failure may be
written twice: at-least-once, as Flume). Both property generations are accepted: Flume 1.6
(``brokerList``, ``topic``, ``batchSize``, ``requiredAcks``, ``kafka.<0.8 producer key>``) with a
deprecation warning each, and Flume 1.7 to 1.11 (``kafka.bootstrap.servers``, ``kafka.topic``,
``flumeBatchSize``, ``kafka.producer.*``, ``header.*``, ``timestampHeader`` …).

Per event: the record key is the ``key`` header (UTF-8), the partition is the integer in the header
named by ``partitionIdHeader`` when present, else ``defaultPartitionId``, else the producer's
partitioner (murmur2 of the key, as Java); the record timestamp comes from ``timestampHeader``;
``header.<flumeHeader> = <kafkaHeader>`` copies headers into Kafka record headers; the value is the
body, or the AvroFlumeEvent datum of headers and body with ``useFlumeEventFormat``.

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
* Bad data never stalls the sink: an event whose partition header is not an integer (or names a
  partition the topic does not have), whose topic is empty or not a legal Kafka topic name, or that
  is larger than ``max.request.size``, is counted in ``EventWriteFail``, logged once per kind, and
  sent to ``deadLetterTopic`` when that flafka extension is set (value as it would have been sent,
  every event header as a Kafka record header, plus ``flafka.error`` saying why); without it the
  event is dropped with an ERROR log giving the count. The rest of the batch is delivered normally.
  Flume fails the whole batch, forever.
* The producer is created at start, but a broker that cannot be reached then does not fail the
  start: the connection is retried with each batch (each fails and rolls back until the broker
  answers). A producer that hit a non-retriable error is closed and a new one made for the next batch.
* A Flume 1.6 ``kafka.<key>`` Kafka 0.8 producer setting that has a modern equivalent
  (``kafka.request.required.acks``, ``kafka.compression.codec`` …) is used, with a warning; Flume
  1.7+ ignores them silently. ``kafka.flumeBatchSize`` (the user guide's wrong spelling) is read as a
  deprecated name of ``flumeBatchSize``; Flume ignores it.
* ``kafka.producer.transactional.id`` is refused (Flume accepts it and then every send fails).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError, MessageSizeTooLargeError

from flafka.config.params import ComponentConfig, param, prefixed
from flafka.errors import DeliveryError
from flafka.escapes import HEADER_ESCAPE, compile_header_escapes, has_header_escapes
from flafka.event import Event
from flafka.kafka.avro_event import encode
from flafka.kafka.client_config import ClientArgs, legacy_args, producer_args
from flafka.logging_once import OncePerKind
from flafka.monitoring.counters import KafkaSinkCounter
from flafka.sinks.base import BatchSink

__all__ = ["KafkaSink", "KafkaSinkConfig"]

log = logging.getLogger(__name__)

# Keys under "kafka." that are this sink's own (1.7+), not Flume 1.6 pass-through producer settings.
_OWN_KAFKA_KEYS = ("bootstrap.servers", "topic", "flumeBatchSize")
_TOPIC_CHARS = re.compile(r"[a-zA-Z0-9._-]+")
_TOPIC_MAX = 249
_CLOSE_TIMEOUT_S = 5.0
_DEFAULT_DELIVERY_TIMEOUT_MS = 120_000  # kafka-python's (and Java's) delivery.timeout.ms default
_DEFAULT_BOOTSTRAP_TIMEOUT_MS = 30_000
_ERROR_HEADER = "flafka.error"


def topic_problem(topic: str) -> str | None:
    """Why ``topic`` is not a legal Kafka topic name, or None when it is."""
    if not topic:
        return "is empty"
    if topic in (".", ".."):
        return "may not be '.' or '..'"
    if len(topic) > _TOPIC_MAX:
        return f"is longer than {_TOPIC_MAX} characters"
    if not _TOPIC_CHARS.fullmatch(topic):
        return "may only contain letters, digits, '.', '_' and '-'"
    return None


@dataclass(frozen=True, kw_only=True)
class KafkaSinkConfig(ComponentConfig):
    bootstrap_servers: str = param(
        "kafka.bootstrap.servers", deprecated=("brokerList",),
        doc="Comma-separated brokers (host:port) the producer connects to first.")
    topic: str = param(
        "kafka.topic", default="default-flume-topic", deprecated=("topic",),
        doc="Topic the events are written to; `%{header}` escapes are replaced per event by that header's "
            "value (empty when the event lacks it).")
    batch_size: int = param(
        "flumeBatchSize", default=100, minimum=1, deprecated=("batchSize", "kafka.flumeBatchSize"),
        doc="Most events taken from the channel and sent in one transaction.")
    acks: str = param(
        "kafka.producer.acks", default="1", deprecated=("requiredAcks",), choices=("0", "1", "all", "-1"),
        doc="Acknowledgements a record needs before it counts as written: 0, 1 (the leader) or all (-1: every "
            "in-sync replica).")
    use_flume_event_format: bool = param(
        "useFlumeEventFormat", default=False,
        doc="Write each record value as an AvroFlumeEvent datum holding the event's headers and body, instead "
            "of the body alone.")
    default_partition_id: int | None = param(
        "defaultPartitionId", default=None, minimum=0,
        doc="Partition every event is written to, unless partitionIdHeader gives one; unset: the producer's "
            "partitioner (hash of the key).")
    partition_id_header: str | None = param(
        "partitionIdHeader", default=None,
        doc="Header holding the partition number of the event (overrides defaultPartitionId); an event whose "
            "value is not a partition of the topic is bad data.")
    allow_topic_override: bool | None = param(
        "allowTopicOverride", default=None,
        doc="true: the topicHeader header, when present, chooses the event's topic. Unset or false: kafka.topic "
            "is always used, so events read by a Kafka source (which sets header topic) are not written back into "
            "the topic they came from. Unset means false here; Flume's default is true.")
    topic_header: str = param(
        "topicHeader", default="topic", doc="Header naming the event's topic when allowTopicOverride is true.")
    timestamp_header: str | None = param(
        "timestampHeader", default=None,
        doc="Header holding the record timestamp (epoch ms); unset, absent or not a number: the producer's time.")
    header_map: dict[str, str] = prefixed(
        "header.", doc="`header.<flumeHeader> = <kafkaHeader>`: copy an event header into a Kafka record header "
                       "(value UTF-8).")
    dead_letter_topic: str | None = param(
        "deadLetterTopic", default=None,
        doc="flafka extension: topic for events that cannot be written (non-integer partition header, illegal "
            "topic name, too large), with every event header as a record header plus flafka.error; unset: such "
            "events are dropped with an ERROR log.")
    serializer_class: str | None = param(
        "serializer.class", default=None, doc="Flume 1.6 (Kafka 0.8) value serializer; no effect (warning).")
    key_serializer_class: str | None = param(
        "key.serializer.class", default=None, doc="Flume 1.6 (Kafka 0.8) key serializer; no effect (warning).")
    producer: dict[str, str] = prefixed(
        "kafka.producer.", doc="Kafka producer properties (Java names, e.g. kafka.producer.linger.ms).")
    kafka: dict[str, str] = prefixed(
        "kafka.", doc="Flume 1.6: Kafka 0.8 producer properties; mapped to the modern producer when they have an "
                      "equivalent, with a warning.")

    def events_per_transaction(self) -> int:
        return self.batch_size

    def _legacy(self) -> dict[str, str]:
        legacy = {k: v for k, v in self.kafka.items()
                  if not k.startswith(("producer.", "consumer.")) and k not in _OWN_KAFKA_KEYS}
        if "type" in self.producer:  # kafka.producer.type is the 0.8 key producer.type, not a modern one
            legacy["producer.type"] = self.producer["type"]
        return legacy

    def client_args(self) -> ClientArgs:
        """KafkaProducer arguments (without bootstrap_servers) from every generation's properties."""
        legacy = legacy_args(self._legacy(), producer=True)
        legacy_acks = legacy.args.pop("acks", None)
        legacy.args.pop("enable_idempotence", None)  # decided below from the acks finally used
        props = {k: v for k, v in self.producer.items() if k not in ("bootstrap.servers", "type")}
        if "acks" not in props:
            # requiredAcks (or the default) wins over a Flume 1.6 kafka.request.required.acks, unless the
            # default is all there is.
            props["acks"] = self.acks
            if legacy_acks is not None and self.acks == "1":
                props["acks"] = str(legacy_acks)
        modern = producer_args(props, default_acks=1)
        return ClientArgs({**legacy.args, **modern.args}, legacy.errors + modern.errors,
                          legacy.warnings + modern.warnings)

    def servers(self) -> list[str]:
        return [s.strip() for s in self.bootstrap_servers.split(",") if s.strip()]

    def check(self) -> Iterable[tuple[str | None, str]]:
        args = self.client_args()
        problems: list[tuple[str | None, str]] = list(args.errors)
        if not self.servers():
            problems.append(("kafka.bootstrap.servers", "is empty"))
        # The literal parts of the topic must be legal; an escape stands for any legal text.
        template = HEADER_ESCAPE.sub("x", self.topic)
        problem = topic_problem(template)
        if problem is not None:
            hint = " (only %{header} escapes are expanded here)" if "%" in template else ""
            problems.append(("kafka.topic", f"{problem}: {self.topic!r}{hint}"))
        if self.dead_letter_topic is not None:
            problem = topic_problem(self.dead_letter_topic)
            if problem is not None:
                problems.append(("deadLetterTopic", f"{problem}: {self.dead_letter_topic!r}"))
        if "transactional.id" in self.producer:
            problems.append(("kafka.producer.transactional.id",
                             "is not supported by the Kafka sink (Flume never begins a transaction, so every send "
                             "would fail); remove it"))
        delivery = args.args.get("delivery_timeout_ms", _DEFAULT_DELIVERY_TIMEOUT_MS)
        floor = args.args.get("linger_ms", 0) + args.args.get("request_timeout_ms", 30_000)
        if delivery < floor:
            problems.append(("kafka.producer.delivery.timeout.ms",
                             f"({delivery}) must be at least linger.ms + request.timeout.ms ({floor})"))
        for flume_name, kafka_name in self.header_map.items():
            if not kafka_name.strip():
                problems.append((f"header.{flume_name}", "needs the name of the Kafka record header"))
        return problems

    def check_warnings(self) -> Iterable[tuple[str | None, str]]:
        warnings: list[tuple[str | None, str]] = list(self.client_args().warnings)
        for key, value in (("serializer.class", self.serializer_class),
                           ("key.serializer.class", self.key_serializer_class)):
            if value is not None:
                warnings.append((key, "is a Kafka 0.8 serializer setting (Flume 1.6) with no effect; ignored (keys "
                                      "are written as UTF-8 text, values as bytes)"))
        if "bootstrap.servers" in self.producer:
            warnings.append(("kafka.producer.bootstrap.servers", "ignored: kafka.bootstrap.servers is used"))
        return warnings


class KafkaSink(BatchSink):
    """See the module docstring."""

    config_class = KafkaSinkConfig
    config: KafkaSinkConfig
    counter: KafkaSinkCounter

    def __init__(self, name: str, config: KafkaSinkConfig) -> None:
        super().__init__(name, config)
        self.counter = KafkaSinkCounter(name)
        self.batch_size = config.batch_size
        args = config.client_args().args
        args["bootstrap_servers"] = config.servers()
        # kafka-python connects in its constructor (Java's producer does not): bound that wait like a send's
        # metadata wait, so a start against a broker that is down does not hang.
        args.setdefault("bootstrap_timeout_ms", args.get("max_block_ms", _DEFAULT_BOOTSTRAP_TIMEOUT_MS))
        self._producer_args: dict[str, Any] = args
        delivery_s = args.get("delivery_timeout_ms", _DEFAULT_DELIVERY_TIMEOUT_MS) / 1000.0
        # kafka-python fails every record still unsent after delivery.timeout.ms; the extra second lets its
        # own error (naming the cause) arrive before flafka's deadline.
        self._flush_timeout = delivery_s + 1.0
        self._producer: KafkaProducer | None = None
        self._topic_of = compile_header_escapes(config.topic)
        self._dynamic_topic = has_header_escapes(config.topic)
        self._override = config.allow_topic_override is True
        self._header_pairs = tuple(config.header_map.items())
        self._topic_problems: dict[str, str] = {}  # topic → "" when legal, else why not
        self._once = OncePerKind(log)
        self._trap_noted = config.allow_topic_override is not None  # explicit setting: nothing to point out
        self._dropped = 0

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        self.counter.start()
        try:
            self._connect()
        except DeliveryError as exc:
            # str(exc): a log record holding the exception would keep its traceback (and kafka-python's
            # sockets in it) alive as long as the record lives.
            log.warning("Kafka sink %s cannot reach Kafka yet; each batch retries until it can. %s", self.name,
                        str(exc))
        log.info("Kafka sink %s started. topic=%s brokers=%s acks=%s", self.name, self.config.topic,
                 ",".join(self.config.servers()), self._producer_args.get("acks"))

    def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            self._close(producer, _CLOSE_TIMEOUT_S)
        self.counter.stop()
        log.info("Kafka sink %s stopped. events_sent=%d bad_events=%d", self.name,
                 self.counter.event_drain_success_count, self.counter.event_write_fail)

    def _connect(self) -> KafkaProducer:
        created: list[Any] = []
        net_client = KafkaProducer.DEFAULT_CONFIG["kafka_client"]

        def client(**kwargs: Any) -> Any:
            made = net_client(**kwargs)
            created.append(made)
            return made

        try:
            # The factory keeps a handle on the network client: kafka-python does not close it when its
            # constructor fails, and a sink retrying for hours must not leak its sockets.
            producer = KafkaProducer(kafka_client=client, **self._producer_args)
        except KafkaError as exc:
            for made in created:
                _quietly(made.close)
            self.counter.connection_failed_count += 1
            raise DeliveryError(
                f"Kafka sink {self.name} cannot connect to {','.join(self.config.servers())}: "
                f"{type(exc).__name__}: {exc}", retriable=bool(getattr(exc, "retriable", False))) from exc
        except ValueError as exc:  # a setting the broker turns out not to support (e.g. zstd on an old one)
            for made in created:
                _quietly(made.close)
            self.counter.connection_failed_count += 1
            raise DeliveryError(f"Kafka sink {self.name} cannot create its producer: {exc}",
                                retriable=False) from exc
        self.counter.connection_created_count += 1
        self._producer = producer
        return producer

    def _close(self, producer: KafkaProducer, timeout: float) -> None:
        try:
            producer.close(timeout=timeout)
        except KafkaError:
            # kafka-python's close() gives up when its flush times out (records of a failed batch still
            # queued for a broker that is down) and leaves its sender thread running: force it, as Java does.
            sender = getattr(producer, "_sender", None)
            if sender is not None:
                sender.force_close()
            try:
                producer.close(timeout=max(timeout, 1.0))
            except KafkaError as exc:
                log.warning("Kafka sink %s could not close its producer cleanly. %s", self.name, str(exc))
        self.counter.connection_closed_count += 1

    # -- the batch ------------------------------------------------------------------------------

    def deliver(self, events: list[Event]) -> None:
        started = time.monotonic()
        try:
            self._send(events)
        except BaseException:
            self.counter.rollback_count += 1
            raise
        finally:
            self.counter.kafka_event_send_timer += int((time.monotonic() - started) * 1000)

    def _send(self, events: list[Event]) -> None:
        producer = self._producer if self._producer is not None else self._connect()
        config = self.config
        send = producer.send
        static_topic = config.topic
        topic_of = self._topic_of
        dynamic = self._dynamic_topic
        override = self._override
        checked = dynamic or override
        topic_header = config.topic_header
        topic_problems = self._topic_problems
        partition_header = config.partition_id_header
        default_partition = config.default_partition_id
        timestamp_header = config.timestamp_header
        header_pairs = self._header_pairs
        flume_format = config.use_flume_event_format
        if not self._trap_noted:
            self._note_topic_trap(events)
        futures: list[Any] = []
        bad: list[tuple[Event, str, str]] = []  # (event, kind, reason)
        try:
            for event in events:
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
                        bad.append((event, "topic", f"topic {topic!r} {problem}"))
                        continue
                partition = default_partition
                if partition_header is not None:
                    raw = headers.get(partition_header)
                    if raw is not None:
                        try:
                            partition = int(raw)
                        except ValueError:
                            bad.append((event, "partition", f"header {partition_header}={raw!r} is not a "
                                                            "partition number"))
                            continue
                timestamp = None
                if timestamp_header is not None:
                    raw = headers.get(timestamp_header)
                    if raw is not None:
                        try:
                            timestamp = int(raw)
                        except ValueError:
                            self._once.log(logging.WARNING, "timestamp",
                                           f"Kafka sink {self.name} found a timestamp header that is not epoch "
                                           f"ms; the producer's time is used. {timestamp_header}={raw!r}")
                key = headers.get("key")
                record_headers = [(kafka_name, headers[flume_name].encode())
                                  for flume_name, kafka_name in header_pairs
                                  if flume_name in headers] if header_pairs else None
                try:
                    futures.append(send(
                        topic,
                        value=encode(headers, event.body) if flume_format else event.body,
                        key=None if key is None else key.encode(),
                        headers=record_headers,
                        partition=partition,
                        timestamp_ms=timestamp,
                    ))
                except ValueError as exc:
                    if partition is None:
                        raise DeliveryError(f"Kafka sink {self.name} could not send to topic {topic}: {exc}") from exc
                    bad.append((event, "partition", f"partition {partition}: {exc}"))
                except MessageSizeTooLargeError as exc:
                    bad.append((event, "size", str(exc)))
            if bad:
                futures += self._set_aside(send, bad)
            deadline = time.monotonic() + self._flush_timeout
            producer.flush(timeout=self._flush_timeout)
            for future in futures:  # all done after a flush that returned: get() only reads the outcome
                future.get(timeout=max(0.1, deadline - time.monotonic()))
        except KafkaError as exc:
            retriable = bool(getattr(exc, "retriable", False))
            if not retriable:
                # The producer may be unusable (e.g. an idempotence error is fatal to it): start afresh.
                self._producer = None
                self._close(producer, 0.0)
            raise DeliveryError(
                f"Kafka sink {self.name} could not deliver a batch of {len(events)} events; the batch is rolled back "
                f"and sent again. {type(exc).__name__}: {exc}", retriable=retriable) from exc

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

    def _set_aside(self, send: Any, bad: list[tuple[Event, str, str]]) -> list[Any]:
        """Send bad events to the dead-letter topic, or drop them (counted, logged once per kind)."""
        self.counter.event_write_fail += len(bad)
        dead_letters = self.config.dead_letter_topic
        flume_format = self.config.use_flume_event_format
        futures = []
        sent: dict[str, tuple[int, str]] = {}  # kind → (events, first reason)
        dropped: dict[str, tuple[int, str]] = {}
        for event, bad_kind, bad_reason in bad:
            kind, reason = bad_kind, bad_reason
            if dead_letters is not None:
                key = event.headers.get("key")
                record_headers = [(k, v.encode()) for k, v in event.headers.items()]
                record_headers.append((_ERROR_HEADER, reason.encode()))
                try:
                    futures.append(send(dead_letters,
                                        value=encode(event.headers, event.body) if flume_format else event.body,
                                        key=None if key is None else key.encode(), headers=record_headers))
                except (ValueError, MessageSizeTooLargeError) as exc:
                    kind, reason = f"{kind}+dead-letter", f"{reason}; the dead-letter topic refused it too: {exc}"
                else:
                    n, first = sent.get(kind, (0, reason))
                    sent[kind] = (n + 1, first)
                    continue
            n, first = dropped.get(kind, (0, reason))
            dropped[kind] = (n + 1, first)
        for kind, (n, reason) in sent.items():
            self._once.log(logging.WARNING, f"bad:{kind}",
                           f"Kafka sink {self.name} sent events it cannot write to dead-letter topic {dead_letters}. "
                           f"events={n} reason={reason}")
        for kind, (n, reason) in dropped.items():
            self._dropped += n
            self._once.log(logging.ERROR, f"drop:{kind}",
                           f"Kafka sink {self.name} dropped events it cannot write"
                           f"{'' if dead_letters else ' (set deadLetterTopic to keep them)'}. events={n} "
                           f"dropped_total={self._dropped} reason={reason}")
        return futures


def _quietly(close: Any) -> None:
    try:
        close()
    except Exception as exc:  # best-effort cleanup of a half-built client; the cause was raised
        log.debug("closing a half-built Kafka client failed: %s", str(exc))
