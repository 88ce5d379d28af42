"""Flume's BucketPath escapes. Expected strings come from Flume 1.11's code run under Java 17 (SimpleDateFormat
with an English locale, Calendar-based rounding); the tests themselves need no Java."""

from __future__ import annotations

import functools
import re
import time
from datetime import UTC, datetime, timedelta, tzinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flafka.bucket_path import MAX_MILLIS, BucketPath, RoundUnit, TemplateError, UnplaceableEvent
from flafka.time_zones import java_time_zone

# Every time escape, in the order of the Java harness that produced the expected rows.
ALL_TIME = "%t|%s|%a|%A|%b|%B|%c|%d|%e|%D|%H|%I|%j|%k|%l|%m|%M|%n|%p|%S|%y|%Y|%z"


def hosts(key: str) -> str:
    return {"localhost": "web1", "ip": "10.1.2.3", "fqdn": "web1.example.com"}[key]


def path(text: str, zone: str = "UTC", **options: object) -> BucketPath:
    return BucketPath(text, time_zone=java_time_zone(zone), host_name=hosts, **options)  # type: ignore[arg-type]


def unplaceable(template: BucketPath, headers: dict[str, str]) -> tuple[str, str]:
    with pytest.raises(UnplaceableEvent) as caught:
        template.render(headers)
    return caught.value.kind, caught.value.reason


# -- the time escapes --------------------------------------------------------------------------


@pytest.mark.parametrize(("millis", "zone", "expected"), [
    # noon: %I and %l are 12, PM
    (1699185600000, "UTC", "1699185600000|1699185600|Sun|Sunday|Nov|November|Sun Nov 5 12:00:00 2023|05|5|11/05/23|"
                           "12|12|309|12|12|11|00|11|PM|00|23|2023|+0000"),
    # midnight: %k is 0, %I is 12, AM
    (1699142400000, "UTC", "1699142400000|1699142400|Sun|Sunday|Nov|November|Sun Nov 5 00:00:00 2023|05|5|11/05/23|"
                           "00|12|309|0|12|11|00|11|AM|00|23|2023|+0000"),
    # the zone decides the day: the previous day in Los Angeles, short "Sep", a negative offset
    (1694567890123, "America/Los_Angeles", "1694567890123|1694567890|Tue|Tuesday|Sep|September|Tue Sep 12 18:18:10 "
                                           "2023|12|12|09/12/23|18|06|255|18|6|09|18|9|PM|10|23|2023|-0700"),
    # the last millisecond of 1999 in UTC is already 2000 in Kolkata: %y 00, %j 001
    (946684799999, "Asia/Kolkata", "946684799999|946684799|Sat|Saturday|Jan|January|Sat Jan 1 05:29:59 2000|01|1|"
                                   "01/01/00|05|05|001|5|5|01|29|1|AM|59|00|2000|+0530"),
    (1694567890123, "Asia/Kathmandu", "1694567890123|1694567890|Wed|Wednesday|Sep|September|Wed Sep 13 07:03:10 2023|"
                                      "13|13|09/13/23|07|07|256|7|7|09|03|9|AM|10|23|2023|+0545"),
    (1704067199000, "America/St_Johns", "1704067199000|1704067199|Sun|Sunday|Dec|December|Sun Dec 31 20:29:59 2023|"
                                        "31|31|12/31/23|20|08|365|20|8|12|29|12|PM|59|23|2023|-0330"),
    # a leap year's March 1st is day 061
    (1709251200000, "UTC", "1709251200000|1709251200|Fri|Friday|Mar|March|Fri Mar 1 00:00:00 2024|01|1|03/01/24|00|"
                           "12|061|0|12|03|00|3|AM|00|24|2024|+0000"),
    # Monrovia was -0:44:30 in 1970: %z drops the offset's seconds, %S shows them
    (0, "Africa/Monrovia", "0|0|Wed|Wednesday|Dec|December|Wed Dec 31 23:15:30 1969|31|31|12/31/69|23|11|365|23|11|"
                           "12|15|12|PM|30|69|1969|-0044"),
    # Java's IDs
    (1699173000123, "GMT+05:30", "1699173000123|1699173000|Sun|Sunday|Nov|November|Sun Nov 5 14:00:00 2023|05|5|"
                                 "11/05/23|14|02|309|14|2|11|00|11|PM|00|23|2023|+0530"),
])
def test_time_escapes_as_java_writes_them(millis: int, zone: str, expected: str) -> None:
    assert path(ALL_TIME, zone).render({"timestamp": str(millis)}) == expected


