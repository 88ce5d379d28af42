"""What an HBase event serializer asks the sink to write: puts and increments, as plain data.

Flume's serializers hand the sink HBase client objects (``Put``, ``Increment``); flafka's hand it these
dataclasses, so serializers (and their tests) need no HBase client and the sink is free to choose one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from flafka.errors import FlafkaError
from flafka.event import Event

__all__ = ["Actions", "BatchActions", "Increment", "Put", "UnserializableEvent"]

#: HBase refuses longer row keys (``HConstants.MAX_ROW_LENGTH``, ``Short.MAX_VALUE``).
MAX_ROW_LENGTH = 32767


@dataclass(slots=True)
class Put:
    """Cells of one row to write: column qualifier to value, all in ``family``.

    A qualifier appears once: where Flume adds two cells of the same column to one ``Put`` (a
    deposited header named like a regex column), the later one is what HBase keeps, so the later one
    is what this holds.
    """

    row: bytes
    family: bytes
    columns: dict[bytes, bytes] = field(default_factory=dict)


@dataclass(slots=True)
class Increment:
    """Add ``amount`` to the counter cell ``family:column`` of ``row``."""

    row: bytes
    family: bytes
    column: bytes
    amount: int = 1


class Actions(NamedTuple):
    """What one event becomes (Flume's ``getActions()`` and ``getIncrements()``)."""

    puts: list[Put]
    increments: list[Increment]


@dataclass(slots=True)
class BatchActions:
    """What a batch of events becomes, and the events that cannot be written, each with the reason."""

    puts: list[Put] = field(default_factory=list)
    increments: list[Increment] = field(default_factory=list)
    unwritable: list[tuple[Event, str]] = field(default_factory=list)


class UnserializableEvent(FlafkaError):
    """An event a serializer can never turn into HBase actions; ``reason`` says why, in words.

    The sink sets such an event aside (dead-letters or drops it, counted) instead of failing the batch:
    retrying cannot help. Raised by :meth:`HBaseEventSerializer.serialize` for one event and collected
    by :meth:`HBaseEventSerializer.serialize_batch`; a serializer raises anything else only when the
    batch as a whole cannot be written.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)
