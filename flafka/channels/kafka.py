"""Flume's Kafka channel (``org.apache.flume.channel.kafka.KafkaChannel``, reference §3.2, §6.2).

A Kafka topic stores the channel's events. A put transaction buffers its events and produces them at
commit: every record is sent, the producer flushed and every acknowledgement awaited before the commit
returns (``acks=all`` by default); any failure fails the commit and the source retries. A take
transaction reads with the calling thread's own consumer (kafka-python's consumer is not thread-safe:
one per taking thread, all in one group) and commits the group's offsets only after the transaction
that took the events committed, that is after the sink delivered them: at-least-once. A rolled-back
take keeps its events in the thread's redelivery list, served before anything new.

Both property generations are accepted: Flume 1.6 (``brokerList``, ``zookeeperConnect``, ``topic``,
``groupId``, ``readSmallestOffset``, ``timeout``, ``kafka.<0.8 client key>`` given to both clients) and
Flume 1.7+ (``kafka.bootstrap.servers``, ``kafka.topic``, ``kafka.producer.*``, ``kafka.consumer.*``).

Differences from Flume (the safe choice, or what Python allows):

* A take waits up to ``max(timeout, kafka.pollTimeout)`` (Flume: ``kafka.pollTimeout``; sinks pass 0,
  so they see Flume's wait), and its first take also waits, within a bound, for the group join.
  ``wakeup()`` ends a waiting take within one ``kafka.pollTimeout``.
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
* ``capacity``/``transactionCapacity`` are accepted with a warning (Flume ignores them silently);
  ``kafka.producer.transactional.id`` is refused (Flume's producer would fail on it at the first send).
* The producer is created at the first put, so a broker that is down at start-up does not stop the
  agent; the consumer of a thread that ended is closed when the next consumer is made, and every
  consumer at ``stop()`` (the agent stops sinks first).
* A stop keeps to the agent's deadline (``stop_within``): it never waits for a client still being
  created (kafka-python's constructors wait up to 30 s for an unreachable broker) or for a put still
  waiting on Kafka; such a put fails, so its source was not acknowledged and sends again. Consumers
  are closed first (closing commits what was delivered), then the producer, with the time left. What
  could not be finished is logged (WARNING).
* The guide's ``pollTimeout`` and Flume 1.6's ``timeout`` are accepted as deprecated names of
  ``kafka.pollTimeout`` (Flume 1.7+ ignores both); 1.6 ``kafka.*`` client keys are mapped to the modern
  client with a warning (Flume 1.7+ ignores them).
* ``size()`` is 0: the backlog of a topic is not known here (Flume's ChannelSize is 0 too).

A transaction that still holds taken events when its consumer loses the partitions (only possible if
the consumer is closed under it, e.g. a sink that did not stop in time) still tries to commit their
offsets at its commit; that commit may fail (counted) and the new owner may deliver them again.
A consumer that stops polling (a stuck sink) holds up every rebalance of its group until
``kafka.consumer.max.poll.interval.ms`` passes, as in Java.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kafka import AsyncConsumerRebalanceListener, KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition
from kafka.errors import KafkaError
from kafka.record.default_records import DefaultRecordBatchBuilder
from kafka.structs import MemberState

from flafka.channels.base import Channel, Transaction
from flafka.config.params import ComponentConfig, param, prefixed
from flafka.errors import ChannelError, EventsRefused
from flafka.event import Event
from flafka.kafka.avro_event import AvroDecodeError, decode, encode
from flafka.kafka.client_config import ClientArgs, consumer_args, legacy_args, producer_args
from flafka.logging_once import OncePerKind
from flafka.monitoring.counters import KafkaChannelCounter

__all__ = ["KafkaChannel", "KafkaChannelConfig", "KafkaChannelError", "KafkaTransaction"]

log = logging.getLogger(__name__)

# Keys under "kafka." that are this channel's own settings, not Flume 1.6 client pass-through.
_OWN_KAFKA_KEYS = ("bootstrap.servers", "topic", "pollTimeout")
_JAVA_INT = re.compile(r"[+-]?[0-9]+")  # Integer.parseInt: ASCII digits, optional sign, no spaces
_INT_MAX = 2**31 - 1
_MAX_REQUEST_SIZE = 1_048_576  # the producer's max.request.size default (Java's and kafka-python's)
# An upper bound of a record's size beyond its key and value (record and batch headers): only events this close
# to max.request.size are measured exactly.
_RECORD_OVERHEAD = 512
_Record = tuple[bytes | None, int | None, bytes]  # key, partition (None: the partitioner's), value
_JOIN_WAIT = 30.0  # seconds a take keeps polling while its consumer (re)joins the group
_CLOSE_TIMEOUT_MS = 5000  # longest close of one client
# stop() without a deadline waits as long as its longest wait always was: a take's poll plus 30 s.
_STOP_TIMEOUT = 35.0
_UNKNOWN_LEGACY = "is not a Kafka 0.8"


class KafkaChannelError(ChannelError):
    """Kafka refused or could not take a put or take; ``retriable`` comes from the Kafka error."""

    def __init__(self, message: str, *, retriable: bool = True) -> None:
        super().__init__(message)
        self.retriable = retriable


@dataclass(frozen=True, kw_only=True)
class KafkaChannelConfig(ComponentConfig):
    bootstrap_servers: str | None = param(
        "kafka.bootstrap.servers", default=None, deprecated=("brokerList",),
        doc="Comma-separated brokers. When absent, brokers are looked up in `zookeeperConnect`.")
    topic: str = param("kafka.topic", default="flume-channel", deprecated=("topic",),
                       doc="Topic that stores the channel's events.")
    group_id: str = param("kafka.consumer.group.id", default="flume", deprecated=("groupId",),
                          doc="Consumer group of the taking threads; channels sharing it share the events.")
    parse_as_flume_event: bool = param(
        "parseAsFlumeEvent", default=True,
        doc="Record values are AvroFlumeEvent datums (headers and body). False: the value is the body, and "
            "taken events carry only the record key as header `key`.")
    poll_timeout: int = param(
        "kafka.pollTimeout", default=500, minimum=1, deprecated=("pollTimeout", "timeout"),
        doc="Longest wait of one consumer poll, ms (`pollTimeout` is the user guide's spelling, `timeout` "
            "Flume 1.6's).")
    default_partition_id: int | None = param(
        "defaultPartitionId", default=None, minimum=0, maximum=_INT_MAX,
        doc="Partition every put goes to unless partitionIdHeader names one; unset: chosen by the record key.")
    partition_id_header: str | None = param(
        "partitionIdHeader", default=None,
        doc="Header whose whole-number value is the partition of the event's record (wins over "
            "defaultPartitionId); a value that is not a number fails the put.")
    migrate_zookeeper_offsets: bool = param(
        "migrateZookeeperOffsets", default=True,
        doc="With zookeeperConnect: copy the group's Kafka 0.8 ZooKeeper offsets to Kafka when Kafka has none.")
    zookeeper_connect: str | None = param(
        "zookeeperConnect", default=None,
        doc="Deprecated (Flume 1.6): ZooKeeper of the Kafka cluster (`host:port[,…][/chroot]`), used to find "
            "the brokers when kafka.bootstrap.servers is absent, and to migrate offsets.")
    read_smallest_offset: bool | None = param(
        "readSmallestOffset", default=None,
        doc="Deprecated (Flume 1.6): true reads a new group from the earliest offset, false from the latest "
            "(kafka.consumer.auto.offset.reset wins).")
    capacity: str | None = param("capacity", default=None,
                                 doc="Ignored, as by Flume: the topic stores the events.")
    transaction_capacity: str | None = param(
        "transactionCapacity", default=None, doc="Ignored, as by Flume: a transaction puts or takes any number.")
    producer: dict[str, str] = prefixed(
        "kafka.producer.", doc="Kafka producer properties (Java names); `acks` defaults to `all`.")
    consumer: dict[str, str] = prefixed(
        "kafka.consumer.", doc="Kafka consumer properties (Java names); `auto.offset.reset` defaults to "
                               "`earliest`; auto commit is always off.")
    kafka: dict[str, str] = prefixed(
        "kafka.", doc="Flume 1.6: Kafka 0.8 client properties, given to the producer and the consumer (mapped, "
                      "with a warning, when they have a modern equivalent).")

    def _legacy(self) -> dict[str, str]:
        return {k: v for k, v in self.kafka.items()
                if not k.startswith(("consumer.", "producer.")) and k not in _OWN_KAFKA_KEYS}

    def client_args(self) -> tuple[ClientArgs, ClientArgs]:
        """kafka-python arguments of the producer and of the consumers, with every problem found.

        Precedence, lowest first: Flume 1.6 ``kafka.<key>``, ``readSmallestOffset``, ``kafka.producer.*`` /
        ``kafka.consumer.*``. ``bootstrap.servers`` and ``group.id`` always come from the channel's own keys.
        """
        legacy = self._legacy()
        old_p = legacy_args(legacy, producer=True)
        old_c = legacy_args(legacy, producer=False)
        warnings: list[tuple[str, str]] = []
        unknown_p = {k for k, m in old_p.warnings if _UNKNOWN_LEGACY in m}
        unknown_c = {k for k, m in old_c.warnings if _UNKNOWN_LEGACY in m}
        for key, given in [*old_p.warnings, *old_c.warnings]:
            message = given
            if key in unknown_p and key in unknown_c:
                message = ("is not a Kafka 0.8 producer or consumer setting flafka knows; ignored (use "
                           "kafka.producer.<property> or kafka.consumer.<property>)")
            elif _UNKNOWN_LEGACY in given:
                continue  # the other client knows it
            if (key, message) not in warnings:
                warnings.append((key, message))
        errors = old_p.errors + old_c.errors

        modern_p = dict(self.producer)
        modern_c = {k: v for k, v in self.consumer.items() if k != "group.id"}  # declared as our own key
        for group, prefix in ((modern_p, "kafka.producer."), (modern_c, "kafka.consumer.")):
            if group.pop("bootstrap.servers", None) is not None:
                warnings.append((prefix + "bootstrap.servers", "ignored: kafka.bootstrap.servers is used (as Flume)"))
        if modern_p.pop("type", None) is not None:  # Flume 1.6 configs often set the 0.8 producer.type
            warnings.append(("kafka.producer.type", "is a Kafka 0.8 producer setting (Flume 1.6) with no effect on "
                                                    "the modern client; ignored"))

        # A Flume 1.6 request.required.acks is the user's choice; otherwise Flume's default, acks=all.
        acks = old_p.args.get("acks", "all") if "request.required.acks" in legacy else "all"
        new_p = producer_args(modern_p, default_acks=acks)
        new_c = consumer_args(modern_c)
        producer = ClientArgs(
            {**{k: v for k, v in old_p.args.items() if k not in ("acks", "enable_idempotence")}, **new_p.args},
            errors + new_p.errors, warnings + new_p.warnings)
        consumer = ClientArgs({**old_c.args, **new_c.args}, new_c.errors, new_c.warnings)
        if "auto_offset_reset" not in new_c.args:
            if self.read_smallest_offset is not None:
                consumer.args["auto_offset_reset"] = "earliest" if self.read_smallest_offset else "latest"
            consumer.args.setdefault("auto_offset_reset", "earliest")
        if "transactional_id" in producer.args:
            producer.errors.append(("kafka.producer.transactional.id",
                                    "is not supported: the Kafka channel's producer is not transactional (Flume's "
                                    "is not either)"))
        return producer, consumer

    def check(self) -> Iterable[tuple[str | None, str]]:
        producer, consumer = self.client_args()
        problems: list[tuple[str | None, str]] = [*producer.errors, *consumer.errors]
        if not self.bootstrap_servers and not self.zookeeper_connect:
            problems.append(("kafka.bootstrap.servers", "is required (or zookeeperConnect, Flume 1.6 style)"))
        if not self.topic.strip():
            problems.append(("kafka.topic", "must not be empty"))
        return problems

    def check_warnings(self) -> Iterable[tuple[str | None, str]]:
        producer, consumer = self.client_args()
        found: list[tuple[str | None, str]] = [*producer.warnings, *consumer.warnings]
        for key, value in (("capacity", self.capacity), ("transactionCapacity", self.transaction_capacity)):
            if value is not None:
                found.append((key, "is ignored by the Kafka channel (as by Flume): the topic stores the events"))
        if self.read_smallest_offset is not None:
            found.append(("readSmallestOffset", "is deprecated, use kafka.consumer.auto.offset.reset"
                          + (" (ignored: that is set)" if "auto.offset.reset" in self.consumer else "")))
        if self.zookeeper_connect is not None:
            found.append(("zookeeperConnect", "is deprecated (Flume 1.6): it only finds the brokers when "
                          "kafka.bootstrap.servers is absent, and migrates ZooKeeper offsets"))
        return found


def partition_of(value: str, header: str) -> int:
    """The partition a ``partitionIdHeader`` value names, parsed as Java's ``Integer.parseInt``."""
    if not _JAVA_INT.fullmatch(value) or not 0 <= int(value) <= _INT_MAX:
        raise ChannelError(f"header {header}={value!r} is not a partition number (partitionIdHeader)")
    return int(value)


