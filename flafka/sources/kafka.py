"""Flume's Kafka source (``org.apache.flume.source.kafka.KafkaSource``, reference §3.1, §6.1).

A pollable source: each ``process()`` fills one batch (``batchSize`` events or ``batchDurationMillis``),
hands it to the channel processor, and only after that returned commits the batch's offsets
synchronously. A batch the channels refused stays in hand and is offered again (with the same
offsets); a failed commit is retried with the next one. Both property generations work: Flume 1.6
(``zookeeperConnect``, ``topic``, ``groupId``, ``kafka.<0.8 key>``) and 1.7+ (``kafka.bootstrap.servers``,
``kafka.topics``, ``kafka.topics.regex``, ``kafka.consumer.*``).

Better than Flume (so that a clean rebalance or restart produces no duplicates):

* On partition revocation (inside ``poll``, before the group rebalances) the batch in hand is delivered
  and its offsets committed in the callback; if it cannot be delivered, the events of the revoked
  partitions are dropped from it uncommitted (their new owner reads them again), the rest are kept.
* ``stop()`` commits the offsets of everything delivered.
* An empty batch does not make the runner sleep Flume's back-off (1 s growing to 5 s): the poll itself
  waited ``batchDurationMillis`` for records, so the next record is read as soon as it arrives.
* A record that is not a valid AvroFlumeEvent (``useFlumeEventFormat = true``) is a bad record: counted
  in ``EventReadFail``, logged once per kind, and sent to ``deadLetterTopic`` when set (a flafka
  extension; ``EventDeadLetterCount``), else skipped (``EventDropCount``); it never stalls.
* A record with a null value (a tombstone) is an event with an empty body when
  ``useFlumeEventFormat = false`` (as Flume). With ``useFlumeEventFormat = true`` it holds no
  AvroFlumeEvent: a bad record. Its dead letter has an empty value (Kafka producers refuse a record
  with neither key nor value) and header ``flafka.error`` saying the value was null.

Dead letters (``deadLetterTopic``) carry the record's key, value and headers as read, plus header
``flafka.error`` saying why. Each bad record is sent once: dead letters go out only after the channels
accepted the batch's good events (a batch the channels refused is offered again, and its bad records
must not be sent again with it) and before the batch's offsets are committed (so a crash re-reads
records whose dead letter is not acknowledged). A dead letter the producer or the broker refuses as a
record (larger than the producer's 1 MB ``max.request.size``, say) is dropped: logged once per kind
and counted in ``EventDropCount``. A transient failure (broker unreachable, timeout) holds the batch's
offsets: the source retries the dead letters that failed with the runner's back-off (logged once per
kind), never one already acknowledged or still awaiting its answer, and reads nothing new until they
are through. At a stop or a rebalance, partitions with dead letters still unsent are not committed:
their next reader reads those records again.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from kafka import AsyncConsumerRebalanceListener, KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition
from kafka.errors import KafkaError

from flafka.config.params import ComponentConfig, param, prefixed
from flafka.errors import ChannelError, FlafkaError
from flafka.event import Event
from flafka.java_regex import compile_java_regex
from flafka.java_regex import translate as translate_java_regex
from flafka.kafka.avro_event import AvroDecodeError, decode
from flafka.kafka.client_config import ClientArgs, consumer_args, legacy_args, producer_args
from flafka.kafka.zookeeper import brokers_from_zookeeper, migrate_offsets
from flafka.logging_once import OncePerKind
from flafka.monitoring.counters import KafkaSourceCounter
from flafka.sources.base import PollableSource, Status

log = logging.getLogger(__name__)

_OWN_KAFKA_KEYS = ("bootstrap.servers", "topics", "topics.regex", "consumer.group.id")
_FIRST_POLL_S = 0.1
_ERROR_HEADER = "flafka.error"
# The dead-letter producer's waits: short, so that a broker that is down holds one process() call (the
# source's lock, which stop() needs) for seconds, not kafka-python's 60 s; the runner backs off between.
_DEAD_LETTER_MAX_BLOCK_MS = 5000
_DEAD_LETTER_FLUSH_S = 5.0


class KafkaSourceError(ChannelError):
    """The source could not reach or commit to Kafka (retriable: the runner backs off)."""


class _Refused:
    """What a dead letter's send is once the producer refused the record outright (a failed future)."""

    is_done = True

    def __init__(self, exception: Exception) -> None:
        self.exception = exception

    def succeeded(self) -> bool:
        return False

    def failed(self) -> bool:
        return True


