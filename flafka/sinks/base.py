"""The sink contract (reference §2.6).

``process()`` takes up to one batch from ``self.channel`` in one transaction, writes it, and
commits the take only after the destination has accepted the batch; any failure rolls the take
back (the events return to the head of the channel) and raises. It returns ``BACKOFF`` when the
channel had nothing to take, so the runner waits for events instead of spinning.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Sequence

from flafka.channels.base import Channel
from flafka.component import Component
from flafka.dead_letters import BadEvent, DeadLetters
from flafka.event import Event
from flafka.monitoring.counters import SinkCounter
from flafka.sources.base import Status

__all__ = ["BatchSink", "Sink", "Status"]

log = logging.getLogger(__name__)


class Sink(Component):
    """Base of all sinks. ``channel`` is set by the agent before ``start``."""

    channel: Channel

    def __init__(self, name: str, config: object) -> None:
        super().__init__(name, config)
        self.counter = SinkCounter(name)
        self.stopping = threading.Event()  # set by request_stop(); never cleared (a stopped sink is not reused)

    @functools.cached_property
    def dead_letters(self) -> DeadLetters:
        """Where this sink's bad events go (the agent sets its channel from ``deadLetterChannel``)."""
        return DeadLetters(f"sink {self.name}", self.counter, log)  # after a subclass chose its counter

    def set_aside(self, bad: Sequence[BadEvent]) -> None:
        """Events this sink can never write: counted in ``EventWriteFail``, then dead-lettered or dropped.

        A sink calls this for the events of a batch it cannot write (and writes the others), so one bad
        event never stalls it; see :mod:`flafka.dead_letters`.
        """
        with self.counter.lock:
            self.counter.event_write_fail += len(bad)
        self.dead_letters.set_aside(bad)

    def request_stop(self) -> None:
        """Called from another thread before ``stop``: a sink that holds a batch while it retries its
        destination (the Kafka sink) rolls the batch back and returns instead of waiting on."""
        self.stopping.set()

    def process(self) -> Status:
        """Deliver at most one batch; READY when something was delivered, BACKOFF when idle."""
        raise NotImplementedError


class BatchSink(Sink):
    """A sink that takes up to ``batch_size`` events per transaction and writes them with ``deliver``.

    The take commits only after ``deliver`` returned; if it raises, the take rolls back (the events
    go back to the head of the channel), ``EventWriteFail`` is counted and the exception propagates
    to the runner, which backs off. Subclasses implement ``deliver`` and set ``batch_size``.
    """

    batch_size: int = 100

    def deliver(self, events: list[Event]) -> None:
        raise NotImplementedError

    def after_commit(self) -> None:
        """Called once the take of a delivered batch committed (a sink finishes what had to wait for it)."""

    def process(self) -> Status:
        counter = self.counter
        batch_size = self.batch_size
        with self.channel.transaction() as tx:
            events = tx.take_batch(batch_size, 0.0)
            counter.count_batch(len(events), batch_size)
            if not events:
                return Status.BACKOFF
            with counter.lock:
                counter.event_drain_attempt_count += len(events)
            set_aside = counter.event_dead_letter_count + counter.event_drop_count
            try:
                self.deliver(events)
            except Exception:
                with counter.lock:
                    counter.event_write_fail += 1
                raise
        # Bad events ``deliver`` set aside left the channel but were not written: not a drain success.
        set_aside = counter.event_dead_letter_count + counter.event_drop_count - set_aside
        with counter.lock:
            counter.event_drain_success_count += len(events) - set_aside
        self.after_commit()
        return Status.READY
