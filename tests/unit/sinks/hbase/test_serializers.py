"""The HBase event serializers against Flume 1.11's behaviour (SimpleHbaseEventSerializer,
RegexHbaseEventSerializer, SimpleRowKeyGenerator), without HBase."""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from flafka.config.params import ComponentConfig, param
from flafka.errors import ConfigError
from flafka.event import Event
from flafka.sinks.hbase import (
    Actions,
    HBaseEventSerializer,
    Increment,
    Put,
    RegexHBaseEventSerializer,
    RegexSerializerConfig,
    SimpleHBaseEventSerializer,
    SimpleSerializerConfig,
    UnserializableEvent,
)
from flafka.sinks.hbase.regex import split_column_names
from flafka.sinks.hbase.row_keys import SHARED_REGEX_ROW_KEYS, RegexRowKeys, SimpleRowKeys
from flafka.testing import parse_config, props

CF = b"cf"


def simple(values: dict[str, str] | None = None, *, millis: Callable[[], int] | None = None,
           nanos: Callable[[], int] | None = None, rng: random.Random | None = None) -> SimpleHBaseEventSerializer:
    config = parse_config(SimpleHBaseEventSerializer, values or {})
    return SimpleHBaseEventSerializer(config, millis=millis, nanos=nanos, rng=rng)


def regex(values: dict[str, str] | None = None, row_keys: RegexRowKeys | None = None) -> RegexHBaseEventSerializer:
    keys = row_keys if row_keys is not None else RegexRowKeys(millis=lambda: 1700000000123, rng=random.Random(1))
    return RegexHBaseEventSerializer(parse_config(RegexHBaseEventSerializer, values or {}), row_keys=keys)


def errors(config_class: type[ComponentConfig], values: dict[str, str]) -> dict[str | None, str]:
    config, diagnostics = config_class.parse(props(values), "k1")
    assert config is None
    return {d.key: d.message for d in diagnostics if d.is_error}


# --- simple serializer ------------------------------------------------------------------------------------


def test_simple_defaults_put_body_under_uuid_row_and_count_every_event() -> None:
    config = parse_config(SimpleHBaseEventSerializer, {})
    assert (config.payload_column, config.increment_column, config.row_prefix, config.increment_row,
            config.suffix) == ("pCol", "iCol", "default", "incRow", "uuid")
    puts, increments = simple().serialize(Event(b"body", {"h": "v"}), CF)
    assert len(puts) == 1
    put = puts[0]
    assert put.family == CF
    assert put.columns == {b"pCol": b"body"}
    assert put.row.startswith(b"default")
    parsed = uuid.UUID(put.row[len(b"default"):].decode())
    assert parsed.version == 4
    assert str(parsed) == put.row[len(b"default"):].decode()
    assert increments == [Increment(b"incRow", CF, b"iCol", 1)]


def test_simple_uuid_rows_differ_per_event() -> None:
    serializer = simple()
    rows = {serializer.serialize(Event(b"x"), CF).puts[0].row for _ in range(100)}
    assert len(rows) == 100


@pytest.mark.parametrize(
    ("suffix", "expected"),
    [
        ("timestamp", b"p1700000000123"),
        ("nano", b"p987654321"),
    ],
)
def test_simple_clock_suffixes(suffix: str, expected: bytes) -> None:
    serializer = simple({"suffix": suffix, "rowPrefix": "p"}, millis=lambda: 1700000000123, nanos=lambda: 987654321)
    assert serializer.serialize(Event(b"x"), CF).puts[0].row == expected


def test_simple_random_suffix_is_a_signed_64_bit_number() -> None:
    serializer = simple({"suffix": "random", "rowPrefix": "r-"}, rng=random.Random(7))
    numbers = [int(serializer.serialize(Event(b"x"), CF).puts[0].row[2:]) for _ in range(200)]
    assert all(-(2**63) <= n < 2**63 for n in numbers)
    assert any(n < 0 for n in numbers)
    assert any(n > 2**40 for n in numbers)


def test_simple_custom_columns_and_rows_are_utf8() -> None:
    serializer = simple({"payloadColumn": "données", "incrementColumn": "zähler", "incrementRow": "zeile",
                         "rowPrefix": "ü", "suffix": "timestamp"}, millis=lambda: 5)
    assert serializer.serialize(Event(b"\xff\x00"), b"f") == Actions(
        [Put("ü5".encode(), b"f", {"données".encode(): b"\xff\x00"})],
        [Increment(b"zeile", b"f", "zähler".encode(), 1)],
    )


def test_simple_empty_payload_column_means_no_put() -> None:
    assert simple({"payloadColumn": ""}).serialize(Event(b"x"), CF) == Actions(
        [], [Increment(b"incRow", CF, b"iCol", 1)])