@dataclass(slots=True)
class _DeadLetter:
    """A bad record waiting for the dead-letter topic; ``sent`` is its producer future once sent."""

    record: Any
    reason: str
    sent: Any = None  # kafka.producer.future.FutureRecordMetadata (untyped library)


@dataclass(frozen=True, kw_only=True)
class KafkaSourceConfig(ComponentConfig):
    batch_size_key: ClassVar[str] = "batchSize"

    bootstrap_servers: str | None = param(
        "kafka.bootstrap.servers", default=None,
        doc="Comma-separated brokers. When absent, brokers are looked up in `zookeeperConnect`.")
    topics: str | None = param("kafka.topics", default=None, deprecated=("topic",),
                               doc="Comma-separated topics to read.")
    topics_regex: str | None = param("kafka.topics.regex", default=None,
                                     doc="Regex of topics to read (full match); wins over kafka.topics.")
    group_id: str = param("kafka.consumer.group.id", default="flume", deprecated=("groupId",),
                          doc="Consumer group.")
    batch_size: int = param("batchSize", default=1000, minimum=1,
                            doc="Most events per batch (one channel transaction, one offset commit).")
    batch_duration_ms: int = param("batchDurationMillis", default=1000, minimum=1,
                                   doc="Longest time spent filling one batch, ms.")
    backoff_sleep_increment: int = param("backoffSleepIncrement", default=1000, minimum=0,
                                         doc="Runner back-off step after an empty or failed batch, ms.")
    max_backoff_sleep: int = param("maxBackoffSleep", default=5000, minimum=0, doc="Runner back-off cap, ms.")
    use_flume_event_format: bool = param(
        "useFlumeEventFormat", default=False,
        doc="Record values are AvroFlumeEvent datums: their headers and body become the event's.")
    set_topic_header: bool = param("setTopicHeader", default=True, doc="Put the record's topic in a header.")
    topic_header: str = param("topicHeader", default="topic", doc="Name of that header.")
    zookeeper_connect: str | None = param(
        "zookeeperConnect", default=None,
        doc="Flume 1.6: ZooKeeper of the Kafka cluster (`host:port[,…][/chroot]`), used to find the brokers "
            "when kafka.bootstrap.servers is absent, and to migrate old offsets.")
    migrate_zookeeper_offsets: bool = param(
        "migrateZookeeperOffsets", default=True,
        doc="With zookeeperConnect and one topic: copy the group's Kafka 0.8 ZooKeeper offsets to Kafka when "
            "Kafka has none for it.")
    header_map: dict[str, str] = prefixed(
        "header.", doc="`header.<flumeHeader> = <kafkaHeader>`: copy a Kafka record header into an event header.")
    dead_letter_topic: str | None = param(
        "deadLetterTopic", default=None,
        doc="flafka extension: records that cannot be decoded with useFlumeEventFormat (not an AvroFlumeEvent, or "
            "a null value) are produced here as they were read (a null value as an empty one), with header "
            "flafka.error saying why, instead of being skipped.")
    consumer: dict[str, str] = prefixed("kafka.consumer.", doc="Kafka consumer properties (Java names).")
    kafka: dict[str, str] = prefixed("kafka.", doc="Flume 1.6: Kafka 0.8 consumer properties (mapped when they "
                                                   "have a modern equivalent, with a warning).")

    def _legacy(self) -> dict[str, str]:
        return {k: v for k, v in self.kafka.items()
                if not k.startswith(("consumer.", "producer.")) and k not in _OWN_KAFKA_KEYS}

    def client_args(self) -> ClientArgs:
        legacy = legacy_args(self._legacy(), producer=False)
        modern = consumer_args({k: v for k, v in self.consumer.items() if k != "group.id"})
        merged = ClientArgs({**legacy.args, **modern.args}, legacy.errors + modern.errors,
                            legacy.warnings + modern.warnings)
        merged.args.setdefault("max_poll_records", self.batch_size)
        return merged

    def topic_list(self) -> list[str]:
        return [t.strip() for t in (self.topics or "").split(",") if t.strip()]

    def check(self) -> Iterable[tuple[str | None, str]]:
        problems: list[tuple[str | None, str]] = [(k, m) for k, m in self.client_args().errors]
        if not self.bootstrap_servers and not self.zookeeper_connect:
            problems.append(("kafka.bootstrap.servers", "is required (or zookeeperConnect, Flume 1.6 style)"))
        if not self.topics_regex and not self.topic_list():
            problems.append(("kafka.topics", "is required: kafka.topics, kafka.topics.regex or (Flume 1.6) topic"))
        if self.topics_regex:
            try:
                compile_java_regex(self.topics_regex)
            except ValueError as exc:
                problems.append(("kafka.topics.regex", str(exc)))
        if self.dead_letter_topic is not None and not self.use_flume_event_format:
            problems.append(("deadLetterTopic", "only applies with useFlumeEventFormat = true (nothing else can "
                                                "fail to decode)"))
        return problems

    def check_warnings(self) -> Iterable[tuple[str | None, str]]:
        return self.client_args().warnings


