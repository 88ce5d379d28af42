"""Flume's UUID interceptor (``org.apache.flume.sink.solr.morphline.UUIDInterceptor$Builder``).

Sets a header to a random (version 4) UUID, optionally prefixed. Same keys and defaults as Flume
1.11. flafka also accepts the alias ``uuid``, which Flume does not have (Flume needs the class name).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from flafka.config.params import ComponentConfig, param
from flafka.event import Event
from flafka.interceptors.base import Interceptor


@dataclass(frozen=True, kw_only=True)
class UUIDConfig(ComponentConfig):
    header_name: str = param("headerName", default="id", doc="Name of the header to set.")
    preserve_existing: bool = param(
        "preserveExisting", default=True, doc="Keep the header's value when the event already has it."
    )
    prefix: str = param("prefix", default="", doc="Text put before every generated UUID.")


class UUIDInterceptor(Interceptor):
    """Sets ``headerName`` to ``prefix`` followed by a new random UUID, one per event."""

    config_class = UUIDConfig
    config: UUIDConfig

    def __init__(self, name: str, config: UUIDConfig) -> None:
        super().__init__(name, config)
        self._header = config.header_name
        self._keep = config.preserve_existing
        self._prefix = config.prefix

    def intercept_batch(self, events: list[Event]) -> list[Event]:
        header, prefix, keep = self._header, self._prefix, self._keep
        uuid4 = uuid.uuid4
        for event in events:
            headers = event.headers
            if not (keep and header in headers):
                headers[header] = prefix + str(uuid4())
        return events
