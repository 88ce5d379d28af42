"""Flume's text event serializers: ``text`` (the body) and ``header_and_text`` (headers, then body).

``text`` writes each body followed by a newline (``appendNewline``, default true), like Flume's
``BodyTextEventSerializer``. ``header_and_text`` writes the headers as Java's ``Map.toString()``
renders them (``{k1=v1, k2=v2}``, ``{}`` when empty), a space, the body and the optional newline,
like ``HeaderAndBodyTextEventSerializer``.

Differences from Flume: headers are rendered in the event's insertion order, whereas Java prints
them in ``HashMap`` iteration order (which no consumer can rely on); header text is encoded as
UTF-8 with unencodable characters written as ``?`` (Java's ``String.getBytes()`` with a UTF-8
default charset does the same). Each batch is written with one ``write`` call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from flafka.config.params import ComponentConfig, param
from flafka.event import Event
from flafka.serializers.base import EventSerializer

__all__ = ["BodyTextSerializer", "HeaderAndBodyTextSerializer", "TextSerializerConfig", "java_map_str"]


@dataclass(frozen=True, kw_only=True)
class TextSerializerConfig(ComponentConfig):
    append_newline: bool = param(
        "appendNewline", default=True, doc="Write a newline character after each event."
    )


def java_map_str(headers: Mapping[str, str]) -> str:
    """``headers`` as Java's ``AbstractMap.toString()`` prints them: ``{k1=v1, k2=v2}``."""
    if not headers:
        return "{}"
    return "{" + ", ".join(f"{k}={v}" for k, v in headers.items()) + "}"


class BodyTextSerializer(EventSerializer):
    """Flume's ``text`` serializer: each event's body, then a newline unless disabled."""

    config_class = TextSerializerConfig
    config: TextSerializerConfig

    def __init__(self, config: TextSerializerConfig, stream: BinaryIO) -> None:
        super().__init__(config, stream)
        self._newline = config.append_newline

    def write_batch(self, events: Sequence[Event]) -> None:
        if not events:
            return
        bodies = [event.body for event in events]
        if self._newline:
            bodies.append(b"")  # join puts the separator after the last body too
            self.stream.write(b"\n".join(bodies))
        else:
            self.stream.write(b"".join(bodies))


class HeaderAndBodyTextSerializer(EventSerializer):
    """Flume's ``header_and_text`` serializer: ``{k=v, ...} <body>`` then a newline unless disabled."""

    config_class = TextSerializerConfig
    config: TextSerializerConfig

    def __init__(self, config: TextSerializerConfig, stream: BinaryIO) -> None:
        super().__init__(config, stream)
        self._end = b"\n" if config.append_newline else b""

    def write_batch(self, events: Sequence[Event]) -> None:
        if not events:
            return
        parts: list[bytes] = []
        append = parts.append
        end = self._end
        for event in events:
            append((java_map_str(event.headers) + " ").encode("utf-8", "replace"))
            append(event.body)
            if end:
                append(end)
        self.stream.write(b"".join(parts))
