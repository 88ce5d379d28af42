"""Flume's text event serializers: ``text`` (the body) and ``header_and_text`` (headers, then body).

``text`` writes each body followed by a newline (``appendNewline``, default true), like Flume's
``BodyTextEventSerializer``. ``header_and_text`` writes the headers as Java's ``Map.toString()``
renders them (``{k1=v1, k2=v2}``, ``{}`` when empty), a space, the body and the optional newline,
like ``HeaderAndBodyTextEventSerializer``.

Bodies are bytes and always written as they are. Header text is encoded as UTF-8; an event whose
headers UTF-8 cannot encode (a lone surrogate, e.g. from a JSON ``"\udcff"`` escape) is not written
but returned to the sink as unwritable (see :mod:`flafka.serializers.base`), and the rest of the batch
is written.

Differences from Flume: headers are rendered in the event's insertion order, whereas Java prints
them in ``HashMap`` iteration order (which no consumer can rely on). Java writes ``?`` for a lone
surrogate (``String.getBytes`` with UTF-8), silently changing the header; flafka sets such an event
aside (dead-letter channel or a counted drop) so what is in the file is exactly what the event
held. Each batch is written with one ``write`` call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from flafka.config.params import ComponentConfig, param
from flafka.event import Event
from flafka.serializers.base import EventSerializer, Unwritable, header_text_problem

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

    def write_batch(self, events: Sequence[Event]) -> list[Unwritable]:
        if not events:
            return []
        parts: list[bytes] = []
        append = parts.append
        end = self._end
        unwritable: list[Unwritable] = []
        for event in events:
            try:  # every event is encoded before the batch's one write: a bad one leaves no byte behind
                head = (java_map_str(event.headers) + " ").encode("utf-8")
            except UnicodeEncodeError:
                unwritable.append((event, header_text_problem(event.headers) or "headers are not UTF-8 text"))
                continue
            append(head)
            append(event.body)
            if end:
                append(end)
        if parts:
            self.stream.write(b"".join(parts))
        return unwritable
