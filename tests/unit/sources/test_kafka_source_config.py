"""Kafka source configuration, both Flume generations, without a broker."""

from __future__ import annotations

import pytest

from flafka.errors import ConfigError
from flafka.sources.kafka import KafkaSource, KafkaSourceConfig
from flafka.testing import parse_config, props


def parse(values: dict[str, str]) -> tuple[KafkaSourceConfig | None, list[str]]:
    config, diagnostics = KafkaSourceConfig.parse(props(values), "sources.r1")
    return config, [str(d) for d in diagnostics]


def test_flume_17_properties() -> None:
    config, found = parse({"kafka.bootstrap.servers": "b1:9092,b2:9092", "kafka.topics": "a, b",
                           "kafka.consumer.group.id": "g", "kafka.consumer.max.poll.records": "200",
                           "batchSize": "500"})
    assert found == ["<test>: sources.r1 kafka.consumer.max.poll.records: warning: ignored: librdkafka has no such "
                     "setting; the component's batch size bounds each batch"]
    assert config is not None
    assert config.topic_list() == ["a", "b"]
    assert config.group_id == "g"
    assert config.client_config().conf["enable.auto.commit"] is False
    assert config.events_per_transaction() == 500


def test_flume_16_properties_warn_and_map() -> None:
    config, found = parse({"zookeeperConnect": "zk:2181/kafka", "topic": "flume.txn", "groupId": "flume1",
                           "kafka.auto.offset.reset": "smallest", "kafka.consumer.timeout.ms": "1000"})
    assert config is not None
    assert config.topic_list() == ["flume.txn"]
    assert config.group_id == "flume1"
    assert config.client_config().conf["auto.offset.reset"] == "earliest"
    assert found == [
        "<test>: sources.r1 topic: warning: is deprecated, use kafka.topics",
        "<test>: sources.r1 groupId: warning: is deprecated, use kafka.consumer.group.id",
        "<test>: sources.r1 kafka.auto.offset.reset: warning: is a Kafka 0.8 consumer setting (Flume 1.6); used as "
        "kafka.consumer.auto.offset.reset",
        "<test>: sources.r1 kafka.consumer.timeout.ms: warning: is a Kafka 0.8 consumer setting (Flume 1.6) with no "
        "effect on the modern client; ignored",
    ]


def test_the_consumer_settings_keep_offsets_for_the_source_to_commit() -> None:
    config = parse_config(KafkaSource, {"kafka.bootstrap.servers": "b:1", "kafka.topics": "t",
                                        "kafka.consumer.group.id": "g", "kafka.consumer.enable.auto.commit": "true",
                                        "kafka.consumer.fetch.max.wait.ms": "100"})
    settings = KafkaSource("r1", config).client_settings()
    assert settings["group.id"] == "g"
    assert (settings["enable.auto.commit"], settings["enable.auto.offset.store"]) == (False, False)
    assert settings["fetch.wait.max.ms"] == 100  # the user's value wins over the source's default
    assert settings["max.partition.fetch.bytes"] == 4 * 1024 * 1024


@pytest.mark.parametrize(("values", "message"), [
    ({"kafka.topics": "t"}, "kafka.bootstrap.servers: is required (or zookeeperConnect, Flume 1.6 style)"),
    ({"kafka.bootstrap.servers": "b:1"}, "kafka.topics: is required"),
    ({"kafka.bootstrap.servers": "b:1", "kafka.topics.regex": "("},
     "kafka.topics.regex: is not a valid Java regular expression: unclosed group"),
    ({"kafka.bootstrap.servers": "b:1", "kafka.topics.regex": "orders-[a-z&&[^x]]+"},  # Java: re reads it otherwise
     "kafka.topics.regex: '[a-z&&[^x]]' at position 7: class intersection (&&)"),
    ({"kafka.bootstrap.servers": "b:1", "kafka.topics": "t", "kafka.consumer.ssl.keystore.location": "/k.jks"},
     "JKS keystores cannot be read by librdkafka"),
    ({"kafka.bootstrap.servers": "b:1", "kafka.topics": "t", "deadLetterTopic": "dlq"},
     "deadLetterTopic: only applies with useFlumeEventFormat = true"),
])
def test_errors(values: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(KafkaSource, values)
    assert message in str(info.value)
