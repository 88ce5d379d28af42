"""Flume's ``BucketPath`` escapes: the per-event text of ``hdfs.path`` and ``hdfs.filePrefix``.

A template is parsed once with Flume's pattern ``%(\\w|%)|%\\{([\\w.-]+)\\}|%\\[(\\w+)\\]`` (``\\w`` is
ASCII, as in Java) and rendered per event::

    path = BucketPath("/flume/%{topic}/%y-%m-%d/%H", time_zone=java_time_zone("UTC"))
    path.render({"topic": "web", "timestamp": "1699173000000"})  # "/flume/web/23-11-05/08"

=================  ===================================================================================
``%{name}``        the event's header ``name`` (see "Headers" below)
``%[localhost]``   this host's name; ``%[IP]`` its address; ``%[FQDN]`` its canonical name (any case;
                   resolved once, when the template is compiled; another ``%[name]`` is a TemplateError)
``%t``             the timestamp in milliseconds as written in the header (``useLocalTimeStamp``: the
                   clock); never rounded
``%s``             seconds since the epoch, rounded when rounding is on
``%a %A %b %B``    weekday and month names, short and full, in English
``%c``             ``EEE MMM d HH:mm:ss yyyy`` (``Sun Nov 5 08:30:00 2023``)
``%d %e``          day of month, ``05`` and ``5``;  ``%D`` is ``MM/dd/yy``
``%H %k %I %l``    hour ``08`` ``8`` (0-23) and ``08`` ``8`` (1-12);  ``%p`` is ``AM``/``PM``
``%j``             day of year ``001``-``366``
``%m %n``          month ``01`` and ``1``;  ``%M`` minute ``00``-``59``;  ``%S`` second ``00``-``59``
``%y %Y``          year ``23`` and ``2023``;  ``%z`` the zone's offset ``+hhmm``
``%%``             ``%``;  any other ``%x`` (``x`` a letter, digit or ``_``) is the empty string
=================  ===================================================================================

The fields are Java ``SimpleDateFormat``'s in the configured zone (``hdfs.timeZone``, default the agent's
zone). Rounding (``hdfs.round``) is Flume's ``TimestampRoundDownUtil``, read from its code and checked
against Java 17 (see :func:`round_down`).

Time. The time escapes use the event's ``timestamp`` header (epoch milliseconds as decimal text, an
optional sign, as Java's ``Long.valueOf`` reads it) or, with ``useLocalTimeStamp``, the agent's clock read
once per batch (``render``'s ``now_ms``; Flume reads it once per call, which can put an event's path and
file name in different hours). Rendering is a dictionary lookup per event: the text with every time
escape filled in is cached per distinct second of the timestamp, since no escape but ``%t`` sees
milliseconds.

Events that cannot be placed. ``render`` raises :class:`UnplaceableEvent` (``kind``, ``reason``) for an
event that has no path, and the sink sets that event aside (``flafka.dead_letters``) instead of failing
the batch. Flume throws there, rolls the batch back and retries it forever behind one bad event.

* ``no-timestamp``: time escapes, no ``timestamp`` header, ``useLocalTimeStamp`` false.
* ``bad-timestamp``: the header is not a whole number of milliseconds, or lies outside 1970-01-01 to
  9999-12-30 (UTC). Flume formats negative times (with Julian dates before 1582) and years past 9999;
  such a value is a bug upstream (seconds or microseconds instead of milliseconds, an unset -1), and a
  path in year 55000 helps nobody.
* ``missing-header`` / ``unsafe-header``: see "Headers".

Headers (``header_policy``). Flume writes an empty string for a missing header, so ``/flume/%{topic}/x``
becomes ``/flume//x``, which Hadoop's ``Path`` normalizes to ``/flume/x``: the event lands silently in
another directory. And Flume writes a value as it is, so ``..`` or ``a/../../b`` in a header moves the
event out of the bucket tree (``Path`` resolves ``..``).

* ``"strict"`` (the default, the safe one): ``%{name}`` must be one non-empty path name: present, not
  empty, no ``/`` and no NUL, not ``.`` or ``..``. Anything else is unplaceable.
* ``"flume"``: Flume's rule (missing: the empty string; ``/`` in a value makes directories), except that a
  rendered text with a ``.`` or ``..`` segment or a NUL is still unplaceable (``unsafe-header``).

Other differences from Flume, on purpose:

* Flume parses the timestamp header for every ``%x`` escape, even ``%%`` and unknown letters, so a text
  with only ``%%`` needs a timestamp there; here only the escapes that show time need one.
* Flume refuses to round the timestamp 0 (an IllegalArgumentException, again a poison event); here it
  rounds like any other.
* ``%[name]`` other than localhost/IP/FQDN is a configuration error at compile time; Flume throws on
  every event. ``%[IP]`` and ``%[FQDN]`` are resolved as the ``host`` interceptor does (127.0.0.1 when the
  host name does not resolve; Flume fails there too).
* Names are English whatever the agent's locale (Flume uses the JVM's default locale).
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Mapping
from datetime import datetime, tzinfo
from typing import Final, Literal

from flafka.errors import FlafkaError
from flafka.escapes import HEADER_ESCAPE
from flafka.interceptors.host import local_address
from flafka.time_zones import system_time_zone

__all__ = [
    "MAX_MILLIS",
    "BucketPath",
    "HeaderPolicy",
    "RoundUnit",
    "TemplateError",
    "UnplaceableEvent",
    "local_host_name",
    "round_down",
]

HeaderPolicy = Literal["strict", "flume"]
RoundUnit = Literal["second", "minute", "hour"]

#: One escape (Flume's ``BucketPath.TAG_REGEX``): group 1 a ``%x`` letter (or ``%``), group 2 a header
#: name, group 3 a host escape's name. ``\\w`` is ASCII, as in Java.
TAG: Final = re.compile(r"%(\w|%)|" + HEADER_ESCAPE.pattern + r"|%\[(\w+)\]", re.ASCII)

#: The last millisecond whose local date is inside year 9999 in every zone (9999-12-30T23:59:59.999Z).
MAX_MILLIS: Final = 253_402_214_399_999

_ROUND_LIMITS: Final[dict[str, int]] = {"second": 60, "minute": 60, "hour": 24}
_HOST_KEYS: Final = ("localhost", "ip", "fqdn")
_DOT_NAMES: Final = (".", "..")

_DAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS: Final = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                  "October", "November", "December")

# A second's text is a dict lookup; a sink seldom sees more than a few thousand distinct seconds at once
# (a backlog replays in time order), and clearing beats an LRU's bookkeeping on every event.
_CACHED_SECONDS: Final = 4096

_TEXT, _TIME, _HEADER, _MILLIS = range(4)
_Part = tuple[int, str]


class TemplateError(ValueError):
    """A template or rounding setting that cannot be compiled; the message says what to change."""


class UnplaceableEvent(FlafkaError):
    """An event a template gives no path: ``kind`` (for counting and logging once) and ``reason`` in words.

    Kinds: ``no-timestamp``, ``bad-timestamp``, ``missing-header``, ``unsafe-header``.
    """

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def round_down(second: int, zone: tzinfo, unit: RoundUnit, value: int) -> int:
    """Flume's ``TimestampRoundDownUtil`` on a timestamp in whole seconds; the rounded timestamp in seconds.

    In ``zone``'s wall time, the field ``unit`` goes down to a multiple of ``value`` and the smaller
    fields to zero; the result is that wall time's instant. What Java's ``Calendar`` does, checked here
    against Java 17 on random times in many zones:

    * Multiples count from 0 within the next field up, so a value that does not divide 60 (or 24) makes a
      short last bucket: minutes with value 7 start at :00 :07 … :56, and :56-:59 is a bucket of 4.
    * The wall time is re-read in the zone even when nothing changed, and a wall time that happens twice
      (the hour repeated when daylight saving ends) is read as the *later* one. So with rounding on, any
      unit, an event in the first 01:xx of a Los Angeles November night gets the instant of the second
      01:xx: the same path text, but ``%s`` one hour later and ``%z`` ``-0800``.
    * A wall time that never happens (02:xx when daylight saving starts) is read with the offset before
      the change: rounding 03:10 PDT to 2 hours gives 02:00 PST, which is 03:00 PDT. Both cases are "the
      later of the two instants the wall time could mean".
    """
    local = datetime.fromtimestamp(second, zone)
    if unit == "second":
        wall = local.replace(second=local.second - local.second % value)
    elif unit == "minute":
        wall = local.replace(minute=local.minute - local.minute % value, second=0)
    else:
        wall = local.replace(hour=local.hour - local.hour % value, minute=0, second=0)
    return int(max(wall.replace(fold=0).timestamp(), wall.replace(fold=1).timestamp()))


def local_host_name(key: str) -> str:
    """What ``%[key]`` shows (``key`` lower case): this host's name, address or canonical name."""
    if key == "localhost":
        return socket.gethostname()
    return local_address(use_ip=key == "ip")


