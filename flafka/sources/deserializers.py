"""Spooling-directory deserializers: how one file becomes events (Flume's ``LINE`` and ``AVRO``).

The spooldir source opens a file through a deserializer at a :data:`Position`, reads batches of
events from the returned :class:`FileEventReader` and, once the channels accepted a batch, stores
``reader.position`` in its tracker. After a restart the file is reopened at that position, so a
position must say exactly where the next undelivered event starts:

* ``LINE``: (byte offset where the next line starts, pieces of that line already delivered). A
  line longer than ``deserializer.maxLineLength`` characters becomes several events, as in Flume
  (Flume logs "truncating line" but delivers the rest of the line as the following event(s)).
* ``AVRO``: (records already delivered, 0). Reopening skips whole blocks, then records.

Differences from Flume:

* ``LINE`` splits the file on byte 0x0A before decoding, so ``inputCharset`` must be ASCII
  compatible (UTF-8, ISO-8859-1, windows-125x, Shift_JIS, GBK, ...); UTF-16/UTF-32 are refused
  when the configuration is checked.
* ``LINE`` counts ``maxLineLength`` in Unicode code points (Java counts UTF-16 units), and a line
  of exactly ``maxLineLength`` characters gives one event, not Flume's one plus an empty event.
* ``AVRO`` with ``schemaType = LITERAL`` puts the schema JSON exactly as stored in the file's
  header into ``flume.avro.schema.literal`` (Java re-serialises it; the two differ in spacing).
  ``HASH`` is identical: hex of the 8 bytes of the CRC-64-AVRO fingerprint of the schema's
  Parsing Canonical Form, low byte first (Avro's ``SchemaNormalization.parsingFingerprint``).
"""

from __future__ import annotations

import codecs
import io
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, ClassVar

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from flafka.config.params import ComponentConfig, RawConfig, param
from flafka.errors import FlafkaError
from flafka.event import Event
from flafka.logging_once import OncePerKind

log = logging.getLogger(__name__)
_once = OncePerKind(log)

#: Where the next undelivered event of a file starts; the meaning is the deserializer's own.
Position = tuple[int, int]

#: ``decodeErrorPolicy`` values to Python codec error handlers.
DECODE_ERRORS = {"FAIL": "strict", "REPLACE": "replace", "IGNORE": "ignore"}

AVRO_SCHEMA_HEADER_HASH = "flume.avro.schema.hash"
AVRO_SCHEMA_HEADER_LITERAL = "flume.avro.schema.literal"

_READ_BUFFER = 1 << 16
_END = object()


class DeserializerError(FlafkaError):
    """A file cannot be read further (undecodable bytes, corrupt Avro); ``where`` says where."""

    def __init__(self, message: str, where: str) -> None:
        super().__init__(f"{message} at {where}")
        self.where = where


class FileEventReader(ABC):
    """Events of one open file, read in batches from a position."""

    @property
    @abstractmethod
    def position(self) -> Position:
        """Where the event after the last one returned by :meth:`read` starts."""

    @abstractmethod
    def read(self, max_events: int) -> list[Event]:
        """Up to ``max_events`` events; an empty list at the end of the file.

        Raises :class:`DeserializerError` when the next event cannot be decoded; events read before
        the bad spot in the same call are returned first and the error is raised on the next call.
        """

    @abstractmethod
    def close(self) -> None:
        """Release the file."""


class EventDeserializer(ABC):
    """Configured once per source; :meth:`open` gives a reader per file.

    Named by the source's ``deserializer`` key and built from its ``config_class`` (the
    ``deserializer.*`` keys), the source's ``inputCharset`` and ``decodeErrorPolicy``; the constructor
    raises ValueError for a charset or policy it cannot work with.
    """

    config_class: ClassVar[type[ComponentConfig]] = RawConfig

    def __init__(self, config: Any, input_charset: str, decode_error_policy: str) -> None:
        self.config = config
        self.input_charset = input_charset
        self.decode_error_policy = decode_error_policy

    @abstractmethod
    def open(self, path: str, position: Position, headers: Mapping[str, str]) -> FileEventReader:
        """A reader of ``path`` starting at ``position``; every event carries ``headers``.

        Raises :class:`DeserializerError` when the file cannot be used at all (e.g. not Avro).
        """


