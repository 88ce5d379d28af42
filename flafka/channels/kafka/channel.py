"""Flume's Kafka channel (``org.apache.flume.channel.kafka.KafkaChannel``, reference §3.2, §6.2) on librdkafka.

A Kafka topic stores the channel's events. A put transaction turns its events into records as they are put
and produces them at commit: every record queued, the producer flushed and every acknowledgement awaited
before the commit returns (``acks=all`` by default); any failure fails the commit and the source retries
(flafka/channels/kafka/puts.py). A take transaction reads with the calling thread's own consumer (one per
taking thread, all in one group) and commits the group's offsets only after the transaction that took the
events committed, that is after the sink delivered them: at-least-once. A rolled-back take keeps its events
in the thread's redelivery list, served before anything new (flafka/channels/kafka/takes.py).

Both property generations are accepted (flafka/channels/kafka/config.py).

Differences from Flume (the safe choice, or what Python allows):

* A take waits up to ``max(timeout, kafka.pollTimeout)`` (Flume: ``kafka.pollTimeout``; sinks pass 0,
  so they see Flume's wait), and its first take also waits, within a bound, for the group join.
  ``wakeup()`` and a stop end a waiting take within 0.1 s.
* A take transaction polls Kafka only while it holds no events; more takes in the same transaction
  are served from records already fetched. A rebalance (which runs inside a poll) therefore never
  finds taken events in hand, so a clean rebalance or a clean stop of one agent causes no duplicates.
* On a rebalance, fetched but untaken records and rolled-back events of the revoked partitions are
  dropped (their new owner reads them again from the committed offset), and offsets of delivered
  events not yet committed are committed before the partitions go, at ``stop()`` too. Flume keeps
  redelivering its rolled-back events from revoked partitions (duplicates).
* A failed offset commit is logged (WARNING, once per kind) and counted (``CommitFailCount``), and the
  offsets are kept and committed with the next batch; Flume logs at INFO and forgets them (more
  redeliveries). Offsets are committed per partition up to the lowest offset still awaiting
  redelivery, where Flume skips the whole commit while any rolled-back event waits.
* A record that is not a valid AvroFlumeEvent (``parseAsFlumeEvent = true``) is counted
  (``EventReadFail``), logged once per kind and skipped; its offset is committed with the batch.
  Flume fails the take that meets it with a ChannelException, so the sink's whole batch rolls back.
* An event that can never be a record of the topic (a partition header that is not a partition of the
  topic, a header that is not valid Unicode text, a record over ``max.request.size``) is refused as a bad
  event (:class:`~flafka.errors.EventsRefused`) and the rest of its batch is written; Flume fails the put for
  ever. A record key holding bytes that are not UTF-8 (read by a Kafka source) is written as those bytes.
* Records of a failed put commit that Kafka acknowledged are not produced again when the source retries
  the same events on the same thread (see puts.py).
* ``capacity``/``transactionCapacity`` are accepted with a warning (Flume ignores them silently);
  ``kafka.producer.transactional.id`` is refused (Flume's producer would fail on it at the first send).
* The producer is created at the first put, so a broker that is down at start-up does not stop the
  agent; the consumer of a thread that ended is closed when the next consumer is made, and every
  consumer at ``stop()`` (the agent stops sinks first).
* A stop keeps to the agent's deadline (``stop_within``): a put still waiting on Kafka fails (its source
  was not acknowledged and sends again) and what it queued is purged. Consumers are closed first (closing
  commits what was delivered), then the producer, with the time left. What could not be finished is
  logged (WARNING).
* The guide's ``pollTimeout`` and Flume 1.6's ``timeout`` are accepted as deprecated names of
  ``kafka.pollTimeout`` (Flume 1.7+ ignores both); 1.6 ``kafka.*`` client keys are mapped to the modern
  client with a warning (Flume 1.7+ ignores them).
* ``size()`` is 0: the backlog of a topic is not known here (Flume's ChannelSize is 0 too). The backlog
  per partition is the consumer lag librdkafka reports every ``consumerLagIntervalMs`` (``consumer_lag()``,
  merged over the taking threads' consumers; a consumer reports only while its thread takes).

A transaction that still holds taken events when its consumer loses the partitions (only possible if
the consumer is closed under it, e.g. a sink that did not stop in time) cannot commit their offsets: that
is counted as a failed commit, and the new owner delivers them again.
A consumer that stops polling (a stuck sink) holds up every rebalance of its group until
``kafka.consumer.max.poll.interval.ms`` passes, as in Java.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer

from flafka.channels.base import Channel, Transaction
from flafka.channels.kafka.config import CONSUMER_DEFAULTS, PRODUCER_DEFAULTS, KafkaChannelConfig
from flafka.channels.kafka.errors import KafkaChannelError
from flafka.channels.kafka.puts import ProducerFactory, Producing, Record, RecordRules
from flafka.channels.kafka.takes import ConsumerFactory, Segment, Signals, Taker
from flafka.event import Event
from flafka.kafka.client_logs import client_log_settings
from flafka.kafka.lag import ConsumerLag, merged_lag
from flafka.logging_once import OncePerKind
from flafka.monitoring.counters import KafkaChannelCounter

__all__ = ["KafkaChannel", "KafkaTransaction"]

log = logging.getLogger("flafka.channels.kafka")

# stop() without a deadline waits as long as its longest wait always was: a take's poll plus 30 s.
_STOP_TIMEOUT = 35.0
_MAX_REQUEST_SIZE = 1_048_576  # Java's max.request.size default (librdkafka's message.max.bytes is 1,000,000)
_DELIVERY_TIMEOUT_MS = 120_000  # Java's delivery.timeout.ms default (librdkafka's message.timeout.ms is 300 s)
_MAX_POLL_INTERVAL_MS = 300_000  # librdkafka's (and Java's) max.poll.interval.ms default
_SEND_MARGIN_S = 10.0  # a put waits this much longer than librdkafka takes to answer every record


class KafkaChannel(Channel):
    """See the module docstring. ``consumer_factory``/``producer_factory`` build the clients from their
    librdkafka settings (a seam for tests; confluent-kafka's classes by default)."""

    durable = True

    config_class = KafkaChannelConfig
    config: KafkaChannelConfig
    counter: KafkaChannelCounter

    def __init__(self, name: str, config: KafkaChannelConfig, *, consumer_factory: ConsumerFactory = Consumer,
                 producer_factory: ProducerFactory = Producer) -> None:
        super().__init__(name, config)
        self.counter = KafkaChannelCounter(name)
        producer, consumer = config.client_configs()
        self._producer_conf: dict[str, Any] = {"message.max.bytes": _MAX_REQUEST_SIZE,
                                               "delivery.timeout.ms": _DELIVERY_TIMEOUT_MS,
                                               **PRODUCER_DEFAULTS, **producer.conf}
        self._consumer_conf: dict[str, Any] = {**CONSUMER_DEFAULTS, **consumer.conf, "group.id": config.group_id}
        self._consumer_factory = consumer_factory
        self._topic = config.topic
        self._group = config.group_id
        self._once = OncePerKind(log)
        self._rules = RecordRules(parse=config.parse_as_flume_event, partition_header=config.partition_id_header,
                                  default_partition=config.default_partition_id,
                                  max_record=int(self._producer_conf["message.max.bytes"]))
        send_timeout = int(self._producer_conf["delivery.timeout.ms"]) / 1000.0 + _SEND_MARGIN_S
        self._producing = Producing(name, topic=config.topic, conf=self._producer_conf, factory=producer_factory,
                                    rules=self._rules, counter=self.counter, send_timeout=send_timeout)
        self._bootstrap: list[str] = []
        self._signals = Signals()
        self._local = threading.local()
        self._takers: list[Taker] = []
        self._takers_lock = threading.Lock()

    def client_settings(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The producer's and the consumers' librdkafka settings, as start() completes them (bootstrap servers
        and logging aside)."""
        return dict(self._producer_conf), dict(self._consumer_conf)

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        config = self.config
        self._signals.stopping = False
        self._local = threading.local()  # after a stop, threads get new consumers
        self._bootstrap = self._find_brokers()
        servers = ",".join(self._bootstrap)
        self._producer_conf.update({"bootstrap.servers": servers,
                                    **client_log_settings(f"Kafka channel {self.name} (producer)")})
        self._consumer_conf.update({"bootstrap.servers": servers,
                                    **client_log_settings(f"Kafka channel {self.name} (consumer)")})
        self._producing.restart()
        if config.zookeeper_connect and config.migrate_zookeeper_offsets:
            from flafka.kafka.zookeeper import migrate_offsets  # noqa: PLC0415  # kazoo only for ZooKeeper configs

            settings = {k: v for k, v in self._consumer_conf.items() if k not in ("logger", "error_cb")}
            migrated = migrate_offsets(config.zookeeper_connect, self._bootstrap, self._group, self._topic, settings)
            if migrated:
                log.info("Kafka channel %s migrated ZooKeeper offsets to Kafka. group=%s partitions=%d", self.name,
                         self._group, len(migrated))
        log.info("Kafka channel %s started. topic=%s group=%s brokers=%s", self.name, self._topic, self._group,
                 servers)

    def _find_brokers(self) -> list[str]:
        if self.config.bootstrap_servers:
            return [s.strip() for s in self.config.bootstrap_servers.split(",") if s.strip()]
        from flafka.kafka.zookeeper import brokers_from_zookeeper  # noqa: PLC0415  # kazoo only when needed

        assert self.config.zookeeper_connect is not None  # check() requires one of the two
        protocol = str(self._consumer_conf.get("security.protocol", "plaintext")).upper()
        brokers: list[str] = brokers_from_zookeeper(self.config.zookeeper_connect, security_protocol=protocol)
        log.info("Kafka channel %s found brokers in ZooKeeper. brokers=%s", self.name, ",".join(brokers))
        return brokers

    def stop(self) -> None:
        """Close every consumer (their sinks stopped first) and the producer."""
        self.stop_within(_STOP_TIMEOUT)

    def stop_within(self, timeout: float) -> None:
        """Close every consumer, then the producer, within about ``timeout`` seconds; log what is left."""
        deadline = time.monotonic() + timeout
        self._signals.stopping = True
        self._producing.request_stop()  # a put waiting on Kafka gives up now, not after the consumers closed
        self.wakeup()
        with self._takers_lock:
            takers, self._takers = self._takers, []
        unclosed = sum(1 for taker in takers if not taker.close(deadline))
        self._producing.stop(deadline)
        if unclosed:
            log.warning("Kafka channel %s could not close consumers by the stop deadline; offsets of events they "
                        "delivered may not be committed, and those events are delivered again. consumers=%d",
                        self.name, unclosed)
        log.info("Kafka channel %s stopped. undecodable_records=%d failed_commits=%d", self.name,
                 self.counter.event_read_fail, self.counter.commit_fail_count)

    def transaction(self) -> KafkaTransaction:
        return KafkaTransaction(self)

    def size(self) -> int:
        """0: how many records of the topic this group has not read is not known here (as in Flume)."""
        return 0

    def wait_for_events(self, timeout: float) -> bool:
        return True  # the take itself waits on Kafka

    def consumer_lag(self) -> Mapping[tuple[str, int], int]:
        """The last lag librdkafka reported per (topic, partition), end offset minus committed offset, merged over
        the taking threads' consumers: each partition's from the consumer it is assigned to."""
        with self._takers_lock:
            takers = [taker for taker in self._takers if not taker.closed]
        return merged_lag((taker.lag, frozenset(taker.owned)) for taker in takers)

    def wakeup(self) -> None:
        """Waiting takes return within 0.1 s."""
        self._signals.generation += 1

    # -- clients ----------------------------------------------------------------------------------

    def _taker(self) -> Taker:
        taker: Taker | None = getattr(self._local, "taker", None)
        if taker is not None:
            return taker
        if self._signals.stopping:
            raise KafkaChannelError(f"Kafka channel {self.name} is stopped", retriable=False)
        self._reap()
        lag = ConsumerLag(self.config.consumer_lag_interval_ms)
        try:
            consumer = self._consumer_factory({**self._consumer_conf, **lag.settings()})
        except KafkaException as exc:
            raise KafkaChannelError(f"Kafka channel {self.name} cannot create a consumer: {exc}",
                                    retriable=False) from exc
        thread = threading.current_thread()
        taker = Taker(self.name, consumer, thread, topic=self._topic, parse=self.config.parse_as_flume_event,
                      poll_s=self.config.poll_timeout / 1000.0,
                      max_poll_interval_ms=int(self._consumer_conf.get("max.poll.interval.ms", _MAX_POLL_INTERVAL_MS)),
                      signals=self._signals, counter=self.counter, once=self._once, lag=lag)
        with self._takers_lock:
            stopped = self._signals.stopping  # stop() ran while the consumer was being built: it did not see it
            if not stopped:
                taker.subscribe()
                self._takers.append(taker)
        if stopped:
            consumer.close()
            raise KafkaChannelError(f"Kafka channel {self.name} is stopped", retriable=False)
        self._local.taker = taker
        log.info("Kafka channel %s created a consumer. thread=%s group=%s", self.name, thread.name, self._group)
        return taker

    def _reap(self) -> None:
        """Close the consumers of threads that ended: their partitions go to the consumers still taking."""
        with self._takers_lock:
            dead = [t for t in self._takers if not t.thread.is_alive()]
            self._takers = [t for t in self._takers if t not in dead]
        for taker in dead:
            taker.close(time.monotonic() + _STOP_TIMEOUT)

    def _records(self, events: Sequence[Event]) -> list[Record]:
        return self._rules.records(self.name, events)

    def _send(self, records: list[Record], events: Sequence[Event]) -> None:
        self._producing.send(records, events)


class KafkaTransaction(Transaction):
    """Puts produced at commit; takes from the thread's consumer, their offsets committed after commit."""

    __slots__ = ("_channel", "_put_events", "_puts", "segments", "taken", "taker")

    def __init__(self, channel: KafkaChannel) -> None:
        super().__init__()
        self._channel = channel
        self._puts: list[Record] = []
        self._put_events: list[Event] = []  # index for index with _puts: what a failed commit remembers
        self.segments: list[Segment] = []  # what this transaction took, per partition
        self.taken = 0
        self.taker: Taker | None = None

    def _do_put_batch(self, events: Sequence[Event]) -> None:
        channel = self._channel
        with channel.counter.lock:
            channel.counter.event_put_attempt_count += len(events)
        self._puts.extend(channel._records(events))
        self._put_events.extend(events)

    def _do_take_batch(self, max_events: int, timeout: float) -> list[Event]:
        channel = self._channel
        taken: list[Event] = []
        if max_events > 0:
            taker = self.taker
            if taker is None:
                taker = self.taker = channel._taker()
            taken = taker.take(self.segments, self.taken, max_events, timeout)
            self.taken += len(taken)
        with channel.counter.lock:
            channel.counter.event_take_attempt_count += max(1, len(taken))
        return taken

    def _do_commit(self) -> None:
        channel = self._channel
        if self._puts:
            channel._send(self._puts, self._put_events)  # raises: the transaction stays open and is rolled back
            with channel.counter.lock:
                channel.counter.event_put_success_count += len(self._puts)
            self._puts = []
            self._put_events = []
        if self.taker is not None:
            self.taker.commit(self.segments, self.taken)
            self.segments = []
            self.taken = 0

    def _do_rollback(self) -> None:
        self._puts = []
        self._put_events = []
        if self.taker is not None:
            self.taker.rollback(self.segments, self.taken)
            self.segments = []
            self.taken = 0
