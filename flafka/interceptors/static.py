"""Flume's ``static`` interceptor: sets one fixed header on every event.

Same keys, defaults and behaviour as Flume 1.11 ``StaticInterceptor`` (an existing header is kept
unless ``preserveExisting`` is false).
"""

from __future__ import annotations

from dataclasses import dataclass

from flafka.config.params import ComponentConfig, param
from flafka.event import Event
from flafka.interceptors.base import Interceptor


@dataclass(frozen=True, kw_only=True)
class StaticConfig(ComponentConfig):
    key: str = param("key", default="key", doc="Name of the header to set.")
    value: str = param("value", default="value", doc="Value of the header.")
    preserve_existing: bool = param(
        "preserveExisting", default=True, doc="Keep the header's value when the event already has it."
    )


class StaticInterceptor(Interceptor):
    """Sets header ``key`` to ``value`` on every event."""

    config_class = StaticConfig
    config: StaticConfig

    def __init__(self, name: str, config: StaticConfig) -> None:
        super().__init__(name, config)
        self._key = config.key
        self._value = config.value
        self._keep = config.preserve_existing

    def intercept_batch(self, events: list[Event]) -> list[Event]:
        key, value = self._key, self._value
        if self._keep:
            for event in events:
                event.headers.setdefault(key, value)
        else:
            for event in events:
                event.headers[key] = value
        return events
