from __future__ import annotations

import re

import pytest

from flafka.errors import ConfigError
from flafka.event import Event
from flafka.interceptors.search_replace import SearchAndReplaceInterceptor, java_replacement
from flafka.java_regex import compile_java_regex
from flafka.registry import resolve
from flafka.testing import build, intercept, parse_config

# (pattern, Java replacement, Python template)
TRANSLATIONS = [
    ("(a)(b)", "plain", "plain"),
    ("(a)(b)", "$1-$2", r"\g<1>-\g<2>"),
    ("(a)(b)", "$0", r"\g<0>"),
    ("(a)(b)", r"\$1 costs \$", "$1 costs $"),
    ("(a)(b)", r"a\\b", r"a\\b"),
    ("(a)(b)", r"\n\t\x", "ntx"),
    ("(a)(b)", "$12", r"\g<1>2"),  # only 2 groups: '$12' is group 1 then '2'
    ("(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)", "$12", r"\g<12>"),
    ("(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)", "$123", r"\g<12>3"),
    ("(?<word>a)", "[${word}]", r"[\g<word>]"),
    ("(?<word>a)", "${word}$1", r"\g<word>\g<1>"),
    ("x", "", ""),
    ("x", r"\g<0>", "g<0>"),  # Python's own syntax is literal text in a Java replacement
]


@pytest.mark.parametrize(("pattern", "java", "python"), TRANSLATIONS)
def test_java_replacement_translation(pattern: str, java: str, python: str) -> None:
    assert java_replacement(java, compile_java_regex(pattern)) == python


@pytest.mark.parametrize(
    ("java", "message"),
    [
        ("$3", "No group 3"),
        ("$", "Illegal group reference: group index is missing"),
        ("$x", "Illegal group reference"),
        ("end\\", "character to be escaped is missing"),
        ("${}", "named capturing group has 0 length name"),
        ("${name", "named capturing group is missing trailing '}'"),
        ("${1a}", "capturing group name {1a} starts with digit character"),
        ("${nope}", "No group with name {nope}"),
    ],
)
def test_java_replacement_errors(java: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        java_replacement(java, compile_java_regex("(?<name>a)(b)"))


def test_replaces_all_matches_with_groups() -> None:
    chain = [
        build(SearchAndReplaceInterceptor, {"searchPattern": r"(\w+)@(\w+)\.com", "replaceString": "$2:$1"})
    ]
    out = intercept(chain, [Event(b"to a@x.com, b@y.com", {"h": "1"}), Event(b"nothing here")])
    assert [e.body for e in out] == [b"to x:a, y:b", b"nothing here"]
    assert out[0].headers == {"h": "1"}


def test_missing_replace_string_deletes_matches() -> None:
    chain = [build(SearchAndReplaceInterceptor, {"searchPattern": r"^\d+ "})]
    assert intercept(chain, [Event(b"123 msg 456 ")])[0].body == b"msg 456 "


def test_charset_is_used_for_decoding_and_encoding() -> None:
    chain = [
        build(
            SearchAndReplaceInterceptor, {"searchPattern": "é", "replaceString": "è", "charset": "ISO-8859-1"}
        )
    ]
    assert intercept(chain, [Event("café".encode("latin-1"))])[0].body == "cafè".encode("latin-1")


def test_event_without_match_keeps_undecodable_bytes() -> None:
    chain = [build(SearchAndReplaceInterceptor, {"searchPattern": "zzz", "replaceString": "y"})]
    assert intercept(chain, [Event(b"\xff\xfe")])[0].body == b"\xff\xfe"


def test_dollar_literal_and_named_group_in_body() -> None:
    chain = [
        build(
            SearchAndReplaceInterceptor,
            {"searchPattern": r"(?<amount>\d+) EUR", "replaceString": r"\$${amount}"},
        )
    ]
    assert intercept(chain, [Event(b"pay 12 EUR")])[0].body == b"pay $12"


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({}, "searchPattern: is required"),
        ({"searchPattern": "(a"}, "searchPattern: is not a valid Java regular expression"),
        (
            {"searchPattern": "(a)", "replaceString": "$2"},
            "replaceString: is not a valid replacement: No group 2",
        ),
        ({"searchPattern": "a", "charset": "UTF-9"}, "charset: unknown charset 'UTF-9'"),
    ],
)
def test_invalid_config(props: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(SearchAndReplaceInterceptor, props)


@pytest.mark.parametrize(
    "name", ["search_replace", "org.apache.flume.interceptor.SearchAndReplaceInterceptor$Builder"]
)
def test_resolves_by_alias_and_flume_class(name: str) -> None:
    assert resolve("interceptor", name) is SearchAndReplaceInterceptor
