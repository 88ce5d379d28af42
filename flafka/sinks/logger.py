"""Flume's logger sink: logs every event at INFO (reference §3.8).

Each event becomes one record on the logger ``flafka.sinks.logger``, shaped as Flume's
``EventHelper.dumpEvent`` prints it::

    Event: { headers:{host=web1, topic=t} body: 68 65 6C 6C 6F                                  hello }

The body part is Commons-IO ``HexDump.dump`` of the first ``maxBytesToLog`` bytes: 16 bytes per
line, each line ``<8-digit hex offset> <16 hex byte slots> <printable text>`` with bytes outside
32..126 shown as ``.``; the offset of the first line is dropped and the last line break removed,
as Flume does. An empty body prints nothing after ``body:``.

Differences from Flume: Flume takes one event per transaction; flafka takes up to 100 (a fixed
class attribute, not a property, as in Flume) so a busy logger sink does not cost one transaction
per event. Flume warns and uses 16 for a non-numeric ``maxBytesToLog``; flafka reports a
configuration error. Headers print in insertion order, not Java ``HashMap`` order. A lone surrogate
in a header (which UTF-8 cannot encode, so a UTF-8 log file would lose the line) prints as its
escape ``\\udcff`` where Java prints ``?``. Sink counters are kept (Flume's logger sink has none).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flafka.config.params import ComponentConfig, param
from flafka.event import Event
from flafka.serializers.text import java_map_str
from flafka.sinks.base import BatchSink

__all__ = ["LoggerSink", "LoggerSinkConfig", "dump_event", "hex_dump"]

log = logging.getLogger(__name__)

# Java compares signed bytes with ' ' <= b < 127, so every byte from 128 up prints as '.' too.
_PRINTABLE = bytes(b if 32 <= b < 127 else 0x2E for b in range(256))
_HEXDUMP_OFFSET = "00000000"


@dataclass(frozen=True, kw_only=True)
class LoggerSinkConfig(ComponentConfig):
    max_bytes_to_log: int = param(
        "maxBytesToLog", default=16, minimum=0, doc="Bytes of each event body shown in the log."
    )


def hex_dump(data: bytes) -> str:
    """Commons-IO ``HexDump.dump(data, 0, out, 0)`` of ``data``, without the final line break."""
    lines = []
    for offset in range(0, len(data), 16):
        chunk = data[offset : offset + 16]
        slots = chunk.hex(" ").upper() + " " + "   " * (16 - len(chunk))
        lines.append(f"{offset:08X} {slots}{chunk.translate(_PRINTABLE).decode('ascii')}")
    return "\n".join(lines)


def dump_event(event: Event, max_bytes: int) -> str:
    """Flume's ``EventHelper.dumpEvent(event, maxBytes)``: ``{ headers:{...} body:<hex dump> }``."""
    body = event.body[:max_bytes]
    dumped = hex_dump(body).removeprefix(_HEXDUMP_OFFSET) if body else ""
    return "{ headers:" + _loggable(java_map_str(event.headers)) + " body:" + dumped + " }"


def _loggable(text: str) -> str:
    """``text``, with any lone surrogate written as its escape (``\\udcff``).

    A log handler writing UTF-8 fails on a lone surrogate and loses the whole line (logging prints a
    traceback instead); the escape shows the header as it is, where Java's ``?`` would hide it.
    """
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


class LoggerSink(BatchSink):
    """Logs each event at INFO; see the module docstring."""

    config_class = LoggerSinkConfig
    config: LoggerSinkConfig

    #: Events per transaction. Not configurable, as in Flume (which takes one event at a time).
    batch_size = 100

    def __init__(self, name: str, config: LoggerSinkConfig) -> None:
        super().__init__(name, config)
        self._max_bytes = config.max_bytes_to_log

    def deliver(self, events: list[Event]) -> None:
        if not log.isEnabledFor(logging.INFO):
            return
        max_bytes = self._max_bytes
        info = log.info
        for event in events:
            info("Event: %s", dump_event(event, max_bytes))
