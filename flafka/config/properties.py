"""Java ``.properties`` files, read with the line number of every key kept.

Parsing is jproperties' (continuation lines, ``\\uXXXX`` and other escapes, ``#``/``!`` comments,
``=``/``:``/blank separators). Files are read as UTF-8, falling back to ISO-8859-1 (what Java's
``Properties.load`` uses) when a file is not valid UTF-8. A UTF-8 byte-order mark at the start (Windows
editors write one) is dropped, so the first key is read as written. Keys and values are trimmed and a later
occurrence of a key wins, across files too (``-f a -f b``: b overrides a), as in Flume 1.10+.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

import jproperties

from flafka.config.diagnostics import Location


class Prop(NamedTuple):
    """A property value and where it was written."""

    value: str
    location: Location


class _LineTrackingProperties(jproperties.Properties):  # type: ignore[misc]  # untyped library
    """jproperties with the starting line of each key recorded (it only tracks the current line)."""

    def __init__(self) -> None:
        super().__init__(process_escapes_in_values=True)
        self.lines: dict[str, int] = {}

    def _parse_logical_line(self) -> bool:
        try:
            self._skip_whitespace()
            self._peek()
        except EOFError:
            return False
        start = int(self._line_number)
        before = dict(self._properties)
        more = bool(super()._parse_logical_line())
        key = self._prev_key
        if key is not None and (key not in before or before[key] is not self._properties.get(key)):
            self.lines[key] = start
        return more

    def _parse_comment(self) -> Any:
        # jproperties treats "#:" comments as metadata key/value lines; Java treats them as comments.
        self._skip_natural_line()


def parse_properties(text: str, file: str) -> dict[str, Prop]:
    """Parse properties ``text``; ``file`` names it in locations."""
    parser = _LineTrackingProperties()
    # A byte-order mark would otherwise become part of the first key ("\ufeffa1.sources").
    parser.load(text.removeprefix("\ufeff"), encoding=None)
    result: dict[str, Prop] = {}
    for key, value in parser.properties.items():
        name = key.strip()
        result[name] = Prop(value.strip(), Location(file, parser.lines.get(key, 0)))
    return result


def read_properties_file(path: str | Path) -> dict[str, Prop]:
    """Read and parse one properties file."""
    # Dropped before decoding so that the ISO-8859-1 fallback does not turn it into "ï»¿" either.
    raw = Path(path).read_bytes().removeprefix(codecs.BOM_UTF8)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("iso-8859-1")
    return parse_properties(text, str(path))


def merge(parts: Iterable[dict[str, Prop]]) -> dict[str, Prop]:
    """Merge parsed files in order; a later file's key overrides an earlier one."""
    merged: dict[str, Prop] = {}
    for part in parts:
        merged.update(part)
    return merged
