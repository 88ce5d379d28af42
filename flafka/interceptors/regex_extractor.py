"""Flume's ``regex_extractor`` interceptor: copies regex groups of the body into headers.

Same keys as Flume 1.11 ``RegexExtractorInterceptor``: the body, decoded as UTF-8, is searched for
``regex`` (first match, anywhere in the body); group *i* goes, through serializer *i* of the space
list ``serializers``, into the header ``serializers.<s>.name``. Extra groups are ignored, a body
without a match is left unchanged. ``serializers.<s>.type`` picks the serializer: omitted or
``DEFAULT`` passes the text through; otherwise it names a class, Flume's
``org.apache.flume.interceptor.RegexExtractorInterceptorMillisSerializer`` (built in) or a Python
subclass of :class:`ExtractorSerializer` (``pkg.mod:Class``). The ``serializers.<s>.*`` keys configure
the serializer (a nested component, see :func:`flafka.config.params.nested_list`): a mistake in one is
reported with its full key and line.

Differences from Flume:

* ``type = default`` (lowercase, as Flume's user guide writes it) works; Flume's code only accepts
  ``DEFAULT`` and treats ``default`` as a class name, which drops the source. The alias ``millis``
  is a flafka extension.
* The millis serializer's Joda-time pattern is translated to ``strptime``; the tokens
  ``y yy yyyy M MM MMM MMMM d dd D H HH h hh m mm s ss S..SSSSSS a E EEEE Z ZZ`` and quoted text are
  supported, others are rejected at start-up. A two-digit year follows Python's pivot (69-99 are
  19xx) rather than Joda's. A pattern without a year parses into 1970, as Joda does.
* A value the serializer cannot convert leaves that header unset and is counted
  (``serialize_failures``) and logged once per header; in Flume the exception fails the batch.
* A group that did not take part in the match sets no header (Flume puts a null value).
* The regex is Java's, run by Python's ``re`` (see :mod:`flafka.java_regex`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar

from flafka.config.params import ComponentConfig, Nested, nested_list, param
from flafka.event import Event
from flafka.interceptors.base import Interceptor
from flafka.java_regex import compile_java_regex
from flafka.logging_once import OncePerKind

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ExtractorSerializerConfig(ComponentConfig):
    """What every regex_extractor serializer is configured with: the header its group goes to."""

    name: str = param("name", doc="The header that receives this serializer's regex group.")

    def check(self) -> list[tuple[str | None, str]]:
        return [] if self.name.strip() else [("name", "must not be empty: it is the header that receives the group")]


@dataclass(frozen=True, kw_only=True)
class CustomExtractorSerializerConfig(ExtractorSerializerConfig):
    """A serializer that declares no parameters of its own gets every key, as text, in ``properties``."""

    accepts_any_key: ClassVar[bool] = True
    properties: dict[str, str] = field(default_factory=dict)


class ExtractorSerializer:
    """Turns the text of one regex group into a header value.

    Subclass it for a custom serializer. It is built with its parsed ``config_class`` (a subclass of
    :class:`ExtractorSerializerConfig`); a serializer that declares none gets every
    ``serializers.<s>.*`` key but ``type`` (prefix stripped) as text in ``props``. Raise ValueError
    from ``__init__`` for a bad configuration (reported when the configuration is checked) and from
    ``serialize`` for a value that cannot be converted (the header is then not set).
    """

    config_class: ClassVar[type[ExtractorSerializerConfig]] = CustomExtractorSerializerConfig

    def __init__(self, config: ExtractorSerializerConfig) -> None:
        self.config = config
        self.props: dict[str, str] = (dict(config.properties) if isinstance(config, CustomExtractorSerializerConfig)
                                      else {"name": config.name})

    def serialize(self, value: str) -> str:
        raise NotImplementedError


class PassThroughSerializer(ExtractorSerializer):
    """The group's text as is (Flume's ``RegexExtractorInterceptorPassThroughSerializer``)."""

    config_class = ExtractorSerializerConfig

    def serialize(self, value: str) -> str:
        return value


# Joda-time pattern letter -> strptime directive, by run length (the last entry covers longer runs).
_JODA: dict[str, tuple[str, ...]] = {
    "y": ("%Y", "%y", "%Y"),
    "Y": ("%Y", "%y", "%Y"),
    "M": ("%m", "%m", "%b", "%B"),
    "d": ("%d", "%d"),
    "D": ("%j",),
    "H": ("%H", "%H"),
    "h": ("%I", "%I"),
    "m": ("%M", "%M"),
    "s": ("%S", "%S"),
    "S": ("%f",) * 6,
    "a": ("%p",),
    "E": ("%a", "%a", "%a", "%A"),
    "Z": ("%z", "%z"),
}
_MAX_RUN = {"S": 6, "Z": 2}


def joda_to_strptime(pattern: str) -> str:
    """The ``strptime`` format for a Joda-time pattern; raises ValueError for unsupported tokens."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "'":
            if i + 1 < n and pattern[i + 1] == "'":
                out.append("'")
                i += 2
                continue
            end = i + 1
            text: list[str] = []
            while True:
                if end >= n:
                    raise ValueError(f"unterminated quote in pattern {pattern!r}")
                if pattern[end] == "'":
                    if end + 1 < n and pattern[end + 1] == "'":
                        text.append("'")
                        end += 2
                        continue
                    break
                text.append(pattern[end])
                end += 1
            out.append("".join(text).replace("%", "%%"))
            i = end + 1
        elif c.isascii() and c.isalpha():
            run = i
            while run < n and pattern[run] == c:
                run += 1
            count = run - i
            directives = _JODA.get(c)
            if directives is None or count > _MAX_RUN.get(c, 99):
                raise ValueError(
                    f"pattern letter {c * count!r} of {pattern!r} is not supported; use the tokens "
                    "yyyy yy MM MMM MMMM dd D HH hh mm ss SSS a EEE EEEE Z ZZ and quoted text"
                )
            out.append(directives[min(count, len(directives)) - 1])
            i = run
        else:
            out.append("%%" if c == "%" else c)
            i += 1
    return "".join(out)


