from __future__ import annotations

import calendar
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from flafka.config.params import ComponentConfig, RawConfig, param
from flafka.errors import ConfigError
from flafka.event import Event
from flafka.interceptors.regex_extractor import (
    ExtractorSerializer,
    ExtractorSerializerConfig,
    MillisSerializer,
    PassThroughSerializer,
    RegexExtractorInterceptor,
    joda_to_strptime,
)
from flafka.registry import resolve
from flafka.testing import build, intercept, parse_config, props


def build_serializer(cls: type[ExtractorSerializer], values: dict[str, str]) -> ExtractorSerializer:
    return cls(parse_config(cls, values))

MILLIS = "org.apache.flume.interceptor.RegexExtractorInterceptorMillisSerializer"


class UpperSerializer(ExtractorSerializer):
    """A custom serializer without declared parameters, named by its Python path in the tests below."""

    def serialize(self, value: str) -> str:
        return self.props.get("prefix", "") + value.upper()


@dataclass(frozen=True, kw_only=True)
class RepeatConfig(ExtractorSerializerConfig):
    times: int = param("times", default=2, minimum=1, doc="How often.")


class RepeatSerializer(ExtractorSerializer):
    """A custom serializer that declares its parameters."""

    config_class = RepeatConfig
    config: RepeatConfig

    def serialize(self, value: str) -> str:
        return value * self.config.times


class WrongConfigSerializer(ExtractorSerializer):
    config_class = RawConfig  # type: ignore[assignment]  # the mistake under test


