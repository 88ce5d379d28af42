"""Kafka sink without a broker: both property generations → producer settings and warnings, topic
escapes, the allowTopicOverride default, and the per-event routing against an in-process producer
stand-in (pure logic; the real broker is exercised in tests/integration/test_kafka_sink.py)."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from flafka.channels.memory import MemoryChannel
from flafka.config.diagnostics import Diagnostic
from flafka.config.params import params_table
from flafka.errors import ConfigError, DeliveryError
from flafka.escapes import compile_header_escapes, has_header_escapes
from flafka.event import Event
from flafka.kafka.avro_event import decode, encode
from flafka.sinks.base import Status
from flafka.sinks.kafka import KafkaSink, KafkaSinkConfig, topic_problem
from flafka.testing import build, drain, parse_config, props, wait_until


def parse(values: Mapping[str, str]) -> tuple[KafkaSinkConfig | None, list[Diagnostic]]:
    return KafkaSinkConfig.parse(props(values), "sinks.k1")


def warnings_of(values: Mapping[str, str]) -> list[tuple[str | None, str]]:
    config, diagnostics = parse(values)
    assert config is not None, [str(d) for d in diagnostics]
    return [(d.key, d.message) for d in diagnostics if not d.is_error]


def errors_of(values: Mapping[str, str]) -> list[tuple[str | None, str]]:
    config, diagnostics = parse(values)
    assert config is None
    return [(d.key, d.message) for d in diagnostics if d.is_error]


# -- property generations -----------------------------------------------------------------------


MURMUR2 = {"partitioner": "murmur2_random"}  # Java's partitioner for keyed records, set for every producer


def test_flume_17_config_maps_to_producer_settings_without_warnings() -> None:
    values = {"kafka.bootstrap.servers": "h1:9092, h2:9092", "kafka.topic": "orders", "flumeBatchSize": "50",
              "kafka.producer.acks": "all", "kafka.producer.linger.ms": "5",
              "kafka.producer.compression.type": "lz4", "useFlumeEventFormat": "true"}
    assert warnings_of(values) == []
    config = parse_config(KafkaSink, values)
    assert config.client_config().conf == {"acks": "all", "linger.ms": 5, "compression.type": "lz4", **MURMUR2,
                                           "enable.idempotence": True}
    assert config.servers() == ["h1:9092", "h2:9092"]
    assert (config.topic, config.batch_size, config.use_flume_event_format) == ("orders", 50, True)
    assert config.events_per_transaction() == 50
    sink = KafkaSink("k1", config)
    assert sink.batch_size == 50
    assert sink._producer_config["bootstrap.servers"] == "h1:9092,h2:9092"
    assert sink._producer_config["enable.idempotence"] is True  # acks=all: idempotent, as Java's default
    assert (sink._producer_config["linger.ms"], sink._producer_config["compression.type"]) == (5, "lz4")


def test_linger_defaults_to_java_zero_not_librdkafka_five() -> None:
    sink = KafkaSink("k1", parse_config(KafkaSink, {"kafka.bootstrap.servers": "h:1", "kafka.topic": "t"}))
    assert sink._producer_config["linger.ms"] == 0
    assert (sink._producer_config["acks"], sink._producer_config["enable.idempotence"]) == ("1", False)


def test_max_block_ms_bounds_the_connection_check_without_a_warning() -> None:
    # librdkafka has no max.block.ms; the sink honours it itself, so the "no such setting" note is not given.
    values = {"kafka.bootstrap.servers": "h:1", "kafka.producer.max.block.ms": "5000"}
    assert warnings_of(values) == []
    assert parse_config(KafkaSink, values).max_block_ms() == 5000
    assert "max.block.ms" not in KafkaSink("k1", parse_config(KafkaSink, values))._producer_config
    assert parse_config(KafkaSink, {"kafka.bootstrap.servers": "h:1"}).max_block_ms() == 30_000


def test_flume_16_config_is_accepted_with_a_deprecation_warning_per_old_name() -> None:
    values = {"brokerList": "h:9092", "topic": "t16", "batchSize": "20", "requiredAcks": "-1",
              "kafka.compression.codec": "snappy", "kafka.producer.type": "sync",
              "kafka.serializer.class": "kafka.serializer.DefaultEncoder"}
    assert warnings_of(values) == [
        ("brokerList", "is deprecated, use kafka.bootstrap.servers"),
        ("topic", "is deprecated, use kafka.topic"),
        ("batchSize", "is deprecated, use flumeBatchSize"),
        ("requiredAcks", "is deprecated, use kafka.producer.acks"),
        ("kafka.compression.codec", "is a Kafka 0.8 producer setting (Flume 1.6); used as "
                                    "kafka.producer.compression.type"),
        ("kafka.serializer.class", "is a Kafka 0.8 producer setting with no effect on the modern client; ignored"),
        ("kafka.producer.type", "is a Kafka 0.8 producer setting with no effect on the modern client; ignored"),
    ]
    config = parse_config(KafkaSink, values)
    assert (config.bootstrap_servers, config.topic, config.batch_size) == ("h:9092", "t16", 20)
    assert config.client_config().conf == {"compression.type": "snappy", "acks": "all", **MURMUR2,
                                           "enable.idempotence": True}


@pytest.mark.parametrize("acks", ["0", "1"])
def test_acks_0_or_1_turn_idempotence_off(acks: str) -> None:
    conf = parse_config(KafkaSink, {"kafka.bootstrap.servers": "h:1", "kafka.producer.acks": acks}).client_config().conf
    assert conf == {"acks": acks, **MURMUR2, "enable.idempotence": False}


def test_default_acks_is_1_and_required_acks_maps_to_it() -> None:
    default = parse_config(KafkaSink, {"kafka.bootstrap.servers": "h:1"})
    assert (default.topic, default.batch_size, default.acks) == ("default-flume-topic", 100, "1")
    assert default.client_config().conf == {"acks": "1", **MURMUR2, "enable.idempotence": False}
    old = parse_config(KafkaSink, {"kafka.bootstrap.servers": "h:1", "requiredAcks": "0"})
    assert old.client_config().conf == {"acks": "0", **MURMUR2, "enable.idempotence": False}


def test_legacy_request_required_acks_applies_unless_acks_is_set_explicitly() -> None:
    legacy = {"kafka.bootstrap.servers": "h:1", "kafka.request.required.acks": "-1"}
    assert parse_config(KafkaSink, legacy).client_config().conf == {"acks": "all", **MURMUR2,
                                                                    "enable.idempotence": True}
    assert warnings_of(legacy) == [("kafka.request.required.acks", "is a Kafka 0.8 producer setting (Flume 1.6); "
                                                                   "used as kafka.producer.acks")]
    explicit = parse_config(KafkaSink, {**legacy, "kafka.producer.acks": "0"})
    assert explicit.client_config().conf == {"acks": "0", **MURMUR2, "enable.idempotence": False}


def test_kafka_flume_batch_size_from_the_user_guide_is_honoured_with_a_warning() -> None:
    values = {"kafka.bootstrap.servers": "h:1", "kafka.flumeBatchSize": "7"}
    assert warnings_of(values) == [("kafka.flumeBatchSize", "is deprecated, use flumeBatchSize")]
    assert parse_config(KafkaSink, values).batch_size == 7


def test_jks_truststore_is_an_error_naming_pem() -> None:
    errors = errors_of({"kafka.bootstrap.servers": "h:1", "kafka.producer.security.protocol": "SSL",
                        "kafka.producer.ssl.truststore.location": "/etc/kafka/truststore.jks"})
    assert [key for key, _ in errors] == ["kafka.producer.ssl.truststore.location"]
    assert "convert it to PEM and set ssl.truststore.type=PEM" in errors[0][1]


def test_bootstrap_servers_are_required() -> None:
    errors = errors_of({"kafka.topic": "t"})
    assert errors == [("kafka.bootstrap.servers", "is required (Comma-separated brokers (host:port) the producer "
                                                  "connects to first)")]


def test_bad_values_are_errors() -> None:
    errors = errors_of({"kafka.bootstrap.servers": "h:1", "requiredAcks": "2", "defaultPartitionId": "-1"})
    assert errors == [("requiredAcks", "must be one of 0, 1, all, -1, got '2'"),
                      ("defaultPartitionId", "must be at least 0, got -1")]
    errors = errors_of({"kafka.bootstrap.servers": "h:1", "kafka.producer.acks": "1",
                        "kafka.producer.enable.idempotence": "true"})
    assert errors == [("kafka.producer.enable.idempotence", "requires acks=all, but acks is 1")]
    errors = errors_of({"kafka.bootstrap.servers": "h:1", "kafka.producer.acks": "all",
                        "kafka.producer.transactional.id": "tx"})
    assert [key for key, _ in errors] == ["kafka.producer.transactional.id"]
    errors = errors_of({"kafka.bootstrap.servers": "h:1", "kafka.producer.delivery.timeout.ms": "1000",
                        "kafka.producer.request.timeout.ms": "2000"})
    assert errors == [("kafka.producer.delivery.timeout.ms",
                       "(1000) must be at least linger.ms + request.timeout.ms (2000)")]


@pytest.mark.parametrize(("topic", "message"), [
    ("my topic", "may only contain letters, digits, '.', '_' and '-': 'my topic'"),
    ("logs-%Y", "may only contain letters, digits, '.', '_' and '-': 'logs-%Y' (only %{header} escapes are "
                "expanded here)"),
    ("", "is empty: ''"),
    ("..", "may not be '.' or '..': '..'"),
])
def test_illegal_static_topic_is_an_error(topic: str, message: str) -> None:
    assert errors_of({"kafka.bootstrap.servers": "h:1", "kafka.topic": topic}) == [("kafka.topic", message)]


def test_dead_letter_topic_must_be_legal_and_escaped_topic_is_accepted() -> None:
    assert errors_of({"kafka.bootstrap.servers": "h:1", "deadLetterTopic": "bad/topic"}) == [
        ("deadLetterTopic", "may only contain letters, digits, '.', '_' and '-': 'bad/topic'")]
    assert warnings_of({"kafka.bootstrap.servers": "h:1", "kafka.topic": "logs-%{app}.%{env}"}) == []


def test_ignored_settings_are_warnings() -> None:
    assert warnings_of({"kafka.bootstrap.servers": "h:1", "serializer.class": "x", "key.serializer.class": "y",
                        "kafka.producer.bootstrap.servers": "other:1", "kafka.producer.partitioner.class": "x"}) == [
        ("kafka.producer.partitioner.class", "ignored: keyed records are partitioned by murmur2 of the key, like "
                                             "Java's default partitioner"),
        ("serializer.class", "is a Kafka 0.8 serializer setting (Flume 1.6) with no effect; ignored (keys are "
                             "written as UTF-8 text, values as bytes)"),
        ("key.serializer.class", "is a Kafka 0.8 serializer setting (Flume 1.6) with no effect; ignored (keys are "
                                 "written as UTF-8 text, values as bytes)"),
        ("kafka.producer.bootstrap.servers", "ignored: kafka.bootstrap.servers is used"),
    ]


def test_unknown_top_level_key_gets_a_suggestion() -> None:
    assert warnings_of({"kafka.bootstrap.servers": "h:1", "partitionIdHeadr": "p"}) == [
        ("partitionIdHeadr", "unknown property, ignored (did you mean 'partitionIdHeader'?)")]


def test_every_property_is_documented() -> None:
    assert all(spec.doc for spec in KafkaSinkConfig.params())
    table = params_table(KafkaSinkConfig)
    assert "| **`kafka.bootstrap.servers`** |" in table
    assert "deprecated name: `brokerList`" in table


def test_bad_config_raises_config_error_through_build() -> None:
    with pytest.raises(ConfigError):
        build(KafkaSink, {"kafka.bootstrap.servers": "h:1", "flumeBatchSize": "0"})


# -- the topic trap ----------------------------------------------------------------------------


def test_allow_topic_override_is_off_unless_written_true() -> None:
    unset = build(KafkaSink, {"kafka.bootstrap.servers": "h:1"})
    assert unset.config.allow_topic_override is None
    assert unset._override is False
    assert build(KafkaSink, {"kafka.bootstrap.servers": "h:1", "allowTopicOverride": "true"})._override is True
    assert build(KafkaSink, {"kafka.bootstrap.servers": "h:1", "allowTopicOverride": "false"})._override is False


# -- escapes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "headers", "expected"), [
    ("plain", {"a": "x"}, "plain"),
    ("%{a}", {"a": "x"}, "x"),
    ("%{a}", {}, ""),
    ("logs-%{app}", {"app": "web"}, "logs-web"),
    ("%{app}-logs", {"app": "web"}, "web-logs"),
    ("%{a}%{b}", {"a": "1", "b": "2"}, "12"),
    ("p-%{a}-%{b.c}-%{d-e}-s", {"a": "1", "b.c": "2", "d-e": "3"}, "p-1-2-3-s"),
    ("p-%{a}-%{missing}-s", {"a": "1"}, "p-1--s"),
    ("%{not a name}", {"not a name": "x"}, "%{not a name}"),
    ("%{", {}, "%{"),
    ("%Y-%{a}", {"a": "1"}, "%Y-1"),
])
def test_header_escapes(text: str, headers: dict[str, str], expected: str) -> None:
    assert compile_header_escapes(text)(headers) == expected


def test_has_header_escapes() -> None:
    assert has_header_escapes("a-%{b}")
    assert not has_header_escapes("a-%{b c}")
    assert not has_header_escapes("plain")


def test_topic_problem() -> None:
    assert topic_problem("ok.topic_name-1") is None
    assert topic_problem("x" * 249) is None
    assert topic_problem("x" * 250) == "is longer than 249 characters"


# -- per-event routing against a producer stand-in --------------------------------------------


class _Message:
    def __init__(self, partition: int) -> None:
        self._partition = partition

    def partition(self) -> int:
        return self._partition


class _Producer:
    """confluent-kafka's Producer as the sink uses it. Partitions 0..3 exist: another is refused at once.
    Delivery reports go out at flush: ``error`` for every record, or ``refuse`` for records whose value is in
    it, or ``fail[value]`` for the next ``fail_times[value]`` deliveries of that value (then success).
    ``raises[value]`` is raised by produce() itself. Values that do not fit the C types raise OverflowError,
    as confluent-kafka does."""

    def __init__(self, error: KafkaError | None = None, refuse: Mapping[bytes, KafkaError] | None = None) -> None:
        self.sent: list[dict[str, Any]] = []
        self.error = error
        self.refuse = dict(refuse or {})
        self.fail: dict[bytes, KafkaError] = {}
        self.fail_times: dict[bytes, int] = {}
        self.raises: dict[bytes, Exception] = {}
        self.flushes = 0
        self.purged = False
        self._reports: list[tuple[Any, KafkaError | None, _Message]] = []

    def produce(self, topic: str, value: bytes, key: bytes | None = None, partition: int = -1, *,
                timestamp: int = 0, headers: Any = None, on_delivery: Any = None) -> None:  # as confluent-kafka's
        if not -2**31 <= partition < 2**31:
            raise OverflowError("signed integer is greater than maximum")
        if not -2**63 <= timestamp < 2**63:
            raise OverflowError("int too big to convert")
        if value in self.raises:
            raise self.raises[value]
        if not -1 <= partition < 4:
            raise KafkaException(KafkaError(KafkaError._UNKNOWN_PARTITION, "Local: Unknown partition"))
        self.sent.append({"topic": topic, "value": value, "key": key, "headers": headers,
                          "partition": partition, "timestamp": timestamp})
        error = self.refuse.get(value, self.error)
        if self.fail_times.get(value, 0) > 0:
            self.fail_times[value] -= 1
            error = self.fail[value]
        self._reports.append((on_delivery, error, _Message(partition)))

    def flush(self, timeout: float) -> int:
        self.flushes += 1
        reports, self._reports = self._reports, []
        for callback, error, message in reports:
            callback(error, message)
        return 0

    def purge(self) -> None:
        self.purged = True


def _sink(channel: MemoryChannel, values: Mapping[str, str], producer: _Producer) -> KafkaSink:
    sink = build(KafkaSink, {"kafka.bootstrap.servers": "127.0.0.1:1", "kafka.topic": "main", **values}, "k1")
    sink.channel = channel
    sink._producer = producer  # type: ignore[assignment]
    return sink


def _put(channel: MemoryChannel, events: list[Event]) -> None:
    with channel.transaction() as tx:
        tx.put_batch(events)


def test_topic_header_is_ignored_unless_override_is_true(channel: MemoryChannel,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    producer = _Producer()
    sink = _sink(channel, {}, producer)
    _put(channel, [Event(b"a", {"topic": "A"}), Event(b"b", {})])
    assert sink.process() is Status.READY
    assert [s["topic"] for s in producer.sent] == ["main", "main"]
    assert "Flume would have written them to A" in caplog.text

    producer = _Producer()
    sink = _sink(channel, {"allowTopicOverride": "true"}, producer)
    _put(channel, [Event(b"a", {"topic": "A"}), Event(b"b", {})])
    assert sink.process() is Status.READY
    assert [s["topic"] for s in producer.sent] == ["A", "main"]


def test_event_fields_map_to_the_record(channel: MemoryChannel) -> None:
    producer = _Producer()
    sink = _sink(channel, {"kafka.topic": "t-%{app}", "partitionIdHeader": "p", "defaultPartitionId": "2",
                           "timestampHeader": "ts", "header.trace": "trace-id", "header.app": "x-app",
                           "useFlumeEventFormat": "true"}, producer)
    events = [Event(b"one", {"app": "web", "key": "k\u00e9", "p": "1", "ts": "1700000000123", "trace": "t1"}),
              Event(b"two", {"app": "db", "ts": "soon"})]
    _put(channel, events)
    assert sink.process() is Status.READY
    first, second = producer.sent
    assert (first["topic"], first["key"], first["partition"], first["timestamp"]) == (
        "t-web", "k\u00e9".encode(), 1, 1700000000123)
    assert first["headers"] == [("trace-id", b"t1"), ("x-app", b"web")]
    assert decode(first["value"]) == (events[0].headers, b"one")
    assert (second["topic"], second["key"], second["partition"], second["timestamp"]) == ("t-db", None, 2, 0)
    assert second["headers"] == [("x-app", b"db")]
    assert producer.flushes == 1
    assert channel.size() == 0
    assert (sink.counter.event_drain_success_count, sink.counter.event_write_fail) == (2, 0)


def test_bad_events_are_dropped_and_counted_without_a_dead_letter_topic(channel: MemoryChannel,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    producer = _Producer()
    sink = _sink(channel, {"kafka.topic": "t-%{app}", "partitionIdHeader": "p"}, producer)
    _put(channel, [Event(b"ok", {"app": "a", "p": "0"}), Event(b"nan", {"app": "a", "p": "x"}),
                   Event(b"range", {"app": "a", "p": "9"}), Event(b"topic", {"app": "a b"}),
                   Event(b"ok2", {"app": "b"})])
    assert sink.process() is Status.READY
    assert [s["value"] for s in producer.sent] == [b"ok", b"ok2"]
    assert channel.size() == 0
    assert sink.counter.event_write_fail == 3
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 2  # once per kind: partition, topic
    assert any("kind=partition events=2 dropped_total=3" in m and "set deadLetterTopic" in m for m in errors)
    assert any("kind=topic events=1 dropped_total=3" in m and "'t-a b'" in m for m in errors)
    assert (sink.counter.event_drop_count, sink.counter.event_dead_letter_count) == (3, 0)


def test_bad_events_go_to_the_dead_letter_topic(channel: MemoryChannel) -> None:
    producer = _Producer()
    sink = _sink(channel, {"partitionIdHeader": "p", "deadLetterTopic": "dlq"}, producer)
    _put(channel, [Event(b"ok", {"p": "3"}), Event(b"nan", {"p": "x", "key": "k"})])
    assert sink.process() is Status.READY
    ok, dead = producer.sent
    assert (ok["topic"], ok["partition"]) == ("main", 3)
    assert (dead["topic"], dead["value"], dead["key"], dead["partition"]) == ("dlq", b"nan", b"k", -1)
    assert dead["headers"] == [("p", b"x"), ("key", b"k"),
                               ("flafka.error", b"header p='x' is not a partition number")]
    assert sink.counter.event_write_fail == 1
    assert (sink.counter.event_dead_letter_count, sink.counter.event_drop_count) == (1, 0)


def test_a_failed_delivery_rolls_the_batch_back(channel: MemoryChannel) -> None:
    producer = _Producer(KafkaError(KafkaError.NOT_LEADER_FOR_PARTITION, "moved", retriable=True))
    sink = _sink(channel, {}, producer)
    _put(channel, [Event(str(i).encode()) for i in range(5)])
    with pytest.raises(DeliveryError) as info:
        sink.process()
    assert info.value.retriable is True
    assert "NOT_LEADER_FOR_PARTITION" in str(info.value)
    assert channel.size() == 5
    assert (sink.counter.rollback_count, sink.counter.event_write_fail) == (1, 1)
    assert sink._producer is producer  # a retriable error keeps the producer

    producer.error = KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED, "no")
    with pytest.raises(DeliveryError) as info:
        sink.process()
    assert info.value.retriable is False
    assert sink._producer is None  # a new producer is made for the next batch
    assert [e.body for e in drain(channel)] == [str(i).encode() for i in range(5)]


def test_a_record_the_broker_refuses_is_set_aside_and_the_rest_delivered(channel: MemoryChannel) -> None:
    too_big = KafkaError(KafkaError.MSG_SIZE_TOO_LARGE, "Broker: Message size too large")
    producer = _Producer(refuse={b"huge": too_big})
    sink = _sink(channel, {"deadLetterTopic": "dlq"}, producer)
    _put(channel, [Event(b"ok"), Event(b"huge", {"key": "k"}), Event(b"ok2")])
    assert sink.process() is Status.READY
    assert [(s["topic"], s["value"]) for s in producer.sent] == [
        ("main", b"ok"), ("main", b"huge"), ("main", b"ok2"), ("dlq", b"huge")]
    assert producer.sent[-1]["headers"][-1] == ("flafka.error", b"MSG_SIZE_TOO_LARGE: Broker: Message size too large")
    assert channel.size() == 0
    assert (sink.counter.event_write_fail, sink.counter.event_drain_success_count) == (1, 2)


def test_a_dead_letter_the_broker_refuses_too_is_dropped_and_logged(channel: MemoryChannel,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    too_big = KafkaError(KafkaError.MSG_SIZE_TOO_LARGE, "Broker: Message size too large")
    producer = _Producer(refuse={b"huge": too_big})
    sink = _sink(channel, {"deadLetterTopic": "dlq"}, producer)
    _put(channel, [Event(b"huge"), Event(b"ok")])
    assert sink.process() is Status.READY
    assert channel.size() == 0
    assert ("dropped events it cannot write. kind=size+dead-letter events=1 dropped_total=1 reason="
            "MSG_SIZE_TOO_LARGE: Broker: Message size too large; the dead-letter topic refused it too: "
            "MSG_SIZE_TOO_LARGE") in caplog.text
    assert (sink.counter.event_drop_count, sink.counter.event_dead_letter_count) == (1, 0)


def test_gssapi_is_an_error_naming_what_works() -> None:
    values = {"kafka.bootstrap.servers": "h:1", "kafka.topic": "t", "kafka.producer.security.protocol": "SASL_SSL",
              "kafka.producer.sasl.mechanism": "GSSAPI"}
    with pytest.raises(ConfigError, match=r"GSSAPI .* Use SCRAM or PLAIN"):
        build(KafkaSink, values, "k1")


@pytest.mark.parametrize(("key", "value"), [("retry.backoff.ms", "0"), ("request.timeout.ms", "900001"),
                                            ("max.request.size", "999"), ("linger.ms", "900001")])
def test_values_librdkafka_refuses_are_config_errors(key: str, value: str) -> None:
    values = {"kafka.bootstrap.servers": "h:1", "kafka.topic": "t", f"kafka.producer.{key}": value}
    with pytest.raises(ConfigError, match=rf"kafka\.producer\.{re.escape(key)}: \({value}\) must be between"):
        build(KafkaSink, values, "k1")


def test_a_negative_partition_header_is_bad_data_not_the_default_partitioner(channel: MemoryChannel) -> None:
    producer = _Producer()
    sink = _sink(channel, {"partitionIdHeader": "p", "deadLetterTopic": "dlq"}, producer)
    _put(channel, [Event(b"neg", {"p": "-2"}), Event(b"ok", {"p": "1"})])
    assert sink.process() is Status.READY
    assert sorted((s["topic"], s["value"], s["partition"]) for s in producer.sent) == [
        ("dlq", b"neg", -1), ("main", b"ok", 1)]
    assert sink.counter.event_write_fail == 1


# -- values the client would raise on (issue 8) --------------------------------------------------


def test_values_that_would_make_the_client_raise_are_bad_events(channel: MemoryChannel,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    producer = _Producer()
    sink = _sink(channel, {"partitionIdHeader": "p", "timestampHeader": "ts", "header.trace": "trace-id",
                           "deadLetterTopic": "dlq"}, producer)
    events = [Event(b"ok1", {"p": "1"}),
              Event(b"int32", {"p": "2147483648"}),
              Event(b"huge-ts", {"ts": "99999999999999999999"}),  # out of int64: the producer's time
              Event(b"neg-ts", {"ts": "-5"}),
              Event(b"key", {"key": "k\ud800"}),
              Event(b"mapped", {"trace": "\udfff"}),
              Event(b"ok2", {"p": "0"})]
    _put(channel, events)
    assert sink.process() is Status.READY
    main = [(s["value"], s["timestamp"]) for s in producer.sent if s["topic"] == "main"]
    assert main == [(b"ok1", 0), (b"huge-ts", 0), (b"neg-ts", 0), (b"ok2", 0)]
    dead = {s["value"]: s for s in producer.sent if s["topic"] == "dlq"}
    assert set(dead) == {b"int32", b"key", b"mapped"}
    assert dead[b"int32"]["headers"][-1] == ("flafka.error", b"header p='2147483648' is not a partition number")
    # Headers keep their exact text (surrogatepass), so that a lone surrogate cannot fail the dead letter too.
    assert dead[b"key"]["key"] == b"k\xed\xa0\x80"
    assert dead[b"key"]["headers"] == [("key", b"k\xed\xa0\x80"),
                                       ("flafka.error", b"header 'key' is not valid Unicode text")]
    assert dead[b"mapped"]["headers"] == [("trace", b"\xed\xbf\xbf"),
                                          ("flafka.error", b"header 'trace' is not valid Unicode text")]
    assert channel.size() == 0
    counter = sink.counter
    assert (counter.event_write_fail, counter.event_dead_letter_count, counter.event_drop_count) == (3, 3, 0)
    assert counter.event_drain_success_count == 4  # bad events are not drain successes
    warnings = [r.getMessage() for r in caplog.records if "timestamp header" in r.getMessage()]
    assert warnings == ["Kafka sink k1 found a timestamp header that is not epoch ms (a whole number from 0 to "
                        "2^63-1); the producer's time is used. ts='99999999999999999999'"]  # once per kind


def test_a_lone_surrogate_in_any_header_is_a_bad_event_with_flume_event_format(channel: MemoryChannel) -> None:
    producer = _Producer()
    sink = _sink(channel, {"useFlumeEventFormat": "true", "deadLetterTopic": "dlq"}, producer)
    _put(channel, [Event(b"bad", {"h\ud800": "v"}), Event(b"ok", {"h": "v"})])
    assert sink.process() is Status.READY
    ok, dead = sorted(producer.sent, key=lambda s: s["topic"] == "dlq")
    assert decode(ok["value"]) == ({"h": "v"}, b"ok")
    assert dead["value"] == encode({"h\ud800": "v"}, b"bad", "surrogatepass")
    assert dead["headers"] == [("h\\ud800", b"v"), ("flafka.error", b"header 'h\\ud800' is not valid Unicode text")]
    assert (sink.counter.event_dead_letter_count, sink.counter.event_drop_count) == (1, 0)


def test_any_exception_of_produce_for_one_record_sets_that_record_aside(channel: MemoryChannel,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    producer = _Producer()
    producer.raises[b"odd"] = TypeError("an unexpected type")
    sink = _sink(channel, {}, producer)
    _put(channel, [Event(b"a"), Event(b"odd"), Event(b"b")])
    assert sink.process() is Status.READY
    assert [s["value"] for s in producer.sent] == [b"a", b"b"]
    assert (sink.counter.event_write_fail, sink.counter.event_drop_count) == (1, 1)
    assert "kind=record events=1 dropped_total=1 reason=TypeError: an unexpected type" in caplog.text


# -- a failed batch never sends acknowledged records again (issue 8) -----------------------------

_NOT_ENOUGH_REPLICAS = KafkaError(KafkaError.NOT_ENOUGH_REPLICAS, "Broker: Not enough in-sync replicas",
                                  retriable=True)


def test_a_partly_acknowledged_batch_is_held_and_only_its_failed_records_sent_again(
        channel: MemoryChannel, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="flafka.sinks.kafka")
    producer = _Producer()
    producer.fail[b"e2"] = _NOT_ENOUGH_REPLICAS
    producer.fail_times[b"e2"] = 1
    producer.fail[b"bad"] = _NOT_ENOUGH_REPLICAS  # the dead letter fails once too
    producer.fail_times[b"bad"] = 1
    sink = _sink(channel, {"partitionIdHeader": "p", "deadLetterTopic": "dlq"}, producer)
    _put(channel, [Event(f"e{i}".encode()) for i in range(4)] + [Event(b"bad", {"p": "x"})])
    assert sink.process() is Status.READY
    assert [(s["topic"], s["value"]) for s in producer.sent] == [
        ("main", b"e0"), ("main", b"e1"), ("main", b"e2"), ("main", b"e3"), ("dlq", b"bad"),
        ("main", b"e2"), ("dlq", b"bad")]
    assert channel.size() == 0
    counter = sink.counter
    assert (counter.event_drain_success_count, counter.rollback_count, counter.event_write_fail) == (4, 0, 1)
    assert counter.event_dead_letter_count == 1
    assert ("holds a batch whose other records are acknowledged and retries only the records that failed, so "
            "that none is written twice. events=5 acknowledged=3 retrying=2") in caplog.text
    assert "delivered the held records. retries=1" in caplog.text


def test_a_stop_request_ends_a_held_batch_with_a_rollback(channel: MemoryChannel) -> None:
    producer = _Producer()
    producer.fail[b"e1"] = _NOT_ENOUGH_REPLICAS
    producer.fail_times[b"e1"] = 1_000_000
    sink = _sink(channel, {}, producer)
    events = [Event(f"e{i}".encode()) for i in range(3)]
    _put(channel, events)
    raised: list[BaseException] = []

    def process() -> None:
        try:
            sink.process()
        except DeliveryError as exc:
            raised.append(exc)

    thread = threading.Thread(target=process)
    thread.start()
    wait_until(lambda: len(producer.sent) >= 4, timeout=30, message="a retry of the failed record")
    sink.request_stop()
    thread.join(10)
    assert not thread.is_alive()
    (error,) = raised
    assert "was stopped while it retried records of a batch; the batch is rolled back" in str(error)
    assert [e.body for e in drain(channel)] == [e.body for e in events]
    assert {s["value"] for s in producer.sent[3:]} == {b"e1"}  # only the failed record was retried


def test_a_batch_with_nothing_acknowledged_is_rolled_back_at_once(channel: MemoryChannel) -> None:
    producer = _Producer()
    for value in (b"a", b"b"):
        producer.fail[value] = _NOT_ENOUGH_REPLICAS
        producer.fail_times[value] = 1
    sink = _sink(channel, {}, producer)
    _put(channel, [Event(b"a"), Event(b"b")])
    with pytest.raises(DeliveryError, match="NOT_ENOUGH_REPLICAS"):
        sink.process()
    assert channel.size() == 2  # nothing reached Kafka: a failover group may give it to another sink
    assert sink.process() is Status.READY
    assert [s["value"] for s in producer.sent] == [b"a", b"b", b"a", b"b"]
