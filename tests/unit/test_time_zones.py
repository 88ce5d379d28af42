"""Java time-zone IDs: what TimeZone.getTimeZone gives for each (checked with Java 17), and the refusals."""

from __future__ import annotations

import importlib.resources
import os
import re
import zoneinfo
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from flafka.time_zones import java_time_zone, system_time_zone

DEC_1_2023 = datetime(2023, 12, 1, 8, 30, tzinfo=UTC)
JULY_1_2023 = datetime(2023, 7, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("name", "winter", "summer"), [
    ("America/Los_Angeles", -8 * 60, -7 * 60),
    ("UTC", 0, 0),
    ("EST5EDT", -5 * 60, -4 * 60),
    ("Etc/GMT+5", -5 * 60, -5 * 60),  # POSIX sign: GMT+5 is five hours behind
    ("EST", -5 * 60, -5 * 60),  # a tz database name in both: fixed, no daylight saving
    # Java's own three-letter IDs (Java: PST has daylight saving, IST is +05:30, CTT is Shanghai)
    ("PST", -8 * 60, -7 * 60),
    ("IST", 5 * 60 + 30, 5 * 60 + 30),
    ("CTT", 8 * 60, 8 * 60),
    ("ECT", 60, 2 * 60),
    # Java's custom IDs: fixed offsets
    ("GMT+5:30", 5 * 60 + 30, 5 * 60 + 30),
    ("GMT+05:30", 5 * 60 + 30, 5 * 60 + 30),
    ("GMT+0530", 5 * 60 + 30, 5 * 60 + 30),
    ("GMT+530", 5 * 60 + 30, 5 * 60 + 30),
    ("GMT-8", -8 * 60, -8 * 60),
    ("GMT-03:30", -(3 * 60 + 30), -(3 * 60 + 30)),
    ("GMT+14:00", 14 * 60, 14 * 60),
    ("GMT+0", 0, 0),
])
def test_java_ids(name: str, winter: int, summer: int) -> None:
    zone = java_time_zone(name)
    assert DEC_1_2023.astimezone(zone).utcoffset() == timedelta(minutes=winter)
    assert JULY_1_2023.astimezone(zone).utcoffset() == timedelta(minutes=summer)


def test_custom_ids_are_named_like_java() -> None:
    assert java_time_zone("GMT+5:30").tzname(None) == "GMT+05:30"
    assert java_time_zone("GMT-8").tzname(None) == "GMT-08:00"
    assert java_time_zone("GMT+00:00") is UTC


@pytest.mark.parametrize("name", [
    "America/los_angeles",  # Java is case-sensitive: GMT
    "UTC+1", "+01:00", "Z", "GMT+24:00", "GMT+5:3", "GMT+12345", "GMT+", "gmt+1",  # all GMT in Java
    "Foo/Bar", "", "localtime", "Factory", "/etc/localtime", "../zoneinfo/UTC",
    "SystemV/PST8PDT",  # a Java ID with no Python equivalent
])
def test_what_java_reads_as_gmt_is_refused(name: str) -> None:
    message = (f"is not a time zone: {name!r} (Java would silently use GMT). Use a tz database name such as "
               "America/Los_Angeles or UTC (case matters), or a fixed offset such as GMT+05:30")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        java_time_zone(name)


@pytest.fixture
def fresh_system_zone() -> Iterator[None]:
    system_time_zone.cache_clear()
    yield
    system_time_zone.cache_clear()


@pytest.mark.usefixtures("fresh_system_zone")
@pytest.mark.parametrize(("tz", "key"), [
    ("America/Los_Angeles", "America/Los_Angeles"),
    (":Asia/Kolkata", "Asia/Kolkata"),  # POSIX allows a leading colon
])
def test_system_zone_follows_tz(monkeypatch: pytest.MonkeyPatch, tz: str, key: str) -> None:
    monkeypatch.setenv("TZ", tz)
    assert system_time_zone() == ZoneInfo(key)


@pytest.mark.usefixtures("fresh_system_zone")
def test_system_zone_reads_a_tz_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tz_file = tmp_path / "zone"
    tz_file.write_bytes(_tzif("Asia/Kathmandu"))
    monkeypatch.setenv("TZ", str(tz_file))
    assert DEC_1_2023.astimezone(system_time_zone()).utcoffset() == timedelta(hours=5, minutes=45)


def _tzif(key: str) -> bytes:
    """The compiled zone file of ``key``, from the system database or the tzdata package."""
    for root in zoneinfo.TZPATH:
        if os.path.isfile(os.path.join(root, key)):
            return Path(root, key).read_bytes()
    return importlib.resources.files("tzdata.zoneinfo").joinpath(key).read_bytes()


@pytest.mark.usefixtures("fresh_system_zone")
def test_unusable_tz_falls_back_to_etc_localtime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TZ", raising=False)
    from_localtime = system_time_zone()
    system_time_zone.cache_clear()
    monkeypatch.setenv("TZ", "Not/AZone")
    assert system_time_zone() == from_localtime
