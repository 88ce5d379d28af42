"""The event serializer contract (Flume's ``EventSerializer``).

A serializer writes events to a binary stream that the sink owns: ``after_create`` once for a new
file (write a file header), ``write_batch`` per batch, ``flush`` before the sink syncs the file,
``before_close`` before the file is closed (write a trailer). The sink constructs it with its
parsed ``config_class`` and the stream.

Events a serializer cannot write (DESIGN.md principle 4): ``write_batch`` writes every event of the
batch it can and *returns* the others, each with the reason in words; the sink sets them aside
(dead-letters or drops them, counted) and commits the batch, so one bad event never stalls the
events behind it. A serializer must decide before the first byte of an event reaches the stream
(or its own buffers) whether it can write it: an event that fails half-way would leave half a
record in the file. Raising from ``write_batch`` still means "this batch failed as a whole" (a full
disk, a bug): the sink cuts the file back to the last batch it synced and retries the batch later.
A serializer written before this contract (returning None, raising on failure) keeps working.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, BinaryIO, ClassVar

from flafka.config.params import ComponentConfig, RawConfig
from flafka.event import Event

__all__ = ["EventSerializer", "Unwritable", "header_text_problem"]

#: An event ``write_batch`` could not write, and why in words (the dead-letter reason).
Unwritable = tuple[Event, str]


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

    def write_batch(self, events: Sequence[Event]) -> list[Unwritable] | None:
        """Write ``events`` in order, leaving out the ones that can never be written.

        Returns the events left out, with the reason for each, in batch order (None or an empty
        list: all were written). No byte of a left-out event may reach the stream. Raise only when
        the batch as a whole cannot be written; see the module docstring.
        """
        raise NotImplementedError

    def flush(self) -> None:
        """Push buffered bytes to the stream (the sink then flushes and syncs the stream)."""

    def before_close(self) -> None:
        """Called once before the file is closed."""


def header_text_problem(headers: Mapping[str, str]) -> str | None:
    """Why ``headers`` cannot be written as UTF-8 text, or None when they can.

    A name or value that is not a string, or that holds a lone surrogate (a half of a UTF-16 pair,
    e.g. from a JSON ``"\\udcff"`` escape: no UTF-8 byte sequence stands for it).
    """
    for key, value in headers.items():
        for part, text in (("name", key), ("value", value)):
            if not isinstance(text, str):
                return f"header {_shown(key)} {part} is a {type(text).__name__}, not a string"
            if text.isascii():
                continue
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                return (f"header {_shown(key)} {part} holds a lone surrogate U+{ord(text[exc.start]):04X} "
                        f"at character {exc.start}, which UTF-8 cannot encode")
    return None


def _shown(key: object) -> str:
    """A header name for a message: ASCII only (a surrogate in it must not make the message unwritable)."""
    return ascii(key[:64] + "..." if isinstance(key, str) and len(key) > 64 else key)
