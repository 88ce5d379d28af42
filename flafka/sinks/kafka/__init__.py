"""Flume's Kafka sink (``org.apache.flume.sink.kafka.KafkaSink``) on confluent-kafka (librdkafka)."""

from flafka.kafka.records import topic_problem
from flafka.sinks.kafka.config import KafkaSinkConfig
from flafka.sinks.kafka.sink import KafkaSink

__all__ = ["KafkaSink", "KafkaSinkConfig", "topic_problem"]
