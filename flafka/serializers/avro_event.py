"""Flume's ``avro_event`` serializer: events as an Avro container file (reference §3.6, §5).

The file holds records of Flume's schema ``Event`` (no namespace) with fields ``headers``
(``map<string>``) and ``body`` (``bytes``), the same shape as ``FlumeEventAvroEventSerializer``
writes with Java's ``DataFileWriter``. The header (magic, schema, codec, sync marker) is written in
``after_create``; every ``flush`` ends the current block, so a file read back at any point after a
flush holds every event written so far, and a file continued over several batches stays one valid
container.

Every event is checked against the schema before it reaches the writer (header names and values
strings UTF-8 can encode, the body bytes): fastavro would otherwise write part of a failing record
into the block it is building and corrupt it. An event that fails the check (a lone surrogate in a
header, e.g. from a JSON ``"\udcff"`` escape) is not written but returned to the sink as
unwritable (see :mod:`flafka.serializers.base`); the rest of the batch is written.

Options: ``syncIntervalBytes`` (uncompressed bytes after which a block is ended even within a batch)
and ``compressionCodec`` (Avro codec names as Java's ``CodecFactory.fromString`` accepts them).
Differences from Flume: the file's metadata holds ``avro.schema`` and ``avro.codec`` as Java writes
them. Java's Avro writes ``?`` for a lone surrogate in a header, silently changing it; flafka sets
such an event aside (dead-letter channel or a counted drop) instead.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

import fastavro
from fastavro.write import Writer

from flafka.config.params import ComponentConfig, param
from flafka.event import Event
from flafka.serializers.base import EventSerializer, Unwritable, header_text_problem

__all__ = ["EVENT_SCHEMA", "AvroEventSerializerConfig", "FlumeEventAvroSerializer"]

#: Flume's ``FlumeEventAvroEventSerializer.SCHEMA``: record ``Event`` without a namespace.
EVENT_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "Event",
    "fields": [
        {"name": "headers", "type": {"type": "map", "values": "string"}},
        {"name": "body", "type": "bytes"},
    ],
}
_PARSED_SCHEMA = fastavro.parse_schema(EVENT_SCHEMA)

_CODECS = ("null", "deflate", "snappy", "bzip2", "xz", "zstandard")


def _codec_problem(codec: str) -> str | None:
    """Why ``codec`` cannot be used here (a compression library missing), or None."""
    try:
        writer = Writer(io.BytesIO(), _PARSED_SCHEMA, codec=codec)
        writer.write({"headers": {}, "body": b"x"})
        writer.flush()
    except Exception as exc:  # fastavro raises plain Exception subclasses for a missing library
        return f"codec {codec} cannot be used: {exc}"
    return None


def _unwritable(events: Sequence[Event]) -> dict[int, str]:
    """Batch index → reason, for the events that do not fit :data:`EVENT_SCHEMA` (in batch order)."""
    if _all_fit(events):
        return {}
    out = {}
    for index, event in enumerate(events):
        problem = header_text_problem(event.headers)
        if problem is None and not isinstance(event.body, bytes | bytearray | memoryview):
            problem = f"the body is a {type(event.body).__name__}, not bytes"
        if problem is not None:
            out[index] = problem
    return out


def _all_fit(events: Sequence[Event]) -> bool:
    """One check for the whole batch, for the usual case: every body bytes, every header text encodable."""
    texts: list[str] = []
    extend = texts.extend
    for event in events:
        if type(event.body) is not bytes:
            return False
        headers = event.headers
        extend(headers)
        extend(headers.values())
    try:
        joined = "".join(texts)
    except TypeError:  # a header name or value that is not a string
        return False
    return joined.isascii() or _encodes(joined)


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True, kw_only=True)
class AvroEventSerializerConfig(ComponentConfig):
    sync_interval_bytes: int = param(
        "syncIntervalBytes",
        default=2048000,
        minimum=32,
        maximum=1 << 30,
        doc="Uncompressed bytes of records after which an Avro block (and sync marker) is written.",
    )
    compression_codec: str = param(
        "compressionCodec",
        default="null",
        choices=_CODECS,
        doc="Avro block compression codec.",
    )

    def check(self) -> list[tuple[str | None, str]]:
        if self.compression_codec == "null":
            return []
        problem = _codec_problem(self.compression_codec)
        return [("compressionCodec", problem)] if problem else []


class FlumeEventAvroSerializer(EventSerializer):
    """Writes events as records of Flume's ``Event`` schema into an Avro container file."""

    config_class = AvroEventSerializerConfig
    config: AvroEventSerializerConfig

    def __init__(self, config: AvroEventSerializerConfig, stream: BinaryIO) -> None:
        super().__init__(config, stream)
        self._writer: Any = None

    def after_create(self) -> None:
        # fastavro writes the container header on construction, so the writer is made here, when
        # the sink has just opened an empty file.
        self._writer = Writer(
            self.stream,
            _PARSED_SCHEMA,
            codec=self.config.compression_codec,
            sync_interval=self.config.sync_interval_bytes,
        )

    def write_batch(self, events: Sequence[Event]) -> list[Unwritable]:
        if self._writer is None:
            raise RuntimeError("avro_event serializer: after_create() must be called before writing")
        unwritable = _unwritable(events)
        write = self._writer.write
        if not unwritable:
            for event in events:
                write({"headers": event.headers, "body": event.body})
            return []
        for index, event in enumerate(events):
            if index not in unwritable:
                write({"headers": event.headers, "body": event.body})
        return [(events[index], reason) for index, reason in unwritable.items()]

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()
