"""What an HDFS file holds (``hdfs.fileType``), as bytes per batch.

Each open file has one :class:`FileFormat`. The sink gives it a batch of events; it encodes them into
its buffer (leaving out the events it cannot write, with the reason) and :meth:`FileFormat.end_batch`
returns the bytes to append and sync: they end on a record boundary (and, compressed, on a codec block
or member boundary), so a file cut after any synced batch reads back whole with Hadoop's readers.

* ``DataStream``: the serializer's output as it is (``text``, ``header_and_text``, ``avro_event``, a
  custom :class:`~flafka.serializers.base.EventSerializer`).
* ``CompressedStream``: the same, through a codec stream (one codec member or block run per batch).
* ``SequenceFile``: Hadoop's SequenceFile; the key is a LongWritable of the ``timestamp`` header (else
  the time of the batch), the value the body as a BytesWritable (``writeFormat = Writable``) or as Text.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import BinaryIO

from flafka.event import Event
from flafka.hadoop import CompressedStream, CompressionType, SequenceFileWriter, record_key
from flafka.hadoop.codecs import Codec
from flafka.hadoop.writables import ValueWritable
from flafka.serializers.base import EventSerializer, Unwritable

__all__ = ["DataStreamFormat", "FileFormat", "SequenceFileFormat", "SerializerFactory"]

#: Builds the configured serializer on a stream (the sink binds its class and configuration).
SerializerFactory = Callable[[BinaryIO], EventSerializer]


class FileFormat:
    """One open file's encoder; see the module docstring."""

    def write(self, events: Sequence[Event], now_ms: int) -> list[Unwritable]:
        """Encode ``events`` (in order) into the buffer; the events left out, with the reason."""
        raise NotImplementedError

    def end_batch(self) -> bytes:
        """The bytes of everything written since the last call (the file header first), ready to sync."""
        raise NotImplementedError

    def end_file(self) -> bytes:
        """The last bytes of the file (a trailer), written before it is closed."""
        raise NotImplementedError


class _Buffer(io.BytesIO):
    def take(self) -> bytes:
        data = self.getvalue()
        self.seek(0)
        self.truncate()
        return data


class DataStreamFormat(FileFormat):
    """A serializer's bytes, through a codec stream when ``codec`` is set (``CompressedStream``)."""

    def __init__(self, make_serializer: SerializerFactory, codec: Codec | None = None) -> None:
        self._buffer = _Buffer()
        self._compressed = CompressedStream(self._buffer, codec) if codec is not None else None
        stream: BinaryIO = self._compressed if self._compressed is not None else self._buffer
        self._serializer = make_serializer(stream)
        self._serializer.after_create()

    def write(self, events: Sequence[Event], now_ms: int) -> list[Unwritable]:
        unwritable = self._serializer.write_batch(events)
        # A serializer written before write_batch returned its unwritable events returns None (or whatever its
        # last call returned): for it every event was written.
        return list(unwritable) if isinstance(unwritable, list | tuple) else []

    def end_batch(self) -> bytes:
        self._serializer.flush()
        if self._compressed is not None:
            self._compressed.finish_batch()
        return self._buffer.take()

    def end_file(self) -> bytes:
        self._serializer.before_close()
        return self.end_batch()


class SequenceFileFormat(FileFormat):
    """Hadoop's SequenceFile, BLOCK-compressed with ``codec`` (NONE without one), as Flume writes them."""

    def __init__(self, value_type: ValueWritable, codec: Codec | None) -> None:
        self._buffer = _Buffer()
        self._writer = SequenceFileWriter(self._buffer, value_type,
                                          CompressionType.BLOCK if codec is not None else CompressionType.NONE,
                                          codec)

    def write(self, events: Sequence[Event], now_ms: int) -> list[Unwritable]:
        records: list[tuple[int, bytes]] = []
        bad: list[Unwritable] = []
        for event in events:
            try:
                records.append((record_key(event.headers, now_ms), event.body))
            except ValueError as exc:
                bad.append((event, f"its timestamp header cannot be the record key: {exc}"))
        if records:
            self._writer.write_batch(records)
        return bad

    def end_batch(self) -> bytes:
        self._writer.finish_batch()
        return self._buffer.take()

    def end_file(self) -> bytes:
        return self.end_batch()