class BucketPath:
    """A template parsed once (see the module docstring); :meth:`render` gives an event's text.

    ``round_unit`` None: no rounding (``hdfs.round`` false); else ``second``/``minute``/``hour`` with
    ``round_value`` 1-60 (1-24 for hours). ``time_zone`` None: the agent's zone. ``header_policy``: see
    the module docstring. ``host_name`` maps ``localhost``/``ip``/``fqdn`` to their text (a seam for
    tests). Raises :class:`TemplateError`.
    """

    __slots__ = (
        "_by_second", "_flume_headers", "_local", "_no_timestamp", "_one_header", "_parts", "_slots", "_static",
        "_zone", "header_names", "header_policy", "round_unit", "round_value", "strays", "text", "time_escapes",
        "time_zone", "unknown_escapes", "use_local_timestamp",
    )

    def __init__(
        self,
        text: str,
        *,
        round_unit: RoundUnit | None = None,
        round_value: int = 1,
        time_zone: tzinfo | None = None,
        use_local_timestamp: bool = False,
        header_policy: HeaderPolicy = "strict",
        host_name: Callable[[str], str] = local_host_name,
    ) -> None:
        if round_unit is not None:
            limit = _ROUND_LIMITS.get(round_unit)
            if limit is None:
                raise TemplateError(f"round unit {round_unit!r} is not one of second, minute, hour")
            if not 1 <= round_value <= limit:
                raise TemplateError(f"round value ({round_value}) must be from 1 to {limit} for unit {round_unit}")
        if header_policy not in ("strict", "flume"):
            raise TemplateError(f"header policy {header_policy!r} is not one of strict, flume")
        #: The template as configured, and the settings it was compiled with.
        self.text = text
        self.round_unit = round_unit
        self.round_value = round_value
        self.time_zone = time_zone
        self.use_local_timestamp = use_local_timestamp
        self.header_policy = header_policy
        self._zone = system_time_zone() if time_zone is None else time_zone
        self._local = use_local_timestamp
        self._flume_headers = header_policy == "flume"
        parts, unknown = _parse(text, host_name)
        self._parts = parts
        #: Header names of the ``%{name}`` escapes, in order of first use.
        self.header_names = tuple(dict.fromkeys(v for k, v in parts if k == _HEADER))
        #: The escapes that use the event's time (``%t`` included), in order of first use: ``("%Y", "%m")``.
        self.time_escapes = tuple(dict.fromkeys("%" + v for k, v in parts if k in (_TIME, _MILLIS)))
        #: ``%x`` escapes Flume does not know, which write nothing.
        self.unknown_escapes = tuple(dict.fromkeys(unknown))
        #: Bits of the text that start with ``%`` but are no escape (``%{a b}``, a trailing ``%``): kept as written.
        self.strays = tuple(_strays(text))
        # Header values and %t are the only per-event parts; the text around them is cached per second as
        # chunks (one more than the slots), joined by concatenation, which is cheaper than "%" formatting.
        self._slots: tuple[str | None, ...] = tuple(
            v if k == _HEADER else None for k, v in parts if k in (_HEADER, _MILLIS))
        self._one_header = self._slots[0] if len(self._slots) == 1 and header_policy == "strict" else None
        self._by_second: dict[int, tuple[str, ...]] = {}
        self._static: tuple[str, ...] | None = None if self.time_escapes else self._fill(0)
        self._no_timestamp = (
            f"the event has no timestamp header, which {text!r} needs for its time escapes "
            f"({' '.join(self.time_escapes)})")

    # -- per event ------------------------------------------------------------------------------

    def render(self, headers: Mapping[str, str], now_ms: int | None = None) -> str:
        """The text for an event with these headers, or :class:`UnplaceableEvent`.

        ``now_ms`` is the clock (epoch ms) used when ``use_local_timestamp``; read once per batch. None:
        read here.
        """
        chunks = self._static
        stamp: str | None = None
        millis = 0
        if chunks is None:
            if self._local:
                millis = time.time_ns() // 1_000_000 if now_ms is None else now_ms
            else:
                stamp = headers.get("timestamp")
                if stamp is None:
                    raise UnplaceableEvent("no-timestamp", self._no_timestamp)
                # The common form first: plain ASCII digits, at most MAX_MILLIS's 15.
                millis = int(stamp) if stamp.isdigit() and stamp.isascii() and len(stamp) <= 15 else -1
                if not 0 <= millis <= MAX_MILLIS:
                    millis = _millis(stamp)
            second = millis // 1000
            chunks = self._by_second.get(second)
            if chunks is None:
                chunks = self._cache(second)
        name = self._one_header
        if name is not None:
            value = headers.get(name)
            if not value or value in _DOT_NAMES or "/" in value or "\0" in value:
                raise self._bad_header(name, value)
            return chunks[0] + value + chunks[1]
        if len(chunks) == 1:
            return chunks[0]
        return self._join(chunks, headers, str(millis) if stamp is None else stamp)

    def _join(self, chunks: tuple[str, ...], headers: Mapping[str, str], millis: str) -> str:
        out = [chunks[0]]
        append = out.append
        suspect = False  # a value "strict" refuses; "flume" takes it unless the result leaves the directory
        for index, name in enumerate(self._slots, 1):
            if name is None:
                value: str | None = millis
            else:
                value = headers.get(name)
                if not value or value in _DOT_NAMES or "/" in value or "\0" in value:
                    if not self._flume_headers:
                        raise self._bad_header(name, value)
                    suspect = True
            append(value or "")
            append(chunks[index])
        rendered = "".join(out)
        if suspect and ("\0" in rendered or any(segment in _DOT_NAMES for segment in rendered.split("/"))):
            raise UnplaceableEvent(
                "unsafe-header", f"{self.text!r} gives {rendered!r}, which has a '.' or '..' segment or a NUL "
                                 f"made of header values {_quoted(headers, self.header_names)}")
        return rendered

    def _bad_header(self, name: str, value: str | None) -> UnplaceableEvent:
        if value is None:
            return UnplaceableEvent("missing-header", f"the event has no {name!r} header, which {self.text!r} needs")
        if not value:
            return UnplaceableEvent("missing-header", f"the event's {name!r} header, which {self.text!r} needs, is "
                                                      "empty")
        return UnplaceableEvent("unsafe-header", f"the event's {name!r} header ({value!r}) is not one path name "
                                                 f"(it holds '/' or NUL, or is '.' or '..'), which {self.text!r} "
                                                 "needs")

    def _cache(self, second: int) -> tuple[str, ...]:
        if len(self._by_second) >= _CACHED_SECONDS:
            self._by_second.clear()
        chunks = self._by_second[second] = self._fill(second)
        return chunks

    def _fill(self, second: int) -> tuple[str, ...]:
        """The text between the per-event parts, with the time escapes of ``second`` filled in."""
        instant = second if self.round_unit is None else round_down(second, self._zone, self.round_unit,
                                                                    self.round_value)
        local = datetime.fromtimestamp(instant, self._zone)
        chunks: list[str] = []
        pending: list[str] = []
        for kind, value in self._parts:
            if kind == _TEXT:
                pending.append(value)
            elif kind == _TIME:
                pending.append(_JAVA_FIELDS[value](local, instant))
            else:
                chunks.append("".join(pending))
                pending.clear()
        chunks.append("".join(pending))
        return tuple(chunks)

    # -- --check ---------------------------------------------------------------------------------

    @property
    def needs_timestamp(self) -> bool:
        """True when every event needs a ``timestamp`` header (time escapes without useLocalTimeStamp)."""
        return bool(self.time_escapes) and not self.use_local_timestamp

    def warnings(self, *, local_timestamp_key: str = "hdfs.useLocalTimeStamp") -> list[str]:
        """What ``--check`` should tell about this template (sentences without the key)."""
        out: list[str] = []
        if self.needs_timestamp:
            out.append(f"uses time escapes ({' '.join(self.time_escapes)}): an event without a timestamp header "
                       f"(epoch milliseconds, e.g. from the timestamp interceptor) cannot be placed and is set "
                       f"aside; set {local_timestamp_key} = true to use the agent's clock instead")
        if self.round_unit is not None and "%t" in self.time_escapes:
            out.append("%t is the exact milliseconds, never rounded")
        out.extend(f"{escape} is not an escape: it writes nothing" for escape in self.unknown_escapes)
        out.extend(f"{stray!r} is not an escape and is written as is (header names are letters, digits, "
                   "'_', '.' and '-')" for stray in self.strays)
        if self.header_names and self.header_policy == "strict":
            names = ", ".join(self.header_names)
            out.append(f"an event whose header {names} is missing, empty, '.', '..' or holds '/' cannot be placed "
                       "and is set aside (Flume writes a missing header as an empty string)")
        return out

    def __repr__(self) -> str:
        return f"BucketPath({self.text!r})"


