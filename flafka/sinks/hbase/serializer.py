"""The HBase event serializer contract (Flume's ``HbaseEventSerializer`` / ``HBase2EventSerializer``).

Flume's interface is stateful: ``initialize(event, columnFamily)``, then ``getActions()`` and
``getIncrements()`` for that event. flafka's is one call, :meth:`HBaseEventSerializer.serialize`, that
returns both, so a serializer holds no per-event state and cannot be called in the wrong order.

A user's own serializer is a subclass, named in ``serializer`` by its import path (``pkg.mod:Class``),
that declares its ``serializer.*`` keys as a :class:`~flafka.config.params.ComponentConfig` in
``config_class`` (without one it gets every key as text, in a :class:`~flafka.config.params.RawConfig`)::

    @dataclass(frozen=True, kw_only=True)
    class CountryConfig(ComponentConfig):
        column: str = param("column", default="country", doc="Column of the country header.")

    class CountrySerializer(HBaseEventSerializer):
        config_class = CountryConfig

        def __init__(self, config: CountryConfig) -> None:
            super().__init__(config)
            self._column = config.column.encode()

        def serialize(self, event: Event, column_family: bytes) -> Actions:
            country = event.headers.get("country")
            if country is None:
                raise UnserializableEvent("no country header")
            return Actions([Put(event.body, column_family, {self._column: country.encode()})], [])
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from flafka.config.params import ComponentConfig, RawConfig
from flafka.event import Event
from flafka.sinks.hbase.actions import Actions, BatchActions, UnserializableEvent

__all__ = ["HBaseEventSerializer"]


class HBaseEventSerializer:
    """Base class; override :meth:`serialize` (and :meth:`serialize_batch` to act per batch)."""

    config_class: ClassVar[type[ComponentConfig]] = RawConfig

    def __init__(self, config: Any) -> None:
        self.config = config

    def serialize(self, event: Event, column_family: bytes) -> Actions:
        """The puts and increments for ``event``, in ``column_family``.

        Raises :class:`UnserializableEvent` for an event that can never be written (the sink sets it
        aside); any other exception fails the whole batch, which the sink retries.
        """
        raise NotImplementedError

    def serialize_batch(self, events: Iterable[Event], column_family: bytes) -> BatchActions:
        """Every event's actions, in order, and the events :meth:`serialize` refused, with the reason.

        Override to do something once per batch (Flume's ``BatchAware.onBatchStart``).
        """
        batch = BatchActions()
        for event in events:
            try:
                puts, increments = self.serialize(event, column_family)
            except UnserializableEvent as exc:
                batch.unwritable.append((event, exc.reason))
                continue
            batch.puts.extend(puts)
            batch.increments.extend(increments)
        return batch

    def close(self) -> None:
        """Called once when the sink stops."""