def _codec_name(charset: str) -> str:
    try:
        return codecs.lookup(charset).name
    except LookupError:
        raise ValueError(f"unknown charset {charset!r}") from None


# --- LINE -------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LineDeserializerConfig(ComponentConfig):
    max_line_length: int = param(
        "maxLineLength",
        default=2048,
        minimum=1,
        doc="Most characters per event; the rest of a longer line follows as further events.",
    )
    output_charset: str = param("outputCharset", default="UTF-8", doc="Charset of the event bodies.")

    def check(self) -> list[tuple[str | None, str]]:
        try:
            _codec_name(self.output_charset)
        except ValueError as exc:
            return [("outputCharset", str(exc))]
        return []


class LineDeserializer(EventDeserializer):
    """One event per line (split on `\\n`, which is dropped; a `\\r` before it is kept)."""

    config_class = LineDeserializerConfig
    config: LineDeserializerConfig

    def __init__(self, config: LineDeserializerConfig, input_charset: str, decode_error_policy: str) -> None:
        super().__init__(config, input_charset, decode_error_policy)
        self.codec = _codec_name(input_charset)
        if "\n".encode(self.codec) != b"\n" or "a".encode(self.codec) != b"a":
            raise ValueError(
                f"inputCharset {input_charset} is not supported by the LINE deserializer (lines are split "
                "on byte 0x0A); convert the files to an ASCII-compatible charset such as UTF-8"
            )
        self.output_codec = _codec_name(config.output_charset)
        self.errors = DECODE_ERRORS[decode_error_policy]

    def open(self, path: str, position: Position, headers: Mapping[str, str]) -> FileEventReader:
        return _LineReader(self, path, position, dict(headers))


class _LineReader(FileEventReader):
    def __init__(self, owner: LineDeserializer, path: str, position: Position, headers: dict[str, str]) -> None:
        self._path = path
        self._headers = headers
        self._max = owner.config.max_line_length
        self._codec = owner.codec
        self._out = owner.output_codec
        self._errors = owner.errors
        # Same charset in and out and strict decoding: the raw bytes are the body, no re-encoding.
        self._passthrough = owner.codec == owner.output_codec and owner.errors == "strict"
        self._offset, part = position
        self._pieces: list[bytes] = []  # the not yet delivered pieces of an over-long line
        self._pieces_done = 0
        self._line_end = 0
        self._error: DeserializerError | None = None
        self._file: IO[bytes] = open(path, "rb", buffering=_READ_BUFFER)  # noqa: SIM115  # closed in close()
        self._file.seek(self._offset)
        if part:
            raw = self._file.readline()
            try:
                pieces = self._split(raw.removesuffix(b"\n").decode(self._codec, self._errors))
            except UnicodeDecodeError as exc:
                self._error = self._decode_error(self._offset, exc)
                return
            self._line_end = self._offset + len(raw)
            self._pieces = pieces[part:]
            self._pieces_done = part
            if not self._pieces:
                self._offset, self._pieces_done = self._line_end, 0

    @property
    def position(self) -> Position:
        return (self._offset, self._pieces_done)

    def _split(self, text: str) -> list[bytes]:
        step, out = self._max, self._out
        return [text[i : i + step].encode(out) for i in range(0, len(text), step)]

    def _decode_error(self, start: int, exc: UnicodeDecodeError) -> DeserializerError:
        return DeserializerError(f"cannot decode {self._codec} ({exc.reason})", f"byte {start + exc.start}")

    def read(self, max_events: int) -> list[Event]:
        if self._error is not None:
            raise self._error
        events: list[Event] = []
        append = events.append
        headers = self._headers
        readline = self._file.readline
        limit, codec, errors, out, passthrough = self._max, self._codec, self._errors, self._out, self._passthrough
        while len(events) < max_events:
            if self._pieces:
                take = min(max_events - len(events), len(self._pieces))
                for body in self._pieces[:take]:
                    append(Event(body, dict(headers)) if headers else Event(body))
                del self._pieces[:take]
                self._pieces_done += take
                if not self._pieces:
                    self._offset, self._pieces_done = self._line_end, 0
                continue
            raw = readline()
            if not raw:
                break
            start = self._offset
            end = start + len(raw)
            if raw[-1] == 0x0A:
                raw = raw[:-1]
            try:
                text = raw.decode(codec, errors)
            except UnicodeDecodeError as exc:
                error = self._decode_error(start, exc)
                if not events:
                    self._error = error
                    raise error from None
                self._error = error
                return events
            # In an ASCII-compatible charset a character is at least one byte: short lines need no count.
            if len(raw) <= limit or len(text) <= limit:
                body = raw if passthrough else text.encode(out)
                append(Event(body, dict(headers)) if headers else Event(body))
                self._offset = end
                continue
            _once.log(
                logging.WARNING,
                f"long-line:{self._path}",
                f"Line longer than maxLineLength={limit} characters in {self._path} at byte {start}; "
                "it is delivered as several events.",
            )
            self._pieces = self._split(text)
            self._pieces_done = 0
            self._line_end = end
        return events

    def close(self) -> None:
        self._file.close()


