"""From a source's batch to its channels: interceptors, then selector, then one transaction per
channel (reference §2.3).

Required channels are written one after the other, each in its own transaction; the first failure
rolls that transaction back and raises, so the source keeps its upstream position and retries the
batch (channels already committed may then receive duplicates, as in Flume: at-least-once).
Optional channels are written best-effort after all required ones succeeded.

Bad events never hold the batch (DESIGN.md principle 4). An event is bad when an interceptor raises
on it, or when a channel can never hold it (:class:`~flafka.errors.EventsRefused`, an event above a
memory channel's byte capacity). The source's ``onBadEvent`` policy decides: ``deadLetter`` and
``drop`` deliver the rest of the batch and hand the bad events to the source's
:class:`~flafka.dead_letters.DeadLetters` once the batch is in its channels (so a retried batch never
dead-letters them twice); ``stop`` fails the batch as Flume does, and the source retries it.

To find which events an interceptor fails on, the failing interceptor's input is split in halves and
each half goes on through the rest of the chain, recursively, down to single events: k bad events
in a batch of n cost about 2·k·log2(n) extra interceptor calls, so an interceptor that makes one
remote lookup per batch is not called once per event. Events of a failed call are offered to the
interceptor again, as they are when a source retries a failed batch: an interceptor should change an
event only in ways that can be repeated, or raise before changing it.

An interceptor failure that says retrying may help (:class:`~flafka.errors.TransientError`,
:class:`ConnectionError`, :class:`TimeoutError`, or an exception whose ``retriable`` attribute is
true) is not the events' fault: the batch fails and the source retries it with back-off, whatever the
policy.

Counted here besides the source's counter: each interceptor's events in and out, failed calls and time
(:class:`~flafka.monitoring.counters.InterceptorCounter`, ``INTERCEPTOR.<source>.<name>``; an event offered
again, by a retried batch or while a failure is isolated, is counted again), and the selector's routed and
unrouted events and failed optional writes (``SELECTOR.<source>``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from flafka.channels.base import Channel
from flafka.dead_letters import BadEvent, BadEventPolicy, DeadLetters
from flafka.errors import ChannelError, EventsRefused, FlafkaError, InterceptorError
from flafka.event import Event
from flafka.interceptors.base import Interceptor
from flafka.logging_once import OncePerKind
from flafka.monitoring.counters import InterceptorCounter, SelectorCounter, SourceCounter
from flafka.selectors import ChannelSelector

log = logging.getLogger(__name__)


def is_retriable(exc: BaseException) -> bool:
    """True when ``exc`` says its cause may go away (a service down), not that the data is bad."""
    return isinstance(exc, ConnectionError | TimeoutError) or getattr(exc, "retriable", False) is True


class _ChainFailed(Exception):
    """Interceptor ``position`` raised ``cause`` on ``events`` (its input)."""

    def __init__(self, position: int, events: list[Event], cause: Exception) -> None:
        super().__init__(position)
        self.position = position
        self.events = events
        self.cause = cause


class ChannelProcessor:
    """Runs a source's interceptor chain and writes the result to the selected channels."""

    def __init__(
        self,
        source_name: str,
        interceptors: Sequence[tuple[str, Interceptor]],
        selector: ChannelSelector,
        counter: SourceCounter,
        *,
        dead_letter_channel: Channel | None = None,
        policy: BadEventPolicy | None = None,
    ) -> None:
        self.source_name = source_name
        self.interceptors = list(interceptors)
        self.interceptor_counters = [InterceptorCounter(f"{source_name}.{name}") for name, _ in interceptors]
        self.selector = selector
        self.selector_counter = SelectorCounter(source_name)
        self.counter = counter
        self.dead_letters = DeadLetters(f"source {source_name}", counter, log, dead_letter_channel)
        if policy is None:
            policy = BadEventPolicy.DEAD_LETTER if dead_letter_channel is not None else BadEventPolicy.DROP
        self.policy = policy
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
        """The events that survive the interceptor chain; raises :class:`InterceptorError` on any failure."""
        try:
            return self._chain(events, 0)
        except _ChainFailed as failure:
            raise self._error(failure) from failure.cause

    def process_batch(self, events: list[Event]) -> None:
        """Deliver ``events`` to the required channels or raise; counts and logs failures."""
        counter = self.counter
        with counter.lock:
            counter.append_batch_received_count += 1
            counter.event_received_count += len(events)
        bad: list[BadEvent] = []
        refused = 0
        try:
            if self.interceptors:
                events = self._intercept(events, bad)
            if events:
                refused = self._write(events, bad)
        except InterceptorError as exc:
            with counter.lock:
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
            with counter.lock:
                counter.channel_write_fail += 1
            self._once.log(
                logging.WARNING,
                f"channel:{type(exc).__name__}",
                f"Source {self.source_name} batch not delivered; it will be retried. {exc}",
            )
            raise
        if bad:
            # Only now that the good events are in their channels: a failed batch is retried whole, and its bad
            # events must not be dead-lettered once per attempt.
            self.dead_letters.set_aside(bad)
        with counter.lock:
            counter.append_batch_accepted_count += 1
            counter.event_accepted_count += len(events) - refused

    def process_event(self, event: Event) -> None:
        self.process_batch([event])

    # -- interceptors ---------------------------------------------------------------------------

    def _chain(self, events: list[Event], start: int) -> list[Event]:
        interceptors = self.interceptors
        for position in range(start, len(interceptors)):
            if not events:
                break
            counter = self.interceptor_counters[position]
            began = time.perf_counter_ns()
            try:
                emitted = interceptors[position][1].intercept_batch(events)
            except Exception as exc:
                elapsed = time.perf_counter_ns() - began
                with counter.lock:
                    counter.event_received_count += len(events)
                    counter.fail_count += 1
                    counter.time_nanos += elapsed
                raise _ChainFailed(position, events, exc) from exc
            elapsed = time.perf_counter_ns() - began
            with counter.lock:
                counter.event_received_count += len(events)
                counter.event_emitted_count += len(emitted)
                counter.time_nanos += elapsed
            events = emitted
        return events

    def _error(self, failure: _ChainFailed) -> InterceptorError:
        return InterceptorError(self.interceptors[failure.position][0], failure.cause)

    def _intercept(self, events: list[Event], bad: list[BadEvent]) -> list[Event]:
        try:
            return self._chain(events, 0)
        except _ChainFailed as failure:
            if self.policy is BadEventPolicy.STOP:
                raise self._error(failure) from failure.cause
            before = len(bad)
            survivors = self._isolate(failure, bad)
            with self.counter.lock:
                self.counter.generic_processing_fail += len(bad) - before
            return survivors

    def _isolate(self, failure: _ChainFailed, bad: list[BadEvent]) -> list[Event]:
        """The chain's output for ``failure.events`` from the failing interceptor on; bad events go to ``bad``."""
        if is_retriable(failure.cause):
            raise self._error(failure) from failure.cause
        pending = failure.events
        if len(pending) == 1:
            name = self.interceptors[failure.position][0]
            cause = failure.cause
            bad.append((pending[0], f"interceptor:{name}:{type(cause).__name__}",
                        f"interceptor {name} failed: {type(cause).__name__}: {cause}"))
            return []
        middle = len(pending) // 2
        survivors: list[Event] = []
        for half in (pending[:middle], pending[middle:]):
            try:
                survivors.extend(self._chain(half, failure.position))
            except _ChainFailed as inner:
                survivors.extend(self._isolate(inner, bad))
        return survivors

    # -- channels -------------------------------------------------------------------------------

    def _write(self, events: list[Event], bad: list[BadEvent]) -> int:
        """Put ``events`` where the selector routes them; how many went to no channel at all."""
        kept: list[list[Event]] = []  # what each required channel took
        refused: list[Event] = []
        unrouted = 0
        for channel, batch, required in self.selector.route(events):
            if channel is None:
                unrouted += len(batch)
                self._unrouted(batch)
            elif required:
                took = self._put_required(channel, batch, bad)
                kept.append(took)
                if len(took) != len(batch):
                    taken = {id(e) for e in took}
                    refused.extend(e for e in batch if id(e) not in taken)
            else:
                try:
                    with channel.transaction() as tx:
                        tx.put_batch(batch)
                except Exception as exc:
                    with self.selector_counter.lock:
                        self.selector_counter.optional_write_fail += 1
                    self._once.log(
                        logging.WARNING,
                        f"optional:{channel.name}:{type(exc).__name__}",
                        f"Source {self.source_name} could not write to optional channel {channel.name}; "
                        f"events dropped for that channel. {exc}",
                    )
        with self.selector_counter.lock:
            self.selector_counter.event_routed_count += len(events) - unrouted
            self.selector_counter.event_unrouted_count += unrouted
        if not refused:
            return unrouted
        # An event one channel refused may still be in another required channel: then it was delivered.
        placed = {id(e) for took in kept for e in took}
        return unrouted + len({id(e) for e in refused} - placed)

    def _put_required(self, channel: Channel, batch: list[Event], bad: list[BadEvent]) -> list[Event]:
        """Put ``batch`` in one transaction; events the channel can never hold are left out (and go to ``bad``)."""
        while True:
            try:
                with channel.transaction() as tx:
                    tx.put_batch(batch)
                return batch
            except EventsRefused as exc:
                if self.policy is BadEventPolicy.STOP or not exc.refused:
                    raise
                for index, reason in exc.refused.items():
                    bad.append((batch[index], f"refused:{channel.name}", f"channel {channel.name} {reason}"))
                batch = [e for i, e in enumerate(batch) if i not in exc.refused]
                if not batch:
                    return batch
            except FlafkaError:
                raise
            except Exception as exc:
                raise ChannelError(f"channel {channel.name} failed: {type(exc).__name__}: {exc}") from exc

    # -- selector -------------------------------------------------------------------------------

    def _unrouted(self, events: Sequence[Event]) -> None:
        """The selector maps these events to no channel: counted and logged (Flume does neither)."""
        with self.counter.lock:
            self.counter.event_drop_count += len(events)
        self._once.log(
            logging.WARNING, "unrouted",
            f"Source {self.source_name} dropped events its selector maps to no channel (set selector.default "
            f"to keep them). events={len(events)} dropped_total={self.counter.event_drop_count} "
            f"first={self.selector.describe(events[0])}")
