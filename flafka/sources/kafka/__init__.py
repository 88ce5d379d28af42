"""Flume's Kafka source (``org.apache.flume.source.kafka.KafkaSource``) on confluent-kafka (librdkafka)."""

from flafka.sources.kafka.config import KafkaSourceConfig
from flafka.sources.kafka.source import KafkaSource, KafkaSourceError

__all__ = ["KafkaSource", "KafkaSourceConfig", "KafkaSourceError"]