@dataclass(frozen=True, kw_only=True)
class MillisSerializerConfig(ExtractorSerializerConfig):
    pattern: str = param("pattern", doc="Joda-time pattern of the group's text, such as `yyyy-MM-dd HH:mm:ss`.")

    def check(self) -> list[tuple[str | None, str]]:
        problems = list(super().check())
        if not self.pattern.strip():
            problems.append(("pattern", "must not be empty: a Joda-time pattern such as yyyy-MM-dd HH:mm:ss"))
            return problems
        try:
            joda_to_strptime(self.pattern.strip())
        except ValueError as exc:
            problems.append(("pattern", str(exc)))
        return problems


class MillisSerializer(ExtractorSerializer):
    """A date-time parsed with the Joda-time ``pattern``, as epoch milliseconds
    (Flume's ``RegexExtractorInterceptorMillisSerializer``).

    Times without a zone offset (``Z``) are read in the local time zone (``TZ``), as Flume reads
    them in the JVM's default zone.
    """

    config_class = MillisSerializerConfig
    config: MillisSerializerConfig

    def __init__(self, config: MillisSerializerConfig) -> None:
        super().__init__(config)
        self._format = joda_to_strptime(config.pattern.strip())
        self._has_year = "%Y" in self._format or "%y" in self._format
        # log lines close in time share their timestamp text: cache conversions (bounded, then reset)
        self._cache: dict[str, str] = {}

    def serialize(self, value: str) -> str:
        cached = self._cache.get(value)
        if cached is not None:
            return cached
        parsed = datetime.strptime(value, self._format)  # zone: from %z, else local time
        if not self._has_year:
            parsed = parsed.replace(year=1970)
        if parsed.tzinfo is not None:
            delta = parsed - _EPOCH
            millis = delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000
        else:
            millis = int(time.mktime(parsed.timetuple())) * 1000 + parsed.microsecond // 1000
        result = str(millis)
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.clear()
        self._cache[value] = result
        return result


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CACHE_SIZE = 4096


