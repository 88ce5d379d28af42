"""Flume's Kafka source (``org.apache.flume.source.kafka.KafkaSource``, reference §3.1, §6.1) on librdkafka.

A pollable source: each ``process()`` fills one batch (``batchSize`` events or ``batchDurationMillis``),
hands it to the channel processor, and only after that returned commits the batch's offsets
synchronously. A batch the channels refused stays in hand and is offered again (with the same
offsets); a failed commit is retried with the next one.

Better than Flume (so that a clean rebalance or restart produces no duplicates):

* On partition revocation (inside ``consume``, before the group rebalances) the batch in hand is
  delivered and its offsets committed in the callback; if it cannot be delivered, the events of the
  revoked partitions are dropped from it uncommitted (their next owner, maybe this consumer again, reads
  them from the committed offset), the rest are kept.
* ``stop()`` commits the offsets of everything delivered.
* While a batch waits (the channels refused it, or its dead letters or its commit are not through yet), the
  source pauses its assigned partitions and keeps polling the consumer: each ``process()`` waits in
  ``consume()`` (``batchDurationMillis``, within 0.1 to 1 s; it gets no records: the partitions are paused),
  then offers the batch again, with no runner back-off on top. So librdkafka's callbacks keep running (lag
  reports, commit answers, rebalances) and the consumer stays in its group however long the channel stays
  full; Flume's source stops polling, and past ``max.poll.interval.ms`` its consumer is thrown out of the
  group and its partitions rebalance. librdkafka drops what it had fetched ahead of a paused partition and,
  at the resume, fetches again from the record after the last one the source consumed (it keeps that
  position at the pause): every record read before the pause is in the batch, none is lost or read twice.
  Partitions assigned while the batch waits are paused too; once the batch is through, every assigned
  partition is resumed. librdkafka keeps an application's pause across a revocation, so a paused partition
  that was revoked is resumed when it is assigned again after the batch went through. A revocation or a stop
  while paused delivers, commits or drops the batch's events as below.
* An empty batch does not make the runner sleep Flume's back-off (1 s growing to 5 s): the poll itself
  waited ``batchDurationMillis`` for records, so the next record is read as soon as it arrives.
* A record that is not a valid AvroFlumeEvent (``useFlumeEventFormat = true``) is a bad record: counted
  in ``EventReadFail``, logged once per kind, and sent to ``deadLetterTopic`` when set (a flafka
  extension; ``EventDeadLetterCount``), else skipped (``EventDropCount``); it never stalls.
* A record with a null value (a tombstone) is an event with an empty body when
  ``useFlumeEventFormat = false`` (as Flume). With ``useFlumeEventFormat = true`` it holds no
  AvroFlumeEvent: a bad record. Its dead letter has an empty value (Kafka producers refuse a record
  with neither key nor value) and header ``flafka.error`` saying the value was null.
* A key that is not UTF-8 is kept byte for byte in the ``key`` header (see flafka/kafka/records.py), so a
  Kafka sink writes the same key again.

Dead letters (``deadLetterTopic``) carry the record's key, value and headers as read, plus header
``flafka.error`` saying why. Each bad record is sent once: dead letters go out only after the channels
accepted the batch's good events (a batch the channels refused is offered again, and its bad records
must not be sent again with it) and before the batch's offsets are committed (so a crash re-reads
records whose dead letter is not acknowledged). A dead letter the producer or the broker refuses as a
record (larger than the producer's ``message.max.bytes``, say) is dropped: logged once per kind and
counted in ``EventDropCount``. A transient failure (broker unreachable, timeout) holds the batch's
offsets: the source retries the dead letters that failed with the runner's back-off (logged once per
kind), never one already acknowledged or still awaiting its answer, and reads nothing new until they
are through. At a stop or a rebalance, partitions with dead letters still unsent are not committed:
their next reader reads those records again.

``kafka.topics.regex`` is matched here, with Java's regex rules, against the cluster's topic list every
``kafka.consumer.metadata.max.age.ms`` (librdkafka's own regex dialect is not Java's); a change of the
matching set re-subscribes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from flafka.errors import ChannelError, FlafkaError
from flafka.event import Event
from flafka.java_regex import compile_java_regex
from flafka.kafka.avro_event import AvroDecodeError, decode
from flafka.kafka.client_config import CONSUMER_FETCH_DEFAULTS, producer_config
from flafka.kafka.client_logs import client_log_settings
from flafka.kafka.lag import ConsumerLag
from flafka.kafka.offsets import OffsetTracker, Partition
from flafka.kafka.records import key_header, record_headers
from flafka.kafka.zookeeper import brokers_from_zookeeper, migrate_offsets
from flafka.logging_once import OncePerKind
from flafka.monitoring.counters import KafkaSourceCounter
from flafka.sources.base import PollableSource, Status
from flafka.sources.kafka.config import KafkaSourceConfig
from flafka.sources.kafka.dead_letter_topic import DeadLetter, DeadLetterTopic, LetterState

log = logging.getLogger("flafka.sources.kafka")

#: Consumer settings unless the user wrote them: the shared fetch sizes, and a local queue that keeps ~200k
#: records (or 128 MiB) fetched ahead of the source, so a batch rarely waits for the network.
CONSUMER_DEFAULTS: Mapping[str, str | int | bool] = {
    **CONSUMER_FETCH_DEFAULTS,
    "queued.min.messages": 200_000,
    "queued.max.messages.kbytes": 128 * 1024,
}
_DEFAULT_METADATA_MAX_AGE_MS = 300_000  # Java's: how often a topics regex is matched again
_ASSIGN_LOOKUP_S = 10.0  # a partition's committed offset or end, looked up at assignment
#: Shortest time between two asynchronous commits while batches keep coming. Each commit call cost ~9% of the
#: source's time at one per batch; the offsets of the batches in between are committed by the next call (they
#: are cumulative), and an idle poll, a revocation and a stop commit at once. A crash re-reads at most this
#: much more than with a commit per batch.
COMMIT_INTERVAL_S = 0.1
#: While a batch waits (see the module docstring), each process() polls the paused consumer this long (its
#: ``batchDurationMillis`` within these bounds) before offering the batch again: often enough for librdkafka's
#: callbacks and ``max.poll.interval.ms``, seldom enough not to spin on a full channel.
HOLD_POLL_MIN_S = 0.1
HOLD_POLL_MAX_S = 1.0

ConsumerFactory = Callable[[dict[str, Any]], Consumer]
ProducerFactory = Callable[[dict[str, Any]], Producer]


class KafkaSourceError(ChannelError):
    """The source could not reach or commit to Kafka (retriable: the runner backs off)."""


class KafkaSource(PollableSource):
    """See the module docstring. ``consumer_factory``/``producer_factory`` build the clients from their
    librdkafka settings (a seam for tests; confluent-kafka's classes by default)."""

    config_class = KafkaSourceConfig
    config: KafkaSourceConfig
    counter: KafkaSourceCounter

    def __init__(self, name: str, config: KafkaSourceConfig, *, consumer_factory: ConsumerFactory = Consumer,
                 producer_factory: ProducerFactory = Producer) -> None:
        super().__init__(name, config)
        self.counter = KafkaSourceCounter(name)
        self.backoff_sleep_increment_ms = config.backoff_sleep_increment
        self.max_backoff_sleep_ms = config.max_backoff_sleep
        self._consumer_factory = consumer_factory
        self.lag = ConsumerLag(config.consumer_lag_interval_ms)
        self._producer_factory = producer_factory
        self._consumer: Consumer | None = None
        self._dead_letters: DeadLetterTopic | None = None
        self._lock = threading.RLock()  # process() on the runner thread vs stop() from the agent
        self._once = OncePerKind(log)
        self._events: list[Event] = []  # the batch in hand, in read order
        # Where each partition's events start in the batch: (index of its first event, partition), in order.
        self._runs: list[tuple[int, Partition]] = []
        self._offsets = OffsetTracker()
        self._in_flight: dict[Partition, int] = {}  # offsets committed asynchronously, not yet answered
        self._next_commit = 0.0  # monotonic time before which a paced commit waits
        self._bad: list[DeadLetter] = []  # bad records of the batch in hand, not yet through
        self._delivered = False  # the batch in hand was accepted by the channels; only its commit is due
        self._revoked = False
        self._holding = False  # a batch waits: the assigned partitions are paused, consume() only serves callbacks
        self._held_since = 0.0
        self._paused: set[Partition] = set()  # partitions this source paused and has not resumed, assigned or not
        self._client_conf = conf = config.client_config().conf  # the user's settings, translated once
        self._starts_at_end = str(conf.get("auto.offset.reset", "latest")) in ("latest", "largest", "end")
        self._incremental = str(conf.get("partition.assignment.strategy", "")) == "cooperative-sticky"
        self._topic_scan_s = int(conf.get("metadata.max.age.ms", _DEFAULT_METADATA_MAX_AGE_MS)) / 1000.0
        self._regex = compile_java_regex(config.topics_regex) if config.topics_regex else None
        self._subscribed: list[str] = []
        self._next_topic_scan = 0.0
        reverse: dict[str, list[str]] = {}
        for flume_name, kafka_name in config.header_map.items():
            reverse.setdefault(kafka_name, []).append(flume_name)
        self._header_map = reverse

    # -- lifecycle ------------------------------------------------------------------------------

    def _bootstrap(self, conf: Mapping[str, Any]) -> list[str]:
        if self.config.bootstrap_servers:
            return [s.strip() for s in self.config.bootstrap_servers.split(",") if s.strip()]
        assert self.config.zookeeper_connect is not None
        protocol = str(conf.get("security.protocol", "plaintext")).upper()
        brokers = brokers_from_zookeeper(self.config.zookeeper_connect, security_protocol=protocol)
        log.info("Kafka source %s found brokers in ZooKeeper. brokers=%s", self.name, ",".join(brokers))
        return brokers

    def client_settings(self) -> dict[str, Any]:
        """The consumer's librdkafka settings, as start() passes them (bootstrap servers aside)."""
        conf: dict[str, Any] = {**CONSUMER_DEFAULTS, **self._client_conf}
        conf.update({"group.id": self.config.group_id, "enable.auto.commit": False,
                     "enable.auto.offset.store": False, "on_commit": self._on_commit,
                     **client_log_settings(f"Kafka source {self.name}"), **self.lag.settings()})
        return conf

    def consumer_lag(self) -> Mapping[tuple[str, int], int]:
        """The last lag librdkafka reported per (topic, partition): end offset minus committed offset."""
        return self.lag.snapshot()

    def start(self) -> None:
        config = self.config
        conf = self.client_settings()
        bootstrap = self._bootstrap(conf)
        conf["bootstrap.servers"] = ",".join(bootstrap)
        topics = config.topic_list()
        if (config.zookeeper_connect and config.migrate_zookeeper_offsets and not config.topics_regex
                and len(topics) == 1):
            migrate_offsets(config.zookeeper_connect, bootstrap, config.group_id, topics[0],
                            {k: v for k, v in conf.items()
                             if k not in ("logger", "error_cb", "stats_cb", "statistics.interval.ms")})
        try:
            consumer = self._consumer_factory(conf)
            if config.dead_letter_topic:
                producer_conf = producer_config({}, default_acks="all").conf
                producer_conf.update({"bootstrap.servers": conf["bootstrap.servers"],
                                      **client_log_settings(f"Kafka source {self.name} (dead letters)")})
                self._dead_letters = DeadLetterTopic(config.dead_letter_topic, self._producer_factory(producer_conf))
        except KafkaException as exc:
            raise KafkaSourceError(f"Kafka source {self.name} cannot create its Kafka client: {exc}") from exc
        self._consumer = consumer
        self._subscribed = []
        self._holding = False
        self._paused = set()
        if self._regex is None:
            self._subscribe(consumer, topics)
        else:
            self._next_topic_scan = 0.0
            self._scan_topics(consumer)
        log.info("Kafka source %s started. group=%s topics=%s", self.name, config.group_id,
                 config.topics_regex or ",".join(topics))

    def _subscribe(self, consumer: Consumer, topics: list[str]) -> None:
        consumer.subscribe(topics, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost)
        self._subscribed = topics

    def _scan_topics(self, consumer: Consumer) -> None:
        """Match the topics regex against the cluster's topics; subscribe again when the matching set changed."""
        assert self._regex is not None
        now = time.monotonic()
        if now < self._next_topic_scan:
            return
        self._next_topic_scan = now + self._topic_scan_s
        try:
            names = consumer.list_topics(timeout=5.0).topics
        except KafkaException as exc:
            self._once.log(logging.WARNING, "topics", f"Kafka source {self.name} could not list topics to match "
                           f"kafka.topics.regex; trying again later. {exc}")
            self._next_topic_scan = now + 1.0
            return
        matching = sorted(name for name in names if self._regex.fullmatch(name))
        if matching != self._subscribed:
            if matching:
                self._subscribe(consumer, matching)
                log.info("Kafka source %s subscribes to the topics its regex matches. topics=%s", self.name,
                         ",".join(matching))
            elif self._subscribed:
                consumer.unsubscribe()
                self._subscribed = []

    def stop(self) -> None:
        with self._lock:
            consumer = self._consumer
            if consumer is not None:
                try:
                    # Deliver and commit what is in hand; leaving the group then revokes nothing uncommitted.
                    if self._events or self._bad:
                        if self._delivered or self._deliver():
                            self._finish(consumer)
                    elif self._delivered:
                        self._finish(consumer)
                    self._commit(consumer, exclude=self._unsent_partitions(), final=True)
                finally:
                    consumer.close()
                    self._consumer = None
            if self._dead_letters is not None:
                left = self._dead_letters.close()
                if left:
                    log.warning("Kafka source %s stopped with dead letters unanswered; their records were not "
                                "committed and are read again. records=%d", self.name, left)
                self._dead_letters = None

    # -- the batch ------------------------------------------------------------------------------

    def process(self) -> Status:
        with self._lock:
            consumer = self._consumer
            if consumer is None:
                return Status.BACKOFF
            if self._holding:
                return self._wait(consumer)
            if self._delivered and not self._finish(consumer):
                # Dead letters or a commit failed last time: the events are in the channels already.
                self._hold(consumer)
                return Status.BACKOFF
            if self._regex is not None:
                self._scan_topics(consumer)
            self._revoked = False
            started = time.monotonic()
            self._fill(consumer)
            if not self._events and not self._bad:
                if self._offsets.pending:
                    self._commit(consumer, paced=False)  # idle: what was delivered is committed now
                # The empty poll already waited for records: poll again at once (Flume sleeps its back-off
                # here, up to 5 s of latency for the next record). Back off only when poll did not wait.
                waited = time.monotonic() - started >= self.config.batch_duration_ms / 2000.0
                return Status.READY if waited else Status.BACKOFF
            if not self._deliver() or not self._finish(consumer):
                self._hold(consumer)
                return Status.BACKOFF
            return Status.READY

    def _fill(self, consumer: Consumer) -> None:
        config = self.config
        counter = self.counter
        deadline = time.monotonic() + config.batch_duration_ms / 1000.0
        batch_size = config.batch_size
        while True:
            wanted = batch_size - len(self._events)
            remaining = deadline - time.monotonic()
            if wanted <= 0 or remaining <= 0:
                break
            polled_at = time.monotonic()
            messages = consumer.consume(wanted, remaining)
            elapsed_ms = int((time.monotonic() - polled_at) * 1000)
            with counter.lock:
                counter.kafka_event_get_timer += elapsed_ms
            if messages:
                self._take(messages)
            if self._revoked:
                break
        if not self._events and not self._bad:
            with counter.lock:
                counter.kafka_empty_count += 1

    def _take(self, messages: list[Message]) -> None:
        """Records → events of the batch in hand (Flume's headers), offsets tracked per run of one partition.

        librdkafka hands out a partition's records in runs (one fetch each): per record this loop only
        compares the partition with the run's, and the offsets and the partition of each event (needed to
        drop a revoked partition's events) are kept per run."""
        config = self.config
        events = self._events
        append = events.append
        runs = self._runs
        tracker = self._offsets
        topic_header = config.topic_header if config.set_topic_header else None
        topic_key = topic_header or "topic"
        simple = not config.use_flume_event_format and not self._header_map
        now = str(int(time.time() * 1000))
        run_topic: str | None = None
        run_number = -1
        run_first = previous = -1
        text = ""
        last_timestamp = -2
        timestamp_text = now
        for message in messages:
            if message.error() is not None:
                self._client_error(message)
                continue
            # A record (no error) has all three; annotations instead of checks keep this loop lean.
            number: int = message.partition()  # type: ignore[assignment]
            topic: str = message.topic()  # type: ignore[assignment]
            offset: int = message.offset()  # type: ignore[assignment]
            if number != run_number or topic != run_topic:
                if run_topic is not None:
                    tracker.read_run((run_topic, run_number), run_first, previous)
                run_topic, run_number, run_first, text = topic, number, offset, str(number)
                runs.append((len(events), (topic, number)))
            previous = offset
            if simple:
                timestamp = message.timestamp()[1]
                if timestamp != last_timestamp:  # records produced together share a timestamp
                    last_timestamp = timestamp
                    timestamp_text = str(timestamp) if timestamp >= 0 else now  # -1: the record has none
                headers = {"timestamp": timestamp_text, "partition": text, "offset": str(offset), topic_key: topic}
                if topic_header is None:
                    del headers[topic_key]
                key = message.key()
                if key is not None:
                    headers["key"] = key_header(key)
                value = message.value()
                append(Event(b"" if value is None else value, headers))
                continue
            event = self._event(message, now)
            if event is not None:
                append(event)
        if run_topic is not None:
            tracker.read_run((run_topic, run_number), run_first, previous)

    def _event(self, message: Message, now: str) -> Event | None:
        """One record → its event, Flume's rules with the AvroFlumeEvent format or header mapping; None for
        a bad record (counted, set aside)."""
        config = self.config
        value = message.value()
        if config.use_flume_event_format:
            if value is None:
                self._bad_record(message, "tombstone", "the value is null (a tombstone), not an AvroFlumeEvent")
                return None
            try:
                headers, body = decode(value)
            except AvroDecodeError as exc:
                self._bad_record(message, "avro", f"the value is not an AvroFlumeEvent: {exc}")
                return None
        else:
            headers, body = {}, b"" if value is None else value
        if "timestamp" not in headers:
            kind, timestamp = message.timestamp()
            headers["timestamp"] = str(timestamp) if kind and timestamp >= 0 else now
        header_map = self._header_map
        if header_map:
            for kafka_name, kafka_value in record_headers(message):
                for flume_name in header_map.get(kafka_name, ()):
                    headers[flume_name] = (kafka_value or b"").decode("utf-8", "replace")
        if config.set_topic_header and config.topic_header not in headers:
            headers[config.topic_header] = message.topic() or ""
        if "partition" not in headers:
            headers["partition"] = str(message.partition())
        if "offset" not in headers:
            headers["offset"] = str(message.offset())
        key = message.key()
        if key is not None:
            headers["key"] = key_header(key)
        return Event(body, headers)

    def _client_error(self, message: Message) -> None:
        error = message.error()
        assert error is not None
        if error.fatal():
            raise KafkaSourceError(f"Kafka source {self.name}: fatal consumer error: {error.str()}")
        self._once.log(logging.WARNING, f"consume:{error.code()}",
                       f"Kafka source {self.name} got an error reading from Kafka; the client retries by itself. "
                       f"topic={message.topic()} partition={message.partition()} error={error.str()}")

    def _bad_record(self, message: Message, kind: str, reason: str) -> None:
        with self.counter.lock:
            self.counter.event_read_fail += 1
        where = f"topic={message.topic()} partition={message.partition()} offset={message.offset()}"
        if self._dead_letters is not None:
            self._bad.append(DeadLetter.of(message, reason))
            self._once.log(logging.WARNING, kind, f"Kafka source {self.name} read a record it cannot deliver; it "
                           f"goes to dead-letter topic {self.config.dead_letter_topic}. {where} reason={reason}")
        else:
            with self.counter.lock:
                self.counter.event_drop_count += 1
            self._once.log(logging.WARNING, kind, f"Kafka source {self.name} skipped a record it cannot deliver (set "
                           f"deadLetterTopic to keep such records). {where} reason={reason} "
                           f"dropped_total={self.counter.event_drop_count}")

    def _deliver(self) -> bool:
        """Hand the batch's events to the channels; True on success (its dead letters and commit are then due)."""
        try:
            if self._events:
                self.channel_processor.process_batch(self._events)
        except FlafkaError:
            return False  # kept in hand, offered again next time; the channel processor logged it
        self._events = []
        self._runs = []
        self._offsets.deliver()
        self._delivered = True
        return True

    def _finish(self, consumer: Consumer) -> bool:
        """The batch is in the channels: send its dead letters, then commit; True when both are done."""
        if self._bad:
            self._send_dead_letters()
            if self._bad:
                return False
        return self._commit(consumer)

    def _send_dead_letters(self) -> None:
        """Send the bad records not yet through; those acknowledged or refused leave ``_bad``."""
        dead_letters = self._dead_letters
        assert dead_letters is not None
        transient = dead_letters.send(self._bad)
        kept: list[DeadLetter] = []
        for letter in self._bad:
            if letter.state is LetterState.DONE:
                with self.counter.lock:
                    self.counter.event_dead_letter_count += 1
            elif letter.state is LetterState.REFUSED:
                self._refused(letter)
            else:
                kept.append(letter)
        self._bad = kept
        if kept:
            why = transient.str() if transient else "not acknowledged in time"
            self._once.log(logging.WARNING, "dead-letter:transient",
                           f"Kafka source {self.name} could not send records to dead-letter topic "
                           f"{dead_letters.topic}; it retries them and commits the batch's offsets once they are "
                           f"through. records={len(kept)} error={why}")

    def _refused(self, letter: DeadLetter) -> None:
        with self.counter.lock:
            self.counter.event_drop_count += 1
        error = letter.error
        kind = error.name() if error is not None else "refused"
        self._once.log(logging.ERROR, f"dead-letter:{kind}",
                       f"Kafka source {self.name} dropped a record the dead-letter topic "
                       f"{self.config.dead_letter_topic} refused. topic={letter.topic} partition={letter.partition} "
                       f"offset={letter.offset} reason={letter.reason} error={kind}: {error.str() if error else ''} "
                       f"dropped_total={self.counter.event_drop_count}")

    # -- a batch that waits: paused partitions, polled consumer ------------------------------------

    def _hold(self, consumer: Consumer) -> None:
        """The batch in hand waits: pause the assigned partitions (librdkafka drops what it fetched ahead of
        them and fetches it again from the last record consumed, at the resume) so that the consumer can be
        polled without reading anything new."""
        if self._holding:
            return
        self._holding = True
        self._held_since = time.monotonic()
        assigned = consumer.assignment()
        self._pause(consumer, assigned)
        log.info("Kafka source %s paused its partitions: its batch waits for the channels (or its dead letters or "
                 "commit); it keeps polling Kafka meanwhile. partitions=%d events=%d", self.name, len(assigned),
                 len(self._events))

    def _wait(self, consumer: Consumer) -> Status:
        """Poll the paused consumer (its callbacks run: rebalances, commit answers, lag reports; and the group
        sees it alive), then offer the batch again; resume the partitions once it is through."""
        if self._regex is not None:
            self._scan_topics(consumer)  # a new matching topic rebalances the group, batch waiting or not
        wait = min(max(self.config.batch_duration_ms / 1000.0, HOLD_POLL_MIN_S), HOLD_POLL_MAX_S)
        messages = consumer.consume(self.config.batch_size, wait)
        if messages:  # none from a paused partition; one the client could not pause still lands in the batch
            self._take(messages)
        if (self._events or self._bad) and not self._delivered and not self._deliver():
            if self._offsets.pending:  # what was delivered before the batch is committed meanwhile
                self._commit(consumer, paced=False)
            return Status.READY  # the poll waited: no runner back-off on top of it
        if not self._finish(consumer):
            return Status.READY
        assigned = consumer.assignment()
        if not self._resume(consumer, assigned):
            return Status.READY  # still paused: tried again at the next process()
        self._holding = False
        log.info("Kafka source %s resumed its partitions: its batch is through. partitions=%d waited_s=%.1f",
                 self.name, len(assigned), time.monotonic() - self._held_since)
        return Status.READY

    def _pause(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if not partitions:
            return
        try:
            consumer.pause(partitions)
        except KafkaException as exc:  # records it still hands out go into the batch in hand: none is lost
            self._once.log(logging.WARNING, f"pause:{_code(exc)}", f"Kafka source {self.name} could not pause "
                           f"partitions while its batch waits; it keeps reading them into that batch. {exc}")
            return
        self._paused.update((tp.topic, tp.partition) for tp in partitions)

    def _resume(self, consumer: Consumer, partitions: list[TopicPartition]) -> bool:
        """Resume those of ``partitions`` this source paused; False when the client refused."""
        paused = [tp for tp in partitions if (tp.topic, tp.partition) in self._paused]
        if not paused:
            return True
        try:
            consumer.resume(paused)
        except KafkaException as exc:
            self._once.log(logging.WARNING, f"resume:{_code(exc)}", f"Kafka source {self.name} could not resume "
                           f"partitions; it tries again. {exc}")
            return False
        self._paused.difference_update((tp.topic, tp.partition) for tp in paused)
        return True

    def _commit(self, consumer: Consumer, exclude: set[Partition] | None = None, *, final: bool = False,
                paced: bool = True) -> bool:
        """Commit the delivered offsets. Between batches the commit is asynchronous (waiting for the broker's
        answer after every batch cost ~9% of the source's time) and ``paced``: at most one per
        COMMIT_INTERVAL_S. A commit that fails is made good by the next one (offsets are cumulative) or
        restored by ``_on_commit``. ``final`` (stop) waits, and commits again what is still in flight."""
        now = time.monotonic()
        if paced and not final and now < self._next_commit:
            self._delivered = False  # the offsets wait in the tracker for the next commit
            return True
        self._next_commit = now + COMMIT_INTERVAL_S
        offsets = self._offsets.committable(excluding=exclude or ())
        if final:
            offsets = _newest(self._in_flight, offsets, exclude or set())
        if not offsets:
            self._delivered = False
            return True
        started = time.monotonic()
        try:
            listed = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
            if final:
                _raise_partition_errors(consumer.commit(offsets=listed, asynchronous=False))
            else:
                consumer.commit(offsets=listed, asynchronous=True)
        except KafkaException as exc:
            owned = {(tp.topic, tp.partition) for tp in consumer.assignment()}
            gone = [where for where in offsets if where not in owned]
            self._offsets.forget(gone)  # never committable again: their new owner may deliver them once more
            self._commit_failed(exc)
            if not self._offsets.pending:
                self._delivered = False
            return False
        finally:
            elapsed_ms = int((time.monotonic() - started) * 1000)
            with self.counter.lock:
                self.counter.kafka_commit_timer += elapsed_ms
        self._offsets.committed(offsets)
        if final:
            for where in offsets:
                self._in_flight.pop(where, None)
        else:
            self._in_flight.update(offsets)
        self._delivered = False
        return True

    def _on_commit(self, error: KafkaError | None, partitions: list[TopicPartition]) -> None:
        """The answer to an asynchronous commit (served inside consume()): offsets whose commit failed are
        committable again, unless the partition has gone or a newer offset waits."""
        assigned: set[Partition] | None = None
        failed: dict[Partition, int] = {}
        for tp in partitions:
            where = (tp.topic, tp.partition)
            if self._in_flight.get(where) == tp.offset:
                del self._in_flight[where]
            if error is None and tp.error is None:
                continue
            if assigned is None:
                assigned = {(a.topic, a.partition) for a in self._consumer.assignment()} if self._consumer else set()
            if where in assigned:
                failed[where] = tp.offset
        if failed:
            for where, offset in failed.items():
                self._offsets.deliver_upto(where, offset)  # committable again, unless a newer offset waits
            self._delivered = True
            self._commit_failed(KafkaException(error or next(tp.error for tp in partitions if tp.error)))

    def _commit_failed(self, exc: KafkaException) -> None:
        self._once.log(logging.WARNING, f"commit:{_code(exc)}",
                       f"Kafka source {self.name} could not commit offsets; retrying with the next batch "
                       f"(events are in the channels; a crash before then re-reads them). {exc}")

    # -- rebalance callbacks (run inside consume()/close(), on the thread holding the lock) --------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """With ``auto.offset.reset = latest``, a partition the group never committed starts at its end as of
        now: librdkafka would look the end up later, at its first fetch, and skip what was written in between
        (records produced right after "assigned" was logged were lost to the reader)."""
        assigned = False
        if self._starts_at_end and partitions:
            try:
                placed = consumer.committed(partitions, timeout=_ASSIGN_LOOKUP_S)
                for tp in placed:
                    if tp.offset < 0:  # nothing committed: the end, now
                        tp.offset = consumer.get_watermark_offsets(tp, timeout=_ASSIGN_LOOKUP_S)[1]
                self._assign(consumer, placed)
                assigned = True
            except KafkaException as exc:  # librdkafka looks the offsets up itself, later
                self._once.log(logging.WARNING, "assign-lookup", f"Kafka source {self.name} could not look up where "
                               f"its new partitions start; the client resolves them at its first fetch. {exc}")
        # A partition's pause outlives its revocation in librdkafka (only the client's own pause is reset): a
        # partition paused before comes back paused. New partitions follow the batch: paused while it waits.
        again = [tp for tp in partitions if (tp.topic, tp.partition) in self._paused]
        if partitions and (self._holding or again):
            if not assigned:
                self._assign(consumer, partitions)  # now, so that the pause or resume applies to the assignment
            if self._holding:
                self._pause(consumer, partitions)
            elif not self._resume(consumer, again):
                self._holding = True  # process() tries again until they read
                self._held_since = time.monotonic()
        log.info("Kafka source %s was assigned partitions. partitions=%s", self.name,
                 ",".join(sorted(f"{tp.topic}-{tp.partition}" for tp in partitions)) or "none")

    def _assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Assign inside the callback (confluent-kafka then does not assign after it)."""
        if self._incremental:
            consumer.incremental_assign(partitions)
        else:
            consumer.assign(partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Before the group rebalances: deliver the batch in hand and commit the revoked partitions' offsets."""
        self._revoked = True
        revoked = {(tp.topic, tp.partition) for tp in partitions}
        if not revoked:
            return
        if (self._events or self._bad) and not self._delivered:
            self._deliver()
        if not self._delivered and (self._events or self._bad):
            # Could not deliver: what belongs to the revoked partitions is left to their next owner.
            self._drop(revoked, "gave up partitions with undelivered events")
        elif self._bad:
            self._send_dead_letters()
            self._drop(revoked & self._unsent_partitions(), "gave up partitions whose dead letters are unsent")
        unsent = self._unsent_partitions()
        offsets = {where: offset for where, offset in _newest(self._in_flight, self._offsets.committable(), unsent)
                   .items() if where in revoked}
        if offsets:
            started = time.monotonic()
            try:
                _raise_partition_errors(consumer.commit(
                    offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()], asynchronous=False))
            except KafkaException as exc:
                self._once.log(logging.WARNING, f"revoke-commit:{_code(exc)}",
                               f"Kafka source {self.name} could not commit before giving up partitions; their new "
                               f"owner may deliver the last batch again. {exc}")
            else:
                log.info("Kafka source %s delivered and committed its batch before giving up partitions. "
                         "partitions=%d", self.name, len(revoked))
            finally:
                elapsed_ms = int((time.monotonic() - started) * 1000)
                with self.counter.lock:
                    self.counter.kafka_commit_timer += elapsed_ms
        self._offsets.forget(revoked)
        for where in revoked:
            self._in_flight.pop(where, None)
        if not self._offsets.pending and not self._bad:
            self._delivered = False

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._revoked = True
        lost = {(tp.topic, tp.partition) for tp in partitions}
        self._drop(lost, "lost its partitions (evicted from the group)")
        self._offsets.forget(lost)

    def _unsent_partitions(self) -> set[Partition]:
        """Partitions whose offsets cannot be committed yet: a bad record of theirs has no dead letter yet."""
        return {letter.partition_key for letter in self._bad}

    def _drop(self, partitions: set[Partition], why: str) -> None:
        events: list[Event] = []
        runs: list[tuple[int, Partition]] = []
        bounds = [*(start for start, _ in self._runs[1:]), len(self._events)]
        for (start, where), end in zip(self._runs, bounds, strict=True):
            if where not in partitions:
                runs.append((len(events), where))
                events.extend(self._events[start:end])
        dropped = len(self._events) - len(events)
        self._events = events
        self._runs = runs
        self._bad = [letter for letter in self._bad if letter.partition_key not in partitions]
        self._offsets.give_up(partitions)
        if dropped:
            log.warning("Kafka source %s %s; their next owner reads them again. events=%d", self.name, why,
                        dropped)


def _newest(in_flight: Mapping[Partition, int], offsets: Mapping[Partition, int],
            exclude: set[Partition]) -> dict[Partition, int]:
    """Per partition the newest of the offsets in flight and those due, leaving out ``exclude``."""
    newest = {where: offset for where, offset in in_flight.items() if where not in exclude}
    for where, offset in offsets.items():
        if newest.get(where, -1) < offset:
            newest[where] = offset
    return newest


def _raise_partition_errors(answer: list[TopicPartition] | None) -> None:
    """A synchronous commit answers per partition: one that failed fails the commit."""
    for tp in answer or ():
        if tp.error is not None:
            raise KafkaException(tp.error)


def _code(exc: KafkaException) -> str:
    error = exc.args[0] if exc.args else None
    return error.name() if isinstance(error, KafkaError) else type(exc).__name__
