"""From a source's batch to its channels: interceptors, then selector, then one transaction per
channel (reference §2.3).

Required channels are written one after the other, each in its own transaction; the first failure
rolls that transaction back and raises, so the source keeps its upstream position and retries the
batch (channels already committed may then receive duplicates, as in Flume: at-least-once).
Optional channels are written best-effort after all required ones succeeded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from flafka.errors import ChannelError, FlafkaError, InterceptorError
from flafka.event import Event
from flafka.interceptors.base import Interceptor
from flafka.logging_once import OncePerKind
from flafka.monitoring.counters import SourceCounter
from flafka.selectors import ChannelSelector

log = logging.getLogger(__name__)


class ChannelProcessor:
    """Runs a source's interceptor chain and writes the result to the selected channels."""

    def __init__(
        self,
        source_name: str,
        interceptors: Sequence[tuple[str, Interceptor]],
        selector: ChannelSelector,
        counter: SourceCounter,
    ) -> None:
        self.source_name = source_name
        self.interceptors = list(interceptors)
        self.selector = selector
        self.counter = counter
        self._once = OncePerKind(log)

    def initialize(self) -> None:
        for _, interceptor in self.interceptors:
            interceptor.initialize()

    def close(self) -> None:
        for name, interceptor in self.interceptors:
            try:
                interceptor.close()
            except Exception as exc:  # a failing close must not stop the others
                log.warning("Interceptor %s of source %s failed to close: %s", name, self.source_name, exc)

    def intercept(self, events: list[Event]) -> list[Event]:
        """The events that survive the interceptor chain; raises :class:`InterceptorError`."""
        for name, interceptor in self.interceptors:
            if not events:
                break
            try:
                events = interceptor.intercept_batch(events)
            except Exception as exc:
                raise InterceptorError(name, exc) from exc
        return events

    def process_batch(self, events: list[Event]) -> None:
        """Deliver ``events`` to the required channels or raise; counts and logs failures."""
        counter = self.counter
        counter.append_batch_received_count += 1
        counter.event_received_count += len(events)
        try:
            if self.interceptors:
                events = self.intercept(events)
            if events:
                self._write(events)
        except InterceptorError as exc:
            counter.generic_processing_fail += 1
            self._once.log(
                logging.ERROR,
                f"interceptor:{exc.interceptor}:{type(exc.__cause__).__name__}",
                f"Source {self.source_name} batch not delivered, an interceptor failed; the batch "
                f"will be retried. {exc}",
                exc_info=exc,
            )
            raise
        except ChannelError as exc:
            counter.channel_write_fail += 1
            self._once.log(
                logging.WARNING,
                f"channel:{type(exc).__name__}",
                f"Source {self.source_name} batch not delivered; it will be retried. {exc}",
            )
            raise
        counter.append_batch_accepted_count += 1
        counter.event_accepted_count += len(events)

    def process_event(self, event: Event) -> None:
        self.process_batch([event])

    def _write(self, events: list[Event]) -> None:
        for channel, batch, required in self.selector.route(events):
            if required:
                try:
                    with channel.transaction() as tx:
                        tx.put_batch(batch)
                except FlafkaError:
                    raise
                except Exception as exc:
                    raise ChannelError(f"channel {channel.name} failed: {type(exc).__name__}: {exc}") from exc
            else:
                try:
                    with channel.transaction() as tx:
                        tx.put_batch(batch)
                except Exception as exc:
                    self._once.log(
                        logging.WARNING,
                        f"optional:{channel.name}:{type(exc).__name__}",
                        f"Source {self.source_name} could not write to optional channel {channel.name}; "
                        f"events dropped for that channel. {exc}",
                    )