def test_simple_empty_increment_column_means_no_increment() -> None:
    actions = simple({"incrementColumn": ""}).serialize(Event(b"x"), CF)
    assert len(actions.puts) == 1
    assert actions.increments == []


def test_simple_both_empty_is_a_warning() -> None:
    config, diagnostics = SimpleSerializerConfig.parse(props({"payloadColumn": "", "incrementColumn": ""}), "k1")
    assert config is not None
    assert [d.message for d in diagnostics if not d.is_error] == [
        "payloadColumn and incrementColumn are both empty: events are taken and nothing is written"]
    assert simple({"payloadColumn": "", "incrementColumn": ""}).serialize(Event(b"x"), CF) == Actions([], [])


@pytest.mark.parametrize("bad", ["Timestamp", "UUID", "millis", ""])
def test_simple_suffix_is_one_of_four_exact_names(bad: str) -> None:
    # Flume reads each of these as uuid without a word; flafka refuses them
    assert "must be one of uuid, random, timestamp, nano" in errors(SimpleSerializerConfig, {"suffix": bad})["suffix"]


def test_simple_empty_increment_row_is_refused_only_while_incrementing() -> None:
    assert "must not be empty" in errors(SimpleSerializerConfig, {"incrementRow": ""})["incrementRow"]
    assert parse_config(SimpleHBaseEventSerializer, {"incrementRow": "", "incrementColumn": ""}) is not None


def test_simple_unknown_key_gets_a_suggestion() -> None:
    config, diagnostics = SimpleSerializerConfig.parse(props({"payloadColum": "x"}), "k1")
    assert config is not None
    assert "did you mean 'payloadColumn'" in diagnostics[0].message


def test_simple_row_keys_reject_an_unknown_suffix() -> None:
    with pytest.raises(ValueError, match="unknown row key suffix"):
        SimpleRowKeys("p", "millis")


# --- regex serializer -------------------------------------------------------------------------------------


def test_regex_defaults_put_whole_body_in_payload_under_generated_row() -> None:
    config = parse_config(RegexHBaseEventSerializer, {})
    assert (config.regex, config.ignore_case, config.col_names, config.row_key_index, config.deposit_headers,
            config.charset) == ("(.*)", False, "payload", -1, False, "UTF-8")
    keys = RegexRowKeys(millis=lambda: 1700000000123, rng=random.Random(1))
    serializer = regex(row_keys=keys)
    first = serializer.serialize(Event(b"line one\nline two", {"h": "v"}), CF)
    second = serializer.serialize(Event(b"x"), CF)
    assert first.increments == []
    assert second.increments == []
    # DOTALL: the body's line break is part of the one group
    assert first.puts[0].columns == {b"payload": b"line one\nline two"}
    random_part = serializer._row_keys.random_part  # read-only: the key's shape
    assert first.puts[0].row == f"1700000000123-{random_part}-0".encode()
    assert second.puts[0].row == f"1700000000123-{random_part}-1".encode()


def test_regex_generated_row_key_shape() -> None:
    keys = RegexRowKeys()
    row = keys()
    assert re.fullmatch(r"\d{13}-[A-Za-z0-9]{10}-0", row), row
    assert keys().endswith("-1")
    assert keys().split("-")[1] == keys.random_part


def test_regex_row_key_nonce_wraps_as_a_java_int() -> None:
    keys = RegexRowKeys(millis=lambda: 1, first_nonce=2**31 - 1)
    assert keys().endswith("-2147483647")
    assert keys().endswith("--2147483648")


def test_regex_serializers_share_the_process_nonce_by_default() -> None:
    config = parse_config(RegexHBaseEventSerializer, {})
    a, b = RegexHBaseEventSerializer(config), RegexHBaseEventSerializer(config)
    row_a = a.serialize(Event(b"x"), CF).puts[0].row.decode()
    row_b = b.serialize(Event(b"x"), CF).puts[0].row.decode()
    assert row_a.split("-")[1] == row_b.split("-")[1] == SHARED_REGEX_ROW_KEYS.random_part
    assert int(row_b.rsplit("-", 1)[1]) == int(row_a.rsplit("-", 1)[1]) + 1


def test_regex_groups_to_columns() -> None:
    serializer = regex({"regex": r"(\w+) (\d+) (.*)", "colNames": "user,age,rest"})
    put = serializer.serialize(Event(b"ann 42 likes\ncheese"), CF).puts[0]
    assert put.columns == {b"user": b"ann", b"age": b"42", b"rest": b"likes\ncheese"}
    assert list(put.columns) == [b"user", b"age", b"rest"]


