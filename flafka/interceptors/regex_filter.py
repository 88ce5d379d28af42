"""Flume's ``regex_filter`` interceptor: keeps (or drops) the events whose body matches a regex.

Same keys and defaults as Flume 1.11 ``RegexFilteringInterceptor``: the regex is searched anywhere
in the body (Java ``find()``, Python ``re.search``); matching events are kept, or dropped when
``excludeEvents`` is true. Differences: the body is decoded as UTF-8 (undecodable bytes become
U+FFFD) where Flume uses the JVM's platform charset. The regex is Java's (see :mod:`flafka.java_regex`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flafka.config.params import ComponentConfig, param
from flafka.event import Event
from flafka.interceptors.base import Interceptor
from flafka.java_regex import compile_java_regex


@dataclass(frozen=True, kw_only=True)
class RegexFilterConfig(ComponentConfig):
    regex: str = param("regex", default=".*", doc="Regular expression searched for in the body.")
    exclude_events: bool = param(
        "excludeEvents", default=False, doc="Drop the matching events instead of keeping them."
    )

    def check(self) -> Iterable[tuple[str | None, str]]:
        try:
            compile_java_regex(self.regex)
        except ValueError as exc:
            return [("regex", str(exc))]
        return []


class RegexFilteringInterceptor(Interceptor):
    """Keeps the events whose body contains a match of ``regex`` (drops them with ``excludeEvents``)."""

    config_class = RegexFilterConfig
    config: RegexFilterConfig

    def __init__(self, name: str, config: RegexFilterConfig) -> None:
        super().__init__(name, config)
        self._pattern = compile_java_regex(config.regex)
        self._exclude = config.exclude_events
        # '.*' (the default) matches every body: skip decoding and searching
        self._matches_all = config.regex == ".*"

    def intercept_batch(self, events: list[Event]) -> list[Event]:
        exclude = self._exclude
        if self._matches_all:
            return [] if exclude else events
        search = self._pattern.search
        return [
            event for event in events if (search(event.body.decode("utf-8", "replace")) is None) is exclude
        ]
