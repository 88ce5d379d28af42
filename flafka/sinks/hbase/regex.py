"""Flume's regex HBase serializer: the groups of a regex over the body become the columns of one row.

One class stands for Flume's ``org.apache.flume.sink.hbase.RegexHbaseEventSerializer`` and
``org.apache.flume.sink.hbase2.RegexHBase2EventSerializer`` (the same code, Flume 1.11
``RegexHbaseEventSerializer.java`` lines 96-210). Per event:

* the body, decoded with ``charset`` (malformed bytes become U+FFFD, as in Java's ``new String``), must
  match ``regex`` as a whole (Java's ``matches()``); the regex runs with DOTALL (``.`` matches line
  breaks) and, with ``regexIgnoreCase``, ASCII case-insensitively;
* group *i* is written to column *i* of ``colNames`` (comma-separated, split as Java's
  ``String.split(",")``: trailing empty names are dropped, others are kept as they are) — except the
  group at ``rowKeyIndex``, which is the row key; without one (``-1``) the row key is generated
  (``<millis>-<random>-<nonce>``, see :mod:`flafka.sinks.hbase.row_keys`);
* with ``depositHeaders``, every header too, its name as the column (written after the groups: a header
  named like a column replaces that column's value);
* no increments.

Encodings follow Flume exactly, odd as they are: the values of the groups and a row key taken from a
group are UTF-8, column names, headers and a generated row key are in ``charset``.

Where flafka differs (Flume would write nothing, or fail the batch for ever, and say nothing):

* An event whose body does not match is **a bad event**: :class:`UnserializableEvent` (the sink sets
  it aside, counted) instead of being taken from the channel and silently dropped.
* So is an event where a group that feeds a column did not take part in the match (``(a)|(b)``: Flume
  throws a NullPointerException and fails the batch again on every retry), whose row key group is
  empty or longer than HBase's 32767 bytes, or that leaves no column to write (HBase refuses an empty
  put) — the same retry loop in Flume.
* A configuration that can never write anything is refused when it is read: ``colNames`` naming a
  different number of columns than the regex has groups (Flume drops every event), ``rowKeyIndex`` at
  no column or at a column not named ``ROW_KEY`` (Flume refuses these too, at start), a ``rowKeyIndex``
  below -1 (Flume reads any negative number as "generate"), an unknown ``charset`` and a regex Java
  would refuse, with Java's reason.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable
from dataclasses import dataclass

from flafka.config.params import ComponentConfig, param
from flafka.event import Event
from flafka.java_regex import compile_java_regex
from flafka.sinks.hbase.actions import MAX_ROW_LENGTH, Actions, Put, UnserializableEvent
from flafka.sinks.hbase.row_keys import SHARED_REGEX_ROW_KEYS, RegexRowKeys
from flafka.sinks.hbase.serializer import HBaseEventSerializer

__all__ = ["ROW_KEY", "RegexHBaseEventSerializer", "RegexSerializerConfig", "split_column_names"]

#: The name the column at ``rowKeyIndex`` must have (compared case-insensitively, as Flume does).
ROW_KEY = "ROW_KEY"


def split_column_names(text: str) -> list[str]:
    """``colNames`` as Java's ``text.split(",")`` reads it: trailing empty names dropped, nothing trimmed."""
    if "," not in text:
        return [text]  # Java returns the text itself when there is no separator, even when it is empty
    names = text.split(",")
    while names and not names[-1]:
        names.pop()
    return names