def _parse(text: str, host_name: Callable[[str], str]) -> tuple[list[_Part], list[str]]:
    """The parts of ``text`` (adjacent literals joined, host escapes resolved) and its unknown escapes."""
    parts: list[_Part] = []
    unknown: list[str] = []
    pending: list[str] = []  # literal text since the last per-event or time part
    last = 0

    def flush() -> None:
        if pending:
            parts.append((_TEXT, "".join(pending)))
            pending.clear()

    for match in TAG.finditer(text):
        pending.append(text[last:match.start()])
        last = match.end()
        letter, header, host = match.groups()
        if header is not None:
            flush()
            parts.append((_HEADER, header))
        elif host is not None:
            key = host.lower()
            if key not in _HOST_KEYS:
                raise TemplateError(f"{match.group()} is not an escape: use %[localhost], %[IP] or %[FQDN] (any "
                                    f"case): {text!r}")
            pending.append(host_name(key))
        elif letter == "%":
            pending.append("%")
        elif letter == "t":
            flush()
            parts.append((_MILLIS, "t"))
        elif letter in _JAVA_FIELDS:
            flush()
            parts.append((_TIME, letter))
        else:
            unknown.append(match.group())  # writes nothing, as in Flume
    pending.append(text[last:])
    flush()
    return parts, unknown


