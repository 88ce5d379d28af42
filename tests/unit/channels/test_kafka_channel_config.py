"""Kafka channel configuration (both Flume generations) and its librdkafka settings, without a broker."""

from __future__ import annotations

import pytest

from flafka.channels.kafka import KafkaChannel, KafkaChannelConfig
from flafka.errors import ConfigError, EventsRefused
from flafka.event import Event
from flafka.registry import resolve
from flafka.testing import build, parse_config, props


def parse(values: dict[str, str]) -> tuple[KafkaChannelConfig | None, list[str]]:
    config, diagnostics = KafkaChannelConfig.parse(props(values), "channels.c1")
    return config, [str(d) for d in diagnostics]


def test_flume_names_resolve_to_the_channel() -> None:
    assert resolve("channel", "org.apache.flume.channel.kafka.KafkaChannel") is KafkaChannel
    assert resolve("channel", "kafka") is KafkaChannel


def test_defaults() -> None:
    config, found = parse({"kafka.bootstrap.servers": "b1:9092, b2:9092"})
    assert found == []
    assert config is not None
    assert (config.topic, config.group_id, config.parse_as_flume_event, config.poll_timeout) == (
        "flume-channel", "flume", True, 500)
    assert (config.default_partition_id, config.partition_id_header, config.migrate_zookeeper_offsets) == (
        None, None, True)
    producer, consumer = config.client_configs()
    # Flume's defaults: every in-sync replica acknowledges (with idempotence, as Java 3.x), and a new group reads
    # from the earliest offset (Flume's code; its guide says latest). Offsets are only ever committed by flafka.
    assert (producer.conf["acks"], producer.conf["enable.idempotence"]) == ("all", True)
    assert consumer.conf["auto.offset.reset"] == "earliest"
    assert (consumer.conf["enable.auto.commit"], consumer.conf["enable.auto.offset.store"]) == (False, False)
    assert config.max_events_per_transaction() is None


def test_the_channel_adds_java_sized_limits_and_throughput_defaults_that_written_values_override() -> None:
    channel = build(KafkaChannel, {"kafka.bootstrap.servers": "b:1", "kafka.consumer.group.id": "g"}, "c1")
    producer, consumer = channel.client_settings()
    # Java's max.request.size and delivery.timeout.ms, not librdkafka's 1,000,000 bytes and 300 s.
    assert (producer["message.max.bytes"], producer["delivery.timeout.ms"]) == (1_048_576, 120_000)
    assert producer["linger.ms"] == 5
    assert consumer["group.id"] == "g"
    assert consumer["max.partition.fetch.bytes"] == 4 * 1024 * 1024
    written = build(KafkaChannel, {"kafka.bootstrap.servers": "b:1", "kafka.producer.linger.ms": "0",
                                   "kafka.producer.max.request.size": "2000000",
                                   "kafka.consumer.max.partition.fetch.bytes": "65536"}, "c1")
    producer, consumer = written.client_settings()
    assert (producer["linger.ms"], producer["message.max.bytes"]) == (0, 2_000_000)
    assert consumer["max.partition.fetch.bytes"] == 65536


def test_flume_17_properties() -> None:
    config, found = parse({
        "kafka.bootstrap.servers": "b:9092", "kafka.topic": "chan", "kafka.consumer.group.id": "g",
        "parseAsFlumeEvent": "false", "kafka.pollTimeout": "250", "defaultPartitionId": "3",
        "partitionIdHeader": "p", "kafka.producer.acks": "1", "kafka.producer.linger.ms": "5",
        "kafka.consumer.auto.offset.reset": "latest", "kafka.consumer.fetch.max.wait.ms": "100",
    })
    assert found == []
    assert config is not None
    assert (config.topic, config.group_id, config.parse_as_flume_event, config.poll_timeout) == (
        "chan", "g", False, 250)
    assert (config.default_partition_id, config.partition_id_header) == (3, "p")
    producer, consumer = config.client_configs()
    # acks=1 cannot be idempotent: turned off rather than refused by librdkafka.
    assert (producer.conf["acks"], producer.conf["linger.ms"], producer.conf["enable.idempotence"]) == ("1", 5, False)
    assert (consumer.conf["auto.offset.reset"], consumer.conf["fetch.wait.max.ms"]) == ("latest", 100)


def test_max_poll_records_has_no_librdkafka_equivalent_and_says_so() -> None:
    config, found = parse({"kafka.bootstrap.servers": "b:1", "kafka.consumer.max.poll.records": "1000"})
    assert config is not None
    assert found == ["<test>: channels.c1 kafka.consumer.max.poll.records: warning: ignored: librdkafka has no such "
                     "setting; the component's batch size bounds each batch"]


