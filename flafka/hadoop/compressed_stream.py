"""What Flume's ``hdfs.fileType = CompressedStream`` writes: a serializer's bytes through a codec stream.

Flume's ``HDFSCompressedDataStream`` hands the event serializer (``text``, ``avro_event``, …) a Hadoop
``CompressionOutputStream`` and, at every batch sync, calls its ``finish()`` before hflush/hsync: the
data written so far becomes complete codec members, readable from the file as it stands. The next
write starts a new member (``resetState()``). A file is thus a sequence of members, one per batch or
more (a block codec also ends a block each time its buffer fills), which Hadoop's readers take
(checked against Hadoop 3.4 for every codec, see :mod:`flafka.hadoop.codecs`).

:class:`CompressedStream` is that stream: the serializer writes to it like a file; the sink calls
:meth:`CompressedStream.finish_batch` where Flume calls ``sync()``. A Hadoop stream's ``flush()``
does not end a member (Flume's comment: flush is a no-op on compressed streams), and neither does
this one's, so a serializer flushing mid-batch costs nothing. One difference from Flume: a batch that
wrote nothing writes nothing (Flume's ``finish()`` there writes an empty member, which for a block
codec is a zero-length block, and Hadoop's block reader stops reading the file at one).
"""

from __future__ import annotations

import io
from typing import BinaryIO

from flafka.hadoop.codecs import Codec
from flafka.hadoop.output import Output

__all__ = ["CompressedStream"]


class CompressedStream(io.BufferedIOBase, BinaryIO):
    """A write-only binary stream compressing into ``out`` with ``codec``, ending a member per batch.

    Compressed bytes reach ``out`` as the codec produces them; a member is complete only after
    :meth:`finish_batch`, after which :attr:`synced_length` is the file's length. If writing a batch
    fails half-way, the owner cuts the file back to :attr:`synced_length` and calls
    :meth:`rollback_batch` before writing again (or abandons the file). Closing this stream does not
    close ``out``.
    """

    def __init__(self, out: Output, codec: Codec, *, start: int = 0) -> None:
        super().__init__()
        self._out = out
        self._codec = codec
        self._compressor = codec.compressor()
        self._position = start
        self._synced = start
        self._pending = False  # bytes written since the last finish_batch

    @property
    def codec(self) -> Codec:
        return self._codec

    @property
    def position(self) -> int:
        """Bytes given to ``out`` so far (counted from ``start``)."""
        return self._position

    @property
    def synced_length(self) -> int:
        """The file's length after the last :meth:`finish_batch` (``start`` before any)."""
        return self._synced

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview, /) -> int:  # type: ignore[override]
        # BinaryIO and BufferedIOBase spell write's parameter type differently; any bytes-like object goes.
        if self.closed:
            raise ValueError("write to a closed CompressedStream")
        length = len(data) if isinstance(data, bytes | bytearray) else memoryview(data).nbytes
        if length:
            self._pending = True
            self._put(self._compressor.compress(bytes(data)))
        return length

    def flush(self) -> None:
        """Ends no member (as Hadoop's compressed streams): see :meth:`finish_batch`."""

    def finish_batch(self) -> None:
        """Complete the current member and write it out (nothing when nothing was written since the last)."""
        if self._pending:
            self._put(self._compressor.finish())
            self._pending = False
        self._synced = self._position

    def rollback_batch(self) -> None:
        """Forget what was written since the last :meth:`finish_batch`; the owner has cut ``out`` back."""
        self._compressor = self._codec.compressor()
        self._pending = False
        self._position = self._synced

    def _put(self, data: bytes) -> None:
        if data:
            self._out.write(data)
            self._position += len(data)
