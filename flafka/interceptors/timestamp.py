"""Flume's ``timestamp`` interceptor: puts the current time, in epoch milliseconds, in a header.

Same keys and defaults as Flume 1.11 ``TimestampInterceptor``. Difference: the clock is read once
per batch, so all events of a batch share one timestamp (Flume reads it per event, but processes a
batch within microseconds, so the values would be equal or one millisecond apart anyway).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from flafka.config.params import ComponentConfig, param
from flafka.event import Event
from flafka.interceptors.base import Interceptor


@dataclass(frozen=True, kw_only=True)
class TimestampConfig(ComponentConfig):
    header_name: str = param("headerName", default="timestamp", doc="Name of the header to set.")
    preserve_existing: bool = param(
        "preserveExisting", default=False, doc="Keep the header's value when the event already has it."
    )


class TimestampInterceptor(Interceptor):
    """Sets ``headerName`` to the time of interception in epoch ms (a decimal string).

    All events of a batch share one timestamp: the clock is read once per batch.
    """

    config_class = TimestampConfig
    config: TimestampConfig

    def __init__(self, name: str, config: TimestampConfig) -> None:
        super().__init__(name, config)
        self._header = config.header_name
        self._keep = config.preserve_existing

    def intercept_batch(self, events: list[Event]) -> list[Event]:
        header = self._header
        now = str(time.time_ns() // 1_000_000)
        if self._keep:
            for event in events:
                event.headers.setdefault(header, now)
        else:
            for event in events:
                event.headers[header] = now
        return events
