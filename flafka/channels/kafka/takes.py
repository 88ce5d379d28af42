"""The take side of the Kafka channel: a taking thread's consumer, what it holds, and when offsets are committed.

A confluent-kafka consumer may be used by one thread at a time, and its rebalance callbacks run inside its own
``consume()``/``close()`` calls, on the calling thread. So each taking thread has a consumer of its own
(:class:`Taker`, all in the channel's group), used only under its lock. A shared consumer would let one
thread's poll revoke partitions whose events another thread's open take holds; with one per thread, a
take polls only while its transaction holds nothing, and the revocation callback sees everything in hand.

What a taker holds, per partition, in :class:`Segment` runs of consecutive records (with the offsets of records
that became no event, so that those are committed with their neighbours):

* ``buffer``: fetched, not taken yet;
* each open take transaction's segments;
* ``redeliver``: taken by transactions that rolled back; served before anything new;
* an :class:`~flafka.kafka.offsets.OffsetTracker` of what committed take transactions delivered;
* the consumer's last lag report (:class:`~flafka.kafka.lag.ConsumerLag`), and the partitions it owns.

A take transaction's commit delivers its segments and commits the offsets synchronously, each partition up to
the lowest offset still held (in ``redeliver`` or another open transaction): never past an event not
delivered. A failed commit is logged (WARNING, once per kind), counted (``CommitFailCount``), and its offsets
are committed with the next commit, or when the partitions are given up.

On revocation (inside ``consume()``, or ``close()`` at a stop) the taker drops the fetched and rolled-back
events of the revoked partitions (their new owner reads them from the committed offset) and commits what was
delivered of them before the partitions go. A take polls only while its transaction holds no events, so a
clean rebalance or stop finds nothing taken and undelivered: no duplicates.

A take that has what it serves in hand (rolled-back events, say, while its sink keeps failing) does not
call the consumer, but librdkafka drops a member that goes ``max.poll.interval.ms`` without one, losing its
partitions uncommitted. So a take that holds nothing yet calls it anyway (without waiting) once a third of
that interval has passed since the last call: the rebalances of the group go on during a sink outage.

Waiting for records is done in slices of ``_SLICE_S``, so that a stop or ``wakeup()`` ends a waiting take at
once (librdkafka's consumer has no wakeup either). ``consume(n, timeout)`` waits for ``n`` records or the
whole timeout, so a take first collects what is already fetched without waiting, and waits only for the first
record when there is none.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from flafka.channels.kafka.errors import KafkaChannelError
from flafka.event import Event
from flafka.kafka.avro_event import AvroDecodeError, decode
from flafka.kafka.lag import ConsumerLag
from flafka.kafka.offsets import OffsetTracker, Partition
from flafka.kafka.records import key_header
from flafka.logging_once import OncePerKind
from flafka.monitoring.counters import KafkaChannelCounter

__all__ = ["ConsumerFactory", "Segment", "Signals", "Taker"]

log = logging.getLogger("flafka.channels.kafka")

ConsumerFactory = Callable[[dict[str, Any]], Consumer]

_SLICE_S = 0.1  # longest wait inside librdkafka before a take looks at a stop or wakeup again
_JOIN_WAIT_S = 30.0  # how long a take keeps waiting while its consumer (re)joins the group
_MIN_FETCH = 500  # records a take collects at least (the rest wait in the buffer for the next takes)
_LATE_CLOSE_S = 5.0  # a consumer a stop could not close (its take was running) is closed by that take within this
_MAX_POLL_INTERVAL_MS = 300_000  # librdkafka's (and Java's) max.poll.interval.ms default


class Segment:
    """Consecutive records of one partition: their events and the offsets ``start`` to ``end`` they consume.

    Records that became no event (not an AvroFlumeEvent) have no entry in ``events`` but lie inside
    ``start``..``end``, so their offsets are committed with the events around them.
    """

    __slots__ = ("end", "events", "offsets", "partition", "start")

    def __init__(self, partition: Partition, start: int, end: int, events: list[Event], offsets: list[int]) -> None:
        self.partition = partition
        self.start = start
        self.end = end
        self.events = events
        self.offsets = offsets

    def split(self, count: int) -> Segment:
        """Remove and return the first ``count`` events (and every offset before the next event)."""
        cut = self.offsets[count]
        head = Segment(self.partition, self.start, cut, self.events[:count], self.offsets[:count])
        self.start = cut
        self.events = self.events[count:]
        self.offsets = self.offsets[count:]
        return head


def serve(source: deque[Segment], want: int, held: list[Segment], out: list[Event]) -> None:
    """Move events from the head of ``source`` into ``out`` (and their segments into ``held``) up to ``want``."""
    while source and len(out) < want:
        segment = source[0]
        room = want - len(out)
        if len(segment.events) <= room:
            source.popleft()
        else:
            segment = segment.split(room)
        held.append(segment)
        out.extend(segment.events)


def held_starts(segments: Iterable[Segment]) -> dict[Partition, int]:
    """The lowest offset held per partition."""
    low: dict[Partition, int] = {}
    for segment in segments:
        if segment.start < low.get(segment.partition, segment.start + 1):
            low[segment.partition] = segment.start
    return low


class Signals:
    """What ends a waiting take: the channel stopping, or a ``wakeup()`` (a new generation)."""

    __slots__ = ("generation", "stopping")

    def __init__(self) -> None:
        self.stopping = False
        self.generation = 0


class Taker:
    """One taking thread's consumer and what it holds (see the module docstring). Used only under ``lock``;
    the rebalance callbacks run inside ``consume()``/``close()``, called under it."""

    def __init__(self, name: str, consumer: Consumer, thread: threading.Thread, *, topic: str, parse: bool,
                 poll_s: float, max_poll_interval_ms: int = _MAX_POLL_INTERVAL_MS, signals: Signals,
                 counter: KafkaChannelCounter, once: OncePerKind, lag: ConsumerLag | None = None) -> None:
        self.name = name
        self.consumer = consumer
        self.lag = lag if lag is not None else ConsumerLag(0)  # fed by the consumer's stats_cb, inside consume()
        self.thread = thread
        self.lock = threading.Lock()
        self.closed = False
        self.close_requested = False  # a stop could not wait for the take in progress: it closes the consumer
        self._topic = topic
        self._parse = parse
        self._poll_s = poll_s
        # A take served from rolled-back events (its sink keeps failing) still polls this often: the group must
        # see it alive, and the lag report, which only a consume() delivers, must not go stale.
        self._keepalive_s = max_poll_interval_ms / 3000.0
        if self.lag.interval_ms > 0:
            self._keepalive_s = min(self._keepalive_s, self.lag.interval_ms / 1000.0)
        self._called = time.monotonic()  # the consumer's last consume()
        self._signals = signals
        self._counter = counter
        self._once = once
        self.stable = False  # assigned partitions since the last (re)join began
        self.owned: set[Partition] = set()
        self.buffer: deque[Segment] = deque()  # fetched, not taken yet
        self.redeliver: deque[Segment] = deque()  # taken by transactions that rolled back
        self.open: list[list[Segment]] = []  # the segments of this thread's open take transactions
        self.offsets = OffsetTracker()  # delivered by committed take transactions, not committed yet

    def subscribe(self) -> None:
        self.consumer.subscribe([self._topic], on_assign=self._on_assign, on_revoke=self._on_revoke,
                                on_lost=self._on_lost)

    # -- a take transaction ---------------------------------------------------------------------------

    def take(self, held: list[Segment], taken: int, max_events: int, timeout: float) -> list[Event]:
        """Up to ``max_events`` events for the transaction holding ``held`` (``taken`` events so far)."""
        out: list[Event] = []
        with self.lock:
            if self.closed:
                raise KafkaChannelError(f"Kafka channel {self.name} is stopped", retriable=False)
            try:
                if not any(h is held for h in self.open):
                    self.open.append(held)
                if not taken and time.monotonic() - self._called > self._keepalive_s:
                    self._buffer(self._consume(max(max_events, _MIN_FETCH), 0))
                if self.redeliver:
                    serve(self.redeliver, max_events, held, out)
                if self.buffer and len(out) < max_events:
                    serve(self.buffer, max_events, held, out)
                if not out and not taken:
                    # Poll only with nothing in hand: a rebalance inside the poll then finds no taken events.
                    self._poll(max_events, timeout)
                    serve(self.buffer, max_events, held, out)
            finally:
                if self.close_requested and not self.closed:
                    self._close(time.monotonic() + _LATE_CLOSE_S)
        return out

    def _consume(self, count: int, wait: float) -> list[Message]:
        try:
            return self.consumer.consume(count, wait)
        except KafkaException as exc:
            raise KafkaChannelError(f"Kafka channel {self.name} could not read topic {self._topic}: {exc}") from exc
        finally:
            self._called = time.monotonic()

    def _poll(self, max_events: int, timeout: float) -> None:
        signals = self._signals
        generation = signals.generation
        poll_s = self._poll_s
        want = max(max_events, _MIN_FETCH)
        started = now = time.monotonic()
        deadline = started + max(timeout, poll_s)
        join_deadline = started + _JOIN_WAIT_S
        was_stable = self.stable
        try:
            while True:
                messages = self._consume(want, 0)  # what is fetched already
                if not messages:
                    wait = min(_SLICE_S, deadline - now)
                    if wait > 0:
                        messages = self._consume(1, wait)
                        if messages:
                            messages.extend(self._consume(want - 1, 0))
                if messages and self._buffer(messages):
                    return
                if signals.stopping or signals.generation != generation or self.close_requested:
                    return
                now = time.monotonic()
                if not self.stable:
                    # Joining (or rejoining) the group: that wait does not count against the take's.
                    if now < join_deadline:
                        deadline = max(deadline, now + poll_s)
                elif not was_stable:
                    deadline = max(deadline, now + poll_s)
                was_stable = self.stable
                if now >= deadline:
                    return
        finally:
            elapsed_ms = int((time.monotonic() - started) * 1000)
            with self._counter.lock:
                self._counter.kafka_event_get_timer += elapsed_ms

    def _buffer(self, messages: list[Message]) -> int:
        """Turn consumed records into segments at the end of the buffer; returns the number of events."""
        parse = self._parse
        runs: dict[int, tuple[int, list[Event], list[int]]] = {}
        last: dict[int, int] = {}
        for message in messages:
            error = message.error()
            if error is not None:
                self._client_error(message, error)
                continue
            number = message.partition()
            offset = message.offset()
            if number is None or offset is None:  # only an error has neither
                continue
            run = runs.get(number)
            if run is None:
                run = runs[number] = (offset, [], [])
            last[number] = offset
            value = message.value()
            if parse:
                try:
                    headers, body = decode(value if value is not None else b"")
                except AvroDecodeError as exc:
                    self._undecodable(message, exc)
                    continue
            else:
                headers, body = {}, value if value is not None else b""
            key = message.key()
            if key is not None:
                headers["key"] = key_header(key)
            run[1].append(Event(body, headers))
            run[2].append(offset)
        count = 0
        for number, (first, events, offsets) in runs.items():
            partition = (self._topic, number)
            if partition not in self.owned:
                continue  # revoked inside this consume(): their new owner reads them
            self.buffer.append(Segment(partition, first, last[number] + 1, events, offsets))
            count += len(events)
        return count

    def _client_error(self, message: Message, error: KafkaError) -> None:
        if error.fatal():
            raise KafkaChannelError(f"Kafka channel {self.name}: fatal consumer error: {error.str()}",
                                    retriable=False)
        self._once.log(logging.WARNING, f"consume:{error.code()}",
                       f"Kafka channel {self.name} got an error reading from Kafka; the client retries by itself. "
                       f"topic={message.topic()} partition={message.partition()} error={error.str()}")

    def _undecodable(self, message: Message, exc: AvroDecodeError) -> None:
        with self._counter.lock:
            self._counter.event_read_fail += 1
        self._once.log(logging.WARNING, "avro",
                       f"Kafka channel {self.name} skipped a record that is not an AvroFlumeEvent (parseAsFlumeEvent "
                       f"is true). topic={message.topic()} partition={message.partition()} offset={message.offset()} "
                       f"error={exc}")

    def commit(self, held: list[Segment], taken: int) -> None:
        """The transaction holding ``held`` committed: its events are delivered; commit the offsets now due."""
        with self.lock:
            self._unregister(held)
            lost = 0
            for segment in held:
                if segment.partition in self.owned:
                    self.offsets.deliver_upto(segment.partition, segment.end)
                else:
                    lost += len(segment.events)
            with self._counter.lock:
                self._counter.event_take_success_count += taken
            if lost:
                self.commit_failed(None, "of partitions this consumer no longer owns", lost)
            if self.closed:
                return
            offsets = self.offsets.committable_below(held_starts(self._held()))
            if offsets:
                self._commit(offsets, "after delivery")

    def rollback(self, held: list[Segment], taken: int) -> None:
        """The transaction holding ``held`` rolled back: its events are served again first."""
        with self.lock:
            self._unregister(held)
            self.redeliver.extendleft(reversed([s for s in held if s.partition in self.owned]))
            with self._counter.lock:
                self._counter.rollback_count += taken

    def _unregister(self, held: list[Segment]) -> None:
        self.open = [h for h in self.open if h is not held]

    def _held(self) -> Iterable[Segment]:
        """Every segment taken and not delivered: awaiting redelivery, or in an open transaction."""
        yield from self.redeliver
        for segments in self.open:
            yield from segments

    def _commit(self, offsets: dict[Partition, int], when: str) -> bool:
        started = time.monotonic()
        try:
            answer = self.consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
                                          asynchronous=False)
        except KafkaException as exc:
            self.commit_failed(exc, when)
            return False
        finally:
            elapsed_ms = int((time.monotonic() - started) * 1000)
            with self._counter.lock:
                self._counter.kafka_commit_timer += elapsed_ms
        failed = [tp for tp in answer or () if tp.error is not None]
        for tp in failed:
            offsets.pop((tp.topic, tp.partition), None)
        self.offsets.committed(offsets)
        if failed:
            self.commit_failed(failed[0].error, when)
        return not failed

    def commit_failed(self, error: object, when: str, events: int = 0) -> None:
        with self._counter.lock:
            self._counter.commit_fail_count += 1
        reason = _error_name(error)
        lost = f" events={events}" if events else ""
        self._once.log(logging.WARNING, f"commit:{reason}",
                       f"Kafka channel {self.name} could not commit offsets {when}; they are retried with the next "
                       f"commit, and the events may be delivered again if this consumer stops first. "
                       f"thread={self.thread.name} error={error if error is not None else reason}{lost}")

    # -- rebalance callbacks (inside consume() or close(), on the thread holding the lock) --------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.owned.update((tp.topic, tp.partition) for tp in partitions)
        self.stable = True
        log.info("Kafka channel %s consumer was assigned partitions. thread=%s partitions=%s", self.name,
                 self.thread.name, ",".join(sorted(f"{tp.topic}-{tp.partition}" for tp in partitions)) or "none")

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Before the partitions go: drop what is fetched or awaits redelivery of them, commit what was delivered."""
        self.stable = False
        revoked = {(tp.topic, tp.partition) for tp in partitions}
        if not revoked:
            return
        self.owned -= revoked
        low = held_starts(self._held())  # before the dropped redeliveries go: never commit past them
        dropped = self._drop(revoked)
        offsets = {p: o for p, o in self.offsets.committable_below(low).items() if p in revoked}
        if offsets and self._commit(offsets, "before giving up partitions"):
            log.info("Kafka channel %s committed delivered offsets before giving up partitions. thread=%s "
                     "partitions=%d", self.name, self.thread.name, len(offsets))
        self.offsets.forget(revoked)
        if dropped:
            log.info("Kafka channel %s gave up partitions; their fetched, untaken events are left to the new owner. "
                     "thread=%s partitions=%d events=%d", self.name, self.thread.name, len(revoked), dropped)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.stable = False
        lost = {(tp.topic, tp.partition) for tp in partitions}
        self.owned -= lost
        self._drop(lost)
        self.offsets.forget(lost)
        log.warning("Kafka channel %s lost its partitions (evicted from the group); their new owner may deliver "
                    "events again. thread=%s partitions=%d", self.name, self.thread.name, len(lost))

    def _drop(self, partitions: set[Partition]) -> int:
        """Forget the fetched and rolled-back events of ``partitions``; returns how many."""
        dropped = 0
        for queue in (self.buffer, self.redeliver):
            kept = [s for s in queue if s.partition not in partitions]
            dropped += sum(len(s.events) for s in queue if s.partition in partitions)
            queue.clear()
            queue.extend(kept)
        return dropped

    # -- close ----------------------------------------------------------------------------------------

    def close(self, deadline: float) -> bool:
        """Close the consumer by ``deadline`` (its revocation commits what was delivered); False when it could not
        be closed cleanly in time. A take still running then closes it when it returns."""
        if not self.lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            self.close_requested = True
            log.warning("Kafka channel %s could not close a consumer still taking; it is closed when its take "
                        "returns. thread=%s", self.name, self.thread.name)
            return False
        try:
            return self._close(deadline)
        finally:
            self.lock.release()

    def _close(self, deadline: float) -> bool:
        if self.closed:
            return True
        self.closed = True
        # In a thread of its own: close() commits in the revocation callback, which may wait on a broker
        # longer than the stop may.
        closer = threading.Thread(target=self._close_consumer, name=f"{self.thread.name}-close", daemon=True)
        closer.start()
        closer.join(max(0.0, deadline - time.monotonic()))
        if closer.is_alive():
            log.warning("Kafka channel %s could not close a consumer by the stop deadline. thread=%s", self.name,
                        self.thread.name)
            return False
        return True

    def _close_consumer(self) -> None:
        try:
            self.consumer.close()
        except (KafkaException, RuntimeError) as exc:
            log.warning("Kafka channel %s could not close a consumer cleanly. thread=%s error=%s", self.name,
                        self.thread.name, exc)
        self.owned.clear()


def _error_name(error: object) -> str:
    if error is None:
        return "closed"
    if isinstance(error, KafkaException) and error.args:
        error = error.args[0]
    name = getattr(error, "name", None)
    return str(name()) if callable(name) else type(error).__name__