def test_a_typical_path() -> None:
    template = path("/flume/%{topic}/%y-%m-%d/%H", "America/Los_Angeles")
    assert template.render({"topic": "web", "timestamp": "1694567890123"}) == "/flume/web/23-09-12/18"
    assert template.render({"topic": "app", "timestamp": "1694567890999"}) == "/flume/app/23-09-12/18"
    assert template.render({"topic": "web", "timestamp": "1694574000000"}) == "/flume/web/23-09-12/20"


# -- rounding ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("millis", "zone", "unit", "value", "expected"), [
    # 2023-11-05 in Los Angeles: 01:00-01:59 happens twice (PDT, then PST). Java reads a rounded wall time
    # that happens twice as the later one, so rounding an event of the first 01:30 (PDT) lands in the second:
    # same wall time, but %s an hour later and %z -0800. Even second rounding does it.
    (1699173000000, "America/Los_Angeles", "hour", 1, "1699174800 2023-11-05 01:00:00 -0800"),
    (1699173015500, "America/Los_Angeles", "second", 1, "1699176615 2023-11-05 01:30:15 -0800"),
    (1699173015500, "America/Los_Angeles", "minute", 7, "1699176480 2023-11-05 01:28:00 -0800"),
    (1699176600000, "America/Los_Angeles", "hour", 1, "1699174800 2023-11-05 01:00:00 -0800"),  # the second 01:30
    (1699171199999, "America/Los_Angeles", "second", 1, "1699171199 2023-11-05 00:59:59 -0700"),  # before the repeat
    # 2024-03-10 in Los Angeles: 02:00-02:59 never happens. 03:10 PDT rounded to 2 hours is 02:00, read with
    # the offset before the change (PST): 10:00Z, which shows as 03:00 PDT.
    (1710065400000, "America/Los_Angeles", "hour", 2, "1710064800 2024-03-10 03:00:00 -0700"),
    (1710065400000, "America/Los_Angeles", "hour", 24, "1710057600 2024-03-10 00:00:00 -0800"),
    (1710064799000, "America/Los_Angeles", "hour", 1, "1710061200 2024-03-10 01:00:00 -0800"),
    # half-hour offsets: rounding happens in local time, so Kolkata's hours start at :30 UTC
    (1699173012345, "Asia/Kolkata", "hour", 1, "1699173000 2023-11-05 14:00:00 +0530"),
    (1699173012345, "Asia/Kolkata", "minute", 60, "1699173000 2023-11-05 14:00:00 +0530"),
    (1699173012345, "Asia/Kolkata", "minute", 45, "1699173000 2023-11-05 14:00:00 +0530"),
    (1699173012345, "UTC", "hour", 1, "1699171200 2023-11-05 08:00:00 +0000"),
    (1699173012345, "Asia/Kathmandu", "minute", 60, "1699172100 2023-11-05 14:00:00 +0545"),
    (1699173012345, "IST", "hour", 3, "1699165800 2023-11-05 12:00:00 +0530"),
    (1699173012345, "PST", "hour", 1, "1699174800 2023-11-05 01:00:00 -0800"),
    # a value that does not divide 60 or 24 counts from 0 in each hour or day: the last bucket is short
    (1699228799999, "UTC", "minute", 7, "1699228560 2023-11-05 23:56:00 +0000"),
    (1699228799999, "UTC", "second", 7, "1699228796 2023-11-05 23:59:56 +0000"),
    (1699228799999, "UTC", "hour", 5, "1699214400 2023-11-05 20:00:00 +0000"),
    (1699228799999, "UTC", "hour", 24, "1699142400 2023-11-05 00:00:00 +0000"),
    # Lord Howe moves by 30 minutes: 2024-04-07 01:30-01:59 happens twice, the later one wins
    (1712416200000, "Australia/Lord_Howe", "minute", 30, "1712415600 2024-04-07 01:30:00 +1030"),
    (1712418000000, "Australia/Lord_Howe", "hour", 1, "1712417400 2024-04-07 02:00:00 +1030"),
    # 2024-10-06 02:00-02:29 never happens there: hour 02 rounds to 02:30 (%H still 02, %M 30)
    (1728142800000, "Australia/Lord_Howe", "hour", 1, "1728142200 2024-10-06 02:30:00 +1100"),
    # Sao Paulo started daylight saving at midnight: the day began at 01:00
    (1541302200000, "America/Sao_Paulo", "hour", 24, "1541300400 2018-11-04 01:00:00 -0200"),
    # rounding can go below 0 (Flume refuses the timestamp 0 only)
    (1000, "America/Los_Angeles", "hour", 24, "-57600 1969-12-31 00:00:00 -0800"),
])
def test_rounding_as_flume_does_it(millis: int, zone: str, unit: RoundUnit, value: int, expected: str) -> None:
    template = path("%s %Y-%m-%d %H:%M:%S %z", zone, round_unit=unit, round_value=value)
    assert template.render({"timestamp": str(millis)}) == expected


