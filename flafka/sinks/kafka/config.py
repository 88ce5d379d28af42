"""The Kafka sink's properties: Flume 1.7+ names and Flume 1.6's (``brokerList``, ``topic``, ``batchSize``,
``requiredAcks``, ``kafka.<0.8 producer key>``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from flafka.config.params import ComponentConfig, param, parse_int, prefixed
from flafka.escapes import HEADER_ESCAPE
from flafka.kafka.client_config import ClientConfig, int_setting, legacy_config, producer_config
from flafka.kafka.records import topic_problem

# Keys under "kafka." that are this sink's own (1.7+), not Flume 1.6 pass-through producer settings.
_OWN_KAFKA_KEYS = ("bootstrap.servers", "topic", "flumeBatchSize")
DEFAULT_DELIVERY_TIMEOUT_MS = 120_000  # Java's (and librdkafka's) delivery.timeout.ms default
_DEFAULT_CONNECT_TIMEOUT_MS = 30_000  # when max.block.ms is not set: a start against a broker that is down
_DEFAULT_REQUEST_TIMEOUT_MS = 30_000  # Java's (and librdkafka's) request.timeout.ms default
# The sink honours max.block.ms itself (its connection check waits that long), so producer_config's note that
# librdkafka has no such setting is not given for it.
_MAX_BLOCK_MS = "kafka.producer.max.block.ms"


@dataclass(frozen=True, kw_only=True)
class KafkaSinkConfig(ComponentConfig):
    batch_size_key: ClassVar[str] = "flumeBatchSize"

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
        doc="Header holding the record timestamp (epoch ms); unset, absent, or not a whole number from 0 to 2^63-1: "
            "the producer's time (with a warning once).")
    header_map: dict[str, str] = prefixed(
        "header.", doc="`header.<flumeHeader> = <kafkaHeader>`: copy an event header into a Kafka record header "
                       "(value UTF-8).")
    dead_letter_topic: str | None = param(
        "deadLetterTopic", default=None,
        doc="flafka extension: topic for events that cannot be written (partition header that is not a partition "
            "number, illegal topic name, key or mapped header that is not valid Unicode text, too large), with every "
            "event header as a record header plus flafka.error; unset: such events are dropped with an ERROR log.")
    serializer_class: str | None = param(
        "serializer.class", default=None, doc="Flume 1.6 (Kafka 0.8) value serializer; no effect (warning).")
    key_serializer_class: str | None = param(
        "key.serializer.class", default=None, doc="Flume 1.6 (Kafka 0.8) key serializer; no effect (warning).")
    producer: dict[str, str] = prefixed(
        "kafka.producer.", doc="Kafka producer properties (Java names, e.g. kafka.producer.linger.ms).")
    kafka: dict[str, str] = prefixed(
        "kafka.", doc="Flume 1.6: Kafka 0.8 producer properties; mapped to the modern producer when they have an "
                      "equivalent, with a warning.")

    def _legacy(self) -> dict[str, str]:
        legacy = {k: v for k, v in self.kafka.items()
                  if not k.startswith(("producer.", "consumer.")) and k not in _OWN_KAFKA_KEYS}
        if "type" in self.producer:  # kafka.producer.type is the 0.8 key producer.type, not a modern one
            legacy["producer.type"] = self.producer["type"]
        return legacy

    def client_config(self) -> ClientConfig:
        """librdkafka producer settings (without bootstrap.servers) from every generation's properties."""
        legacy = legacy_config(self._legacy(), producer=True)
        legacy_acks = legacy.conf.pop("acks", None)  # enable.idempotence follows the acks finally used, below
        props = {k: v for k, v in self.producer.items() if k not in ("bootstrap.servers", "type")}
        if "acks" not in props:
            # requiredAcks (or the default) wins over a Flume 1.6 kafka.request.required.acks, unless the
            # default is all there is.
            props["acks"] = self.acks
            if legacy_acks is not None and self.acks == "1":
                props["acks"] = str(legacy_acks)
        return legacy.merged(producer_config(props))

    def max_block_ms(self) -> int:
        """How long the sink waits for a broker when it creates a producer (Java's max.block.ms)."""
        text = self.producer.get("max.block.ms")
        return _DEFAULT_CONNECT_TIMEOUT_MS if text is None else parse_int(text)  # checked by client_config()

    def servers(self) -> list[str]:
        return [s.strip() for s in self.bootstrap_servers.split(",") if s.strip()]

    def check(self) -> Iterable[tuple[str | None, str]]:
        client = self.client_config()
        problems: list[tuple[str | None, str]] = list(client.errors)
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
        conf = client.conf
        delivery = int_setting(conf, "delivery.timeout.ms", DEFAULT_DELIVERY_TIMEOUT_MS)
        floor = int_setting(conf, "linger.ms", 0) + int_setting(conf, "request.timeout.ms", _DEFAULT_REQUEST_TIMEOUT_MS)
        if delivery < floor:
            problems.append(("kafka.producer.delivery.timeout.ms",
                             f"({delivery}) must be at least linger.ms + request.timeout.ms ({floor})"))
        for flume_name, kafka_name in self.header_map.items():
            if not kafka_name.strip():
                problems.append((f"header.{flume_name}", "needs the name of the Kafka record header"))
        return problems

    def check_warnings(self) -> Iterable[tuple[str | None, str]]:
        warnings: list[tuple[str | None, str]] = [w for w in self.client_config().warnings if w[0] != _MAX_BLOCK_MS]
        for key, value in (("serializer.class", self.serializer_class),
                           ("key.serializer.class", self.key_serializer_class)):
            if value is not None:
                warnings.append((key, "is a Kafka 0.8 serializer setting (Flume 1.6) with no effect; ignored (keys "
                                      "are written as UTF-8 text, values as bytes)"))
        if "bootstrap.servers" in self.producer:
            warnings.append(("kafka.producer.bootstrap.servers", "ignored: kafka.bootstrap.servers is used"))
        return warnings