def test_regex_row_key_group() -> None:
    serializer = regex({"regex": r"(\w+):(.*)", "colNames": "row_key,msg", "rowKeyIndex": "0"})
    assert serializer.serialize(Event(b"k17:hello"), CF) == Actions([Put(b"k17", CF, {b"msg": b"hello"})], [])


def test_regex_body_must_match_whole() -> None:
    serializer = regex({"regex": r"(\d+)", "colNames": "n"})
    assert serializer.serialize(Event(b"123"), CF).puts[0].columns == {b"n": b"123"}
    with pytest.raises(UnserializableEvent, match=r"body does not match serializer.regex '\(\\\\d\+\)'"):
        serializer.serialize(Event(b"123abc"), CF)  # find() would match; Flume uses matches()


def test_regex_ignore_case() -> None:
    values = {"regex": "(ERROR) (.*)", "colNames": "level,msg"}
    with pytest.raises(UnserializableEvent):
        regex(values).serialize(Event(b"error disk"), CF)
    put = regex({**values, "regexIgnoreCase": "true"}).serialize(Event(b"error disk"), CF).puts[0]
    assert put.columns == {b"level": b"error", b"msg": b"disk"}


def test_regex_deposit_headers_after_groups() -> None:
    serializer = regex({"regex": "(.*)", "colNames": "msg", "depositHeaders": "true"})
    put = serializer.serialize(Event(b"hi", {"host": "h1", "msg": "from header"}), CF).puts[0]
    # a header named like a column is the later cell of the same column in Flume's Put: it wins
    assert put.columns == {b"msg": b"from header", b"host": b"h1"}
    assert regex().serialize(Event(b"hi", {"host": "h1"}), CF).puts[0].columns == {b"payload": b"hi"}


def test_regex_charset_decodes_body_and_encodes_names_but_values_stay_utf8() -> None:
    serializer = regex({"regex": "(.*)", "colNames": "é", "charset": "ISO-8859-1", "depositHeaders": "true"})
    put = serializer.serialize(Event("café".encode("latin-1"), {"clé": "vé"}), CF).puts[0]
    assert put.columns == {b"\xe9": "café".encode(), b"cl\xe9": b"v\xe9"}
    assert put.row.isascii()


def test_regex_undecodable_bytes_become_replacement_characters() -> None:
    put = regex().serialize(Event(b"a\xffb"), CF).puts[0]
    assert put.columns == {b"payload": "a\ufffdb".encode()}


def test_regex_group_outside_the_match_is_a_bad_event() -> None:
    serializer = regex({"regex": "(a)|(b)", "colNames": "x,y"})
    message = "group 1 of serializer.regex (column 'x') did not take part in the match"
    with pytest.raises(UnserializableEvent, match=re.escape(message)):
        serializer.serialize(Event(b"b"), CF)


def test_regex_empty_or_too_long_row_key_is_a_bad_event() -> None:
    serializer = regex({"regex": "([^:]*):(.*)", "colNames": "ROW_KEY,msg", "rowKeyIndex": "0"})
    with pytest.raises(UnserializableEvent, match=r"row key .* is empty"):
        serializer.serialize(Event(b":hello"), CF)
    with pytest.raises(UnserializableEvent, match="32768 bytes, more than HBase's 32767"):
        serializer.serialize(Event(b"k" * 32768 + b":x"), CF)
    assert serializer.serialize(Event(b"k" * 32767 + b":x"), CF).puts[0].row == b"k" * 32767


def test_regex_row_key_only_needs_headers() -> None:
    serializer = regex({"regex": "(.*)", "colNames": "ROW_KEY", "rowKeyIndex": "0", "depositHeaders": "true"})
    assert serializer.serialize(Event(b"r", {"a": "1"}), CF).puts == [Put(b"r", CF, {b"a": b"1"})]
    with pytest.raises(UnserializableEvent, match="no column to write"):
        serializer.serialize(Event(b"r"), CF)


def test_regex_batch_sets_bad_events_aside_in_order() -> None:
    serializer = regex({"regex": r"(\d+)", "colNames": "n"})
    good, bad, good2 = Event(b"1"), Event(b"x"), Event(b"2")
    batch = serializer.serialize_batch([good, bad, good2], CF)
    assert [p.columns for p in batch.puts] == [{b"n": b"1"}, {b"n": b"2"}]
    assert batch.increments == []
    assert batch.unwritable == [(bad, "body does not match serializer.regex '(\\\\d+)'")]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("a,b", ["a", "b"]),
        ("a,,b", ["a", "", "b"]),
        ("a,b,,", ["a", "b"]),  # trailing empty names dropped, as String.split does
        (" a , b", [" a ", " b"]),  # nothing trimmed
        ("", [""]),
        (",", []),
    ],
)
def test_column_names_split_as_java(text: str, names: list[str]) -> None:
    assert split_column_names(text) == names