class _Segment:
    """Consecutive records of one partition: their events and the offsets ``start`` to ``end`` they consume.

    Records that failed to decode have no event but stay inside ``start``..``end``, so their offsets are
    committed with the events around them.
    """

    __slots__ = ("end", "events", "offsets", "start", "tp")

    def __init__(self, tp: TopicPartition, start: int, end: int, events: list[Event], offsets: list[int]) -> None:
        self.tp = tp
        self.start = start
        self.end = end
        self.events = events
        self.offsets = offsets

    def split(self, count: int) -> _Segment:
        """Remove and return the first ``count`` events (and every offset before the next event)."""
        cut = self.offsets[count]
        head = _Segment(self.tp, self.start, cut, self.events[:count], self.offsets[:count])
        self.start = cut
        self.events = self.events[count:]
        self.offsets = self.offsets[count:]
        return head


def _serve(source: deque[_Segment], want: int, held: list[_Segment], out: list[Event]) -> None:
    """Move events from the head of ``source`` into ``out`` (and their segments into ``held``) up to ``want``."""
    while source and len(out) < want:
        segment = source[0]
        room = want - len(out)
        if len(segment.events) <= room:
            source.popleft()
        else:
            segment = segment.split(room)
        held.append(segment)
        out.extend(segment.events)