class _Rebalance(AsyncConsumerRebalanceListener):  # type: ignore[misc]  # untyped library base
    """kafka-python 3 runs this on its IO thread while the runner thread waits inside ``poll``: the batch
    in hand can be touched safely, but a blocking consumer call would deadlock, so the commit is awaited."""

    def __init__(self, source: KafkaSource) -> None:
        self._source = source

    async def on_partitions_revoked(self, revoked: Any) -> None:
        source = self._source
        offsets = source._prepare_revocation(set(revoked))
        if not offsets or source._consumer is None:
            return
        started = time.monotonic()
        try:
            await source._consumer.commit_async(offsets)
        except KafkaError as exc:
            source._revocation_commit_failed(set(revoked), exc)
            return
        finally:
            source.counter.kafka_commit_timer += int((time.monotonic() - started) * 1000)
        source._committed(offsets)
        log.info("Kafka source %s delivered and committed its batch before giving up partitions. partitions=%d",
                 source.name, len(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        log.info("Kafka source %s was assigned partitions. partitions=%s", self._source.name,
                 ",".join(sorted(f"{tp.topic}-{tp.partition}" for tp in assigned)) or "none")

    async def on_partitions_lost(self, lost: Any) -> None:
        self._source._drop(set(lost), "lost its partitions (evicted from the group)")


class KafkaSource(PollableSource):
    """See the module docstring."""

    config_class = KafkaSourceConfig
    config: KafkaSourceConfig
    counter: KafkaSourceCounter

    def __init__(self, name: str, config: KafkaSourceConfig) -> None:
        super().__init__(name, config)
        self.counter = KafkaSourceCounter(name)
        self.backoff_sleep_increment_ms = config.backoff_sleep_increment
        self.max_backoff_sleep_ms = config.max_backoff_sleep
        self._consumer: KafkaConsumer | None = None
        self._dead_letters: KafkaProducer | None = None
        self._lock = threading.RLock()  # process() on the runner thread vs stop() from the agent
        self._once = OncePerKind(log)
        # The batch in hand: events per partition (in poll order) and the next offset per partition.
        self._segments: list[tuple[TopicPartition, list[Event]]] = []
        self._count = 0
        self._bad: list[_DeadLetter] = []  # bad records of the batch in hand, not yet acknowledged by the topic
        self._offsets: dict[TopicPartition, int] = {}  # read, not yet committed
        self._first: dict[TopicPartition, int] = {}  # the first offset read since the last commit
        self._delivered = False  # the batch in hand was accepted by the channels; only its commit is due
        self._revoked = False
        reverse: dict[str, list[str]] = {}
        for flume_name, kafka_name in config.header_map.items():
            reverse.setdefault(kafka_name, []).append(flume_name)
        self._header_map = reverse

    # -- lifecycle ------------------------------------------------------------------------------

    def _bootstrap(self) -> list[str]:
        if self.config.bootstrap_servers:
            return [s.strip() for s in self.config.bootstrap_servers.split(",") if s.strip()]
        assert self.config.zookeeper_connect is not None
        protocol = self.config.client_args().args.get("security_protocol", "PLAINTEXT")
        brokers = brokers_from_zookeeper(self.config.zookeeper_connect, security_protocol=protocol)
        log.info("Kafka source %s found brokers in ZooKeeper. brokers=%s", self.name, ",".join(brokers))
        return brokers

    def start(self) -> None:
        config = self.config
        args = config.client_args().args
        bootstrap = self._bootstrap()
        topics = config.topic_list()
        if (config.zookeeper_connect and config.migrate_zookeeper_offsets and not config.topics_regex
                and len(topics) == 1):
            migrate_offsets(config.zookeeper_connect, bootstrap, config.group_id, topics[0], args)
        try:
            consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=config.group_id, **args)
            listener = _Rebalance(self)
            if config.topics_regex:
                # Java's Pattern, as Flume; kafka-python compiles the translation without flags, hence (?a).
                consumer.subscribe(pattern=f"(?a)^(?:{translate_java_regex(config.topics_regex)})$",
                                   listener=listener)
            else:
                # Fetch the topics' metadata before the first poll joins the group: kafka-python may
                # otherwise join with metadata that lacks them and be assigned nothing until the next
                # metadata refresh (minutes later).
                for topic in topics:
                    consumer.partitions_for_topic(topic)
                consumer.subscribe(topics=topics, listener=listener)
            if config.dead_letter_topic:
                self._dead_letters = KafkaProducer(
                    bootstrap_servers=bootstrap,
                    **producer_args({"max.block.ms": str(_DEAD_LETTER_MAX_BLOCK_MS)}, default_acks="all").args)
        except KafkaError as exc:
            raise KafkaSourceError(f"Kafka source {self.name} cannot connect to {','.join(bootstrap)}: {exc}") from exc
        self._consumer = consumer
        self.counter.start()
        log.info("Kafka source %s started. group=%s topics=%s", self.name, config.group_id,
                 config.topics_regex or ",".join(topics))

    def stop(self) -> None:
        with self._lock:
            consumer = self._consumer
            if consumer is not None:
                if self._delivered and not self._finish(consumer) and self._bad:
                    # Graceful stop: everything delivered is committed, except partitions whose dead letters
                    # could not be sent: their next reader reads those records again.
                    log.warning("Kafka source %s stops with dead letters it could not send; the offsets of their "
                                "partitions are not committed, so those records are read again. records=%d",
                                self.name, len(self._bad))
                    self._drop(self._unsent_partitions(), "stopped with dead letters unsent")
                    self._commit(consumer)
                # Leaving the group revokes the partitions: the listener delivers and commits what is in hand.
                consumer.close(autocommit=False, timeout_ms=5000)
                self._consumer = None
            if self._dead_letters is not None:
                self._dead_letters.close(timeout=5)
                self._dead_letters = None
            self.counter.stop()

    # -- the batch ------------------------------------------------------------------------------

    def process(self) -> Status:
        with self._lock:
            consumer = self._consumer
            if consumer is None:
                return Status.BACKOFF
            if self._delivered and not self._finish(consumer):
                # Dead letters or a commit failed last time: the events are in the channels already.
                return Status.BACKOFF
            self._revoked = False
            started = time.monotonic()
            self._fill(consumer)
            if not self._count and not self._bad:
                # The empty poll already waited for records: poll again at once (Flume sleeps its back-off
                # here, up to 5 s of latency for the next record). Back off only when poll did not wait.
                waited = time.monotonic() - started >= self.config.batch_duration_ms / 2000.0
                return Status.READY if waited else Status.BACKOFF
            if not self._deliver():
                return Status.BACKOFF
            return Status.READY if self._finish(consumer) else Status.BACKOFF

    def _fill(self, consumer: KafkaConsumer) -> None:
        config = self.config
        counter = self.counter
        started = time.monotonic()
        deadline = started + config.batch_duration_ms / 1000.0
        # kafka-python cannot finish a fetch (or an offset reset) within a few ms: until the first record
        # arrives the batch waits at least _FIRST_POLL_S. Records end the wait as soon as they arrive, so
        # this bounds only an idle wait, not latency.
        idle_deadline = max(deadline, started + _FIRST_POLL_S)
        while self._count < config.batch_size:
            remaining = (deadline if self._count else idle_deadline) - time.monotonic()
            if remaining <= 0:
                break
            polled_at = time.monotonic()
            polled = consumer.poll(timeout_ms=max(1, math.ceil(remaining * 1000)),
                                   max_records=config.batch_size - self._count)
            counter.kafka_event_get_timer += int((time.monotonic() - polled_at) * 1000)
            for tp, records in polled.items():
                self._segments.append((tp, self._events(records)))
                self._first.setdefault(tp, records[0].offset)
                self._offsets[tp] = records[-1].offset + 1
            if self._revoked:
                break
        if not self._count and not self._bad:
            counter.kafka_empty_count += 1

    def _events(self, records: list[Any]) -> list[Event]:
        config = self.config
        flume_format = config.use_flume_event_format
        topic_header = config.topic_header if config.set_topic_header else None
        header_map = self._header_map
        now = str(int(time.time() * 1000))
        out: list[Event] = []
        append = out.append
        if not flume_format and not header_map and records:
            # The common case in one tight loop: a records list is one partition of one topic.
            partition = str(records[0].partition)
            topic = records[0].topic
            for record in records:
                ts = record.timestamp
                headers = {"timestamp": str(ts) if ts >= 0 else now, "partition": partition,
                           "offset": str(record.offset)}
                if topic_header is not None:
                    headers[topic_header] = topic
                key = record.key
                if key is not None:
                    headers["key"] = key.decode("utf-8", "replace")
                value = record.value
                append(Event(b"" if value is None else value, headers))
            self._count += len(out)
            return out
        for record in records:
            value = record.value
            if flume_format:
                if value is None:
                    self._bad_record(record, "tombstone", "the value is null (a tombstone), not an AvroFlumeEvent")
                    continue
                try:
                    headers, body = decode(value)
                except AvroDecodeError as exc:
                    self._bad_record(record, "avro", f"the value is not an AvroFlumeEvent: {exc}")
                    continue
            else:
                headers, body = {}, b"" if value is None else value
            if "timestamp" not in headers:
                headers["timestamp"] = str(record.timestamp) if record.timestamp >= 0 else now
            if header_map and record.headers:
                for kafka_name, kafka_value in record.headers:
                    for flume_name in header_map.get(kafka_name, ()):
                        headers[flume_name] = (kafka_value or b"").decode("utf-8", "replace")
            if topic_header is not None and topic_header not in headers:
                headers[topic_header] = record.topic
            if "partition" not in headers:
                headers["partition"] = str(record.partition)
            if "offset" not in headers:
                headers["offset"] = str(record.offset)
            if record.key is not None:
                headers["key"] = record.key.decode("utf-8", "replace")
            append(Event(body, headers))
        self._count += len(out)
        return out

    def _bad_record(self, record: Any, kind: str, reason: str) -> None:
        self.counter.event_read_fail += 1
        where = f"topic={record.topic} partition={record.partition} offset={record.offset}"
        if self._dead_letters is not None:
            self._bad.append(_DeadLetter(record, reason))
            self._once.log(logging.WARNING, kind, f"Kafka source {self.name} read a record it cannot deliver; it "
                           f"goes to dead-letter topic {self.config.dead_letter_topic}. {where} reason={reason}")
        else:
            self.counter.event_drop_count += 1
            self._once.log(logging.WARNING, kind, f"Kafka source {self.name} skipped a record it cannot deliver (set "
                           f"deadLetterTopic to keep such records). {where} reason={reason} "
                           f"dropped_total={self.counter.event_drop_count}")

    def _deliver(self) -> bool:
        """Hand the batch's events to the channels; True on success (its dead letters and commit are then due)."""
        events = [e for _, segment in self._segments for e in segment]
        try:
            if events:
                self.channel_processor.process_batch(events)
        except FlafkaError:
            return False  # kept in hand, offered again next time; the channel processor logged it
        self._segments = []
        self._count = 0
        self._delivered = True
        return True

    def _finish(self, consumer: KafkaConsumer) -> bool:
        """The batch is in the channels: send its dead letters, then commit; True when both are done."""
        if self._bad:
            self._send_dead_letters()
            if self._bad:
                return False
        return self._commit(consumer)

    def _send_dead_letters(self) -> None:
        """Send the bad records not yet acknowledged; those acknowledged or refused leave ``_bad``.

        A record is sent again only after its last send failed for a transient reason; one still awaiting
        its answer is waited for, never sent twice."""
        producer = self._dead_letters
        topic = self.config.dead_letter_topic
        assert producer is not None
        assert topic is not None
        transient: Exception | None = None
        for letter in self._bad:
            if letter.sent is not None and not letter.sent.failed():
                continue  # acknowledged or awaiting its answer
            record = letter.record
            headers = [*(record.headers or ()), (_ERROR_HEADER, letter.reason.encode())]
            try:
                # A tombstone without a key: producers refuse a record with neither, so its value is empty.
                letter.sent = producer.send(topic, value=b"" if record.value is None else record.value,
                                            key=record.key, headers=headers)
            except KafkaError as exc:
                if exc.retriable:
                    transient = exc  # the broker is unreachable (metadata wait): the rest would wait the same
                    letter.sent = None
                    break
                letter.sent = _Refused(exc)
            except (TypeError, ValueError) as exc:  # a record the producer refuses outright
                letter.sent = _Refused(exc)
        try:
            producer.flush(timeout=_DEAD_LETTER_FLUSH_S)
        except KafkaError as exc:
            transient = transient or exc
        kept: list[_DeadLetter] = []
        for letter in self._bad:
            sent = letter.sent
            if sent is None or not sent.is_done:
                kept.append(letter)
            elif sent.succeeded():
                self.counter.event_dead_letter_count += 1
            elif getattr(sent.exception, "retriable", False):
                transient = transient or sent.exception
                kept.append(letter)  # sent again next time
            else:
                self._refused(letter, sent.exception)
        self._bad = kept
        if kept:
            self._once.log(logging.WARNING, "dead-letter:transient",
                           f"Kafka source {self.name} could not send records to dead-letter topic {topic}; it "
                           f"retries them and commits the batch's offsets once they are through. records={len(kept)} "
                           f"error={transient or 'not acknowledged in time'}")

    def _refused(self, letter: _DeadLetter, exc: BaseException) -> None:
        self.counter.event_drop_count += 1
        record = letter.record
        self._once.log(logging.ERROR, f"dead-letter:{type(exc).__name__}",
                       f"Kafka source {self.name} dropped a record the dead-letter topic "
                       f"{self.config.dead_letter_topic} refused. topic={record.topic} partition={record.partition} "
                       f"offset={record.offset} reason={letter.reason} error={type(exc).__name__}: {exc} "
                       f"dropped_total={self.counter.event_drop_count}")

    def _commit(self, consumer: KafkaConsumer) -> bool:
        if not self._offsets:
            self._delivered = False
            return True
        started = time.monotonic()
        try:
            consumer.commit({tp: OffsetAndMetadata(offset, "", -1) for tp, offset in self._offsets.items()})
        except KafkaError as exc:
            owned = consumer.assignment()
            gone = [tp for tp in self._offsets if tp not in owned]
            for tp in gone:  # never committable again: their new owner may deliver them once more
                self._offsets.pop(tp)
                self._first.pop(tp, None)
            self._once.log(logging.WARNING, f"commit:{type(exc).__name__}",
                           f"Kafka source {self.name} could not commit offsets; retrying with the next batch "
                           f"(events are in the channels; a crash before then re-reads them). "
                           f"partitions_no_longer_owned={len(gone)} {exc}")
            if not self._offsets:
                self._delivered = False
            return False
        finally:
            self.counter.kafka_commit_timer += int((time.monotonic() - started) * 1000)
        self._offsets = {}
        self._first = {}
        self._delivered = False
        return True

    def _prepare_revocation(self, revoked: set[TopicPartition]) -> dict[TopicPartition, OffsetAndMetadata]:
        """Before the group rebalances: deliver the batch in hand; the offsets to commit now."""
        self._revoked = True
        if not revoked:
            return {}
        if (self._count or self._bad) and not self._delivered:
            self._deliver()
        if not self._delivered:
            # Could not deliver: what belongs to the revoked partitions is left to their new owner.
            self._drop(revoked, "gave up partitions with undelivered events")
            return {}
        if self._bad:
            self._send_dead_letters()
            self._drop(revoked & self._unsent_partitions(), "gave up partitions whose dead letters are unsent")
        unsent = self._unsent_partitions()
        return {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in self._offsets.items() if tp not in unsent}

    def _unsent_partitions(self) -> set[TopicPartition]:
        """Partitions whose offsets cannot be committed yet: a bad record of theirs has no dead letter yet."""
        return {TopicPartition(letter.record.topic, letter.record.partition) for letter in self._bad}

    def _committed(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        for tp in offsets:
            self._offsets.pop(tp, None)
            self._first.pop(tp, None)
        if not self._offsets:
            self._delivered = False

    def _revocation_commit_failed(self, revoked: set[TopicPartition], exc: Exception) -> None:
        for tp in revoked:
            self._offsets.pop(tp, None)
            self._first.pop(tp, None)
        self._once.log(logging.WARNING, f"revoke-commit:{type(exc).__name__}",
                       f"Kafka source {self.name} could not commit before giving up partitions; their new owner "
                       f"may deliver the last batch again. {exc}")

    def _drop(self, partitions: set[TopicPartition], why: str) -> None:
        dropped = sum(len(seg) for tp, seg in self._segments if tp in partitions)
        self._segments = [(tp, seg) for tp, seg in self._segments if tp not in partitions]
        self._count -= dropped
        self._bad = [b for b in self._bad if TopicPartition(b.record.topic, b.record.partition) not in partitions]
        consumer = self._consumer
        owned = consumer.assignment() if consumer is not None else set()
        for tp in partitions:
            self._offsets.pop(tp, None)
            first = self._first.pop(tp, None)
            if consumer is not None and first is not None and tp in owned:
                # kafka-python keeps a partition's fetch position when the rebalance gives it back to this
                # consumer: without this seek the dropped records would be skipped, not read again.
                consumer.seek(tp, first)
        if dropped:
            log.warning("Kafka source %s %s; their new owner reads them again. events=%d", self.name, why,
                        dropped)