@pytest.mark.parametrize(
    ("values", "key", "message"),
    [
        ({"regex": "(a"}, "regex", "is not a valid Java regular expression: unclosed group at position 2"),
        ({"regex": r"[a&&b](x)"}, "regex", "&&"),
        ({"charset": "no-such-charset"}, "charset", "unknown charset 'no-such-charset'"),
        ({"regex": "(a)(b)", "colNames": "a"}, "colNames", "names 1 column(s) but regex has 2 group(s)"),
        ({"rowKeyIndex": "1"}, "rowKeyIndex", "must be less than the number of columns in colNames (1), got 1"),
        ({"regex": "(a)(b)", "colNames": "a,key", "rowKeyIndex": "1"}, "colNames",
         "column 1 (rowKeyIndex) must be named ROW_KEY, got 'key'"),
        ({"rowKeyIndex": "-2"}, "rowKeyIndex", "must be at least -1, got -2"),
        ({"regex": "(.*)", "colNames": "row_key", "rowKeyIndex": "0"}, "colNames", "names no column to write"),
        ({"regexIgnoreCase": "yes"}, "regexIgnoreCase", "expected true or false"),
    ],
)
def test_regex_config_errors_name_the_property(values: dict[str, str], key: str, message: str) -> None:
    found = errors(RegexSerializerConfig, values)
    assert key in found, found
    assert message in found[key]


def test_regex_every_independent_error_is_reported() -> None:
    found = errors(RegexSerializerConfig, {"regex": "(a", "charset": "nope", "rowKeyIndex": "3"})
    assert set(found) == {"regex", "charset", "rowKeyIndex"}


def test_regex_row_key_column_name_is_case_insensitive() -> None:
    assert parse_config(RegexHBaseEventSerializer, {"colNames": "Row_Key", "rowKeyIndex": "0",
                                                    "depositHeaders": "true"}).row_key_index == 0


def test_regex_errors_are_shown_with_the_sink_prefix() -> None:
    parsed = RegexSerializerConfig.parse_all(props({"regex": "(a"}), "k1", key_prefix="serializer.")
    assert [d.key for d in parsed.diagnostics] == ["serializer.regex"]


def test_configs_raise_config_error_through_testing_helper() -> None:
    with pytest.raises(ConfigError, match="suffix"):
        parse_config(SimpleHBaseEventSerializer, {"suffix": "bogus"})


# --- a user's own serializer ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CountryConfig(ComponentConfig):
    column: str = param("column", default="country", doc="Column of the country header.")


class CountrySerializer(HBaseEventSerializer):
    config_class = CountryConfig

    def __init__(self, config: CountryConfig) -> None:
        super().__init__(config)
        self._column = config.column.encode()

    def serialize(self, event: Event, column_family: bytes) -> Actions:
        country = event.headers.get("country")
        if country is None:
            raise UnserializableEvent("no country header")
        return Actions([Put(event.body, column_family, {self._column: country.encode()})], [])


def test_custom_serializer_declares_its_keys_and_reports_bad_events() -> None:
    serializer = CountrySerializer(parse_config(CountrySerializer, {"column": "c"}))
    bad = Event(b"r2")
    batch = serializer.serialize_batch([Event(b"r1", {"country": "NZ"}), bad], CF)
    assert batch.puts == [Put(b"r1", CF, {b"c": b"NZ"})]
    assert batch.unwritable == [(bad, "no country header")]


def test_base_serializer_takes_any_key_and_must_be_overridden() -> None:
    serializer = HBaseEventSerializer(parse_config(HBaseEventSerializer, {"anything": "goes"}))
    assert serializer.config.properties == {"anything": "goes"}
    with pytest.raises(NotImplementedError):
        serializer.serialize(Event(b"x"), CF)


def test_flume_class_names_and_aliases_resolve_to_the_serializers() -> None:
    from flafka import registry
    from flafka.sinks.hbase.regex import RegexHBaseEventSerializer
    from flafka.sinks.hbase.simple import SimpleHBaseEventSerializer

    for name in ("simple", "org.apache.flume.sink.hbase.SimpleHbaseEventSerializer",
                 "org.apache.flume.sink.hbase2.SimpleHBase2EventSerializer",
                 "org.apache.flume.sink.hbase.SimpleAsyncHbaseEventSerializer"):
        assert registry.resolve("hbase_serializer", name) is SimpleHBaseEventSerializer
    for name in ("regex", "org.apache.flume.sink.hbase.RegexHbaseEventSerializer",
                 "org.apache.flume.sink.hbase2.RegexHBase2EventSerializer"):
        assert registry.resolve("hbase_serializer", name) is RegexHBaseEventSerializer