class _Taker:
    """One taking thread's consumer and what it holds. Used only under ``lock``, except by the listener,
    which runs on kafka-python's IO thread while the lock holder waits inside ``poll`` or ``close``."""

    def __init__(self, channel: KafkaChannel, consumer: Any, thread: threading.Thread) -> None:
        self.channel = channel
        self.consumer = consumer
        self.thread = thread
        self.lock = threading.Lock()
        self.closed = False
        self.buffer: deque[_Segment] = deque()  # polled, not taken yet
        self.redeliver: deque[_Segment] = deque()  # taken by transactions that rolled back
        self.open: list[KafkaTransaction] = []  # this thread's transactions holding takes
        self.delivered: dict[TopicPartition, int] = {}  # next offset after what committed transactions took
        self.committed: dict[TopicPartition, int] = {}  # last offset committed to Kafka by this consumer

    def held_starts(self) -> dict[TopicPartition, int]:
        """Lowest offset per partition of events taken but not delivered (awaiting redelivery or in a take)."""
        low: dict[TopicPartition, int] = {}
        for segment in (*self.redeliver, *(s for tx in self.open for s in tx.segments)):
            if segment.start < low.get(segment.tp, segment.start + 1):
                low[segment.tp] = segment.start
        return low

    def committable(self) -> dict[TopicPartition, Any]:
        """Offsets to commit: what was delivered, but never past an event still held."""
        low = self.held_starts() if self.redeliver or len(self.open) > 0 else {}
        offsets = {}
        for tp, end in list(self.delivered.items()):
            upto = min(end, low.get(tp, end))
            if upto > self.committed.get(tp, -1):
                offsets[tp] = OffsetAndMetadata(upto, "", -1)
            elif upto == end:
                del self.delivered[tp]  # already committed
        return offsets

    def mark_committed(self, offsets: dict[TopicPartition, Any]) -> None:
        for tp, meta in offsets.items():
            self.committed[tp] = meta.offset
            if self.delivered.get(tp) == meta.offset:
                del self.delivered[tp]

    def revoke(self, partitions: set[TopicPartition], *, lost: bool) -> dict[TopicPartition, Any]:
        """Forget what this consumer holds of ``partitions``; returns the offsets still to commit for them."""
        dropped = 0
        low: dict[TopicPartition, int] = {}
        for queue, keep_low in ((self.buffer, False), (self.redeliver, True)):
            kept = [s for s in queue if s.tp not in partitions]
            for segment in queue:
                if segment.tp in partitions:
                    dropped += len(segment.events)
                    if keep_low and segment.start < low.get(segment.tp, segment.start + 1):
                        low[segment.tp] = segment.start
            queue.clear()
            queue.extend(kept)
        for tp, start in self.held_starts().items():
            if tp in partitions and start < low.get(tp, start + 1):
                low[tp] = start
        offsets = {}
        for tp in partitions:
            end = self.delivered.pop(tp, None)
            done = self.committed.pop(tp, None)
            if end is None or lost:
                continue
            upto = min(end, low.get(tp, end))
            if done is None or upto > done:
                offsets[tp] = OffsetAndMetadata(upto, "", -1)
        name = self.channel.name
        if dropped:
            log.info("Kafka channel %s gave up partitions; their fetched, untaken events are left to the new owner. "
                     "thread=%s partitions=%d events=%d", name, self.thread.name, len(partitions), dropped)
        elif partitions:
            log.debug("Kafka channel %s gave up partitions. thread=%s partitions=%d", name, self.thread.name,
                      len(partitions))
        return offsets