def _strays(text: str) -> list[str]:
    """Each ``%`` of ``text`` outside the escapes, with what it seems meant to open (``%{a b}``, ``%-``)."""
    inside = {i for match in TAG.finditer(text) for i in range(match.start(), match.end())}
    found: list[str] = []
    for start, char in enumerate(text):
        if char != "%" or start in inside:
            continue
        closer = {"{": "}", "[": "]"}.get(text[start + 1:start + 2])
        end = text.find(closer, start) + 1 if closer is not None else 0
        found.append(text[start:end] if end > 0 else text[start:start + 2])
    return found


def _millis(stamp: str) -> int:
    """The timestamp header as epoch ms, as Java's ``Long.valueOf`` reads it, within 0..MAX_MILLIS."""
    if stamp.isdigit() and stamp.isascii() and len(stamp) <= 15:
        millis = int(stamp)
    else:
        body = stamp[1:] if stamp[:1] in ("+", "-") else stamp
        if not (body.isdigit() and body.isascii()):
            raise UnplaceableEvent("bad-timestamp", f"the timestamp header {stamp!r} is not a whole number of "
                                                    "milliseconds")
        # Beyond 19 digits it is out of range anyway, and int() refuses 4300 digits and more.
        millis = MAX_MILLIS + 1 if len(body) > 19 else -int(body) if stamp[0] == "-" else int(body)
    if not 0 <= millis <= MAX_MILLIS:
        raise UnplaceableEvent("bad-timestamp", f"the timestamp header {stamp!r} is outside 0 to {MAX_MILLIS} "
                                                "(1970-01-01 to 9999-12-30) milliseconds")
    return millis


