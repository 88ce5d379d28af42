"""The event serializer contract (Flume's ``EventSerializer``).

A serializer writes events to a binary stream that the sink owns: ``after_create`` once for a new
file (write a file header), ``write_batch`` per batch, ``flush`` before the sink syncs the file,
``before_close`` before the file is closed (write a trailer). The sink constructs it with its
parsed ``config_class`` and the stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, BinaryIO, ClassVar

from flafka.config.params import ComponentConfig, RawConfig
from flafka.event import Event


class EventSerializer:
    """Base class; override ``write_batch``."""

    config_class: ClassVar[type[ComponentConfig]] = RawConfig
    #: File extension a sink may use when the user sets none (Flume's ``getFileExtension``-like hint).
    extension: ClassVar[str] = ""

    def __init__(self, config: Any, stream: BinaryIO) -> None:
        self.config = config
        self.stream = stream

    def after_create(self) -> None:
        """Called once after a new file was opened."""

    def write_batch(self, events: Sequence[Event]) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Push buffered bytes to the stream (the sink then flushes and syncs the stream)."""

    def before_close(self) -> None:
        """Called once before the file is closed."""
