"""The Kafka channel's properties: both Flume generations, and the librdkafka settings of its two clients.

Flume 1.6 wrote ``brokerList``, ``zookeeperConnect``, ``topic``, ``groupId``, ``readSmallestOffset``,
``timeout`` and ``kafka.<Kafka 0.8 client key>`` (given to both clients); Flume 1.7+ writes
``kafka.bootstrap.servers``, ``kafka.topic``, ``kafka.producer.*`` and ``kafka.consumer.*``. Precedence, lowest
first: the 1.6 ``kafka.<key>``, ``readSmallestOffset``, then ``kafka.producer.*`` / ``kafka.consumer.*``;
``bootstrap.servers`` and ``group.id`` always come from the channel's own keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from flafka.config.params import ComponentConfig, param, prefixed
from flafka.kafka import lag
from flafka.kafka.client_config import (
    CONSUMER_FETCH_DEFAULTS,
    ClientConfig,
    Value,
    consumer_config,
    legacy_config,
    producer_config,
)
from flafka.kafka.records import INT32_MAX

__all__ = ["CONSUMER_DEFAULTS", "PRODUCER_DEFAULTS", "KafkaChannelConfig"]

# Keys under "kafka." that are this channel's own settings, not Flume 1.6 client pass-through.
_OWN_KAFKA_KEYS = ("bootstrap.servers", "topic", "pollTimeout")
_UNKNOWN_LEGACY = "is not a Kafka 0.8"

#: Producer settings unless written. A put is flushed at its commit whatever linger.ms says, so lingering only
#: groups the records of one put (produced in a tight loop) into fewer, larger requests; 5 ms is librdkafka's
#: own default (Java's is 0).
PRODUCER_DEFAULTS: Mapping[str, Value] = {"linger.ms": 5}

#: Consumer settings unless written: the shared fetch sizes, and a local queue bounded lower than the source's
#: (32 MiB, 100k records, per consumer) because a channel has one consumer per taking thread, and a take serves
#: a sink batch, not a whole fetch.
CONSUMER_DEFAULTS: Mapping[str, Value] = {
    **CONSUMER_FETCH_DEFAULTS,
    "queued.min.messages": 100_000,
    "queued.max.messages.kbytes": 32 * 1024,
}

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
        doc="Longest wait of one take for records, ms (`pollTimeout` is the user guide's spelling, `timeout` "
            "Flume 1.6's).")
    default_partition_id: int | None = param(
        "defaultPartitionId", default=None, minimum=0, maximum=INT32_MAX,
        doc="Partition every put goes to unless partitionIdHeader names one; unset: chosen by the record key.")
    partition_id_header: str | None = param(
        "partitionIdHeader", default=None,
        doc="Header whose whole-number value is the partition of the event's record (wins over "
            "defaultPartitionId); an event whose value is not a partition of the topic is refused as a bad event.")
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
    consumer_lag_interval_ms: int = param(
        "consumerLagIntervalMs", default=lag.DEFAULT_INTERVAL_MS, minimum=0, doc=lag.INTERVAL_DOC)
    capacity: str | None = param("capacity", default=None,
                                 doc="Ignored, as by Flume: the topic stores the events.")
    transaction_capacity: str | None = param(
        "transactionCapacity", default=None, doc="Ignored, as by Flume: a transaction puts or takes any number.")
    producer: dict[str, str] = prefixed(
        "kafka.producer.", doc="Kafka producer properties (Java names); `acks` defaults to `all`, `linger.ms` to 5.")
    consumer: dict[str, str] = prefixed(
        "kafka.consumer.", doc="Kafka consumer properties (Java names); `auto.offset.reset` defaults to "
                               "`earliest`; auto commit is always off.")
    kafka: dict[str, str] = prefixed(
        "kafka.", doc="Flume 1.6: Kafka 0.8 client properties, given to the producer and the consumer (mapped, "
                      "with a warning, when they have a modern equivalent).")

    def _legacy(self) -> dict[str, str]:
        return {k: v for k, v in self.kafka.items()
                if not k.startswith(("consumer.", "producer.")) and k not in _OWN_KAFKA_KEYS}

    def client_configs(self) -> tuple[ClientConfig, ClientConfig]:
        """librdkafka settings of the producer and of the consumers (without bootstrap servers, group and the
        channel's throughput defaults), with every problem found."""
        legacy = self._legacy()
        old_p = legacy_config(legacy, producer=True)
        old_c = legacy_config(legacy, producer=False)
        # A Flume 1.6 key goes to both clients; it is unknown only when neither knows it.
        unknown_p = {k for k, m in old_p.warnings if _UNKNOWN_LEGACY in m}
        unknown_c = {k for k, m in old_c.warnings if _UNKNOWN_LEGACY in m}
        warnings: list[tuple[str, str]] = []
        for key, given in [*old_p.warnings, *old_c.warnings]:
            message = given
            if key in unknown_p and key in unknown_c:
                message = ("is not a Kafka 0.8 producer or consumer setting flafka knows; ignored (use "
                           "kafka.producer.<property> or kafka.consumer.<property>)")
            elif _UNKNOWN_LEGACY in given:
                continue  # the other client knows it
            if (key, message) not in warnings:
                warnings.append((key, message))

        modern_p = dict(self.producer)
        modern_c = {k: v for k, v in self.consumer.items() if k != "group.id"}  # declared as our own key
        for group, prefix in ((modern_p, "kafka.producer."), (modern_c, "kafka.consumer.")):
            if group.pop("bootstrap.servers", None) is not None:
                warnings.append((prefix + "bootstrap.servers", "ignored: kafka.bootstrap.servers is used (as Flume)"))
        if modern_p.pop("type", None) is not None:  # Flume 1.6 configs often set the 0.8 producer.type
            warnings.append(("kafka.producer.type", "is a Kafka 0.8 producer setting (Flume 1.6) with no effect on "
                                                    "the modern client; ignored"))

        # A Flume 1.6 request.required.acks is the user's choice; otherwise Flume's default, acks=all.
        acks = str(old_p.conf.get("acks", "all")) if "request.required.acks" in legacy else "all"
        new_p = producer_config(modern_p, default_acks=acks)
        new_c = consumer_config(modern_c)
        producer = ClientConfig(old_p.conf, old_p.errors + old_c.errors, warnings).merged(new_p)
        consumer = ClientConfig(old_c.conf).merged(new_c)
        if "auto.offset.reset" not in new_c.conf:
            if self.read_smallest_offset is not None:
                consumer.conf["auto.offset.reset"] = "earliest" if self.read_smallest_offset else "latest"
            consumer.conf.setdefault("auto.offset.reset", "earliest")  # Flume's code (its guide says latest)
        if "transactional.id" in producer.conf:
            producer.errors.append(("kafka.producer.transactional.id",
                                    "is not supported: the Kafka channel's producer is not transactional (Flume's "
                                    "is not either)"))
        return producer, consumer

    def check(self) -> Iterable[tuple[str | None, str]]:
        producer, consumer = self.client_configs()
        problems: list[tuple[str | None, str]] = [*producer.errors, *consumer.errors]
        if not self.bootstrap_servers and not self.zookeeper_connect:
            problems.append(("kafka.bootstrap.servers", "is required (or zookeeperConnect, Flume 1.6 style)"))
        if not self.topic.strip():
            problems.append(("kafka.topic", "must not be empty"))
        return problems

    def check_warnings(self) -> Iterable[tuple[str | None, str]]:
        producer, consumer = self.client_configs()
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
