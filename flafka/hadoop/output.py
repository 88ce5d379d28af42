"""Where the Hadoop format writers put their bytes: anything with ``write(bytes)``."""

from __future__ import annotations

from typing import Protocol

__all__ = ["Output"]


class Output(Protocol):
    """A binary stream the writer appends to (a file, ``io.BytesIO``, the HDFS sink's buffer).

    The writers call ``write`` only; flushing the stream to disk or HDFS is the owner's business.
    """

    def write(self, data: bytes, /) -> object: ...