@pytest.fixture
def local_tz(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    def set_tz(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield set_tz
    monkeypatch.undo()
    time.tzset()


def _utc_ms(*fields: int) -> int:
    return calendar.timegm((*fields, 0, 0, 0)) * 1000


def test_two_groups_two_serializers_names_and_millis(local_tz: Callable[[str], None]) -> None:
    local_tz("IST-5:30")  # POSIX TZ: UTC+05:30, no DST, no zoneinfo needed
    chain = [
        build(
            RegexExtractorInterceptor,
            {
                "regex": r"^(\d{4}-\d\d-\d\d \d\d:\d\d) (\w+)",
                "serializers": "ts level",
                "serializers.ts.type": MILLIS,
                "serializers.ts.name": "timestamp",
                "serializers.ts.pattern": "yyyy-MM-dd HH:mm",
                "serializers.level.name": "level",
            },
        )
    ]
    out = intercept(
        chain,
        [
            Event(b"2024-01-02 03:04 INFO started", {"h": "1"}),
            Event(b"no timestamp here"),
            Event(b"2024-07-15 23:59 WARN x", {"level": "old"}),
        ],
    )
    assert [e.headers for e in out] == [
        {"h": "1", "timestamp": str(_utc_ms(2024, 1, 1, 21, 34, 0)), "level": "INFO"},
        {},
        {"level": "WARN", "timestamp": str(_utc_ms(2024, 7, 15, 18, 29, 0))},
    ]
    assert [e.body for e in out] == [
        b"2024-01-02 03:04 INFO started",
        b"no timestamp here",
        b"2024-07-15 23:59 WARN x",
    ]


def test_local_zone_changes_the_result(local_tz: Callable[[str], None]) -> None:
    props = {
        "regex": "(.+)",
        "serializers": "s",
        "serializers.s.name": "t",
        "serializers.s.type": "millis",
        "serializers.s.pattern": "yyyy-MM-dd HH:mm:ss",
    }
    local_tz("UTC0")
    utc = intercept([build(RegexExtractorInterceptor, props)], [Event(b"2024-03-01 12:00:00")])
    local_tz("EST5")
    est = intercept([build(RegexExtractorInterceptor, props)], [Event(b"2024-03-01 12:00:00")])
    assert int(est[0].headers["t"]) - int(utc[0].headers["t"]) == 5 * 3600 * 1000


@pytest.mark.parametrize(
    "type_props",
    [
        {},
        {"serializers.s1.type": "DEFAULT"},
        {"serializers.s1.type": "default"},
        {"serializers.s1.type": MILLIS.replace("Millis", "PassThrough")},
    ],
)
def test_pass_through_spellings(type_props: dict[str, str]) -> None:
    chain = [
        build(
            RegexExtractorInterceptor,
            {"regex": r"(\d+)", "serializers": "s1", "serializers.s1.name": "n", **type_props},
        )
    ]
    assert intercept(chain, [Event(b"a 42 b 7")])[0].headers == {"n": "42"}


def test_extra_groups_ignored_and_extra_serializers_unused() -> None:
    props = {"serializers.a.name": "A", "serializers.b.name": "B"}
    more_groups = build(RegexExtractorInterceptor, {"regex": "(x)(y)(z)", "serializers": "a", **props})
    more_sers = build(RegexExtractorInterceptor, {"regex": "(x)y", "serializers": "a b", **props})
    assert intercept([more_groups], [Event(b"xyz")])[0].headers == {"A": "x"}
    assert intercept([more_sers], [Event(b"xyz")])[0].headers == {"A": "x"}


def test_group_not_taking_part_sets_no_header() -> None:
    chain = [
        build(
            RegexExtractorInterceptor,
            {
                "regex": "(a)?(b)",
                "serializers": "s1 s2",
                "serializers.s1.name": "A",
                "serializers.s2.name": "B",
            },
        )
    ]
    assert intercept(chain, [Event(b"b")])[0].headers == {"B": "b"}


def test_custom_serializer_by_python_path_gets_its_properties() -> None:
    chain = [
        build(
            RegexExtractorInterceptor,
            {
                "regex": "user=(\\w+)",
                "serializers": "u",
                "serializers.u.name": "user",
                "serializers.u.type": f"{__name__}:UpperSerializer",
                "serializers.u.prefix": "U-",
            },
        )
    ]
    assert intercept(chain, [Event(b"login user=bob ok")])[0].headers == {"user": "U-BOB"}


def test_custom_serializer_with_declared_parameters_gets_its_typed_config() -> None:
    values = {"regex": "(a+)", "serializers": "r", "serializers.r.name": "h",
              "serializers.r.type": f"{__name__}:RepeatSerializer", "serializers.r.times": "3"}
    assert intercept([build(RegexExtractorInterceptor, values)], [Event(b"xaay")])[0].headers == {"h": "aaaaaa"}
    with pytest.raises(ConfigError, match=re.escape("serializers.r.times: must be at least 1, got 0")):
        parse_config(RegexExtractorInterceptor, {**values, "serializers.r.times": "0"})


def test_a_serializer_config_without_the_header_name_is_refused() -> None:
    with pytest.raises(ConfigError, match=re.escape(
        f"serializers.w.type: {__name__}.WrongConfigSerializer.config_class must be a subclass of "
        "flafka.interceptors.regex_extractor.ExtractorSerializerConfig (it holds the header name)"
    )):
        parse_config(RegexExtractorInterceptor, {"regex": "(a)", "serializers": "w", "serializers.w.name": "h",
                                                 "serializers.w.type": f"{__name__}:WrongConfigSerializer"})


def test_stray_serializer_keys_are_warnings_with_their_full_keys() -> None:
    config_class: type[ComponentConfig] = RegexExtractorInterceptor.config_class
    config, diagnostics = config_class.parse(props({
        "regex": "(a)", "serializers": "s1",
        "serializers.s1.name": "h", "serializers.s1.nmae": "x", "serializers.s1.pattern": "HH",
        "serializers.s2.name": "g", "serializers.s1": "?",
    }), "sources.r1.interceptors.i1")
    assert config is not None
    assert [str(d) for d in diagnostics] == [
        "<test>: sources.r1.interceptors.i1 serializers.s1.nmae: warning: unknown property, ignored "
        "(did you mean 'serializers.s1.name'?)",
        "<test>: sources.r1.interceptors.i1 serializers.s1.pattern: warning: unknown property, ignored",
        "<test>: sources.r1.interceptors.i1 serializers.s2.name: warning: regex_extractor serializer 's2' is not "
        "listed in serializers; ignored (did you mean 's1'?)",
        "<test>: sources.r1.interceptors.i1 serializers.s1: warning: unknown property, ignored (the keys of "
        "regex_extractor serializer 's1' are under serializers.s1.)",
    ]


def test_unparsable_value_leaves_header_unset_counts_and_logs_once(
    caplog: pytest.LogCaptureFixture, local_tz: Callable[[str], None]
) -> None:
    local_tz("UTC0")
    interceptor = build(
        RegexExtractorInterceptor,
        {
            "regex": r"^(\S+) (\S+)",
            "serializers": "t w",
            "serializers.w.name": "word",
            "serializers.t.name": "ts",
            "serializers.t.type": MILLIS,
            "serializers.t.pattern": "yyyy-MM-dd",
        },
    )
    with caplog.at_level(logging.WARNING, logger="flafka.interceptors.regex_extractor"):
        out = intercept([interceptor], [Event(b"2024-13-01 a"), Event(b"1970-01-02 b"), Event(b"garbage c")])
    assert [e.headers for e in out] == [{"word": "a"}, {"ts": "86400000", "word": "b"}, {"word": "c"}]
    assert interceptor.serialize_failures == 2
    assert len(caplog.records) == 1
    assert "could not convert a value for header ts" in caplog.records[0].getMessage()


@pytest.mark.parametrize(
    ("joda", "strptime"),
    [
        ("yyyy-MM-dd HH:mm", "%Y-%m-%d %H:%M"),
        ("yy/M/d h:mm a", "%y/%m/%d %I:%M %p"),
        ("dd MMM yyyy HH:mm:ss.SSS Z", "%d %b %Y %H:%M:%S.%f %z"),
        ("EEEE dd MMMM yyyy", "%A %d %B %Y"),
        ("yyyy-MM-dd'T'HH:mm:ssZZ", "%Y-%m-%dT%H:%M:%S%z"),
        ("'at' HH 'o''clock' 100%", "at %H o'clock 100%%"),
        ("D", "%j"),
    ],
)
def test_joda_pattern_translation(joda: str, strptime: str) -> None:
    assert joda_to_strptime(joda) == strptime


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-02T03:04:05.678+0100", _utc_ms(2024, 1, 2, 2, 4, 5) + 678),
        ("2024-01-02T03:04:05.6-02:00", _utc_ms(2024, 1, 2, 5, 4, 5) + 600),
    ],
)
def test_millis_with_offset_ignores_local_zone(
    value: str, expected: int, local_tz: Callable[[str], None]
) -> None:
    local_tz("EST5")
    serializer = build_serializer(MillisSerializer, {"name": "t", "pattern": "yyyy-MM-dd'T'HH:mm:ss.SSSZ"})
    assert serializer.serialize(value) == str(expected)
    assert serializer.serialize(value) == str(expected)  # second call: cached result