def test_flume_16_properties_warn_and_map_to_both_clients() -> None:
    config, found = parse({
        "brokerList": "b1:9092,b2:9092", "zookeeperConnect": "zk:2181", "topic": "chan", "groupId": "g16",
        "readSmallestOffset": "false", "timeout": "250", "kafka.request.required.acks": "1",
        "kafka.fetch.message.max.bytes": "2000000", "kafka.producer.type": "sync", "kafka.foo.bar": "1",
    })
    assert config is not None
    assert (config.bootstrap_servers, config.topic, config.group_id, config.poll_timeout) == (
        "b1:9092,b2:9092", "chan", "g16", 250)
    producer, consumer = config.client_configs()
    assert (producer.conf["acks"], producer.conf["enable.idempotence"]) == ("1", False)
    assert consumer.conf["max.partition.fetch.bytes"] == 2000000  # a consumer key reaches the consumer only
    assert "max.partition.fetch.bytes" not in producer.conf
    assert consumer.conf["auto.offset.reset"] == "latest"  # readSmallestOffset = false
    prefix = "<test>: channels.c1 "
    assert found == [prefix + w for w in (
        "brokerList: warning: is deprecated, use kafka.bootstrap.servers",
        "topic: warning: is deprecated, use kafka.topic",
        "groupId: warning: is deprecated, use kafka.consumer.group.id",
        "timeout: warning: is deprecated, use kafka.pollTimeout",
        "kafka.request.required.acks: warning: is a Kafka 0.8 producer setting (Flume 1.6); used as "
        "kafka.producer.acks",
        "kafka.foo.bar: warning: is not a Kafka 0.8 producer or consumer setting flafka knows; ignored (use "
        "kafka.producer.<property> or kafka.consumer.<property>)",
        "kafka.fetch.message.max.bytes: warning: is a Kafka 0.8 consumer setting (Flume 1.6); used as "
        "kafka.consumer.max.partition.fetch.bytes",
        "kafka.producer.type: warning: is a Kafka 0.8 producer setting (Flume 1.6) with no effect on the modern "
        "client; ignored",
        "readSmallestOffset: warning: is deprecated, use kafka.consumer.auto.offset.reset",
        "zookeeperConnect: warning: is deprecated (Flume 1.6): it only finds the brokers when kafka.bootstrap.servers "
        "is absent, and migrates ZooKeeper offsets",
    )]


def test_zookeeper_connect_alone_is_enough() -> None:
    config = parse_config(KafkaChannel, {"zookeeperConnect": "zk1:2181,zk2:2181/kafka"})
    assert (config.bootstrap_servers, config.zookeeper_connect) == (None, "zk1:2181,zk2:2181/kafka")


def test_the_user_guides_poll_timeout_spelling_is_accepted_with_a_warning() -> None:
    config, found = parse({"kafka.bootstrap.servers": "b:1", "pollTimeout": "50"})
    assert config is not None
    assert config.poll_timeout == 50
    assert found == ["<test>: channels.c1 pollTimeout: warning: is deprecated, use kafka.pollTimeout"]


def test_the_modern_poll_timeout_wins_over_the_deprecated_one() -> None:
    config, found = parse({"kafka.bootstrap.servers": "b:1", "pollTimeout": "50", "kafka.pollTimeout": "70"})
    assert config is not None
    assert config.poll_timeout == 70
    assert found == ["<test>: channels.c1 pollTimeout: warning: is deprecated, use kafka.pollTimeout (ignored: the "
                     "new name is set)"]


@pytest.mark.parametrize(("smallest", "modern", "expected"), [
    ("true", None, "earliest"),
    ("false", None, "latest"),
    ("false", "earliest", "earliest"),
    ("true", "latest", "latest"),
])
def test_read_smallest_offset_maps_to_auto_offset_reset(smallest: str, modern: str | None, expected: str) -> None:
    values = {"kafka.bootstrap.servers": "b:1", "readSmallestOffset": smallest}
    if modern is not None:
        values["kafka.consumer.auto.offset.reset"] = modern
    config, found = parse(values)
    assert config is not None
    assert config.client_configs()[1].conf["auto.offset.reset"] == expected
    assert found == ["<test>: channels.c1 readSmallestOffset: warning: is deprecated, use "
                     "kafka.consumer.auto.offset.reset" + ("" if modern is None else " (ignored: that is set)")]


def test_capacity_and_transaction_capacity_are_ignored_with_a_warning() -> None:
    config, found = parse({"kafka.bootstrap.servers": "b:1", "capacity": "10000", "transactionCapacity": "lots"})
    assert config is not None
    assert config.max_events_per_transaction() is None
    assert found == [
        "<test>: channels.c1 capacity: warning: is ignored by the Kafka channel (as by Flume): the topic stores "
        "the events",
        "<test>: channels.c1 transactionCapacity: warning: is ignored by the Kafka channel (as by Flume): the topic "
        "stores the events",
    ]


