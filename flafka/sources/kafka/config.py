"""The Kafka source's properties: both Flume generations (1.6 ``zookeeperConnect``/``topic``/``groupId``/
``kafka.<0.8 key>`` and 1.7+ ``kafka.bootstrap.servers``/``kafka.topics``/``kafka.consumer.*``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from flafka.config.params import ComponentConfig, param, prefixed
from flafka.java_regex import compile_java_regex
from flafka.kafka import lag
from flafka.kafka.client_config import ClientConfig, consumer_config, legacy_config

_OWN_KAFKA_KEYS = ("bootstrap.servers", "topics", "topics.regex", "consumer.group.id")


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
    consumer_lag_interval_ms: int = param(
        "consumerLagIntervalMs", default=lag.DEFAULT_INTERVAL_MS, minimum=0, doc=lag.INTERVAL_DOC)
    consumer: dict[str, str] = prefixed("kafka.consumer.", doc="Kafka consumer properties (Java names).")
    kafka: dict[str, str] = prefixed("kafka.", doc="Flume 1.6: Kafka 0.8 consumer properties (mapped when they "
                                                   "have a modern equivalent, with a warning).")

    def _legacy(self) -> dict[str, str]:
        return {k: v for k, v in self.kafka.items()
                if not k.startswith(("consumer.", "producer.")) and k not in _OWN_KAFKA_KEYS}

    def client_config(self) -> ClientConfig:
        """The consumer's librdkafka settings (the user's, Flume 1.6 keys mapped), with the problems found."""
        legacy = legacy_config(self._legacy(), producer=False)
        return legacy.merged(consumer_config({k: v for k, v in self.consumer.items() if k != "group.id"}))

    def topic_list(self) -> list[str]:
        return [t.strip() for t in (self.topics or "").split(",") if t.strip()]

    def check(self) -> Iterable[tuple[str | None, str]]:
        problems: list[tuple[str | None, str]] = [(k, m) for k, m in self.client_config().errors]
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
        return self.client_config().warnings