def test_t_is_never_rounded_and_is_the_header_as_written() -> None:
    template = path("%t %s", round_unit="hour")
    assert template.render({"timestamp": "1699173012345"}) == "1699173012345 1699171200"
    # Java's Long.valueOf takes a sign and leading zeros; %t repeats the text
    assert template.render({"timestamp": "+1699173012345"}) == "+1699173012345 1699171200"
    assert template.render({"timestamp": "0001699173012345"}) == "0001699173012345 1699171200"


@pytest.mark.parametrize(("unit", "value", "message"), [
    ("second", 0, "round value (0) must be from 1 to 60 for unit second"),
    ("minute", 61, "round value (61) must be from 1 to 60 for unit minute"),
    ("hour", 25, "round value (25) must be from 1 to 24 for unit hour"),
    ("day", 1, "round unit 'day' is not one of second, minute, hour"),
])
def test_rounding_settings_are_checked(unit: RoundUnit, value: int, message: str) -> None:
    with pytest.raises(TemplateError, match=f"^{re.escape(message)}$"):
        path("%H", round_unit=unit, round_value=value)


def test_more_distinct_seconds_than_the_cache_holds() -> None:
    template = path("%{h}/%Y%m%d-%H%M%S")
    start = 1699173000000
    for n in range(0, 10_000, 1):
        millis = start + n * 1001
        expected = datetime.fromtimestamp(millis // 1000, UTC).strftime("x/%Y%m%d-%H%M%S")
        assert template.render({"timestamp": str(millis), "h": "x"}) == expected


# -- the clock ---------------------------------------------------------------------------------


def test_use_local_timestamp_takes_the_clock_and_ignores_the_header() -> None:
    template = path("%t %Y-%m-%d %H", use_local_timestamp=True)
    assert template.render({}, now_ms=1699173012345) == "1699173012345 2023-11-05 08"
    assert template.render({"timestamp": "garbage"}, now_ms=1699173012345) == "1699173012345 2023-11-05 08"
    assert not template.needs_timestamp
    assert template.warnings() == []


def test_use_local_timestamp_reads_the_clock_without_now_ms() -> None:
    before = time.time_ns() // 1_000_000
    rendered = path("%t", use_local_timestamp=True).render({})
    after = time.time_ns() // 1_000_000
    assert before <= int(rendered) <= after


# -- events that cannot be placed --------------------------------------------------------------


def test_time_escapes_without_a_timestamp() -> None:
    template = path("/flume/%y-%m-%d/%H")
    assert unplaceable(template, {"topic": "web"}) == (
        "no-timestamp", "the event has no timestamp header, which '/flume/%y-%m-%d/%H' needs for its time escapes "
                        "(%y %m %d %H)")
    assert unplaceable(path("%t"), {}) == (
        "no-timestamp", "the event has no timestamp header, which '%t' needs for its time escapes (%t)")


@pytest.mark.parametrize("stamp", [
    "", "abc", "1.699e12", "1699173000000.0", " 1699173000000", "1699173000000 ", "1_699_173_000_000",
    "\u0661\u0662\u0663",  # Arabic-Indic digits: Python's int() takes them
    "0x1F", "+", "-", "+-1",
])
def test_a_timestamp_that_is_not_a_whole_number(stamp: str) -> None:
    assert unplaceable(path("%Y"), {"timestamp": stamp}) == (
        "bad-timestamp", f"the timestamp header {stamp!r} is not a whole number of milliseconds")


@pytest.mark.parametrize("stamp", ["-1", "-1699173000000", str(MAX_MILLIS + 1), "9" * 19, "9" * 5000])
def test_a_timestamp_out_of_range(stamp: str) -> None:
    assert unplaceable(path("%Y"), {"timestamp": stamp}) == (
        "bad-timestamp", f"the timestamp header {stamp!r} is outside 0 to 253402214399999 (1970-01-01 to "
                         "9999-12-30) milliseconds")


def test_the_range_ends_inside_year_9999_in_every_zone() -> None:
    assert path("%Y-%m-%d %H:%M:%S", "Pacific/Kiritimati").render({"timestamp": str(MAX_MILLIS)}) == \
        "9999-12-31 13:59:59"
    assert path("%Y-%m-%d", "Etc/GMT+12").render({"timestamp": "0"}) == "1969-12-31"
    assert path("%Y-%m-%d", "Pacific/Kiritimati", round_unit="hour", round_value=24).render(
        {"timestamp": str(MAX_MILLIS)}) == "9999-12-31"


def test_only_time_escapes_need_a_timestamp() -> None:
    # Flume parses the timestamp for %% and unknown letters too; their text does not depend on it
    template = path("100%%-%q-%[localhost]-%{h}")
    assert template.render({"h": "x"}) == "100%--web1-x"
    assert template.time_escapes == ()
    assert not template.needs_timestamp


def test_strict_headers_must_be_one_path_name() -> None:
    template = path("/flume/%{topic}/%Y")
    stamp = "1699173000000"
    assert template.render({"topic": "app.logs", "timestamp": stamp}) == "/flume/app.logs/2023"
    assert template.render({"topic": "...", "timestamp": stamp}) == "/flume/.../2023"
    assert unplaceable(template, {"timestamp": stamp}) == (
        "missing-header", "the event has no 'topic' header, which '/flume/%{topic}/%Y' needs")
    assert unplaceable(template, {"topic": "", "timestamp": stamp}) == (
        "missing-header", "the event's 'topic' header, which '/flume/%{topic}/%Y' needs, is empty")
    for value in ("..", ".", "a/b", "../../etc", "/abs", "a\0b"):
        assert unplaceable(template, {"topic": value, "timestamp": stamp}) == (
            "unsafe-header", f"the event's 'topic' header ({value!r}) is not one path name (it holds '/' or NUL, "
                             "or is '.' or '..'), which '/flume/%{topic}/%Y' needs")


def test_strict_headers_with_several_escapes() -> None:
    template = path("/%{a}/%{b}-%t")
    assert template.render({"a": "x", "b": "y", "timestamp": "5"}) == "/x/y-5"
    assert unplaceable(template, {"a": "x", "timestamp": "5"})[0] == "missing-header"
    assert unplaceable(template, {"a": "..", "b": "y", "timestamp": "5"})[0] == "unsafe-header"


def test_the_timestamp_is_checked_before_the_headers() -> None:
    assert unplaceable(path("/%{a}/%H"), {})[0] == "no-timestamp"


def test_flume_headers_write_a_missing_header_as_empty() -> None:
    template = path("/flume/%{topic}/%{dir}/x", header_policy="flume")
    assert template.render({}) == "/flume///x"
    assert template.render({"topic": "web", "dir": "2023/11"}) == "/flume/web/2023/11/x"
    assert template.render({"topic": "a.b", "dir": "c..d"}) == "/flume/a.b/c..d/x"


@pytest.mark.parametrize("headers", [
    {"topic": "..", "dir": "d"},
    {"topic": "web", "dir": "../../../etc"},
    {"topic": "web", "dir": "a/./b"},
    {"topic": ".", "dir": "."},  # /flume/./x
    {"topic": "a\0b", "dir": "d"},
])
def test_flume_headers_still_may_not_leave_the_directory(headers: dict[str, str]) -> None:
    template = path("/flume/%{topic}/%{dir}/x", header_policy="flume")
    rendered = f"/flume/{headers['topic']}/{headers['dir']}/x"
    assert unplaceable(template, headers) == (
        "unsafe-header", f"'/flume/%{{topic}}/%{{dir}}/x' gives {rendered!r}, which has a '.' or '..' segment or a "
                         f"NUL made of header values topic={headers['topic']!r}, dir={headers['dir']!r}")


def test_flume_headers_joined_into_dots() -> None:
    template = path("/flume/%{a}%{b}", header_policy="flume")
    assert unplaceable(template, {"a": ".", "b": "."})[0] == "unsafe-header"
    assert unplaceable(template, {"a": "."})[0] == "unsafe-header"
    assert template.render({"a": ".", "b": "x"}) == "/flume/.x"


def test_unknown_header_policy() -> None:
    with pytest.raises(TemplateError, match=re.escape("header policy 'lenient' is not one of strict, flume")):
        path("%{a}", header_policy="lenient")


# -- parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("plain/text", "plain/text"),
    ("100%%", "100%"),
    ("%%{topic}", "%{topic}"),  # %% first, then literal text
    ("%%%H", "%08"),
    ("%q%_%9|%Q", "|"),  # unknown escapes write nothing
    ("%{a b}|%{}|%{caf\u00e9}|%\u00e9|%-|%", "%{a b}|%{}|%{caf\u00e9}|%\u00e9|%-|%"),  # not escapes: as written
    ("%{x.y-1_z}", "v"),
    ("%[localhost] %[IP] %[FQDN] %[LocalHost] %[ip] %[fqdn]", "web1 10.1.2.3 web1.example.com web1 10.1.2.3 "
                                                               "web1.example.com"),
    ("%[loc al]", "%[loc al]"),
    ("$1\\0", "$1\\0"),  # Flume quotes replacement text for Matcher.appendReplacement; nothing to quote here
])
def test_parsing(text: str, expected: str) -> None:
    assert path(text).render({"timestamp": "1699173000000", "x.y-1_z": "v"}) == expected


