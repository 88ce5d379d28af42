"""Hadoop SequenceFiles as Flume's ``hdfs.fileType = SequenceFile`` writes them (``SequenceFile.Writer``).

File layout (version 6, the one Hadoop 0.20 through 3.x writes and reads)::

    header   "SEQ" 6, key class (Text), value class (Text), compressed? (1 byte), block-compressed?
             (1 byte), codec class (Text, only when compressed), metadata (4-byte count, then
             Text name/value pairs), the file's 16-byte sync marker
    NONE     records: record length (4 bytes: key + value), key length (4 bytes), key, value
    RECORD   the same, the value compressed alone (one codec member per value)
    BLOCK    blocks: VInt record count, then four buffers, each a VInt length and one codec member:
             key lengths (VInts), keys, value lengths (VInts), values
    sync     4 bytes of -1, then the sync marker: where a reader can start (MapReduce splits a file
             there). NONE/RECORD: before a record once ``sync_interval`` bytes have passed since the
             last one; BLOCK: before every block.

Flume's writer (``HDFSSequenceFile``) writes records whose key is a ``LongWritable`` and whose value is
the body as ``BytesWritable`` (``hdfs.writeFormat = Writable``) or ``Text`` (``Text``), and calls
``SequenceFile.Writer.sync()`` at every batch: NONE/RECORD then write a sync entry, BLOCK writes the
block it holds. :meth:`SequenceFileWriter.finish_batch` does the same, so every batch ends on a record
(and block) boundary followed by a sync entry: a file cut after any finished batch reads back whole.
Flume compresses (BLOCK) exactly when ``hdfs.codeC`` is set; RECORD is here for completeness.

The writer keeps Hadoop's numbers: a sync entry every 100 KiB (``SYNC_INTERVAL`` since Hadoop 2.8;
older writers used 2000 bytes, and readers do not care) and a block ended within a batch once its keys
and values reach 1,000,000 bytes (``io.seqfile.compress.blocksize``).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Mapping
from enum import Enum

from flafka.hadoop.codecs import CODECS, Codec
from flafka.hadoop.output import Output
from flafka.hadoop.writables import BYTES_WRITABLE, LONG_WRITABLE, TEXT, ValueWritable, vint

__all__ = [
    "BLOCK_SIZE",
    "SYNC_INTERVAL",
    "WRITE_FORMATS",
    "CompressionType",
    "SequenceFileWriter",
    "record_key",
]

MAGIC = b"SEQ\x06"
SYNC_SIZE = 16
SYNC_ESCAPE = b"\xff\xff\xff\xff"
#: Bytes between sync entries in NONE/RECORD files (Hadoop 3's ``SequenceFile.SYNC_INTERVAL``).
SYNC_INTERVAL = 5 * 1024 * (4 + SYNC_SIZE)
#: Uncompressed key + value bytes that end a BLOCK block (``io.seqfile.compress.blocksize`` default).
BLOCK_SIZE = 1_000_000

#: Flume's ``hdfs.writeFormat`` values (case as Flume's enum spells them) and the value class each writes.
WRITE_FORMATS: Mapping[str, ValueWritable] = {"Writable": BYTES_WRITABLE, "Text": TEXT}

_INT32 = struct.Struct(">i")
# record length, key length, key: the head of every record (the key is always a LongWritable)
_RECORD_HEAD = struct.Struct(">iiq")
_KEY = struct.Struct(">q")
_KEY_LENGTH = vint(_KEY.size)
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1


class CompressionType(Enum):
    """``SequenceFile.CompressionType``."""

    NONE = "NONE"
    RECORD = "RECORD"
    BLOCK = "BLOCK"


def record_key(headers: Mapping[str, str], now_ms: int) -> int:
    """The key Flume's ``HDFSWritableSerializer``/``HDFSTextSerializer`` give an event.

    The ``timestamp`` header read as Java's ``Long.valueOf`` reads it (an optional sign and ASCII digits,
    within a Java long), or ``now_ms`` when the header is absent. Raises ValueError for a header Java
    would refuse (Flume fails the whole batch there; the sink can set the event aside instead).
    """
    text = headers.get("timestamp")
    if text is None:
        return now_ms
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not (digits.isascii() and digits.isdigit()):
        raise ValueError(f"timestamp header {text[:40]!r} is not a whole number of milliseconds")
    value = int(text)
    if not _LONG_MIN <= value <= _LONG_MAX:
        raise ValueError(f"timestamp header {text[:40]!r} does not fit a Java long")
    return value


class SequenceFileWriter:
    """Writes one SequenceFile to ``out``, batch by batch.

    The header goes out in the constructor. Per batch: :meth:`write_batch` (any number of times), then
    :meth:`finish_batch`, after which everything written reads back and :attr:`synced_length` is the
    file's length. The last batch's :meth:`finish_batch` completes the file: there is no trailer.

    If writing a batch fails half-way, the owner cuts the file back to :attr:`synced_length` and calls
    :meth:`rollback_batch` before writing again (or abandons the file).

    ``sync_marker`` (16 bytes) is random unless given (tests); ``metadata`` goes in the header.
    """

    def __init__(
        self,
        out: Output,
        value_class: ValueWritable,
        compression: CompressionType = CompressionType.NONE,
        codec: Codec | None = None,
        *,
        metadata: Mapping[str, str] | None = None,
        sync_marker: bytes | None = None,
        sync_interval: int = SYNC_INTERVAL,
        block_size: int = BLOCK_SIZE,
    ) -> None:
        if compression is CompressionType.NONE and codec is not None:
            raise ValueError(f"codec {codec.simple_name} given for an uncompressed SequenceFile")
        if compression is not CompressionType.NONE and codec is None:
            codec = CODECS["default"]  # Hadoop's choice when compression comes without a codec
        if sync_marker is None:
            sync_marker = os.urandom(SYNC_SIZE)
        if len(sync_marker) != SYNC_SIZE:
            raise ValueError(f"a sync marker has {SYNC_SIZE} bytes, not {len(sync_marker)}")
        self._out = out
        self._value_class = value_class
        self._compression = compression
        self._codec = codec
        self._sync = sync_marker
        self._sync_entry = SYNC_ESCAPE + sync_marker
        self._sync_interval = sync_interval
        self._block_size = block_size
        # BLOCK: the records of the block being built (keys are a fixed 8 bytes: packed at the end)
        self._keys: list[int] = []
        self._value_lengths = bytearray()
        self._values = bytearray()

        header = self._header(metadata or {})
        out.write(header)
        self._position = len(header)
        # Hadoop's Writer starts with lastSyncPos 0: the header's marker is not a sync entry, so a
        # batch ended right after the header still writes one (as Flume's first sync() does).
        self._last_sync = 0
        self._synced = (self._position, self._last_sync)

    @property
    def sync_marker(self) -> bytes:
        return self._sync

    @property
    def position(self) -> int:
        """Bytes given to ``out`` so far."""
        return self._position

    @property
    def synced_length(self) -> int:
        """The file's length after the last :meth:`finish_batch` (after the header before any)."""
        return self._synced[0]

    def _header(self, metadata: Mapping[str, str]) -> bytes:
        parts = [
            MAGIC,
            _text(LONG_WRITABLE),
            _text(self._value_class.class_name),
            b"\x00" if self._compression is CompressionType.NONE else b"\x01",
            b"\x01" if self._compression is CompressionType.BLOCK else b"\x00",
        ]
        if self._codec is not None:
            parts.append(_text(self._codec.class_name))
        parts.append(_INT32.pack(len(metadata)))
        for name, value in metadata.items():
            parts += (_text(name), _text(value))
        parts.append(self._sync)
        return b"".join(parts)

    def write_batch(self, records: Iterable[tuple[int, bytes]]) -> None:
        """Append ``(key, body)`` records: key a Java long (ms), body the value's bytes.

        NONE/RECORD write the records to ``out`` in one ``write``; BLOCK keeps them for the block,
        writing only the blocks that fill up.
        """
        if self._compression is CompressionType.BLOCK:
            self._buffer_block(records)
        else:
            self._write_records(records)

    def finish_batch(self) -> None:
        """End the batch as Flume's ``writer.sync()`` does: a sync entry (NONE/RECORD) or the block held (BLOCK)."""
        if self._compression is CompressionType.BLOCK:
            parts: list[bytes] = []
            self._end_block(parts)
            self._emit(parts)
        elif self._position != self._last_sync:
            self._out.write(self._sync_entry)
            self._position += len(self._sync_entry)
            self._last_sync = self._position
        self._synced = (self._position, self._last_sync)

    def rollback_batch(self) -> None:
        """Forget what was written since the last :meth:`finish_batch`; the owner has cut ``out`` back."""
        self._position, self._last_sync = self._synced
        self._keys.clear()
        self._value_lengths.clear()
        self._values.clear()

    def _emit(self, parts: list[bytes]) -> None:
        if parts:
            data = b"".join(parts)
            self._out.write(data)
            self._position += len(data)

    def _write_records(self, records: Iterable[tuple[int, bytes]]) -> None:
        parts: list[bytes] = []
        position, last_sync, interval = self._position, self._last_sync, self._sync_interval
        sync_entry, prefix, head = self._sync_entry, self._value_class.prefix, _RECORD_HEAD.pack
        codec = self._codec if self._compression is CompressionType.RECORD else None
        try:
            for key, body in records:
                if position >= last_sync + interval:
                    parts.append(sync_entry)
                    position += len(sync_entry)
                    last_sync = position
                if codec is None:
                    value_prefix = prefix(len(body))
                    record_head = head(8 + len(value_prefix) + len(body), 8, key)
                    parts += (record_head, value_prefix, body)
                    position += len(record_head) + len(value_prefix) + len(body)
                else:
                    value = codec.compress(prefix(len(body)) + body)
                    record_head = head(8 + len(value), 8, key)
                    parts += (record_head, value)
                    position += len(record_head) + len(value)
        except struct.error as exc:  # a key beyond a Java long, a value beyond 2 GiB
            raise OverflowError(f"record does not fit a SequenceFile: {exc}") from exc
        self._out.write(b"".join(parts))
        # Counted as the loop went, kept only once the write is done.
        self._position, self._last_sync = position, last_sync

    def _buffer_block(self, records: Iterable[tuple[int, bytes]]) -> None:
        parts: list[bytes] = []
        prefix, keys = self._value_class.prefix, self._keys
        values, value_lengths = self._values, self._value_lengths
        for key, body in records:
            if not _LONG_MIN <= key <= _LONG_MAX:
                raise OverflowError(f"key {key} does not fit a Java long")
            value_prefix = prefix(len(body))
            value_lengths += vint(len(value_prefix) + len(body))
            values += value_prefix
            values += body
            keys.append(key)
            if _KEY.size * len(keys) + len(values) >= self._block_size:
                self._end_block(parts)
        self._emit(parts)

    def _end_block(self, parts: list[bytes]) -> None:
        """Append the block held to ``parts``: a sync entry, then the block (Hadoop writes one before each)."""
        count = len(self._keys)
        if not count:
            return
        codec = self._codec
        assert codec is not None  # BLOCK always has one (the constructor sees to it)
        parts += (self._sync_entry, vint(count))
        keys = struct.pack(f">{count}q", *self._keys)
        for buffer in (_KEY_LENGTH * count, keys, bytes(self._value_lengths), bytes(self._values)):
            compressed = codec.compress(buffer)
            parts += (vint(len(compressed)), compressed)
        self._keys.clear()
        self._value_lengths.clear()
        self._values.clear()


def _text(value: str) -> bytes:
    """``Text.writeString``: VInt length of the UTF-8 bytes, then the bytes."""
    data = value.encode("utf-8")
    return vint(len(data)) + data
