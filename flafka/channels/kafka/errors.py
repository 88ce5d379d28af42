"""The Kafka channel's own error."""

from __future__ import annotations

from flafka.errors import ChannelError

__all__ = ["KafkaChannelError"]


class KafkaChannelError(ChannelError):
    """Kafka refused or could not take a put or take; ``retriable`` comes from the Kafka error."""

    def __init__(self, message: str, *, retriable: bool = True) -> None:
        super().__init__(message)
        self.retriable = retriable
