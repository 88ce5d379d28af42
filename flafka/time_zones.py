"""Java time-zone IDs (``hdfs.timeZone``) as Python ``tzinfo`` objects, and the agent's own zone.

Flume reads a zone with ``java.util.TimeZone.getTimeZone(id)``, which knows three kinds of ID:

* the tz database names (``America/Los_Angeles``, ``Asia/Kolkata``, ``UTC``, ``EST5EDT``, ``Etc/GMT+5``),
  case-sensitive; Python's ``zoneinfo`` knows the same names;
* custom offsets ``GMT+h``, ``GMT+hh``, ``GMT+hhmm``, ``GMT+h:mm``, ``GMT+hh:mm`` (or ``-``; hours 0-23,
  minutes 0-59), fixed, without daylight saving;
* the old three-letter IDs that are not tz database names (``PST``, ``IST``, ``CTT`` …), which Java maps
  to a region (the table below, read from Java 17's ``TimeZone.getTimeZone(id).toZoneId()``). ``EST``,
  ``MST`` and ``HST`` are tz database names already.

Any other text makes Java silently use GMT, so a typo (``America/los_angeles``, ``UTC+1``, ``+01:00``)
files every event under the wrong hour without a word. flafka refuses it instead: :func:`java_time_zone`
raises :class:`ValueError` with a message that names the accepted forms. Java's ``SystemV/...`` IDs have
no Python equivalent and are refused the same way.

Without ``hdfs.timeZone`` Flume formats in the JVM's default zone, which on Linux comes from ``TZ`` or
``/etc/localtime``; :func:`system_time_zone` reads the same two places, keeping daylight-saving rules (a
fixed offset from ``time.localtime()`` would be wrong half of the year).
"""

from __future__ import annotations

import functools
import os
import re
from datetime import UTC, timedelta, timezone, tzinfo
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["java_time_zone", "system_time_zone"]

#: Java's three-letter IDs that are not tz database names, and the region Java gives each.
_JAVA_SHORT_IDS: Final = {
    "ACT": "Australia/Darwin", "AET": "Australia/Sydney", "AGT": "America/Argentina/Buenos_Aires",
    "ART": "Africa/Cairo", "AST": "America/Anchorage", "BET": "America/Sao_Paulo", "BST": "Asia/Dhaka",
    "CAT": "Africa/Harare", "CNT": "America/St_Johns", "CST": "America/Chicago", "CTT": "Asia/Shanghai",
    "EAT": "Africa/Addis_Ababa", "ECT": "Europe/Paris", "IET": "America/Indiana/Indianapolis",
    "IST": "Asia/Kolkata", "JST": "Asia/Tokyo", "MIT": "Pacific/Apia", "NET": "Asia/Yerevan",
    "NST": "Pacific/Auckland", "PLT": "Asia/Karachi", "PNT": "America/Phoenix", "PRT": "America/Puerto_Rico",
    "PST": "America/Los_Angeles", "SST": "Pacific/Guadalcanal", "VST": "Asia/Ho_Chi_Minh",
}

# Java's custom-ID grammar (TimeZone.parseCustomTimeZone): at most 2 hour digits before a colon and
# exactly 2 after it; without a colon, 1-2 digits are hours and 3-4 digits are hhmm.
_CUSTOM_ID: Final = re.compile(r"GMT([+-])(?:([0-9]{0,2}):([0-9]{2})|([0-9]{1,4}))")

# Names zoneinfo accepts that Java does not (``localtime`` is a file on some systems, not a zone).
_NOT_JAVA: Final = frozenset({"localtime", "Factory"})


def java_time_zone(name: str) -> tzinfo:
    """The zone Java's ``TimeZone.getTimeZone(name)`` means; :class:`ValueError` where Java would fall back to GMT."""
    custom = _CUSTOM_ID.fullmatch(name)
    if custom is not None:
        sign, hours_text, minutes_text, digits = custom.groups()
        if digits is not None:
            hours, minutes = (int(digits), 0) if len(digits) <= 2 else divmod(int(digits), 100)
        else:
            hours, minutes = int(hours_text or "0"), int(minutes_text)
        if hours <= 23 and minutes <= 59:
            offset = timedelta(hours=hours, minutes=minutes)
            if not offset:
                return UTC
            return timezone(-offset if sign == "-" else offset, f"GMT{sign}{hours:02d}:{minutes:02d}")
    else:
        key = _JAVA_SHORT_IDS.get(name, name)
        if key not in _NOT_JAVA and not key.startswith(("/", ".")) and ".." not in key:
            try:
                return ZoneInfo(key)
            except (ZoneInfoNotFoundError, ValueError):
                pass
    raise ValueError(
        f"is not a time zone: {name!r} (Java would silently use GMT). Use a tz database name such as "
        "America/Los_Angeles or UTC (case matters), or a fixed offset such as GMT+05:30")


@functools.cache
def system_time_zone() -> tzinfo:
    """This machine's zone, found where the JVM finds its default: ``TZ``, else ``/etc/localtime``; else UTC."""
    configured = os.environ.get("TZ", "").removeprefix(":")
    if configured:
        try:
            if os.path.isabs(configured):
                with open(configured, "rb") as tzif:
                    return ZoneInfo.from_file(tzif, key=configured)
            return ZoneInfo(configured)
        except (OSError, ValueError, ZoneInfoNotFoundError):
            pass  # as the JVM, an unusable TZ falls through to /etc/localtime
    try:
        # A link into the zone database names the zone; naming it keeps %z and logs readable.
        target = os.path.realpath("/etc/localtime")
        _, found, key = target.partition("/zoneinfo/")
        if found:
            try:
                return ZoneInfo(key)
            except (ValueError, ZoneInfoNotFoundError):
                pass
        with open("/etc/localtime", "rb") as tzif:
            return ZoneInfo.from_file(tzif, key="localtime")
    except (OSError, ValueError):
        return UTC