class _Listener(AsyncConsumerRebalanceListener):  # type: ignore[misc]  # untyped library base
    """Runs on kafka-python's IO thread (a blocking consumer call there would deadlock: it awaits instead)."""

    def __init__(self, taker: _Taker) -> None:
        self._taker = taker

    async def on_partitions_revoked(self, revoked: Any) -> None:
        taker = self._taker
        offsets = taker.revoke(set(revoked), lost=False)
        if not offsets:
            return
        try:
            await taker.consumer.commit_async(offsets)
        except KafkaError as exc:
            taker.channel._commit_failed(exc, "before giving up partitions")
            return
        log.info("Kafka channel %s committed delivered offsets before giving up partitions. partitions=%d",
                 taker.channel.name, len(offsets))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        log.info("Kafka channel %s consumer was assigned partitions. thread=%s partitions=%s",
                 self._taker.channel.name, self._taker.thread.name,
                 ",".join(sorted(f"{tp.topic}-{tp.partition}" for tp in assigned)) or "none")

    async def on_partitions_lost(self, lost: Any) -> None:
        self._taker.revoke(set(lost), lost=True)
        log.warning("Kafka channel %s lost its partitions (evicted from the group); their new owner may deliver "
                    "events again. partitions=%d", self._taker.channel.name, len(lost))


