"""Reading back what :mod:`flafka.hadoop` writes, without Java: for tests and for checking files by hand.

:func:`read_sequence_file` reads a whole SequenceFile held in memory (any compression type, keys and
values of the classes Flume writes) and checks every sync entry against the header's marker, as
``SequenceFile.Reader`` does. :func:`read_compressed_stream` decompresses every member of a
CompressedStream file. Both raise :class:`FormatError` for anything Hadoop's readers would refuse,
including a file cut in the middle of a record or member.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from flafka.hadoop.codecs import CODECS, Codec
from flafka.hadoop.sequence_file import MAGIC, SYNC_SIZE, CompressionType
from flafka.hadoop.writables import (
    BYTES_WRITABLE,
    LONG_WRITABLE,
    TEXT,
    ValueWritable,
    read_long_writable,
    read_vint,
)

__all__ = ["FormatError", "SequenceFile", "read_compressed_stream", "read_sequence_file"]

_INT32 = struct.Struct(">i")
_VALUE_CLASSES = {value.class_name: value for value in (BYTES_WRITABLE, TEXT)}


class FormatError(ValueError):
    """The data is not a well-formed file of the expected format; the message says where."""


@dataclass(frozen=True)
class SequenceFile:
    """A SequenceFile's header and records (keys as ints, values as bytes)."""

    key_class: str
    value_class: str
    compression: CompressionType
    codec: Codec | None
    metadata: dict[str, str]
    sync_marker: bytes
    records: list[tuple[int, bytes]]
    #: Offsets just after each sync entry (where a MapReduce split may start reading).
    sync_offsets: list[int]


def read_compressed_stream(data: bytes, codec: Codec) -> bytes:
    """The uncompressed content of a CompressedStream file: every member, concatenated."""
    try:
        return codec.decompress(data)
    except ValueError as exc:
        raise FormatError(str(exc)) from exc


def read_sequence_file(data: bytes) -> SequenceFile:
    """Every record of the SequenceFile ``data``; FormatError if it is not whole and well-formed."""
    try:
        return _Reader(data).read()
    except FormatError:
        raise
    except ValueError as exc:  # from the Writable and codec readers: a malformed or cut file
        raise FormatError(str(exc)) from exc


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def read(self) -> SequenceFile:
        data = self.data
        if data[:4] != MAGIC:
            raise FormatError(f"not a version 6 SequenceFile: starts with {data[:4]!r}")
        self.offset = 4
        key_class = self._text()
        value_class = self._text()
        compressed, block = self._byte(), self._byte()
        codec = self._codec(self._text()) if compressed else None
        metadata = {}
        for _ in range(self._int()):
            name = self._text()
            metadata[name] = self._text()
        sync = self._take(SYNC_SIZE)
        if key_class != LONG_WRITABLE:
            raise FormatError(f"key class {key_class}: only {LONG_WRITABLE} is read here")
        value = _VALUE_CLASSES.get(value_class)
        if value is None:
            raise FormatError(f"value class {value_class}: only {', '.join(_VALUE_CLASSES)} are read here")
        compression = CompressionType.NONE
        if compressed:
            compression = CompressionType.BLOCK if block else CompressionType.RECORD
        records: list[tuple[int, bytes]] = []
        syncs: list[int] = []
        if compression is CompressionType.BLOCK:
            assert codec is not None
            self._read_blocks(codec, value, sync, records, syncs)
        else:
            self._read_records(codec, value, sync, records, syncs)
        return SequenceFile(key_class, value_class, compression, codec, metadata, sync, records, syncs)

    def _read_records(self, codec: Codec | None, value: ValueWritable, sync: bytes,
                      records: list[tuple[int, bytes]], syncs: list[int]) -> None:
        data = self.data
        while self.offset < len(data):
            start = self.offset
            length = self._int()
            if length == -1:  # the sync escape
                self._sync(sync, start, syncs)
                continue
            key_length = self._int()
            if key_length != 8 or length < key_length:
                raise FormatError(f"record at byte {start}: lengths {length}/{key_length}")
            record = self._take(length)
            key, _ = read_long_writable(record, 0)
            raw = record[8:] if codec is None else codec.decompress(record[8:])
            body, end = value.read(raw, 0)
            if end != len(raw):
                raise FormatError(f"record at byte {start}: {len(raw) - end} bytes after the value")
            records.append((key, body))

    def _read_blocks(self, codec: Codec, value: ValueWritable, sync: bytes,
                     records: list[tuple[int, bytes]], syncs: list[int]) -> None:
        data = self.data
        while self.offset < len(data):
            start = self.offset
            if self._int() != -1:
                raise FormatError(f"block at byte {start}: no sync entry before it")
            self._sync(sync, start, syncs)
            if self.offset == len(data):
                break
            count = self._vint()
            key_lengths, keys, value_lengths, values = (codec.decompress(self._take(self._vint())) for _ in range(4))
            keys_at = values_at = key_lengths_at = value_lengths_at = 0
            for _ in range(count):
                key_length, key_lengths_at = read_vint(key_lengths, key_lengths_at)
                value_length, value_lengths_at = read_vint(value_lengths, value_lengths_at)
                if key_length != 8:
                    raise FormatError(f"block at byte {start}: key length {key_length}")
                key, keys_at = read_long_writable(keys, keys_at)
                body, end = value.read(values, values_at)
                if end - values_at != value_length:
                    raise FormatError(f"block at byte {start}: value length {value_length}, read {end - values_at}")
                values_at = end
                records.append((key, body))
            if (keys_at, values_at, key_lengths_at, value_lengths_at) != (
                len(keys), len(values), len(key_lengths), len(value_lengths)
            ):
                raise FormatError(f"block at byte {start}: buffers longer than its {count} records")

    def _sync(self, sync: bytes, start: int, syncs: list[int]) -> None:
        if self._take(SYNC_SIZE) != sync:
            raise FormatError(f"sync entry at byte {start} does not hold the file's sync marker")
        syncs.append(self.offset)

    @staticmethod
    def _codec(class_name: str) -> Codec:
        for codec in CODECS.values():
            if codec.class_name == class_name:
                return codec
        raise FormatError(f"codec {class_name} is not one flafka reads")

    def _take(self, size: int) -> bytes:
        end = self.offset + size
        if size < 0 or end > len(self.data):
            raise FormatError(f"byte {self.offset}: {size} bytes expected, {len(self.data) - self.offset} left")
        chunk = self.data[self.offset : end]
        self.offset = end
        return chunk

    def _int(self) -> int:
        value: Any = _INT32.unpack(self._take(4))[0]
        return int(value)

    def _byte(self) -> int:
        return self._take(1)[0]

    def _vint(self) -> int:
        value, self.offset = read_vint(self.data, self.offset)
        return value

    def _text(self) -> str:
        length = self._vint()
        return self._take(length).decode("utf-8")