def _zone_offset(local: datetime) -> str:
    offset = local.utcoffset()
    seconds = int(offset.total_seconds()) if offset is not None else 0
    minutes = abs(seconds) // 60  # Java drops the seconds of an offset like Monrovia's -0:44:30
    return f"{'-' if seconds < 0 else '+'}{minutes // 60:02d}{minutes % 60:02d}"


#: Each time escape as Flume's ``SimpleDateFormat`` pattern for it writes the local time (and ``%s`` the
#: instant in seconds): ``EEE EEEE MMM MMMM``, ``EEE MMM d HH:mm:ss yyyy``, ``dd d MM/dd/yy``, ``HH hh DDD H h``,
#: ``MM mm M a ss yy yyyy ZZZ``.
_JAVA_FIELDS: Final[dict[str, Callable[[datetime, int], str]]] = {
    "a": lambda t, s: _DAYS[t.weekday()][:3],
    "A": lambda t, s: _DAYS[t.weekday()],
    "b": lambda t, s: _MONTHS[t.month - 1][:3],
    "B": lambda t, s: _MONTHS[t.month - 1],
    "c": lambda t, s: (f"{_DAYS[t.weekday()][:3]} {_MONTHS[t.month - 1][:3]} {t.day} "
                       f"{t.hour:02d}:{t.minute:02d}:{t.second:02d} {t.year:04d}"),
    "d": lambda t, s: f"{t.day:02d}",
    "e": lambda t, s: str(t.day),
    "D": lambda t, s: f"{t.month:02d}/{t.day:02d}/{t.year % 100:02d}",
    "H": lambda t, s: f"{t.hour:02d}",
    "I": lambda t, s: f"{t.hour % 12 or 12:02d}",
    "j": lambda t, s: f"{t.timetuple().tm_yday:03d}",
    "k": lambda t, s: str(t.hour),
    "l": lambda t, s: str(t.hour % 12 or 12),
    "m": lambda t, s: f"{t.month:02d}",
    "M": lambda t, s: f"{t.minute:02d}",
    "n": lambda t, s: str(t.month),
    "p": lambda t, s: "AM" if t.hour < 12 else "PM",
    "s": lambda t, s: str(s),
    "S": lambda t, s: f"{t.second:02d}",
    "y": lambda t, s: f"{t.year % 100:02d}",
    "Y": lambda t, s: f"{t.year:04d}",
    "z": lambda t, s: _zone_offset(t),
}


def _quoted(headers: Mapping[str, str], names: tuple[str, ...]) -> str:
    return ", ".join(f"{name}={headers.get(name)!r}" for name in names)