def test_millis_without_year_is_in_1970(local_tz: Callable[[str], None]) -> None:
    local_tz("UTC0")
    serializer = build_serializer(MillisSerializer, {"name": "t", "pattern": "HH:mm"})
    assert serializer.serialize("01:30") == str(90 * 60 * 1000)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"serializers": "s", "serializers.s.name": "x"}, "regex: is required"),
        ({"regex": "(a)", "serializers.s.name": "x"}, "serializers: is required"),
        (
            {"regex": "(a)", "serializers": "s1 s2", "serializers.s1.name": "x"},
            "serializers.s2.name: is required",
        ),
        (
            {"regex": "(a", "serializers": "s", "serializers.s.name": "x"},
            "regex: is not a valid Java regular expression",
        ),
        (
            {"regex": "(a)", "serializers": "s", "serializers.s.name": "x", "serializers.s.type": "milis"},
            "serializers.s.type: unknown regex_extractor serializer type 'milis': "
            "it is not a built-in alias, a Flume class flafka implements, or an installed plugin, "
            "nor a Python import path (pkg.module:Class). Did you mean 'millis'?",
        ),
        (
            {
                "regex": "(a)",
                "serializers": "s",
                "serializers.s.name": "x",
                "serializers.s.type": "builtins:dict",
            },
            "serializers.s.type: regex_extractor serializer type 'builtins:dict' names builtins.dict, which is not "
            "a subclass of flafka.interceptors.regex_extractor.ExtractorSerializer.",
        ),
        (
            {"regex": "(a)", "serializers": "s", "serializers.s.name": " ", "serializers.s.type": "millis",
             "serializers.s.pattern": "yyyy"},
            "serializers.s.name: must not be empty: it is the header that receives the group",
        ),
        (
            {"regex": "(a)", "serializers": "s", "serializers.s.name": "x", "serializers.s.type": "millis",
             "serializers.s.pattern": " "},
            "serializers.s.pattern: must not be empty: a Joda-time pattern such as yyyy-MM-dd HH:mm:ss",
        ),
        (
            {"regex": "(a)", "serializers": "s", "serializers.s.name": "x", "serializers.s.type": MILLIS},
            "serializers.s.pattern: is required (Joda-time pattern of the group's text",
        ),
        (
            {
                "regex": "(a)",
                "serializers": "s",
                "serializers.s.name": "x",
                "serializers.s.type": "millis",
                "serializers.s.pattern": "yyyy-ww",
            },
            "serializers.s.pattern: pattern letter 'ww' of 'yyyy-ww' is not supported",
        ),
        (
            {
                "regex": "(a)",
                "serializers": "s",
                "serializers.s.name": "x",
                "serializers.s.type": "millis",
                "serializers.s.pattern": "yyyy 'open",
            },
            "serializers.s.pattern: unterminated quote in pattern",
        ),
    ],
)
def test_invalid_config(props: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(RegexExtractorInterceptor, props)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(
            RegexExtractorInterceptor,
            {"regex": "(a", "serializers": "s1 s2", "serializers.s2.type": "nope.nothing:X"},
        )
    text = str(info.value)
    assert "regex: is not a valid Java regular expression" in text
    assert "serializers.s1.name: is required" in text
    assert "serializers.s2.type: unknown regex_extractor serializer type 'nope.nothing:X'" in text


@pytest.mark.parametrize(
    ("name", "cls"),
    [("DEFAULT", PassThroughSerializer), ("millis", MillisSerializer), (MILLIS, MillisSerializer)],
)
def test_serializer_names_resolve(name: str, cls: type) -> None:
    assert resolve("extractor_serializer", name) is cls


@pytest.mark.parametrize(
    "name", ["regex_extractor", "org.apache.flume.interceptor.RegexExtractorInterceptor$Builder"]
)
def test_resolves_by_alias_and_flume_class(name: str) -> None:
    assert resolve("interceptor", name) is RegexExtractorInterceptor