def test_a_header_value_is_never_read_as_an_escape() -> None:
    assert path("/%{a}/%{b}").render({"a": "%H%{b}", "b": "%%"}) == "/%H%{b}/%%"
    assert path("/%{a}/%Y").render({"a": "%s", "timestamp": "0"}) == "/%s/1970"


def test_an_unknown_host_escape_is_a_configuration_error() -> None:
    with pytest.raises(TemplateError, match=re.escape(
            "%[hostname] is not an escape: use %[localhost], %[IP] or %[FQDN] (any case): '/flume/%[hostname]'")):
        path("/flume/%[hostname]")


def test_host_escapes_resolve_this_host_by_default() -> None:
    import socket
    assert BucketPath("%[localhost]").render({}) == socket.gethostname()


# -- what --check reports ----------------------------------------------------------------------


def test_what_a_template_uses() -> None:
    template = path("/flume/%{topic}/%y-%m-%d/%H/%{topic}-%t-%q-%{a b}-%%-%")
    assert template.header_names == ("topic",)
    assert template.time_escapes == ("%y", "%m", "%d", "%H", "%t")
    assert template.unknown_escapes == ("%q",)
    assert template.strays == ("%{a b}", "%")
    assert template.needs_timestamp
    assert template.warnings() == [
        "uses time escapes (%y %m %d %H %t): an event without a timestamp header (epoch milliseconds, e.g. from the "
        "timestamp interceptor) cannot be placed and is set aside; set hdfs.useLocalTimeStamp = true to use the "
        "agent's clock instead",
        "%q is not an escape: it writes nothing",
        "'%{a b}' is not an escape and is written as is (header names are letters, digits, '_', '.' and '-')",
        "'%' is not an escape and is written as is (header names are letters, digits, '_', '.' and '-')",
        "an event whose header topic is missing, empty, '.', '..' or holds '/' cannot be placed and is set aside "
        "(Flume writes a missing header as an empty string)",
    ]