@dataclass(frozen=True, kw_only=True)
class RegexSerializerConfig(ComponentConfig):
    """The ``serializer.*`` keys of the regex serializers."""

    regex: str = param("regex", default="(.*)",
                       doc="Java regular expression the whole body must match (`.` matches line breaks too); "
                           "one group per column. An event that does not match is a bad event.")
    ignore_case: bool = param("regexIgnoreCase", default=False, doc="Match ASCII letters case-insensitively.")
    col_names: str = param("colNames", default="payload",
                           doc="Comma-separated columns, one per group in order; the one at `rowKeyIndex` "
                               "must be `ROW_KEY`.")
    row_key_index: int = param("rowKeyIndex", default=-1, minimum=-1,
                               doc="Index in `colNames` of the group that is the row key; -1: a generated key "
                                   "`<millis>-<random>-<counter>`.")
    deposit_headers: bool = param("depositHeaders", default=False,
                                  doc="Also write every header, its name as the column.")
    charset: str = param("charset", default="UTF-8",
                         doc="Character set of the body, of column names, headers and generated row keys (group "
                             "values are written as UTF-8, as Flume does).")

    @property
    def columns(self) -> list[str]:
        """The column names, split as Flume splits them."""
        return split_column_names(self.col_names)

    def pattern(self) -> re.Pattern[str]:
        """The regex as Flume compiles it: DOTALL, and CASE_INSENSITIVE with ``regexIgnoreCase``."""
        compile_java_regex(self.regex)  # the user's own pattern first: its errors point into what they wrote
        return compile_java_regex(("(?si)" if self.ignore_case else "(?s)") + self.regex)

    def check(self) -> Iterable[tuple[str | None, str]]:
        problems: list[tuple[str | None, str]] = []
        try:
            codecs.lookup(self.charset)
        except LookupError:
            problems.append(("charset", f"unknown charset {self.charset!r}"))
        columns = self.columns
        index = self.row_key_index
        if index >= len(columns):
            problems.append(("rowKeyIndex", f"must be less than the number of columns in colNames ({len(columns)}),"
                                            f" got {index}"))
        elif index >= 0 and columns[index].upper() != ROW_KEY:
            problems.append(("colNames", f"column {index} (rowKeyIndex) must be named {ROW_KEY}, "
                                         f"got {columns[index]!r}"))
        elif len(columns) == (1 if index >= 0 else 0) and not self.deposit_headers:
            problems.append(("colNames", "names no column to write (and depositHeaders is false)"))
        try:
            groups = self.pattern().groups
        except ValueError as exc:
            problems.append(("regex", str(exc)))
        else:
            if groups != len(columns):
                problems.append(("colNames", f"names {len(columns)} column(s) but regex has {groups} group(s): "
                                             "they must be as many (Flume writes nothing for any event)"))
        return problems


class RegexHBaseEventSerializer(HBaseEventSerializer):
    """Writes the groups of ``regex`` as the columns of one row (see the module docstring)."""

    config_class = RegexSerializerConfig
    config: RegexSerializerConfig

    def __init__(self, config: RegexSerializerConfig, *, row_keys: RegexRowKeys | None = None) -> None:
        """``row_keys`` replaces the process-wide generator of row keys (tests)."""
        super().__init__(config)
        self._fullmatch = config.pattern().fullmatch
        self._codec = codecs.lookup(config.charset).name
        self._columns = [name.encode(self._codec, "replace") for name in config.columns]
        self._names = config.columns
        self._row_key_index = config.row_key_index
        self._row_keys = row_keys if row_keys is not None else SHARED_REGEX_ROW_KEYS
        self._deposit_headers = config.deposit_headers

    def serialize(self, event: Event, column_family: bytes) -> Actions:
        text = event.body.decode(self._codec, "replace")
        match = self._fullmatch(text)
        if match is None:
            raise UnserializableEvent(f"body does not match serializer.regex {self.config.regex!r}")
        groups = match.groups()
        for i, value in enumerate(groups):
            if value is None:
                raise UnserializableEvent(f"group {i + 1} of serializer.regex (column {self._names[i]!r}) did not "
                                          "take part in the match")
        index = self._row_key_index
        if index < 0:
            row = self._row_keys().encode(self._codec, "replace")
        else:
            row = groups[index].encode("utf-8", "replace")
            if not row:
                raise UnserializableEvent(f"row key (group {index + 1} of serializer.regex) is empty")
            if len(row) > MAX_ROW_LENGTH:
                raise UnserializableEvent(f"row key (group {index + 1} of serializer.regex) is {len(row)} bytes, "
                                          f"more than HBase's {MAX_ROW_LENGTH}")
        columns = {name: value.encode("utf-8", "replace")
                   for i, (name, value) in enumerate(zip(self._columns, groups, strict=True)) if i != index}
        if self._deposit_headers:
            for key, value in event.headers.items():
                columns[key.encode(self._codec, "replace")] = value.encode(self._codec, "replace")
        if not columns:
            raise UnserializableEvent("no column to write: the only group is the row key and the event has no "
                                      "headers")
        return Actions([Put(row, column_family, columns)], [])
