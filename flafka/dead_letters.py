"""Bad events: events that can never be delivered (DESIGN.md principle 4, "fail loud at the edge").

An event an interceptor fails on, that a channel can never hold (larger than its byte capacity), or
that a sink cannot write (a serializer cannot encode it, Kafka refuses it as a record) is a *bad
event*. It must never block the events behind it, and never be lost without a count. A component
hands its bad events to its :class:`DeadLetters`, which

* sends them to the component's dead-letter channel when one is configured (``deadLetterChannel``,
  a flafka extension): each is a copy of the event with header ``flafka.error`` saying why and
  ``flafka.error.component`` naming who set it aside, put in transactions of the channel's size;
* otherwise drops them;
* counts them either way (``EventDeadLetterCount`` / ``EventDropCount`` on the component's counter)
  and logs once per kind of failure, with the count, instead of once per event.

A dead-letter channel that refuses the events (full within its keep-alive, or stopped) does not
make them retried: they are dropped, counted and logged at ERROR. Retrying would either stall the
component on them or, for a source, deliver its good events again.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Sequence
from typing import Protocol

from flafka.channels.base import Channel
from flafka.event import Event
from flafka.logging_once import OncePerKind

__all__ = ["COMPONENT_HEADER", "ERROR_HEADER", "BadEvent", "BadEventPolicy", "DeadLetters"]

ERROR_HEADER = "flafka.error"
COMPONENT_HEADER = "flafka.error.component"

#: A bad event: the event, a short kind of failure ("interceptor", "too-large", "serializer", ...) used to
#: log once per kind, and the reason in words (the dead-letter header's value).
BadEvent = tuple[Event, str, str]


class BadEventPolicy(enum.Enum):
    """What a source does with its bad events (``onBadEvent``)."""

    DEAD_LETTER = "deadLetter"  # to the dead-letter channel (the default when one is configured)
    DROP = "drop"  # dropped, counted, logged once per kind (the default without one)
    STOP = "stop"  # the batch fails and is retried, holding the source (Flume's behaviour)


class BadEventCounter(Protocol):
    lock: threading.Lock
    event_dead_letter_count: int
    event_drop_count: int


class DeadLetters:
    """Where one component's bad events go; see the module docstring.

    ``owner`` names the component in logs and headers (``source r1``, ``sink k1``). The agent sets
    ``channel`` before the component starts; without one, bad events are dropped.
    """

    def __init__(self, owner: str, counter: BadEventCounter, logger: logging.Logger,
                 channel: Channel | None = None) -> None:
        self.owner = owner
        self.counter = counter
        self.channel = channel
        self._once = OncePerKind(logger)

    def set_aside(self, bad: Sequence[BadEvent]) -> None:
        """Dead-letter or drop ``bad``; never raises for a refused dead letter (see the module docstring)."""
        if not bad:
            return
        channel = self.channel
        why = " (set deadLetterChannel to keep such events)"
        if channel is not None:
            put, refusal = self._put(channel, bad)
            if put:
                with self.counter.lock:
                    self.counter.event_dead_letter_count += put
                for kind, (count, reason) in _by_kind(bad[:put]).items():
                    self._once.log(logging.WARNING, f"dead-letter:{kind}",
                                   f"The {self.owner} sent events it cannot deliver to dead-letter channel "
                                   f"{channel.name}. kind={kind} events={count} reason={reason}")
            bad = bad[put:]
            if not bad:
                return
            why = f"; dead-letter channel {channel.name} refused them: {refusal}"
        with self.counter.lock:
            self.counter.event_drop_count += len(bad)
        for kind, (count, reason) in _by_kind(bad).items():
            self._once.log(logging.ERROR, f"drop:{kind}",
                           f"The {self.owner} dropped events it cannot deliver{why}. kind={kind} events={count} "
                           f"dropped_total={self.counter.event_drop_count} reason={reason}")

    def _put(self, channel: Channel, bad: Sequence[BadEvent]) -> tuple[int, str]:
        """Put copies of ``bad`` with their error headers: how many went in, and why the rest did not."""
        letters = []
        for event, _, reason in bad:
            letter = event.copy()
            letter.headers[ERROR_HEADER] = reason
            letter.headers[COMPONENT_HEADER] = self.owner
            letters.append(letter)
        step = channel.transaction_capacity() or len(letters)
        done = 0
        try:
            for start in range(0, len(letters), step):
                chunk = letters[start:start + step]
                with channel.transaction() as tx:
                    tx.put_batch(chunk)
                done += len(chunk)
        except Exception as exc:
            return done, f"{type(exc).__name__}: {exc}"
        return done, ""


def _by_kind(bad: Sequence[BadEvent]) -> dict[str, tuple[int, str]]:
    """kind → (events of that kind, the first one's reason)."""
    out: dict[str, tuple[int, str]] = {}
    for _, kind, reason in bad:
        count, first = out.get(kind, (0, reason))
        out[kind] = (count + 1, first)
    return out