def test_warnings_for_rounding_and_flume_headers() -> None:
    template = path("%{a}/%{b}/%t", round_unit="minute", header_policy="flume", use_local_timestamp=True)
    assert template.warnings() == ["%t is the exact milliseconds, never rounded"]
    assert path("FlumeData").warnings() == []


# -- against a slow, independent reference ------------------------------------------------------

ZONES = ["UTC", "America/Los_Angeles", "Asia/Kolkata", "Australia/Lord_Howe", "America/St_Johns", "Asia/Kathmandu",
         "Pacific/Chatham", "Europe/Dublin", "America/Sao_Paulo", "Pacific/Apia", "GMT+05:30"]
LETTERS = "aAbBcdeDHIjklmMnpsSyYzt%q_"
HEADER_VALUES = [None, "", "web", "a.b", ".", "..", "a/b", "x\0y", "%H", "..."]


@functools.cache
def transitions() -> list[int]:
    """Instants (s) at which one of ZONES changes its offset, 2015-2030: where rounding goes wrong if anything does."""
    return sorted({t for zone in ZONES for t in _transitions(zone)})


def _transitions(zone: str) -> list[int]:
    tz = java_time_zone(zone)
    found = []
    step = 12 * 3600  # changes are months apart
    start = int(datetime(2015, 1, 1, tzinfo=UTC).timestamp())
    end = int(datetime(2030, 1, 1, tzinfo=UTC).timestamp())
    for t in range(start, end, step):
        if _offset(tz, t) != _offset(tz, t + step):
            lo, hi = t, t + step
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if _offset(tz, mid) == _offset(tz, t) else (lo, mid)
            found.append(hi)
    return found