def test_client_bootstrap_servers_are_ignored_for_the_channels_own() -> None:
    config, found = parse({"kafka.bootstrap.servers": "b:1", "kafka.producer.bootstrap.servers": "x:1",
                           "kafka.consumer.bootstrap.servers": "y:1"})
    assert config is not None
    producer, consumer = config.client_configs()
    assert "bootstrap.servers" not in producer.conf
    assert "bootstrap.servers" not in consumer.conf
    assert found == [
        "<test>: channels.c1 kafka.producer.bootstrap.servers: warning: ignored: kafka.bootstrap.servers is used "
        "(as Flume)",
        "<test>: channels.c1 kafka.consumer.bootstrap.servers: warning: ignored: kafka.bootstrap.servers is used "
        "(as Flume)",
    ]


def test_flume_16_acks_is_kept_when_no_modern_acks_is_set() -> None:
    config = parse_config(KafkaChannel, {"brokerList": "b:1", "kafka.request.required.acks": "0"})
    assert (config.client_configs()[0].conf["acks"], config.client_configs()[0].conf["enable.idempotence"]) == (
        "0", False)
    config = parse_config(KafkaChannel, {"brokerList": "b:1", "kafka.request.required.acks": "0",
                                         "kafka.producer.acks": "all"})
    assert (config.client_configs()[0].conf["acks"], config.client_configs()[0].conf["enable.idempotence"]) == (
        "all", True)


@pytest.mark.parametrize(("values", "message"), [
    ({}, "kafka.bootstrap.servers: is required (or zookeeperConnect, Flume 1.6 style)"),
    ({"kafka.bootstrap.servers": "b:1", "kafka.topic": " "}, "kafka.topic: must not be empty"),
    ({"kafka.bootstrap.servers": "b:1", "kafka.producer.transactional.id": "tx"},
     "kafka.producer.transactional.id: is not supported"),
    ({"kafka.bootstrap.servers": "b:1", "kafka.consumer.ssl.truststore.location": "/t.jks"},
     "JKS truststores cannot be read by librdkafka"),
    ({"kafka.bootstrap.servers": "b:1", "kafka.producer.acks": "2"}, "kafka.producer.acks: must be 0, 1, all"),
    ({"kafka.bootstrap.servers": "b:1", "kafka.pollTimeout": "0"}, "kafka.pollTimeout: must be at least 1"),
    ({"kafka.bootstrap.servers": "b:1", "defaultPartitionId": "-1"}, "defaultPartitionId: must be at least 0"),
    ({"kafka.bootstrap.servers": "b:1", "parseAsFlumeEvent": "yes"}, "parseAsFlumeEvent: expected true or false"),
])
def test_errors(values: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(KafkaChannel, values)
    assert message in str(info.value)


# --- partition rules of the put side (checked at put, before anything reaches Kafka) ---------------------


@pytest.mark.parametrize("text", ["0", "7", "+3", "007", "-0", "2147483647"])
def test_partition_header_values_java_reads_as_partitions_are_accepted_at_put(text: str) -> None:
    channel = build(KafkaChannel, {"kafka.bootstrap.servers": "127.0.0.1:1", "partitionIdHeader": "p"}, "c1")
    tx = channel.transaction()
    tx.put(Event(b"x", {"p": text}))
    tx.rollback()
    tx.close()


@pytest.mark.parametrize("text", ["", " 1", "1 ", "one", "1.0", "0x1", "1_0", "-1", "2147483648", "\u0663"])
def test_partition_header_values_that_are_not_partitions_are_refused_at_put(text: str) -> None:
    channel = build(KafkaChannel, {"kafka.bootstrap.servers": "127.0.0.1:1", "partitionIdHeader": "p"}, "c1")
    tx = channel.transaction()
    with pytest.raises(EventsRefused, match="not a partition number"):
        tx.put(Event(b"x", {"p": text}))
    tx.rollback()
    tx.close()


def test_a_non_numeric_partition_header_refuses_that_event_at_put_not_at_commit() -> None:
    channel = build(KafkaChannel, {"kafka.bootstrap.servers": "127.0.0.1:1", "partitionIdHeader": "p"}, "c1")
    tx = channel.transaction()
    tx.put(Event(b"fine", {"p": "1"}))
    tx.put(Event(b"no header is fine too"))
    with pytest.raises(EventsRefused) as info:  # a bad event: the others may be put again without it
        tx.put_batch([Event(b"ok", {"p": "2"}), Event(b"bad", {"p": "x"})])
    assert info.value.refused == {1: "header p='x' is not a partition number (partitionIdHeader)"}
    assert info.value.retriable is False
    tx.put(Event(b"ok", {"p": "2"}))
    tx.rollback()
    tx.close()
    assert channel.counter.event_put_attempt_count == 5
    assert channel.counter.event_put_success_count == 0


def test_size_is_unknown_and_wait_for_events_does_not_wait() -> None:
    channel = build(KafkaChannel, {"kafka.bootstrap.servers": "127.0.0.1:1"}, "c1")
    assert channel.size() == 0
    assert channel.transaction_capacity() is None
    assert channel.wait_for_events(60.0) is True
