"""Flume's Kafka channel (``org.apache.flume.channel.kafka.KafkaChannel``) on confluent-kafka (librdkafka).

``config`` holds the properties, ``puts`` the put side (records, produced at commit), ``takes`` the take side
(one consumer per taking thread, redelivery and offsets), ``channel`` the channel and its transaction.
"""

from flafka.channels.kafka.channel import KafkaChannel, KafkaTransaction
from flafka.channels.kafka.config import KafkaChannelConfig
from flafka.channels.kafka.errors import KafkaChannelError

__all__ = ["KafkaChannel", "KafkaChannelConfig", "KafkaChannelError", "KafkaTransaction"]
