"""Flume's memory channel (reference §3.4): a bounded in-memory FIFO with transactional put/take.

Semantics kept from Flume: puts are buffered in the transaction and the channel's capacity (events
and bytes) is checked at commit, waiting up to ``keep-alive`` seconds for room; a taken event leaves
the queue at once but keeps its capacity slot until the take commits; a rolled-back take returns its
events to the head of the queue in their original order. One lock and two conditions replace
Flume's three semaphores; batches move with one lock acquisition each.

A stopped channel refuses commits and takes, so what it held at its stop stays countable: ``size()``
then includes events taken by transactions still open (a sink still writing at a stop deadline),
whose commit can no longer succeed; :class:`~flafka.runtime.agent.Agent` reports them as lost.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from flafka.channels.base import Channel, Transaction
from flafka.config.params import ComponentConfig, param
from flafka.errors import ChannelError, ChannelFullError, EventsRefused, TransactionError
from flafka.event import Event

_SLOT = 100  # Flume accounts bytes in 100-byte slots, one slot at least per event


@dataclass(frozen=True, kw_only=True)
class MemoryChannelConfig(ComponentConfig):
    capacity: int = param("capacity", default=100, minimum=1, doc="Most events the channel holds.")
    transaction_capacity: int = param(
        "transactionCapacity", default=100, minimum=1, doc="Most events one transaction puts or takes."
    )
    keep_alive: float = param(
        "keep-alive", default=3.0, minimum=0, doc="Seconds a commit waits for room before failing."
    )
    byte_capacity: int | None = param(
        "byteCapacity",
        default=None,
        minimum=0,
        doc="Most bytes of event bodies held (counted in 100-byte slots, as Flume). "
        "Unset, or less than one slot after the buffer: no byte limit (Flume's default is 80% of the JVM "
        "heap, which has no Python equivalent).",
    )
    byte_capacity_buffer_percentage: int = param(
        "byteCapacityBufferPercentage",
        default=20,
        minimum=0,
        maximum=100,
        doc="Percent of byteCapacity kept free as headroom for headers.",
    )

    def check(self) -> list[tuple[str | None, str]]:
        if self.transaction_capacity > self.capacity:
            return [("transactionCapacity",
                     f"({self.transaction_capacity}) must not exceed capacity ({self.capacity})")]
        return []

    def max_events_per_transaction(self) -> int:
        return self.transaction_capacity

    def byte_slots(self) -> int | None:
        if not self.byte_capacity:
            return None
        usable = self.byte_capacity * (100 - self.byte_capacity_buffer_percentage) // 100
        slots = usable // _SLOT
        return slots if slots >= 1 else None  # Flume: a limit below one slot means no limit


def _slots(events: Sequence[Event]) -> int:
    return sum(max(1, -(-len(e.body) // _SLOT)) for e in events)


class MemoryChannel(Channel):
    """See the module docstring."""

    config_class = MemoryChannelConfig
    config: MemoryChannelConfig

    def __init__(self, name: str, config: MemoryChannelConfig) -> None:
        super().__init__(name, config)
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._has_room = threading.Condition(self._lock)
        self._queue: deque[Event] = deque()
        self._in_flight = 0  # taken, not yet committed: still counts against capacity
        self._bytes_used = 0  # in slots, queued + in flight
        self._wake_generation = 0
        self._stopped = False
        self._apply(config)

    def _apply(self, config: MemoryChannelConfig) -> None:
        self.config = config
        self._capacity = config.capacity
        self._tx_capacity = config.transaction_capacity
        self._keep_alive = config.keep_alive
        self._byte_slots = config.byte_slots()
        self._largest_body = None if self._byte_slots is None else self._byte_slots * _SLOT
        self.counter.channel_capacity = config.capacity

    def start(self) -> None:
        with self._lock:
            self._stopped = False
        self.counter.channel_capacity = self._capacity
        self.counter.channel_size = self.size()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
        self.wakeup()

    def reconfigure(self, config: object) -> bool:
        assert isinstance(config, MemoryChannelConfig)
        with self._lock:
            was_counting = self._byte_slots is not None
            self._apply(config)
            if was_counting != (self._byte_slots is not None):
                # Slots are only counted while a limit is set (it costs per event): recount on a switch.
                self._bytes_used = _slots(self._queue) if self._byte_slots is not None else 0
            self._has_room.notify_all()
        return True

    def transaction(self) -> MemoryTransaction:
        return MemoryTransaction(self)

    def transaction_capacity(self) -> int:
        return self._tx_capacity

    def size(self) -> int:
        if self._stopped:  # an open take can only roll back now: its events are still the channel's
            return len(self._queue) + self._in_flight
        return len(self._queue)

    def wait_for_events(self, timeout: float) -> bool:
        with self._lock:
            if self._queue:
                return True
            generation = self._wake_generation
            self._not_empty.wait_for(
                lambda: bool(self._queue) or self._wake_generation != generation, timeout
            )
            return bool(self._queue)

    def wakeup(self) -> None:
        with self._lock:
            self._wake_generation += 1
            self._not_empty.notify_all()
            self._has_room.notify_all()

    # The methods below run with the transaction's own data; they are the channel's critical sections.

    def _take(self, max_events: int, timeout: float) -> list[Event]:
        with self._lock:
            queue = self._queue
            if self._stopped:
                return []
            if not queue and timeout > 0:
                generation = self._wake_generation
                self._not_empty.wait_for(lambda: bool(queue) or self._wake_generation != generation, timeout)
            if not queue:
                return []
            if max_events >= len(queue):
                taken = list(queue)
                queue.clear()
            else:
                popleft = queue.popleft
                taken = [popleft() for _ in range(max_events)]
            self._in_flight += len(taken)
            return taken

    def _commit(self, puts: list[Event], takes: list[Event]) -> None:
        put_slots = _slots(puts) if self._byte_slots is not None and puts else 0
        take_slots = _slots(takes) if self._byte_slots is not None and takes else 0
        with self._lock:
            if self._stopped:
                raise ChannelError(f"memory channel {self.name} is stopped; the transaction rolls back")
            if puts:
                def room() -> bool:
                    if len(self._queue) + self._in_flight - len(takes) + len(puts) > self._capacity:
                        return False
                    return self._byte_slots is None or (
                        self._bytes_used - take_slots + put_slots <= self._byte_slots
                    )

                if not room() and not self._has_room.wait_for(room, self._keep_alive):
                    full_events = len(self._queue) + self._in_flight - len(takes) + len(puts) > self._capacity
                    what = (
                        f"capacity {self._capacity} events"
                        if full_events
                        else f"byteCapacity {self.config.byte_capacity} bytes"
                    )
                    raise ChannelFullError(
                        f"memory channel {self.name} is full ({what}); could not commit {len(puts)} "
                        f"events within keep-alive {self._keep_alive:g}s: the sinks are not keeping up"
                    )
                self._queue.extend(puts)
                self._not_empty.notify_all()
            self._in_flight -= len(takes)
            self._bytes_used += put_slots - take_slots
            if takes:
                self._has_room.notify_all()
            size = len(self._queue)
        counter = self.counter
        with counter.lock:
            counter.event_put_success_count += len(puts)
            counter.event_take_success_count += len(takes)
        counter.channel_size = size

    def _rollback(self, takes: list[Event]) -> None:
        if not takes:
            self.counter.channel_size = len(self._queue)
            return
        with self._lock:
            self._queue.extendleft(reversed(takes))
            self._in_flight -= len(takes)
            self._not_empty.notify_all()
            self.counter.channel_size = len(self._queue)


class MemoryTransaction(Transaction):
    __slots__ = ("_channel", "_puts", "_takes")

    def __init__(self, channel: MemoryChannel) -> None:
        super().__init__()
        self._channel = channel
        self._puts: list[Event] = []
        self._takes: list[Event] = []

    def _do_put_batch(self, events: Sequence[Event]) -> None:
        channel = self._channel
        with channel.counter.lock:
            channel.counter.event_put_attempt_count += len(events)
        if len(self._puts) + len(events) > channel._tx_capacity:
            raise TransactionError(
                f"memory channel {channel.name}: a transaction may put at most transactionCapacity="
                f"{channel._tx_capacity} events; raise transactionCapacity or lower the source's batch size"
            )
        limit = channel._largest_body
        if limit is not None:
            refused = {i: f"cannot hold an event of {len(e.body)} bytes: byteCapacity {channel.config.byte_capacity} "
                          f"leaves at most {limit} bytes for one event body (byteCapacityBufferPercentage "
                          f"{channel.config.byte_capacity_buffer_percentage}%)"
                       for i, e in enumerate(events) if len(e.body) > limit}
            if refused:
                # It would wait for room that can never exist: a bad event, not back-pressure.
                raise EventsRefused(channel.name, refused)
        self._puts.extend(events)

    def _do_take_batch(self, max_events: int, timeout: float) -> list[Event]:
        channel = self._channel
        room = channel._tx_capacity - len(self._takes)
        if room <= 0:
            raise TransactionError(
                f"memory channel {channel.name}: a transaction may take at most transactionCapacity="
                f"{channel._tx_capacity} events; lower the sink's batch size"
            )
        taken = channel._take(min(max_events, room), timeout)
        with channel.counter.lock:
            channel.counter.event_take_attempt_count += max(1, len(taken))
        self._takes.extend(taken)
        return taken

    def _do_commit(self) -> None:
        self._channel._commit(self._puts, self._takes)
        self._puts = []
        self._takes = []

    def _do_rollback(self) -> None:
        self._puts = []
        takes, self._takes = self._takes, []
        self._channel._rollback(takes)
