"""The interceptor contract.

An interceptor is a small class configured by its constructor. Implement either
:meth:`Interceptor.intercept_batch` (preferred: one call per batch) or :meth:`Interceptor.intercept`
(one event; return None to drop it). Returning fewer events from ``intercept_batch`` drops the
others. A custom interceptor is any importable subclass, named in the config by its import path
(``mypkg.enrich:GeoInterceptor``); declare ``config_class`` to get typed, checked parameters.
"""

from __future__ import annotations

from flafka.component import Component
from flafka.event import Event


class Interceptor(Component):
    """Base class; override ``intercept_batch`` or ``intercept``."""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        base = Interceptor
        if cls.intercept is base.intercept and cls.intercept_batch is base.intercept_batch:
            raise TypeError(f"{cls.__name__} must override intercept_batch() or intercept()")

    def initialize(self) -> None:
        """Called once before the first batch (Flume's ``initialize``)."""

    def close(self) -> None:
        """Called once when the source stops."""

    def intercept(self, event: Event) -> Event | None:
        kept = self.intercept_batch([event])
        return kept[0] if kept else None

    def intercept_batch(self, events: list[Event]) -> list[Event]:
        intercept = self.intercept
        out = []
        for event in events:
            result = intercept(event)
            if result is not None:
                out.append(result)
        return out