def _offset(tz: tzinfo, second: int) -> int:
    return int(datetime.fromtimestamp(second, UTC).astimezone(tz).utcoffset().total_seconds())  # type: ignore[union-attr]


def _reference_round(second: int, tz: tzinfo, unit: str, value: int) -> int:
    """Java's Calendar, said differently: the wall time's fixed-point offsets, the latest instant wins."""
    wall = datetime(1970, 1, 1) + timedelta(seconds=second + _offset(tz, second))
    if unit == "second":
        wall = wall.replace(second=wall.second // value * value)
    elif unit == "minute":
        wall = wall.replace(minute=wall.minute // value * value, second=0)
    else:
        wall = wall.replace(hour=wall.hour // value * value, minute=0, second=0)
    naive = int((wall - datetime(1970, 1, 1)).total_seconds())
    offsets = {_offset(tz, min(naive + shift, MAX_MILLIS // 1000)) for shift in (-86400, 0, 86400)}
    exact = [o for o in offsets if _offset(tz, naive - o) == o]
    return max(naive - o for o in (exact or offsets))


def _reference(text: str, headers: dict[str, str], *, tz: tzinfo, unit: str | None, value: int,
               policy: str) -> str | tuple[str]:
    """A naive per-call BucketPath: one regex pass, strftime in the C locale, no caching."""
    flume_tag = r"%(\w|%)|%\{([\w.-]+)\}|%\[(\w+)\]"
    matches = list(re.finditer(flume_tag, text, re.ASCII))
    fields: dict[str, str] = {}
    if any(m.group(1) and m.group(1) in "aAbBcdeDHIjklmMnpsSyYzt" for m in matches):
        stamp = headers.get("timestamp")
        if stamp is None:
            return ("no-timestamp",)
        if not re.fullmatch(r"[+-]?[0-9]+", stamp) or not 0 <= int(stamp) <= MAX_MILLIS:
            return ("bad-timestamp",)
        second = int(stamp) // 1000
        instant = second if unit is None else _reference_round(second, tz, unit, value)
        local = datetime(1970, 1, 1) + timedelta(seconds=instant + _offset(tz, instant))
        offset = _offset(tz, instant)
        sign, minutes = ("-" if offset < 0 else "+"), abs(offset) // 60
        fields = {letter: local.strftime("%" + letter) for letter in "aAbBdHIjmMpSyY"}
        fields |= {
            "c": local.strftime("%a %b ") + str(local.day) + local.strftime(" %H:%M:%S %Y"),
            "e": str(local.day), "D": local.strftime("%m/%d/%y"), "k": str(local.hour),
            "l": str(int(local.strftime("%I"))), "n": str(local.month), "s": str(instant), "t": stamp,
            "z": f"{sign}{minutes // 60:02d}{minutes % 60:02d}",
        }
    out, last, risky = [], 0, False
    for m in matches:
        out.append(text[last:m.start()])
        last = m.end()
        letter, name = m.group(1), m.group(2)
        if name is not None:
            header = headers.get(name)
            if policy == "strict":
                if not header:
                    return ("missing-header",)
                if header in (".", "..") or "/" in header or "\0" in header:
                    return ("unsafe-header",)
            header = header or ""
            risky = risky or header in ("", ".", "..") or "/" in header or "\0" in header
            out.append(header)
        elif letter == "%":
            out.append("%")
        elif letter is not None:
            out.append(fields.get(letter, ""))
    out.append(text[last:])
    rendered = "".join(out)
    if risky and ("\0" in rendered or {".", ".."} & set(rendered.split("/"))):
        return ("unsafe-header",)
    return rendered


pieces = st.one_of(
    st.sampled_from(["%" + letter for letter in LETTERS]),
    st.sampled_from(["%{a}", "%{b}", "/", "-", "x.y", "data", " ", "%{a b}", "%"]),
)
stamps = st.one_of(
    st.integers(0, MAX_MILLIS).map(str),
    st.builds(lambda t, d: str(t * 1000 + d), st.deferred(lambda: st.sampled_from(transitions())),
              st.integers(-7_200_000, 7_200_000)),
    st.sampled_from(["", "-5", "12a", "+1699173000000", "0001699173000000"]),
)
roundings = st.one_of(
    st.just((None, 1)),
    st.tuples(st.sampled_from(["second", "minute"]), st.integers(1, 60)),
    st.tuples(st.just("hour"), st.integers(1, 24)),
)


@settings(max_examples=400, deadline=None)
@given(
    text=st.lists(pieces, max_size=8).map("".join),
    zone=st.sampled_from(ZONES),
    stamp=st.one_of(st.none(), stamps),
    rounding=roundings,
    a=st.sampled_from(HEADER_VALUES),
    b=st.sampled_from(HEADER_VALUES),
    policy=st.sampled_from(["strict", "flume"]),
)
def test_renders_as_the_reference(*, text: str, zone: str, stamp: str | None, rounding: tuple[RoundUnit | None, int],
                                  a: str | None, b: str | None, policy: str) -> None:
    headers = {name: value for name, value in (("timestamp", stamp), ("a", a), ("b", b)) if value is not None}
    unit, value = rounding
    tz = java_time_zone(zone)
    template = BucketPath(text, time_zone=tz, round_unit=unit, round_value=value, header_policy=policy)  # type: ignore[arg-type]
    expected = _reference(text, headers, tz=tz, unit=unit, value=value, policy=policy)
    assert _outcome(template, headers) == expected
    assert _outcome(template, headers) == expected  # from the cache


def _outcome(template: BucketPath, headers: dict[str, str]) -> str | tuple[str]:
    try:
        return template.render(headers)
    except UnplaceableEvent as caught:
        return (caught.kind,)


def test_the_reference_sees_daylight_saving_changes() -> None:
    assert len(transitions()) > 150