class KafkaChannel(Channel):
    """See the module docstring."""

    durable = True

    config_class = KafkaChannelConfig
    config: KafkaChannelConfig
    counter: KafkaChannelCounter

    def __init__(self, name: str, config: KafkaChannelConfig) -> None:
        super().__init__(name, config)
        self.counter = KafkaChannelCounter(name)
        producer, consumer = config.client_args()
        self._producer_args = producer.args
        self._max_record = int(producer.args.get("max_request_size", _MAX_REQUEST_SIZE))
        self._consumer_args = consumer.args
        self._topic = config.topic
        self._group = config.group_id
        self._parse = config.parse_as_flume_event
        self._partition_header = config.partition_id_header
        self._default_partition = config.default_partition_id
        self._poll_s = config.poll_timeout / 1000.0
        self._max_poll_records: int = consumer.args.get("max_poll_records", 500)
        self._send_timeout = producer.args.get("delivery_timeout_ms", 120_000) / 1000.0 + 10.0
        self._bootstrap: list[str] = []
        self._producer: Any = None
        self._producer_lock = threading.Lock()  # guards _producer; never held while a client is built
        self._creating = threading.Lock()  # one producer built at a time
        self._sending = 0  # events of puts waiting on Kafka, under _sending_lock
        self._sending_lock = threading.Lock()
        self._local = threading.local()
        self._takers: list[_Taker] = []
        self._takers_lock = threading.Lock()
        self._stopping = False
        self._wake_generation = 0
        self._once = OncePerKind(log)

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        config = self.config
        self._stopping = False
        self._local = threading.local()  # after a stop, threads get new consumers
        self._bootstrap = self._find_brokers()
        if config.zookeeper_connect and config.migrate_zookeeper_offsets:
            from flafka.kafka.zookeeper import migrate_offsets  # noqa: PLC0415  # kazoo only for ZooKeeper configs

            migrated = migrate_offsets(config.zookeeper_connect, self._bootstrap, self._group, self._topic,
                                       self._consumer_args)
            if migrated:
                log.info("Kafka channel %s migrated ZooKeeper offsets to Kafka. group=%s partitions=%d", self.name,
                         self._group, len(migrated))
        self.counter.start()
        log.info("Kafka channel %s started. topic=%s group=%s brokers=%s", self.name, self._topic, self._group,
                 ",".join(self._bootstrap))

    def _find_brokers(self) -> list[str]:
        if self.config.bootstrap_servers:
            return [s.strip() for s in self.config.bootstrap_servers.split(",") if s.strip()]
        from flafka.kafka.zookeeper import brokers_from_zookeeper  # noqa: PLC0415  # kazoo only when needed

        assert self.config.zookeeper_connect is not None  # check() requires one of the two
        protocol = self._consumer_args.get("security_protocol", "PLAINTEXT")
        brokers: list[str] = brokers_from_zookeeper(self.config.zookeeper_connect, security_protocol=protocol)
        log.info("Kafka channel %s found brokers in ZooKeeper. brokers=%s", self.name, ",".join(brokers))
        return brokers

    def stop(self) -> None:
        """Close every consumer (their sinks stopped first) and the producer."""
        self.stop_within(_STOP_TIMEOUT)

    def stop_within(self, timeout: float) -> None:
        """Close every consumer, then the producer, within about ``timeout`` seconds; log what is left."""
        deadline = time.monotonic() + timeout
        self._stopping = True
        self.wakeup()
        with self._takers_lock:
            takers, self._takers = self._takers, []
        unclosed = sum(1 for taker in takers if not self._close_taker(taker, deadline))
        with self._producer_lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            # close() waits up to its timeout twice (flush, then its sender thread).
            wait = min(_CLOSE_TIMEOUT_MS / 1000, max(0.0, deadline - time.monotonic())) / 2
            try:
                producer.close(timeout=wait)
            except KafkaError as exc:
                log.warning("Kafka channel %s could not close its producer cleanly: %s", self.name, exc)
        with self._sending_lock:
            sending = self._sending
        if sending:
            log.warning("Kafka channel %s stopped while puts were still waiting for Kafka; they are not committed, "
                        "so their sources were not acknowledged and send them again. events=%d", self.name, sending)
        if unclosed:
            log.warning("Kafka channel %s could not close consumers by the stop deadline; offsets of events they "
                        "delivered may not be committed, and those events are delivered again. consumers=%d",
                        self.name, unclosed)
        self.counter.stop()
        log.info("Kafka channel %s stopped. undecodable_records=%d failed_commits=%d", self.name,
                 self.counter.event_read_fail, self.counter.commit_fail_count)

    def _close_taker(self, taker: _Taker, deadline: float) -> bool:
        """Close ``taker``'s consumer by ``deadline``; False when it could not be closed cleanly in time."""
        # A take holds the lock at most one poll (the wakeup above ends its wait) or one offset commit.
        acquired = taker.lock.acquire(timeout=max(0.0, deadline - time.monotonic()))
        if not acquired:
            log.warning("Kafka channel %s closes a consumer still in use. thread=%s", self.name, taker.thread.name)
        try:
            if taker.closed:
                return True
            taker.closed = True
            wait_ms = int(min(_CLOSE_TIMEOUT_MS, max(0.0, deadline - time.monotonic()) * 1000))
            try:
                # The revoke callback runs inside close() and commits what was delivered.
                taker.consumer.close(autocommit=False, timeout_ms=wait_ms)
            except KafkaError as exc:
                log.warning("Kafka channel %s could not close a consumer cleanly. thread=%s error=%s", self.name,
                            taker.thread.name, exc)
                return False
            return acquired and time.monotonic() <= deadline
        finally:
            if acquired:
                taker.lock.release()

    def transaction(self) -> KafkaTransaction:
        return KafkaTransaction(self)

    def size(self) -> int:
        """0: how many records of the topic this group has not read is not known here (as in Flume)."""
        return 0

    def wait_for_events(self, timeout: float) -> bool:
        return True  # the take itself polls Kafka

    def wakeup(self) -> None:
        """Waiting takes return within one kafka.pollTimeout (kafka-python's consumer has no wakeup())."""
        self._wake_generation += 1

    # -- put side ---------------------------------------------------------------------------------

    def _records(self, events: Sequence[Event]) -> list[_Record]:
        """The records of ``events``; raises :class:`EventsRefused` (nothing kept) for events that can never be
        records of this channel: a partition header that is not a partition number, a key or header that is
        not valid Unicode text, a record larger than ``max.request.size``."""
        header = self._partition_header
        default = self._default_partition
        parse = self._parse
        near_limit = self._max_record - _RECORD_OVERHEAD
        out: list[_Record] = []
        append = out.append
        try:
            for event in events:
                headers = event.headers
                key = headers.get("key")
                partition = default
                if header is not None:
                    raw = headers.get(header)
                    if raw is not None:
                        partition = partition_of(raw, header)
                value = encode(headers, event.body) if parse else event.body
                key_bytes = None if key is None else key.encode()
                if len(value) + (len(key_bytes) if key_bytes else 0) > near_limit:
                    raise ValueError("too large")
                append((key_bytes, partition, value))
            return out
        except (ChannelError, ValueError, TypeError):  # UnicodeEncodeError is a ValueError
            pass
        # Some event cannot be a record: find every such event (the slow way, off the hot path).
        refused: dict[int, str] = {}
        for index, event in enumerate(events):
            problem = self._record_problem(event)
            if problem is not None:
                refused[index] = problem
        if not refused:  # pragma: no cover - the fast loop and this one judge alike
            raise KafkaChannelError(f"Kafka channel {self.name} could not encode a batch", retriable=False)
        raise EventsRefused(self.name, refused)

    def _record_problem(self, event: Event) -> str | None:
        """Why ``event`` can never be a record of this channel, or None."""
        headers = event.headers
        header = self._partition_header
        if header is not None and headers.get(header) is not None:
            try:
                partition_of(headers[header], header)
            except ChannelError as exc:
                return str(exc)
        key = headers.get("key")
        try:
            key_bytes = None if key is None else key.encode()
        except UnicodeEncodeError as exc:
            return f"header key is not valid Unicode text: {exc.reason} at character {exc.start}"
        try:
            value = encode(headers, event.body) if self._parse else event.body
        except (ValueError, TypeError) as exc:
            return f"cannot be written as an AvroFlumeEvent: {type(exc).__name__}: {exc}"
        size = DefaultRecordBatchBuilder.estimate_size_in_bytes(key_bytes, value, [])
        if size > self._max_record:
            return (f"a record of {size} bytes is larger than max.request.size ({self._max_record}); raise "
                    "kafka.producer.max.request.size (and the broker's message.max.bytes) to keep such events")
        return None

    def _get_producer(self) -> Any:
        producer = self._producer
        if producer is not None:
            return producer
        # Built outside _producer_lock: the constructor waits up to 30 s for an unreachable broker, and
        # stop() must not wait for it.
        with self._creating:
            with self._producer_lock:
                if self._stopping:
                    raise KafkaChannelError(f"Kafka channel {self.name} is stopped", retriable=False)
                if self._producer is not None:
                    return self._producer
            try:
                producer = KafkaProducer(bootstrap_servers=self._bootstrap, **self._producer_args)
            except KafkaError as exc:
                raise KafkaChannelError(f"Kafka channel {self.name} cannot reach Kafka at "
                                        f"{','.join(self._bootstrap)}: {exc}", retriable=exc.retriable) from exc
            with self._producer_lock:
                if not self._stopping:
                    self._producer = producer
                    log.info("Kafka channel %s created its producer. topic=%s", self.name, self._topic)
                    return producer
            producer.close(timeout=0)
            raise KafkaChannelError(f"Kafka channel {self.name} stopped while its producer was being created",
                                    retriable=False)

    def _send(self, records: list[_Record]) -> None:
        with self._sending_lock:
            self._sending += len(records)
        try:
            self._send_now(records)
        finally:
            with self._sending_lock:
                self._sending -= len(records)

    def _send_now(self, records: list[_Record]) -> None:
        producer = self._get_producer()
        topic = self._topic
        started = time.monotonic()
        if any(partition is not None for _, partition, _ in records):
            self._refuse_unknown_partitions(producer, records)
        try:
            send = producer.send
            futures = [send(topic, value=value, key=key, partition=partition) for key, partition, value in records]
            producer.flush(timeout=self._send_timeout)
            for future in futures:
                future.get(timeout=self._send_timeout)  # done after flush: raises the record's failure, if any
        except KafkaError as exc:
            raise KafkaChannelError(f"Kafka channel {self.name} could not write {len(records)} events to topic "
                                    f"{topic}: {exc}", retriable=exc.retriable) from exc
        except ValueError as exc:  # kafka-python's check of an explicit partition the topic does not have
            raise KafkaChannelError(f"Kafka channel {self.name} could not write to topic {topic}: {exc}",
                                    retriable=False) from exc
        finally:
            self.counter.kafka_event_send_timer += int((time.monotonic() - started) * 1000)

    def _refuse_unknown_partitions(self, producer: Any, records: list[_Record]) -> None:
        """Raise :class:`EventsRefused` for records naming a partition the topic does not have, before any record
        is sent (kafka-python raises on one half-way through a batch, after queueing the records before it)."""
        try:
            known = producer.partitions_for(self._topic)
        except KafkaError as exc:
            raise KafkaChannelError(f"Kafka channel {self.name} cannot read the partitions of topic {self._topic}: "
                                    f"{exc}", retriable=exc.retriable) from exc
        if not known:
            return  # not known yet (a topic Kafka creates on first write): the send decides
        refused = {index: f"partition {partition} is not a partition of topic {self._topic} (it has {len(known)})"
                   for index, (_, partition, _) in enumerate(records)
                   if partition is not None and partition not in known}
        if refused:
            raise EventsRefused(self.name, refused)

    # -- take side --------------------------------------------------------------------------------

    def _taker(self) -> _Taker:
        taker: _Taker | None = getattr(self._local, "taker", None)
        if taker is not None:
            return taker
        if self._stopping:
            raise KafkaChannelError(f"Kafka channel {self.name} is stopped", retriable=False)
        self._reap()
        try:
            consumer = KafkaConsumer(bootstrap_servers=self._bootstrap, group_id=self._group, **self._consumer_args)
        except KafkaError as exc:
            raise KafkaChannelError(f"Kafka channel {self.name} cannot reach Kafka at {','.join(self._bootstrap)}: "
                                    f"{exc}", retriable=exc.retriable) from exc
        taker = _Taker(self, consumer, threading.current_thread())
        with self._takers_lock:
            stopped = self._stopping  # stop() ran while the consumer was being built: it did not see it
            if not stopped:
                consumer.subscribe(topics=[self._topic], listener=_Listener(taker))
                self._takers.append(taker)
        if stopped:
            consumer.close(autocommit=False, timeout_ms=0)
            raise KafkaChannelError(f"Kafka channel {self.name} is stopped", retriable=False)
        self._local.taker = taker
        log.info("Kafka channel %s created a consumer. thread=%s group=%s", self.name, taker.thread.name,
                 self._group)
        return taker

    def _reap(self) -> None:
        """Close the consumers of threads that ended: their partitions go to the consumers still taking."""
        with self._takers_lock:
            dead = [t for t in self._takers if not t.thread.is_alive()]
            self._takers = [t for t in self._takers if t not in dead]
        for taker in dead:
            self._close_taker(taker, time.monotonic() + _STOP_TIMEOUT)

    def _take(self, tx: KafkaTransaction, max_events: int, timeout: float) -> list[Event]:
        taker = tx.taker
        if taker is None:
            taker = tx.taker = self._taker()
        out: list[Event] = []
        with taker.lock:
            if taker.closed:
                raise KafkaChannelError(f"Kafka channel {self.name} is stopped", retriable=False)
            if tx not in taker.open:
                taker.open.append(tx)
            held = tx.segments
            if taker.redeliver:
                _serve(taker.redeliver, max_events, held, out)
            if taker.buffer and len(out) < max_events:
                _serve(taker.buffer, max_events, held, out)
            if not out and not tx.taken:
                # Poll only with nothing in hand: a rebalance inside the poll then finds no taken events.
                self._poll(taker, max_events, timeout)
                _serve(taker.buffer, max_events, held, out)
            tx.taken += len(out)
        return out

    def _poll(self, taker: _Taker, max_events: int, timeout: float) -> None:
        consumer = taker.consumer
        poll_s = self._poll_s
        max_records = max(max_events, self._max_poll_records)
        generation = self._wake_generation
        started = time.monotonic()
        deadline = started + max(timeout, poll_s)
        join_deadline = started + _JOIN_WAIT
        joining = False
        try:
            while True:
                wait_ms = max(1, int(min(poll_s, deadline - time.monotonic()) * 1000))
                polled = consumer.poll(timeout_ms=wait_ms, max_records=max_records)
                if polled and self._buffer(taker, polled):
                    return
                if self._wake_generation != generation or self._stopping:
                    return
                now = time.monotonic()
                if consumer.group_metadata().state != MemberState.STABLE:
                    # Joining (or rejoining) the group: that wait does not count against the take's.
                    joining = True
                    if now < join_deadline:
                        deadline = max(deadline, now + poll_s)
                elif joining:
                    joining = False
                    deadline = max(deadline, now + poll_s)
                if now >= deadline:
                    return
        except KafkaError as exc:
            raise KafkaChannelError(f"Kafka channel {self.name} could not read topic {self._topic}: {exc}",
                                    retriable=exc.retriable) from exc
        finally:
            self.counter.kafka_event_get_timer += int((time.monotonic() - started) * 1000)

    def _buffer(self, taker: _Taker, polled: dict[Any, list[Any]]) -> int:
        """Turn polled records into segments at the end of the buffer; returns the number of events."""
        parse = self._parse
        count = 0
        for tp, records in polled.items():
            if not records:
                continue
            events: list[Event] = []
            offsets: list[int] = []
            add_event = events.append
            add_offset = offsets.append
            if parse:
                for record in records:
                    try:
                        headers, body = decode(record.value if record.value is not None else b"")
                    except AvroDecodeError as exc:
                        self._undecodable(record, exc)
                        continue
                    if record.key is not None:
                        headers["key"] = record.key.decode("utf-8", "replace")
                    add_event(Event(body, headers))
                    add_offset(record.offset)
            else:
                for record in records:
                    add_event(Event(record.value if record.value is not None else b"",
                                    {} if record.key is None else {"key": record.key.decode("utf-8", "replace")}))
                    add_offset(record.offset)
            taker.buffer.append(_Segment(tp, records[0].offset, records[-1].offset + 1, events, offsets))
            count += len(events)
        return count

    def _undecodable(self, record: Any, exc: AvroDecodeError) -> None:
        self.counter.event_read_fail += 1
        self._once.log(logging.WARNING, "avro",
                       f"Kafka channel {self.name} skipped a record that is not an AvroFlumeEvent (parseAsFlumeEvent "
                       f"is true). topic={record.topic} partition={record.partition} offset={record.offset} "
                       f"error={exc}")

    def _commit_takes(self, tx: KafkaTransaction) -> None:
        taker = tx.taker
        assert taker is not None
        with taker.lock:
            if tx in taker.open:
                taker.open.remove(tx)
            delivered = taker.delivered
            for segment in tx.segments:
                if segment.end > delivered.get(segment.tp, -1):
                    delivered[segment.tp] = segment.end
            self.counter.event_take_success_count += tx.taken
            if taker.closed:
                if delivered:
                    self._commit_failed(None, "after the consumer was closed")
                return
            offsets = taker.committable()
            if not offsets:
                return
            started = time.monotonic()
            try:
                taker.consumer.commit(offsets)
            except KafkaError as exc:
                self._commit_failed(exc, "after delivery")
                return
            finally:
                self.counter.kafka_commit_timer += int((time.monotonic() - started) * 1000)
            taker.mark_committed(offsets)

    def _commit_failed(self, exc: KafkaError | None, when: str) -> None:
        self.counter.commit_fail_count += 1
        reason = type(exc).__name__ if exc is not None else "closed"
        self._once.log(logging.WARNING, f"commit:{reason}",
                       f"Kafka channel {self.name} could not commit offsets {when}; they are retried with the next "
                       f"commit, and the events may be delivered again if this consumer stops first. error={exc}")

    def _rollback_takes(self, tx: KafkaTransaction) -> None:
        taker = tx.taker
        assert taker is not None
        with taker.lock:
            if tx in taker.open:
                taker.open.remove(tx)
            taker.redeliver.extendleft(reversed(tx.segments))
            self.counter.rollback_count += tx.taken