# --- AVRO -------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AvroDeserializerConfig(ComponentConfig):
    schema_type: str = param(
        "schemaType",
        default="HASH",
        choices=("HASH", "LITERAL"),
        doc="Header carrying the writer schema: flume.avro.schema.hash (CRC-64-AVRO fingerprint in "
        "hex) or flume.avro.schema.literal (the schema JSON).",
    )


class AvroDeserializer(EventDeserializer):
    """One event per record of an Avro container file; the body is the record's binary datum."""

    config_class = AvroDeserializerConfig
    config: AvroDeserializerConfig

    def __init__(self, config: AvroDeserializerConfig, input_charset: str, decode_error_policy: str) -> None:
        super().__init__(config, input_charset, decode_error_policy)
        self._warned = False

    def open(self, path: str, position: Position, headers: Mapping[str, str]) -> FileEventReader:
        if self.config.schema_type == "LITERAL" and not self._warned:
            self._warned = True
            log.warning(
                "Avro deserializer: schemaType is LITERAL, so every event carries the full schema in a "
                "header; consider HASH."
            )
        return _AvroReader(path, position[0], dict(headers), self.config.schema_type == "HASH")


def schema_hash(schema: Any) -> str:
    """Flume's ``flume.avro.schema.hash`` of ``schema`` (a schema as JSON-decoded Python data)."""
    return str(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))


class _AvroReader(FileEventReader):
    def __init__(self, path: str, skip: int, headers: dict[str, str], use_hash: bool) -> None:
        self._path = path
        self._count = skip
        self._error: DeserializerError | None = None
        self._file: IO[bytes] = open(path, "rb", buffering=_READ_BUFFER)  # noqa: SIM115  # closed in close()
        try:
            blocks = fastavro.block_reader(self._file)
            schema_text = blocks.metadata["avro.schema"]
            if isinstance(schema_text, bytes):
                schema_text = schema_text.decode()
            schema = json.loads(schema_text)
            self._schema = fastavro.parse_schema(schema)
            if use_hash:
                headers[AVRO_SCHEMA_HEADER_HASH] = schema_hash(schema)
            else:
                headers[AVRO_SCHEMA_HEADER_LITERAL] = schema_text
        except Exception as exc:  # fastavro raises many kinds on a foreign or damaged file
            self._file.close()
            raise DeserializerError(f"not a readable Avro container file ({exc})", "byte 0") from exc
        self._headers = headers
        self._records = self._iterate(blocks, skip)
        self._buffer = io.BytesIO()

    @staticmethod
    def _iterate(blocks: Any, skip: int) -> Iterator[Any]:
        for block in blocks:
            if skip >= block.num_records:
                skip -= block.num_records
                continue
            for record in block:
                if skip:
                    skip -= 1
                    continue
                yield record

    @property
    def position(self) -> Position:
        return (self._count, 0)

    def read(self, max_events: int) -> list[Event]:
        if self._error is not None:
            raise self._error
        events: list[Event] = []
        buffer, schema, headers, records = self._buffer, self._schema, self._headers, self._records
        try:
            while len(events) < max_events:
                record = next(records, _END)
                if record is _END:
                    break
                buffer.seek(0)
                buffer.truncate()
                fastavro.schemaless_writer(buffer, schema, record)
                events.append(Event(buffer.getvalue(), dict(headers)))
                self._count += 1
        except Exception as exc:  # damaged block, bad codec data, ...
            self._error = DeserializerError(f"damaged Avro data ({type(exc).__name__}: {exc})",
                                            f"record {self._count}")
            if not events:
                raise self._error from exc
        return events

    def close(self) -> None:
        self._file.close()
