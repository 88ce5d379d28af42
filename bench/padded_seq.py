"""A seq source whose bodies are padded to a fixed size (the benchmark's 100-byte events)."""

from __future__ import annotations

from dataclasses import dataclass

from flafka.config.params import param
from flafka.errors import FlafkaError
from flafka.event import Event
from flafka.sources.base import Status
from flafka.sources.seq import SequenceSource, SequenceSourceConfig


@dataclass(frozen=True, kw_only=True)
class PaddedSequenceConfig(SequenceSourceConfig):
    body_size: int = param("bodySize", default=100, minimum=1, doc="Body length in bytes.")


class PaddedSequenceSource(SequenceSource):
    config_class = PaddedSequenceConfig
    config: PaddedSequenceConfig

    def process(self) -> Status:
        start = self._next
        end = min(start + self.config.batch_size, self.config.total_events)
        if start >= end:
            return Status.BACKOFF
        width = self.config.body_size
        events = [Event(str(i).encode().rjust(width, b"0")) for i in range(start, end)]
        try:
            self.channel_processor.process_batch(events)
        except FlafkaError:
            return Status.BACKOFF
        self._next = end
        return Status.READY