class KafkaTransaction(Transaction):
    """Puts produced at commit; takes from the thread's consumer, their offsets committed after commit."""

    __slots__ = ("_channel", "_puts", "segments", "taken", "taker")

    def __init__(self, channel: KafkaChannel) -> None:
        super().__init__()
        self._channel = channel
        self._puts: list[_Record] = []
        self.segments: list[_Segment] = []  # what this transaction took, per partition
        self.taken = 0
        self.taker: _Taker | None = None

    def _do_put_batch(self, events: Sequence[Event]) -> None:
        channel = self._channel
        channel.counter.event_put_attempt_count += len(events)
        self._puts.extend(channel._records(events))

    def _do_take_batch(self, max_events: int, timeout: float) -> list[Event]:
        channel = self._channel
        taken = channel._take(self, max_events, timeout) if max_events > 0 else []
        channel.counter.event_take_attempt_count += max(1, len(taken))
        return taken

    def _do_commit(self) -> None:
        channel = self._channel
        if self._puts:
            channel._send(self._puts)  # raises: the transaction stays open and is rolled back
            channel.counter.event_put_success_count += len(self._puts)
            self._puts = []
        if self.taker is not None:
            channel._commit_takes(self)
            self.segments = []
            self.taken = 0

    def _do_rollback(self) -> None:
        self._puts = []
        if self.taker is not None:
            self._channel._rollback_takes(self)
            self.segments = []
            self.taken = 0
