"""How long one ``KafkaConsumer.poll`` may wait: a short slice while records flow, else the whole wait.

kafka-python 3.0 can miss a fetch response that lands between draining its record buffer and
sending the next fetch: with nothing left in flight it then sleeps ``retry.backoff.ms`` (100 ms by
default) inside ``poll`` while the records sit in its buffer. Measured here at 1,000 events/s, that
stall hit about 1% of the events and set the p99 latency (≈ 100 ms). Polling in slices of a few
milliseconds bounds the stall by the slice. Lowering ``retry.backoff.ms`` instead would also speed up
every retry against a broker that is down.

Slices are unsafe while the consumer has group work to finish: a coordinator lookup or a group
(re)join started inside a ``poll`` of a few milliseconds is abandoned when it times out and starts
over on the next one, so it never finishes. A consumer gets slices only while it is settled in a
stable group and records arrived within the last ``FLOWING_S``; otherwise ``poll`` gets the whole
wait. The second condition keeps anything the settled check does not know about from being starved
for longer than ``FLOWING_S``.
"""

from __future__ import annotations

import math
import time
from typing import Any

from kafka import KafkaConsumer
from kafka.structs import MemberState

POLL_SLICE_MS = 5
FLOWING_S = 1.0


class PollPacer:
    """Chooses poll timeouts for one consumer; tell it what each poll returned."""

    def __init__(self, consumer: KafkaConsumer, clock: Any = time.monotonic) -> None:
        self.consumer = consumer
        self._clock = clock
        self._flowing_until = 0.0

    def timeout_ms(self, remaining_s: float) -> int:
        """The timeout for the next ``poll`` when ``remaining_s`` seconds of waiting are left (≥ 1 ms)."""
        wait_ms = max(1, math.ceil(remaining_s * 1000))
        if wait_ms > POLL_SLICE_MS and self._clock() < self._flowing_until and _settled(self.consumer):
            return POLL_SLICE_MS
        return wait_ms

    def polled(self, got_records: bool) -> None:
        if got_records:
            self._flowing_until = self._clock() + FLOWING_S


def _settled(consumer: KafkaConsumer) -> bool:
    """In a stable group, owning partitions, with no coordinator lookup or rejoin pending."""
    if consumer.group_metadata().state != MemberState.STABLE or not consumer.assignment():
        return False
    coordinator = getattr(consumer, "_coordinator", None)  # not public API: without it, never settled
    try:
        return not coordinator.coordinator_unknown() and not coordinator.need_rejoin()  # type: ignore[union-attr]
    except AttributeError:
        return False
