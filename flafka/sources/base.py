"""The source contract (reference §2.5).

A source hands batches to its :class:`~flafka.runtime.channel_processor.ChannelProcessor` and
advances its own upstream position (offsets, file positions) only after that call returned: a
raised :class:`~flafka.errors.FlafkaError` means nothing was accepted by the required channels and
the same events must be offered again.

* :class:`PollableSource`: the agent's runner thread calls :meth:`PollableSource.process` in a
  loop, sleeping Flume's back-off after ``BACKOFF``.
* :class:`EventDrivenSource`: the source runs its own threads between ``start`` and ``stop``.
"""

from __future__ import annotations

import enum
from abc import abstractmethod
from typing import TYPE_CHECKING

from flafka.component import Component
from flafka.monitoring.counters import SourceCounter

if TYPE_CHECKING:
    from flafka.runtime.channel_processor import ChannelProcessor


class Status(enum.Enum):
    """What ``process()`` tells its runner: go on at once, or back off."""

    READY = "ready"
    BACKOFF = "backoff"


class Source(Component):
    """Base of all sources. ``channel_processor`` is set by the agent before ``start``."""

    channel_processor: ChannelProcessor

    def __init__(self, name: str, config: object) -> None:
        super().__init__(name, config)
        self.counter = SourceCounter(name)


class PollableSource(Source):
    """A source driven by a runner thread (Kafka, seq, taildir)."""

    #: Flume's runner back-off: after n consecutive BACKOFFs sleep min(n * increment, max) ms.
    backoff_sleep_increment_ms: int = 1000
    max_backoff_sleep_ms: int = 5000

    @abstractmethod
    def process(self) -> Status:
        """Read one batch and deliver it; READY to be called again at once, BACKOFF to wait."""


class EventDrivenSource(Source):
    """A source that owns its threads (netcat, http, exec, spooldir)."""