@dataclass(frozen=True, kw_only=True)
class RegexExtractorConfig(ComponentConfig):
    regex: str = param("regex", doc="Regular expression searched for in the body; its groups become headers.")
    serializers: list[Nested[ExtractorSerializer]] = nested_list(
        "serializers",
        kind="extractor_serializer",
        item_default="DEFAULT",
        item_label="s",
        doc="Space-separated serializer names, one per regex group, in group order.",
        type_doc="`DEFAULT` (pass-through, also when omitted), "
        "`org.apache.flume.interceptor.RegexExtractorInterceptorMillisSerializer` (alias `millis`) or a Python "
        "class (`pkg.mod:Class`, a subclass of `flafka.interceptors.regex_extractor.ExtractorSerializer`).",
        options_doc="`serializers.<s>.name` (required): the header receiving the group; the serializer's own keys "
        "(millis: `serializers.<s>.pattern`, a Joda-time pattern; a Python class without declared parameters gets "
        "every key).",
    )

    def check(self) -> Iterable[tuple[str | None, str]]:
        problems: list[tuple[str | None, str]] = []
        try:
            compile_java_regex(self.regex)
        except ValueError as exc:
            problems.append(("regex", str(exc)))
        if not self.serializers:
            problems.append(("serializers", "must name at least one serializer"))
        for serializer in self.serializers:
            if not isinstance(serializer.config, ExtractorSerializerConfig):
                problems.append((serializer.prefix + "type",
                                 f"{serializer.cls.__module__}.{serializer.cls.__qualname__}.config_class must be a "
                                 f"subclass of {__name__}.ExtractorSerializerConfig (it holds the header name)"))
                continue
            try:
                serializer.build()
            except Exception as exc:  # a custom serializer's constructor may raise anything
                problems.append((serializer.prefix.removesuffix("."), str(exc) or type(exc).__name__))
        return problems


class RegexExtractorInterceptor(Interceptor):
    """Sets one header per regex group of the first match in the body (see the module docstring)."""

    config_class = RegexExtractorConfig
    config: RegexExtractorConfig

    def __init__(self, name: str, config: RegexExtractorConfig) -> None:
        super().__init__(name, config)
        self._pattern = compile_java_regex(config.regex)
        # groups beyond the serializers are ignored, serializers beyond the groups never fire
        built = [(s.config.name.strip(), s.build()) for s in config.serializers[: self._pattern.groups]]
        # None marks pass-through: the value is stored without a call
        self._targets: list[tuple[str, Callable[[str], str] | None]] = [
            (header, None if type(ser) is PassThroughSerializer else ser.serialize) for header, ser in built
        ]
        self._once = OncePerKind(log)
        self.serialize_failures = 0

    def intercept_batch(self, events: list[Event]) -> list[Event]:
        search, targets = self._pattern.search, self._targets
        if not targets:
            return events
        for event in events:
            match = search(event.body.decode("utf-8", "replace"))
            if match is None:
                continue
            headers = event.headers
            for (header, serialize), value in zip(targets, match.groups(), strict=False):
                if value is None:
                    continue
                if serialize is None:
                    headers[header] = value
                    continue
                try:
                    headers[header] = serialize(value)
                except Exception as exc:  # bad data must not fail the batch: count, log once, go on
                    self.serialize_failures += 1
                    self._once.log(
                        logging.WARNING,
                        f"serialize:{header}:{type(exc).__name__}",
                        f"Interceptor {self.name} could not convert a value for header {header}; the header "
                        f"is not set. value={value!r} error={exc} failures={self.serialize_failures}",
                    )
        return events
